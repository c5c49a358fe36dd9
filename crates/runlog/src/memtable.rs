//! The memtable: recent points per series, in memory, sorted by step with
//! ties in log order.
//!
//! A series' points are open columns until they fill a chunk; then the
//! flusher thread, between flushes, encodes that chunk ("seals" it) while
//! the run goes on writing. A sealed chunk takes about a tenth of the
//! memory, and flushing the memtable later only has the open points left
//! to encode. Sealed chunks are exactly the chunks a flush would cut, so
//! the segment is the same either way.

use std::ops::RangeBounds;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use runlog_segment::{Columns, EncodedChunk, SeriesId};

use crate::id_map::IdMap;

/// Bytes a point slot costs in open columns (step, timestamp, value);
/// memory is counted by capacity, so growth headroom counts too.
pub(crate) const POINT_BYTES: usize = 24;
/// Bookkeeping bytes charged per series.
const SERIES_BYTES: usize = 128;

/// Tells memtables apart, so that a seal prepared for one is never
/// installed in the one that replaced it.
static NEXT_MEMTABLE: AtomicU64 = AtomicU64::new(0);

/// The points of one series in a memtable.
#[derive(Debug, Default)]
pub(crate) struct SeriesPoints {
    /// Full chunks, encoded, in step order; each of their points comes
    /// before every open point.
    sealed: Vec<Arc<EncodedChunk>>,
    /// The points after the sealed ones.
    open: Columns,
    /// Bumped whenever points already here move (an insert before the
    /// end, unsealing), so that a seal prepared from a copy of the first
    /// open points can tell it is stale.
    moves: u64,
    /// Whether the series is in the memtable's `ready` list.
    queued: bool,
}

impl SeriesPoints {
    fn last_step(&self) -> Option<i64> {
        self.open
            .steps
            .last()
            .copied()
            .or_else(|| self.sealed.last().map(|c| c.stats().last_step))
    }

    fn sealed_bytes(&self) -> usize {
        self.sealed.iter().map(|c| c.encoded_len()).sum()
    }

    /// Appends the points whose step lies in `steps` to `out`, in order.
    pub(crate) fn read_into(
        &self,
        steps: &impl RangeBounds<i64>,
        out: &mut Columns,
    ) -> runlog_segment::Result<()> {
        for chunk in &self.sealed {
            chunk.read_steps_into(steps, out)?;
        }
        out.extend_from(&self.open, self.open.step_range(steps));
        Ok(())
    }

    /// What [`SeriesPoints::read_into`] reads for `steps`, to read after
    /// letting go of the memtable: sealed chunks shared, open points copied.
    pub(crate) fn snapshot(&self, steps: &impl RangeBounds<i64>) -> SeriesPoints {
        let mut open = Columns::default();
        open.extend_from(&self.open, self.open.step_range(steps));
        SeriesPoints {
            sealed: self.sealed.clone(),
            open,
            ..SeriesPoints::default()
        }
    }

    /// The sealed chunks, then the open points: what a flush writes.
    pub(crate) fn parts(&self) -> (&[Arc<EncodedChunk>], &Columns) {
        (&self.sealed, &self.open)
    }

    /// Decodes the sealed chunks back in front of the open points, so that
    /// a point can go in among them.
    fn unseal(&mut self) {
        let mut all = Columns::default();
        all.reserve(self.sealed.iter().map(|c| c.len()).sum::<usize>() + self.open.len());
        for chunk in self.sealed.drain(..) {
            chunk
                .decode_into(&mut all)
                .expect("a chunk encoded in memory decodes");
        }
        all.extend_from(&self.open, 0..self.open.len());
        self.open = all;
        self.moves += 1;
    }
}

/// A chunk's worth of open points copied out of a memtable to be sealed,
/// and what [`Memtable::seal`] needs to tell whether it still applies.
#[derive(Debug)]
pub(crate) struct SealJob {
    memtable: u64,
    series: SeriesId,
    moves: u64,
    /// The first open points of the series, to encode.
    pub points: Columns,
}

impl SealJob {
    /// The series the points are of.
    pub(crate) fn series(&self) -> SeriesId {
        self.series
    }
}

/// Points not yet in a segment.
#[derive(Debug)]
pub(crate) struct Memtable {
    id: u64,
    series: IdMap<SeriesPoints>,
    /// Memory held: open columns by capacity, sealed chunks by size.
    bytes: usize,
    /// Points held, sealed or open.
    points: usize,
    /// The LSN of the last WAL record whose points are in this memtable.
    pub(crate) last_lsn: u64,
    /// Points per sealed chunk; 0 seals nothing.
    seal_points: usize,
    /// Series whose open points fill a chunk, each once, for
    /// [`Memtable::take_seal_job`].
    ready: Vec<SeriesId>,
    /// Bytes of ops that only the catalog holds (text-stream appends,
    /// artifact puts and deletes) logged since this memtable began. They
    /// count toward a full memtable, so that a run that only writes logs
    /// still gets flushed and its WAL cut, and a flush of only such ops
    /// still writes a manifest (which frees released blobs).
    catalog_bytes: usize,
}

impl Memtable {
    /// An empty memtable that follows WAL record `last_lsn` and seals
    /// chunks of `seal_points` points (0: never).
    pub(crate) fn after(last_lsn: u64, seal_points: usize) -> Memtable {
        Memtable {
            id: NEXT_MEMTABLE.fetch_add(1, Ordering::Relaxed),
            series: IdMap::default(),
            bytes: 0,
            points: 0,
            last_lsn,
            seal_points,
            ready: Vec::new(),
            catalog_bytes: 0,
        }
    }

    /// An empty memtable to take over from this one.
    pub(crate) fn successor(&self) -> Memtable {
        Memtable::after(self.last_lsn, self.seal_points)
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
        let entry = self.series.entry(series).or_insert_with(|| {
            self.bytes += SERIES_BYTES;
            SeriesPoints::default()
        });
        let capacity_before = entry.open.steps.capacity();
        let appends = entry
            .last_step()
            .is_none_or(|last| steps.first().is_some_and(|&first| last <= first))
            && steps.windows(2).all(|w| w[0] <= w[1]);
        if appends {
            entry.open.steps.extend_from_slice(steps);
            entry.open.timestamps.extend_from_slice(timestamps);
            entry.open.values.extend_from_slice(values);
        } else {
            let sealed_last = entry.sealed.last().map(|c| c.stats().last_step);
            if sealed_last.is_some_and(|last| steps.iter().any(|&step| step < last)) {
                self.bytes -= entry.sealed_bytes();
                entry.unseal();
            }
            let open = &mut entry.open;
            for ((&step, &timestamp), &value) in steps.iter().zip(timestamps).zip(values) {
                let at = open.steps.partition_point(|&s| s <= step);
                open.steps.insert(at, step);
                open.timestamps.insert(at, timestamp);
                open.values.insert(at, value);
            }
            entry.moves += 1;
        }
        // Added before subtracting: unsealing may leave less capacity than
        // there was.
        self.bytes =
            self.bytes + POINT_BYTES * entry.open.steps.capacity() - POINT_BYTES * capacity_before;
        self.points += steps.len();
        queue_if_full(&mut self.ready, series, entry, self.seal_points);
    }

    /// Approximate memory held.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes + self.catalog_bytes
    }

    /// Counts `n` bytes of catalog-only ops (see `catalog_bytes`).
    pub(crate) fn count_catalog_bytes(&mut self, n: usize) {
        self.catalog_bytes += n;
    }

    /// Points held.
    pub(crate) fn points(&self) -> usize {
        self.points
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.series.is_empty() && self.catalog_bytes == 0
    }

    /// Chunks sealed so far (a walk over every series).
    pub(crate) fn sealed_chunks(&self) -> usize {
        self.series.values().map(|s| s.sealed.len()).sum()
    }

    /// How many series wait to have a chunk sealed.
    pub(crate) fn waiting_to_seal(&self) -> usize {
        self.ready.len()
    }

    /// The points of `series`.
    pub(crate) fn get(&self, series: SeriesId) -> Option<&SeriesPoints> {
        self.series.get(&series)
    }

    /// Every series, in ascending id order.
    pub(crate) fn sorted(&self) -> Vec<(SeriesId, &SeriesPoints)> {
        let mut all: Vec<_> = self.series.iter().map(|(id, s)| (*id, s)).collect();
        all.sort_unstable_by_key(|(id, _)| *id);
        all
    }

    /// The next series with a chunk's worth of open points, with a copy of
    /// them to encode outside the lock.
    pub(crate) fn take_seal_job(&mut self) -> Option<SealJob> {
        let n = self.seal_points;
        while let Some(series) = self.ready.pop() {
            let Some(entry) = self.series.get_mut(&series) else {
                continue;
            };
            entry.queued = false;
            if entry.open.len() < n {
                continue;
            }
            let mut points = Columns::default();
            points.extend_from(&entry.open, 0..n);
            return Some(SealJob {
                memtable: self.id,
                series,
                moves: entry.moves,
                points,
            });
        }
        None
    }

    /// Replaces the points of `job` by `chunk`, their encoding, unless the
    /// memtable was replaced or the series' points moved in between;
    /// returns whether it did.
    pub(crate) fn seal(&mut self, job: SealJob, chunk: EncodedChunk) -> bool {
        if job.memtable != self.id {
            return false;
        }
        let Some(entry) = self.series.get_mut(&job.series) else {
            return false;
        };
        let applies = entry.moves == job.moves;
        if applies {
            // Only appends happened since the copy: the copied points still
            // lead the open ones.
            let n = job.points.len();
            debug_assert!(entry.open.steps[..n] == job.points.steps[..]);
            entry.open.steps.drain(..n);
            entry.open.timestamps.drain(..n);
            entry.open.values.drain(..n);
            self.bytes += chunk.encoded_len();
            entry.sealed.push(Arc::new(chunk));
        }
        queue_if_full(&mut self.ready, job.series, entry, self.seal_points);
        applies
    }
}

/// Puts `series` on the `ready` list if its open points fill a chunk and it
/// is not there yet.
fn queue_if_full(
    ready: &mut Vec<SeriesId>,
    series: SeriesId,
    entry: &mut SeriesPoints,
    seal_points: usize,
) {
    if seal_points > 0 && !entry.queued && entry.open.len() >= seal_points {
        entry.queued = true;
        ready.push(series);
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// What the memtable must read back: points in log order, sorted by
    /// step with ties kept in that order.
    fn expected(logged: &[(i64, i64, f64)], low: i64, high: i64) -> Vec<(i64, i64, u64)> {
        let mut all: Vec<_> = logged
            .iter()
            .filter(|p| (low..=high).contains(&p.0))
            .map(|&(s, t, v)| (s, t, v.to_bits()))
            .collect();
        all.sort_by_key(|p| p.0);
        all
    }

    fn read(memtable: &Memtable, low: i64, high: i64) -> Vec<(i64, i64, u64)> {
        let mut out = Columns::default();
        if let Some(points) = memtable.get(7) {
            points.read_into(&(low..=high), &mut out).unwrap();
            let mut snapshot = Columns::default();
            points
                .snapshot(&(low..=high))
                .read_into(&(low..=high), &mut snapshot)
                .unwrap();
            assert_eq!(snapshot, out, "a snapshot reads what the memtable reads");
        }
        (0..out.len())
            .map(|i| (out.steps[i], out.timestamps[i], out.values[i].to_bits()))
            .collect()
    }

    #[derive(Clone, Debug)]
    enum Step {
        /// Points of one op; steps from a base that mostly moves forward.
        Insert(Vec<(i64, f64)>),
        /// Take a seal job, insert, then try to seal: the insert may make
        /// the job stale.
        SealAround(Vec<(i64, f64)>),
        Seal,
    }

    fn step() -> impl Strategy<Value = Step> {
        let points = prop::collection::vec((-5i64..40, any::<f32>().prop_map(f64::from)), 0..12);
        prop_oneof![
            4 => points.clone().prop_map(Step::Insert),
            2 => points.prop_map(Step::SealAround),
            2 => Just(Step::Seal),
        ]
    }

    fn insert(
        memtable: &mut Memtable,
        logged: &mut Vec<(i64, i64, f64)>,
        points: &[(i64, f64)],
        base: i64,
    ) {
        let steps: Vec<i64> = points.iter().map(|p| p.0 + base).collect();
        let timestamps: Vec<i64> = (0..points.len() as i64)
            .map(|i| logged.len() as i64 + i)
            .collect();
        let values: Vec<f64> = points.iter().map(|p| p.1).collect();
        memtable.insert_all(7, &steps, &timestamps, &values);
        logged.extend(
            steps
                .iter()
                .zip(&timestamps)
                .zip(&values)
                .map(|((&s, &t), &v)| (s, t, v)),
        );
    }

    fn encode(job: &SealJob) -> EncodedChunk {
        let p = &job.points;
        EncodedChunk::encode(&p.steps, &p.timestamps, &p.values, 4).unwrap()
    }

    proptest! {
        #[test]
        fn sealing_and_unsealing_never_change_what_is_read(
            steps in prop::collection::vec(step(), 1..40),
            seal_points in 1usize..6,
            range in (-10i64..200, 0i64..200),
        ) {
            let mut memtable = Memtable::after(0, seal_points);
            let mut logged = Vec::new();
            for (i, step) in steps.iter().enumerate() {
                let base = 4 * i as i64;
                match step {
                    Step::Insert(points) => insert(&mut memtable, &mut logged, points, base),
                    Step::SealAround(points) => {
                        let job = memtable.take_seal_job();
                        insert(&mut memtable, &mut logged, points, base);
                        if let Some(job) = job {
                            let chunk = encode(&job);
                            memtable.seal(job, chunk);
                        }
                    }
                    Step::Seal => {
                        if let Some(job) = memtable.take_seal_job() {
                            let chunk = encode(&job);
                            prop_assert!(memtable.seal(job, chunk), "nothing moved, so the seal applies");
                        }
                    }
                }
                prop_assert_eq!(read(&memtable, i64::MIN, i64::MAX), expected(&logged, i64::MIN, i64::MAX));
                prop_assert_eq!(memtable.points(), logged.len());
            }
            let (low, len) = range;
            prop_assert_eq!(read(&memtable, low, low + len), expected(&logged, low, low + len));
        }
    }

    #[test]
    fn a_seal_for_a_replaced_memtable_or_moved_points_is_dropped() {
        let mut memtable = Memtable::after(0, 2);
        memtable.insert_all(7, &[1, 2, 3], &[0, 0, 0], &[1.0, 2.0, 3.0]);
        assert_eq!(memtable.waiting_to_seal(), 1);
        let job = memtable.take_seal_job().unwrap();
        let chunk = encode(&job);
        let mut next = memtable.successor();
        next.insert_all(7, &[1, 2, 3], &[0, 0, 0], &[1.0, 2.0, 3.0]);
        assert!(!next.seal(job, chunk), "another memtable's job");

        // The next write queues the series again.
        memtable.insert_all(7, &[4], &[0], &[4.0]);
        let job = memtable.take_seal_job().unwrap();
        let chunk = encode(&job);
        memtable.insert_all(7, &[0], &[0], &[0.5]);
        assert!(!memtable.seal(job, chunk), "points moved");
        assert_eq!(read(&memtable, 0, 9).len(), 5);
        assert_eq!(memtable.waiting_to_seal(), 1, "queued again");

        let bytes_open = memtable.bytes();
        let job = memtable.take_seal_job().unwrap();
        let chunk = encode(&job);
        let chunk_len = chunk.encoded_len();
        assert!(memtable.seal(job, chunk));
        assert_eq!(memtable.bytes(), bytes_open + chunk_len);
        assert_eq!(memtable.get(7).unwrap().parts().0.len(), 1);
        assert_eq!(
            read(&memtable, 0, 9)
                .iter()
                .map(|p| p.0)
                .collect::<Vec<_>>(),
            [0, 1, 2, 3, 4]
        );
    }
}
