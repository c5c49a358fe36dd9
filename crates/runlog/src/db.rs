//! The database handle: opening (recovery), state shared with the
//! background threads, and closing.

use std::collections::HashMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Condvar, Mutex, RwLock};
use runlog_segment::{SegmentOptions, Stats};
use runlog_wal::{Durability, Lsn, RecoveryMode, Wal, WalReader};

use crate::blobs::{BlobHash, BlobStore};
use crate::catalog::{Catalog, RunStatus};
use crate::catalog_file::{self, CATALOG_DIR, CatalogRef};
use crate::identity::{self, Found};
use crate::limits::Limits;
use crate::manifest::MANIFEST;
use crate::manifest::{Manifest, ManifestHead, SEGMENTS_DIR, SegmentEntry, segment_path};
use crate::memtable::Memtable;
use crate::ops::Record;
use crate::segments::SegmentHandle;
use crate::{Error, Result, background, catalog_rewrite, lock};

/// Default memtable size before it is frozen and flushed: 64 MiB.
pub const DEFAULT_MEMTABLE_BYTES: usize = 64 << 20;

/// A runlog database: a directory holding a WAL, segments and a manifest.
///
/// `Db` is `Send + Sync`; share it between threads with an `Arc` or by
/// reference. Writers are serialised, readers run concurrently with them
/// and with flushes and compactions.
#[derive(Debug)]
pub struct Db {
    pub(crate) shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
    /// Runs an interrupted import staged, deleted by this (writer) open.
    discarded: Vec<crate::RunInfo>,
}

/// Options for opening a database; a consuming builder made by
/// [`Db::builder`].
#[derive(Clone, Debug)]
pub struct DbBuilder {
    dir: PathBuf,
    pub(crate) durability: Durability,
    pub(crate) memtable_bytes: usize,
    pub(crate) limits: Limits,
    pub(crate) segment: SegmentOptions,
    mark_running_on_open: Option<RunStatus>,
    background: bool,
    /// Where the WAL, segments, MANIFEST and catalog files live (the file system
    /// unless a test says).
    pub(crate) storage: Arc<dyn runlog_wal::Storage>,
}

/// What the database holds in memory; guarded by `Shared::state`.
#[derive(Debug)]
pub(crate) struct State {
    pub catalog: Catalog,
    pub active: Memtable,
    /// Full memtables waiting to be flushed, oldest first.
    pub frozen: Vec<Arc<Memtable>>,
    /// The segments, oldest first: a snapshot readers clone.
    pub segments: Arc<Vec<Arc<SegmentHandle>>>,
    pub flushed_lsn: u64,
    pub next_segment: u64,
    /// For a read-only handle: how the WAL ended when it was last read (a
    /// torn tail is a record being written, or one a crash cut).
    pub wal_tail: runlog_wal::Tail,
    /// Blobs that lost their last reference, with the WAL record that
    /// released them: freed once a manifest covers that record.
    pub released: Vec<(u64, BlobHash)>,
}

impl State {
    /// Moves the blobs the catalog released to `released`, with the last
    /// WAL record applied.
    pub(crate) fn note_released(&mut self) {
        let lsn = self.active.last_lsn;
        let released = std::mem::take(&mut self.catalog.released);
        self.released
            .extend(released.into_iter().map(|hash| (lsn, hash)));
    }
}

/// What the memtables hold at one instant ([`Db::memtable_usage`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemtableUsage {
    /// Points in memory, not yet in a segment (active and frozen).
    pub points: u64,
    /// Memory they take, as counted against the memtable budget.
    pub bytes: u64,
    /// Full chunks of those points already encoded in the background.
    pub sealed_chunks: u64,
    /// Memtables frozen and waiting to be flushed.
    pub frozen: usize,
}

/// Signals to the background threads.
#[derive(Debug, Default)]
pub(crate) struct Signals {
    pub shutdown: bool,
    /// Bumped at every flush or compaction, so waiters can tell progress.
    pub generation: u64,
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub dir: PathBuf,
    pub options: DbBuilder,
    /// `None` for read-only handles.
    pub wal: Option<Wal>,
    pub state: RwLock<State>,
    /// Serialises write calls, so WAL order is the order ops are applied;
    /// holds the buffer each call's WAL record is encoded into.
    pub write: Mutex<Vec<u8>>,
    /// Serialises manifest rewrites; holds where the catalog file the
    /// manifest names ends (a writer's only).
    pub manifest: Mutex<CatalogRef>,
    /// Artifacts and sealed stream chunks.
    pub blobs: BlobStore,
    /// Serialises compactions (the thread's and `Db::compact`).
    pub compaction: Mutex<()>,
    pub signals: Mutex<Signals>,
    pub wake: Condvar,
    pub poison: OnceLock<String>,
    /// The writer lock, held while the handle lives.
    _lock: Option<File>,
}

impl Shared {
    fn new(options: DbBuilder, wal: Option<Wal>, state: State, lock: Option<File>) -> Arc<Shared> {
        Arc::new(Shared {
            dir: options.dir.clone(),
            blobs: BlobStore::new(&options.dir),
            options,
            wal,
            state: RwLock::new(state),
            write: Mutex::new(Vec::new()),
            manifest: Mutex::new(CatalogRef::default()),
            compaction: Mutex::new(()),
            signals: Mutex::new(Signals::default()),
            wake: Condvar::new(),
            poison: OnceLock::new(),
            _lock: lock,
        })
    }

    /// Where the WAL, segments, MANIFEST and catalog files are.
    pub(crate) fn storage(&self) -> &dyn runlog_wal::Storage {
        self.options.storage.as_ref()
    }

    pub(crate) fn check_writable(&self) -> Result<&Wal> {
        let wal = self.wal.as_ref().ok_or(Error::ReadOnly)?;
        if let Some(cause) = self.poison.get() {
            return Err(Error::Poisoned {
                cause: cause.clone(),
            });
        }
        Ok(wal)
    }

    /// Wakes the background threads and anyone waiting for progress.
    pub(crate) fn notify(&self, progressed: bool) {
        if progressed {
            self.signals.lock().generation += 1;
        }
        self.wake.notify_all();
    }
}

impl DbBuilder {
    /// When writes become durable (default: [`Durability::Group`] every
    /// 10 ms). Under [`Durability::Sync`] every write call returns after an
    /// fsync, shared by concurrent writers.
    pub fn durability(mut self, durability: Durability) -> DbBuilder {
        self.durability = durability;
        self
    }

    /// Memory budget of the memtables in bytes (default 64 MiB, at least
    /// 64 KiB). The active memtable is frozen and flushed to a segment at
    /// half of it; writers wait while it is full and the previous one is
    /// still being flushed, so memtables never hold more than this.
    pub fn memtable_bytes(mut self, bytes: usize) -> DbBuilder {
        self.memtable_bytes = bytes;
        self
    }

    /// Caps on names, metrics, columns, params and tags.
    pub fn limits(mut self, limits: Limits) -> DbBuilder {
        self.limits = limits;
        self
    }

    /// How segments are written (chunk size, pco level).
    pub fn segment_options(mut self, options: SegmentOptions) -> DbBuilder {
        self.segment = options;
        self
    }

    /// Marks runs still `Running` when the database opens (their writer
    /// died) with this status, e.g. [`RunStatus::Killed`]. Default: leave
    /// them `Running`; their `last_write_ms` tells when they stopped.
    pub fn mark_running_on_open(mut self, status: RunStatus) -> DbBuilder {
        self.mark_running_on_open = Some(status);
        self
    }

    /// Where the WAL, the segments, the MANIFEST and the catalog file are
    /// read and written: the file system by default. Tests give a
    /// [`runlog_wal::MemStorage`] to fail chosen writes and fsyncs, or to
    /// take what a power cut would leave; blobs, the identity file and the
    /// lock stay on disk.
    pub fn storage(mut self, storage: Arc<dyn runlog_wal::Storage>) -> DbBuilder {
        self.storage = storage;
        self
    }

    /// Whether flushes and compactions run on background threads (default
    /// true). Without them, [`Db::flush`] and [`Db::compact`] do the work.
    pub fn background_threads(mut self, enabled: bool) -> DbBuilder {
        self.background = enabled;
        self
    }

    /// Opens (or creates) the database for writing, recovering whatever the
    /// last writer left.
    pub fn open(self) -> Result<Db> {
        if self.memtable_bytes < 64 << 10 {
            return Err(Error::InvalidOption {
                name: "memtable_bytes",
                value: self.memtable_bytes.to_string(),
                rule: "at least 65,536",
            });
        }
        let dir = self.dir.clone();
        // Refuse a directory that holds anything but a database before
        // creating or changing anything in it.
        let found = identity::inspect(&dir)?;
        fs::create_dir_all(&dir).map_err(|e| Error::io("create directory", &dir, e))?;
        let segments_dir = dir.join(SEGMENTS_DIR);
        self.storage
            .create_dir_all(&segments_dir)
            .map_err(|e| Error::io("create directory", &segments_dir, e))?;
        let lock = lock::acquire(&dir)?;
        if found != Found::Database {
            identity::write(&dir)?;
        }
        let manifest = match Manifest::read(self.storage.as_ref(), &dir)? {
            Some(manifest) => {
                refuse_missing_wal(self.storage.as_ref(), &dir, manifest.flushed_lsn)?;
                manifest
            }
            None => {
                refuse_segments_without_manifest(self.storage.as_ref(), &dir)?;
                Manifest::default()
            }
        };
        remove_orphans(self.storage.as_ref(), &dir, &manifest)?;
        let (flushed_lsn, next_segment) = (manifest.flushed_lsn, manifest.next_segment);
        // A catalog file of version 1 has no index frames: rewrite it.
        let catalog_ref = manifest
            .catalog_ref
            .filter(|_| manifest.catalog_version >= catalog_file::INDEXED_VERSION);
        let old_catalog = manifest
            .catalog_ref
            .filter(|_| catalog_ref.is_none())
            .map(|at| catalog_file::catalog_path(&dir, at.file_no));
        let first_catalog_file = manifest.catalog_ref.map_or(1, |at| at.file_no + 1);
        let (mut catalog, segments) =
            open_segments(&self.storage, &dir, manifest, &HashMap::new())?;
        let mut memtable = Memtable::after(flushed_lsn, self.segment.chunk_points);
        let mut replay_error = None;
        let mut first_replayed = None;
        let wal = Wal::builder(dir.join("wal"))
            .storage(Arc::clone(&self.storage))
            .durability(match self.durability {
                // The engine syncs after applying, outside its write lock,
                // so concurrent writers share fsyncs.
                Durability::Sync => Durability::Buffered,
                other => other,
            })
            .replay_and_open(Lsn(flushed_lsn + 1), |record| {
                first_replayed.get_or_insert(record.lsn);
                replay(&record, &mut catalog, &mut memtable, &mut replay_error);
            })?;
        if let Some(error) = replay_error {
            return Err(error);
        }
        // What replay released, and blobs that a put cut short or a crash
        // before a release's manifest left, are referenced by nothing now.
        catalog.released.clear();
        BlobStore::new(&dir).collect(|hash| catalog.blob_refs.contains_key(hash))?;
        // The WAL must take over exactly where the manifest ends, or the
        // write calls between them are lost.
        let continues = first_replayed.map_or(wal.next_lsn(), |first| first);
        if continues != Lsn(flushed_lsn + 1) {
            return Err(Error::WalGap {
                dir: dir.join("wal"),
                flushed_lsn,
                found: match first_replayed {
                    Some(first) => format!("its first record after that is {first}"),
                    None => format!("its next record would be {}", wal.next_lsn()),
                },
            });
        }
        let state = State {
            catalog,
            active: memtable,
            frozen: Vec::new(),
            segments: Arc::new(segments),
            flushed_lsn,
            next_segment: next_segment.max(1),
            wal_tail: runlog_wal::Tail::Clean,
            released: Vec::new(),
        };
        let background_enabled = self.background;
        let mark = self.mark_running_on_open;
        let shared = Shared::new(self, Some(wal), state, Some(lock));
        match catalog_ref {
            Some(at) => *shared.manifest.lock() = at,
            // A new database, a manifest that held the catalog (version 4
            // or older), or a catalog file of version 1: write the catalog
            // file and a manifest naming it (then delete the old file).
            // From the first open on, a database has a MANIFEST, so that a
            // WAL deleted later is noticed (see `refuse_missing_wal`).
            None => {
                let mut at = shared.manifest.lock();
                *at = catalog_rewrite::write_base(&shared, first_catalog_file)?;
                shared.state.write().catalog.file_garbage = 0;
                let state = shared.state.read();
                manifest_of(&state, &state.segments, state.flushed_lsn, *at)
                    .write(shared.storage(), &shared.dir)?;
                if let Some(old) = &old_catalog {
                    shared
                        .storage()
                        .remove_file(old)
                        .map_err(|e| Error::io("delete replaced", old, e))?;
                }
            }
        }
        let threads = if background_enabled {
            background::start(&shared)?
        } else {
            Vec::new()
        };
        let mut db = Db {
            shared,
            threads,
            discarded: Vec::new(),
        };
        db.discard_staged_runs()?;
        if let Some(status) = mark {
            db.mark_running_runs(status)?;
        }
        db.freeze_if_full();
        Ok(db)
    }

    /// Opens the database read-only: no lock, no writes, nothing changed on
    /// disk. The handle sees what was flushed and what the WAL holds (a torn
    /// tail is skipped); [`Db::refresh`] picks up what the writer added since.
    pub fn open_read_only(self) -> Result<Db> {
        if !self.dir.is_dir() {
            return Err(Error::io(
                "open read-only",
                &self.dir,
                std::io::Error::new(std::io::ErrorKind::NotFound, "no such database directory"),
            ));
        }
        if identity::inspect(&self.dir)? == Found::Empty {
            return Err(Error::NotADatabase {
                dir: self.dir.clone(),
                found: "nothing".into(),
            });
        }
        let state = load_read_only(&self, &HashMap::new())?;
        let shared = Shared::new(self, None, state, None);
        Ok(Db {
            shared,
            threads: Vec::new(),
            discarded: Vec::new(),
        })
    }
}

/// Applies one replayed WAL record, remembering the first error.
fn replay(
    record: &runlog_wal::Record,
    catalog: &mut Catalog,
    memtable: &mut Memtable,
    error: &mut Option<Error>,
) {
    if error.is_some() {
        return;
    }
    match Record::decode(&record.payload) {
        Ok(ops) => {
            ops.apply(catalog, memtable);
            memtable.last_lsn = record.lsn.0;
        }
        Err(decode_error) => *error = Some(undecodable(record, decode_error)),
    }
}

/// A WAL record whose payload does not decode (its CRC held: written by a
/// build that knows ops this one does not, or a bug), named by its file
/// and the offset of the bad byte in that file.
pub(crate) fn undecodable(
    record: &runlog_wal::Record,
    (at, reason): crate::wire::DecodeError,
) -> Error {
    Error::Corrupt {
        file: record.file.to_path_buf(),
        offset: record.offset + runlog_wal::RECORD_HEADER_LEN as u64 + at as u64,
        reason: format!("WAL record {} does not decode: {reason}", record.lsn),
    }
}

/// Whether `name` is one the engine gives segment files (`<16 digits>.seg`)
/// or their temporary files (`.seg.tmp`).
pub(crate) fn is_segment_name(name: &str) -> bool {
    let stem = name
        .strip_suffix(".seg")
        .or_else(|| name.strip_suffix(".seg.tmp"));
    stem.is_some_and(|digits| digits.len() == 16 && digits.bytes().all(|b| b.is_ascii_digit()))
}

/// Whether `dir/wal` holds a log file.
pub(crate) fn has_wal_files(storage: &dyn runlog_wal::Storage, dir: &Path) -> Result<bool> {
    Ok(!runlog_wal::log_files(storage, &dir.join("wal"))?.is_empty())
}

/// A database with a MANIFEST always has a WAL file that continues it (the
/// engine never deletes the newest): none means the write calls after the
/// manifest, if any, were deleted with it.
fn refuse_missing_wal(
    storage: &dyn runlog_wal::Storage,
    dir: &Path,
    flushed_lsn: u64,
) -> Result<()> {
    if has_wal_files(storage, dir)? {
        return Ok(());
    }
    Err(Error::MissingFile {
        file: dir.join("wal"),
        why: format!(
            "the MANIFEST reaches WAL record {flushed_lsn}, so a WAL file must hold what comes after it; write calls made after it, if any, are lost (`runlog-db repair` starts the WAL again)"
        ),
    })
}

/// A database without a manifest holds no segments and no catalog file:
/// such files there mean the manifest was lost, and only `runlog-db repair`
/// may rebuild it.
fn refuse_segments_without_manifest(storage: &dyn runlog_wal::Storage, dir: &Path) -> Result<()> {
    let segments = segment_files(storage, dir)?
        .iter()
        .filter(|path| path.extension().is_some_and(|e| e == "seg"))
        .count();
    let catalogs = catalog_files(storage, dir)?.len();
    if segments + catalogs == 0 {
        return Ok(());
    }
    Err(Error::MissingFile {
        file: dir.join(MANIFEST),
        why: format!(
            "segments/ holds {segments} segment files and catalog/ {catalogs} catalog files, and only the MANIFEST says which are live; nothing was deleted (`runlog-db repair` rebuilds the MANIFEST from them)"
        ),
    })
}

/// The files in `catalog/` named as the engine names catalog files.
pub(crate) fn catalog_files(storage: &dyn runlog_wal::Storage, dir: &Path) -> Result<Vec<PathBuf>> {
    files_named(
        storage,
        &dir.join(CATALOG_DIR),
        catalog_file::is_catalog_name,
    )
}

/// The files in `segments/` named as the engine names segments and their
/// temporary files.
pub(crate) fn segment_files(storage: &dyn runlog_wal::Storage, dir: &Path) -> Result<Vec<PathBuf>> {
    files_named(storage, &dir.join(SEGMENTS_DIR), is_segment_name)
}

/// The files in `folder` whose names pass `ours` (none if it is missing).
fn files_named(
    storage: &dyn runlog_wal::Storage,
    folder: &Path,
    ours: fn(&str) -> bool,
) -> Result<Vec<PathBuf>> {
    match storage.list_dir(folder) {
        Ok(names) => Ok(names
            .into_iter()
            .filter(|n| ours(n))
            .map(|n| folder.join(n))
            .collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(Error::io("list", folder, e)),
    }
}

/// Deletes the segment files (and their temporary files) that the manifest
/// does not list: leftovers of a flush or compaction cut short by a crash,
/// or files a compaction retired; and the catalog files it does not name,
/// which a rewrite replaced or a crash cut short. Only files named as the
/// engine names them are deleted; anything else is left alone.
fn remove_orphans(
    storage: &dyn runlog_wal::Storage,
    dir: &Path,
    manifest: &Manifest,
) -> Result<()> {
    let live = manifest
        .catalog_ref
        .map(|at| catalog_file::catalog_path(dir, at.file_no));
    for path in catalog_files(storage, dir)? {
        if live.as_ref() != Some(&path) {
            storage
                .remove_file(&path)
                .map_err(|e| Error::io("delete orphan", &path, e))?;
        }
    }
    let listed: Vec<PathBuf> = manifest
        .segments
        .iter()
        .map(|s| segment_path(dir, s.file_no))
        .collect();
    for path in segment_files(storage, dir)? {
        if !listed.contains(&path) {
            storage
                .remove_file(&path)
                .map_err(|e| Error::io("delete orphan", &path, e))?;
        }
    }
    let _ = storage.remove_file(&dir.join("MANIFEST.tmp"));
    Ok(())
}

/// Opens the manifest's segments (reusing already open ones) and derives
/// every series' statistics from them, oldest first.
fn open_segments(
    storage: &Arc<dyn runlog_wal::Storage>,
    dir: &Path,
    manifest: Manifest,
    open: &HashMap<u64, Arc<SegmentHandle>>,
) -> Result<(Catalog, Vec<Arc<SegmentHandle>>)> {
    let mut catalog = manifest.catalog;
    let mut segments = Vec::with_capacity(manifest.segments.len());
    for entry in manifest.segments {
        let handle = match open.get(&entry.file_no) {
            Some(handle) => Arc::clone(handle),
            None => Arc::new(SegmentHandle::open(storage, dir, entry)?),
        };
        for series in handle.reader.series() {
            if let Some(s) = catalog.series.get_mut(&series.id) {
                absorb(&mut s.stats, &series.stats);
            }
        }
        segments.push(handle);
    }
    Ok((catalog, segments))
}

pub(crate) fn absorb(stats: &mut Option<Stats>, newer: &Stats) {
    match stats {
        Some(stats) => stats.absorb(newer),
        None => *stats = Some(*newer),
    }
}

/// Builds a read-only state from the manifest and the WAL, retrying when
/// the writer replaced files between the two reads. What still fails after
/// every attempt is no race: the error names the missing file, the WAL gap
/// or the damage.
fn load_read_only(options: &DbBuilder, open: &HashMap<u64, Arc<SegmentHandle>>) -> Result<State> {
    retry_while_writer_moves(|| match try_load_read_only(options, open) {
        Err(e) if is_not_found(&e) => Ok(Err(missing(e))),
        other => other,
    })
}

/// Runs `attempt` of a reader that takes no lock until it answers, up to
/// 50 times 5 ms apart (250 ms): `Ok(Err(why))` means that what it read
/// did not fit together, as when a writer replaced files between its
/// reads; after the last attempt, `why` is the error.
pub(crate) fn retry_while_writer_moves<T>(
    mut attempt: impl FnMut() -> Result<Result<T>>,
) -> Result<T> {
    const ATTEMPTS: usize = 50;
    let mut last = None;
    for _ in 0..ATTEMPTS {
        match attempt()? {
            Ok(answer) => return Ok(answer),
            Err(why) => last = Some(why),
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Err(last.expect("every failed attempt says why"))
}

/// Whether `error` is a file that vanished: the writer deleted it after a
/// flush or compaction, between our reads.
pub(crate) fn is_not_found(error: &Error) -> bool {
    let source = match error {
        Error::Io { source, .. }
        | Error::Segment(runlog_segment::Error::Io { source, .. })
        | Error::Wal(runlog_wal::Error::Io { source, .. }) => source,
        _ => return false,
    };
    source.kind() == std::io::ErrorKind::NotFound
}

/// A vanished file's error, naming the file and what refers to it.
fn missing(error: Error) -> Error {
    match error {
        Error::Segment(runlog_segment::Error::Io { path, .. }) => Error::MissingFile {
            file: path,
            why: "the MANIFEST lists it".into(),
        },
        Error::Wal(runlog_wal::Error::Io { path, .. }) | Error::Io { path, .. } => {
            Error::MissingFile {
                file: path,
                why: "it vanished while it was read".into(),
            }
        }
        other => other,
    }
}

/// One attempt; `Ok(Err(why))` if what it read does not fit together, as
/// when the writer moved on between reading the manifest and the WAL.
fn try_load_read_only(
    options: &DbBuilder,
    open: &HashMap<u64, Arc<SegmentHandle>>,
) -> Result<Result<State>> {
    let dir = options.dir.as_path();
    let manifest = match Manifest::read(options.storage.as_ref(), dir)? {
        Some(manifest) => {
            if let Err(why) =
                refuse_missing_wal(options.storage.as_ref(), dir, manifest.flushed_lsn)
            {
                return Ok(Err(why));
            }
            manifest
        }
        None => {
            // Segments are written before the first manifest names them.
            if let Err(why) = refuse_segments_without_manifest(options.storage.as_ref(), dir) {
                return Ok(Err(why));
            }
            Manifest::default()
        }
    };
    let (flushed_lsn, next_segment) = (manifest.flushed_lsn, manifest.next_segment);
    let (mut catalog, segments) = open_segments(&options.storage, dir, manifest, open)?;
    // A read-only handle frees nothing, and writes no catalog.
    catalog.released.clear();
    // Nothing seals a read-only handle's memtable.
    let mut memtable = Memtable::after(flushed_lsn, 0);
    let wal_dir = dir.join("wal");
    let mut wal_tail = runlog_wal::Tail::Clean;
    if has_wal_files(options.storage.as_ref(), dir)? {
        let mut reader = WalReader::open(
            Arc::clone(&options.storage),
            &wal_dir,
            RecoveryMode::TolerateCorruptTail,
            Lsn(flushed_lsn + 1),
        )?;
        let mut error = None;
        for (expected, record) in (flushed_lsn + 1..).zip(&mut reader) {
            let record = match record {
                Ok(record) => record,
                // A file deleted or replaced under the reader, or damage.
                Err(e @ runlog_wal::Error::Corrupt { .. }) => return Ok(Err(e.into())),
                Err(e) => return Err(e.into()),
            };
            if record.lsn.0 != expected {
                return Ok(Err(Error::WalGap {
                    dir: wal_dir,
                    flushed_lsn,
                    found: format!("its first record after that is {}", record.lsn),
                }));
            }
            replay(&record, &mut catalog, &mut memtable, &mut error);
        }
        if let Some(error) = error {
            return Err(error);
        }
        catalog.changes = Default::default();
        // No record after the manifest: the log must still start right
        // after it, or the write calls in between are gone.
        if memtable.last_lsn == flushed_lsn && reader.next_lsn() > Lsn(flushed_lsn + 1) {
            return Ok(Err(Error::WalGap {
                dir: wal_dir,
                flushed_lsn,
                found: format!("its next record would be {}", reader.next_lsn()),
            }));
        }
        wal_tail = reader.tail().clone();
    }
    Ok(Ok(State {
        catalog,
        active: memtable,
        frozen: Vec::new(),
        segments: Arc::new(segments),
        flushed_lsn,
        next_segment,
        wal_tail,
        released: Vec::new(),
    }))
}

impl Db {
    /// Starts configuring the database in `dir`.
    pub fn builder(dir: impl Into<PathBuf>) -> DbBuilder {
        DbBuilder {
            dir: dir.into(),
            durability: Durability::default(),
            memtable_bytes: DEFAULT_MEMTABLE_BYTES,
            limits: Limits::default(),
            segment: SegmentOptions::default(),
            mark_running_on_open: None,
            background: true,
            storage: Arc::new(runlog_wal::FsStorage),
        }
    }

    /// Opens (or creates) the database in `dir` for writing, with defaults.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Db> {
        Db::builder(dir).open()
    }

    /// Opens the database in `dir` read-only (see
    /// [`DbBuilder::open_read_only`]).
    pub fn open_read_only(dir: impl Into<PathBuf>) -> Result<Db> {
        Db::builder(dir).open_read_only()
    }

    /// The database directory.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// What opening found at the end of the WAL: [`runlog_wal::Tail::Corrupt`]
    /// names a torn tail that recovery cut (a write call that was never
    /// acknowledged); `Clean` otherwise. A read-only handle changes nothing:
    /// for it, this is the torn tail it read past when it last loaded (a
    /// record a live writer is appending, or one a crash cut). Damage
    /// followed by intact records is not a tail: opening refuses it.
    pub fn recovered_tail(&self) -> runlog_wal::Tail {
        match &self.shared.wal {
            Some(wal) => wal.recovered_tail().clone(),
            None => self.shared.state.read().wal_tail.clone(),
        }
    }

    /// The runs an interrupted import had staged, which this writer open
    /// deleted (all or nothing of an import is visible): empty for a
    /// read-only handle.
    pub fn discarded_staged_runs(&self) -> &[crate::RunInfo] {
        &self.discarded
    }

    /// Deletes the runs still staged (their import never published them).
    fn discard_staged_runs(&mut self) -> Result<()> {
        let staged = self.shared.state.read().catalog.staged_runs();
        for run in staged {
            let info = crate::RunInfo::clone(&self.shared.state.read().catalog.runs[&run].info);
            self.delete_run(run)?;
            self.discarded.push(info);
        }
        Ok(())
    }

    /// Whether this handle was opened read-only.
    pub fn is_read_only(&self) -> bool {
        self.shared.wal.is_none()
    }

    /// Re-reads what the writer has added since this read-only handle was
    /// opened or last refreshed. A writer's handle is always current.
    pub fn refresh(&self) -> Result<()> {
        if !self.is_read_only() {
            return Ok(());
        }
        let open: HashMap<u64, Arc<SegmentHandle>> = self
            .shared
            .state
            .read()
            .segments
            .iter()
            .map(|s| (s.entry.file_no, Arc::clone(s)))
            .collect();
        let state = load_read_only(&self.shared.options, &open)?;
        *self.shared.state.write() = state;
        Ok(())
    }

    /// Makes every acknowledged write durable (already so under
    /// [`Durability::Sync`]).
    pub fn sync(&self) -> Result<()> {
        self.shared.check_writable()?.sync()?;
        Ok(())
    }

    /// Freezes the memtable and waits until every frozen memtable is in a
    /// segment (the WAL is then truncated).
    pub fn flush(&self) -> Result<()> {
        self.shared.check_writable()?;
        {
            let _writer = self.shared.write.lock();
            let mut state = self.shared.state.write();
            freeze(&mut state);
        }
        if !self.has_background_threads() {
            while background::flush_one(&self.shared)? {}
            catalog_rewrite::rewrite_if_due(&self.shared)?;
            return Ok(());
        }
        self.shared.notify(false);
        let mut signals = self.shared.signals.lock();
        loop {
            if let Some(cause) = self.shared.poison.get() {
                return Err(Error::Poisoned {
                    cause: cause.clone(),
                });
            }
            if self.shared.state.read().frozen.is_empty() {
                return Ok(());
            }
            self.shared
                .wake
                .wait_for(&mut signals, Duration::from_millis(20));
        }
    }

    /// Merges every segment into one now (dropping deleted runs' points,
    /// and giving segments of older builds the provenance a MANIFEST
    /// rebuild needs), and returns once the result is durable.
    pub fn compact(&self) -> Result<()> {
        self.shared.check_writable()?;
        background::compact_all(&self.shared)
    }

    pub(crate) fn has_background_threads(&self) -> bool {
        !self.threads.is_empty()
    }

    pub(crate) fn freeze_if_full(&self) {
        let full = self.memtable_full(&self.shared.state.read().active);
        if full && self.shared.wal.is_some() {
            let _writer = self.shared.write.lock();
            freeze(&mut self.shared.state.write());
            self.shared.notify(false);
        }
    }

    /// Makes everything durable and closes the database, reporting any
    /// failure (dropping a `Db` does the same but cannot report).
    pub fn close(mut self) -> Result<()> {
        self.stop_threads();
        match &self.shared.wal {
            Some(wal) => wal.sync().map(drop).map_err(Error::from),
            None => Ok(()),
        }
    }

    fn stop_threads(&mut self) {
        self.shared.signals.lock().shutdown = true;
        self.shared.wake.notify_all();
        for thread in self.threads.drain(..) {
            // A failed or panicked job has already poisoned the database.
            let _ = thread.join();
        }
    }

    /// What the memtables hold now: points, memory, sealed chunks. Sealing
    /// encodes a series' full chunks while its run goes on writing; it
    /// happens on the flusher thread, so a handle without background
    /// threads, or a read-only one, never seals.
    pub fn memtable_usage(&self) -> MemtableUsage {
        let state = self.shared.state.read();
        let memtables = std::iter::once(&state.active).chain(state.frozen.iter().map(|m| &**m));
        memtables.fold(
            MemtableUsage {
                frozen: state.frozen.len(),
                ..MemtableUsage::default()
            },
            |usage, m| MemtableUsage {
                points: usage.points + m.points() as u64,
                bytes: usage.bytes + m.bytes() as u64,
                sealed_chunks: usage.sealed_chunks + m.sealed_chunks() as u64,
                ..usage
            },
        )
    }

    /// Segment files, oldest first, with their levels and sizes: for
    /// inspection tools.
    pub fn segment_files(&self) -> Vec<(PathBuf, u32, u64)> {
        self.shared
            .state
            .read()
            .segments
            .iter()
            .map(|s| {
                (
                    s.reader.path().to_path_buf(),
                    s.entry.level,
                    s.reader.file_len(),
                )
            })
            .collect()
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        self.stop_threads();
    }
}

/// Moves a non-empty active memtable to the frozen list.
pub(crate) fn freeze(state: &mut State) {
    if state.active.is_empty() {
        return;
    }
    let next = state.active.successor();
    let full = std::mem::replace(&mut state.active, next);
    state.frozen.push(Arc::new(full));
}

/// A manifest describing `state` with `segments` in place of its own, and
/// the catalog file ending at `catalog`.
pub(crate) fn manifest_of(
    state: &State,
    segments: &[Arc<SegmentHandle>],
    flushed_lsn: u64,
    catalog: CatalogRef,
) -> ManifestHead {
    ManifestHead {
        flushed_lsn,
        next_segment: state.next_segment,
        segments: segments
            .iter()
            .map(|s| s.entry)
            .collect::<Vec<SegmentEntry>>(),
        catalog,
    }
}
