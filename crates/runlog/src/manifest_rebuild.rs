//! Rebuilding a lost or damaged MANIFEST from the files it would name
//! (`repair` only, never implicitly): the segments say which WAL records
//! their points come from and their level (`provenance`), and the catalog
//! file holds the catalog.
//!
//! - Segments: every segment whose records no other one's range holds is
//!   live. Of segments that start at the same record, the one reaching
//!   furthest (a merge's output) wins; those whose range it covers (the
//!   merge's inputs, which it holds every live point of) are left for the
//!   next writer open to delete as orphans. Records no segment covers are
//!   reported: a merge drops the points of deleted runs, and otherwise a
//!   segment file is missing. A segment that does not open is renamed
//!   `<name>.damaged`, one whose range overlaps the chosen ones'
//!   `<name>.unused`; both are kept, and reported.
//! - The flushed LSN is where the chosen segments end, or just before the
//!   WAL's first record if the WAL starts after that (the records between
//!   are lost, and reported).
//! - The catalog: the lowest-numbered catalog file (a second one is a
//!   rewrite's, cut short or done), read up to its first damaged frame.
//!   Others are renamed `<name>.unused`; a damaged one is copied to
//!   `<name>.damaged` first. Series that segments hold and the catalog does
//!   not name (their names and runs are lost) become metrics of a run of
//!   their own, and are reported. The catalog hands out series ids above
//!   every segment's, so none is reused.
//! - A database holding segments of older builds (without provenance) is
//!   not rebuilt: which of them are live cannot be told.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use runlog_segment::{SegmentReader, SeriesId};
use runlog_wal::{FsStorage, Storage};

use crate::catalog::{Catalog, RunInfo, RunStatus, SeriesName};
use crate::catalog_file::{self, CatalogRef};
use crate::db::{catalog_files, segment_files};
use crate::manifest::{ManifestHead, SegmentEntry};
use crate::provenance::Provenance;
use crate::{Error, Result, RunId};

/// A segment file that opened, with its provenance.
struct Candidate {
    path: PathBuf,
    file_no: u64,
    provenance: Provenance,
    /// Its series, ascending.
    series: Vec<SeriesId>,
}

/// Rebuilds the MANIFEST of the database in `dir`, which must have none
/// (the caller moved a damaged one aside); returns what it did and found,
/// one sentence each. Writes nothing if it cannot rebuild, and says why.
pub(crate) fn rebuild(dir: &Path) -> Result<Vec<String>> {
    let storage = FsStorage;
    let mut notes = Vec::new();
    let mut candidates = Vec::new();
    let mut damaged = Vec::new();
    let mut legacy = Vec::new();
    let mut next_segment = 1;
    for path in segment_files(&storage, dir)? {
        let file_no = file_no_of(&path);
        next_segment = next_segment.max(file_no + 1);
        if path.extension().is_none_or(|e| e != "seg") {
            continue; // An unfinished `.seg.tmp`: the next writer open deletes it.
        }
        let opened = SegmentReader::open_in(&storage, &path)
            .map_err(Error::from)
            .and_then(|reader| Ok((Provenance::of(&reader, &path)?, reader)));
        match opened {
            Ok((Some(provenance), reader)) => {
                let series: Vec<SeriesId> = reader.series_ids().collect();
                candidates.push(Candidate {
                    path,
                    file_no,
                    provenance,
                    series,
                });
            }
            Ok((None, _)) => legacy.push(path),
            Err(error) => damaged.push((path, error)),
        }
    }
    if let Some(first) = legacy.first() {
        notes.push(format!(
            "the MANIFEST cannot be rebuilt: {} segment files, {} among them, were written by a build before segments recorded which WAL records they hold, so which of them are live cannot be told; nothing was changed",
            legacy.len(),
            first.display()
        ));
        return Ok(notes);
    }
    for (path, error) in &damaged {
        let aside = set_aside(path, "damaged")?;
        notes.push(format!(
            "segment {} does not open ({error}): renamed {}, and its points are not in the database",
            path.display(),
            aside.display()
        ));
    }
    let chosen = choose_segments(candidates, &mut notes)?;
    let covered = chosen.last().map_or(0, |c| *c.provenance.lsns.end());
    let flushed_lsn = after_wal_gap(dir, covered, &mut notes)?;
    let (mut catalog, catalog_at) = recover_catalog(dir, &mut notes)?;
    let unnamed: Vec<SeriesId> = chosen
        .iter()
        .flat_map(|c| c.series.iter().copied())
        .filter(|id| !catalog.series.contains_key(id))
        .collect();
    let recovered = adopt_unnamed(&mut catalog, &unnamed, &mut notes);
    let above_segments = chosen
        .iter()
        .filter_map(|c| c.series.last().copied())
        .max()
        .map_or(0, |id| id + 1);
    catalog.next_series = catalog.next_series.max(above_segments);
    // A frame with the counters, so that ids are never handed out twice,
    // and the run holding unnamed series, if any.
    let frames = catalog_file::encode_frames(
        &catalog,
        &recovered.into_iter().collect::<Vec<_>>(),
        catalog_at.is_none() || recovered.is_some(),
    );
    let catalog_ref = match catalog_at {
        Some(at) => catalog_file::append(&storage, dir, &at, &frames)?,
        None => {
            let mut frames = frames.into_iter();
            catalog_file::create(&storage, dir, 1, || frames.next())?
        }
    };
    ManifestHead {
        flushed_lsn,
        next_segment,
        segments: chosen
            .iter()
            .map(|c| SegmentEntry {
                file_no: c.file_no,
                level: c.provenance.level,
            })
            .collect(),
        catalog: catalog_ref,
    }
    .write(&storage, dir)?;
    notes.push(format!(
        "rebuilt the MANIFEST: {} live segments covering WAL records 1 to {covered}, {} runs in the catalog, replay from WAL record {}",
        chosen.len(),
        catalog.runs.len(),
        flushed_lsn + 1
    ));
    Ok(notes)
}

/// Gives the series that segments hold and the catalog does not name a
/// run of their own, `runlog-repair/unnamed-series-<ms>`, as metrics
/// `series-<id>`: so they are seen, and no merge drops them as a deleted
/// run's. Returns that run, if any.
fn adopt_unnamed(
    catalog: &mut Catalog,
    unnamed: &[SeriesId],
    notes: &mut Vec<String>,
) -> Option<RunId> {
    let first = *unnamed.first()?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let run = RunId(catalog.next_run);
    let (experiment, name) = ("runlog-repair".to_string(), format!("unnamed-series-{now}"));
    notes.push(format!(
        "{} series that segments hold are not in the catalog (series {first} among them): their names and runs are lost; their points are kept as metrics series-<id> of run {experiment}/{name}",
        unnamed.len()
    ));
    catalog.create_run(RunInfo {
        id: run,
        experiment,
        name,
        status: RunStatus::Completed,
        start_ms: now,
        end_ms: Some(now),
        last_write_ms: now,
        params: BTreeMap::new(),
        tags: BTreeMap::new(),
    });
    for &id in unnamed {
        catalog.define_series(id, run, SeriesName::Metric(format!("series-{id}").into()));
    }
    Some(run)
}

/// The number in a segment or catalog file's name (`<16 digits>.<ext>`).
fn file_no_of(path: &Path) -> u64 {
    path.file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.get(..16))
        .and_then(|digits| digits.parse().ok())
        .unwrap_or(0)
}

/// The live segments among `candidates`, oldest first (see the module
/// docs); sets the others aside or leaves them as the docs say.
fn choose_segments(
    mut candidates: Vec<Candidate>,
    notes: &mut Vec<String>,
) -> Result<Vec<Candidate>> {
    candidates.sort_by_key(|c| {
        (
            *c.provenance.lsns.start(),
            std::cmp::Reverse(*c.provenance.lsns.end()),
        )
    });
    let mut chosen = Vec::new();
    let mut covered_by_merges = 0;
    let mut next = 1u64;
    for candidate in candidates {
        let (first, last) = (
            *candidate.provenance.lsns.start(),
            *candidate.provenance.lsns.end(),
        );
        if first >= next {
            if first > next {
                notes.push(format!(
                    "no segment holds points of WAL records {next} to {}: a merge drops the points of deleted runs; if none was deleted there, a segment file is missing",
                    first - 1
                ));
            }
            next = last + 1;
            chosen.push(candidate);
        } else if last < next {
            covered_by_merges += 1;
        } else {
            let aside = set_aside(&candidate.path, "unused")?;
            notes.push(format!(
                "segment {} holds WAL records {first} to {last}, which overlap those of the segments before it: renamed {}, and its points are not in the database",
                candidate.path.display(),
                aside.display()
            ));
        }
    }
    if covered_by_merges > 0 {
        notes.push(format!(
            "{covered_by_merges} segment files hold records that a merged segment holds too: the next writer open deletes them"
        ));
    }
    Ok(chosen)
}

/// The flushed LSN for segments covering records up to `covered`: the WAL
/// must continue right after it, so a WAL that starts later moves it on,
/// and the records in between are lost.
fn after_wal_gap(dir: &Path, covered: u64, notes: &mut Vec<String>) -> Result<u64> {
    let files = runlog_wal::log_files(&FsStorage, &dir.join("wal"))?;
    match files.first() {
        Some((first, path)) if first.0 > covered + 1 => {
            notes.push(format!(
                "the WAL starts at record {} ({}), but the segments reach only record {covered}: the points of the records in between are lost",
                first.0,
                path.display()
            ));
            Ok(first.0 - 1)
        }
        _ => Ok(covered),
    }
}

/// The catalog, from the lowest-numbered catalog file, and where to append
/// to it (`None`: there is no catalog file).
fn recover_catalog(dir: &Path, notes: &mut Vec<String>) -> Result<(Catalog, Option<CatalogRef>)> {
    let mut files = catalog_files(&FsStorage, dir)?;
    files.sort();
    let Some(path) = files.first().cloned() else {
        notes.push(
            "there is no catalog file: every run's name, params and tags are lost, except those the WAL still holds".into(),
        );
        return Ok((Catalog::default(), None));
    };
    for other in &files[1..] {
        let aside = set_aside(other, "unused")?;
        notes.push(format!(
            "catalog file {} is a second one (a rewrite's, cut short or not yet cleaned up): read {} instead and renamed it {}",
            other.display(),
            path.display(),
            aside.display()
        ));
    }
    let file_no = file_no_of(&path);
    let intact = catalog_file::read_intact(&FsStorage, dir, file_no)?;
    if let Some(error) = &intact.stopped {
        let copy = aside_path(&path, "damaged");
        std::fs::copy(&path, &copy).map_err(|e| Error::io("copy", &copy, e))?;
        notes.push(format!(
            "the catalog file stops being readable ({error}): kept what comes before, and copied the whole file to {}",
            copy.display()
        ));
    }
    let at = CatalogRef {
        file_no,
        len: intact.len,
        base_len: intact.len,
    };
    Ok((intact.catalog, Some(at)))
}

/// `path` with `.<why>` added, or `.<why>.<n>` if that exists.
fn aside_path(path: &Path, why: &str) -> PathBuf {
    let mut n = 0;
    loop {
        let suffix = if n == 0 {
            why.to_string()
        } else {
            format!("{why}.{n}")
        };
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(format!(".{suffix}"));
        let candidate = path.with_file_name(name);
        if !candidate.exists() {
            return candidate;
        }
        n += 1;
    }
}

/// Renames `path` aside (see [`aside_path`]), durably; returns the new path.
fn set_aside(path: &Path, why: &str) -> Result<PathBuf> {
    let aside = aside_path(path, why);
    FsStorage
        .rename(path, &aside)
        .map_err(|e| Error::io("rename aside", path, e))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    FsStorage
        .sync_dir(dir)
        .map_err(|e| Error::io("fsync directory", dir, e))?;
    Ok(aside)
}
