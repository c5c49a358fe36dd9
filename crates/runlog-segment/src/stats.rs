//! Statistics kept for every chunk and every series, so that count, first,
//! last, min and max are answered without decoding data.
//!
//! NaN rule: `min` and `max` are taken over the values that are not NaN, in
//! IEEE total order (so `-0.0 < +0.0`); a NaN never replaces them. If every
//! value is NaN, `min` and `max` are NaN. `first_value` and `last_value` are
//! the first and last points' values as logged, NaN included, bit for bit.

use std::cmp::Ordering;

/// Encoded size of [`Stats`] in bytes.
pub const STATS_LEN: usize = 88;

/// Statistics of a run of points in series order.
#[derive(Clone, Copy, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Stats {
    /// Number of points (at least 1).
    pub count: u64,
    /// Step of the first point (the smallest step).
    pub first_step: i64,
    /// Step of the last point (the largest step).
    pub last_step: i64,
    /// Timestamp of the first point, ms.
    pub first_timestamp: i64,
    /// Timestamp of the last point, ms.
    pub last_timestamp: i64,
    /// Smallest timestamp, ms.
    pub min_timestamp: i64,
    /// Largest timestamp, ms.
    pub max_timestamp: i64,
    /// Value of the first point.
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::float_text::serialize")
    )]
    pub first_value: f64,
    /// Value of the last point: the latest value (largest step, ties: last
    /// logged).
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::float_text::serialize")
    )]
    pub last_value: f64,
    /// Smallest value that is not NaN (NaN if all are).
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::float_text::serialize")
    )]
    pub min: f64,
    /// Largest value that is not NaN (NaN if all are).
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::float_text::serialize")
    )]
    pub max: f64,
}

impl PartialEq for Stats {
    /// Values compare bit for bit, so NaN stats equal themselves.
    fn eq(&self, other: &Stats) -> bool {
        self.encode() == other.encode()
    }
}

impl Eq for Stats {}

/// The smaller of two values under the NaN rule.
fn min_ignoring_nan(a: f64, b: f64) -> f64 {
    match (a.is_nan(), b.is_nan()) {
        (true, _) => b,
        (_, true) => a,
        _ if b.total_cmp(&a) == Ordering::Less => b,
        _ => a,
    }
}

/// The larger of two values under the NaN rule.
fn max_ignoring_nan(a: f64, b: f64) -> f64 {
    match (a.is_nan(), b.is_nan()) {
        (true, _) => b,
        (_, true) => a,
        _ if b.total_cmp(&a) == Ordering::Greater => b,
        _ => a,
    }
}

/// An integer whose order is the IEEE total order of `value` (the order of
/// `f64::total_cmp`).
fn total_order_key(value: f64) -> i64 {
    let bits = value.to_bits() as i64;
    bits ^ (((bits >> 63) as u64) >> 1) as i64
}

/// The value whose [`total_order_key`] is `key` (the map is its own
/// inverse).
fn from_total_order_key(key: i64) -> f64 {
    f64::from_bits((key ^ (((key >> 63) as u64) >> 1) as i64) as u64)
}

impl Stats {
    /// The statistics of one point.
    pub fn of_point(step: i64, timestamp: i64, value: f64) -> Stats {
        Stats {
            count: 1,
            first_step: step,
            last_step: step,
            first_timestamp: timestamp,
            last_timestamp: timestamp,
            min_timestamp: timestamp,
            max_timestamp: timestamp,
            first_value: value,
            last_value: value,
            min: value,
            max: value,
        }
    }

    /// The statistics of the points given as columns (of equal length), or
    /// `None` if there are none.
    pub fn of(steps: &[i64], timestamps: &[i64], values: &[f64]) -> Option<Stats> {
        let last = steps.len().checked_sub(1)?;
        if last == 0 {
            // One point, as `log_at` writes: nothing to fold.
            return Some(Stats::of_point(steps[0], timestamps[0], values[0]));
        }
        let mut stats = Stats::of_point(steps[0], timestamps[0], values[0]);
        stats.count = steps.len() as u64;
        stats.last_step = steps[last];
        stats.last_timestamp = timestamps[last];
        stats.last_value = values[last];
        for &timestamp in timestamps {
            stats.min_timestamp = stats.min_timestamp.min(timestamp);
            stats.max_timestamp = stats.max_timestamp.max(timestamp);
        }
        // Min and max in IEEE total order are min and max of integer keys;
        // NaN becomes a key no number has, so the loop needs no branch.
        let (low, high) = values
            .iter()
            .fold((i64::MAX, i64::MIN), |(low, high), &value| {
                let nan = value.is_nan();
                let key = total_order_key(value);
                (
                    low.min(if nan { i64::MAX } else { key }),
                    high.max(if nan { i64::MIN } else { key }),
                )
            });
        if low <= high {
            stats.min = from_total_order_key(low);
            stats.max = from_total_order_key(high);
        } else {
            // Every value is NaN: min and max are the last one.
            stats.min = values[last];
            stats.max = values[last];
        }
        Some(stats)
    }

    /// Adds the points of `later`, which come after all points counted so far.
    pub fn merge(&mut self, later: &Stats) {
        self.count += later.count;
        self.last_step = later.last_step;
        self.last_timestamp = later.last_timestamp;
        self.last_value = later.last_value;
        self.min_timestamp = self.min_timestamp.min(later.min_timestamp);
        self.max_timestamp = self.max_timestamp.max(later.max_timestamp);
        self.min = min_ignoring_nan(self.min, later.min);
        self.max = max_ignoring_nan(self.max, later.max);
    }

    /// Adds the points of `newer`, which were all logged after the points
    /// counted so far but may have any steps: first and last follow the
    /// ordering contract (smallest step, ties to the first logged; largest
    /// step, ties to the last logged).
    pub fn absorb(&mut self, newer: &Stats) {
        if newer.first_step < self.first_step {
            self.first_step = newer.first_step;
            self.first_timestamp = newer.first_timestamp;
            self.first_value = newer.first_value;
        }
        if newer.last_step >= self.last_step {
            self.last_step = newer.last_step;
            self.last_timestamp = newer.last_timestamp;
            self.last_value = newer.last_value;
        }
        self.count += newer.count;
        self.min_timestamp = self.min_timestamp.min(newer.min_timestamp);
        self.max_timestamp = self.max_timestamp.max(newer.max_timestamp);
        self.min = min_ignoring_nan(self.min, newer.min);
        self.max = max_ignoring_nan(self.max, newer.max);
    }

    /// The 88-byte little-endian encoding: count, first/last step,
    /// first/last/min/max timestamp, first/last/min/max value (IEEE bits).
    pub fn encode(&self) -> [u8; STATS_LEN] {
        let words: [u64; 11] = [
            self.count,
            self.first_step as u64,
            self.last_step as u64,
            self.first_timestamp as u64,
            self.last_timestamp as u64,
            self.min_timestamp as u64,
            self.max_timestamp as u64,
            self.first_value.to_bits(),
            self.last_value.to_bits(),
            self.min.to_bits(),
            self.max.to_bits(),
        ];
        let mut out = [0u8; STATS_LEN];
        for (slot, word) in out.chunks_exact_mut(8).zip(words) {
            slot.copy_from_slice(&word.to_le_bytes());
        }
        out
    }

    /// Decodes [`Stats::encode`]'s bytes.
    pub fn decode(bytes: &[u8; STATS_LEN]) -> Stats {
        let mut words = [0u64; 11];
        for (word, slot) in words.iter_mut().zip(bytes.chunks_exact(8)) {
            let mut le = [0u8; 8];
            le.copy_from_slice(slot);
            *word = u64::from_le_bytes(le);
        }
        Stats {
            count: words[0],
            first_step: words[1] as i64,
            last_step: words[2] as i64,
            first_timestamp: words[3] as i64,
            last_timestamp: words[4] as i64,
            min_timestamp: words[5] as i64,
            max_timestamp: words[6] as i64,
            first_value: f64::from_bits(words[7]),
            last_value: f64::from_bits(words[8]),
            min: f64::from_bits(words[9]),
            max: f64::from_bits(words[10]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_equal_bit_for_bit_only() {
        let one = Stats::of_point(1, 10, 1.0);
        assert_eq!(one, Stats::of_point(1, 10, 1.0));
        assert_ne!(one, Stats::of_point(1, 10, 2.0));
        assert_ne!(one, Stats::of_point(2, 10, 1.0));
        assert_ne!(Stats::of_point(1, 10, 0.0), Stats::of_point(1, 10, -0.0));
        assert_eq!(
            Stats::of_point(1, 10, f64::NAN),
            Stats::of_point(1, 10, f64::NAN)
        );
    }

    #[test]
    fn a_merge_ignores_nan_of_either_sign_as_of_does() {
        // A NaN with its sign bit set sorts below every number in IEEE
        // total order, one without it above: both are ignored alike.
        for nan in [f64::NAN, -f64::NAN] {
            for (a, b) in [(nan, 2.0), (2.0, nan)] {
                let mut merged = Stats::of_point(0, 0, a);
                merged.merge(&Stats::of_point(1, 1, b));
                let whole = Stats::of(&[0, 1], &[0, 1], &[a, b]).unwrap();
                assert_eq!((merged.min, merged.max), (2.0, 2.0), "{a} then {b}");
                assert_eq!((whole.min, whole.max), (2.0, 2.0), "{a} then {b}");
            }
        }
    }

    #[test]
    fn nan_does_not_poison_min_and_max() {
        let stats = Stats::of(&[0, 1, 2], &[5, 4, 6], &[f64::NAN, 2.0, -1.0]).unwrap();
        assert_eq!(stats.min, -1.0);
        assert_eq!(stats.max, 2.0);
        assert!(stats.first_value.is_nan());
        assert_eq!(stats.last_value, -1.0);
        assert_eq!((stats.min_timestamp, stats.max_timestamp), (4, 6));
        let all_nan = Stats::of(&[0], &[0], &[f64::NAN]).unwrap();
        assert!(all_nan.min.is_nan() && all_nan.max.is_nan());
        // The many-point path too, with NaNs of other payloads.
        let payload = f64::from_bits(0x7ff8_0000_0000_0042);
        let all_nan = Stats::of(&[0, 1, 2], &[0, 0, 0], &[f64::NAN, payload, f64::NAN]).unwrap();
        assert!(all_nan.min.is_nan() && all_nan.max.is_nan(), "{all_nan:?}");
    }

    #[test]
    fn a_nan_never_replaces_min_or_max_in_a_merge_in_either_order() {
        let numbers = Stats::of(&[0, 1], &[0, 0], &[3.0, -2.0]).unwrap();
        let nans = Stats::of(&[2, 3], &[0, 0], &[f64::NAN, f64::NAN]).unwrap();
        let mut later_nan = numbers;
        later_nan.merge(&nans);
        let mut earlier_nan = nans;
        earlier_nan.merge(&Stats::of(&[4, 5], &[0, 0], &[3.0, -2.0]).unwrap());
        for merged in [later_nan, earlier_nan] {
            assert_eq!((merged.min, merged.max), (-2.0, 3.0), "{merged:?}");
            assert_eq!(merged.count, 4);
        }
        let mut both = nans;
        both.merge(&nans);
        assert!(both.min.is_nan() && both.max.is_nan());
    }

    #[test]
    fn min_and_max_agree_with_total_cmp_over_the_numbers() {
        let values = [
            3.5,
            f64::NAN,
            -0.0,
            0.0,
            f64::NEG_INFINITY,
            f64::from_bits(1),
            -f64::MAX,
            f64::from_bits(0xFFF8_0000_0000_0001),
            7e300,
        ];
        for n in 1..=values.len() {
            let part = &values[..n];
            let stats = Stats::of(&vec![0; n], &vec![0; n], part).unwrap();
            let mut numbers: Vec<f64> = part.iter().copied().filter(|v| !v.is_nan()).collect();
            numbers.sort_by(f64::total_cmp);
            let (min, max) = match (numbers.first(), numbers.last()) {
                (Some(&min), Some(&max)) => (min, max),
                _ => (part[n - 1], part[n - 1]),
            };
            assert_eq!(stats.min.to_bits(), min.to_bits(), "{part:?}");
            assert_eq!(stats.max.to_bits(), max.to_bits(), "{part:?}");
        }
    }

    #[test]
    fn negative_zero_sorts_below_positive_zero() {
        let stats = Stats::of(&[0, 1], &[0, 0], &[0.0, -0.0]).unwrap();
        assert_eq!(stats.min.to_bits(), (-0.0f64).to_bits());
        assert_eq!(stats.max.to_bits(), 0.0f64.to_bits());
    }

    #[test]
    fn absorbing_late_points_keeps_the_ordering_contract() {
        let mut stats = Stats::of(&[5, 10], &[0, 1], &[1.0, 2.0]).unwrap();
        stats.absorb(&Stats::of_point(3, 2, 9.0));
        assert_eq!((stats.first_step, stats.first_value), (3, 9.0));
        assert_eq!((stats.last_step, stats.last_value), (10, 2.0));
        stats.absorb(&Stats::of_point(10, 3, 7.0));
        assert_eq!(stats.last_value, 7.0, "ties go to the last logged");
        stats.absorb(&Stats::of_point(3, 4, 8.0));
        assert_eq!(
            stats.first_value, 9.0,
            "first ties stay with the first logged"
        );
        assert_eq!((stats.count, stats.min, stats.max), (5, 1.0, 9.0));
    }

    #[test]
    fn encoding_round_trips_bit_for_bit() {
        let stats = Stats::of(&[-3, 9], &[i64::MIN, i64::MAX], &[-0.0, f64::INFINITY]).unwrap();
        assert_eq!(Stats::decode(&stats.encode()), stats);
    }
}
