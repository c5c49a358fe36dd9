//! Commands about the files: stats, verify, wal, compact.

use std::path::Path;
use std::time::Duration;

use indicatif::ProgressBar;
use runlog::Db;
use runlog::inspect::{self, Problem};
use serde_json::{Value, json};

use crate::output::Table;
use crate::query::open;

/// `stats`: files, bytes, points, bytes per point, per codec, WAL.
pub fn stats(dir: &Path, json: bool) -> Result<(), String> {
    open(dir)?;
    let stats = inspect::storage_stats(dir).map_err(|e| e.to_string())?;
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
        println!(
            "{}",
            json!({
                "segments": segments, "points": stats.points, "segment_bytes": stats.segment_bytes,
                "bytes_per_point": stats.bytes_per_point(), "codecs": codecs,
                "wal_files": stats.wal_files, "wal_bytes": stats.wal_bytes,
                "manifest_bytes": stats.manifest_bytes,
            })
        );
        return Ok(());
    }
    let mut files = Table::new(&["segment", "level", "bytes", "points", "bytes/point"]);
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
    println!("{}\n", files.render());
    let mut levels = std::collections::BTreeMap::new();
    for (_, level, ..) in &stats.segments {
        *levels.entry(*level).or_insert(0) += 1;
    }
    let levels: Vec<String> = levels
        .iter()
        .map(|(l, n)| format!("level {l}: {n}"))
        .collect();
    println!("segments per level: {}\n", levels.join(", "));
    let mut codecs = Table::new(&["column:codec", "columns", "bytes", "share"]);
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
    println!("{}\n", codecs.render());
    println!(
        "points {}  segment bytes {}  bytes/point {:.3}  segments {}\nWAL {} files, {} bytes  manifest {} bytes",
        stats.points,
        stats.segment_bytes,
        stats.bytes_per_point(),
        stats.segments.len(),
        stats.wal_files,
        stats.wal_bytes,
        stats.manifest_bytes
    );
    Ok(())
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
pub fn verify(dir: &Path, json: bool) -> Result<(), String> {
    open(dir)?;
    let report = inspect::verify(dir).map_err(|e| e.to_string())?;
    if json {
        let problems: Vec<Value> = report
            .problems
            .iter()
            .map(|p| json!({"file": p.file, "offset": p.offset, "message": p.message}))
            .collect();
        println!(
            "{}",
            json!({
                "segments": report.segments, "chunks": report.chunks, "points": report.points,
                "wal_records": report.wal_records, "problems": problems,
            })
        );
    } else {
        for problem in &report.problems {
            println!("PROBLEM {}", describe(problem));
        }
        println!(
            "checked {} segments, {} chunks, {} points, {} WAL records: {} problems",
            report.segments,
            report.chunks,
            report.points,
            report.wal_records,
            report.problems.len()
        );
    }
    match report.problems.first() {
        None => Ok(()),
        Some(first) => Err(format!(
            "{} problems found; first: {}",
            report.problems.len(),
            describe(first)
        )),
    }
}

/// `wal`: one line (or JSON line) per record.
pub fn wal(dir: &Path, from: u64, json: bool) -> Result<(), String> {
    open(dir)?;
    for entry in inspect::wal_entries(dir, from).map_err(|e| e.to_string())? {
        if json {
            println!(
                "{}",
                json!({"lsn": entry.lsn, "bytes": entry.bytes, "wall_ms": entry.wall_ms, "ops": entry.ops})
            );
        } else {
            println!(
                "{:>10}  {:>8} B  {}",
                entry.lsn,
                entry.bytes,
                entry.ops.join("; ")
            );
        }
    }
    Ok(())
}

/// `compact`: a full compaction, with a spinner while it runs.
pub fn compact(dir: &Path) -> Result<(), String> {
    open(dir)?;
    let db = Db::open(dir).map_err(|e| e.to_string())?;
    let before = db.segment_files().len();
    let spinner = ProgressBar::new_spinner().with_message(format!("compacting {before} segments"));
    spinner.enable_steady_tick(Duration::from_millis(100));
    let result = db.compact();
    spinner.finish_and_clear();
    result.map_err(|e| e.to_string())?;
    let after = db.segment_files();
    let bytes: u64 = after.iter().map(|f| f.2).sum();
    db.close().map_err(|e| e.to_string())?;
    println!(
        "compacted {before} segments into {} ({bytes} bytes)",
        after.len()
    );
    Ok(())
}
