//! `export --format parquet`: every selected run streamed into the
//! folder's four tables, a chunk of points at a time, so that memory stays
//! bounded whatever the size of the database.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use runlog::{DEFAULT_CHUNK_POINTS, Db, RunSummary};

use super::layout::{
    ExportRecord, FileRecord, LAYOUT_VERSION, exports_log, read_exports, relative,
};
use super::rows::{Cell, CellRows, PointRows, RunRows, TextRows};
use super::writer::{TableWriter, UNFINISHED, WrittenFile};
use crate::output::CliResult;
use crate::progress::bar;

/// Which data an export writes.
pub struct Selection {
    /// The runs, sorted by experiment and then id.
    pub runs: Vec<RunSummary>,
    /// How the user chose them, for the export's record.
    pub run: Option<String>,
    /// The experiment they were limited to.
    pub experiment: Option<String>,
    /// Only points and text points logged at or after this time, ms.
    pub since_ms: Option<i64>,
}

/// The four tables being written.
struct Tables {
    points: TableWriter<PointRows>,
    texts: TableWriter<TextRows>,
    cells: TableWriter<CellRows>,
    runs: TableWriter<RunRows>,
}

impl Tables {
    fn experiment(&mut self, experiment: &str) -> CliResult {
        self.points.experiment(experiment)?;
        self.texts.experiment(experiment)?;
        self.cells.experiment(experiment)?;
        self.runs.experiment(experiment)?;
        Ok(())
    }

    /// Closes every file: the files written, under unfinished names, and
    /// the rows written to each table.
    fn finish(self) -> Result<(Vec<WrittenFile>, [u64; 4]), String> {
        let mut files = Vec::new();
        let rows = [
            self.points.finish(&mut files)?,
            self.texts.finish(&mut files)?,
            self.cells.finish(&mut files)?,
            self.runs.finish(&mut files)?,
        ];
        Ok((files, rows))
    }
}

/// Writes the selection into `out` as one export. Points and text points
/// logged from the export's start on are left for the next one
/// (`--since` that start), so that live runs are neither missed nor
/// doubled by incremental exports.
pub fn export(db: &Db, selection: Selection, out: &Path) -> CliResult {
    let earlier = read_exports(out)?;
    if let (Some(last), None) = (earlier.last(), selection.since_ms) {
        return Err(format!(
            "{} holds {} export(s) already; a full export again would double their points: add --since {} for what was logged since the last one, or export into an empty folder",
            out.display(),
            earlier.len(),
            last.until_ms
        )
        .into());
    }
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    remove_unfinished(out)?;
    let until_ms = now_ms();
    let export = export_name(until_ms, earlier.len());
    let since = selection.since_ms.unwrap_or(i64::MIN);
    let total: u64 = selection
        .runs
        .iter()
        .flat_map(|r| &r.metrics)
        .map(|(_, s)| s.count)
        .sum();
    let progress = bar(total, "points").with_message("exporting");
    let mut tables = Tables {
        points: TableWriter::new(out, &export),
        texts: TableWriter::new(out, &export),
        cells: TableWriter::new(out, &export),
        runs: TableWriter::new(out, &export),
    };
    let (mut deferred, mut read) = (0u64, 0u64);
    let written = (|| -> CliResult {
        for run in &selection.runs {
            let info = &run.info;
            tables.experiment(&info.experiment)?;
            for (metric, stats) in &run.metrics {
                if stats.max_timestamp < since {
                    read += stats.count;
                    progress.set_position(read);
                    continue;
                }
                for chunk in db.history_chunks(info.id, metric, .., DEFAULT_CHUNK_POINTS)? {
                    let chunk = chunk?;
                    for i in 0..chunk.len() {
                        let timestamp = chunk.timestamps[i];
                        if timestamp >= until_ms {
                            deferred += 1;
                        } else if timestamp >= since {
                            let (step, value) = (chunk.steps[i], chunk.values[i]);
                            tables
                                .points
                                .rows
                                .push(info, metric, step, timestamp, value);
                        }
                    }
                    tables.points.maybe_flush()?;
                    read += chunk.len() as u64;
                    progress.set_position(read);
                }
            }
            for series in db.text_series(info.id)? {
                for point in db.text_history(info.id, &series)? {
                    if point.timestamp >= until_ms {
                        deferred += 1;
                    } else if point.timestamp >= since {
                        tables.texts.rows.push(info, &series, &point);
                    }
                }
                tables.texts.maybe_flush()?;
            }
            if selection.since_ms.is_none() {
                export_tables(db, run, &mut tables.cells)?;
            }
            tables.runs.rows.push(run, until_ms);
            tables.runs.maybe_flush()?;
        }
        Ok(())
    })();
    progress.finish_and_clear();
    let finished = written.and_then(|()| Ok(tables.finish()?));
    let (files, rows) = match finished {
        Ok(done) => done,
        Err(error) => {
            remove_unfinished(out)?;
            return Err(format!("{error}; the export's unfinished files were removed").into());
        }
    };
    let listed = publish(out, &files)?;
    let record = ExportRecord {
        layout: LAYOUT_VERSION,
        export,
        since_ms: selection.since_ms,
        until_ms,
        run: selection.run,
        experiment: selection.experiment,
        rows,
        files: listed,
    };
    append_record(out, &record)?;
    eprintln!(
        "exported {} points, {} text points, {} table cells and {} runs to {} ({} files){}; next incremental export: --since {until_ms}",
        rows[0],
        rows[1],
        rows[2],
        rows[3],
        out.display(),
        files.len(),
        if deferred > 0 {
            format!(
                ", leaving {deferred} points logged at or after the export's start ({until_ms} ms) for the next one"
            )
        } else {
            String::new()
        }
    );
    if selection.since_ms.is_some() {
        eprintln!(
            "table metrics are in full exports only: their cells carry no time to tell new from old"
        );
    }
    Ok(())
}

/// Adds every cell of `run`'s table metrics.
fn export_tables(db: &Db, run: &RunSummary, cells: &mut TableWriter<CellRows>) -> CliResult {
    let info = &run.info;
    for name in db.table_names(info.id)? {
        let table = db.table(info.id, &name)?;
        for row in 0..table.rows as usize {
            for (column, values) in &table.columns {
                if let Some(v) = values[row] {
                    cells
                        .rows
                        .push(info, &name, row as u64, column, Cell::Number(v));
                }
            }
            for (column, values) in &table.text_columns {
                if let Some(v) = &values[row] {
                    cells
                        .rows
                        .push(info, &name, row as u64, column, Cell::Text(v));
                }
            }
            cells.maybe_flush()?;
        }
    }
    Ok(())
}

/// The export's name in its files: its start time, and its number in the
/// folder (two exports in one millisecond stay apart).
fn export_name(until_ms: i64, earlier: usize) -> String {
    format!("{until_ms}-{earlier:04}")
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Gives the export's files their real names; what its record lists.
fn publish(out: &Path, files: &[WrittenFile]) -> CliResult<Vec<FileRecord>> {
    let mut listed = Vec::with_capacity(files.len());
    for file in files {
        let name = file.unfinished.to_string_lossy();
        let done = PathBuf::from(format!(
            "{}.parquet",
            name.strip_suffix(UNFINISHED).unwrap_or(&name)
        ));
        std::fs::rename(&file.unfinished, &done)
            .map_err(|e| format!("cannot rename {}: {e}", file.unfinished.display()))?;
        listed.push(FileRecord {
            path: relative(out, &done),
            bytes: file.bytes,
            blake3: file.blake3.clone(),
        });
    }
    Ok(listed)
}

/// Records the export in `exports.jsonl`, synced.
fn append_record(out: &Path, record: &ExportRecord) -> CliResult {
    let path = exports_log(out);
    let line = serde_json::to_string(record).map_err(|e| e.to_string())?;
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    writeln!(file, "{line}")
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(())
}

/// Removes the unfinished files that an interrupted export left (only
/// names that an export makes: `part-*.parquet.tmp`), saying how many.
fn remove_unfinished(out: &Path) -> CliResult {
    let mut removed = 0;
    for entry in walkdir::WalkDir::new(out).min_depth(3).max_depth(3) {
        let entry = entry.map_err(|e| format!("cannot read {}: {e}", out.display()))?;
        let name = entry.file_name().to_string_lossy();
        if entry.file_type().is_file() && name.starts_with("part-") && name.ends_with(UNFINISHED) {
            std::fs::remove_file(entry.path())
                .map_err(|e| format!("cannot remove {}: {e}", entry.path().display()))?;
            removed += 1;
        }
    }
    if removed > 0 {
        eprintln!("removed {removed} unfinished files of an export that did not complete");
    }
    Ok(())
}
