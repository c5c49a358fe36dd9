//! The query layer: latest values and statistics from memory, ordered
//! history merged from segments and memtables, whole-run reads, run lists
//! with summaries, comparisons across runs and downsampling.

use std::collections::BTreeMap;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use runlog_segment::{Columns, SeriesId, Stats};

use crate::catalog::{RunInfo, RunStatus};
use crate::contents::{StreamKind, TextPoint};
use crate::db::Db;
use crate::memtable::{Memtable, SeriesPoints};
use crate::segments::{SegmentHandle, append_sorted, follows};
use crate::{Error, Result, RunId};

/// One logged point.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Point {
    /// Its step.
    pub step: i64,
    /// Its timestamp, ms since the Unix epoch.
    pub timestamp_ms: i64,
    /// Its value.
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "runlog_segment::float_text::serialize")
    )]
    pub value: f64,
}

/// Which runs [`Db::runs`] lists; every field set must match.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunFilter {
    /// Only runs of this experiment.
    pub experiment: Option<String>,
    /// Only runs with this status.
    pub status: Option<RunStatus>,
    /// Only runs with this tag set to this value.
    pub tag: Option<(String, String)>,
    /// Only these metrics' statistics in each summary (every metric's if
    /// `None`): a run list that shows a few columns builds only those.
    pub metrics: Option<Vec<String>>,
}

/// A run and the statistics of each of its metrics: one row of a run list.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct RunSummary {
    /// The run (shared with the catalog).
    pub info: Arc<RunInfo>,
    /// Every metric's statistics (last, min, max, count, ...), sorted by
    /// name.
    pub metrics: Vec<(Arc<str>, Stats)>,
    /// Every text series' latest value, sorted by name.
    pub texts: Vec<(String, TextPoint)>,
}

impl RunSummary {
    /// The latest value of text series `name`, if the run has it.
    pub fn text(&self, name: &str) -> Option<&TextPoint> {
        self.texts
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .ok()
            .map(|i| &self.texts[i].1)
    }

    /// The statistics of metric `name`, if the run has it.
    pub fn metric(&self, name: &str) -> Option<&Stats> {
        self.metrics
            .binary_search_by(|(n, _)| n.as_ref().cmp(name))
            .ok()
            .map(|i| &self.metrics[i].1)
    }
}

/// A table metric read back: columns aligned by row.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    /// Rows logged.
    pub rows: u64,
    /// Each numeric column, in the order it first appeared, with one entry
    /// per row (`None` where that row did not set the column).
    pub columns: Vec<(String, Vec<Option<f64>>)>,
    /// Each string column, by name, aligned the same way.
    pub text_columns: Vec<(String, Vec<Option<String>>)>,
}

/// Statistics of the points in one step range of a downsampled history.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Bucket {
    /// The bucket covers steps `start_step..=end_step`.
    pub start_step: i64,
    /// Last step the bucket covers.
    pub end_step: i64,
    /// Points in the bucket (at least one).
    pub count: u64,
    /// First point's value.
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "runlog_segment::float_text::serialize")
    )]
    pub first: f64,
    /// Last point's value.
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "runlog_segment::float_text::serialize")
    )]
    pub last: f64,
    /// Smallest value that is not NaN (NaN if all are).
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "runlog_segment::float_text::serialize")
    )]
    pub min: f64,
    /// Largest value that is not NaN (NaN if all are).
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "runlog_segment::float_text::serialize")
    )]
    pub max: f64,
    /// The step of its last point.
    pub last_step: i64,
    /// The wall-clock time of its last point, ms since the Unix epoch.
    pub last_timestamp: i64,
}

/// Everything that may hold points of one series, oldest first, captured
/// at one instant, and how many points the series has in all.
struct Sources {
    segments: Arc<Vec<Arc<SegmentHandle>>>,
    frozen: Vec<Arc<Memtable>>,
    active: Option<SeriesPoints>,
    count: u64,
}

/// Adds `newer` to the part of `history` from `start` on (what this read
/// appended), keeping that part sorted.
fn append_part(history: &mut Columns, start: usize, newer: &Columns) {
    if start == 0 {
        append_sorted(history, newer);
        return;
    }
    let mut part = Columns::default();
    part.extend_from(history, start..history.len());
    append_sorted(&mut part, newer);
    history.steps.truncate(start);
    history.timestamps.truncate(start);
    history.values.truncate(start);
    history.extend_from(&part, 0..part.len());
}

impl Db {
    pub(crate) fn series_of(&self, run: RunId, name: &str) -> Result<SeriesId> {
        let state = self.shared.state.read();
        let entry = state.catalog.run(run).ok_or(Error::UnknownRun(run))?;
        entry
            .series_named(name)
            .ok_or_else(|| Error::UnknownSeries {
                run,
                what: "metric",
                name: name.to_string(),
            })
    }

    /// The latest point of a metric (largest step; ties: the last logged),
    /// from memory.
    pub fn latest(&self, run: RunId, name: &str) -> Result<Point> {
        let stats = self.stats(run, name)?;
        Ok(Point {
            step: stats.last_step,
            timestamp_ms: stats.last_timestamp,
            value: stats.last_value,
        })
    }

    /// A metric's statistics (count, first, last, min, max, last step and
    /// timestamp), from memory: one lock, two map lookups. Like every read
    /// of a metric by name, it also takes a table column as `TABLE/COLUMN`
    /// (its steps are row numbers).
    pub fn stats(&self, run: RunId, name: &str) -> Result<Stats> {
        let state = self.shared.state.read();
        let entry = state.catalog.run(run).ok_or(Error::UnknownRun(run))?;
        entry
            .series_named(name)
            .and_then(|series| state.catalog.series.get(&series))
            .and_then(|s| s.stats)
            .ok_or_else(|| Error::UnknownSeries {
                run,
                what: "metric",
                name: name.to_string(),
            })
    }

    fn sources(&self, series: SeriesId, steps: &impl RangeBounds<i64>) -> Sources {
        let state = self.shared.state.read();
        let active = state.active.get(series).map(|p| p.snapshot(steps));
        Sources {
            segments: Arc::clone(&state.segments),
            frozen: state.frozen.clone(),
            active,
            count: state
                .catalog
                .series
                .get(&series)
                .and_then(|s| s.stats)
                .map_or(0, |s| s.count),
        }
    }

    /// Appends the series' points in `steps` to `out`, in order. Sources
    /// that follow each other are read straight into `out`.
    pub(crate) fn series_history_into(
        &self,
        series: SeriesId,
        steps: impl RangeBounds<i64>,
        out: &mut Columns,
    ) -> Result<()> {
        let Sources {
            segments,
            frozen,
            active,
            count,
        } = self.sources(series, &steps);
        let range = (steps.start_bound(), steps.end_bound());
        let start = out.len();
        // The whole series' count is the right size only for a whole read;
        // a windowed read (`history_chunks`) must not allocate for all.
        if matches!(range, (Bound::Unbounded, Bound::Unbounded)) {
            out.reserve(count as usize);
        }
        let mut history = std::mem::take(out);
        let mut scratch = Columns::default();
        for segment in segments.iter() {
            let Some(stats) = segment.reader.stats(series) else {
                continue;
            };
            if follows(&history, stats.first_step) || history.len() == start {
                segment
                    .reader
                    .read_steps_into(series, range, &mut history)?;
            } else {
                scratch.clear();
                segment
                    .reader
                    .read_steps_into(series, range, &mut scratch)?;
                append_part(&mut history, start, &scratch);
            }
        }
        let memtables = frozen.iter().filter_map(|m| m.get(series));
        for points in memtables.chain(active.as_ref()) {
            scratch.clear();
            points.read_into(&steps, &mut scratch)?;
            append_part(&mut history, start, &scratch);
        }
        *out = history;
        Ok(())
    }

    fn series_history(&self, series: SeriesId, steps: impl RangeBounds<i64>) -> Result<Columns> {
        let mut out = Columns::default();
        self.series_history_into(series, steps, &mut out)?;
        Ok(out)
    }

    /// Like [`Db::history`], appending to `out`, so a caller that reads
    /// often can reuse its buffers.
    pub fn history_into(
        &self,
        run: RunId,
        name: &str,
        steps: impl RangeBounds<i64>,
        out: &mut Columns,
    ) -> Result<()> {
        self.series_history_into(self.series_of(run, name)?, steps, out)
    }

    /// The points of a metric whose step lies in `steps`, ordered by step
    /// (ties in the order logged), as columns.
    pub fn history(&self, run: RunId, name: &str, steps: impl RangeBounds<i64>) -> Result<Columns> {
        self.series_history(self.series_of(run, name)?, steps)
    }

    /// Like [`Db::history`], as an iterator of points.
    pub fn history_points(
        &self,
        run: RunId,
        name: &str,
        steps: impl RangeBounds<i64>,
    ) -> Result<impl Iterator<Item = Point>> {
        let columns = self.history(run, name, steps)?;
        Ok((0..columns.len()).map(move |i| Point {
            step: columns.steps[i],
            timestamp_ms: columns.timestamps[i],
            value: columns.values[i],
        }))
    }

    /// The points of a metric whose timestamp lies in `times` (ms), still
    /// ordered by step.
    pub fn history_by_time(
        &self,
        run: RunId,
        name: &str,
        times: impl RangeBounds<i64>,
    ) -> Result<Columns> {
        let all = self.history(run, name, ..)?;
        let mut out = Columns::default();
        for i in (0..all.len()).filter(|&i| times.contains(&all.timestamps[i])) {
            out.push(all.steps[i], all.timestamps[i], all.values[i]);
        }
        Ok(out)
    }

    /// Every metric of a run with all its values in order, as
    /// `run.get_metrics()` returns them, and every table column as
    /// `TABLE/COLUMN` with its values in row order (rows that did not set
    /// it left out).
    pub fn get_metrics(&self, run: RunId) -> Result<BTreeMap<String, Vec<f64>>> {
        let mut names = self.metric_names(run)?;
        names.extend(self.column_names(run)?);
        names
            .into_iter()
            .map(|name| Ok((name.clone(), self.history(run, &name, ..)?.values)))
            .collect()
    }

    /// Every column of a run's tables as `TABLE/COLUMN`, by table, then in
    /// the order columns first appeared.
    pub fn column_names(&self, run: RunId) -> Result<Vec<String>> {
        let state = self.shared.state.read();
        let entry = state.catalog.run(run).ok_or(Error::UnknownRun(run))?;
        Ok(entry
            .tables
            .iter()
            .flat_map(|(table, t)| t.columns.iter().map(move |(c, _)| format!("{table}/{c}")))
            .collect())
    }

    /// The names of a run's metrics (not tables), sorted.
    pub fn metric_names(&self, run: RunId) -> Result<Vec<String>> {
        let state = self.shared.state.read();
        let entry = state.catalog.run(run).ok_or(Error::UnknownRun(run))?;
        Ok(entry.metrics.keys().map(|name| name.to_string()).collect())
    }

    /// The names of a run's table metrics, sorted.
    pub fn table_names(&self, run: RunId) -> Result<Vec<String>> {
        let state = self.shared.state.read();
        let entry = state.catalog.run(run).ok_or(Error::UnknownRun(run))?;
        Ok(entry.tables.keys().cloned().collect())
    }

    /// A table metric, columns aligned by row.
    pub fn table(&self, run: RunId, table: &str) -> Result<Table> {
        let prefix = format!("{table}/");
        let (entry, text_names) = {
            let state = self.shared.state.read();
            let entry = state.catalog.run(run).ok_or(Error::UnknownRun(run))?;
            let text_names: Vec<String> = entry
                .streams
                .keys()
                .filter(|k| k.kind == StreamKind::Cells && k.name.starts_with(&prefix))
                .map(|k| k.name.clone())
                .collect();
            let table = entry
                .tables
                .get(table)
                .cloned()
                .ok_or_else(|| Error::UnknownSeries {
                    run,
                    what: "table",
                    name: table.to_string(),
                })?;
            (table, text_names)
        };
        let mut text_columns = Vec::with_capacity(text_names.len());
        for name in text_names {
            let mut cells = vec![None; entry.rows as usize];
            for point in self.text_history(run, &name)? {
                if let Some(cell) = usize::try_from(point.step)
                    .ok()
                    .and_then(|r| cells.get_mut(r))
                {
                    *cell = Some(point.value);
                }
            }
            text_columns.push((name[prefix.len()..].to_string(), cells));
        }
        let mut columns = Vec::with_capacity(entry.columns.len());
        for (name, series) in entry.columns {
            let mut cells = vec![None; entry.rows as usize];
            let points = self.series_history(series, ..)?;
            for (&row, &value) in points.steps.iter().zip(&points.values) {
                if let Some(cell) = usize::try_from(row).ok().and_then(|r| cells.get_mut(r)) {
                    *cell = Some(value);
                }
            }
            columns.push((name, cells));
        }
        Ok(Table {
            rows: entry.rows,
            columns,
            text_columns,
        })
    }

    /// A run's metadata.
    pub fn run(&self, run: RunId) -> Result<RunInfo> {
        let state = self.shared.state.read();
        Ok(state
            .catalog
            .run(run)
            .ok_or(Error::UnknownRun(run))?
            .info
            .as_ref()
            .clone())
    }

    /// The run named `name` in `experiment`, if any.
    pub fn find_run(&self, experiment: &str, name: &str) -> Option<RunId> {
        let state = self.shared.state.read();
        state
            .catalog
            .run_names
            .get(&(experiment.to_string(), name.to_string()))
            .copied()
    }

    /// The experiments with at least one run, sorted, with their run counts.
    pub fn experiments(&self) -> BTreeMap<String, usize> {
        let state = self.shared.state.read();
        let mut experiments = BTreeMap::new();
        for entry in state
            .catalog
            .runs
            .values()
            .filter(|r| !r.deleted && !r.staged)
        {
            *experiments
                .entry(entry.info.experiment.clone())
                .or_insert(0) += 1;
        }
        experiments
    }

    /// The runs matching `filter`, by id, each with every metric's (or the
    /// chosen metrics') statistics: a run-list view, from memory.
    pub fn runs(&self, filter: &RunFilter) -> Vec<RunSummary> {
        let state = self.shared.state.read();
        state
            .catalog
            .runs
            .values()
            .filter(|r| !r.deleted && !r.staged)
            .filter(|r| {
                filter
                    .experiment
                    .as_ref()
                    .is_none_or(|e| *e == r.info.experiment)
            })
            .filter(|r| filter.status.is_none_or(|s| s == r.info.status))
            .filter(|r| {
                filter
                    .tag
                    .as_ref()
                    .is_none_or(|(k, v)| r.info.tags.get(k) == Some(v))
            })
            .map(|r| RunSummary {
                info: Arc::clone(&r.info),
                metrics: r
                    .metrics
                    .iter()
                    .filter(|(name, _)| {
                        filter
                            .metrics
                            .as_ref()
                            .is_none_or(|chosen| chosen.iter().any(|c| **c == ***name))
                    })
                    .filter_map(|(name, id)| {
                        let stats = state.catalog.series.get(id)?.stats?;
                        Some((Arc::clone(name), stats))
                    })
                    .collect(),
                texts: r
                    .streams
                    .iter()
                    .filter(|(k, _)| k.kind == StreamKind::Text)
                    .filter_map(|(k, stream)| Some((k.name.clone(), stream.latest.clone()?)))
                    .collect(),
            })
            .collect()
    }

    /// One metric across several runs: each run's full history (empty for a
    /// run without the metric).
    pub fn compare(&self, name: &str, runs: &[RunId]) -> Result<Vec<(RunId, Columns)>> {
        runs.iter()
            .map(|&run| match self.history(run, name, ..) {
                Ok(points) => Ok((run, points)),
                Err(Error::UnknownSeries { .. }) => Ok((run, Columns::default())),
                Err(e) => Err(e),
            })
            .collect()
    }

    /// A chart's view of a metric: the steps in `steps` cut into at most
    /// `buckets` equal step ranges, each with the count, first, last, min
    /// and max of its points (empty ranges are left out).
    pub fn downsample(
        &self,
        run: RunId,
        name: &str,
        steps: impl RangeBounds<i64>,
        buckets: usize,
    ) -> Result<Vec<Bucket>> {
        let points = self.history(run, name, steps)?;
        Ok(bucketize(&points, buckets))
    }

    /// The kind of series `name` is in `run`, for tools: `"metric"`,
    /// `"table"` or `None`.
    pub fn series_kind(&self, run: RunId, name: &str) -> Option<&'static str> {
        let state = self.shared.state.read();
        let entry = state.catalog.run(run)?;
        if entry.metrics.contains_key(name) {
            Some("metric")
        } else if entry.tables.contains_key(name) {
            Some("table")
        } else {
            None
        }
    }
}

/// Cuts sorted points into at most `buckets` equal step ranges: each
/// bucket's points are found by a binary search for the next bucket's first
/// step, and summarised in one pass ([`Stats::of`]).
fn bucketize(points: &Columns, buckets: usize) -> Vec<Bucket> {
    let (Some(&lo), Some(&hi)) = (points.steps.first(), points.steps.last()) else {
        return Vec::new();
    };
    let buckets = buckets.max(1) as i128;
    let span = i128::from(hi) - i128::from(lo) + 1;
    let width = (span + buckets - 1) / buckets;
    let mut out: Vec<Bucket> = Vec::new();
    let mut start = 0;
    while start < points.len() {
        let index = (i128::from(points.steps[start]) - i128::from(lo)) / width;
        let next = i128::from(lo) + (index + 1) * width;
        let end = start + points.steps[start..].partition_point(|&step| i128::from(step) < next);
        let range = start..end;
        let stats = Stats::of(
            &points.steps[range.clone()],
            &points.timestamps[range.clone()],
            &points.values[range],
        )
        .expect("a bucket holds the point it starts at");
        out.push(bucket(lo, width, index, &stats));
        start = end;
    }
    out
}

fn bucket(lo: i64, width: i128, index: i128, stats: &Stats) -> Bucket {
    let start = i128::from(lo) + index * width;
    Bucket {
        start_step: start as i64,
        end_step: (start + width - 1).min(i128::from(i64::MAX)) as i64,
        count: stats.count,
        first: stats.first_value,
        last: stats.last_value,
        min: stats.min,
        max: stats.max,
        last_step: stats.last_step,
        last_timestamp: stats.last_timestamp,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Buckets the obvious way: each point's bucket by division, its
    /// statistics folded point by point.
    /// A bucket's fields, floats by their bits (so NaN compares equal).
    type Fields = (i64, i64, u64, u64, u64, u64, u64, i64, i64);

    fn naive(points: &Columns, buckets: usize) -> Vec<Fields> {
        let lo = points.steps[0];
        let span = i128::from(points.steps[points.len() - 1]) - i128::from(lo) + 1;
        let width = (span + buckets as i128 - 1) / buckets as i128;
        let mut out: Vec<(i128, Stats)> = Vec::new();
        for i in 0..points.len() {
            let index = (i128::from(points.steps[i]) - i128::from(lo)) / width;
            let point = Stats::of_point(points.steps[i], points.timestamps[i], points.values[i]);
            match out.last_mut() {
                Some((at, stats)) if *at == index => stats.merge(&point),
                _ => out.push((index, point)),
            }
        }
        // The bucket's range from its index, spelled out here rather than
        // by the production `bucket()`.
        out.iter()
            .map(|(index, s)| {
                let start = i128::from(lo) + index * width;
                let end = (start + width - 1).min(i128::from(i64::MAX));
                (
                    start as i64,
                    end as i64,
                    s.count,
                    s.first_value.to_bits(),
                    s.last_value.to_bits(),
                    s.min.to_bits(),
                    s.max.to_bits(),
                    s.last_step,
                    s.last_timestamp,
                )
            })
            .collect()
    }

    fn fields(b: &Bucket) -> Fields {
        (
            b.start_step,
            b.end_step,
            b.count,
            b.first.to_bits(),
            b.last.to_bits(),
            b.min.to_bits(),
            b.max.to_bits(),
            b.last_step,
            b.last_timestamp,
        )
    }

    proptest! {
        #[test]
        fn buckets_match_a_point_by_point_fold(
            gaps in prop::collection::vec((0i64..5, prop_oneof![
                4 => any::<f32>().prop_map(f64::from),
                1 => Just(f64::NAN),
                1 => Just(-0.0),
            ]), 1..300),
            start in -1000i64..1000,
            buckets in 1usize..40,
        ) {
            let mut points = Columns::default();
            let mut step = start;
            for (i, &(gap, value)) in gaps.iter().enumerate() {
                step += gap;
                points.push(step, i as i64, value);
            }
            let got: Vec<_> = bucketize(&points, buckets).iter().map(fields).collect();
            prop_assert_eq!(got, naive(&points, buckets));
        }
    }
}
