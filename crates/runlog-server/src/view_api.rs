//! `/runlog/api/*`: the JSON that the web view reads, answered from the
//! engine's precomputed summaries and buckets (documented in
//! `docs/server.md`). Floats are numbers, or the strings "NaN",
//! "Infinity" and "-Infinity" as in the MLflow routes.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use runlog::{Db, RunFilter, RunId, RunInfo, RunStatus, Stats};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::request::Req;
use crate::wire::{DELETED_TAG, Float, experiment_id_of, lenient_i64, value_json};
use crate::{AppState, blocking};

/// Buckets a history answer holds when the page asks for none.
pub const DEFAULT_BUCKETS: usize = 1000;
/// The most buckets a history answer may hold.
pub const MAX_BUCKETS: usize = 20_000;
/// The most log lines one answer holds.
pub const MAX_LOG_LINES: usize = 5_000;

/// `GET /runlog/api/experiments`: every experiment with its run count.
pub async fn experiments(State(app): State<AppState>) -> ApiResult<Json<Value>> {
    blocking(app, |db| {
        let counts = db.experiments();
        let experiments: Vec<Value> = db
            .list_experiments()
            .into_iter()
            .filter(|e| !e.deleted)
            .map(|e| {
                json!({
                    "name": e.name,
                    "runs": counts.get(&e.name).copied().unwrap_or(0),
                })
            })
            .collect();
        Ok(Json(json!({ "experiments": experiments })))
    })
    .await
}

#[derive(Deserialize)]
pub struct RunsQuery {
    #[serde(default)]
    experiment: Option<String>,
    #[serde(default)]
    status: Option<String>,
}

/// `GET /runlog/api/runs?experiment=E&status=S`: one row per run with the
/// last, min and max of every metric, serialized straight from the
/// engine's summaries (10,000 runs are about 5 MB).
pub async fn runs(State(app): State<AppState>, Req(query): Req<RunsQuery>) -> ApiResult<Response> {
    let filter = RunFilter {
        experiment: query.experiment,
        status: query.status.as_deref().map(status_of).transpose()?,
        ..RunFilter::default()
    };
    blocking(app, move |db| {
        let summaries = db.runs(&filter);
        let runs: Vec<Row> = summaries
            .iter()
            .filter(|run| !run.info.tags.contains_key(DELETED_TAG))
            .map(|run| Row::of(db, &run.info, run.metrics.iter().map(|(n, s)| (&**n, s))))
            .collect();
        let body = serde_json::to_vec(&RunList { runs })
            .map_err(|e| ApiError::internal(format!("cannot encode the run list: {e}")))?;
        Ok(([(CONTENT_TYPE, "application/json")], body).into_response())
    })
    .await
}

/// The run list's answer.
#[derive(Serialize)]
struct RunList<'a> {
    runs: Vec<Row<'a>>,
}

/// `GET /runlog/api/runs/{run}`: a run's row and everything it holds: its
/// table columns, text series, log streams and artifacts.
pub async fn run(State(app): State<AppState>, Path(run): Path<String>) -> ApiResult<Json<Value>> {
    let run = parse_run(&run)?;
    blocking(app, move |db| {
        let info = db.run(run)?;
        let mut stats = Vec::new();
        for name in db
            .metric_names(run)?
            .into_iter()
            .chain(db.column_names(run)?)
        {
            stats.push((db.stats(run, &name)?, name));
        }
        let row = Row::of(db, &info, stats.iter().map(|(s, n)| (n.as_str(), s)));
        let mut row = serde_json::to_value(row)
            .map_err(|e| ApiError::internal(format!("cannot encode run {}: {e}", run.0)))?;
        row["columns"] = json!(db.column_names(run)?);
        row["texts"] = json!(db.text_series(run)?);
        row["logs"] = json!(db.log_streams(run)?);
        let artifacts: Vec<Value> = db
            .artifacts(run, "")?
            .into_iter()
            .map(|a| {
                json!({
                    "path": a.path, "size": a.size, "media_type": a.media_type,
                    "time_ms": a.time_ms, "step": a.step,
                })
            })
            .collect();
        row["artifacts"] = json!(artifacts);
        Ok(Json(row))
    })
    .await
}

#[derive(Deserialize)]
pub struct HistoryQuery {
    name: String,
    #[serde(default, deserialize_with = "lenient_i64")]
    buckets: Option<i64>,
    #[serde(default, deserialize_with = "lenient_i64")]
    start: Option<i64>,
    #[serde(default, deserialize_with = "lenient_i64")]
    end: Option<i64>,
}

/// `GET /runlog/api/runs/{run}/history?name=M&buckets=N&start=S&end=E`:
/// metric `M` (or table column `TABLE/COLUMN`) cut into at most `N` step
/// ranges, each as the step, time and value of its last point and its min
/// and max, so that no spike vanishes. A range with one point is that
/// point, exactly.
pub async fn history(
    State(app): State<AppState>,
    Path(run): Path<String>,
    Req(query): Req<HistoryQuery>,
) -> ApiResult<Json<Value>> {
    let run = parse_run(&run)?;
    let buckets = match query.buckets {
        None => DEFAULT_BUCKETS,
        Some(n) => usize::try_from(n)
            .ok()
            .filter(|n| (1..=MAX_BUCKETS).contains(n))
            .ok_or_else(|| ApiError::invalid(format!("buckets {n}: give 1 to {MAX_BUCKETS}")))?,
    };
    let range = query.start.unwrap_or(i64::MIN)..=query.end.unwrap_or(i64::MAX);
    if range.is_empty() {
        return Err(ApiError::invalid(format!(
            "end {} is before start {}",
            range.end(),
            range.start()
        )));
    }
    blocking(app, move |db| {
        let buckets = db.downsample(run, &query.name, range, buckets)?;
        let floats = |f: fn(&runlog::Bucket) -> f64| -> Vec<Value> {
            buckets.iter().map(|b| value_json(f(b))).collect()
        };
        Ok(Json(json!({
            "name": query.name,
            "steps": buckets.iter().map(|b| b.last_step).collect::<Vec<_>>(),
            "timestamps": buckets.iter().map(|b| b.last_timestamp).collect::<Vec<_>>(),
            "counts": buckets.iter().map(|b| b.count).collect::<Vec<_>>(),
            "values": floats(|b| b.last),
            "min": floats(|b| b.min),
            "max": floats(|b| b.max),
        })))
    })
    .await
}

#[derive(Deserialize)]
pub struct LogsQuery {
    stream: String,
    #[serde(default, deserialize_with = "lenient_i64")]
    from: Option<i64>,
    #[serde(default, deserialize_with = "lenient_i64")]
    max: Option<i64>,
}

/// `GET /runlog/api/runs/{run}/logs?stream=S&from=N&max=M`: up to `M`
/// lines of log stream `S` from line `N`, and `next`, the line to ask
/// from to follow the stream without skipping any.
pub async fn logs(
    State(app): State<AppState>,
    Path(run): Path<String>,
    Req(query): Req<LogsQuery>,
) -> ApiResult<Json<Value>> {
    let run = parse_run(&run)?;
    let from = query.from.unwrap_or(0);
    let from = u64::try_from(from)
        .map_err(|_| ApiError::invalid(format!("from {from}: a line number is 0 or more")))?;
    let max = match query.max {
        None => MAX_LOG_LINES,
        Some(n) => usize::try_from(n)
            .ok()
            .filter(|n| (1..=MAX_LOG_LINES).contains(n))
            .ok_or_else(|| ApiError::invalid(format!("max {n}: give 1 to {MAX_LOG_LINES}")))?,
    };
    blocking(app, move |db| {
        let lines = db.log_lines(run, &query.stream, from, max)?;
        Ok(Json(json!({
            "first_line": lines.first_line,
            "lines": lines.lines,
            "unterminated": lines.unterminated,
            "next": lines.next_line(),
        })))
    })
    .await
}

#[derive(Deserialize)]
pub struct TextsQuery {
    name: String,
}

/// `GET /runlog/api/runs/{run}/texts?name=T`: every value of text series
/// `T`, by step.
pub async fn texts(
    State(app): State<AppState>,
    Path(run): Path<String>,
    Req(query): Req<TextsQuery>,
) -> ApiResult<Json<Value>> {
    let run = parse_run(&run)?;
    blocking(app, move |db| {
        Ok(Json(json!({ "texts": db.text_history(run, &query.name)? })))
    })
    .await
}

/// A run list row: the run, its params and tags, and the summary of every
/// metric.
#[derive(Serialize)]
struct Row<'a> {
    id: String,
    name: &'a str,
    experiment: &'a str,
    experiment_id: String,
    status: RunStatus,
    start_ms: i64,
    end_ms: Option<i64>,
    last_write_ms: i64,
    params: &'a BTreeMap<String, String>,
    tags: &'a BTreeMap<String, String>,
    metrics: BTreeMap<&'a str, Summary>,
}

/// A metric's summary in a row.
#[derive(Serialize)]
struct Summary {
    last: Float,
    min: Float,
    max: Float,
    count: u64,
    last_step: i64,
}

impl<'a> Row<'a> {
    fn of(
        db: &Db,
        info: &'a RunInfo,
        metrics: impl Iterator<Item = (&'a str, &'a Stats)>,
    ) -> Row<'a> {
        let metrics = metrics
            .map(|(name, s)| {
                let summary = Summary {
                    last: Float(s.last_value),
                    min: Float(s.min),
                    max: Float(s.max),
                    count: s.count,
                    last_step: s.last_step,
                };
                (name, summary)
            })
            .collect();
        Row {
            id: info.id.0.to_string(),
            name: &info.name,
            experiment: &info.experiment,
            experiment_id: experiment_id_of(db, &info.experiment),
            status: info.status,
            start_ms: info.start_ms,
            end_ms: info.end_ms,
            last_write_ms: info.last_write_ms,
            params: &info.params,
            tags: &info.tags,
            metrics,
        }
    }
}

fn parse_run(text: &str) -> ApiResult<RunId> {
    text.parse::<u64>()
        .map(RunId)
        .map_err(|_| ApiError::not_found(format!("no run with id {text:?}")))
}

fn status_of(name: &str) -> ApiResult<RunStatus> {
    match name {
        "running" => Ok(RunStatus::Running),
        "completed" => Ok(RunStatus::Completed),
        "failed" => Ok(RunStatus::Failed),
        "killed" => Ok(RunStatus::Killed),
        other => Err(ApiError::invalid(format!(
            "unknown status {other:?}: give running, completed, failed or killed"
        ))),
    }
}
