//! The memtable: recent points per series, in memory, sorted by step with
//! ties in log order.

use runlog_segment::{Columns, SeriesId};

use crate::id_map::IdMap;

/// Bytes a point slot costs in a memtable (step, timestamp, value); memory
/// is counted by capacity, so growth headroom counts too.
const POINT_BYTES: usize = 24;
/// Bookkeeping bytes charged per series.
const SERIES_BYTES: usize = 128;

/// Points not yet in a segment.
#[derive(Debug, Default)]
pub(crate) struct Memtable {
    series: IdMap<Columns>,
    bytes: usize,
    /// The LSN of the last WAL record whose points are in this memtable.
    pub(crate) last_lsn: u64,
}

impl Memtable {
    /// An empty memtable that follows WAL record `last_lsn`.
    pub(crate) fn after(last_lsn: u64) -> Memtable {
        Memtable {
            last_lsn,
            ..Memtable::default()
        }
    }

    /// Adds the points of one op, in the order given: each after every
    /// point with a step at or below its own, so equal steps keep the order
    /// they were logged in.
    pub(crate) fn insert_all(
        &mut self,
        series: SeriesId,
        steps: &[i64],
        timestamps: &[i64],
        values: &[f64],
    ) {
        let columns = self.series.entry(series).or_insert_with(|| {
            self.bytes += SERIES_BYTES;
            Columns::default()
        });
        let capacity_before = columns.steps.capacity();
        let sorted_after = columns
            .steps
            .last()
            .is_none_or(|&last| steps.first().is_some_and(|&f| last <= f))
            && steps.windows(2).all(|w| w[0] <= w[1]);
        if sorted_after {
            columns.steps.extend_from_slice(steps);
            columns.timestamps.extend_from_slice(timestamps);
            columns.values.extend_from_slice(values);
        } else {
            for ((&step, &timestamp), &value) in steps.iter().zip(timestamps).zip(values) {
                let at = columns.steps.partition_point(|&s| s <= step);
                columns.steps.insert(at, step);
                columns.timestamps.insert(at, timestamp);
                columns.values.insert(at, value);
            }
        }
        self.bytes += POINT_BYTES * (columns.steps.capacity() - capacity_before);
    }

    /// Approximate memory held.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// The points of `series`, sorted.
    pub(crate) fn get(&self, series: SeriesId) -> Option<&Columns> {
        self.series.get(&series)
    }

    /// Every series, in ascending id order.
    pub(crate) fn sorted(&self) -> Vec<(SeriesId, &Columns)> {
        let mut all: Vec<_> = self.series.iter().map(|(id, c)| (*id, c)).collect();
        all.sort_unstable_by_key(|(id, _)| *id);
        all
    }
}
