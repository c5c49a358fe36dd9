//! The few messages of an event file, written out for prost from
//! TensorFlow's `event.proto`, `summary.proto`, `tensor.proto` and
//! `tensor_shape.proto`, and TensorBoard's hparams `plugin_data.proto`.
//! Fields this import does not read are left out (prost skips them), and
//! messages it only counts are kept as their bytes (the same wire type).

use std::collections::BTreeMap;

/// One record of an event file.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Event {
    /// Seconds since the epoch.
    #[prost(double, tag = "1")]
    pub wall_time: f64,
    /// The global step.
    #[prost(int64, tag = "2")]
    pub step: i64,
    /// What the event holds.
    #[prost(oneof = "event::What", tags = "3, 4, 5, 6, 7, 8, 9")]
    pub what: Option<event::What>,
}

/// [`Event`]'s oneof.
pub mod event {
    /// What an event holds: only summaries are read.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum What {
        /// The file's format version, in its first record.
        #[prost(string, tag = "3")]
        FileVersion(String),
        /// A graph.
        #[prost(bytes, tag = "4")]
        GraphDef(Vec<u8>),
        /// Summary values.
        #[prost(message, tag = "5")]
        Summary(super::Summary),
        /// A log message.
        #[prost(bytes, tag = "6")]
        LogMessage(Vec<u8>),
        /// A session's start or stop.
        #[prost(bytes, tag = "7")]
        SessionLog(Vec<u8>),
        /// Run metadata.
        #[prost(bytes, tag = "8")]
        TaggedRunMetadata(Vec<u8>),
        /// A meta graph.
        #[prost(bytes, tag = "9")]
        MetaGraphDef(Vec<u8>),
    }
}

/// A set of tagged values.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Summary {
    /// The values.
    #[prost(message, repeated, tag = "1")]
    pub value: Vec<SummaryValue>,
}

/// One tagged value of a summary.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SummaryValue {
    /// The tag (the metric's name).
    #[prost(string, tag = "1")]
    pub tag: String,
    /// Which plugin wrote it.
    #[prost(message, optional, tag = "9")]
    pub metadata: Option<SummaryMetadata>,
    /// The value.
    #[prost(oneof = "summary_value::Kind", tags = "2, 3, 4, 5, 6, 8")]
    pub kind: Option<summary_value::Kind>,
}

/// [`SummaryValue`]'s oneof.
pub mod summary_value {
    /// A summary value's kind.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Kind {
        /// A scalar (`add_scalar`).
        #[prost(float, tag = "2")]
        SimpleValue(f32),
        /// An old-style histogram.
        #[prost(bytes, tag = "3")]
        ObsoleteOldStyleHistogram(Vec<u8>),
        /// An image.
        #[prost(bytes, tag = "4")]
        Image(Vec<u8>),
        /// A histogram.
        #[prost(bytes, tag = "5")]
        Histo(Vec<u8>),
        /// Audio.
        #[prost(bytes, tag = "6")]
        Audio(Vec<u8>),
        /// A tensor: a scalar as TensorFlow 2 and `torch.utils.tensorboard`
        /// may write it, or a plugin's data.
        #[prost(message, tag = "8")]
        Tensor(super::TensorProto),
    }
}

/// Which plugin a value belongs to.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SummaryMetadata {
    /// The plugin and its data.
    #[prost(message, optional, tag = "1")]
    pub plugin_data: Option<PluginData>,
}

/// A plugin's name and its own bytes.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PluginData {
    /// `"scalars"`, `"hparams"`, `"text"`, ...
    #[prost(string, tag = "1")]
    pub plugin_name: String,
    /// The plugin's message.
    #[prost(bytes = "vec", tag = "2")]
    pub content: Vec<u8>,
}

/// TensorFlow's `DataType`s a scalar may have.
pub const DT_FLOAT: i32 = 1;
/// 64-bit floats.
pub const DT_DOUBLE: i32 = 2;

/// A tensor.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorProto {
    /// Its `DataType`.
    #[prost(int32, tag = "1")]
    pub dtype: i32,
    /// Its shape (no dimensions for a scalar).
    #[prost(message, optional, tag = "2")]
    pub tensor_shape: Option<TensorShape>,
    /// Its values as little-endian bytes, when not in the typed fields.
    #[prost(bytes = "vec", tag = "4")]
    pub tensor_content: Vec<u8>,
    /// `DT_FLOAT` values.
    #[prost(float, repeated, tag = "5")]
    pub float_val: Vec<f32>,
    /// `DT_DOUBLE` values.
    #[prost(double, repeated, tag = "6")]
    pub double_val: Vec<f64>,
}

/// A tensor's shape.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorShape {
    /// Its dimensions.
    #[prost(message, repeated, tag = "2")]
    pub dim: Vec<Dimension>,
}

/// One dimension of a shape.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Dimension {
    /// Its size.
    #[prost(int64, tag = "1")]
    pub size: i64,
}

/// The hparams plugin's data.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HParamsPluginData {
    /// What it holds: only a session's start (its hyperparameters) is read.
    #[prost(oneof = "hparams_plugin_data::Data", tags = "2, 3, 4")]
    pub data: Option<hparams_plugin_data::Data>,
}

/// [`HParamsPluginData`]'s oneof.
pub mod hparams_plugin_data {
    /// The hparams plugin's kinds of data.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Data {
        /// The experiment's hyperparameter and metric definitions.
        #[prost(bytes, tag = "2")]
        Experiment(Vec<u8>),
        /// A session's hyperparameters.
        #[prost(message, tag = "3")]
        SessionStartInfo(super::SessionStartInfo),
        /// A session's end.
        #[prost(bytes, tag = "4")]
        SessionEndInfo(Vec<u8>),
    }
}

/// A session's start: its hyperparameters.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SessionStartInfo {
    /// Name -> value.
    #[prost(btree_map = "string, message", tag = "1")]
    pub hparams: BTreeMap<String, HParamValue>,
}

/// A hyperparameter's value (`google.protobuf.Value`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct HParamValue {
    /// Its kind.
    #[prost(oneof = "hparam_value::Kind", tags = "1, 2, 3, 4")]
    pub kind: Option<hparam_value::Kind>,
}

/// [`HParamValue`]'s oneof.
pub mod hparam_value {
    /// A value's kinds that hyperparameters take.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Kind {
        /// Null.
        #[prost(int32, tag = "1")]
        Null(i32),
        /// A number.
        #[prost(double, tag = "2")]
        Number(f64),
        /// A string.
        #[prost(string, tag = "3")]
        Text(String),
        /// A boolean.
        #[prost(bool, tag = "4")]
        Bool(bool),
    }
}
