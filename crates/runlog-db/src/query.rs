//! Commands that read runs and metrics.

use std::path::Path;
use std::str::FromStr;

use runlog::{DEFAULT_CHUNK_POINTS, Db, RunFilter, RunStatus, RunSummary, Stats};
use serde_json::{Value, json};

use crate::output::{Align, CliResult, Out, Table, duration, num, time};
use crate::run_arg::RunArg;

/// Opens `dir` read-only, with a clear error if it holds no database.
pub fn open(dir: &Path) -> Result<Db, String> {
    is_database(dir)?;
    Db::open_read_only(dir).map_err(|e| e.to_string())
}

/// Refuses a directory that holds no database.
fn is_database(dir: &Path) -> Result<(), String> {
    if !dir.join("MANIFEST").exists() && !dir.join("wal").exists() {
        return Err(format!("{} is not a runlog database", dir.display()));
    }
    Ok(())
}

/// Opens a database for writing (creating a new one) and says on standard
/// error what recovery cut: a torn tail is a write call the last writer
/// never acknowledged, and is reported, never dropped silently.
pub fn open_writer(builder: runlog::DbBuilder) -> Result<Db, String> {
    let db = builder.open().map_err(|e| e.to_string())?;
    if let runlog::WalTail::Corrupt { file, offset, kind } = db.recovered_tail() {
        eprintln!(
            "runlog-db: recovery cut a torn tail from {} at byte {offset} ({kind}): a write call the last writer never acknowledged",
            file.display()
        );
    }
    let discarded = db.discarded_staged_runs();
    if !discarded.is_empty() {
        let names: Vec<String> = discarded
            .iter()
            .take(5)
            .map(|r| format!("{}/{}", r.experiment, r.name))
            .collect();
        eprintln!(
            "runlog-db: deleted {} runs that an interrupted import had staged and never published ({}{})",
            discarded.len(),
            names.join(", "),
            if discarded.len() > 5 { ", ..." } else { "" }
        );
    }
    Ok(db)
}

/// A float for JSON: a number, or the exact spelling as a string (JSON has
/// no NaN or infinity).
pub fn json_num(value: f64) -> Value {
    if value.is_finite() {
        json!(value)
    } else {
        json!(runlog::float_text::exact(value))
    }
}

/// Which statistic `runs --sort` orders by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortBy {
    /// The latest value.
    Last,
    /// The smallest value.
    Min,
    /// The largest value.
    Max,
}

/// `--sort METRIC[:last|min|max]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SortKey {
    metric: String,
    by: SortBy,
}

impl FromStr for SortKey {
    type Err = String;

    fn from_str(text: &str) -> Result<SortKey, String> {
        let (metric, by) = match text.rsplit_once(':') {
            Some((metric, "last")) => (metric, SortBy::Last),
            Some((metric, "min")) => (metric, SortBy::Min),
            Some((metric, "max")) => (metric, SortBy::Max),
            _ => (text, SortBy::Last),
        };
        if metric.is_empty() {
            return Err(format!("--sort {text:?}: give METRIC[:last|min|max]"));
        }
        Ok(SortKey {
            metric: metric.to_string(),
            by,
        })
    }
}

impl SortKey {
    fn value(&self, stats: &Stats) -> f64 {
        match self.by {
            SortBy::Last => stats.last_value,
            SortBy::Min => stats.min,
            SortBy::Max => stats.max,
        }
    }
}

/// What `runs` lists.
#[derive(Debug)]
pub struct RunsQuery {
    /// Only this experiment.
    pub experiment: Option<String>,
    /// Only this status.
    pub status: Option<String>,
    /// Only runs with this `key=value` tag.
    pub tag: Option<String>,
    /// The metrics shown.
    pub metrics: Vec<String>,
    /// The order.
    pub sort: Option<SortKey>,
    /// Largest first.
    pub descending: bool,
    /// At most this many runs.
    pub limit: Option<usize>,
}

/// `experiments`: names and run counts.
pub fn experiments(dir: &Path, json: bool) -> CliResult {
    let db = open(dir)?;
    let experiments = db.experiments();
    let mut out = Out::new();
    if json {
        return out.json(&experiments);
    }
    let mut table = Table::new(&[("experiment", Align::Left), ("runs", Align::Right)]);
    for (name, runs) in &experiments {
        table.row(vec![name.clone(), runs.to_string()]);
    }
    table.print(&mut out)
}

/// `runs`: the run list.
pub fn runs(dir: &Path, query: RunsQuery, json: bool) -> CliResult {
    let db = open(dir)?;
    let status = query.status.map(|s| s.parse::<RunStatus>()).transpose()?;
    let tag = query
        .tag
        .map(|t| {
            t.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| format!("--tag {t:?} is not key=value"))
        })
        .transpose()?;
    // Only the metrics shown and sorted by are summarised.
    let mut chosen = query.metrics.clone();
    chosen.extend(query.sort.as_ref().map(|s| s.metric.clone()));
    let filter = RunFilter {
        experiment: query.experiment,
        status,
        tag,
        metrics: Some(chosen),
    };
    let mut runs = db.runs(&filter);
    if let Some(sort) = &query.sort {
        // Runs without the metric last; NaN after every number.
        runs.sort_by(|a, b| {
            let key = |r: &RunSummary| r.metric(&sort.metric).map(|s| sort.value(s));
            match (key(a), key(b)) {
                (Some(x), Some(y)) => match (x.is_nan(), y.is_nan()) {
                    (false, false) => x.total_cmp(&y),
                    (x_nan, y_nan) => x_nan.cmp(&y_nan),
                },
                (x, y) => x.is_none().cmp(&y.is_none()),
            }
        });
    }
    if query.descending {
        // Reversed within the runs that have the metric; the others stay last.
        let with = query.sort.as_ref().map_or(runs.len(), |sort| {
            runs.iter()
                .filter(|r| r.metric(&sort.metric).is_some())
                .count()
        });
        runs[..with].reverse();
    }
    runs.truncate(query.limit.unwrap_or(usize::MAX));
    print_runs(&runs, &query.metrics, json)
}

/// Prints runs with the last/min/max of each of `metrics`.
pub fn print_runs(runs: &[RunSummary], metrics: &[String], json: bool) -> CliResult {
    let mut out = Out::new();
    if json {
        let rows: Vec<Value> = runs
            .iter()
            .map(|r| {
                let summaries: serde_json::Map<String, Value> = metrics
                    .iter()
                    .map(|m| match (r.metric(m), r.text(m)) {
                        (None, Some(text)) => (m.clone(), json!(text)),
                        (stats, _) => (m.clone(), json!(stats)),
                    })
                    .collect();
                json!({
                    "id": r.info.id, "experiment": r.info.experiment, "name": r.info.name,
                    "status": r.info.status, "start_ms": r.info.start_ms, "end_ms": r.info.end_ms,
                    "last_write_ms": r.info.last_write_ms, "metrics": summaries,
                })
            })
            .collect();
        return out.json(&rows);
    }
    let mut columns = vec![
        ("id", Align::Right),
        ("experiment", Align::Left),
        ("run", Align::Left),
        ("status", Align::Left),
        ("start", Align::Left),
        ("duration", Align::Right),
    ];
    let headers: Vec<[String; 3]> = metrics
        .iter()
        .map(|m| [m.clone(), format!("{m} min"), format!("{m} max")])
        .collect();
    for header in &headers {
        columns.extend(header.iter().map(|h| (h.as_str(), Align::Right)));
    }
    let mut table = Table::new(&columns);
    for r in runs {
        let end = r.info.end_ms.unwrap_or(r.info.last_write_ms);
        let mut cells = vec![
            r.info.id.to_string(),
            r.info.experiment.clone(),
            r.info.name.clone(),
            r.info.status.to_string(),
            time(r.info.start_ms),
            duration(end - r.info.start_ms),
        ];
        for metric in metrics {
            match (r.metric(metric), r.text(metric)) {
                (Some(s), _) => cells.extend([num(s.last_value), num(s.min), num(s.max)]),
                (None, Some(text)) => cells.extend([text.value.clone(), "-".into(), "-".into()]),
                (None, None) => cells.extend(["-".into(), "-".into(), "-".into()]),
            }
        }
        table.row(cells);
    }
    table.print(&mut out)
}

/// `metrics`: every metric of a run with its statistics.
pub fn metrics(dir: &Path, run: &RunArg, json: bool) -> CliResult {
    let db = open(dir)?;
    let id = run.resolve(&db)?;
    let mut names = db.metric_names(id)?;
    names.extend(db.column_names(id)?);
    let all: Vec<(String, Stats)> = names
        .into_iter()
        .map(|n| db.stats(id, &n).map(|s| (n, s)))
        .collect::<Result<_, _>>()?;
    let texts: Vec<(String, Vec<runlog::TextPoint>)> = db
        .text_series(id)?
        .into_iter()
        .map(|n| db.text_history(id, &n).map(|h| (n, h)))
        .collect::<Result<_, _>>()?;
    let mut out = Out::new();
    if json {
        let mut rows: Vec<Value> = all
            .iter()
            .map(|(name, s)| {
                let mut row = json!(s);
                row["metric"] = json!(name);
                row
            })
            .collect();
        rows.extend(texts.iter().map(|(name, points)| {
            json!({
                "metric": name, "kind": "text", "count": points.len(),
                "last": points.last(),
            })
        }));
        return out.json(&rows);
    }
    let mut table = Table::new(&[
        ("metric", Align::Left),
        ("count", Align::Right),
        ("first step", Align::Right),
        ("last step", Align::Right),
        ("last", Align::Right),
        ("min", Align::Right),
        ("max", Align::Right),
    ]);
    for (name, s) in &all {
        table.row(vec![
            name.clone(),
            s.count.to_string(),
            s.first_step.to_string(),
            s.last_step.to_string(),
            num(s.last_value),
            num(s.min),
            num(s.max),
        ]);
    }
    for (name, points) in &texts {
        let (first, last) = (points.first(), points.last());
        table.row(vec![
            name.clone(),
            points.len().to_string(),
            first.map_or_else(|| "-".into(), |p| p.step.to_string()),
            last.map_or_else(|| "-".into(), |p| p.step.to_string()),
            last.map_or_else(|| "-".into(), |p| p.value.clone()),
            "-".into(),
            "-".into(),
        ]);
    }
    table.print(&mut out)
}

/// The options of `history`.
#[derive(Clone, Copy, Debug)]
pub struct HistoryQuery {
    /// First step.
    pub from: Option<i64>,
    /// Last step.
    pub to: Option<i64>,
    /// At most this many points or buckets.
    pub limit: Option<usize>,
    /// Downsample into this many buckets.
    pub buckets: Option<usize>,
}

/// `history`: points (streamed, in bounded memory) or buckets.
pub fn history(
    dir: &Path,
    run: &RunArg,
    metric: &str,
    query: HistoryQuery,
    json: bool,
) -> CliResult {
    let db = open(dir)?;
    let id = run.resolve(&db)?;
    let range = query.from.unwrap_or(i64::MIN)..=query.to.unwrap_or(i64::MAX);
    let limit = query.limit.unwrap_or(usize::MAX);
    let mut out = Out::new();
    if let Err(numeric) = db.stats(id, metric) {
        // A text series, or a table's string column, else no such name.
        let Ok(points) = db.text_history(id, metric) else {
            return Err(numeric.into());
        };
        if query.buckets.is_some() {
            return Err(format!("{metric:?} is a text series: it has no buckets").into());
        }
        if !json {
            out.line(format!("{:>12}  {:<27}  value", "step", "time"))?;
        }
        for p in points
            .iter()
            .filter(|p| range.contains(&p.step))
            .take(limit)
        {
            if json {
                out.json(&json!({"step": p.step, "timestamp_ms": p.timestamp, "value": p.value}))?;
            } else {
                out.line(format!(
                    "{:>12}  {:<27}  {}",
                    p.step,
                    time(p.timestamp),
                    p.value
                ))?;
            }
        }
        return Ok(());
    }
    if let Some(buckets) = query.buckets {
        let buckets = db.downsample(id, metric, range, buckets)?;
        let buckets = &buckets[..buckets.len().min(limit)];
        if json {
            for bucket in buckets {
                out.json(bucket)?;
            }
            return Ok(());
        }
        let mut table = Table::new(&[
            ("from step", Align::Right),
            ("to step", Align::Right),
            ("count", Align::Right),
            ("first", Align::Right),
            ("last", Align::Right),
            ("min", Align::Right),
            ("max", Align::Right),
        ]);
        for b in buckets {
            table.row(vec![
                b.start_step.to_string(),
                b.end_step.to_string(),
                b.count.to_string(),
                num(b.first),
                num(b.last),
                num(b.min),
                num(b.max),
            ]);
        }
        return table.print(&mut out);
    }
    // Streamed: one window of points at a time, one line per point (a
    // table would have to hold every row to size its columns).
    let mut printed = 0;
    if !json {
        out.line(format!("{:>12}  {:<27}  {:>12}", "step", "time", "value"))?;
    }
    for chunk in db.history_chunks(id, metric, range, DEFAULT_CHUNK_POINTS)? {
        let chunk = chunk?;
        for i in 0..chunk.len() {
            if printed == limit {
                return Ok(());
            }
            let (step, timestamp, value) = (chunk.steps[i], chunk.timestamps[i], chunk.values[i]);
            if json {
                out.json(&json!({
                    "step": step, "timestamp_ms": timestamp, "value": json_num(value),
                }))?;
            } else {
                out.line(format!(
                    "{step:>12}  {:<27}  {:>12}",
                    time(timestamp),
                    num(value)
                ))?;
            }
            printed += 1;
        }
    }
    Ok(())
}

/// `latest`: one metric's latest point, or every metric's.
pub fn latest(dir: &Path, run: &RunArg, metric: Option<&str>, json: bool) -> CliResult {
    // One metric's latest point needs only where the run is, not the whole
    // database; every other case (a text series, all series) opens it.
    if let Some(name) = metric {
        is_database(dir)?;
        if let Some(point) = run.look_up(dir).ok().and_then(|r| r.latest(name).ok()) {
            let mut out = Out::new();
            if json {
                let mut row = json!(point);
                row["metric"] = json!(name);
                return out.json(&[row]);
            }
            let mut table = latest_table();
            table.row(latest_row(name, &point));
            return table.print(&mut out);
        }
    }
    let db = open(dir)?;
    let id = run.resolve(&db)?;
    let (names, texts) = match metric {
        Some(m) if db.stats(id, m).is_err() && db.text_latest(id, m).is_ok() => {
            (Vec::new(), vec![m.to_string()])
        }
        Some(m) => (vec![m.to_string()], Vec::new()),
        None => {
            let mut names = db.metric_names(id)?;
            names.extend(db.column_names(id)?);
            (names, db.text_series(id)?)
        }
    };
    let mut table = latest_table();
    let mut rows = Vec::new();
    for name in names {
        let point = db.latest(id, &name)?;
        table.row(latest_row(&name, &point));
        let mut row = json!(point);
        row["metric"] = json!(name);
        rows.push(row);
    }
    for name in texts {
        let point = db.text_latest(id, &name)?;
        table.row(vec![
            name.clone(),
            point.step.to_string(),
            time(point.timestamp),
            point.value.clone(),
        ]);
        rows.push(json!({"metric": name, "step": point.step, "timestamp_ms": point.timestamp, "value": point.value}));
    }
    let mut out = Out::new();
    if json {
        out.json(&rows)
    } else {
        table.print(&mut out)
    }
}

/// The table `latest` prints.
fn latest_table() -> Table {
    Table::new(&[
        ("metric", Align::Left),
        ("step", Align::Right),
        ("time", Align::Left),
        ("value", Align::Right),
    ])
}

/// One metric's row of [`latest_table`].
fn latest_row(name: &str, point: &runlog::Point) -> Vec<String> {
    vec![
        name.to_string(),
        point.step.to_string(),
        time(point.timestamp_ms),
        num(point.value),
    ]
}

/// `params` and `tags`, read from where the run is ([`RunArg::look_up`]).
pub fn key_values(dir: &Path, run: &RunArg, what: &str, json: bool) -> CliResult {
    is_database(dir)?;
    let info = run.look_up(dir)?.info().clone();
    let map = if what == "param" {
        info.params
    } else {
        info.tags
    };
    let mut out = Out::new();
    if json {
        return out.json(&map);
    }
    let mut table = Table::new(&[("key", Align::Left), ("value", Align::Left)]);
    for (k, v) in map {
        table.row(vec![k, v]);
    }
    table.print(&mut out)
}
