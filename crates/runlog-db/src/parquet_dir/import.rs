//! `import --format parquet`: reads an export folder back exactly. The
//! runs tables are read and checked first; then points, text points and
//! cells stream into runs staged for the import, which become visible all
//! at once at the end, or (after an error or a crash) not at all.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::{Array, Float64Array, Int64Array, ListArray, MapArray, RecordBatch, StringArray};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use runlog::{Db, RunId};

use super::layout::{ExportRecord, FileRecord, TableKind, exports_log, read_exports, relative};
use crate::output::CliResult;
use crate::progress::bar;
use crate::query::open_writer;
use crate::transfer::{OnExisting, RunMeta, check_limits, plan};

/// Rows read per batch.
const READ_BATCH: usize = 64 * 1024;

/// A run as the runs tables hold it.
struct RunRow {
    /// Its id in the exported database.
    source_id: i64,
    /// The export it is from (the newest row of a run wins).
    exported_ms: i64,
    /// Its status, times, params and tags.
    meta: RunMeta,
    /// The names of its metrics.
    metrics: BTreeSet<String>,
}

/// One run's identity, as the tables name it.
type Key = (String, String);

/// The Parquet files of one table of the export at `input`, sorted.
fn files(input: &Path, table: TableKind) -> Result<Vec<PathBuf>, String> {
    let root = input.join(table.folder());
    if !root.exists() {
        return Ok(Vec::new());
    }
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(&root).sort_by_file_name() {
        let entry = entry.map_err(|e| format!("cannot read {}: {e}", root.display()))?;
        if entry.file_type().is_file() && entry.path().extension().is_some_and(|x| x == "parquet") {
            files.push(entry.into_path());
        }
    }
    Ok(files)
}

/// Checks every Parquet file under `input` against the exports that
/// `exports.jsonl` lists: each file is one an export wrote, with its size
/// and BLAKE3 hash, and none of them is missing. A folder without the log
/// (Parquet files from elsewhere in this layout) is read unchecked, and
/// the import says so.
fn verify_files(input: &Path, exports: &[ExportRecord]) -> CliResult {
    let listed: HashMap<&str, (&FileRecord, &str)> = exports
        .iter()
        .flat_map(|e| {
            e.files
                .iter()
                .map(move |f| (f.path.as_str(), (f, e.export.as_str())))
        })
        .collect();
    let mut found = HashSet::new();
    for table in [
        TableKind::Runs,
        TableKind::Points,
        TableKind::Texts,
        TableKind::Cells,
    ] {
        for path in files(input, table)? {
            if exports.is_empty() {
                continue;
            }
            let name = relative(input, &path);
            let Some((record, _)) = listed.get(name.as_str()) else {
                return Err(format!(
                    "{} is in none of the exports that {} lists, so it is not one runlog-db wrote; move it out of the folder; nothing imported",
                    path.display(),
                    exports_log(input).display()
                )
                .into());
            };
            let mut hasher = blake3::Hasher::new();
            let bytes = File::open(&path)
                .and_then(|mut f| std::io::copy(&mut f, &mut hasher))
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let hash = hasher.finalize().to_hex().to_string();
            if bytes != record.bytes || hash != record.blake3 {
                return Err(format!(
                    "{} is damaged: {bytes} bytes with BLAKE3 {hash}, where its export wrote {} bytes with BLAKE3 {}; nothing imported",
                    path.display(),
                    record.bytes,
                    record.blake3
                )
                .into());
            }
            found.insert(name);
        }
    }
    if let Some((name, (_, export))) = listed.iter().find(|(name, _)| !found.contains(**name)) {
        return Err(format!(
            "{} is missing: export {export} wrote it; nothing imported",
            input.join(name).display()
        )
        .into());
    }
    if exports.is_empty() {
        eprintln!(
            "{} has no exports.jsonl: its files are read without checking their checksums",
            input.display()
        );
    }
    Ok(())
}

/// Calls `each` with every batch of every file of a table.
fn each_batch(
    input: &Path,
    table: TableKind,
    mut each: impl FnMut(&Path, &RecordBatch) -> CliResult,
) -> CliResult {
    for path in files(input, table)? {
        let file = File::open(&path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .and_then(|b| b.with_batch_size(READ_BATCH).build())
            .map_err(|e| format!("{}: {e}; nothing imported", path.display()))?;
        for batch in reader {
            let batch = batch.map_err(|e| format!("{}: {e}; nothing imported", path.display()))?;
            each(&path, &batch)?;
        }
    }
    Ok(())
}

/// Column `name` of a batch, of array type `A`, or an error naming the
/// file and the column. Columns that may not hold nulls are checked.
fn column<'b, A: Array + 'static>(
    path: &Path,
    batch: &'b RecordBatch,
    name: &str,
    nullable: bool,
) -> Result<&'b A, String> {
    let array = batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<A>())
        .ok_or_else(|| {
            format!(
                "{}: no column {name} of the type that runlog exports ({}); nothing imported",
                path.display(),
                std::any::type_name::<A>().rsplit("::").next().unwrap_or("")
            )
        })?;
    if !nullable && array.null_count() > 0 {
        return Err(format!(
            "{}: column {name} holds nulls; nothing imported",
            path.display()
        ));
    }
    Ok(array)
}

/// The entries of row `i` of a `map<string, string>` column.
fn string_map(
    path: &Path,
    map: &MapArray,
    i: usize,
    what: &str,
) -> Result<BTreeMap<String, String>, String> {
    let entries = map.value(i);
    let strings = |n: usize| entries.column(n).as_any().downcast_ref::<StringArray>();
    let (Some(keys), Some(values)) = (strings(0), strings(1)) else {
        return Err(format!(
            "{}: {what} is not a map of strings; nothing imported",
            path.display()
        ));
    };
    let mut out = BTreeMap::new();
    for j in 0..keys.len() {
        runlog::check_name("key", keys.value(j)).map_err(|e| format!("{}: {e}", path.display()))?;
        out.insert(keys.value(j).to_string(), values.value(j).to_string());
    }
    Ok(out)
}

/// Every run of the runs tables, checked; of a run in several exports,
/// the newest row.
fn read_runs(input: &Path) -> CliResult<BTreeMap<Key, RunRow>> {
    let mut runs: BTreeMap<Key, RunRow> = BTreeMap::new();
    each_batch(input, TableKind::Runs, |path, batch| {
        let id = column::<Int64Array>(path, batch, "run_id", false)?;
        let experiment = column::<StringArray>(path, batch, "experiment", false)?;
        let name = column::<StringArray>(path, batch, "run_name", false)?;
        let status = column::<StringArray>(path, batch, "status", false)?;
        let start = column::<Int64Array>(path, batch, "start_ms", false)?;
        let end = column::<Int64Array>(path, batch, "end_ms", true)?;
        let params = column::<MapArray>(path, batch, "params", false)?;
        let tags = column::<MapArray>(path, batch, "tags", false)?;
        let metrics = column::<ListArray>(path, batch, "metrics", false)?;
        let exported = column::<Int64Array>(path, batch, "exported_ms", false)?;
        for i in 0..batch.num_rows() {
            let at =
                |e: &dyn std::fmt::Display| format!("{}: run {}: {e}", path.display(), id.value(i));
            for (what, text) in [("experiment", experiment.value(i)), ("run", name.value(i))] {
                runlog::check_name(what, text).map_err(|e| at(&e))?;
            }
            status
                .value(i)
                .parse::<runlog::RunStatus>()
                .map_err(|e| at(&e))?;
            let summaries = metrics.value(i);
            let names = summaries
                .as_any()
                .downcast_ref::<arrow_array::StructArray>()
                .and_then(|s| s.column_by_name("name"))
                .and_then(|c| c.as_any().downcast_ref::<StringArray>())
                .ok_or_else(|| at(&"metrics is not a list of summaries with names"))?;
            let row = RunRow {
                source_id: id.value(i),
                exported_ms: exported.value(i),
                meta: RunMeta {
                    experiment: experiment.value(i).to_string(),
                    status: status.value(i).to_string(),
                    start_ms: start.value(i),
                    end_ms: (!end.is_null(i)).then(|| end.value(i)),
                    params: string_map(path, params, i, "params")?,
                    tags: string_map(path, tags, i, "tags")?,
                },
                metrics: names.iter().flatten().map(str::to_string).collect(),
            };
            let key = (experiment.value(i).to_string(), name.value(i).to_string());
            if runs
                .get(&key)
                .is_none_or(|r| r.exported_ms <= row.exported_ms)
            {
                runs.insert(key, row);
            }
        }
        Ok(())
    })?;
    Ok(runs)
}

/// Finds the staged run of each row by the source run id, checking that
/// the row's experiment and name agree with the runs table.
struct Runs<'a> {
    by_source: HashMap<i64, (&'a Key, Option<RunId>)>,
}

impl<'a> Runs<'a> {
    fn new(rows: &'a BTreeMap<Key, RunRow>, staged: &HashMap<Key, RunId>) -> Runs<'a> {
        let by_source = rows
            .iter()
            .map(|(key, row)| (row.source_id, (key, staged.get(key).copied())))
            .collect();
        Runs { by_source }
    }

    /// The run columns of a batch, read once for all its rows.
    fn in_batch<'b>(
        &'b self,
        path: &'b Path,
        batch: &'b RecordBatch,
    ) -> Result<BatchRuns<'b>, String> {
        Ok(BatchRuns {
            runs: self,
            path,
            id: column::<Int64Array>(path, batch, "run_id", false)?,
            experiment: column::<StringArray>(path, batch, "experiment", false)?,
            name: column::<StringArray>(path, batch, "run_name", false)?,
        })
    }
}

/// The run columns of one batch.
struct BatchRuns<'b> {
    runs: &'b Runs<'b>,
    path: &'b Path,
    id: &'b Int64Array,
    experiment: &'b StringArray,
    name: &'b StringArray,
}

impl BatchRuns<'_> {
    /// The staged run of row `i` (`None`: a run skipped as it exists).
    fn of(&self, i: usize) -> Result<Option<RunId>, String> {
        let (id, experiment, name) = (
            self.id.value(i),
            self.experiment.value(i),
            self.name.value(i),
        );
        match self.runs.by_source.get(&id) {
            Some(((e, n), run)) if e == experiment && n == name => Ok(*run),
            _ => Err(format!(
                "{}: row {i} of a batch belongs to run {id} ({experiment}/{name}), which no runs table lists; nothing imported",
                self.path.display()
            )),
        }
    }

    /// The end of the rows of row `start`'s run, from `start` on.
    fn run_end(&self, start: usize) -> usize {
        (start..self.id.len())
            .find(|&i| self.id.value(i) != self.id.value(start))
            .unwrap_or(self.id.len())
    }
}

/// `import --format parquet`: the export folder at `input`, into `dir`.
pub fn import(dir: &Path, input: &Path, existing: OnExisting) -> CliResult {
    let exports = read_exports(input)?;
    verify_files(input, &exports)?;
    let rows = read_runs(input)?;
    if rows.is_empty() {
        return Err(format!(
            "{} holds no runs table (runs/**/*.parquet): it is not a runlog Parquet export",
            input.display()
        )
        .into());
    }
    let names: BTreeMap<Key, BTreeSet<String>> = rows
        .iter()
        .map(|(k, r)| (k.clone(), r.metrics.clone()))
        .collect();
    check_limits(&names)?;
    let total: u64 = exports.iter().map(|e| e.rows[0]).sum();
    let db = open_writer(Db::builder(dir))?;
    let plan = plan(&db, rows.keys(), |k| Some(rows[k].meta.start_ms), existing)?;
    let runs = Runs::new(&rows, &plan.staged);
    let progress = bar(total, "points").with_message("importing");
    let mut points = 0u64;
    each_batch(input, TableKind::Points, |path, batch| {
        let metric = column::<StringArray>(path, batch, "metric", false)?;
        let step = column::<Int64Array>(path, batch, "step", false)?;
        let timestamp = column::<Int64Array>(path, batch, "timestamp_ms", false)?;
        let value = column::<Float64Array>(path, batch, "value", false)?;
        let batch_runs = runs.in_batch(path, batch)?;
        let mut start = 0;
        while start < batch.num_rows() {
            // The rows of one run, logged in one call.
            let end = batch_runs.run_end(start);
            if let Some(run) = batch_runs.of(start)? {
                let group: Vec<(&str, i64, i64, f64)> = (start..end)
                    .map(|i| {
                        (
                            metric.value(i),
                            step.value(i),
                            timestamp.value(i),
                            value.value(i),
                        )
                    })
                    .collect();
                db.log_batch(run, &group)?;
            }
            points += (end - start) as u64;
            progress.set_position(points);
            start = end;
        }
        Ok(())
    })?;
    progress.finish_and_clear();
    let mut texts = 0u64;
    each_batch(input, TableKind::Texts, |path, batch| {
        let series = column::<StringArray>(path, batch, "series", false)?;
        let step = column::<Int64Array>(path, batch, "step", false)?;
        let timestamp = column::<Int64Array>(path, batch, "timestamp_ms", false)?;
        let value = column::<StringArray>(path, batch, "value", false)?;
        let batch_runs = runs.in_batch(path, batch)?;
        for i in 0..batch.num_rows() {
            if let Some(run) = batch_runs.of(i)? {
                db.log_str_at(
                    run,
                    series.value(i),
                    step.value(i),
                    timestamp.value(i),
                    value.value(i),
                )?;
                texts += 1;
            }
        }
        Ok(())
    })?;
    let cells = import_cells(&db, input, &runs)?;
    let runs = plan.publish(db, rows.iter().map(|(k, r)| (k, &r.meta)))?;
    eprintln!("imported {runs}: {points} points, {texts} text points, {cells} table cells");
    Ok(())
}

/// A cell read back: a number or a text.
enum OwnedCell {
    Number(f64),
    Text(String),
}

/// Logs the cells table's rows, each table's rows in order; a row missing
/// from the middle of a table is refused, as the engine numbers rows as
/// they come. The cells of a run's tables are held in memory (tables are
/// small next to metrics). The number of cells.
fn import_cells(db: &Db, input: &Path, runs: &Runs<'_>) -> CliResult<u64> {
    type Rows = BTreeMap<u64, Vec<(String, OwnedCell)>>;
    let mut tables: BTreeMap<(RunId, String), Rows> = BTreeMap::new();
    let mut cells = 0u64;
    each_batch(input, TableKind::Cells, |path, batch| {
        let table = column::<StringArray>(path, batch, "table", false)?;
        let row = column::<Int64Array>(path, batch, "row", false)?;
        let name = column::<StringArray>(path, batch, "column", false)?;
        let number = column::<Float64Array>(path, batch, "number", true)?;
        let text = column::<StringArray>(path, batch, "text", true)?;
        let batch_runs = runs.in_batch(path, batch)?;
        for i in 0..batch.num_rows() {
            let Some(run) = batch_runs.of(i)? else {
                continue;
            };
            let cell = match (number.is_null(i), text.is_null(i)) {
                (false, true) => OwnedCell::Number(number.value(i)),
                (true, false) => OwnedCell::Text(text.value(i).to_string()),
                _ => {
                    return Err(format!(
                        "{}: cell {}/{} of row {}: give exactly one of number and text; nothing imported",
                        path.display(),
                        table.value(i),
                        name.value(i),
                        row.value(i)
                    )
                    .into());
                }
            };
            tables
                .entry((run, table.value(i).to_string()))
                .or_default()
                .entry(row.value(i) as u64)
                .or_default()
                .push((name.value(i).to_string(), cell));
            cells += 1;
        }
        Ok(())
    })?;
    for ((run, table), rows) in &tables {
        for (expected, (&row, cells)) in rows.iter().enumerate() {
            if row != expected as u64 {
                return Err(format!(
                    "table {table:?} of run {run}: row {expected} is not in the cells table (the next is row {row}); nothing imported"
                )
                .into());
            }
            let cells: Vec<(&str, runlog::Cell<'_>)> = cells
                .iter()
                .map(|(column, cell)| {
                    let cell = match cell {
                        OwnedCell::Number(v) => runlog::Cell::Number(*v),
                        OwnedCell::Text(t) => runlog::Cell::Text(t),
                    };
                    (column.as_str(), cell)
                })
                .collect();
            db.log_row_cells(*run, table, &cells)?;
        }
    }
    Ok(cells)
}
