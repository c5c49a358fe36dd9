//! The append-only, crash-safe write-ahead log of runlog.
//!
//! The engine appends every accepted batch of points here as one record
//! before acknowledging it, and replays the log when it opens. A log is a
//! directory of files named after the LSN of their first record
//! (`00000000000000000001.log`, ...), each a 32-byte header then framed
//! records: a CRC32 over length, LSN and payload, so a torn or damaged record
//! is always detected. `docs/format-wal.md` gives every byte.
//!
//! ```
//! use runlog_wal::{Durability, Lsn, MemStorage, Wal};
//! use std::sync::Arc;
//!
//! # fn main() -> runlog_wal::Result<()> {
//! let storage = Arc::new(MemStorage::new());
//! let wal = Wal::builder("/db/wal")
//!     .storage(storage.clone())
//!     .durability(Durability::Sync)
//!     .open()?;
//! assert_eq!(wal.append(b"first batch")?, Lsn(1));
//! drop(wal);
//!
//! let mut replayed = Vec::new();
//! let wal = Wal::builder("/db/wal")
//!     .storage(storage)
//!     .replay_and_open(Lsn::FIRST, |record| replayed.push(record))?;
//! assert_eq!(&replayed[0].payload[..], b"first batch");
//! assert_eq!(wal.next_lsn(), Lsn(2));
//! # Ok(()) }
//! ```

mod builder;
mod error;
mod file_cursor;
mod flusher;
mod follower;
mod header;
mod lsn;
mod names;
mod options;
mod reader;
mod record;
mod repair;
mod writer;

pub use builder::{DEFAULT_SEGMENT_SIZE, MIN_SEGMENT_SIZE, WalBuilder};
pub use error::{Corruption, Error, Result};
pub use follower::{Followed, WalFollower};
pub use header::{FORMAT_VERSION, HEADER_LEN};
pub use lsn::Lsn;
pub use names::log_files;
pub use options::{Durability, RecoveryMode};
pub use reader::{Record, Tail, WalReader};
pub use record::{MAX_PAYLOAD, RECORD_HEADER_LEN};
pub use repair::{Dropped, repair};
pub use runlog_storage::{FsStorage, MemStats, MemStorage, ReadAt, Storage, StorageFile};
pub use writer::Wal;
