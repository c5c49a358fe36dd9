//! The one error type of the crate.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::SeriesId;

/// Every failure reading or writing a segment reports.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system call failed.
    #[error("I/O error while trying to {op} {path}: {source}")]
    Io {
        /// What was being done ("create", "map", "fsync", ...).
        op: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// The file holds bytes that are not what the format says must be there.
    #[error("corrupt segment {file} at byte offset {offset}: {kind}")]
    Corrupt {
        /// The damaged file.
        file: PathBuf,
        /// Byte offset of the damaged structure from the start of the file.
        offset: u64,
        /// What is wrong there.
        kind: Corruption,
    },

    /// The file was written by a format version this build cannot read.
    #[error(
        "segment {file} has format version {found}; this build reads versions {oldest} to {newest}"
    )]
    UnsupportedVersion {
        /// The file.
        file: PathBuf,
        /// The version it carries.
        found: u32,
        /// The oldest version this build reads.
        oldest: u32,
        /// The version this build writes (the newest it reads).
        newest: u32,
    },

    /// A column starts with a codec tag this build does not know.
    #[error("segment {file} at byte offset {offset}: unknown codec tag {tag:#04x}")]
    UnknownCodec {
        /// The file.
        file: PathBuf,
        /// Offset of the tag byte.
        offset: u64,
        /// The tag found.
        tag: u8,
    },

    /// Points handed to the writer break one of its rules; nothing of the
    /// offending call was written.
    #[error("invalid points for series {series}: {problem}")]
    InvalidPoints {
        /// The series the points were for.
        series: SeriesId,
        /// What is wrong with them.
        problem: InputProblem,
    },

    /// A writer option is out of range.
    #[error("invalid segment option {name} = {value}: {rule}")]
    InvalidOption {
        /// The option.
        name: &'static str,
        /// The value given.
        value: String,
        /// The accepted range.
        rule: &'static str,
    },
}

/// What is wrong with points handed to the writer.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InputProblem {
    /// The three columns differ in length.
    LengthMismatch {
        /// Steps given.
        steps: usize,
        /// Timestamps given.
        timestamps: usize,
        /// Values given.
        values: usize,
    },
    /// Series must be written in ascending id order.
    SeriesOutOfOrder {
        /// The series written before.
        previous: SeriesId,
    },
    /// Steps must not decrease within a series.
    StepsNotSorted {
        /// Index in the call of the step that goes backwards.
        index: usize,
        /// The step before it.
        previous: i64,
        /// The step itself.
        step: i64,
    },
    /// A segment holds at most `u32::MAX` chunks and series.
    TooManyChunks,
    /// A chunk to copy does not match its index entry: length, column
    /// lengths, point count or CRC.
    ChunkMismatch,
    /// A chunk holds 1 to `MAX_CHUNK_POINTS` points.
    ChunkSize {
        /// The points given.
        points: usize,
    },
}

impl fmt::Display for InputProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputProblem::LengthMismatch {
                steps,
                timestamps,
                values,
            } => write!(
                f,
                "columns differ in length: {steps} steps, {timestamps} timestamps, {values} values"
            ),
            InputProblem::SeriesOutOfOrder { previous } => write!(
                f,
                "series must come in ascending id order, but series {previous} was written before"
            ),
            InputProblem::StepsNotSorted {
                index,
                previous,
                step,
            } => write!(
                f,
                "steps must not decrease: step {step} at index {index} follows step {previous}"
            ),
            InputProblem::TooManyChunks => write!(f, "more than 2^32 - 1 chunks in one segment"),
            InputProblem::ChunkSize { points } => write!(
                f,
                "a chunk holds 1 to {} points, not {points}",
                crate::MAX_CHUNK_POINTS
            ),
            InputProblem::ChunkMismatch => write!(
                f,
                "the chunk's bytes do not match its index entry (length, columns, count or CRC)"
            ),
        }
    }
}

/// What is wrong with a damaged segment.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Corruption {
    /// The file is shorter than its header and trailer.
    TooShort {
        /// Its length.
        len: u64,
    },
    /// Magic bytes are missing (header or trailer).
    BadMagic,
    /// The header is a segment's but the file does not end with a
    /// trailer: the file was cut short (truncated) or its end overwritten.
    MissingTrailer {
        /// The file's length.
        len: u64,
    },
    /// A stored CRC32 does not match the bytes it covers.
    ChecksumMismatch {
        /// The CRC stored in the file.
        expected: u32,
        /// The CRC computed over the bytes read.
        got: u32,
    },
    /// A structure points outside the bytes that may hold it, or has an
    /// impossible size or order.
    Structure(&'static str),
    /// A column's bytes do not decode to the number of points its chunk says.
    Column(String),
    /// Decoded points disagree with the chunk's stored statistics.
    StatsMismatch,
}

impl fmt::Display for Corruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Corruption::TooShort { len } => {
                write!(f, "file of {len} bytes is too short for a segment")
            }
            Corruption::BadMagic => write!(f, "not a runlog segment (bad magic bytes)"),
            Corruption::MissingTrailer { len } => write!(
                f,
                "the file ends at byte {len} without a segment trailer: it was truncated, or its end overwritten"
            ),
            Corruption::ChecksumMismatch { expected, got } => write!(
                f,
                "checksum mismatch: stored {expected:#010x}, computed {got:#010x}"
            ),
            Corruption::Structure(what) => write!(f, "{what}"),
            Corruption::Column(what) => write!(f, "bad column data: {what}"),
            Corruption::StatsMismatch => {
                write!(f, "decoded points disagree with the chunk's statistics")
            }
        }
    }
}

/// The crate's result type.
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
