//! Open segment files shared by readers, and the stable merge of sorted
//! point sources.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use runlog_segment::{Columns, SegmentReader, SeriesId};
use runlog_wal::Storage;

use crate::Result;
use crate::compaction_policy::Shape;
use crate::manifest::{SegmentEntry, segment_path};
use crate::provenance::Provenance;

/// An open segment. Readers hold it through an `Arc` (their snapshot); once
/// compaction replaces it, the file is deleted when the last holder lets go.
#[derive(Debug)]
pub(crate) struct SegmentHandle {
    pub entry: SegmentEntry,
    pub reader: SegmentReader,
    /// Which WAL records its points come from; `None` for a segment
    /// written before segments said so.
    pub provenance: Option<Provenance>,
    /// Where the file is, to delete it once retired.
    storage: Arc<dyn Storage>,
    obsolete: AtomicBool,
}

impl SegmentHandle {
    /// Opens the segment `entry` names in `dir`, kept in `storage`.
    pub(crate) fn open(
        storage: &Arc<dyn Storage>,
        dir: &Path,
        entry: SegmentEntry,
    ) -> Result<SegmentHandle> {
        let path = segment_path(dir, entry.file_no);
        let reader = SegmentReader::open_in(storage.as_ref(), &path)?;
        Ok(SegmentHandle {
            entry,
            provenance: Provenance::of(&reader, &path)?,
            reader,
            storage: Arc::clone(storage),
            obsolete: AtomicBool::new(false),
        })
    }

    /// What the compaction policy goes by: its level and id range (an
    /// empty segment counts as holding every id, so that it is merged
    /// away).
    pub(crate) fn shape(&self) -> Shape {
        let series = self.reader.series();
        let ids = match (series.first(), series.last()) {
            (Some(first), Some(last)) => first.id..=last.id,
            _ => 0..=SeriesId::MAX,
        };
        Shape {
            level: self.entry.level,
            ids,
        }
    }

    /// Marks the file for deletion once no snapshot uses it.
    pub(crate) fn retire(&self) {
        self.obsolete.store(true, Ordering::Release);
    }
}

impl Drop for SegmentHandle {
    fn drop(&mut self) {
        if self.obsolete.load(Ordering::Acquire) {
            // A file left behind is an orphan the next writer open deletes.
            let _ = self.storage.remove_file(self.reader.path());
        }
    }
}

/// Merges sources that are each sorted by step into one sorted run; on equal
/// steps, points of earlier sources (logged earlier) come first. Sources
/// that follow each other without overlap are simply concatenated.
pub(crate) fn merge_sorted(sources: Vec<Columns>) -> Columns {
    let mut merged = Columns::default();
    for next in &sources {
        append_sorted(&mut merged, next);
    }
    merged
}

/// Whether points starting at step `first` can go after `out` as they are.
pub(crate) fn follows(out: &Columns, first: i64) -> bool {
    out.steps.last().is_none_or(|&last| last <= first)
}

/// Adds `newer`'s points (sorted, logged after `out`'s) to the sorted `out`.
pub(crate) fn append_sorted(out: &mut Columns, newer: &Columns) {
    match newer.steps.first() {
        None => {}
        Some(&first) if follows(out, first) => out.extend_from(newer, 0..newer.len()),
        Some(_) => *out = merge_two(out, newer),
    }
}

/// Stable merge of two sorted runs, `older` first on ties.
fn merge_two(older: &Columns, newer: &Columns) -> Columns {
    let mut out = Columns::default();
    out.reserve(older.len() + newer.len());
    let (mut i, mut j) = (0, 0);
    while i < older.len() || j < newer.len() {
        let take_older = j == newer.len() || (i < older.len() && older.steps[i] <= newer.steps[j]);
        let (source, index) = if take_older {
            (older, &mut i)
        } else {
            (newer, &mut j)
        };
        out.push(
            source.steps[*index],
            source.timestamps[*index],
            source.values[*index],
        );
        *index += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns(points: &[(i64, f64)]) -> Columns {
        let mut c = Columns::default();
        for &(s, v) in points {
            c.push(s, 0, v);
        }
        c
    }

    #[test]
    fn merge_is_stable_with_earlier_sources_first_on_ties() {
        let merged = merge_sorted(vec![
            columns(&[(1, 1.0), (3, 1.0), (5, 1.0)]),
            columns(&[(3, 2.0), (4, 2.0)]),
            columns(&[]),
            columns(&[(5, 3.0), (9, 3.0)]),
        ]);
        assert_eq!(merged.steps, [1, 3, 3, 4, 5, 5, 9]);
        assert_eq!(merged.values, [1.0, 1.0, 2.0, 2.0, 1.0, 3.0, 3.0]);
    }
}
