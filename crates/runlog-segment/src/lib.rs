//! Immutable, compressed, columnar segment files for runlog.
//!
//! A segment holds many series; each series (one (run, metric) pair, named
//! by a numeric id) is stored as chunks of three columns (`step`,
//! `timestamp_ms`, `value`), each column encoded with whichever codec makes
//! it smallest. Every chunk and series carries count, first/last, min/max
//! statistics, so latest values and summaries need no decoding. A footer
//! indexes series and chunks; readers map the file and decode only the
//! chunks a query needs. `docs/format-segment.md` gives every byte.

pub mod codec;
mod columns;
mod encode;
mod envelope;
mod error;
pub mod float_text;
mod format;
mod lookup;
mod reader;
mod stats;
mod writer;

pub use columns::Columns;
pub use encode::EncodedChunk;
pub use error::{Corruption, Error, InputProblem, Result};
pub use format::footer::{ChunkMeta, SeriesMeta};
pub use format::{FORMAT_VERSION, MAX_CHUNK_POINTS, MAX_METADATA_LEN, OLDEST_READABLE_VERSION};
pub use lookup::SegmentLookup;
pub use reader::SegmentReader;
pub use stats::{STATS_LEN, Stats};
pub use writer::{
    DEFAULT_CHUNK_POINTS, DEFAULT_PCO_LEVEL, MAX_ENCODE_THREADS, SegmentInfo, SegmentOptions,
    SegmentWriter,
};

/// Identifies a series (one metric of one run) within a database.
pub type SeriesId = u64;
