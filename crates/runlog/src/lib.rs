//! runlog: an embedded time-series storage engine for machine-learning run
//! metrics.
//!
//! Experiments hold runs; runs hold params, tags, metrics (ordered series of
//! `(step, timestamp_ms, value)` points) and table metrics. Every write goes
//! to a write-ahead log first, then to an in-memory memtable; full memtables
//! are flushed to compressed columnar segment files by a background thread,
//! and a compaction thread merges segments. Latest values and per-metric
//! statistics are answered from memory; history merges segments and
//! memtables. `docs/design.md` describes the architecture and contracts.
//!
//! ```
//! # fn main() -> runlog::Result<()> {
//! # let dir = tempfile::tempdir().unwrap();
//! use runlog::{Db, Durability};
//! let db = Db::builder(dir.path()).durability(Durability::Sync).open()?;
//! let run = db.create_run("mnist", "baseline")?;
//! db.set_param(run, "lr", "3e-4")?;
//! for value in [2.3, 1.1, 0.7] {
//!     db.log(run, "loss", value)?; // steps 0, 1, 2
//! }
//! db.log_at(run, "acc", 10, 1_700_000_000_000, 0.91)?;
//! assert_eq!(db.latest(run, "loss")?.value, 0.7);
//! assert_eq!(db.stats(run, "loss")?.min, 0.7);
//! assert_eq!(db.history(run, "loss", 1..)?.values, [1.1, 0.7]);
//! db.complete_run(run)?;
//! # Ok(()) }
//! ```

mod artifact_path;
mod artifacts;
mod background;
mod blobs;
mod catalog;
mod catalog_file;
mod catalog_rewrite;
mod compaction_policy;
mod contents;
mod db;
mod error;
mod experiments;
mod follow;
mod history_chunks;
mod history_page;
mod id_map;
mod identity;
pub mod inspect;
mod limits;
mod lock;
mod manifest;
mod manifest_rebuild;
mod memtable;
mod ops;
mod provenance;
mod query;
mod repair;
mod run_lookup;
mod segments;
mod series_table;
mod streams;
mod wire;
mod write;

pub use artifact_path::{
    MAX_ARTIFACT_PATH_BYTES, MAX_ARTIFACT_SEGMENT_BYTES, normalize_artifact_path,
};
pub use blobs::{BLOB_FORMAT_VERSION, BlobHash, BlobReader};
pub use catalog::{RunId, RunInfo, RunStatus};
pub use compaction_policy::COMPACTION_FANIN;
pub use contents::{Artifact, TextPoint};
pub use db::{DEFAULT_MEMTABLE_BYTES, Db, DbBuilder, MemtableUsage};
pub use error::{Error, Result};
pub use experiments::{Experiment, ExperimentId};
pub use follow::{Change, Follower};
pub use history_chunks::{DEFAULT_CHUNK_POINTS, HistoryChunks};
pub use history_page::HistoryCursor;
pub use identity::DATABASE_FORMAT_VERSION;
pub use limits::{Limits, MAX_NAME_BYTES, check_name};
pub use query::{Bucket, Point, RunFilter, RunSummary, Table};
pub use repair::{RepairReport, repair};
pub use run_lookup::RunLookup;
pub use runlog_segment::{Columns, SegmentOptions, Stats, float_text};
pub use runlog_segment::{
    Corruption as SegmentCorruption, Error as SegmentError, InputProblem as SegmentInputProblem,
};
pub use runlog_wal::Dropped as WalDropped;
pub use runlog_wal::{Corruption as WalCorruption, Durability, Error as WalError, Tail as WalTail};
pub use streams::{LOG_CHUNK_BYTES, LogLines, LogStreamInfo};
pub use write::Cell;
