//! `export` and `import`: points as CSV or JSON lines with the columns
//! `run, experiment, metric, step, timestamp_ms, value`. Values round-trip
//! bit for bit (`runlog::float_text`). Both stream: memory stays bounded
//! whatever the size of the database or the file.
//!
//! Neither format carries run status, times, params, tags or table
//! metrics; `export` says so when it writes.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use runlog::{DEFAULT_CHUNK_POINTS, Db, RunFilter, RunId, float_text};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::output::{CliError, CliResult};
use crate::progress::bar;
use crate::query::{json_num, open, open_writer};
use crate::run_arg::RunArg;

/// Points written per engine call during an import.
const IMPORT_BATCH: usize = 100_000;

/// The file formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Comma-separated, with a header line naming the columns.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

/// One point with its run, as both formats hold it.
#[derive(Debug, Deserialize, Serialize)]
struct Row {
    run: String,
    experiment: String,
    metric: String,
    step: i64,
    timestamp_ms: i64,
    /// The value: a number, or `float_text`'s spelling.
    value: Value,
}

impl Row {
    fn value(&self) -> Result<f64, String> {
        match &self.value {
            Value::Number(n) => n
                .as_f64()
                .filter(|v| v.is_finite())
                .ok_or_else(|| format!("value {n} is out of range")),
            Value::String(s) => float_text::parse(s),
            other => Err(format!("value {other} is not a number")),
        }
    }

    fn check_names(&self) -> Result<(), String> {
        for (what, name) in [
            ("run", &self.run),
            ("experiment", &self.experiment),
            ("metric", &self.metric),
        ] {
            runlog::check_name(what, name).map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

/// A CSV row: every field as text, so that a value keeps its spelling and
/// a bad number is reported with the text it holds.
#[derive(Debug, Deserialize, Serialize)]
struct CsvRow {
    run: String,
    experiment: String,
    metric: String,
    step: String,
    timestamp_ms: String,
    value: String,
}

/// An integer column of a CSV row.
fn integer(column: &str, text: &str) -> Result<i64, String> {
    text.parse()
        .map_err(|_| format!("{column} {text:?} is not a 64-bit integer"))
}

/// `export`: every metric point of every run (or one run), streamed.
pub fn export(dir: &Path, run: Option<&RunArg>, format: Format, output: &Path) -> CliResult {
    let db = open(dir)?;
    let runs = match run {
        Some(run) => vec![run.resolve(&db)?],
        None => db
            .runs(&RunFilter::default())
            .iter()
            .map(|r| r.info.id)
            .collect(),
    };
    let total: u64 = runs
        .iter()
        .flat_map(|&id| {
            db.metric_names(id)
                .into_iter()
                .flatten()
                .map(move |m| (id, m))
        })
        .filter_map(|(id, m)| db.stats(id, &m).ok())
        .map(|s| s.count)
        .sum();
    let file =
        File::create(output).map_err(|e| format!("cannot create {}: {e}", output.display()))?;
    let write_error = |e: &dyn std::fmt::Display| format!("cannot write {}: {e}", output.display());
    let mut writer = match format {
        Format::Csv => Writer::Csv(Box::new(csv::Writer::from_writer(file))),
        Format::Jsonl => Writer::Jsonl(BufWriter::new(file)),
    };
    let progress = bar(total, "points").with_message("exporting");
    let mut points = 0u64;
    for id in runs {
        let info = db.run(id)?;
        for metric in db.metric_names(id)? {
            for chunk in db.history_chunks(id, &metric, .., DEFAULT_CHUNK_POINTS)? {
                let chunk = chunk?;
                for i in 0..chunk.len() {
                    let row = Row {
                        run: info.name.clone(),
                        experiment: info.experiment.clone(),
                        metric: metric.clone(),
                        step: chunk.steps[i],
                        timestamp_ms: chunk.timestamps[i],
                        value: json_num(chunk.values[i]),
                    };
                    writer.write(&row).map_err(|e| write_error(&e))?;
                }
                points += chunk.len() as u64;
                progress.set_position(points);
            }
        }
    }
    writer.finish().map_err(|e| write_error(&e))?;
    progress.finish_and_clear();
    eprintln!(
        "exported {points} points to {} (points only: run status, times, params, tags and tables are not in this format)",
        output.display()
    );
    Ok(())
}

/// Where export rows go.
enum Writer {
    Csv(Box<csv::Writer<File>>),
    Jsonl(BufWriter<File>),
}

impl Writer {
    /// Writes one row; in CSV the value in its exact spelling.
    fn write(&mut self, row: &Row) -> Result<(), Box<dyn std::error::Error>> {
        match self {
            Writer::Csv(writer) => writer.serialize(CsvRow {
                run: row.run.clone(),
                experiment: row.experiment.clone(),
                metric: row.metric.clone(),
                step: row.step.to_string(),
                timestamp_ms: row.timestamp_ms.to_string(),
                value: float_text::exact(row.value()?),
            })?,
            Writer::Jsonl(writer) => {
                serde_json::to_writer(&mut *writer, row)?;
                writer.write_all(b"\n")?;
            }
        }
        Ok(())
    }

    fn finish(self) -> std::io::Result<()> {
        match self {
            Writer::Csv(mut writer) => writer.flush(),
            Writer::Jsonl(mut writer) => writer.flush(),
        }
    }
}

/// Reads every row of `input`, in order, with its line number; stops at
/// the first bad line, naming it.
fn read_rows(
    input: &Path,
    format: Format,
    pass: &str,
    mut each: impl FnMut(u64, Row, f64) -> CliResult,
) -> CliResult {
    let file = File::open(input).map_err(|e| format!("cannot open {}: {e}", input.display()))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let progress = bar(size, "bytes").with_message(pass.to_string());
    let reader = progress.wrap_read(file);
    let at = |line: u64, e: &dyn std::fmt::Display| -> CliError {
        format!("{}: line {line}: {e}; nothing imported", input.display()).into()
    };
    match format {
        Format::Csv => {
            let mut csv = csv::ReaderBuilder::new()
                .has_headers(true)
                .from_reader(reader);
            let headers = csv.headers().map_err(|e| at(1, &e))?.clone();
            let missing: Vec<&str> = [
                "run",
                "experiment",
                "metric",
                "step",
                "timestamp_ms",
                "value",
            ]
            .into_iter()
            .filter(|column| !headers.iter().any(|h| h == *column))
            .collect();
            if !missing.is_empty() {
                return Err(at(
                    1,
                    &format!(
                        "the header row must name the columns run, experiment, metric, step, timestamp_ms and value; missing {}",
                        missing.join(", ")
                    ),
                ));
            }
            let mut record = csv::StringRecord::new();
            loop {
                match csv.read_record(&mut record) {
                    Ok(false) => break,
                    Ok(true) => {}
                    Err(e) => {
                        let line = e.position().map_or(0, |p| p.line());
                        return Err(at(line, &e));
                    }
                }
                let line = record.position().map_or(0, |p| p.line());
                let row: CsvRow = record
                    .deserialize(Some(&headers))
                    .map_err(|e| at(line, &e))?;
                let step = integer("step", &row.step).map_err(|e| at(line, &e))?;
                let timestamp_ms =
                    integer("timestamp_ms", &row.timestamp_ms).map_err(|e| at(line, &e))?;
                let row = Row {
                    run: row.run,
                    experiment: row.experiment,
                    metric: row.metric,
                    step,
                    timestamp_ms,
                    value: Value::String(row.value),
                };
                let value = row.value().and_then(|v| row.check_names().map(|()| v));
                each(line, row, value.map_err(|e| at(line, &e))?)?;
            }
        }
        Format::Jsonl => {
            for (index, text) in BufReader::new(reader).lines().enumerate() {
                let line = index as u64 + 1;
                let text = text.map_err(|e| at(line, &e))?;
                if text.trim().is_empty() {
                    continue;
                }
                let row: Row = serde_json::from_str(&text).map_err(|e| at(line, &e))?;
                let value = row.value().and_then(|v| row.check_names().map(|()| v));
                each(line, row, value.map_err(|e| at(line, &e))?)?;
            }
        }
    }
    progress.finish_and_clear();
    Ok(())
}

/// Refuses, before anything is written, what the engine would refuse for
/// one run after others were written: a metric name that is a table of an
/// existing run, or more metrics than a run may hold.
fn check_against(db: &Db, names: &BTreeMap<(String, String), BTreeSet<String>>) -> CliResult {
    let limit = runlog::Limits::default().metrics_per_run;
    for ((experiment, name), metrics) in names {
        let existing = db.find_run(experiment, name);
        let held = match existing {
            Some(run) => db.metric_names(run)?.len() + db.table_names(run)?.len(),
            None => 0,
        };
        let mut new = 0;
        for metric in metrics {
            match existing.and_then(|run| db.series_kind(run, metric)) {
                Some("table") => {
                    return Err(format!(
                        "run {experiment}/{name}: {metric:?} is a table metric there; nothing imported"
                    )
                    .into());
                }
                Some(_) => {}
                None => new += 1,
            }
        }
        if held + new > limit {
            return Err(format!(
                "run {experiment}/{name} would hold {} metrics, the limit is {limit}; nothing imported",
                held + new
            )
            .into());
        }
    }
    Ok(())
}

/// `import`: the file is read twice, streaming. The first pass checks
/// every line and name, so a bad line writes nothing; the second writes
/// points in batches of [`IMPORT_BATCH`]. A crash during the second pass
/// leaves the batches written before it (each batch is atomic).
pub fn import(dir: &Path, format: Format, input: &Path) -> CliResult {
    let mut names: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    let mut total = 0u64;
    read_rows(input, format, "checking", |_, row, _| {
        let metrics = names.entry((row.experiment, row.run)).or_default();
        if !metrics.contains(&row.metric) {
            metrics.insert(row.metric);
        }
        total += 1;
        Ok(())
    })?;
    let db = open_writer(Db::builder(dir))?;
    check_against(&db, &names)?;
    let mut runs: HashMap<(String, String), RunId> = HashMap::new();
    let mut batch: Vec<(RunId, String, i64, i64, f64)> = Vec::with_capacity(IMPORT_BATCH);
    read_rows(input, format, "importing", |_, row, value| {
        let key = (row.experiment, row.run);
        let run = match runs.get(&key) {
            Some(&run) => run,
            None => {
                let run = match db.find_run(&key.0, &key.1) {
                    Some(run) => run,
                    None => db.create_run(&key.0, &key.1)?,
                };
                runs.insert(key, run);
                run
            }
        };
        batch.push((run, row.metric, row.step, row.timestamp_ms, value));
        if batch.len() == IMPORT_BATCH {
            write_batch(&db, &mut batch)?;
        }
        Ok(())
    })?;
    write_batch(&db, &mut batch)?;
    db.close()?;
    eprintln!("imported {total} points into {} runs", names.len());
    Ok(())
}

/// Logs the batch, one engine call per run, and empties it.
fn write_batch(db: &Db, batch: &mut Vec<(RunId, String, i64, i64, f64)>) -> CliResult {
    batch.sort_by_key(|point| point.0);
    for group in batch.chunk_by(|a, b| a.0 == b.0) {
        let points: Vec<(&str, i64, i64, f64)> = group
            .iter()
            .map(|(_, metric, step, timestamp, value)| (metric.as_str(), *step, *timestamp, *value))
            .collect();
        db.log_batch(group[0].0, &points)?;
    }
    batch.clear();
    Ok(())
}

/// Reads `input` fully (for callers that need the rows themselves).
#[cfg(test)]
fn read_all(input: &Path, format: Format) -> Result<Vec<(u64, f64)>, String> {
    let mut rows = Vec::new();
    read_rows(input, format, "reading", |line, _, value| {
        rows.push((line, value));
        Ok(())
    })
    .map_err(|e| e.to_string())?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_columns_are_found_by_name_in_any_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("points.csv");
        std::fs::write(
            &path,
            "value,step,metric,timestamp_ms,experiment,run\n1e-3,5,loss,7,e,r\n\"NaN:0x7ff8000000000001\",6,loss,8,e,r\n",
        )
        .unwrap();
        let rows = read_all(&path, Format::Csv).unwrap();
        assert_eq!(rows[0], (2, 1e-3));
        assert_eq!(rows[1].1.to_bits(), 0x7ff8_0000_0000_0001);
    }

    #[test]
    fn out_of_range_values_are_refused_in_both_formats() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("points.csv");
        std::fs::write(
            &csv,
            "run,experiment,metric,step,timestamp_ms,value\nr,e,loss,1,1,1e400\n",
        )
        .unwrap();
        let error = read_all(&csv, Format::Csv).unwrap_err();
        assert!(
            error.contains("line 2") && error.contains("out of the range"),
            "{error}"
        );
        let jsonl = dir.path().join("points.jsonl");
        std::fs::write(&jsonl, "{\"run\":\"r\",\"experiment\":\"e\",\"metric\":\"m\",\"step\":1,\"timestamp_ms\":1,\"value\":1e400}\n").unwrap();
        let error = read_all(&jsonl, Format::Jsonl).unwrap_err();
        assert!(error.contains("line 1"), "{error}");
    }
}
