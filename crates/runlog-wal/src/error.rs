//! The one error type of the crate.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::Lsn;

/// Every failure the write-ahead log reports.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system call failed.
    #[error("I/O error while trying to {op} {path}: {source}")]
    Io {
        /// What the log was doing ("read", "append to", "fsync", ...).
        op: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// A log file holds bytes that are not a valid record where one must be.
    #[error("corrupt WAL file {file} at byte offset {offset}: {kind}")]
    Corrupt {
        /// The damaged file.
        file: PathBuf,
        /// Byte offset, from the start of the file, of the first bad byte
        /// range (the file header or the record that fails to validate).
        offset: u64,
        /// What is wrong there.
        kind: Corruption,
    },

    /// A log file was written by a format version this build cannot read.
    #[error(
        "WAL file {file} has format version {found}; this build reads version {supported} only"
    )]
    UnsupportedVersion {
        /// The file.
        file: PathBuf,
        /// The version found in its header.
        found: u32,
        /// The version this build reads and writes.
        supported: u32,
    },

    /// A payload is larger than a single record may be.
    #[error("WAL payload of {len} bytes exceeds the limit of {limit} bytes per record")]
    PayloadTooLarge {
        /// The payload's length.
        len: usize,
        /// The largest payload accepted.
        limit: usize,
    },

    /// An option passed to the builder is out of range.
    #[error("invalid WAL option {name} = {value}: {rule}")]
    InvalidOption {
        /// The option.
        name: &'static str,
        /// The value given.
        value: String,
        /// The accepted range.
        rule: &'static str,
    },

    /// An earlier write or fsync failed, so the writer no longer knows what is
    /// on disk. Every later call fails with this error; reopen the log to
    /// recover what was durably written.
    #[error("WAL writer is poisoned by an earlier failure ({cause}); reopen the log to recover")]
    Poisoned {
        /// The failure that poisoned the writer.
        cause: String,
    },
}

/// What is wrong with a damaged log file.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Corruption {
    /// The file ends inside its header or inside a record.
    Truncated {
        /// Bytes the header or record needs from the offset on.
        needed: u64,
        /// Bytes the file has from the offset on.
        available: u64,
    },
    /// The file header does not start with the WAL magic bytes.
    BadMagic,
    /// A stored CRC32 does not match the bytes it covers.
    ChecksumMismatch {
        /// The CRC stored in the file.
        expected: u32,
        /// The CRC computed over the bytes read.
        got: u32,
    },
    /// Reserved header bytes are not zero.
    ReservedBytesSet,
    /// A record's length field is larger than any record the writer produces.
    LengthOutOfRange {
        /// The length read.
        len: u64,
    },
    /// A record carries an LSN other than the one that must come next.
    LsnMismatch {
        /// The LSN that must come next.
        expected: Lsn,
        /// The LSN found.
        found: Lsn,
    },
    /// The file's name and its header disagree on its first LSN.
    NameMismatch {
        /// The first LSN encoded in the file name.
        name: Lsn,
        /// The first LSN stored in the header.
        header: Lsn,
    },
    /// The file does not start where the previous file ended: records are
    /// missing from the log, or files overlap.
    OutOfSequence {
        /// The LSN the previous file ends before.
        expected: Lsn,
        /// The first LSN of this file.
        found: Lsn,
    },
    /// Damage in the last file with an intact record after it: not a torn
    /// tail (which has nothing valid after it), so never cut silently.
    FollowedByIntactRecord {
        /// What is wrong where the damage starts.
        damage: Box<Corruption>,
        /// The LSN of the first intact record after it.
        next_lsn: Lsn,
        /// Where that record starts in the file.
        next_offset: u64,
    },
}

impl fmt::Display for Corruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Corruption::Truncated { needed, available } => write!(
                f,
                "file ends early: {needed} bytes needed, {available} available"
            ),
            Corruption::BadMagic => write!(f, "not a runlog WAL file (bad magic bytes)"),
            Corruption::ChecksumMismatch { expected, got } => write!(
                f,
                "checksum mismatch: stored {expected:#010x}, computed {got:#010x}"
            ),
            Corruption::ReservedBytesSet => write!(f, "reserved header bytes are not zero"),
            Corruption::LengthOutOfRange { len } => {
                write!(f, "record length {len} is out of range")
            }
            Corruption::LsnMismatch { expected, found } => {
                write!(f, "record has LSN {found}, expected {expected}")
            }
            Corruption::NameMismatch { name, header } => {
                write!(f, "file name says first LSN {name}, header says {header}")
            }
            Corruption::OutOfSequence { expected, found } => write!(
                f,
                "file starts at LSN {found} but the previous file ends before LSN {expected}"
            ),
            Corruption::FollowedByIntactRecord {
                damage,
                next_lsn,
                next_offset,
            } => write!(
                f,
                "{damage}; an intact record (LSN {next_lsn}) follows at byte {next_offset}, so this is damage, not a torn tail (`runlog-db repair` can drop the damaged records)"
            ),
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
