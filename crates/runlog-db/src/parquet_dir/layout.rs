//! The folder that `export --format parquet` writes and `import --format
//! parquet` reads (`docs/parquet.md`): four tables, each a folder of
//! Parquet files partitioned by experiment the way Hive names them,
//!
//! ```text
//! OUT/points/experiment=<name>/part-<export>.parquet
//! OUT/texts/experiment=<name>/part-<export>.parquet
//! OUT/cells/experiment=<name>/part-<export>.parquet
//! OUT/runs/experiment=<name>/part-<export>.parquet
//! OUT/exports.jsonl
//! ```
//!
//! and a log of the exports that wrote them, one JSON line each, with the
//! size and BLAKE3 hash of every file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_schema::{DataType, Field, FieldRef, Fields, Schema, SchemaRef};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use serde::{Deserialize, Serialize};

/// The version of the layout, written in each export's log line and in
/// each file's key-value metadata (`runlog.layout`).
pub const LAYOUT_VERSION: u32 = 1;

/// The characters that Hive (and Spark, DuckDB, Trino after it) escape in
/// a partition folder's value; other bytes of UTF-8 are escaped too.
const HIVE_ESCAPED: &AsciiSet = &CONTROLS
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'\'')
    .add(b'*')
    .add(b'/')
    .add(b':')
    .add(b'=')
    .add(b'?')
    .add(b'\\')
    .add(b'{')
    .add(b'[')
    .add(b']')
    .add(b'^');

/// The longest file name most file systems allow, in bytes.
const MAX_FILE_NAME: usize = 255;

/// The tables of an export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableKind {
    /// Metric points: one row per point.
    Points,
    /// Text series: one row per text point.
    Texts,
    /// Table metrics: one row per cell.
    Cells,
    /// Runs: one row per run, with its summaries.
    Runs,
}

impl TableKind {
    /// The table's folder under the export.
    pub fn folder(self) -> &'static str {
        match self {
            TableKind::Points => "points",
            TableKind::Texts => "texts",
            TableKind::Cells => "cells",
            TableKind::Runs => "runs",
        }
    }

    /// The table's columns.
    pub fn schema(self) -> SchemaRef {
        let mut fields = vec![
            Field::new("run_id", DataType::Int64, false),
            Field::new("experiment", DataType::Utf8, false),
            Field::new("run_name", DataType::Utf8, false),
        ];
        let column = |name: &str, kind: DataType| Field::new(name, kind, false);
        match self {
            TableKind::Points => fields.extend([
                column("metric", DataType::Utf8),
                column("step", DataType::Int64),
                column("timestamp_ms", DataType::Int64),
                column("value", DataType::Float64),
            ]),
            TableKind::Texts => fields.extend([
                column("series", DataType::Utf8),
                column("step", DataType::Int64),
                column("timestamp_ms", DataType::Int64),
                column("value", DataType::Utf8),
            ]),
            TableKind::Cells => fields.extend([
                column("table", DataType::Utf8),
                column("row", DataType::Int64),
                column("column", DataType::Utf8),
                Field::new("number", DataType::Float64, true),
                Field::new("text", DataType::Utf8, true),
            ]),
            TableKind::Runs => fields.extend([
                column("status", DataType::Utf8),
                column("start_ms", DataType::Int64),
                Field::new("end_ms", DataType::Int64, true),
                column("params", string_map()),
                column("tags", string_map()),
                column("metrics", DataType::List(summary_item())),
                column("exported_ms", DataType::Int64),
            ]),
        }
        Arc::new(Schema::new(fields))
    }

    /// The columns the rows are sorted by within a file.
    pub fn sort_columns(self) -> &'static [&'static str] {
        match self {
            TableKind::Points => &["run_id", "metric", "step"],
            TableKind::Texts => &["run_id", "series", "step"],
            TableKind::Cells => &["run_id", "table", "row"],
            TableKind::Runs => &["run_id"],
        }
    }
}

/// A `map<string, string>` (params, tags).
fn string_map() -> DataType {
    DataType::Map(map_entries(), false)
}

/// The entries of a `map<string, string>`.
pub fn map_entries() -> FieldRef {
    Arc::new(Field::new_struct("entries", map_entry_fields(), false))
}

/// The fields of one entry of a `map<string, string>`.
pub fn map_entry_fields() -> Fields {
    Fields::from(vec![
        Field::new("key", DataType::Utf8, false),
        Field::new("value", DataType::Utf8, false),
    ])
}

/// An item of the runs table's `metrics` list: one metric's summary.
pub fn summary_item() -> FieldRef {
    Arc::new(Field::new_struct("item", summary_fields(), false))
}

/// The fields of one metric's summary in the runs table.
pub fn summary_fields() -> Fields {
    Fields::from(vec![
        Field::new("name", DataType::Utf8, false),
        Field::new("count", DataType::Int64, false),
        Field::new("first_step", DataType::Int64, false),
        Field::new("last_step", DataType::Int64, false),
        Field::new("last", DataType::Float64, false),
        Field::new("min", DataType::Float64, false),
        Field::new("max", DataType::Float64, false),
    ])
}

/// The folder of one experiment's files of a table:
/// `OUT/<table>/experiment=<escaped name>`.
pub fn partition(out: &Path, table: TableKind, experiment: &str) -> Result<PathBuf, String> {
    let folder = format!(
        "experiment={}",
        utf8_percent_encode(experiment, HIVE_ESCAPED)
    );
    if folder.len() > MAX_FILE_NAME {
        return Err(format!(
            "experiment {experiment:?} is {} bytes as a partition folder name ({folder}), over the {MAX_FILE_NAME} that file systems allow; export its runs with a shorter experiment name",
            folder.len()
        ));
    }
    Ok(out.join(table.folder()).join(folder))
}

/// What one export wrote, as a line of `exports.jsonl`.
#[derive(Debug, Serialize, Deserialize)]
pub struct ExportRecord {
    /// The layout's version ([`LAYOUT_VERSION`]).
    pub layout: u32,
    /// The export's name, in its files' names (`part-<export>.parquet`).
    pub export: String,
    /// Points and text points logged at or after this time, ms, if the
    /// export was incremental (`--since`).
    pub since_ms: Option<i64>,
    /// Points and text points logged before this time, ms: the export's
    /// start, and the `--since` of the next incremental export.
    pub until_ms: i64,
    /// The `--run` it was limited to.
    pub run: Option<String>,
    /// The `--experiment` it was limited to.
    pub experiment: Option<String>,
    /// Rows it wrote, by table: points, texts, cells, runs.
    pub rows: [u64; 4],
    /// The files it wrote, each with its checksum.
    pub files: Vec<FileRecord>,
}

/// A file of an export, as its record lists it: Parquet files carry no
/// checksum of their pages from this writer, so the export keeps one of
/// each whole file, and the import checks it.
#[derive(Debug, Serialize, Deserialize)]
pub struct FileRecord {
    /// Its path under the export folder, `/`-separated.
    pub path: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// Its BLAKE3 hash, in hex.
    pub blake3: String,
}

/// `path` under `out`, `/`-separated, as an export's record names it.
pub fn relative(out: &Path, path: &Path) -> String {
    let inner = path.strip_prefix(out).unwrap_or(path);
    inner
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// The log of exports in `out`.
pub fn exports_log(out: &Path) -> PathBuf {
    out.join("exports.jsonl")
}

/// Every export recorded in `out`, oldest first.
pub fn read_exports(out: &Path) -> Result<Vec<ExportRecord>, String> {
    let path = exports_log(out);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(n, line)| {
            let record: ExportRecord = serde_json::from_str(line)
                .map_err(|e| format!("{}: line {}: {e}", path.display(), n + 1))?;
            if record.layout > LAYOUT_VERSION {
                return Err(format!(
                    "{}: line {}: layout version {} is newer than this build's {LAYOUT_VERSION}",
                    path.display(),
                    n + 1,
                    record.layout
                ));
            }
            Ok(record)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_names_escape_what_hive_escapes_and_refuse_long_ones() {
        let out = Path::new("/out");
        let path = partition(out, TableKind::Points, "a/b=c 100%").unwrap();
        assert_eq!(
            path,
            Path::new("/out/points/experiment=a%2Fb%3Dc 100%25"),
            "{path:?}"
        );
        let long = "/".repeat(100);
        let error = partition(out, TableKind::Runs, &long).unwrap_err();
        assert!(error.contains("311 bytes"), "{error}");
    }
}
