//! The writer: appends records, rotates files, makes records durable.

use std::collections::VecDeque;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::{Condvar, Mutex};

use crate::flusher::Flusher;
use crate::header::{self, HEADER_LEN};
use crate::names;
use crate::reader::Tail;
use crate::record::{self, MAX_PAYLOAD, RECORD_HEADER_LEN};
use crate::{Durability, Error, Lsn, Result, WalBuilder};
use runlog_storage::{Storage, StorageFile};

/// Appended bytes are handed to the operating system in writes of this size.
const WRITE_BUFFER: usize = 1 << 20;

/// An open write-ahead log: appends records and makes them durable.
///
/// `Wal` is `Sync`: threads may append at the same time, and appenders that
/// wait for durability at the same time share one fsync (group commit).
/// After any failed write or fsync every call returns [`Error::Poisoned`].
#[derive(Debug)]
pub struct Wal {
    shared: Arc<Shared>,
    flusher: Option<Flusher>,
    recovered_tail: Tail,
}

/// State shared by the writer handle and its background flusher.
#[derive(Debug)]
pub(crate) struct Shared {
    storage: Arc<dyn Storage>,
    dir: PathBuf,
    durability: Durability,
    segment_size: u64,
    state: Mutex<WriterState>,
    /// Whether a thread is leading an fsync; the others wait on `sync_done`.
    sync_in_progress: Mutex<bool>,
    /// Signalled whenever a leader's fsync ends.
    sync_done: Condvar,
    /// Held while old files are deleted, so deletions happen in LSN order.
    truncation: Mutex<()>,
    /// Every record with an LSN at or below this is durable.
    durable_lsn: AtomicU64,
    /// Set by the first failed write or fsync.
    poison: OnceLock<String>,
}

#[derive(Debug)]
struct WriterState {
    next_lsn: Lsn,
    /// Framed records not yet handed to the operating system.
    buffer: Vec<u8>,
    active: ActiveFile,
    /// First LSNs of the older files still on disk, ascending.
    older: VecDeque<Lsn>,
}

/// The file records are appended to.
#[derive(Debug)]
pub(crate) struct ActiveFile {
    first_lsn: Lsn,
    path: PathBuf,
    file: Arc<dyn StorageFile>,
    /// Bytes handed to the operating system so far, header included.
    written: u64,
}

impl ActiveFile {
    /// Creates the log file starting at `first_lsn` (emptying it if it
    /// exists), writes its header and makes it and its name durable.
    pub(crate) fn create(storage: &dyn Storage, dir: &Path, first_lsn: Lsn) -> Result<ActiveFile> {
        let path = dir.join(names::file_name(first_lsn));
        let file = storage
            .create(&path)
            .map_err(|e| Error::io("create", &path, e))?;
        file.append(&header::encode(first_lsn))
            .map_err(|e| Error::io("write the header of", &path, e))?;
        file.sync().map_err(|e| Error::io("fsync", &path, e))?;
        storage
            .sync_dir(dir)
            .map_err(|e| Error::io("fsync directory", dir, e))?;
        Ok(ActiveFile {
            first_lsn,
            path,
            file,
            written: HEADER_LEN as u64,
        })
    }

    /// Opens an existing log file whose first `intact` bytes are valid, cuts
    /// anything after them and makes the result durable.
    pub(crate) fn reopen(
        storage: &dyn Storage,
        path: PathBuf,
        first_lsn: Lsn,
        intact: u64,
        cut: bool,
    ) -> Result<ActiveFile> {
        let file = storage
            .open_append(&path)
            .map_err(|e| Error::io("open", &path, e))?;
        if cut {
            file.truncate(intact)
                .map_err(|e| Error::io("cut the corrupt tail of", &path, e))?;
        }
        // Records recovered from the page cache may never have been fsynced
        // by the process that wrote them: make them durable before relying
        // on them.
        file.sync().map_err(|e| Error::io("fsync", &path, e))?;
        Ok(ActiveFile {
            first_lsn,
            path,
            file,
            written: intact,
        })
    }
}

impl Wal {
    /// Starts configuring a log kept in `dir`.
    pub fn builder(dir: impl Into<PathBuf>) -> WalBuilder {
        WalBuilder::new(dir.into())
    }

    pub(crate) fn start(
        builder: &WalBuilder,
        storage: Arc<dyn Storage>,
        next_lsn: Lsn,
        active: ActiveFile,
        older: VecDeque<Lsn>,
        recovered_tail: Tail,
    ) -> Result<Wal> {
        let shared = Arc::new(Shared {
            storage,
            dir: builder.dir.clone(),
            durability: builder.durability,
            segment_size: builder.segment_size,
            state: Mutex::new(WriterState {
                next_lsn,
                buffer: Vec::with_capacity(WRITE_BUFFER),
                active,
                older,
            }),
            sync_in_progress: Mutex::new(false),
            sync_done: Condvar::new(),
            truncation: Mutex::new(()),
            durable_lsn: AtomicU64::new(next_lsn.prev().0),
            poison: OnceLock::new(),
        });
        let flusher = match builder.durability {
            Durability::Group { interval } => Some(
                Flusher::start(Arc::clone(&shared), interval)
                    .map_err(|e| Error::io("start the flusher thread for", &builder.dir, e))?,
            ),
            Durability::Sync | Durability::Buffered => None,
        };
        Ok(Wal {
            shared,
            flusher,
            recovered_tail,
        })
    }

    /// Appends one record and returns its LSN. Under [`Durability::Sync`] the
    /// record is durable when this returns.
    pub fn append(&self, payload: &[u8]) -> Result<Lsn> {
        Ok(self.shared.append_all(&[payload])?.start)
    }

    /// Appends records with consecutive LSNs and returns their range
    /// (`start` is the first one's LSN, `end` one past the last one's). Under
    /// [`Durability::Sync`] all of them are durable, after one fsync, when
    /// this returns. If any payload is too large nothing is appended.
    pub fn append_batch<P: AsRef<[u8]>>(&self, payloads: &[P]) -> Result<Range<Lsn>> {
        self.shared.append_all(payloads)
    }

    /// Makes every record appended before this call durable and returns the
    /// LSN of the last of them (`Lsn(0)` for a log with no records).
    pub fn sync(&self) -> Result<Lsn> {
        self.shared.sync_all()
    }

    /// Deletes the files that hold only records with LSNs below `lsn`, and
    /// returns how many it deleted. If `lsn` is past every record, the log
    /// first starts a new (empty) file, so no record below `lsn` stays on
    /// disk; the newest file always remains, so the log keeps its place.
    pub fn truncate_before(&self, lsn: Lsn) -> Result<usize> {
        self.shared.truncate_before(lsn)
    }

    /// The LSN the next appended record will get.
    pub fn next_lsn(&self) -> Lsn {
        self.shared.state.lock().next_lsn
    }

    /// Every record with an LSN at or below this one is durable.
    pub fn durable_lsn(&self) -> Lsn {
        Lsn(self.shared.durable_lsn.load(Ordering::Acquire))
    }

    /// The directory the log lives in.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// What opening found at the end of the log: [`Tail::Corrupt`] names the
    /// torn or damaged tail that was cut off.
    pub fn recovered_tail(&self) -> &Tail {
        &self.recovered_tail
    }

    /// Makes every appended record durable and closes the log, reporting any
    /// failure. Dropping a `Wal` does the same without reporting, except
    /// that under [`Durability::Buffered`] it only hands the records to the
    /// operating system, unsynced.
    pub fn close(mut self) -> Result<()> {
        self.stop_flusher();
        self.shared.sync_all().map(drop)
    }

    fn stop_flusher(&mut self) {
        if let Some(flusher) = self.flusher.take() {
            flusher.stop();
        }
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        self.stop_flusher();
        // Errors cannot be reported from `drop`; `close` reports them.
        let _ = match self.shared.durability {
            Durability::Buffered => self.shared.write_out_buffer(),
            Durability::Sync | Durability::Group { .. } => self.shared.sync_all().map(drop),
        };
    }
}

impl Shared {
    fn check_poison(&self) -> Result<()> {
        match self.poison.get() {
            Some(cause) => Err(Error::Poisoned {
                cause: cause.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Records `error` as the cause that poisons the writer, and returns it.
    fn poison(&self, error: Error) -> Error {
        self.poison.get_or_init(|| error.to_string());
        error
    }

    fn append_all<P: AsRef<[u8]>>(&self, payloads: &[P]) -> Result<Range<Lsn>> {
        self.check_poison()?;
        if let Some(len) = payloads
            .iter()
            .map(|p| p.as_ref().len())
            .find(|&len| len > MAX_PAYLOAD)
        {
            return Err(Error::PayloadTooLarge {
                len,
                limit: MAX_PAYLOAD,
            });
        }
        let mut state = self.state.lock();
        self.check_poison()?;
        let first = state.next_lsn;
        for payload in payloads {
            let payload = payload.as_ref();
            if state.needs_rotation(RECORD_HEADER_LEN + payload.len(), self.segment_size) {
                self.rotate(&mut state)?;
            }
            let lsn = state.next_lsn;
            record::encode_into(&mut state.buffer, lsn, payload);
            state.next_lsn = lsn.next();
            if state.buffer.len() >= WRITE_BUFFER {
                self.write_out(&mut state)?;
            }
        }
        let appended = first..state.next_lsn;
        drop(state);
        if self.durability == Durability::Sync && appended.start < appended.end {
            self.sync_to(appended.end.prev())?;
        }
        Ok(appended)
    }

    /// Hands the buffered records to the operating system.
    fn write_out(&self, state: &mut WriterState) -> Result<()> {
        if state.buffer.is_empty() {
            return Ok(());
        }
        let active = &mut state.active;
        active
            .file
            .append(&state.buffer)
            .map_err(|e| self.poison(Error::io("append to", &active.path, e)))?;
        active.written += state.buffer.len() as u64;
        state.buffer.clear();
        if state.buffer.capacity() > 4 * WRITE_BUFFER {
            state.buffer = Vec::with_capacity(WRITE_BUFFER);
        }
        Ok(())
    }

    pub(crate) fn write_out_buffer(&self) -> Result<()> {
        self.check_poison()?;
        self.write_out(&mut self.state.lock())
    }

    /// Closes the full active file (made durable) and starts the next one.
    fn rotate(&self, state: &mut WriterState) -> Result<()> {
        self.write_out(state)?;
        let old = &state.active;
        old.file
            .sync()
            .map_err(|e| self.poison(Error::io("fsync", &old.path, e)))?;
        self.durable_lsn
            .fetch_max(state.next_lsn.prev().0, Ordering::AcqRel);
        let new = ActiveFile::create(self.storage.as_ref(), &self.dir, state.next_lsn)
            .map_err(|e| self.poison(e))?;
        let old = std::mem::replace(&mut state.active, new);
        state.older.push_back(old.first_lsn);
        Ok(())
    }

    /// Makes every record appended so far durable; returns the last LSN.
    pub(crate) fn sync_all(&self) -> Result<Lsn> {
        let last = self.state.lock().next_lsn.prev();
        self.sync_to(last)?;
        Ok(last)
    }

    /// Makes every record up to `lsn` durable: returns at once if it is,
    /// waits if another thread's fsync is running (it may cover `lsn`), or
    /// else leads an fsync covering everything appended so far.
    fn sync_to(&self, lsn: Lsn) -> Result<()> {
        let is_durable = || self.durable_lsn.load(Ordering::Acquire) >= lsn.0;
        {
            let mut in_progress = self.sync_in_progress.lock();
            loop {
                self.check_poison()?;
                if is_durable() {
                    return Ok(());
                }
                if !*in_progress {
                    *in_progress = true;
                    break;
                }
                self.sync_done.wait(&mut in_progress);
            }
        }
        let led = self.lead_sync();
        *self.sync_in_progress.lock() = false;
        // Every waiter wakes: those covered return, one of the rest leads.
        self.sync_done.notify_all();
        led
    }

    /// Writes out the buffer and fsyncs the active file. Appenders go on
    /// filling the buffer while the fsync runs.
    fn lead_sync(&self) -> Result<()> {
        let (file, path, covered) = {
            let mut state = self.state.lock();
            self.write_out(&mut state)?;
            let active = &state.active;
            (
                Arc::clone(&active.file),
                active.path.clone(),
                state.next_lsn.prev(),
            )
        };
        file.sync()
            .map_err(|e| self.poison(Error::io("fsync", &path, e)))?;
        self.durable_lsn.fetch_max(covered.0, Ordering::AcqRel);
        Ok(())
    }

    fn truncate_before(&self, lsn: Lsn) -> Result<usize> {
        self.check_poison()?;
        let _in_order = self.truncation.lock();
        let doomed: Vec<Lsn> = {
            let mut state = self.state.lock();
            if lsn >= state.next_lsn && state.holds_records() {
                // Everything appended is covered: start a new file so the
                // one appended to so far can go too.
                self.rotate(&mut state)?;
            }
            let mut count = 0;
            while count < state.older.len() {
                let ends_before = state
                    .older
                    .get(count + 1)
                    .copied()
                    .unwrap_or(state.active.first_lsn);
                if ends_before > lsn {
                    break;
                }
                count += 1;
            }
            state.older.drain(..count).collect()
        };
        for (index, first_lsn) in doomed.iter().enumerate() {
            let path = self.dir.join(names::file_name(*first_lsn));
            if let Err(e) = self.storage.remove_file(&path) {
                let mut state = self.state.lock();
                for kept in doomed[index..].iter().rev() {
                    state.older.push_front(*kept);
                }
                return Err(Error::io("delete", path, e));
            }
        }
        if !doomed.is_empty() {
            self.storage
                .sync_dir(&self.dir)
                .map_err(|e| Error::io("fsync directory", &self.dir, e))?;
        }
        Ok(doomed.len())
    }
}

impl WriterState {
    /// Whether the active file holds records (written or buffered).
    fn holds_records(&self) -> bool {
        self.active.written + self.buffer.len() as u64 > HEADER_LEN as u64
    }

    /// Whether a record of `framed` bytes must go into a new file: it would
    /// overflow the active file, which already holds records. A record
    /// larger than a whole file gets a file of its own.
    fn needs_rotation(&self, framed: usize, segment_size: u64) -> bool {
        let used = self.active.written + self.buffer.len() as u64;
        self.holds_records() && used + framed as u64 > segment_size
    }
}
