//! `export` and `import`: points as CSV or JSON lines with the columns
//! `run, experiment, metric, step, timestamp_ms, value`. Values round-trip
//! bit for bit: finite values in Rust's shortest round-trip form, `inf`,
//! `-inf`, `NaN`, and a NaN with another payload as `NaN:0x<16 hex digits>`.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use runlog::{Db, RunFilter};
use serde_json::{Value, json};

use crate::output::num;
use crate::query::{open, resolve_run};

const HEADER: &str = "run,experiment,metric,step,timestamp_ms,value";

/// The file formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Comma-separated, with a header line.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

/// Parses [`num`]'s output (and any float Rust parses).
pub fn parse_value(text: &str) -> Result<f64, String> {
    if let Some(hex) = text.strip_prefix("NaN:0x") {
        let bits = u64::from_str_radix(hex, 16).map_err(|_| format!("bad NaN payload {text:?}"))?;
        let value = f64::from_bits(bits);
        return if value.is_nan() {
            Ok(value)
        } else {
            Err(format!("{text:?} is not a NaN"))
        };
    }
    text.parse::<f64>()
        .map_err(|_| format!("{text:?} is not a number"))
}

fn csv_field(field: &str) -> String {
    if field.contains([',', '"']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

/// Splits one CSV line into fields (quotes as written by `csv_field`).
fn csv_fields(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', false) if field.is_empty() => quoted = true,
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            ('"', true) => quoted = false,
            (',', false) => fields.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    if quoted {
        return Err("unterminated quote".into());
    }
    fields.push(field);
    Ok(fields)
}

/// `export`: every metric point of every run (or one run).
pub fn export(dir: &Path, run: Option<&str>, format: Format, output: &Path) -> Result<(), String> {
    let db = open(dir)?;
    let runs = match run {
        Some(run) => vec![resolve_run(&db, run)?],
        None => db
            .runs(&RunFilter::default())
            .iter()
            .map(|r| r.info.id)
            .collect(),
    };
    let file =
        File::create(output).map_err(|e| format!("cannot create {}: {e}", output.display()))?;
    let mut out = BufWriter::new(file);
    let write_error = |e: std::io::Error| format!("cannot write {}: {e}", output.display());
    if format == Format::Csv {
        writeln!(out, "{HEADER}").map_err(write_error)?;
    }
    let mut points = 0u64;
    for id in runs {
        let info = db.run(id).map_err(|e| e.to_string())?;
        for metric in db.metric_names(id).map_err(|e| e.to_string())? {
            let history = db.history(id, &metric, ..).map_err(|e| e.to_string())?;
            for i in 0..history.len() {
                let value = num(history.values[i]);
                let line = match format {
                    Format::Csv => format!(
                        "{},{},{},{},{},{value}",
                        csv_field(&info.name),
                        csv_field(&info.experiment),
                        csv_field(&metric),
                        history.steps[i],
                        history.timestamps[i]
                    ),
                    Format::Jsonl => {
                        let value = if history.values[i].is_finite() {
                            json!(history.values[i])
                        } else {
                            json!(value)
                        };
                        json!({
                            "run": info.name, "experiment": info.experiment, "metric": metric,
                            "step": history.steps[i], "timestamp_ms": history.timestamps[i],
                            "value": value,
                        })
                        .to_string()
                    }
                };
                writeln!(out, "{line}").map_err(write_error)?;
                points += 1;
            }
        }
    }
    out.flush().map_err(write_error)?;
    eprintln!("exported {points} points to {}", output.display());
    Ok(())
}

/// One parsed line.
struct Row {
    run: String,
    experiment: String,
    metric: String,
    step: i64,
    timestamp: i64,
    value: f64,
}

fn parse_csv(fields: Vec<String>) -> Result<Row, String> {
    let [run, experiment, metric, step, timestamp, value] = <[String; 6]>::try_from(fields)
        .map_err(|f| format!("{} fields, expected 6 ({HEADER})", f.len()))?;
    Ok(Row {
        step: step
            .parse()
            .map_err(|_| format!("step {step:?} is not an integer"))?,
        timestamp: timestamp
            .parse()
            .map_err(|_| format!("timestamp_ms {timestamp:?} is not an integer"))?,
        value: parse_value(&value)?,
        run,
        experiment,
        metric,
    })
}

fn parse_jsonl(line: &str) -> Result<Row, String> {
    let object: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let text = |key: &str| {
        object[key]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("{key:?} must be a string"))
    };
    let int = |key: &str| {
        object[key]
            .as_i64()
            .ok_or_else(|| format!("{key:?} must be an integer"))
    };
    let value = match &object["value"] {
        Value::Number(n) => n.as_f64().ok_or("value out of range")?,
        Value::String(s) => parse_value(s)?,
        _ => return Err("\"value\" must be a number or a string".into()),
    };
    Ok(Row {
        run: text("run")?,
        experiment: text("experiment")?,
        metric: text("metric")?,
        step: int("step")?,
        timestamp: int("timestamp_ms")?,
        value,
    })
}

/// Refuses, before anything is written, what the engine would refuse for
/// one run after others were written: a metric name that is a table of an
/// existing run, or more metrics than a run may hold.
fn check_against(db: &Db, by_run: &BTreeMap<(String, String), Vec<Row>>) -> Result<(), String> {
    let limit = runlog::Limits::default().metrics_per_run;
    for ((experiment, name), rows) in by_run {
        let existing = db.find_run(experiment, name);
        let held = match existing {
            Some(run) => {
                db.metric_names(run).map_err(|e| e.to_string())?.len()
                    + db.table_names(run).map_err(|e| e.to_string())?.len()
            }
            None => 0,
        };
        let mut new = std::collections::BTreeSet::new();
        for row in rows {
            match existing.and_then(|run| db.series_kind(run, &row.metric)) {
                Some("table") => {
                    return Err(format!(
                        "run {experiment}/{name}: {:?} is a table metric there; nothing imported",
                        row.metric
                    ));
                }
                Some(_) => {}
                None => {
                    new.insert(row.metric.as_str());
                }
            }
        }
        if held + new.len() > limit {
            return Err(format!(
                "run {experiment}/{name} would hold {} metrics, the limit is {limit}; nothing imported",
                held + new.len()
            ));
        }
    }
    Ok(())
}

/// `import`: all or nothing. Every line is parsed and checked before the
/// first point is written; a bad line is reported with its number.
pub fn import(dir: &Path, format: Format, input: &Path) -> Result<(), String> {
    let file = File::open(input).map_err(|e| format!("cannot open {}: {e}", input.display()))?;
    let mut rows = Vec::new();
    for (index, line) in BufReader::new(file).lines().enumerate() {
        let number = index + 1;
        let line = line.map_err(|e| format!("{}: line {number}: {e}", input.display()))?;
        if line.trim().is_empty() || (format == Format::Csv && number == 1 && line == HEADER) {
            continue;
        }
        let row = match format {
            Format::Csv => csv_fields(&line).and_then(parse_csv),
            Format::Jsonl => parse_jsonl(&line),
        }
        .and_then(|row| {
            for (what, name) in [
                ("run", &row.run),
                ("experiment", &row.experiment),
                ("metric", &row.metric),
            ] {
                runlog::check_name(what, name).map_err(|e| e.to_string())?;
            }
            Ok(row)
        });
        rows.push(row.map_err(|e| format!("{}: line {number}: {e}", input.display()))?);
    }
    let mut by_run: BTreeMap<(String, String), Vec<Row>> = BTreeMap::new();
    for row in rows {
        by_run
            .entry((row.experiment.clone(), row.run.clone()))
            .or_default()
            .push(row);
    }
    let db = Db::open(dir).map_err(|e| e.to_string())?;
    check_against(&db, &by_run)?;
    let mut points = 0;
    for ((experiment, name), rows) in &by_run {
        let run = match db.find_run(experiment, name) {
            Some(run) => run,
            None => db.create_run(experiment, name).map_err(|e| e.to_string())?,
        };
        let batch: Vec<_> = rows
            .iter()
            .map(|r| (r.metric.as_str(), r.step, r.timestamp, r.value))
            .collect();
        db.log_batch(run, &batch).map_err(|e| e.to_string())?;
        points += batch.len();
    }
    db.close().map_err(|e| e.to_string())?;
    eprintln!("imported {points} points into {} runs", by_run.len());
    Ok(())
}
