//! Checks and dumps of a database directory, for inspection tools and for
//! servers: they only read, and need no lock (they work on a database a
//! writer has open).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use runlog_segment::{Columns, SegmentReader, Stats};
use runlog_wal::{FsStorage, Lsn, RecoveryMode, Storage, WalReader};

use crate::blobs::{BlobHash, BlobStore};
use crate::db::{is_segment_name, undecodable};
use crate::manifest::{Manifest, StoredManifest, segment_path};
use crate::ops::Record;
use crate::provenance::Provenance;
use crate::{Error, Result};

/// One problem [`verify`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The damaged file.
    pub file: PathBuf,
    /// Byte offset of the damage, when known.
    pub offset: Option<u64>,
    /// What is wrong.
    pub message: String,
}

/// What [`verify`] checked, and what it found wrong.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Segment files checked.
    pub segments: usize,
    /// Chunks whose CRC, decoding and statistics were checked.
    pub chunks: usize,
    /// Points decoded.
    pub points: u64,
    /// WAL records whose CRC and encoding were checked.
    pub wal_records: u64,
    /// Blobs (artifacts, sealed text chunks) whose header, payload CRC and
    /// content hash were checked.
    pub blobs: usize,
    /// Bytes of those blob files.
    pub blob_bytes: u64,
    /// Every problem found (empty: the database is intact).
    pub problems: Vec<Problem>,
    /// What is worth knowing but is no damage: a torn WAL tail (the record
    /// a live writer is appending, or the write call a crash cut, which
    /// recovery drops), files in `segments/` that are not the engine's.
    pub notes: Vec<Problem>,
}

/// How many times [`verify`] starts again when a writer replaced the
/// manifest while it read.
const VERIFY_ATTEMPTS: usize = 100;

/// Reads everything in the database at `dir` and checks it: the manifest,
/// every chunk of every segment (CRC, decoding, statistics against the
/// decoded points, series statistics against their chunks), every WAL
/// record (CRC, sequence, encoding), that the WAL continues the manifest,
/// and every blob that the catalog or the WAL names (header CRC, payload
/// CRC and content hash). Problems are collected, not returned as errors, so one
/// damaged file does not hide another.
///
/// It checks one snapshot of a live database: the segments the manifest
/// lists are opened (and so held) before any is read, and if a writer
/// replaced the manifest meanwhile (a compaction retired a segment), it
/// starts again. The end of the last WAL file, where a writer appends, is
/// a note when torn, not a problem.
pub fn verify(dir: &Path) -> Result<VerifyReport> {
    for _ in 0..VERIFY_ATTEMPTS {
        if let Some(report) = try_verify(dir)? {
            return Ok(report);
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    Err(Error::io(
        "verify",
        dir,
        std::io::Error::other("a writer replaced the manifest at every attempt; try again"),
    ))
}

/// One attempt; `None` if the manifest changed under it.
fn try_verify(dir: &Path) -> Result<Option<VerifyReport>> {
    let mut report = VerifyReport::default();
    let manifest = match Manifest::read(&FsStorage, dir) {
        Ok(manifest) => manifest.unwrap_or_default(),
        Err(e) => {
            report.problems.push(problem_of(&e, dir.join("MANIFEST")));
            // The WAL is still checked; with no manifest to compare, a file
            // vanishing meanwhile is no reason to start again.
            verify_wal(dir, 0, &mut report, &mut BTreeSet::new())?;
            return Ok(Some(report));
        }
    };
    let listed = (manifest.flushed_lsn, manifest.segments.as_slice());
    // Whether a writer has moved on to another manifest since.
    let moved = || {
        StoredManifest::read(&FsStorage, dir)
            .ok()
            .flatten()
            .is_some_and(|now| now.listed() != listed)
    };
    let mut readers = Vec::with_capacity(manifest.segments.len());
    for entry in &manifest.segments {
        let path = segment_path(dir, entry.file_no);
        match SegmentReader::open(&path) {
            Ok(reader) => readers.push(reader),
            Err(e) => {
                if moved() {
                    return Ok(None);
                }
                report.segments += 1;
                report.problems.push(problem_of(&e.into(), path));
            }
        }
    }
    for reader in &readers {
        report.segments += 1;
        verify_segment(reader, &mut report);
    }
    verify_provenance(&readers, manifest.flushed_lsn, &mut report);
    note_foreign_segment_files(dir, &mut report);
    let problems_before = report.problems.len();
    let mut blobs: BTreeSet<BlobHash> = manifest.catalog.blob_refs.keys().copied().collect();
    if !verify_wal(dir, manifest.flushed_lsn, &mut report, &mut blobs)? {
        return Ok(None); // the writer deleted WAL files while we read
    }
    verify_blobs(dir, &blobs, &mut report);
    // A flush between reading the manifest and the WAL truncates the WAL
    // past what that manifest says: only a WAL problem that the current
    // manifest still shows is one.
    let wal_problems = report.problems.len() > problems_before;
    if wal_problems && moved() {
        return Ok(None);
    }
    Ok(Some(report))
}

/// Checks that the live segments' provenance (`provenance.rs`) could
/// rebuild this MANIFEST: ranges of WAL records that follow each other,
/// oldest first, within the flushed LSN. Segments of older builds, which
/// carry none, are one note.
fn verify_provenance(readers: &[SegmentReader], flushed_lsn: u64, report: &mut VerifyReport) {
    let mut previous: Option<(u64, &Path)> = None;
    let mut without = Vec::new();
    for reader in readers {
        let path = reader.path();
        let provenance = match Provenance::of(reader, path) {
            Ok(Some(provenance)) => provenance,
            Ok(None) => {
                without.push(path);
                continue;
            }
            Err(e) => {
                report.problems.push(problem_of(&e, path.to_path_buf()));
                continue;
            }
        };
        let (first, last) = (*provenance.lsns.start(), *provenance.lsns.end());
        let wrong = match previous {
            Some((before, older)) if first <= before => Some(format!(
                "it holds WAL records {first} to {last}, but the older {} reaches record {before}",
                older.display()
            )),
            _ if last > flushed_lsn => Some(format!(
                "it holds WAL records {first} to {last}, but the MANIFEST reaches only record {flushed_lsn}"
            )),
            _ => None,
        };
        if let Some(why) = wrong {
            report.problems.push(Problem {
                file: path.to_path_buf(),
                offset: None,
                message: format!("segment provenance: {why}; a rebuilt MANIFEST would be wrong"),
            });
        }
        previous = Some((last, path));
    }
    if let Some(first) = without.first() {
        report.notes.push(Problem {
            file: first.to_path_buf(),
            offset: None,
            message: format!(
                "{} segments (this one among them) were written before segments recorded their WAL records: `repair` could not rebuild a lost MANIFEST from them; `runlog-db compact` rewrites them",
                without.len()
            ),
        });
    }
}

/// Files in `segments/` that the engine did not name: left alone, and said.
fn note_foreign_segment_files(dir: &Path, report: &mut VerifyReport) {
    let Ok(entries) = std::fs::read_dir(dir.join("segments")) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let ours = name.to_str().is_some_and(is_segment_name);
        if !ours {
            let set_aside = name
                .to_str()
                .is_some_and(|n| n.contains(".seg.damaged") || n.contains(".seg.unused"));
            report.notes.push(Problem {
                file: entry.path(),
                offset: None,
                message: if set_aside {
                    "set aside by `repair`; no open reads or deletes it".into()
                } else {
                    "not a file of the engine's; left alone".into()
                },
            });
        }
    }
}

fn verify_segment(reader: &SegmentReader, report: &mut VerifyReport) {
    let mut points = Columns::default();
    for series in reader.series() {
        let mut folded: Option<Stats> = None;
        for chunk in reader.chunks(series.id) {
            report.chunks += 1;
            points.clear();
            if let Err(e) = reader.read_chunk(chunk, &mut points) {
                report
                    .problems
                    .push(problem_of(&e.into(), reader.path().to_path_buf()));
                continue;
            }
            report.points += points.len() as u64;
            let recomputed = Stats::of(&points.steps, &points.timestamps, &points.values);
            if recomputed != Some(chunk.stats) {
                report.problems.push(Problem {
                    file: reader.path().to_path_buf(),
                    offset: Some(chunk.offset),
                    message: format!(
                        "series {}: chunk statistics do not match its points",
                        series.id
                    ),
                });
            }
            match &mut folded {
                Some(stats) => stats.merge(&chunk.stats),
                None => folded = Some(chunk.stats),
            }
        }
        if folded.is_some_and(|stats| stats != series.stats) {
            report.problems.push(Problem {
                file: reader.path().to_path_buf(),
                offset: None,
                message: format!("series {}: statistics do not match its chunks", series.id),
            });
        }
    }
}

/// Checks the blobs in `referenced` and notes the blob files nothing
/// references (a writer's next open deletes them).
fn verify_blobs(dir: &Path, referenced: &BTreeSet<BlobHash>, report: &mut VerifyReport) {
    let store = BlobStore::new(dir);
    for hash in referenced {
        report.blobs += 1;
        match store.verify(hash) {
            Ok(bytes) => report.blob_bytes += bytes,
            Err(e) => report.problems.push(problem_of(&e, store.path(hash))),
        }
    }
    let files = match store.files() {
        Ok(files) => files,
        Err(e) => {
            report.problems.push(problem_of(&e, dir.join("blobs")));
            return;
        }
    };
    for (file, hash) in files {
        if hash.is_none_or(|h| !referenced.contains(&h)) {
            report.notes.push(Problem {
                file,
                offset: None,
                message: "a blob or temporary file that nothing references (a put in progress, or one a crash cut); the next writer open deletes it".into(),
            });
        }
    }
}

/// Checks every WAL record, going on past a damaged file to the next one,
/// and that the log continues after `flushed_lsn`, adding the blobs that
/// records name to `blobs`; `false` if a file vanished while it was read
/// (a writer truncating the log).
fn verify_wal(
    dir: &Path,
    flushed_lsn: u64,
    report: &mut VerifyReport,
    blobs: &mut BTreeSet<BlobHash>,
) -> Result<bool> {
    let wal_dir = dir.join("wal");
    let files: Vec<(u64, PathBuf)> = runlog_wal::log_files(&FsStorage, &wal_dir)?
        .into_iter()
        .map(|(lsn, path)| (lsn.0, path))
        .collect();
    if let Some(&(first, ref path)) = files.first()
        && first > flushed_lsn + 1
    {
        report.problems.push(Problem {
            file: path.clone(),
            offset: None,
            message: format!(
                "the WAL starts at record {first}, but the MANIFEST reaches only record {flushed_lsn}: write calls in between are missing"
            ),
        });
    }
    let storage: Arc<dyn Storage> = Arc::new(FsStorage);
    let mut from = files.first().map(|f| f.0);
    while let Some(first_lsn) = from.take() {
        let mut reader = match WalReader::open(
            Arc::clone(&storage),
            &wal_dir,
            RecoveryMode::TolerateCorruptTail,
            Lsn(first_lsn),
        ) {
            Ok(reader) => reader,
            Err(e) => {
                report.problems.push(problem_of(&e.into(), wal_dir.clone()));
                return Ok(true);
            }
        };
        let mut failed_in = None;
        for record in &mut reader {
            match record {
                Ok(record) => {
                    report.wal_records += 1;
                    match Record::decode(&record.payload) {
                        Ok(decoded) => blobs.extend(decoded.blobs()),
                        Err(e) => {
                            let error = undecodable(&record, e);
                            report.problems.push(problem_of(&error, wal_dir.clone()));
                        }
                    }
                }
                Err(runlog_wal::Error::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound =>
                {
                    return Ok(false);
                }
                Err(e) => {
                    let problem = problem_of(&e.into(), wal_dir.clone());
                    failed_in = Some(problem.file.clone());
                    report.problems.push(problem);
                    break;
                }
            }
        }
        if let runlog_wal::Tail::Corrupt { file, offset, kind } = reader.tail() {
            report.notes.push(Problem {
                file: file.clone(),
                offset: Some(*offset),
                message: format!(
                    "torn tail ({kind}): the record a writer is appending, or the write call a crash cut (never acknowledged); recovery drops it"
                ),
            });
        }
        // Go on with the file after the damaged one.
        from = failed_in
            .and_then(|damaged| files.iter().position(|f| f.1 == damaged))
            .and_then(|index| files.get(index + 1))
            .map(|f| f.0);
    }
    Ok(true)
}

/// The file and offset an error names, as a problem.
fn problem_of(error: &Error, fallback: PathBuf) -> Problem {
    let (file, offset) = match error {
        Error::Corrupt { file, offset, .. } => (file.clone(), Some(*offset)),
        Error::Segment(runlog_segment::Error::Corrupt { file, offset, .. })
        | Error::Segment(runlog_segment::Error::UnknownCodec { file, offset, .. })
        | Error::Wal(runlog_wal::Error::Corrupt { file, offset, .. }) => {
            (file.clone(), Some(*offset))
        }
        _ => (fallback, None),
    };
    Problem {
        file,
        offset,
        message: error.to_string(),
    }
}

/// Sizes of what a database holds on disk.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StorageStats {
    /// Segment files, oldest first: path, level, bytes, points.
    pub segments: Vec<(PathBuf, u32, u64, u64)>,
    /// Points in segments.
    pub points: u64,
    /// Bytes of segment files.
    pub segment_bytes: u64,
    /// Column bytes by codec name (`"value:pco-f32"`, `"timestamp:linear"`,
    /// ...), with the number of columns using it.
    pub codecs: BTreeMap<String, (u64, u64)>,
    /// WAL files and their total size.
    pub wal_files: usize,
    /// Bytes of WAL files.
    pub wal_bytes: u64,
    /// Bytes of the manifest.
    pub manifest_bytes: u64,
    /// Bytes of the catalog file that count (0 for a manifest that holds
    /// the catalog itself, version 4 or older).
    pub catalog_bytes: u64,
    /// Blob files (artifacts and sealed text chunks, each content once).
    pub blob_files: usize,
    /// Bytes of blob files.
    pub blob_bytes: u64,
}

impl StorageStats {
    /// Segment bytes per point in segments (0 without points).
    pub fn bytes_per_point(&self) -> f64 {
        if self.points == 0 {
            0.0
        } else {
            self.segment_bytes as f64 / self.points as f64
        }
    }
}

/// Counts files, bytes, points and bytes per codec of the database at
/// `dir`, from the segment footers and column tags (no data is decoded).
pub fn storage_stats(dir: &Path) -> Result<StorageStats> {
    let manifest = StoredManifest::read(&FsStorage, dir)?;
    let mut stats = StorageStats {
        manifest_bytes: std::fs::metadata(dir.join("MANIFEST")).map_or(0, |m| m.len()),
        catalog_bytes: manifest.as_ref().map_or(0, StoredManifest::catalog_bytes),
        ..StorageStats::default()
    };
    let segments = manifest.as_ref().map_or(&[][..], |m| m.listed().1);
    for entry in segments {
        let reader = SegmentReader::open(segment_path(dir, entry.file_no))?;
        let points: u64 = reader.series().iter().map(|s| s.stats.count).sum();
        for chunk in reader.all_chunks() {
            let bytes = reader.chunk_bytes(chunk);
            let columns = [
                ("step", 0, chunk.step_len),
                ("timestamp", chunk.step_len, chunk.timestamp_len),
                (
                    "value",
                    chunk.step_len + chunk.timestamp_len,
                    chunk.len - chunk.step_len - chunk.timestamp_len,
                ),
            ];
            for (column, start, len) in columns {
                let name = format!("{column}:{}", codec_name(bytes[start as usize]));
                let slot = stats.codecs.entry(name).or_default();
                slot.0 += u64::from(len);
                slot.1 += 1;
            }
        }
        stats.points += points;
        stats.segment_bytes += reader.file_len();
        stats.segments.push((
            reader.path().to_path_buf(),
            entry.level,
            reader.file_len(),
            points,
        ));
    }
    for (path, hash) in BlobStore::new(dir).files()? {
        if hash.is_some() {
            stats.blob_files += 1;
            stats.blob_bytes += std::fs::metadata(&path).map_or(0, |m| m.len());
        }
    }
    if let Ok(entries) = std::fs::read_dir(dir.join("wal")) {
        for entry in entries.flatten() {
            stats.wal_files += 1;
            stats.wal_bytes += entry.metadata().map_or(0, |m| m.len());
        }
    }
    Ok(stats)
}

/// The name of the codec with tag `tag` (see `docs/format-segment.md`), or
/// `"unknown"`.
pub fn codec_name(tag: u8) -> &'static str {
    runlog_segment::codec::codec_name(tag).unwrap_or("unknown")
}

/// One WAL record, summarised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalEntry {
    /// Its LSN.
    pub lsn: u64,
    /// Payload bytes.
    pub bytes: usize,
    /// Wall-clock time of the write, ms.
    pub wall_ms: i64,
    /// One line per op, e.g. `points series 4 x100 steps 0..99`.
    pub ops: Vec<String>,
}

/// Every record of the WAL of the database at `dir` from LSN `from`,
/// summarised. A torn tail (a writer mid-append) ends the list.
pub fn wal_entries(dir: &Path, from: u64) -> Result<Vec<WalEntry>> {
    let wal_dir = dir.join("wal");
    if !wal_dir.exists() {
        return Ok(Vec::new());
    }
    let storage: Arc<dyn Storage> = Arc::new(FsStorage);
    let reader = WalReader::open(
        storage,
        &wal_dir,
        RecoveryMode::TolerateCorruptTail,
        Lsn(from),
    )?;
    let mut entries = Vec::new();
    for record in reader {
        let record = record?;
        let decoded = Record::decode(&record.payload).map_err(|e| undecodable(&record, e))?;
        entries.push(WalEntry {
            lsn: record.lsn.0,
            bytes: record.payload.len(),
            wall_ms: decoded.wall_ms,
            ops: decoded.summaries(),
        });
    }
    Ok(entries)
}
