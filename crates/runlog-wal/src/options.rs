//! Choices made when a log is opened.

use std::time::Duration;

/// When an appended record is made durable (fsynced).
///
/// Whatever the mode, a record is never reported durable before it is, and
/// after a crash the log holds an exact prefix of what was appended: no record
/// is lost while a later one survives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// `append` returns once the record is fsynced. Threads appending at the
    /// same time share one fsync (group commit).
    Sync,
    /// `append` returns at once; a background thread fsyncs at most every
    /// `interval`, so a crash loses at most the last `interval` of appends.
    /// `sync` returns once everything appended before it is fsynced.
    Group {
        /// The longest time an appended record waits for its fsync.
        interval: Duration,
    },
    /// The log fsyncs only when `sync` is called and when a file is full. For
    /// tests and bulk loads that call `sync` themselves.
    Buffered,
}

impl Default for Durability {
    /// `Group` with a 10 ms interval.
    fn default() -> Durability {
        Durability::Group {
            interval: Duration::from_millis(10),
        }
    }
}

/// What opening a log does with a damaged file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RecoveryMode {
    /// A torn or corrupt tail of the *last* file (what a crash mid-append
    /// leaves) is dropped: every record before it is kept, and a writer cuts
    /// the file there. Damage in any older file is still an error.
    #[default]
    TolerateCorruptTail,
    /// Any damaged byte is an error naming the file and offset.
    Strict,
}
