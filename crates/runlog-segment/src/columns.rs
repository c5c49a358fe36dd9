//! Points as three parallel columns.

use std::ops::RangeBounds;

/// Points as columns of equal length, in series order.
#[derive(Clone, Debug, Default)]
pub struct Columns {
    /// Steps.
    pub steps: Vec<i64>,
    /// Timestamps, ms.
    pub timestamps: Vec<i64>,
    /// Values.
    pub values: Vec<f64>,
}

impl PartialEq for Columns {
    /// Values compare bit for bit (NaN payloads, `-0.0`).
    fn eq(&self, other: &Columns) -> bool {
        self.steps == other.steps
            && self.timestamps == other.timestamps
            && self.values.len() == other.values.len()
            && self
                .values
                .iter()
                .zip(&other.values)
                .all(|(a, b)| a.to_bits() == b.to_bits())
    }
}

impl Columns {
    /// Number of points.
    #[inline]
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// Whether there are no points.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Appends one point.
    #[inline]
    pub fn push(&mut self, step: i64, timestamp: i64, value: f64) {
        self.steps.push(step);
        self.timestamps.push(timestamp);
        self.values.push(value);
    }

    /// Makes room for `additional` more points.
    pub fn reserve(&mut self, additional: usize) {
        self.steps.reserve(additional);
        self.timestamps.reserve(additional);
        self.values.reserve(additional);
    }

    /// Removes all points, keeping the allocations.
    pub fn clear(&mut self) {
        self.steps.clear();
        self.timestamps.clear();
        self.values.clear();
    }

    /// Appends the points of `other` whose index lies in `range`.
    pub fn extend_from(&mut self, other: &Columns, range: std::ops::Range<usize>) {
        self.steps.extend_from_slice(&other.steps[range.clone()]);
        self.timestamps
            .extend_from_slice(&other.timestamps[range.clone()]);
        self.values.extend_from_slice(&other.values[range]);
    }

    /// The index range of the points whose step lies in `steps`, given that
    /// steps are sorted.
    pub fn step_range(&self, steps: &impl RangeBounds<i64>) -> std::ops::Range<usize> {
        use std::ops::Bound;
        let start = match steps.start_bound() {
            Bound::Included(&s) => self.steps.partition_point(|&x| x < s),
            Bound::Excluded(&s) => self.steps.partition_point(|&x| x <= s),
            Bound::Unbounded => 0,
        };
        let end = match steps.end_bound() {
            Bound::Included(&s) => self.steps.partition_point(|&x| x <= s),
            Bound::Excluded(&s) => self.steps.partition_point(|&x| x < s),
            Bound::Unbounded => self.steps.len(),
        };
        start..end.max(start)
    }
}
