//! `/api/2.0/mlflow/metrics/*`: `get-history`, a metric's points in step
//! order, all at once or paged by `max_results` and `page_token`; and
//! `get-history-bulk-interval`, several runs' points sampled for a chart.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::request::{Req, string_list};
use crate::wire::{lenient_i64, run_id, value_json};
use crate::{AppState, blocking};
use runlog::{Columns, HistoryCursor};

#[derive(Deserialize)]
pub struct History {
    #[serde(default)]
    run_id: String,
    #[serde(default)]
    run_uuid: String,
    #[serde(default)]
    metric_key: String,
    #[serde(default, deserialize_with = "lenient_i64")]
    max_results: Option<i64>,
    #[serde(default)]
    page_token: String,
}

/// `metrics/get-history`.
pub async fn get_history(
    State(app): State<AppState>,
    Req(req): Req<History>,
) -> ApiResult<Json<Value>> {
    let run = run_id(&req.run_id, &req.run_uuid)?;
    if req.metric_key.is_empty() {
        return Err(ApiError::invalid(
            "missing value for required parameter 'metric_key'",
        ));
    }
    let from = history_cursor(&req.page_token)?;
    let limit = match req.max_results {
        Some(n) if n <= 0 => {
            return Err(ApiError::invalid(format!(
                "max_results {n} must be positive"
            )));
        }
        Some(n) => Some(usize::try_from(n).unwrap_or(usize::MAX)),
        None => None,
    };
    let key = req.metric_key.clone();
    let page = blocking(app, move |db| {
        db.run(run)?;
        let page = match limit {
            Some(limit) => db.history_page(run, &key, from, limit),
            None => db.history(run, &key, from.step..).map(|all| {
                let mut rest = Columns::default();
                rest.extend_from(&all, from.skip.min(all.len())..all.len());
                (rest, None)
            }),
        };
        match page {
            Ok(page) => Ok(page),
            // MLflow answers an unknown metric with an empty history.
            Err(runlog::Error::UnknownSeries { .. }) => Ok((Columns::default(), None)),
            Err(e) => Err(e.into()),
        }
    })
    .await?;
    let (points, next) = page;
    let metrics: Vec<Value> = (0..points.len())
        .map(|i| {
            json!({
                "key": req.metric_key, "value": value_json(points.values[i]),
                "timestamp": points.timestamps[i], "step": points.steps[i],
            })
        })
        .collect();
    let mut out = json!({"metrics": metrics});
    if let Some(next) = next {
        out["next_page_token"] = json!(format!("{}:{}", next.step, next.skip));
    }
    Ok(Json(out))
}

/// The cursor a `get-history` page token names: `STEP:SKIP`, the step the
/// page starts at and the points at it that earlier pages held.
fn history_cursor(token: &str) -> ApiResult<HistoryCursor> {
    if token.is_empty() {
        return Ok(HistoryCursor::START);
    }
    token
        .split_once(':')
        .and_then(|(step, skip)| {
            Some(HistoryCursor {
                step: step.parse().ok()?,
                skip: skip.parse().ok()?,
            })
        })
        .ok_or_else(|| ApiError::invalid(format!("bad page_token {token:?}")))
}

/// Runs one bulk-interval request may name (MLflow's limit).
pub const MAX_BULK_RUNS: usize = 100;
/// Points per run a bulk-interval answer may hold (MLflow's limit and
/// default).
pub const MAX_BULK_POINTS: i64 = 2500;

#[derive(Deserialize)]
pub struct BulkInterval {
    #[serde(default, deserialize_with = "string_list")]
    run_ids: Vec<String>,
    #[serde(default)]
    metric_key: String,
    #[serde(default, deserialize_with = "lenient_i64")]
    start_step: Option<i64>,
    #[serde(default, deserialize_with = "lenient_i64")]
    end_step: Option<i64>,
    #[serde(default, deserialize_with = "lenient_i64")]
    max_results: Option<i64>,
}

/// `metrics/get-history-bulk-interval`: a metric of up to 100 runs, each
/// sampled to at most `max_results` points within a step range, as
/// MLflow's charts ask for it. The steps are sampled evenly over the union
/// of the runs' steps, and every run's first and last step in the range is
/// kept ([`sample_steps`]).
pub async fn get_history_bulk_interval(
    State(app): State<AppState>,
    Req(req): Req<BulkInterval>,
) -> ApiResult<Json<Value>> {
    if req.run_ids.is_empty() || req.run_ids.len() > MAX_BULK_RUNS {
        return Err(ApiError::invalid(format!(
            "run_ids names {} runs: give 1 to {MAX_BULK_RUNS}",
            req.run_ids.len()
        )));
    }
    if req.metric_key.is_empty() {
        return Err(ApiError::invalid(
            "missing value for required parameter 'metric_key'",
        ));
    }
    let range = match (req.start_step, req.end_step) {
        (None, None) => None,
        (Some(start), Some(end)) if start <= end => Some(start..=end),
        (Some(start), Some(end)) => {
            return Err(ApiError::invalid(format!(
                "end_step {end} is before start_step {start}"
            )));
        }
        _ => {
            return Err(ApiError::invalid(
                "give both start_step and end_step, or neither",
            ));
        }
    };
    let max = req.max_results.unwrap_or(MAX_BULK_POINTS);
    if !(1..=MAX_BULK_POINTS).contains(&max) {
        return Err(ApiError::invalid(format!(
            "max_results {max} must be between 1 and {MAX_BULK_POINTS}"
        )));
    }
    let max = max as usize;
    let runs = req
        .run_ids
        .iter()
        .map(|id| run_id(id, ""))
        .collect::<ApiResult<Vec<_>>>()?;
    let key = req.metric_key.clone();
    let histories = blocking(app, move |db| {
        runs.iter()
            .map(|&run| {
                db.run(run)?;
                match db.history(run, &key, ..) {
                    Ok(points) => Ok((run, points)),
                    Err(runlog::Error::UnknownSeries { .. }) => Ok((run, Columns::default())),
                    Err(e) => Err(e.into()),
                }
            })
            .collect::<ApiResult<Vec<_>>>()
    })
    .await?;
    let steps = sample_steps(
        histories.iter().map(|(_, points)| points.steps.as_slice()),
        range,
        max,
    );
    let mut metrics = Vec::new();
    for (run, points) in &histories {
        let kept: Vec<usize> = (0..points.len())
            .filter(|&i| steps.binary_search(&points.steps[i]).is_ok())
            .collect();
        let cap = max.max(steps.len());
        for i in evenly_spaced(kept.len(), cap).map(|k| kept[k]) {
            metrics.push(json!({
                "key": req.metric_key, "value": value_json(points.values[i]),
                "timestamp": points.timestamps[i], "step": points.steps[i],
                "run_id": run.0.to_string(),
            }));
        }
    }
    Ok(Json(json!({"metrics": metrics})))
}

/// The steps a bulk-interval answer shows: of the union of the runs'
/// sorted `steps` within `range` (all of them if `None`), at most `max`
/// evenly spaced ones plus the last, and each run's first and last step in
/// the range, so that no run's line is cut short. Sorted, no repeats.
pub fn sample_steps<'a>(
    runs: impl Iterator<Item = &'a [i64]> + Clone,
    range: Option<std::ops::RangeInclusive<i64>>,
    max: usize,
) -> Vec<i64> {
    let in_range = |s: &i64| range.as_ref().is_none_or(|r| r.contains(s));
    let mut all: Vec<i64> = runs.clone().flatten().copied().filter(in_range).collect();
    all.sort_unstable();
    all.dedup();
    let mut steps: Vec<i64> = evenly_spaced(all.len(), max).map(|i| all[i]).collect();
    for run in runs {
        // A run's steps are sorted: its part in the range is one slice.
        let (lo, hi) = match &range {
            Some(r) => (
                run.partition_point(|s| s < r.start()),
                run.partition_point(|s| s <= r.end()),
            ),
            None => (0, run.len()),
        };
        if lo < hi {
            steps.extend([run[lo], run[hi - 1]]);
        }
    }
    steps.sort_unstable();
    steps.dedup();
    steps
}

/// At most `max` indices into `0..len`, evenly spaced, the first and the
/// last included (all of them if `len <= max`).
fn evenly_spaced(len: usize, max: usize) -> impl Iterator<Item = usize> {
    let take = len.min(max);
    (0..take).map(move |k| {
        if take <= 1 {
            len.saturating_sub(1)
        } else {
            // k · (len - 1) / (take - 1), in integers, so that the first
            // index is 0 and the last is len - 1.
            ((k as u128 * (len as u128 - 1)) / (take as u128 - 1)) as usize
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evenly_spaced_keeps_the_ends_and_never_repeats() {
        for len in 0..60 {
            for max in 1..70 {
                let got: Vec<usize> = evenly_spaced(len, max).collect();
                assert_eq!(got.len(), len.min(max), "len {len} max {max}");
                assert!(got.windows(2).all(|w| w[0] < w[1]), "{got:?}");
                if len > 0 {
                    assert_eq!(*got.last().unwrap(), len - 1);
                    if max > 1 {
                        assert_eq!(got[0], 0);
                    }
                }
            }
        }
    }

    #[test]
    fn sampled_steps_keep_every_runs_ends_within_the_range() {
        let long: Vec<i64> = (0..10_000).collect();
        let short: Vec<i64> = (0..=300).map(|s| s * 7).collect();
        let runs = [long.as_slice(), short.as_slice()];
        let all = sample_steps(runs.iter().copied(), None, 100);
        assert!(all.len() <= 100 + 4, "{}", all.len());
        for end in [0, 9_999, 2_100] {
            assert!(all.contains(&end), "{end} missing");
        }
        let window = sample_steps(runs.iter().copied(), Some(500..=600), 10);
        assert!(window.iter().all(|s| (500..=600).contains(s)));
        // The short run's first and last step in the window: 504 and 595.
        for end in [500, 504, 595, 600] {
            assert!(window.contains(&end), "{end} missing from {window:?}");
        }
        let few = sample_steps(runs.iter().copied(), Some(500..=505), 100);
        assert_eq!(few, [500, 501, 502, 503, 504, 505]);
    }
}
