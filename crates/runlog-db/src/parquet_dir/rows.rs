//! Rows of the four tables, gathered column by column into Arrow arrays
//! until a batch is full.

use std::sync::Arc;

use arrow_array::builder::{ArrayBuilder, Float64Builder, Int64Builder, StringBuilder};
use arrow_array::{
    ArrayRef, Float64Array, Int64Array, ListArray, MapArray, RecordBatch, StringArray, StructArray,
};
use arrow_buffer::OffsetBuffer;
use arrow_schema::{ArrowError, SchemaRef};
use runlog::{RunInfo, RunSummary};

use super::layout::{TableKind, map_entries, map_entry_fields, summary_fields, summary_item};

/// Rows gathered for one table.
pub trait Rows {
    /// The table they belong to.
    const KIND: TableKind;

    /// Rows gathered since the last batch.
    fn len(&self) -> usize;

    /// The gathered rows as a batch of the table's schema; starts over.
    fn take_batch(&mut self, schema: &SchemaRef) -> Result<RecordBatch, ArrowError>;
}

/// The three columns that every table starts with: the run's id,
/// experiment and name.
#[derive(Default)]
struct RunColumns {
    id: Int64Builder,
    experiment: StringBuilder,
    name: StringBuilder,
}

impl RunColumns {
    fn push(&mut self, run: &RunInfo) {
        self.id.append_value(run.id.0 as i64);
        self.experiment.append_value(&run.experiment);
        self.name.append_value(&run.name);
    }

    fn len(&self) -> usize {
        self.id.len()
    }

    /// The columns, followed by `rest`, as a batch.
    fn batch(
        &mut self,
        schema: &SchemaRef,
        rest: Vec<ArrayRef>,
    ) -> Result<RecordBatch, ArrowError> {
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(self.id.finish()),
            Arc::new(self.experiment.finish()),
            Arc::new(self.name.finish()),
        ];
        columns.extend(rest);
        RecordBatch::try_new(schema.clone(), columns)
    }
}

/// Rows of the points table.
#[derive(Default)]
pub struct PointRows {
    run: RunColumns,
    metric: StringBuilder,
    step: Int64Builder,
    timestamp: Int64Builder,
    value: Float64Builder,
}

impl PointRows {
    /// Adds one point of `run`'s metric `metric`.
    pub fn push(&mut self, run: &RunInfo, metric: &str, step: i64, timestamp: i64, value: f64) {
        self.run.push(run);
        self.metric.append_value(metric);
        self.step.append_value(step);
        self.timestamp.append_value(timestamp);
        self.value.append_value(value);
    }
}

impl Rows for PointRows {
    const KIND: TableKind = TableKind::Points;

    fn len(&self) -> usize {
        self.run.len()
    }

    fn take_batch(&mut self, schema: &SchemaRef) -> Result<RecordBatch, ArrowError> {
        let rest: Vec<ArrayRef> = vec![
            Arc::new(self.metric.finish()),
            Arc::new(self.step.finish()),
            Arc::new(self.timestamp.finish()),
            Arc::new(self.value.finish()),
        ];
        self.run.batch(schema, rest)
    }
}

/// Rows of the texts table.
#[derive(Default)]
pub struct TextRows {
    run: RunColumns,
    series: StringBuilder,
    step: Int64Builder,
    timestamp: Int64Builder,
    value: StringBuilder,
}

impl TextRows {
    /// Adds one text point of `run`'s series `series`.
    pub fn push(&mut self, run: &RunInfo, series: &str, point: &runlog::TextPoint) {
        self.run.push(run);
        self.series.append_value(series);
        self.step.append_value(point.step);
        self.timestamp.append_value(point.timestamp);
        self.value.append_value(&point.value);
    }
}

impl Rows for TextRows {
    const KIND: TableKind = TableKind::Texts;

    fn len(&self) -> usize {
        self.run.len()
    }

    fn take_batch(&mut self, schema: &SchemaRef) -> Result<RecordBatch, ArrowError> {
        let rest: Vec<ArrayRef> = vec![
            Arc::new(self.series.finish()),
            Arc::new(self.step.finish()),
            Arc::new(self.timestamp.finish()),
            Arc::new(self.value.finish()),
        ];
        self.run.batch(schema, rest)
    }
}

/// Rows of the cells table.
#[derive(Default)]
pub struct CellRows {
    run: RunColumns,
    table: StringBuilder,
    row: Int64Builder,
    column: StringBuilder,
    number: Float64Builder,
    text: StringBuilder,
}

impl CellRows {
    /// Adds one cell: a number or a text.
    pub fn push(&mut self, run: &RunInfo, table: &str, row: u64, column: &str, cell: Cell<'_>) {
        self.run.push(run);
        self.table.append_value(table);
        self.row.append_value(row as i64);
        self.column.append_value(column);
        match cell {
            Cell::Number(v) => {
                self.number.append_value(v);
                self.text.append_null();
            }
            Cell::Text(t) => {
                self.number.append_null();
                self.text.append_value(t);
            }
        }
    }
}

/// A table cell as the cells table holds it.
pub enum Cell<'a> {
    /// A numeric cell.
    Number(f64),
    /// A string cell.
    Text(&'a str),
}

impl Rows for CellRows {
    const KIND: TableKind = TableKind::Cells;

    fn len(&self) -> usize {
        self.run.len()
    }

    fn take_batch(&mut self, schema: &SchemaRef) -> Result<RecordBatch, ArrowError> {
        let rest: Vec<ArrayRef> = vec![
            Arc::new(self.table.finish()),
            Arc::new(self.row.finish()),
            Arc::new(self.column.finish()),
            Arc::new(self.number.finish()),
            Arc::new(self.text.finish()),
        ];
        self.run.batch(schema, rest)
    }
}

/// Rows of the runs table. Maps and lists are built whole at the end from
/// these plain vectors (a run's row is small, and there is one per run).
#[derive(Default)]
pub struct RunRows {
    run: RunColumns,
    status: StringBuilder,
    start: Int64Builder,
    end: Int64Builder,
    params: Vec<(String, String)>,
    params_per_run: Vec<usize>,
    tags: Vec<(String, String)>,
    tags_per_run: Vec<usize>,
    summaries: Vec<(String, runlog::Stats)>,
    summaries_per_run: Vec<usize>,
    exported: Int64Builder,
}

impl RunRows {
    /// Adds a run's row: its metadata and the summary of each metric, as
    /// of `exported_ms`.
    pub fn push(&mut self, run: &RunSummary, exported_ms: i64) {
        let info = &run.info;
        self.run.push(info);
        self.status.append_value(info.status.to_string());
        self.start.append_value(info.start_ms);
        self.end.append_option(info.end_ms);
        self.params.extend(info.params.clone());
        self.params_per_run.push(info.params.len());
        self.tags.extend(info.tags.clone());
        self.tags_per_run.push(info.tags.len());
        self.summaries
            .extend(run.metrics.iter().map(|(n, s)| (n.to_string(), *s)));
        self.summaries_per_run.push(run.metrics.len());
        self.exported.append_value(exported_ms);
    }
}

/// A `map<string, string>` column from each row's entries.
fn string_map(entries: Vec<(String, String)>, per_row: Vec<usize>) -> Result<ArrayRef, ArrowError> {
    let (keys, values): (Vec<String>, Vec<String>) = entries.into_iter().unzip();
    let entries = StructArray::try_new(
        map_entry_fields(),
        vec![
            Arc::new(StringArray::from(keys)),
            Arc::new(StringArray::from(values)),
        ],
        None,
    )?;
    let offsets = OffsetBuffer::from_lengths(per_row);
    Ok(Arc::new(MapArray::try_new(
        map_entries(),
        offsets,
        entries,
        None,
        false,
    )?))
}

impl Rows for RunRows {
    const KIND: TableKind = TableKind::Runs;

    fn len(&self) -> usize {
        self.run.len()
    }

    fn take_batch(&mut self, schema: &SchemaRef) -> Result<RecordBatch, ArrowError> {
        let params = string_map(
            std::mem::take(&mut self.params),
            std::mem::take(&mut self.params_per_run),
        )?;
        let tags = string_map(
            std::mem::take(&mut self.tags),
            std::mem::take(&mut self.tags_per_run),
        )?;
        let summaries = std::mem::take(&mut self.summaries);
        let stat = |f: fn(&runlog::Stats) -> i64| -> ArrayRef {
            Arc::new(Int64Array::from_iter_values(
                summaries.iter().map(|(_, s)| f(s)),
            ))
        };
        let value = |f: fn(&runlog::Stats) -> f64| -> ArrayRef {
            Arc::new(Float64Array::from_iter_values(
                summaries.iter().map(|(_, s)| f(s)),
            ))
        };
        let items = StructArray::try_new(
            summary_fields(),
            vec![
                Arc::new(StringArray::from_iter_values(
                    summaries.iter().map(|(n, _)| n),
                )),
                stat(|s| s.count as i64),
                stat(|s| s.first_step),
                stat(|s| s.last_step),
                value(|s| s.last_value),
                value(|s| s.min),
                value(|s| s.max),
            ],
            None,
        )?;
        let metrics = ListArray::try_new(
            summary_item(),
            OffsetBuffer::from_lengths(std::mem::take(&mut self.summaries_per_run)),
            Arc::new(items),
            None,
        )?;
        let rest: Vec<ArrayRef> = vec![
            Arc::new(self.status.finish()),
            Arc::new(self.start.finish()),
            Arc::new(self.end.finish()),
            params,
            tags,
            Arc::new(metrics),
            Arc::new(self.exported.finish()),
        ];
        self.run.batch(schema, rest)
    }
}
