//! The one error type of the engine.

use std::io;
use std::path::PathBuf;

use crate::RunId;

/// Every failure the engine reports. Nothing that fails is half-written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system call failed.
    #[error("I/O error while trying to {op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The write-ahead log failed.
    #[error(transparent)]
    Wal(#[from] runlog_wal::Error),
    /// A segment file failed.
    #[error(transparent)]
    Segment(#[from] runlog_segment::Error),
    /// Another process holds the database open for writing.
    #[error("database {path} is locked by another writer{}", pid.map(|p| format!(" (pid {p})")).unwrap_or_default())]
    Locked {
        /// The lock file.
        path: PathBuf,
        /// The holder's process id, if it wrote one.
        pid: Option<u32>,
    },
    /// The handle was opened read-only.
    #[error("the database was opened read-only")]
    ReadOnly,
    /// A background flush or compaction failed, or panicked; the database
    /// refuses writes until reopened (reopening recovers everything
    /// acknowledged).
    #[error("the database is poisoned by a failed background task ({cause}); reopen it")]
    Poisoned {
        /// What failed.
        cause: String,
    },
    /// A file of the engine's own (manifest, WAL record) is damaged.
    #[error("corrupt {file} at byte offset {offset}: {reason}")]
    Corrupt {
        /// The file.
        file: PathBuf,
        /// Where the damage starts.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// A file was written by a format version this build cannot read.
    #[error("{file} has format version {found}; this build reads version {supported} only")]
    UnsupportedVersion {
        /// The file.
        file: PathBuf,
        /// Its version.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
    /// A name breaks the naming rules.
    #[error("invalid {what} {}: {reason}", shown(name))]
    InvalidName {
        /// What the name names ("metric name", "tag key", ...).
        what: &'static str,
        /// The name (lossily shown if not UTF-8).
        name: String,
        /// Which rule it breaks.
        reason: String,
    },
    /// A limit would be exceeded.
    #[error("run {run}: {what} limit of {limit} reached, {} refused", shown(name))]
    LimitExceeded {
        /// The run.
        run: RunId,
        /// What is limited ("metrics per run", ...).
        what: &'static str,
        /// The limit.
        limit: usize,
        /// The name that would exceed it.
        name: String,
    },
    /// A parameter or tag value is too long.
    #[error(
        "{what} {} has a value of {len} bytes; the limit is {limit}",
        shown(key)
    )]
    ValueTooLong {
        /// "param" or "tag".
        what: &'static str,
        /// Its key.
        key: String,
        /// The value's length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// No run has this id.
    #[error("no run with id {0}")]
    UnknownRun(RunId),
    /// `publish_runs` was given a run that no import staged.
    #[error("run {0} is not a staged run; only staged runs are published")]
    NotStaged(RunId),
    /// The run has no such metric or table.
    #[error("run {run} has no {what} named {}", shown(name))]
    UnknownSeries {
        /// The run.
        run: RunId,
        /// "metric" or "table".
        what: &'static str,
        /// The name asked for.
        name: String,
    },
    /// A run of this name already exists in the experiment.
    #[error(
        "experiment {} already has a run named {} (id {existing})",
        shown(experiment),
        shown(name)
    )]
    RunExists {
        /// The experiment.
        experiment: String,
        /// The run name.
        name: String,
        /// The existing run's id.
        existing: RunId,
    },
    /// Params are write-once (as in MLflow).
    #[error(
        "run {run}: param {} is already set to {}; params cannot change",
        shown(key),
        shown(existing)
    )]
    ParamAlreadySet {
        /// The run.
        run: RunId,
        /// The key.
        key: String,
        /// Its value.
        existing: String,
    },
    /// A name is already used by the other kind of series in this run.
    #[error("run {run}: {} is already a {existing}", shown(name))]
    KindConflict {
        /// The run.
        run: RunId,
        /// The name.
        name: String,
        /// "metric" or "table".
        existing: &'static str,
    },
    /// The columns given to `log_table` differ in length.
    #[error(
        "table {}: column {} has {len} values, the first column has {expected}",
        shown(table),
        shown(column)
    )]
    RaggedTable {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// Its length.
        len: usize,
        /// The first column's length.
        expected: usize,
    },
    /// Implicit steps would pass `i64::MAX`: the metric's last step leaves
    /// no room for the points logged without a step.
    #[error(
        "run {run}: metric {}: no implicit step is left after i64::MAX for {count} more points; give steps explicitly",
        shown(name)
    )]
    StepOverflow {
        /// The run.
        run: RunId,
        /// The metric.
        name: String,
        /// Points that were to be logged.
        count: usize,
    },
    /// A directory holds files, but no runlog database: nothing in it is
    /// touched.
    #[error(
        "{dir} is not a runlog database (it holds {found}); give a new or empty directory, or a database"
    )]
    NotADatabase {
        /// The directory.
        dir: PathBuf,
        /// Some of what it holds.
        found: String,
    },
    /// A file the database needs is missing.
    #[error("{file} is missing: {why}")]
    MissingFile {
        /// The file.
        file: PathBuf,
        /// What refers to it, or why it must exist.
        why: String,
    },
    /// The WAL does not continue where the manifest ends: write calls
    /// between the two are missing.
    #[error(
        "the WAL in {dir} must continue after record {flushed_lsn} (what the MANIFEST holds), but {found}"
    )]
    WalGap {
        /// The WAL directory.
        dir: PathBuf,
        /// The last record the manifest reflects.
        flushed_lsn: u64,
        /// What the WAL holds instead.
        found: String,
    },
    /// An artifact path breaks the path rules (see
    /// [`crate::normalize_artifact_path`]).
    #[error("invalid artifact path {}: {reason}", shown(path))]
    InvalidArtifactPath {
        /// The path given.
        path: String,
        /// Which rule it breaks.
        reason: String,
    },
    /// An artifact, or one append, is larger than its limit.
    #[error(
        "run {run}: {what} {} is larger than the limit of {limit} bytes; nothing was stored",
        shown(name)
    )]
    TooLarge {
        /// The run.
        run: RunId,
        /// What was refused ("artifact", "log append", "text value").
        what: &'static str,
        /// Its path or name.
        name: String,
        /// The limit, in bytes.
        limit: u64,
    },
    /// Reading what an artifact was put from failed; nothing was stored.
    #[error(
        "run {run}: reading the content of artifact {} failed: {source}; nothing was stored",
        shown(path)
    )]
    ArtifactSource {
        /// The run.
        run: RunId,
        /// The artifact's path.
        path: String,
        /// The source's error.
        #[source]
        source: io::Error,
    },
    /// No experiment has this id.
    #[error("no experiment with id {0}")]
    UnknownExperiment(crate::ExperimentId),
    /// An experiment of this name exists (or existed: deleted ones keep
    /// their names).
    #[error("an experiment named {} exists already (id {existing})", shown(name))]
    ExperimentExists {
        /// The name asked for.
        name: String,
        /// The experiment that has it.
        existing: crate::ExperimentId,
    },
    /// An option is out of range.
    #[error("invalid option {name} = {value}: {rule}")]
    InvalidOption {
        /// The option.
        name: &'static str,
        /// The value given.
        value: String,
        /// The accepted range.
        rule: &'static str,
    },
}

/// A name as messages show it: whole when short, else its first 64
/// characters and its length, so that a 10 MB name makes no 10 MB message.
pub(crate) fn shown(name: &str) -> String {
    const SHOWN: usize = 64;
    match name.char_indices().nth(SHOWN) {
        None => format!("{name:?}"),
        Some((cut, _)) => format!("{:?}... ({} bytes)", &name[..cut], name.len()),
    }
}

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Error {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }
}
