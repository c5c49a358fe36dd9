//! `export` and `import`: points as CSV or JSON lines with the columns
//! `run, experiment, metric, step, timestamp_ms, value`. Values round-trip
//! bit for bit (`runlog::float_text`). Both stream: memory stays bounded
//! whatever the size of the database or the file.
//!
//! JSON lines also carry one run record per run (`"record": "run"`, with
//! its status, times, params and tags) before its points; CSV carries
//! points only. Tables, text series, logs and artifacts travel whole with
//! `export-run` (`run_archive`); `export` says so when it writes.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use runlog::{DEFAULT_CHUNK_POINTS, Db, RunFilter, RunId, float_text};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::output::{CliError, CliResult};
use crate::progress::bar;
use crate::query::{json_num, open_writer};
use crate::run_arg::RunArg;

/// Points written per engine call during an import.
const IMPORT_BATCH: usize = 100_000;

/// The formats of `export` and `import`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FileFormat {
    /// Comma-separated, with a header line naming the columns.
    Csv,
    /// One JSON object per line.
    Jsonl,
    /// A folder of Parquet tables, partitioned by experiment (`parquet_dir`).
    Parquet,
}

impl FileFormat {
    /// The format as lines of text, if it is one.
    pub fn lines(self) -> Option<Format> {
        match self {
            FileFormat::Csv => Some(Format::Csv),
            FileFormat::Jsonl => Some(Format::Jsonl),
            FileFormat::Parquet => None,
        }
    }
}

/// The formats of lines of text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

/// A float as JSON holds it: a number, or `float_text`'s spelling.
pub fn parse_value(value: &Value) -> Result<f64, String> {
    match value {
        Value::Number(n) => n
            .as_f64()
            .filter(|v| v.is_finite())
            .ok_or_else(|| format!("value {n} is out of range")),
        Value::String(s) => float_text::parse(s),
        other => Err(format!("value {other} is not a number")),
    }
}

impl Row {
    fn value(&self) -> Result<f64, String> {
        parse_value(&self.value)
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

/// What a run is besides its contents, as exports write it.
#[derive(Debug, Deserialize, Serialize)]
pub struct RunMeta {
    /// Its experiment.
    pub experiment: String,
    /// Its status, by name.
    pub status: String,
    /// When it started, ms since the Unix epoch.
    pub start_ms: i64,
    /// When it ended.
    pub end_ms: Option<i64>,
    /// Its params.
    pub params: BTreeMap<String, String>,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
}

impl RunMeta {
    /// The metadata of `info`.
    pub fn of(info: &runlog::RunInfo) -> RunMeta {
        RunMeta {
            experiment: info.experiment.clone(),
            status: info.status.to_string(),
            start_ms: info.start_ms,
            end_ms: info.end_ms,
            params: info.params.clone(),
            tags: info.tags.clone(),
        }
    }

    /// Gives a staged run this status, end time, params and tags (its
    /// start time was given when it was staged).
    pub fn apply(&self, db: &Db, run: RunId) -> CliResult {
        for (key, value) in &self.params {
            db.set_param(run, key, value)?;
        }
        for (key, value) in &self.tags {
            db.set_tag(run, key, value)?;
        }
        let status: runlog::RunStatus = self.status.parse()?;
        Ok(db.set_status_at(run, status, self.end_ms)?)
    }
}

/// A run's metadata, as a JSON-lines record before its points.
#[derive(Debug, Deserialize, Serialize)]
struct RunRecord {
    /// Always `"run"`: what tells the record from a point.
    record: String,
    run: String,
    #[serde(flatten)]
    meta: RunMeta,
}

/// One line of an export: a run record or a point with its value.
enum Line {
    Run(RunRecord),
    Point(Row, f64),
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

/// The runs an export writes: one run, or every run (of one
/// experiment), sorted by experiment and then id.
pub fn select_runs(
    db: &Db,
    run: Option<&RunArg>,
    experiment: Option<&str>,
) -> Result<Vec<runlog::RunSummary>, String> {
    let filter = RunFilter {
        experiment: experiment.map(str::to_string),
        ..RunFilter::default()
    };
    let mut runs = match run {
        Some(run) => {
            let id = run.resolve(db)?;
            db.runs(&filter)
                .into_iter()
                .filter(|r| r.info.id == id)
                .collect()
        }
        None => db.runs(&filter),
    };
    if let (Some(experiment), true) = (experiment, runs.is_empty())
        && db.find_experiment(experiment).is_none()
    {
        return Err(format!("no experiment named {experiment:?}"));
    }
    runs.sort_by(|a, b| (&a.info.experiment, a.info.id).cmp(&(&b.info.experiment, b.info.id)));
    Ok(runs)
}

/// `export`: every metric point of the runs, streamed.
pub fn export(db: &Db, runs: &[runlog::RunSummary], format: Format, output: &Path) -> CliResult {
    let total: u64 = runs
        .iter()
        .flat_map(|r| &r.metrics)
        .map(|(_, s)| s.count)
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
    for run in runs {
        let (info, id) = (&run.info, run.info.id);
        if let Writer::Jsonl(out) = &mut writer {
            let record = RunRecord {
                record: "run".into(),
                run: info.name.clone(),
                meta: RunMeta::of(info),
            };
            serde_json::to_writer(&mut *out, &record)
                .map_err(|e| write_error(&e))
                .and_then(|()| out.write_all(b"\n").map_err(|e| write_error(&e)))?;
        }
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
    let carried = match format {
        Format::Csv => "points only: run status, times, params and tags are in --format jsonl",
        Format::Jsonl => "run records and points",
    };
    eprintln!(
        "exported {points} points to {} ({carried}; tables, text series, logs and artifacts travel with export-run)",
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
    mut each: impl FnMut(u64, Line) -> CliResult,
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
                let value = value.map_err(|e| at(line, &e))?;
                each(line, Line::Point(row, value))?;
            }
        }
        Format::Jsonl => {
            for (index, text) in BufReader::new(reader).lines().enumerate() {
                let line = index as u64 + 1;
                let text = text.map_err(|e| at(line, &e))?;
                if text.trim().is_empty() {
                    continue;
                }
                let value: Value = serde_json::from_str(&text).map_err(|e| at(line, &e))?;
                if value.get("record").is_some() {
                    let record: RunRecord =
                        serde_json::from_value(value).map_err(|e| at(line, &e))?;
                    check_record(&record).map_err(|e| at(line, &e))?;
                    each(line, Line::Run(record))?;
                    continue;
                }
                let row: Row = serde_json::from_value(value).map_err(|e| at(line, &e))?;
                let value = row.value().and_then(|v| row.check_names().map(|()| v));
                let value = value.map_err(|e| at(line, &e))?;
                each(line, Line::Point(row, value))?;
            }
        }
    }
    progress.finish_and_clear();
    Ok(())
}

/// Checks a run record's kind, names, status and keys.
fn check_record(record: &RunRecord) -> Result<(), String> {
    if record.record != "run" {
        return Err(format!(
            "unknown record {:?} (this build knows \"run\")",
            record.record
        ));
    }
    runlog::check_name("run", &record.run).map_err(|e| e.to_string())?;
    let meta = &record.meta;
    runlog::check_name("experiment", &meta.experiment).map_err(|e| e.to_string())?;
    meta.status.parse::<runlog::RunStatus>()?;
    for key in meta.params.keys().chain(meta.tags.keys()) {
        runlog::check_name("key", key).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// What an import does with a run the database already holds (a re-run of
/// the same import, say): it never adds the points again.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum OnExisting {
    /// Refuse the whole import, naming the runs.
    #[default]
    Refuse,
    /// Leave those runs as they are and import the others.
    Skip,
    /// Replace each by the file's run, in the same instant as the import
    /// becomes visible.
    Replace,
}

/// Refuses, before anything is written, a run that would hold more
/// metrics than a run may.
pub fn check_limits(names: &BTreeMap<(String, String), BTreeSet<String>>) -> CliResult {
    let limit = runlog::Limits::default().metrics_per_run;
    for ((experiment, name), metrics) in names {
        if metrics.len() > limit {
            return Err(format!(
                "run {experiment}/{name} would hold {} metrics, the limit is {limit}; nothing imported",
                metrics.len()
            )
            .into());
        }
    }
    Ok(())
}

/// The runs an import writes into, staged, and the runs they replace.
#[derive(Default)]
pub struct Plan {
    /// The run staged for each run of the file, by experiment and name.
    pub staged: HashMap<(String, String), RunId>,
    /// The runs of the database that the staged runs replace.
    pub replaces: Vec<RunId>,
    /// Runs of the file left out as the database holds them.
    pub skipped: usize,
}

impl Plan {
    /// Gives each staged run its metadata from `metas`, makes all of them
    /// visible at once (replacing the runs they replace), closes the
    /// database, and says what became of the runs.
    pub fn publish<'m>(
        &self,
        db: Db,
        metas: impl IntoIterator<Item = (&'m (String, String), &'m RunMeta)>,
    ) -> CliResult<String> {
        for (key, meta) in metas {
            if let Some(&run) = self.staged.get(key) {
                meta.apply(&db, run)?;
            }
        }
        let runs: Vec<RunId> = self.staged.values().copied().collect();
        db.publish_runs(&runs, &self.replaces)?;
        db.close()?;
        Ok(format!(
            "{} runs ({} replaced, {} skipped as they exist)",
            runs.len(),
            self.replaces.len(),
            self.skipped
        ))
    }
}

/// Stages a run for each of `keys` (experiment and name), started at
/// `start` (now if `None`), as `existing` says for the runs the database
/// already holds.
pub fn plan<'k>(
    db: &Db,
    keys: impl IntoIterator<Item = &'k (String, String)> + Clone,
    start: impl Fn(&(String, String)) -> Option<i64>,
    existing: OnExisting,
) -> CliResult<Plan> {
    let held: Vec<(&(String, String), RunId)> = keys
        .clone()
        .into_iter()
        .filter_map(|key| db.find_run(&key.0, &key.1).map(|id| (key, id)))
        .collect();
    if existing == OnExisting::Refuse && !held.is_empty() {
        let shown: Vec<String> = held
            .iter()
            .take(5)
            .map(|(k, _)| format!("{}/{}", k.0, k.1))
            .collect();
        return Err(format!(
            "{} of the file's runs exist already ({}{}): run again with --existing skip or --existing replace; nothing imported",
            held.len(),
            shown.join(", "),
            if held.len() > 5 { ", ..." } else { "" }
        )
        .into());
    }
    let mut plan = Plan::default();
    for key in keys {
        match held.iter().find(|(k, _)| *k == key) {
            Some(_) if existing == OnExisting::Skip => plan.skipped += 1,
            found => {
                plan.replaces.extend(found.map(|(_, id)| *id));
                let run = db.create_staged_run(&key.0, &key.1, start(key))?;
                plan.staged.insert(key.clone(), run);
            }
        }
    }
    Ok(plan)
}

/// `import`: the file is read twice, streaming. The first pass checks
/// every line and name, so a bad line writes nothing; the second writes
/// points in batches of [`IMPORT_BATCH`] into runs staged for the import,
/// which become visible all at once at the end (`Db::publish_runs`). A
/// crash before that leaves nothing visible, and the next writer open
/// deletes the staged runs; runs the database already holds are refused,
/// skipped or replaced as `existing` says, never doubled.
pub fn import(dir: &Path, format: Format, input: &Path, existing: OnExisting) -> CliResult {
    let mut names: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    let mut records: HashMap<(String, String), RunRecord> = HashMap::new();
    read_rows(input, format, "checking", |line, read| {
        match read {
            Line::Point(row, _) => {
                let metrics = names.entry((row.experiment, row.run)).or_default();
                if !metrics.contains(&row.metric) {
                    metrics.insert(row.metric);
                }
            }
            Line::Run(record) => {
                let key = (record.meta.experiment.clone(), record.run.clone());
                names.entry(key.clone()).or_default();
                if records.insert(key, record).is_some() {
                    return Err(format!(
                        "{}: line {line}: a second record of the same run; nothing imported",
                        input.display()
                    )
                    .into());
                }
            }
        }
        Ok(())
    })?;
    check_limits(&names)?;
    let db = open_writer(Db::builder(dir))?;
    let start = |key: &(String, String)| records.get(key).map(|r| r.meta.start_ms);
    let plan = plan(&db, names.keys(), start, existing)?;
    let mut batch: Vec<(RunId, String, i64, i64, f64)> = Vec::with_capacity(IMPORT_BATCH);
    let mut points = 0u64;
    read_rows(input, format, "importing", |_, read| {
        let Line::Point(row, value) = read else {
            return Ok(()); // run records were read in the first pass
        };
        let Some(&run) = plan.staged.get(&(row.experiment, row.run)) else {
            return Ok(()); // a run skipped
        };
        batch.push((run, row.metric, row.step, row.timestamp_ms, value));
        points += 1;
        if batch.len() == IMPORT_BATCH {
            write_batch(&db, &mut batch)?;
        }
        Ok(())
    })?;
    write_batch(&db, &mut batch)?;
    let runs = plan.publish(db, records.iter().map(|(k, r)| (k, &r.meta)))?;
    eprintln!("imported {points} points into {runs}");
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
    read_rows(input, format, "reading", |line, read| {
        if let Line::Point(_, value) = read {
            rows.push((line, value));
        }
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
