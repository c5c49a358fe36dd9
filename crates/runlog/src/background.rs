//! Flushes and compactions, on their own threads.
//!
//! Flush: the oldest frozen memtable becomes a level-0 segment; the manifest
//! then lists it with `flushed_lsn` = the memtable's last WAL record, and
//! the WAL is truncated before that record.
//!
//! Compaction policy (tiered; `compaction_policy` chooses): segments stay
//! in the order their points were logged, oldest first, with levels
//! non-increasing. A level's neighbours whose series id ranges are
//! pairwise disjoint form a sorted run; whenever [`crate::COMPACTION_FANIN`]
//! neighbouring sorted runs have the same level `L`, anywhere in the list,
//! their segments are merged into one segment of level `L + 1` in their
//! place. A series so lives in at most `FANIN - 1` segments per level once
//! the compactor has caught up, in `O(FANIN · log_FANIN F)` segments after
//! `F` flushes, and a point is rewritten at most once per level: write
//! amplification at most `log_FANIN F` (4 for 256 flushes), and none for
//! segments that share no ids (the flushes of many short runs). Merging
//! only neighbours keeps "older segment = logged earlier", which the
//! ordering contract relies on for equal steps.

use std::any::Any;
use std::collections::BTreeSet;
use std::ops::Range;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use runlog_segment::{ChunkMeta, Columns, EncodedChunk, SegmentWriter, SeriesId};
use runlog_wal::Lsn;

use crate::blobs::BlobHash;
use crate::catalog_file::{self, CatalogRef, RunsFrame};
use crate::catalog_rewrite;
use crate::compaction_policy::{Shape, next_merge};
use crate::db::{Shared, manifest_of};
use crate::manifest::{SegmentEntry, segment_path};
use crate::memtable::Memtable;
use crate::provenance::Provenance;
use crate::segments::{SegmentHandle, merge_sorted};
use crate::streams::seal_streams;
use crate::{Error, Result};

/// One unit of background work; returns whether it found any to do.
type Job = fn(&Shared) -> Result<bool>;

/// Starts the flusher and compactor threads.
pub(crate) fn start(shared: &Arc<Shared>) -> Result<Vec<JoinHandle<()>>> {
    let jobs: [(&str, Job); 2] = [
        ("runlog-flusher", flush_or_seal),
        ("runlog-compactor", compact_or_rewrite),
    ];
    jobs.into_iter()
        .map(|(name, job)| {
            let for_thread = Arc::clone(shared);
            thread::Builder::new()
                .name(name.into())
                .spawn(move || run(&for_thread, job))
                .map_err(|e| Error::io("start a background thread for", &shared.dir, e))
        })
        .collect()
}

/// Runs `job` until shutdown; a failure, or a panic, poisons the database,
/// so that writers waiting for the thread get an error instead of waiting
/// for ever.
fn run(shared: &Shared, job: Job) {
    loop {
        if shared.signals.lock().shutdown || shared.poison.get().is_some() {
            return;
        }
        let outcome = match std::panic::catch_unwind(AssertUnwindSafe(|| job(shared))) {
            Ok(result) => result.map_err(|error| error.to_string()),
            Err(panic) => Err(format!(
                "{} panicked: {}",
                thread::current().name().unwrap_or("a background thread"),
                panic_message(&*panic)
            )),
        };
        match outcome {
            Ok(true) => continue,
            Ok(false) => {
                let mut signals = shared.signals.lock();
                if !signals.shutdown {
                    shared
                        .wake
                        .wait_for(&mut signals, Duration::from_millis(100));
                }
            }
            Err(cause) => {
                shared.poison.get_or_init(|| cause);
                shared.notify(true);
                return;
            }
        }
    }
}

/// What a panic said, if it said it with a string.
fn panic_message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into())
}

/// The flusher's work: flush the oldest frozen memtable or, if none waits,
/// seal a chunk of the active one; returns whether there was any.
fn flush_or_seal(shared: &Shared) -> Result<bool> {
    Ok(flush_one(shared)? || seal_one(shared)? || seal_streams(shared, false)?)
}

/// Encodes the first chunk's worth of open points of a series in the
/// active memtable, if one has them, and seals it there; returns whether it
/// found one. The writer goes on while the chunk is encoded: the points are
/// copied out under the lock, and the chunk is dropped if the memtable was
/// replaced or the series' points moved meanwhile.
pub(crate) fn seal_one(shared: &Shared) -> Result<bool> {
    let Some(job) = shared.state.write().active.take_seal_job() else {
        return Ok(false);
    };
    let points = &job.points;
    let chunk = EncodedChunk::encode(
        &points.steps,
        &points.timestamps,
        &points.values,
        shared.options.segment.pco_level,
    )
    .map_err(|problem| {
        Error::Segment(runlog_segment::Error::InvalidPoints {
            series: job.series(),
            problem,
        })
    })?;
    shared.state.write().active.seal(job, chunk);
    Ok(true)
}

/// Flushes the oldest frozen memtable, if any; returns whether it did.
pub(crate) fn flush_one(shared: &Shared) -> Result<bool> {
    let (frozen, file_no) = {
        let mut state = shared.state.write();
        let Some(frozen) = state.frozen.first().cloned() else {
            return Ok(false);
        };
        let file_no = state.next_segment;
        state.next_segment += 1;
        (frozen, file_no)
    };
    let handle = write_memtable(shared, &frozen, file_no)?;
    // The catalog then holds sealed chunks, not tails.
    seal_streams(shared, true)?;
    {
        let mut catalog = shared.manifest.lock();
        *catalog = append_catalog_changes(shared, &catalog)?;
        let segments: Vec<Arc<SegmentHandle>> = {
            let state = shared.state.read();
            let mut segments = state.segments.as_ref().clone();
            segments.extend(handle.clone());
            manifest_of(&state, &segments, frozen.last_lsn, *catalog)
                .write(shared.storage(), &shared.dir)?;
            segments
        };
        // Before the flush is seen done, so that `Db::flush` returns with
        // the blobs it released gone.
        free_released(shared, frozen.last_lsn)?;
        let mut state = shared.state.write();
        state.segments = Arc::new(segments);
        state.flushed_lsn = frozen.last_lsn;
        state.frozen.retain(|m| !Arc::ptr_eq(m, &frozen));
    }
    // Writers waiting for room and `Db::flush` need not wait for the WAL's
    // old files to be deleted.
    shared.notify(true);
    if let Some(wal) = &shared.wal {
        wal.truncate_before(Lsn(frozen.last_lsn + 1))?;
    }
    Ok(true)
}

/// Appends the runs changed since the last flush to the catalog file at
/// `at`; if that fails, they stay noted as changed.
fn append_catalog_changes(shared: &Shared, at: &CatalogRef) -> Result<CatalogRef> {
    let (runs, experiments) = shared.state.write().catalog.changes.take();
    if runs.is_empty() && !experiments {
        return Ok(*at);
    }
    let frames = catalog_file::encode_frames(&shared.state.read().catalog, &runs, experiments);
    match catalog_file::append(shared.storage(), &shared.dir, at, &frames) {
        Ok(appended) => {
            let catalog = &mut shared.state.write().catalog;
            catalog.file_garbage += RunsFrame::replaced_by(&frames);
            for run in &runs {
                if let Some(entry) = catalog.runs.get_mut(run) {
                    entry.recorded = true;
                }
            }
            Ok(appended)
        }
        Err(error) => {
            let changes = &mut shared.state.write().catalog.changes;
            changes.runs.extend(runs);
            changes.experiments |= experiments;
            Err(error)
        }
    }
}

/// Deletes the blobs released by WAL records up to `covered_lsn` (which a
/// durable manifest now reflects) that nothing has referenced since.
fn free_released(shared: &Shared, covered_lsn: u64) -> Result<()> {
    let due: Vec<BlobHash> = {
        let mut state = shared.state.write();
        let (due, later) = std::mem::take(&mut state.released)
            .into_iter()
            .partition(|(lsn, _)| *lsn <= covered_lsn);
        state.released = later;
        due.into_iter().map(|(_, hash)| hash).collect()
    };
    for hash in due {
        shared.blobs.remove_if(&hash, || {
            !shared.state.read().catalog.blob_refs.contains_key(&hash)
        })?;
    }
    Ok(())
}

/// Writes a frozen memtable as segment `file_no` (none if it holds only
/// deleted runs' points).
fn write_memtable(
    shared: &Shared,
    frozen: &Memtable,
    file_no: u64,
) -> Result<Option<Arc<SegmentHandle>>> {
    let live: Vec<_> = {
        let state = shared.state.read();
        frozen
            .sorted()
            .into_iter()
            .filter(|(id, _)| is_live(&state.catalog, *id))
            .collect()
    };
    if live.is_empty() {
        return Ok(None);
    }
    let path = segment_path(&shared.dir, file_no);
    let mut writer = SegmentWriter::create_in(
        Arc::clone(&shared.options.storage),
        path,
        shared.options.segment,
    )?;
    let provenance = flush_provenance(shared, frozen);
    writer.set_metadata(provenance.encode())?;
    // Series without sealed chunks go to the writer together, to be
    // encoded on every core; a series' sealed chunks are written as they
    // are, in between.
    let mut open: Vec<(SeriesId, &Columns)> = Vec::new();
    for (id, points) in live {
        let (sealed, points) = points.parts();
        if !sealed.is_empty() {
            writer.append_all(&open)?;
            open.clear();
            for chunk in sealed {
                writer.append_encoded(id, chunk)?;
            }
        }
        open.push((id, points));
    }
    writer.append_all(&open)?;
    writer.finish()?;
    let entry = SegmentEntry { file_no, level: 0 };
    Ok(Some(Arc::new(SegmentHandle::open(
        &shared.options.storage,
        &shared.dir,
        entry,
    )?)))
}

/// What a flush of `frozen` writes in its segment: level 0, from right
/// after the newest segment's records (those in between left no live
/// points) to the memtable's last record.
fn flush_provenance(shared: &Shared, frozen: &Memtable) -> Provenance {
    let state = shared.state.read();
    let first = match state.segments.last() {
        None => 1,
        Some(newest) => match &newest.provenance {
            Some(p) => p.lsns.end() + 1,
            // A segment of an older build: the memtables before this one
            // were flushed up to `flushed_lsn`.
            None => state.flushed_lsn + 1,
        },
    };
    Provenance {
        level: 0,
        lsns: first..=frozen.last_lsn,
    }
}

/// What a merge of `segments[inputs]` into one of `level` writes in its
/// segment: the inputs' records, from the first's first to the last's
/// last. Inputs of older builds carry none; the oldest segment then starts
/// at record 1, and the newest ends at `flushed_lsn` (later flushes start
/// after it); any other leaves the output without provenance.
fn merged_provenance(
    segments: &[Arc<SegmentHandle>],
    inputs: Range<usize>,
    flushed_lsn: u64,
    level: u32,
) -> Option<Provenance> {
    let first = match &segments[inputs.start].provenance {
        Some(p) => *p.lsns.start(),
        None if inputs.start == 0 => 1,
        None => return None,
    };
    let last = match &segments[inputs.end - 1].provenance {
        Some(p) => *p.lsns.end(),
        None if inputs.end == segments.len() => flushed_lsn,
        None => return None,
    };
    Some(Provenance {
        level,
        lsns: first..=last,
    })
}

fn is_live(catalog: &crate::catalog::Catalog, series: SeriesId) -> bool {
    catalog
        .series
        .get(&series)
        .is_some_and(|s| catalog.run(s.run).is_some())
}

/// Does the merge the policy asks for next, if any; returns whether it did.
/// The compactor's work: a merge of segments if one is due, or else a
/// rewrite of the catalog file if that is.
fn compact_or_rewrite(shared: &Shared) -> Result<bool> {
    Ok(compact_step(shared)? || catalog_rewrite::rewrite_if_due(shared)?)
}

pub(crate) fn compact_step(shared: &Shared) -> Result<bool> {
    let _one_at_a_time = shared.compaction.lock();
    let (inputs, level, provenance) = {
        let state = shared.state.read();
        let segments = &state.segments;
        let shapes: Vec<Shape> = segments.iter().map(|s| s.shape()).collect();
        let Some(merge) = next_merge(&shapes) else {
            return Ok(false);
        };
        let provenance = merged_provenance(
            segments,
            merge.inputs.clone(),
            state.flushed_lsn,
            merge.level,
        );
        (segments[merge.inputs].to_vec(), merge.level, provenance)
    };
    merge_segments(shared, &inputs, level, provenance, Interrupt::AtShutdown)
}

/// Whether a merge stops, leaving the segments as they were, when the
/// database closes: background merges do, requested ones do not.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Interrupt {
    AtShutdown,
    Never,
}

/// Merges every segment into one (used by `Db::compact`), unless that one
/// is already the only one, holds no deleted run's points and has its
/// provenance.
pub(crate) fn compact_all(shared: &Shared) -> Result<()> {
    let _one_at_a_time = shared.compaction.lock();
    let (inputs, flushed_lsn) = {
        let state = shared.state.read();
        (state.segments.as_ref().clone(), state.flushed_lsn)
    };
    let holds_deleted = inputs.iter().any(|s| {
        let state = shared.state.read();
        s.reader.series_ids().any(|id| !is_live(&state.catalog, id))
    });
    // A segment of an older build is rewritten too, to gain provenance.
    let lacks_provenance = inputs.iter().any(|s| s.provenance.is_none());
    if inputs.len() > 1 || holds_deleted || lacks_provenance {
        let level = inputs.iter().map(|s| s.entry.level).max().unwrap_or(0) + 1;
        let provenance = merged_provenance(&inputs, 0..inputs.len(), flushed_lsn, level);
        merge_segments(shared, &inputs, level, provenance, Interrupt::Never)?;
    }
    Ok(())
}

/// Replaces `inputs` (consecutive in the segment list) by one merged
/// segment of `level`, durably; the inputs' files go once no snapshot uses
/// them. Returns whether it did (not if interrupted by shutdown).
fn merge_segments(
    shared: &Shared,
    inputs: &[Arc<SegmentHandle>],
    level: u32,
    provenance: Option<Provenance>,
    interrupt: Interrupt,
) -> Result<bool> {
    let file_no = {
        let mut state = shared.state.write();
        state.next_segment += 1;
        state.next_segment - 1
    };
    let ids: BTreeSet<SeriesId> = inputs.iter().flat_map(|s| s.reader.series_ids()).collect();
    let path = segment_path(&shared.dir, file_no);
    let mut writer = SegmentWriter::create_in(
        Arc::clone(&shared.options.storage),
        path,
        shared.options.segment,
    )?;
    if let Some(provenance) = &provenance {
        writer.set_metadata(provenance.encode())?;
    }
    let mut written = 0usize;
    let mut chunk = Columns::default();
    for id in ids {
        if interrupt == Interrupt::AtShutdown && shared.signals.lock().shutdown {
            // Dropping the writer deletes its temporary file.
            return Ok(false);
        }
        if !is_live(&shared.state.read().catalog, id) {
            continue;
        }
        let holding: Vec<_> = inputs
            .iter()
            .filter_map(|input| input.reader.stats(id).map(|stats| (input, stats)))
            .collect();
        let in_order = holding
            .windows(2)
            .all(|pair| pair[0].1.last_step <= pair[1].1.first_step);
        if in_order {
            // The usual case: chunk by chunk, one chunk in memory at most.
            let chunks: Vec<_> = holding
                .iter()
                .flat_map(|(input, _)| input.reader.chunks(id).iter().map(move |m| (input, m)))
                .collect();
            for (index, &(input, meta)) in chunks.iter().enumerate() {
                if copies_as_is(&writer, id, meta, index + 1 == chunks.len(), shared) {
                    let bytes = input.reader.checked_chunk_bytes(meta)?;
                    writer.copy_chunk(id, meta, bytes)?;
                } else {
                    chunk.clear();
                    input.reader.read_chunk(meta, &mut chunk)?;
                    writer.append(id, &chunk.steps, &chunk.timestamps, &chunk.values)?;
                }
            }
        } else {
            let mut sources = Vec::with_capacity(holding.len());
            for (input, _) in &holding {
                sources.extend(input.reader.read_series(id)?);
            }
            let merged = merge_sorted(sources);
            writer.append(id, &merged.steps, &merged.timestamps, &merged.values)?;
        }
        written += 1;
    }
    let output = if written == 0 {
        drop(writer);
        None
    } else {
        writer.finish()?;
        Some(Arc::new(SegmentHandle::open(
            &shared.options.storage,
            &shared.dir,
            SegmentEntry { file_no, level },
        )?))
    };
    {
        let catalog = shared.manifest.lock();
        let segments = {
            let state = shared.state.read();
            let current = state.segments.as_ref();
            let start = current
                .iter()
                .position(|s| Arc::ptr_eq(s, &inputs[0]))
                .expect("only compaction removes segments, one at a time");
            let mut segments = current[..start].to_vec();
            segments.extend(output.clone());
            segments.extend_from_slice(&current[start + inputs.len()..]);
            manifest_of(&state, &segments, state.flushed_lsn, *catalog)
                .write(shared.storage(), &shared.dir)?;
            segments
        };
        shared.state.write().segments = Arc::new(segments);
    }
    for input in inputs {
        input.retire();
    }
    shared.notify(true);
    Ok(true)
}

/// Whether a merge copies `chunk` of series `id` into the output without
/// decoding it: when no points of the series wait in the writer, and the
/// chunk is at least half full or the series' last (re-encoding it could
/// not join it to a later one). Small chunks followed by more are decoded
/// and re-chunked, so merged segments hold full chunks.
fn copies_as_is(
    writer: &SegmentWriter,
    id: SeriesId,
    chunk: &ChunkMeta,
    last: bool,
    shared: &Shared,
) -> bool {
    let half_full = chunk.stats.count as usize >= shared.options.segment.chunk_points / 2;
    writer.pending_points(id) == 0 && (half_full || last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Db;

    fn panicking_job(_: &Shared) -> Result<bool> {
        panic!("an injected bug")
    }

    #[test]
    fn a_panicking_job_poisons_the_database_instead_of_stalling_writers() {
        let dir = tempfile::tempdir().expect("dir");
        let db = Db::builder(dir.path())
            .background_threads(false)
            .open()
            .expect("open");
        let run_id = db.create_run("exp", "run").expect("run");
        db.log(run_id, "loss", 1.0)
            .expect("a write before the panic");
        run(&db.shared, panicking_job);
        match db.log(run_id, "loss", 2.0) {
            Err(Error::Poisoned { cause }) => assert!(
                cause.contains("panicked: an injected bug"),
                "cause: {cause}"
            ),
            other => panic!("expected Poisoned, got {other:?}"),
        }
        assert_eq!(db.latest(run_id, "loss").expect("reads go on").value, 1.0);
    }
}
