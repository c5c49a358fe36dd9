//! `export-run` and `import-run`: one run, whole, as a zip archive that any
//! unzip tool opens (`docs/format-run-archive.md`):
//!
//! ```text
//! run.json            format "runlog-run", version 1: the run (experiment,
//!                     name, status, times, params, tags) and what the
//!                     archive holds (logs with their file, artifacts with
//!                     size, media type, step and BLAKE3 hash)
//! metrics.jsonl       {"metric", "step", "timestamp_ms", "value"} per point
//! texts.jsonl         {"series", "step", "timestamp_ms", "value"} per point
//! cells.jsonl         {"table", "row", "column", "number" | "text"} per
//!                     table cell, row by row
//! logs/<n>.log        text log number n, as written
//! artifacts/<path>    each artifact, as put
//! ```
//!
//! Export streams (bounded memory). Import checks the whole archive first
//! (every entry's CRC, every line, every artifact's hash) and writes
//! nothing if anything is wrong; then it writes into a staged run that
//! appears at once at the end, or not at all after a crash.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::Path;

use runlog::{Cell, DEFAULT_CHUNK_POINTS, Db, RunId, RunStatus};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use crate::output::CliResult;
use crate::query::{json_num, open, open_writer};
use crate::run_arg::RunArg;
use crate::transfer::{OnExisting, RunMeta, parse_value};

/// The archive format's name and version, in `run.json`.
const FORMAT: &str = "runlog-run";
const VERSION: u32 = 1;
/// Log lines read from the database at a time.
const LOG_LINES: usize = 10_000;

/// `run.json`.
#[derive(Debug, Deserialize, Serialize)]
struct Manifest {
    format: String,
    version: u32,
    name: String,
    #[serde(flatten)]
    meta: RunMeta,
    logs: Vec<LogEntry>,
    artifacts: Vec<ArtifactEntry>,
}

#[derive(Debug, Deserialize, Serialize)]
struct LogEntry {
    stream: String,
    file: String,
    bytes: u64,
}

#[derive(Debug, Deserialize, Serialize)]
struct ArtifactEntry {
    path: String,
    size: u64,
    media_type: String,
    step: Option<i64>,
    blake3: String,
}

#[derive(Debug, Deserialize, Serialize)]
struct MetricLine {
    metric: String,
    step: i64,
    timestamp_ms: i64,
    value: Value,
}

#[derive(Debug, Deserialize, Serialize)]
struct TextLine {
    series: String,
    step: i64,
    timestamp_ms: i64,
    value: String,
}

#[derive(Debug, Deserialize, Serialize)]
struct CellLine {
    table: String,
    row: u64,
    column: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    number: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    text: Option<String>,
}

fn zip_error(file: &Path) -> impl Fn(zip::result::ZipError) -> String + '_ {
    move |e| format!("{}: {e}", file.display())
}

/// `export-run`: the run, whole, into a zip archive at `output`.
pub fn export(dir: &Path, run: &RunArg, output: &Path) -> CliResult {
    let db = open(dir)?;
    let id = run.resolve(&db)?;
    let info = db.run(id)?;
    let temp = output.with_extension("runlog-partial");
    let file = File::create(&temp).map_err(|e| format!("create {}: {e}", temp.display()))?;
    let written = write_archive(&db, id, info, BufWriter::new(file));
    let summary = match written {
        Ok(summary) => summary,
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            return Err(e);
        }
    };
    std::fs::rename(&temp, output).map_err(|e| format!("rename into {}: {e}", output.display()))?;
    eprintln!(
        "exported run {} to {}: {summary}",
        run.describe(),
        output.display()
    );
    Ok(())
}

fn write_archive(
    db: &Db,
    id: RunId,
    info: runlog::RunInfo,
    out: BufWriter<File>,
) -> CliResult<String> {
    let mut zip = ZipWriter::new(out);
    let text = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    let write_error = |e: &dyn std::fmt::Display| format!("write the archive: {e}");
    let mut points = 0u64;
    zip.start_file("metrics.jsonl", text.large_file(true))
        .map_err(|e| write_error(&e))?;
    for metric in &db.metric_names(id)? {
        for chunk in db.history_chunks(id, metric, .., DEFAULT_CHUNK_POINTS)? {
            let chunk = chunk?;
            for i in 0..chunk.len() {
                let line = MetricLine {
                    metric: metric.clone(),
                    step: chunk.steps[i],
                    timestamp_ms: chunk.timestamps[i],
                    value: json_num(chunk.values[i]),
                };
                json_line(&mut zip, &line).map_err(|e| write_error(&e))?;
            }
            points += chunk.len() as u64;
        }
    }
    zip.start_file("texts.jsonl", text.large_file(true))
        .map_err(|e| write_error(&e))?;
    for series in db.text_series(id)? {
        for p in db.text_history(id, &series)? {
            let line = TextLine {
                series: series.clone(),
                step: p.step,
                timestamp_ms: p.timestamp,
                value: p.value,
            };
            json_line(&mut zip, &line).map_err(|e| write_error(&e))?;
        }
    }
    zip.start_file("cells.jsonl", text.large_file(true))
        .map_err(|e| write_error(&e))?;
    for table in db.table_names(id)? {
        let t = db.table(id, &table)?;
        for row in 0..t.rows as usize {
            let numbers = t.columns.iter().filter_map(|(column, cells)| {
                cells[row].map(|v| (column, Some(json_num(v)), None))
            });
            let texts = t
                .text_columns
                .iter()
                .filter_map(|(column, cells)| cells[row].clone().map(|v| (column, None, Some(v))));
            for (column, number, text) in numbers.chain(texts) {
                let line = CellLine {
                    table: table.clone(),
                    row: row as u64,
                    column: column.clone(),
                    number,
                    text,
                };
                json_line(&mut zip, &line).map_err(|e| write_error(&e))?;
            }
        }
    }
    let mut logs = Vec::new();
    for (n, stream) in db.log_streams(id)?.into_iter().enumerate() {
        let file = format!("logs/{n}.log");
        zip.start_file(
            file.as_str(),
            text.large_file(stream.bytes > u64::from(u32::MAX)),
        )
        .map_err(|e| write_error(&e))?;
        let mut offset = 0;
        while offset < stream.bytes {
            let bytes = db.log_bytes(id, &stream.name, offset, 1 << 20)?;
            zip.write_all(&bytes).map_err(|e| write_error(&e))?;
            offset += bytes.len() as u64;
        }
        logs.push(LogEntry {
            stream: stream.name,
            file,
            bytes: stream.bytes,
        });
    }
    let mut artifacts = Vec::new();
    for artifact in db.artifacts(id, "")? {
        let compressible = artifact.media_type.starts_with("text/")
            || artifact.media_type.ends_with("json")
            || artifact.media_type.ends_with("yaml");
        let method = if compressible {
            CompressionMethod::Deflated
        } else {
            CompressionMethod::Stored
        };
        let options = SimpleFileOptions::default()
            .compression_method(method)
            .large_file(artifact.size > u64::from(u32::MAX));
        zip.start_file(format!("artifacts/{}", artifact.path), options)
            .map_err(|e| write_error(&e))?;
        let mut reader = db.open_artifact(id, &artifact.path)?;
        io::copy(&mut reader, &mut zip).map_err(|e| write_error(&e))?;
        artifacts.push(ArtifactEntry {
            path: artifact.path,
            size: artifact.size,
            media_type: artifact.media_type,
            step: artifact.step,
            blake3: artifact.hash.to_string(),
        });
    }
    let summary = format!(
        "{points} points, {} text logs, {} artifacts",
        logs.len(),
        artifacts.len()
    );
    let manifest = Manifest {
        format: FORMAT.into(),
        version: VERSION,
        meta: RunMeta::of(&info),
        name: info.name,
        logs,
        artifacts,
    };
    zip.start_file("run.json", text)
        .map_err(|e| write_error(&e))?;
    serde_json::to_writer_pretty(&mut zip, &manifest).map_err(|e| write_error(&e))?;
    let out = zip.finish().map_err(|e| write_error(&e))?;
    out.into_inner()
        .map_err(|e| write_error(&e.error().to_string()))?
        .sync_all()
        .map_err(|e| write_error(&e))?;
    Ok(summary)
}

fn json_line(out: &mut impl Write, value: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n")
}

/// Opens an archive and reads its `run.json`.
fn open_archive(input: &Path) -> CliResult<(ZipArchive<BufReader<File>>, Manifest)> {
    let file = File::open(input).map_err(|e| format!("open {}: {e}", input.display()))?;
    let mut zip = ZipArchive::new(BufReader::new(file)).map_err(zip_error(input))?;
    let manifest: Manifest = {
        let entry = zip.by_name("run.json").map_err(zip_error(input))?;
        serde_json::from_reader(entry).map_err(|e| format!("{}: run.json: {e}", input.display()))?
    };
    if manifest.format != FORMAT || manifest.version != VERSION {
        return Err(format!(
            "{}: a {:?} archive of version {}; this build reads {FORMAT:?} version {VERSION}",
            input.display(),
            manifest.format,
            manifest.version
        )
        .into());
    }
    Ok((zip, manifest))
}

/// Reads every line of a JSON-lines entry, parsing each.
fn each_line<T: for<'a> Deserialize<'a>>(
    zip: &mut ZipArchive<BufReader<File>>,
    input: &Path,
    name: &str,
    mut each: impl FnMut(T) -> CliResult,
) -> CliResult {
    let entry = zip.by_name(name).map_err(zip_error(input))?;
    for (index, line) in BufReader::new(entry).lines().enumerate() {
        let line = line.map_err(|e| format!("{}: {name}: {e}", input.display()))?;
        let parsed: T = serde_json::from_str(&line)
            .map_err(|e| format!("{}: {name} line {}: {e}", input.display(), index + 1))?;
        each(parsed)?;
    }
    Ok(())
}

/// Checks the whole archive: every entry reads to its end with its CRC
/// intact, every line parses, every artifact has the size and hash that
/// `run.json` gives.
fn check(zip: &mut ZipArchive<BufReader<File>>, manifest: &Manifest, input: &Path) -> CliResult {
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(zip_error(input))?;
        let name = entry.name().to_string();
        io::copy(&mut entry, &mut io::sink())
            .map_err(|e| format!("{}: {name}: {e}; nothing imported", input.display()))?;
    }
    each_line(zip, input, "metrics.jsonl", |line: MetricLine| {
        parse_value(&line.value)?;
        Ok(())
    })?;
    each_line(zip, input, "texts.jsonl", |_: TextLine| Ok(()))?;
    each_line(zip, input, "cells.jsonl", |line: CellLine| {
        match (&line.number, &line.text) {
            (Some(number), None) => parse_value(number).map(drop),
            (None, Some(_)) => Ok(()),
            _ => Err(format!(
                "cells.jsonl: table {} row {} column {}: give a number or a text",
                line.table, line.row, line.column
            )),
        }?;
        Ok(())
    })?;
    for log in &manifest.logs {
        let mut entry = zip.by_name(&log.file).map_err(zip_error(input))?;
        let mut text = String::new();
        entry
            .read_to_string(&mut text)
            .map_err(|e| format!("{}: {}: {e}", input.display(), log.file))?;
    }
    for artifact in &manifest.artifacts {
        let name = format!("artifacts/{}", artifact.path);
        let entry = zip.by_name(&name).map_err(zip_error(input))?;
        let mut hasher = blake3::Hasher::new();
        let size = io::copy(&mut { entry }, &mut hasher)
            .map_err(|e| format!("{}: {name}: {e}", input.display()))?;
        let hash = hasher.finalize().to_hex().to_string();
        if size != artifact.size || hash != artifact.blake3 {
            return Err(format!(
                "{}: {name} holds {size} bytes hashing to {hash}, but run.json says {} bytes, {}; nothing imported",
                input.display(),
                artifact.size,
                artifact.blake3
            )
            .into());
        }
    }
    Ok(())
}

/// `import-run`: an archive made by `export-run`, checked whole before
/// anything is written, then staged and published at once.
pub fn import(dir: &Path, input: &Path, existing: OnExisting) -> CliResult {
    let (mut zip, manifest) = open_archive(input)?;
    check(&mut zip, &manifest, input)?;
    manifest.meta.status.parse::<RunStatus>()?;
    let experiment = manifest.meta.experiment.as_str();
    let db = open_writer(Db::builder(dir))?;
    let held = db.find_run(experiment, &manifest.name);
    let replaces = match (held, existing) {
        (None, _) => Vec::new(),
        (Some(_), OnExisting::Refuse) => {
            return Err(format!(
                "run {experiment}/{} exists already: run again with --existing skip or --existing replace; nothing imported",
                manifest.name
            )
            .into());
        }
        (Some(_), OnExisting::Skip) => {
            eprintln!("run {experiment}/{} exists already; skipped", manifest.name);
            return Ok(());
        }
        (Some(old), OnExisting::Replace) => vec![old],
    };
    let run = db.create_staged_run(experiment, &manifest.name, Some(manifest.meta.start_ms))?;
    let mut batch: Vec<MetricLine> = Vec::new();
    each_line(&mut zip, input, "metrics.jsonl", |line: MetricLine| {
        batch.push(line);
        if batch.len() == 100_000 {
            log_metrics(&db, run, &mut batch)?;
        }
        Ok(())
    })?;
    log_metrics(&db, run, &mut batch)?;
    each_line(&mut zip, input, "texts.jsonl", |line: TextLine| {
        Ok(db.log_str_at(run, &line.series, line.step, line.timestamp_ms, &line.value)?)
    })?;
    // Cells come row by row: each row is logged once whole.
    let mut row: Vec<CellLine> = Vec::new();
    each_line(&mut zip, input, "cells.jsonl", |line: CellLine| {
        if row
            .first()
            .is_some_and(|first| (&first.table, first.row) != (&line.table, line.row))
        {
            log_row(&db, run, &mut row)?;
        }
        row.push(line);
        Ok(())
    })?;
    log_row(&db, run, &mut row)?;
    for log in &manifest.logs {
        let entry = zip.by_name(&log.file).map_err(zip_error(input))?;
        let mut reader = BufReader::new(entry);
        let mut piece = String::new();
        loop {
            piece.clear();
            // Whole lines, up to a few thousand at a time, so that no
            // append splits a character.
            for _ in 0..LOG_LINES {
                if reader
                    .read_line(&mut piece)
                    .map_err(|e| format!("{}: {}: {e}", input.display(), log.file))?
                    == 0
                {
                    break;
                }
            }
            if piece.is_empty() {
                break;
            }
            db.append_log(run, &log.stream, &piece)?;
        }
    }
    for artifact in &manifest.artifacts {
        let mut entry = zip
            .by_name(&format!("artifacts/{}", artifact.path))
            .map_err(zip_error(input))?;
        db.put_artifact_at_step(
            run,
            &artifact.path,
            artifact.step,
            &mut entry,
            Some(&artifact.media_type),
        )?;
    }
    manifest.meta.apply(&db, run)?;
    db.publish_runs(&[run], &replaces)?;
    db.close()?;
    eprintln!(
        "imported run {experiment}/{} ({} text logs, {} artifacts{})",
        manifest.name,
        manifest.logs.len(),
        manifest.artifacts.len(),
        if replaces.is_empty() {
            ""
        } else {
            ", replacing the run of that name"
        }
    );
    Ok(())
}

/// Logs one table row of cells (all of one table and row), and empties it.
fn log_row(db: &Db, run: RunId, row: &mut Vec<CellLine>) -> CliResult {
    let Some(first) = row.first() else {
        return Ok(());
    };
    let table = first.table.clone();
    let mut cells = Vec::with_capacity(row.len());
    for line in row.iter() {
        let cell = match (&line.number, &line.text) {
            (Some(number), _) => Cell::Number(parse_value(number)?),
            (None, Some(text)) => Cell::Text(text),
            (None, None) => {
                return Err(format!("cell {}/{} has no value", table, line.column).into());
            }
        };
        cells.push((line.column.as_str(), cell));
    }
    db.log_row_cells(run, &table, &cells)?;
    row.clear();
    Ok(())
}

fn log_metrics(db: &Db, run: RunId, batch: &mut Vec<MetricLine>) -> CliResult {
    let mut points = Vec::with_capacity(batch.len());
    for line in batch.iter() {
        points.push((
            line.metric.as_str(),
            line.step,
            line.timestamp_ms,
            parse_value(&line.value)?,
        ));
    }
    db.log_batch(run, &points)?;
    batch.clear();
    Ok(())
}
