//! Reading a long history in bounded memory: [`Db::history_chunks`] walks a
//! metric's step range in windows, each read on its own, so that a caller
//! printing or exporting 100M points never holds more than about one
//! window of them.

use std::ops::{Bound, RangeBounds};

use runlog_segment::{Columns, SeriesId};

use crate::{Db, Result, RunId};

/// The points one window aims at when the caller gives no size.
pub const DEFAULT_CHUNK_POINTS: usize = 64 * 1024;

/// An iterator over a metric's history in step order, one window of steps
/// at a time (see [`Db::history_chunks`]).
#[derive(Debug)]
pub struct HistoryChunks<'db> {
    db: &'db Db,
    series: SeriesId,
    /// The first step not yet read; `None` once the range is exhausted.
    next: Option<i64>,
    /// The last step of the range.
    end: i64,
    /// The width of the next window, in steps.
    width: u64,
    /// The points a window aims at.
    target: usize,
}

impl Db {
    /// The points of a metric whose step lies in `steps`, in step order
    /// (ties in log order), as a sequence of [`Columns`] of about `target`
    /// points each (at least one step each, so a step logged more than
    /// `target` times comes whole).
    ///
    /// Each window is read from the database as it is when the iterator
    /// reaches it: windows cover disjoint step ranges, so no point is read
    /// twice, and memory stays bounded by a window whatever the series'
    /// length. Use [`Db::history`] for one consistent snapshot instead.
    pub fn history_chunks(
        &self,
        run: RunId,
        name: &str,
        steps: impl RangeBounds<i64>,
        target: usize,
    ) -> Result<HistoryChunks<'_>> {
        let series = self.series_of(run, name)?;
        let stats = self.stats(run, name)?;
        let start = match steps.start_bound() {
            Bound::Included(&s) => Some(s),
            Bound::Excluded(&s) => s.checked_add(1),
            Bound::Unbounded => Some(i64::MIN),
        };
        let end = match steps.end_bound() {
            Bound::Included(&e) => Some(e),
            Bound::Excluded(&e) => e.checked_sub(1),
            Bound::Unbounded => Some(i64::MAX),
        };
        let (next, end) = match (start, end) {
            (Some(s), Some(e)) => {
                let (s, e) = (s.max(stats.first_step), e.min(stats.last_step));
                (if s <= e { Some(s) } else { None }, e)
            }
            _ => (None, 0),
        };
        let target = target.max(1);
        // Start from the density of the whole series; each window then
        // adapts to what it found.
        let span = (i128::from(stats.last_step) - i128::from(stats.first_step) + 1) as f64;
        let per_step = stats.count as f64 / span;
        let width = ((target as f64 / per_step).clamp(1.0, u64::MAX as f64)) as u64;
        Ok(HistoryChunks {
            db: self,
            series,
            next,
            end,
            width,
            target,
        })
    }
}

impl HistoryChunks<'_> {
    /// The last step of the window that starts at `from`.
    fn window_end(&self, from: i64) -> i64 {
        let end = i128::from(from) + i128::from(self.width) - 1;
        end.min(i128::from(self.end)) as i64
    }
}

impl Iterator for HistoryChunks<'_> {
    type Item = Result<Columns>;

    fn next(&mut self) -> Option<Result<Columns>> {
        loop {
            let from = self.next?;
            let to = self.window_end(from);
            let mut points = Columns::default();
            if let Err(e) = self
                .db
                .series_history_into(self.series, from..=to, &mut points)
            {
                self.next = None;
                return Some(Err(e));
            }
            // A window far fuller than asked is read again, narrower; one
            // step wide is as narrow as a window gets.
            if points.len() > 4 * self.target && from < to {
                self.width = (self.width / 4).max(1);
                continue;
            }
            self.next = if to >= self.end { None } else { Some(to + 1) };
            // Steer the next window towards the target (at most doubling
            // across gaps, so that a sparse stretch is crossed quickly).
            self.width = if points.is_empty() {
                self.width.saturating_mul(2)
            } else {
                let scaled = self.width as f64 * self.target as f64 / points.len() as f64;
                (scaled.clamp(1.0, self.width as f64 * 2.0)) as u64
            };
            if !points.is_empty() {
                return Some(Ok(points));
            }
        }
    }
}
