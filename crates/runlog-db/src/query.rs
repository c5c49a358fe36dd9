//! Commands that read runs and metrics.

use std::path::Path;

use runlog::{Db, RunFilter, RunId, RunStatus};
use serde_json::{Value, json};

use crate::output::{Table, json_num, num, time};

/// Opens `dir` read-only, with a clear error if it holds no database.
pub fn open(dir: &Path) -> Result<Db, String> {
    if !dir.join("MANIFEST").exists() && !dir.join("wal").exists() {
        return Err(format!("{} is not a runlog database", dir.display()));
    }
    Db::open_read_only(dir).map_err(|e| e.to_string())
}

/// Finds a run by id, `experiment/name`, or a name unique in the database.
pub fn resolve_run(db: &Db, run: &str) -> Result<RunId, String> {
    if let Ok(id) = run.parse::<u64>()
        && db.run(RunId(id)).is_ok()
    {
        return Ok(RunId(id));
    }
    if let Some((experiment, name)) = run.split_once('/')
        && let Some(id) = db.find_run(experiment, name)
    {
        return Ok(id);
    }
    let matches: Vec<RunId> = db
        .runs(&RunFilter::default())
        .into_iter()
        .filter(|r| r.info.name == run)
        .map(|r| r.info.id)
        .collect();
    match matches[..] {
        [id] => Ok(id),
        [] => Err(format!(
            "no run {run:?} (give an id, experiment/name or a unique name)"
        )),
        _ => Err(format!(
            "{} runs are named {run:?}; give experiment/name or the id",
            matches.len()
        )),
    }
}

fn print_json(value: &Value) {
    println!("{value}");
}

/// `runs`: the run list.
pub fn runs(
    dir: &Path,
    experiment: Option<String>,
    status: Option<String>,
    tag: Option<String>,
    metric: &str,
    json: bool,
) -> Result<(), String> {
    let db = open(dir)?;
    let status = status.map(|s| s.parse::<RunStatus>()).transpose()?;
    let tag = tag
        .map(|t| {
            t.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| format!("--tag {t:?} is not key=value"))
        })
        .transpose()?;
    let filter = RunFilter {
        experiment,
        status,
        tag,
    };
    print_runs(&db, &filter, metric, json);
    Ok(())
}

/// Prints the runs matching `filter` with `metric`'s summary.
pub fn print_runs(db: &Db, filter: &RunFilter, metric: &str, json: bool) {
    let runs = db.runs(filter);
    if json {
        let rows: Vec<Value> = runs
            .iter()
            .map(|r| {
                let stats = r.metric(metric);
                json!({
                    "id": r.info.id.0,
                    "experiment": r.info.experiment,
                    "name": r.info.name,
                    "status": r.info.status.as_str(),
                    "start_ms": r.info.start_ms,
                    "end_ms": r.info.end_ms,
                    "last_write_ms": r.info.last_write_ms,
                    "metric": metric,
                    "count": stats.map(|s| s.count),
                    "last": stats.map(|s| json_num(s.last_value)),
                    "min": stats.map(|s| json_num(s.min)),
                    "max": stats.map(|s| json_num(s.max)),
                })
            })
            .collect();
        print_json(&Value::Array(rows));
        return;
    }
    let mut table = Table::new(&[
        "id",
        "experiment",
        "run",
        "status",
        "start",
        "end",
        metric,
        "min",
        "max",
    ]);
    for r in &runs {
        let stats = r.metric(metric);
        let cell = |f: fn(&runlog::Stats) -> f64| stats.map_or("-".to_string(), |s| num(f(s)));
        table.row(vec![
            r.info.id.to_string(),
            r.info.experiment.clone(),
            r.info.name.clone(),
            r.info.status.to_string(),
            time(r.info.start_ms),
            r.info.end_ms.map_or("-".into(), time),
            cell(|s| s.last_value),
            cell(|s| s.min),
            cell(|s| s.max),
        ]);
    }
    println!("{}", table.render());
}

/// `metrics`: every metric of a run with its statistics.
pub fn metrics(dir: &Path, run: &str, json: bool) -> Result<(), String> {
    let db = open(dir)?;
    let id = resolve_run(&db, run)?;
    let names = db.metric_names(id).map_err(|e| e.to_string())?;
    let all: Vec<(String, runlog::Stats)> = names
        .into_iter()
        .map(|n| db.stats(id, &n).map(|s| (n, s)).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    if json {
        let rows: Vec<Value> = all
            .iter()
            .map(|(name, s)| {
                json!({
                    "metric": name, "count": s.count, "first_step": s.first_step,
                    "last_step": s.last_step, "last": json_num(s.last_value),
                    "min": json_num(s.min), "max": json_num(s.max),
                })
            })
            .collect();
        print_json(&Value::Array(rows));
        return Ok(());
    }
    let mut table = Table::new(&[
        "metric",
        "count",
        "first step",
        "last step",
        "last",
        "min",
        "max",
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
    println!("{}", table.render());
    Ok(())
}

/// `history`: points or buckets.
#[allow(
    clippy::too_many_arguments,
    reason = "one argument per command-line option"
)]
pub fn history(
    dir: &Path,
    run: &str,
    metric: &str,
    from: Option<i64>,
    to: Option<i64>,
    limit: Option<usize>,
    buckets: Option<usize>,
    json: bool,
) -> Result<(), String> {
    let db = open(dir)?;
    let id = resolve_run(&db, run)?;
    let range = from.unwrap_or(i64::MIN)..=to.unwrap_or(i64::MAX);
    if let Some(buckets) = buckets {
        let buckets = db
            .downsample(id, metric, range, buckets)
            .map_err(|e| e.to_string())?;
        let mut table = Table::new(&[
            "from step",
            "to step",
            "count",
            "first",
            "last",
            "min",
            "max",
        ]);
        for b in buckets.iter().take(limit.unwrap_or(usize::MAX)) {
            if json {
                print_json(&json!({
                    "start_step": b.start_step, "end_step": b.end_step, "count": b.count,
                    "first": json_num(b.first), "last": json_num(b.last),
                    "min": json_num(b.min), "max": json_num(b.max),
                }));
            } else {
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
        }
        if !json {
            println!("{}", table.render());
        }
        return Ok(());
    }
    let points = db.history(id, metric, range).map_err(|e| e.to_string())?;
    let shown = points.len().min(limit.unwrap_or(usize::MAX));
    let mut table = Table::new(&["step", "timestamp_ms", "value"]);
    for i in 0..shown {
        if json {
            print_json(&json!({
                "step": points.steps[i], "timestamp_ms": points.timestamps[i],
                "value": json_num(points.values[i]),
            }));
        } else {
            table.row(vec![
                points.steps[i].to_string(),
                points.timestamps[i].to_string(),
                num(points.values[i]),
            ]);
        }
    }
    if !json {
        println!("{}", table.render());
    }
    Ok(())
}

/// `latest`: one metric's latest point, or every metric's.
pub fn latest(dir: &Path, run: &str, metric: Option<&str>, json: bool) -> Result<(), String> {
    let db = open(dir)?;
    let id = resolve_run(&db, run)?;
    let names = match metric {
        Some(m) => vec![m.to_string()],
        None => db.metric_names(id).map_err(|e| e.to_string())?,
    };
    let mut table = Table::new(&["metric", "step", "timestamp", "value"]);
    let mut rows = Vec::new();
    for name in names {
        let point = db.latest(id, &name).map_err(|e| e.to_string())?;
        rows.push(json!({
            "metric": name, "step": point.step, "timestamp_ms": point.timestamp_ms,
            "value": json_num(point.value),
        }));
        table.row(vec![
            name,
            point.step.to_string(),
            time(point.timestamp_ms),
            num(point.value),
        ]);
    }
    if json {
        print_json(&Value::Array(rows));
    } else {
        println!("{}", table.render());
    }
    Ok(())
}

/// `params` and `tags`.
pub fn key_values(dir: &Path, run: &str, what: &str, json: bool) -> Result<(), String> {
    let db = open(dir)?;
    let id = resolve_run(&db, run)?;
    let info = db.run(id).map_err(|e| e.to_string())?;
    let map = if what == "param" {
        info.params
    } else {
        info.tags
    };
    if json {
        print_json(&json!(map));
        return Ok(());
    }
    let mut table = Table::new(&["key", "value"]);
    for (k, v) in map {
        table.row(vec![k, v]);
    }
    println!("{}", table.render());
    Ok(())
}
