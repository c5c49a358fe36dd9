//! Commands about the files: stats, verify, wal, compact.

use std::collections::BTreeMap;
use std::path::Path;

use runlog::Db;
use runlog::inspect::{self, Problem};
use serde_json::{Value, json};

use crate::output::{Align, CliResult, Out, Table};
use crate::progress::spinner;
use crate::query::{open, open_writer};

/// `stats`: files, bytes, points (in segments and in memory), bytes per
/// point, per codec, WAL.
pub fn stats(dir: &Path, json: bool) -> CliResult {
    let db = open(dir)?;
    // Points the WAL holds that no segment has yet: a reader replays them
    // into its memtable.
    let pending = db.memtable_usage().points;
    let stats = inspect::storage_stats(dir)?;
    let contents = run_contents(&db)?;
    let mut out = Out::new();
    if json {
        let segments: Vec<Value> = stats
            .segments
            .iter()
            .map(|(path, level, bytes, points)| {
                json!({"file": path, "level": level, "bytes": bytes, "points": points})
            })
            .collect();
        let codecs: serde_json::Map<String, Value> = stats
            .codecs
            .iter()
            .map(|(name, (bytes, columns))| {
                (name.clone(), json!({"bytes": bytes, "columns": columns}))
            })
            .collect();
        return out.json(&json!({
            "segments": segments, "points": stats.points + pending,
            "segment_points": stats.points, "wal_points": pending,
            "segment_bytes": stats.segment_bytes,
            "bytes_per_point": stats.bytes_per_point(), "codecs": codecs,
            "wal_files": stats.wal_files, "wal_bytes": stats.wal_bytes,
            "manifest_bytes": stats.manifest_bytes, "catalog_bytes": stats.catalog_bytes,
            "blob_files": stats.blob_files, "blob_bytes": stats.blob_bytes,
            "artifacts": contents.artifacts, "artifact_bytes": contents.artifact_bytes,
            "log_streams": contents.streams, "log_bytes": contents.log_bytes,
            "log_stored_bytes": contents.log_stored_bytes,
        }));
    }
    let mut files = Table::new(&[
        ("segment", Align::Left),
        ("level", Align::Right),
        ("bytes", Align::Right),
        ("points", Align::Right),
        ("bytes/point", Align::Right),
    ]);
    for (path, level, bytes, points) in &stats.segments {
        let name = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let per_point = if *points == 0 {
            0.0
        } else {
            *bytes as f64 / *points as f64
        };
        files.row(vec![
            name,
            level.to_string(),
            bytes.to_string(),
            points.to_string(),
            format!("{per_point:.3}"),
        ]);
    }
    if !stats.segments.is_empty() {
        files.print(&mut out)?;
        let mut levels = BTreeMap::new();
        for (_, level, ..) in &stats.segments {
            *levels.entry(*level).or_insert(0) += 1;
        }
        let levels: Vec<String> = levels
            .iter()
            .map(|(l, n)| format!("level {l}: {n}"))
            .collect();
        out.line(format!("segments per level: {}\n", levels.join(", ")))?;
        let mut codecs = Table::new(&[
            ("column:codec", Align::Left),
            ("columns", Align::Right),
            ("bytes", Align::Right),
            ("share", Align::Right),
        ]);
        let column_bytes: u64 = stats.codecs.values().map(|c| c.0).sum();
        for (name, (bytes, columns)) in &stats.codecs {
            let share = 100.0 * *bytes as f64 / column_bytes.max(1) as f64;
            codecs.row(vec![
                name.clone(),
                columns.to_string(),
                bytes.to_string(),
                format!("{share:.1}%"),
            ]);
        }
        codecs.print(&mut out)?;
    }
    let per_point = if stats.points == 0 {
        "-".to_string()
    } else {
        format!("{:.3}", stats.bytes_per_point())
    };
    out.line(format!(
        "points {}: {} in {} segments ({} bytes, {per_point} bytes/point), {pending} in the WAL not yet flushed\nWAL {} files, {} bytes  manifest {} bytes  catalog {} bytes",
        stats.points + pending,
        stats.points,
        stats.segments.len(),
        stats.segment_bytes,
        stats.wal_files,
        stats.wal_bytes,
        stats.manifest_bytes,
        stats.catalog_bytes
    ))?;
    out.line(format!(
        "artifacts {}: {} bytes  text logs {}: {} bytes written, {} stored\nblobs {} files, {} bytes (artifacts and sealed log chunks, each content once)",
        contents.artifacts,
        contents.artifact_bytes,
        contents.streams,
        contents.log_bytes,
        contents.log_stored_bytes,
        stats.blob_files,
        stats.blob_bytes
    ))
}

/// What the runs hold besides metrics, summed.
#[derive(Debug, Default)]
struct RunContents {
    artifacts: usize,
    artifact_bytes: u64,
    streams: usize,
    log_bytes: u64,
    log_stored_bytes: u64,
}

fn run_contents(db: &Db) -> Result<RunContents, runlog::Error> {
    let mut sum = RunContents::default();
    for run in db.runs(&runlog::RunFilter::default()) {
        let artifacts = db.artifacts(run.info.id, "")?;
        sum.artifacts += artifacts.len();
        sum.artifact_bytes += artifacts.iter().map(|a| a.size).sum::<u64>();
        for stream in db.log_streams(run.info.id)? {
            sum.streams += 1;
            sum.log_bytes += stream.bytes;
            sum.log_stored_bytes += stream.stored_bytes;
        }
    }
    Ok(sum)
}

fn describe(problem: &Problem) -> String {
    match problem.offset {
        Some(offset) => format!(
            "{} at byte {offset}: {}",
            problem.file.display(),
            problem.message
        ),
        None => format!("{}: {}", problem.file.display(), problem.message),
    }
}

/// `verify`: every check; non-zero exit on any problem.
pub fn verify(dir: &Path, json: bool) -> CliResult {
    open(dir)?;
    let progress = spinner(format!("verifying {}", dir.display()));
    let report = inspect::verify(dir);
    progress.finish_and_clear();
    let report = report?;
    let mut out = Out::new();
    if json {
        let problems: Vec<Value> = report
            .problems
            .iter()
            .map(|p| json!({"file": p.file, "offset": p.offset, "message": p.message}))
            .collect();
        let notes: Vec<Value> = report
            .notes
            .iter()
            .map(|p| json!({"file": p.file, "offset": p.offset, "message": p.message}))
            .collect();
        out.json(&json!({
            "segments": report.segments, "chunks": report.chunks, "points": report.points,
            "wal_records": report.wal_records, "problems": problems, "notes": notes,
        }))?;
    } else {
        for note in &report.notes {
            out.line(format!("note {}", describe(note)))?;
        }
        for problem in &report.problems {
            out.line(format!("PROBLEM {}", describe(problem)))?;
        }
        out.line(format!(
            "checked {} segments, {} chunks, {} points, {} WAL records: {} problems",
            report.segments,
            report.chunks,
            report.points,
            report.wal_records,
            report.problems.len()
        ))?;
    }
    out.flush()?;
    match report.problems.first() {
        None => Ok(()),
        Some(first) => Err(format!(
            "{} problems found; first: {}",
            report.problems.len(),
            describe(first)
        )
        .into()),
    }
}

/// `wal`: one line (or JSON line) per record.
pub fn wal(dir: &Path, from: u64, json: bool) -> CliResult {
    open(dir)?;
    let mut out = Out::new();
    for entry in inspect::wal_entries(dir, from)? {
        if json {
            out.json(&json!({"lsn": entry.lsn, "bytes": entry.bytes, "wall_ms": entry.wall_ms, "ops": entry.ops}))?;
        } else {
            out.line(format!(
                "{:>10}  {:>8} B  {}",
                entry.lsn,
                entry.bytes,
                entry.ops.join("; ")
            ))?;
        }
    }
    Ok(())
}

/// `compact`: flush what the WAL holds, then a full compaction, with a
/// spinner while it runs.
pub fn compact(dir: &Path) -> CliResult {
    open(dir)?;
    let db = open_writer(Db::builder(dir))?;
    let pending = db.memtable_usage().points;
    let progress = spinner(format!("flushing {pending} points from the WAL"));
    let flushed = db.flush();
    let before = db.segment_files().len();
    progress.set_message(format!("compacting {before} segments"));
    let result = flushed.and_then(|()| db.compact());
    progress.finish_and_clear();
    result?;
    let after = db.segment_files();
    let bytes: u64 = after.iter().map(|f| f.2).sum();
    db.close()?;
    eprintln!(
        "flushed {pending} points from the WAL; compacted {before} segments into {} ({bytes} bytes)",
        after.len()
    );
    Ok(())
}

/// `repair`: what the library's repair dropped and could not do.
pub fn repair(dir: &Path) -> CliResult {
    let report = runlog::repair(dir)?;
    let mut out = Out::new();
    for dropped in &report.wal_dropped {
        out.line(format!(
            "dropped WAL records {}..={} ({} bytes at byte {} of {}): {}",
            dropped.lsns.start(),
            dropped.lsns.end(),
            dropped.bytes,
            dropped.offset,
            dropped.file.display(),
            dropped.kind
        ))?;
    }
    for note in &report.notes {
        out.line(format!("note: {note}"))?;
    }
    if report.wal_dropped.is_empty() && report.notes.is_empty() {
        out.line("nothing to repair")?;
    }
    Ok(())
}
