//! Rewriting the catalog file as one base once most of it is records that
//! newer ones replaced (`CatalogRef::wants_rewrite`), on the compactor
//! thread. Flushes go on appending to the old file while the base is
//! written; the frames they appended meanwhile are copied after the new
//! base, so that a run record newer than the base's still wins.

use std::collections::VecDeque;

use crate::catalog_file::{self, CatalogRef};
use crate::db::{Shared, manifest_of};
use crate::{Error, Result, RunId};

/// Runs encoded under one read lock while the whole catalog is written.
const BASE_BATCH_RUNS: usize = 4096;

/// Writes the whole catalog as the base of new catalog file `file_no`, a
/// batch of runs at a time, each under its own short read lock, so that
/// writers go on meanwhile. A run changed meanwhile is in the catalog's
/// changes still, and the next flush appends it again.
pub(crate) fn write_base(shared: &Shared, file_no: u64) -> Result<CatalogRef> {
    let ids: Vec<RunId> = shared.state.read().catalog.runs.keys().copied().collect();
    let mut batches = ids.chunks(BASE_BATCH_RUNS);
    let mut frames = VecDeque::new();
    let mut first = true;
    catalog_file::create(shared.storage(), &shared.dir, file_no, || {
        loop {
            if let Some(frame) = frames.pop_front() {
                return Some(frame);
            }
            // The first frame carries the experiments, even with no runs.
            let batch = match batches.next() {
                Some(batch) => batch,
                None if first => &[],
                None => return None,
            };
            let state = shared.state.read();
            frames.extend(catalog_file::encode_frames(&state.catalog, batch, first));
            first = false;
        }
    })
}

/// Rewrites the catalog file if it is due; returns whether it did.
pub(crate) fn rewrite_if_due(shared: &Shared) -> Result<bool> {
    let _one_at_a_time = shared.compaction.lock();
    let (start, garbage_before) = {
        let at = shared.manifest.lock();
        (*at, shared.state.read().catalog.file_garbage)
    };
    if !start.wants_rewrite(garbage_before) {
        return Ok(false);
    }
    let base = write_base(shared, start.file_no + 1)?;
    let mut current = shared.manifest.lock();
    let old_path = catalog_file::catalog_path(&shared.dir, start.file_no);
    let appended = read_range(shared, &old_path, start.len, current.len)?;
    let new = if appended.is_empty() {
        base
    } else {
        catalog_file::append_bytes(shared.storage(), &shared.dir, &base, &[&appended])?
    };
    {
        let state = shared.state.read();
        manifest_of(&state, &state.segments, state.flushed_lsn, new)
            .write(shared.storage(), &shared.dir)?;
    }
    *current = new;
    // What the flushes appended meanwhile replaced is in the new file too.
    shared.state.write().catalog.file_garbage -= garbage_before;
    match shared.storage().remove_file(&old_path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(Error::io("delete replaced", &old_path, e))
        }
        _ => Ok(true),
    }
}

/// Bytes `from..to` of the file at `path`.
fn read_range(shared: &Shared, path: &std::path::Path, from: u64, to: u64) -> Result<Vec<u8>> {
    let mut bytes = vec![0u8; (to - from) as usize];
    let file = shared
        .storage()
        .open_read_at(path)
        .map_err(|e| Error::io("open", path, e))?;
    catalog_file::read_exact_at(file.as_ref(), path, &mut bytes, from, "a flush appended")?;
    Ok(bytes)
}
