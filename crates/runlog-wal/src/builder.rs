//! Opening a log: options, recovery of what is on disk, and the writer.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;

use crate::header::HEADER_LEN;
use crate::reader::{Record, Tail, WalReader};
use crate::writer::ActiveFile;
use crate::{Durability, Error, Lsn, RecoveryMode, Result, Wal};
use runlog_storage::{FsStorage, Storage};

/// The default size at which the log starts a new file: 64 MiB.
pub const DEFAULT_SEGMENT_SIZE: u64 = 64 << 20;
/// The smallest file size accepted: 4 KiB.
pub const MIN_SEGMENT_SIZE: u64 = 4 << 10;

/// Options for opening a [`Wal`]; a consuming builder made by
/// [`Wal::builder`].
#[derive(Debug)]
pub struct WalBuilder {
    pub(crate) dir: PathBuf,
    pub(crate) storage: Arc<dyn Storage>,
    pub(crate) durability: Durability,
    pub(crate) recovery: RecoveryMode,
    pub(crate) segment_size: u64,
}

impl WalBuilder {
    pub(crate) fn new(dir: PathBuf) -> WalBuilder {
        WalBuilder {
            dir,
            storage: Arc::new(FsStorage),
            durability: Durability::default(),
            recovery: RecoveryMode::default(),
            segment_size: DEFAULT_SEGMENT_SIZE,
        }
    }

    /// Does all I/O through `storage` instead of the real file system.
    pub fn storage(mut self, storage: Arc<dyn Storage>) -> WalBuilder {
        self.storage = storage;
        self
    }

    /// When appended records become durable (default: [`Durability::Group`]
    /// every 10 ms).
    pub fn durability(mut self, durability: Durability) -> WalBuilder {
        self.durability = durability;
        self
    }

    /// What opening does with damaged files (default:
    /// [`RecoveryMode::TolerateCorruptTail`]).
    pub fn recovery_mode(mut self, mode: RecoveryMode) -> WalBuilder {
        self.recovery = mode;
        self
    }

    /// The size in bytes at which the log starts a new file (default
    /// [`DEFAULT_SEGMENT_SIZE`], at least [`MIN_SEGMENT_SIZE`]). A record
    /// larger than this gets a file of its own.
    pub fn segment_size(mut self, bytes: u64) -> WalBuilder {
        self.segment_size = bytes;
        self
    }

    /// Opens the log, creating it if needed, after checking and (in
    /// [`RecoveryMode::TolerateCorruptTail`]) repairing its last file.
    pub fn open(self) -> Result<Wal> {
        self.replay_from(Lsn(u64::MAX), Lsn::FIRST, |_| {})
    }

    /// Hands every intact record with LSN `from` or later to `on_record`, in
    /// LSN order, then opens the log for appending after the last of them.
    ///
    /// In [`RecoveryMode::TolerateCorruptTail`] a torn or damaged tail of the
    /// last file is cut off (see [`Wal::recovered_tail`]); damage anywhere
    /// else, or any damage in [`RecoveryMode::Strict`], is an error naming
    /// the file and offset, and nothing is changed on disk.
    ///
    /// An empty log (no files) starts at `from`: the caller holds every
    /// record before it, so a new record must not reuse their LSNs.
    pub fn replay_and_open(self, from: Lsn, on_record: impl FnMut(Record)) -> Result<Wal> {
        self.replay_from(from, from, on_record)
    }

    /// Replays from `from`; an empty log starts at `empty_start`.
    fn replay_from(
        self,
        from: Lsn,
        empty_start: Lsn,
        mut on_record: impl FnMut(Record),
    ) -> Result<Wal> {
        self.validate()?;
        let storage = Arc::clone(&self.storage);
        storage
            .create_dir_all(&self.dir)
            .map_err(|e| Error::io("create directory", &self.dir, e))?;
        let mut reader = WalReader::open(Arc::clone(&storage), &self.dir, self.recovery, from)?;
        for record in &mut reader {
            on_record(record?);
        }
        let next_lsn = reader.next_lsn();
        let tail = reader.tail().clone();
        let (active, older) = match reader.last_file() {
            // An empty log starts where the caller's records end: the
            // caller holds everything before `from`.
            None => (
                ActiveFile::create(storage.as_ref(), &self.dir, next_lsn.max(empty_start))?,
                VecDeque::new(),
            ),
            Some((last, intact)) => {
                let active = if intact < HEADER_LEN as u64 {
                    ActiveFile::create(storage.as_ref(), &self.dir, last.first_lsn)?
                } else {
                    let cut = matches!(tail, Tail::Corrupt { .. });
                    ActiveFile::reopen(
                        storage.as_ref(),
                        last.path.clone(),
                        last.first_lsn,
                        intact,
                        cut,
                    )?
                };
                let older = reader.older_files().map(|f| f.first_lsn).collect();
                (active, older)
            }
        };
        let next_lsn = if reader.last_file().is_none() {
            next_lsn.max(empty_start)
        } else {
            next_lsn
        };
        Wal::start(&self, storage, next_lsn, active, older, tail)
    }

    fn validate(&self) -> Result<()> {
        if self.segment_size < MIN_SEGMENT_SIZE {
            return Err(Error::InvalidOption {
                name: "segment_size",
                value: self.segment_size.to_string(),
                rule: "at least 4096 bytes",
            });
        }
        if let Durability::Group { interval } = self.durability
            && interval.is_zero()
        {
            return Err(Error::InvalidOption {
                name: "durability",
                value: format!("{:?}", self.durability),
                rule: "a Group interval is longer than zero",
            });
        }
        Ok(())
    }
}
