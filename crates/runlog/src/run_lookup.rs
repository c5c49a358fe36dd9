//! Answering for one run without opening the whole database: its metadata,
//! and the statistics and latest point of its metrics, read from only what
//! it needs, so that the cost does not grow with the number of runs.
//!
//! - The MANIFEST's head (segments, flushed LSN, where the catalog ends).
//! - The catalog file's frame headers, then its index frames, newest first
//!   (`catalog_file`): they point to the newest record of each run of the
//!   name (or id) asked for, and only the frames holding those are read
//!   and checked.
//! - Each segment's entries for the run's series (`SegmentLookup`, which
//!   checks the footer blocks it reads), oldest first.
//! - The WAL after the flushed LSN, applied to those runs only.
//!
//! A database this cannot read so (a MANIFEST of version 4 or older, a
//! catalog file of version 1, an experiment renamed or deleted since the
//! last flush) is opened read-only whole instead: the answer is the same,
//! only slower. Like a read-only open, it takes no lock and retries when a
//! writer replaced files between its reads.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use runlog_segment::{SegmentLookup, SegmentReader, SeriesId, Stats};
use runlog_wal::{FsStorage, Lsn, ReadAt, RecoveryMode, Storage, WalReader};

use crate::catalog::{Catalog, Interner, RunEntry, RunInfo};
use crate::catalog_file::{
    self, CatalogImage, FRAME_HEADER_LEN, HEADER_LEN, INDEXED_VERSION, KIND_INDEX, RunRecord,
};
use crate::db::{absorb, is_not_found, retry_while_writer_moves};
use crate::manifest::{ManifestHead, StoredManifest, segment_path};
use crate::memtable::Memtable;
use crate::ops::{Op, Record};
use crate::wire::Decoder;
use crate::{Db, Error, Point, Result, RunId};

/// One run as its files hold it: metadata, and each metric's statistics.
#[derive(Clone, Debug, PartialEq)]
pub struct RunLookup {
    info: RunInfo,
    /// Metrics by name, and table columns as `TABLE/COLUMN`.
    series: BTreeMap<String, Stats>,
    /// Whether a whole read-only open answered (see the module docs).
    opened_whole: bool,
}

/// Which runs a lookup wants.
#[derive(Clone, Debug)]
enum Wanted<'a> {
    Named {
        experiment: Option<&'a str>,
        name: &'a str,
    },
    Id(RunId),
}

impl Wanted<'_> {
    fn matches(&self, info: &RunInfo) -> bool {
        match self {
            Wanted::Named { experiment, name } => {
                info.name == *name && experiment.is_none_or(|e| info.experiment == e)
            }
            Wanted::Id(id) => info.id == *id,
        }
    }

    /// Whether an index entry may be one of the wanted runs.
    fn may_be(&self, name_crc: u32, run: RunId) -> bool {
        match self {
            Wanted::Named { name, .. } => crc32fast::hash(name.as_bytes()) == name_crc,
            Wanted::Id(id) => *id == run,
        }
    }
}

impl RunLookup {
    /// The live runs named `name` (in `experiment`, if given) in the
    /// database at `dir`, oldest first.
    pub fn find(dir: &Path, experiment: Option<&str>, name: &str) -> Result<Vec<RunLookup>> {
        look_up(dir, &Wanted::Named { experiment, name })
    }

    /// The live run `id` in the database at `dir`, if there is one.
    pub fn by_id(dir: &Path, id: RunId) -> Result<Option<RunLookup>> {
        Ok(look_up(dir, &Wanted::Id(id))?.pop())
    }

    /// Whether the database was opened whole to answer, as for files that
    /// have no index (see [`RunLookup`]'s module docs), rather than read
    /// only where the run is.
    pub fn opened_whole(&self) -> bool {
        self.opened_whole
    }

    /// Its metadata: id, experiment, name, status, times, params and tags.
    pub fn info(&self) -> &RunInfo {
        &self.info
    }

    /// Its metrics' names, and its table columns' as `TABLE/COLUMN`,
    /// ascending.
    pub fn series_names(&self) -> impl Iterator<Item = &str> {
        self.series.keys().map(String::as_str)
    }

    /// A metric's (or `TABLE/COLUMN`'s) statistics, as [`Db::stats`] gives
    /// them.
    pub fn stats(&self, name: &str) -> Result<Stats> {
        self.series
            .get(name)
            .copied()
            .ok_or_else(|| Error::UnknownSeries {
                run: self.info.id,
                what: "metric",
                name: name.to_string(),
            })
    }

    /// A metric's latest point (largest step; ties: the last logged), as
    /// [`Db::latest`] gives it.
    pub fn latest(&self, name: &str) -> Result<Point> {
        let stats = self.stats(name)?;
        Ok(Point {
            step: stats.last_step,
            timestamp_ms: stats.last_timestamp,
            value: stats.last_value,
        })
    }

    /// The lookup of the run `entry` of `catalog`.
    fn of(entry: &RunEntry, catalog: &Catalog, opened_whole: bool) -> RunLookup {
        let mut series = BTreeMap::new();
        let stats_of = |id: &SeriesId| catalog.series.get(id).and_then(|s| s.stats);
        for (name, id) in &entry.metrics {
            if let Some(stats) = stats_of(id) {
                series.insert(name.to_string(), stats);
            }
        }
        for (table, columns) in &entry.tables {
            for (column, id) in &columns.columns {
                if let Some(stats) = stats_of(id) {
                    series.insert(format!("{table}/{column}"), stats);
                }
            }
        }
        RunLookup {
            info: (*entry.info).clone(),
            series,
            opened_whole,
        }
    }
}

fn look_up(dir: &Path, wanted: &Wanted<'_>) -> Result<Vec<RunLookup>> {
    match retry_while_writer_moves(|| attempt(dir, wanted))? {
        Outcome::Found(runs) => Ok(runs),
        Outcome::WholeOpen => whole_open(dir, wanted),
    }
}

/// The same answer from a whole read-only open.
fn whole_open(dir: &Path, wanted: &Wanted<'_>) -> Result<Vec<RunLookup>> {
    let db = Db::open_read_only(dir)?;
    let state = db.shared.state.read();
    Ok(state
        .catalog
        .runs
        .values()
        .filter(|entry| !entry.deleted && !entry.staged && wanted.matches(&entry.info))
        .map(|entry| RunLookup::of(entry, &state.catalog, true))
        .collect())
}

/// What an attempt that fit together came to.
enum Outcome {
    Found(Vec<RunLookup>),
    /// The files are of a kind only a whole open reads.
    WholeOpen,
}

/// One attempt; `Ok(Err(why))` if a writer moved on between two reads (or
/// a file is missing: the error of the last attempt says so).
fn attempt(dir: &Path, wanted: &Wanted<'_>) -> Result<Result<Outcome>> {
    let head = match StoredManifest::read(&FsStorage, dir)? {
        Some(StoredManifest::Head(head)) => head,
        _ => return Ok(Ok(Outcome::WholeOpen)),
    };
    let moved = |error: Error| -> Result<Result<Outcome>> {
        let now = StoredManifest::read(&FsStorage, dir)?;
        let same = now.is_some_and(|now| now.listed() == (head.flushed_lsn, &head.segments[..]));
        if same && !is_not_found(&error) {
            Err(error)
        } else {
            Ok(Err(error))
        }
    };
    let records = match catalog_records(dir, &head, wanted) {
        Ok(Some(records)) => records,
        Ok(None) => return Ok(Ok(Outcome::WholeOpen)),
        Err(e) => return moved(e),
    };
    let mut catalog = CatalogImage {
        runs: records,
        ..CatalogImage::default()
    }
    .into_catalog();
    if let Err(e) = fold_segments(dir, &head, &mut catalog) {
        return moved(e);
    }
    match apply_wal_tail(dir, head.flushed_lsn, wanted, &mut catalog) {
        Ok(true) => {}
        Ok(false) => return Ok(Ok(Outcome::WholeOpen)),
        Err(e) => return moved(e),
    }
    Ok(Ok(Outcome::Found(
        catalog
            .runs
            .values()
            .filter(|entry| !entry.deleted && !entry.staged && wanted.matches(&entry.info))
            .map(|entry| RunLookup::of(entry, &catalog, false))
            .collect(),
    )))
}

/// A frame of the catalog file: where it starts, its body's length and
/// its kind byte.
struct FrameAt {
    at: u64,
    body_len: u64,
    kind: u8,
}

/// The newest record of every run the index frames name that may be
/// wanted; `None` for a catalog file without index frames (version 1).
fn catalog_records(
    dir: &Path,
    head: &ManifestHead,
    wanted: &Wanted<'_>,
) -> Result<Option<BTreeMap<RunId, RunRecord>>> {
    let path = catalog_file::catalog_path(dir, head.catalog.file_no);
    let file = FsStorage
        .open_read_at(&path)
        .map_err(|e| Error::io("open", &path, e))?;
    let file = file.as_ref();
    let mut header = [0u8; HEADER_LEN as usize];
    read_exact_at(file, &path, &mut header, 0)?;
    if catalog_file::check_header(&header, &path)? < INDEXED_VERSION {
        return Ok(None);
    }
    let frames = frame_headers(file, &path, head.catalog.len)?;
    let mut newest: BTreeMap<RunId, (u64, u32)> = BTreeMap::new();
    for index in frames.iter().rev().filter(|f| f.kind == KIND_INDEX) {
        let body = frame_body(file, &path, index)?;
        let entries =
            catalog_file::index_entries(&body).map_err(|(at, reason)| Error::Corrupt {
                file: path.clone(),
                offset: index.at + FRAME_HEADER_LEN + at as u64,
                reason,
            })?;
        for entry in entries {
            if !wanted.may_be(entry.name_crc, entry.run) || newest.contains_key(&entry.run) {
                continue;
            }
            let frame_at = index
                .at
                .checked_sub(entry.back)
                .ok_or_else(|| Error::Corrupt {
                    file: path.clone(),
                    offset: index.at,
                    reason: format!(
                        "an index entry points {} bytes before the file starts",
                        entry.back
                    ),
                })?;
            newest.insert(entry.run, (frame_at, entry.record_at));
        }
    }
    let mut records = BTreeMap::new();
    let mut bodies: HashMap<u64, Vec<u8>> = HashMap::new();
    let mut names = Interner::default();
    for (run, (frame_at, record_at)) in newest {
        let frame = frames
            .iter()
            .find(|f| f.at == frame_at && f.kind != KIND_INDEX)
            .ok_or_else(|| Error::Corrupt {
                file: path.clone(),
                offset: frame_at,
                reason: format!("an index entry of run {run} points to no frame of records"),
            })?;
        let body = match bodies.entry(frame_at) {
            std::collections::hash_map::Entry::Occupied(known) => known.into_mut(),
            std::collections::hash_map::Entry::Vacant(new) => {
                new.insert(frame_body(file, &path, frame)?)
            }
        };
        let body_at = frame_at + FRAME_HEADER_LEN;
        let corrupt = |(at, reason): (usize, String)| Error::Corrupt {
            file: path.clone(),
            offset: body_at + at as u64,
            reason,
        };
        let start = record_at as usize;
        let mut d = Decoder::new(body.get(start..).unwrap_or_default());
        let record = catalog_file::decode_run(&mut d, &mut names)
            .map_err(|(at, reason)| corrupt((start + at, reason)))?;
        if record.info.id != run {
            return Err(corrupt((
                start,
                format!(
                    "the index says run {run}, the record is run {}",
                    record.info.id
                ),
            )));
        }
        records.insert(run, record);
    }
    Ok(Some(records))
}

/// The header of every frame among the first `len` bytes of the catalog
/// file, with its kind byte.
fn frame_headers(file: &dyn ReadAt, path: &Path, len: u64) -> Result<Vec<FrameAt>> {
    let mut frames = Vec::new();
    let mut at = HEADER_LEN;
    while at < len {
        let mut head = [0u8; FRAME_HEADER_LEN as usize + 1];
        if len - at < head.len() as u64 {
            return Err(cut_short(path, at, len));
        }
        read_exact_at(file, path, &mut head, at)?;
        let body_len = u64::from(u32::from_le_bytes(head[..4].try_into().expect("4")));
        let end = at + FRAME_HEADER_LEN + body_len;
        if end > len || body_len == 0 {
            return Err(cut_short(path, at, len));
        }
        frames.push(FrameAt {
            at,
            body_len,
            kind: head[FRAME_HEADER_LEN as usize],
        });
        at = end;
    }
    Ok(frames)
}

fn cut_short(path: &Path, at: u64, len: u64) -> Error {
    Error::Corrupt {
        file: path.to_path_buf(),
        offset: at,
        reason: format!("a frame runs past the {len} bytes that the MANIFEST says count"),
    }
}

/// The body of `frame`, once its CRC is checked.
fn frame_body(file: &dyn ReadAt, path: &Path, frame: &FrameAt) -> Result<Vec<u8>> {
    let mut bytes = vec![0u8; (FRAME_HEADER_LEN + frame.body_len) as usize];
    read_exact_at(file, path, &mut bytes, frame.at)?;
    let stored = u32::from_le_bytes(bytes[4..8].try_into().expect("4"));
    let body = bytes.split_off(FRAME_HEADER_LEN as usize);
    let got = crc32fast::hash(&body);
    if got != stored {
        return Err(Error::Corrupt {
            file: path.to_path_buf(),
            offset: frame.at + 4,
            reason: format!("checksum mismatch: stored {stored:#010x}, computed {got:#010x}"),
        });
    }
    Ok(body)
}

/// Reads bytes the MANIFEST says the catalog file holds.
fn read_exact_at(file: &dyn ReadAt, path: &Path, buf: &mut [u8], at: u64) -> Result<()> {
    catalog_file::read_exact_at(file, path, buf, at, "the MANIFEST counts")
}

/// Folds into `catalog` the statistics every segment holds of its series,
/// oldest segment first, reading only their entries.
fn fold_segments(dir: &Path, head: &ManifestHead, catalog: &mut Catalog) -> Result<()> {
    let ids: Vec<SeriesId> = catalog.series.iter().map(|(id, _)| id).collect();
    if ids.is_empty() {
        return Ok(());
    }
    for entry in &head.segments {
        let path = segment_path(dir, entry.file_no);
        let found: Vec<(SeriesId, Stats)> = match SegmentLookup::open_in(&FsStorage, &path)? {
            Some(lookup) => {
                let mut found = Vec::new();
                for &id in &ids {
                    if let Some(stats) = lookup.stats(id)? {
                        found.push((id, stats));
                    }
                }
                found
            }
            // A segment of an older build: its whole index.
            None => {
                let reader = SegmentReader::open_in(&FsStorage, &path)?;
                ids.iter()
                    .filter_map(|&id| Some((id, reader.stats(id)?)))
                    .collect()
            }
        };
        for (id, stats) in found {
            if let Some(series) = catalog.series.get_mut(&id) {
                absorb(&mut series.stats, &stats);
            }
        }
    }
    Ok(())
}

/// Applies the WAL records after `flushed_lsn` that concern the wanted
/// runs (and runs created there under the wanted name); `false` if one
/// renames or deletes an experiment, which only a whole open follows.
fn apply_wal_tail(
    dir: &Path,
    flushed_lsn: u64,
    wanted: &Wanted<'_>,
    catalog: &mut Catalog,
) -> Result<bool> {
    let wal_dir = dir.join("wal");
    let storage: Arc<dyn Storage> = Arc::new(FsStorage);
    if runlog_wal::log_files(storage.as_ref(), &wal_dir)?.is_empty() {
        return Err(Error::MissingFile {
            file: wal_dir,
            why: format!(
                "the MANIFEST reaches WAL record {flushed_lsn}, so a WAL file must hold what comes after it"
            ),
        });
    }
    let mut reader = WalReader::open(
        storage,
        &wal_dir,
        RecoveryMode::TolerateCorruptTail,
        Lsn(flushed_lsn + 1),
    )?;
    let mut memtable = Memtable::after(flushed_lsn, 0);
    let mut expected = flushed_lsn + 1;
    for record in &mut reader {
        let record = record?;
        if record.lsn.0 != expected {
            return Err(gap(&wal_dir, flushed_lsn, record.lsn));
        }
        expected += 1;
        let decoded =
            Record::decode(&record.payload).map_err(|e| crate::db::undecodable(&record, e))?;
        // Op by op, as a series defined in a record takes its points in it.
        for op in decoded.ops {
            let keep = match &op {
                Op::RenameExperiment { .. } | Op::SetExperimentDeleted { .. } => return Ok(false),
                Op::CreateRun {
                    run,
                    experiment,
                    name,
                    ..
                } => match wanted {
                    Wanted::Named {
                        experiment: e,
                        name: n,
                    } => name == n && e.is_none_or(|e| e == experiment),
                    Wanted::Id(id) => run == id,
                },
                Op::DefineSeries { run, .. } => catalog.runs.contains_key(run),
                Op::Points { series, .. } => catalog.series.contains_key(series),
                _ => true,
            };
            if keep {
                Record {
                    wall_ms: decoded.wall_ms,
                    ops: vec![op],
                }
                .apply(catalog, &mut memtable);
            }
        }
    }
    if expected == flushed_lsn + 1 && reader.next_lsn() > Lsn(expected) {
        return Err(gap(&wal_dir, flushed_lsn, reader.next_lsn()));
    }
    Ok(true)
}

fn gap(wal_dir: &Path, flushed_lsn: u64, found: Lsn) -> Error {
    Error::WalGap {
        dir: wal_dir.to_path_buf(),
        flushed_lsn,
        found: format!("its first record after that is {found}"),
    }
}
