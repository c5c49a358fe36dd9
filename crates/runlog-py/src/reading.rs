//! The read calls. Histories come back as numpy arrays that take over the
//! engine's vectors without a copy (`into_pyarray`).

use std::collections::BTreeMap;

use numpy::{IntoPyArray, PyArray1};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use runlog::RunId;

use crate::convert::{artifact, stats};
use crate::errors::to_py;
use crate::store::Store;

/// Steps, timestamps (ms) and values.
type History<'py> = (
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<f64>>,
);

#[pymethods]
impl Store {
    /// The names of a run's metrics, sorted.
    fn metric_names(&self, run: u64) -> PyResult<Vec<String>> {
        self.db()?.metric_names(RunId(run)).map_err(to_py)
    }

    /// The names of a run's tables, sorted.
    fn table_names(&self, run: u64) -> PyResult<Vec<String>> {
        self.db()?.table_names(RunId(run)).map_err(to_py)
    }

    /// The names of a run's text series, sorted.
    fn text_series(&self, run: u64) -> PyResult<Vec<String>> {
        self.db()?.text_series(RunId(run)).map_err(to_py)
    }

    /// A metric's (or `TABLE/COLUMN`'s) points with steps in `start..=end`,
    /// in step order: steps, timestamps, values.
    #[pyo3(signature = (run, name, start = None, end = None))]
    fn history<'py>(
        &self,
        py: Python<'py>,
        run: u64,
        name: &str,
        start: Option<i64>,
        end: Option<i64>,
    ) -> PyResult<History<'py>> {
        let db = self.db()?;
        let range = start.unwrap_or(i64::MIN)..=end.unwrap_or(i64::MAX);
        let points = py
            .detach(|| db.history(RunId(run), name, range))
            .map_err(to_py)?;
        Ok((
            points.steps.into_pyarray(py),
            points.timestamps.into_pyarray(py),
            points.values.into_pyarray(py),
        ))
    }

    /// Every metric's (and table column's) values in order.
    fn get_metrics<'py>(
        &self,
        py: Python<'py>,
        run: u64,
    ) -> PyResult<BTreeMap<String, Bound<'py, PyArray1<f64>>>> {
        let db = self.db()?;
        let all = py.detach(|| db.get_metrics(RunId(run))).map_err(to_py)?;
        Ok(all
            .into_iter()
            .map(|(name, values)| (name, values.into_pyarray(py)))
            .collect())
    }

    /// The latest point of a metric: step, timestamp, value.
    fn latest(&self, run: u64, name: &str) -> PyResult<(i64, i64, f64)> {
        let point = self.db()?.latest(RunId(run), name).map_err(to_py)?;
        Ok((point.step, point.timestamp_ms, point.value))
    }

    /// A metric's statistics: count, first, last, min, max and steps.
    fn stats<'py>(&self, py: Python<'py>, run: u64, name: &str) -> PyResult<Bound<'py, PyDict>> {
        let s = self.db()?.stats(RunId(run), name).map_err(to_py)?;
        stats(py, &s)
    }

    /// Downsampled history: `buckets` step ranges with count, first,
    /// last, min and max each.
    fn downsample<'py>(
        &self,
        py: Python<'py>,
        run: u64,
        name: &str,
        buckets: usize,
    ) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let db = self.db()?;
        let found = py
            .detach(|| db.downsample(RunId(run), name, .., buckets))
            .map_err(to_py)?;
        found
            .iter()
            .map(|b| {
                let dict = PyDict::new(py);
                dict.set_item("start_step", b.start_step)?;
                dict.set_item("end_step", b.end_step)?;
                dict.set_item("count", b.count)?;
                dict.set_item("first", b.first)?;
                dict.set_item("last", b.last)?;
                dict.set_item("min", b.min)?;
                dict.set_item("max", b.max)?;
                Ok(dict)
            })
            .collect()
    }

    /// A text series' points in step order: (step, timestamp, value).
    fn text_history(
        &self,
        py: Python<'_>,
        run: u64,
        name: &str,
    ) -> PyResult<Vec<(i64, i64, String)>> {
        let db = self.db()?;
        let points = py
            .detach(|| db.text_history(RunId(run), name))
            .map_err(to_py)?;
        Ok(points
            .into_iter()
            .map(|p| (p.step, p.timestamp, p.value))
            .collect())
    }

    /// A text series' latest point: (step, timestamp, value).
    fn text_latest(&self, run: u64, name: &str) -> PyResult<(i64, i64, String)> {
        let p = self.db()?.text_latest(RunId(run), name).map_err(to_py)?;
        Ok((p.step, p.timestamp, p.value))
    }

    /// A table: its row count, numeric and string columns aligned by row.
    fn table<'py>(&self, py: Python<'py>, run: u64, name: &str) -> PyResult<Bound<'py, PyDict>> {
        let db = self.db()?;
        let table = py.detach(|| db.table(RunId(run), name)).map_err(to_py)?;
        let dict = PyDict::new(py);
        dict.set_item("rows", table.rows)?;
        let columns: BTreeMap<String, Vec<Option<f64>>> = table.columns.into_iter().collect();
        dict.set_item("columns", columns)?;
        let texts: BTreeMap<String, Vec<Option<String>>> = table.text_columns.into_iter().collect();
        dict.set_item("text_columns", texts)?;
        Ok(dict)
    }

    /// The text log streams of a run: name, bytes, lines, bytes stored.
    fn log_streams<'py>(&self, py: Python<'py>, run: u64) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let streams = self.db()?.log_streams(RunId(run)).map_err(to_py)?;
        streams
            .iter()
            .map(|s| {
                let dict = PyDict::new(py);
                dict.set_item("name", &s.name)?;
                dict.set_item("bytes", s.bytes)?;
                dict.set_item("lines", s.lines)?;
                dict.set_item("stored_bytes", s.stored_bytes)?;
                Ok(dict)
            })
            .collect()
    }

    /// Up to `limit` lines of a text log from line `start` (0-based):
    /// (first line number, lines, text after the last newline or None).
    #[pyo3(signature = (run, stream, start = 0, limit = None))]
    fn log_lines(
        &self,
        py: Python<'_>,
        run: u64,
        stream: &str,
        start: u64,
        limit: Option<usize>,
    ) -> PyResult<(u64, Vec<String>, Option<String>)> {
        let db = self.db()?;
        let read = py
            .detach(|| db.log_lines(RunId(run), stream, start, limit.unwrap_or(usize::MAX)))
            .map_err(to_py)?;
        Ok((read.first_line, read.lines, read.unterminated))
    }

    /// A run's artifacts at or under `prefix`.
    #[pyo3(signature = (run, prefix = ""))]
    fn artifacts<'py>(
        &self,
        py: Python<'py>,
        run: u64,
        prefix: &str,
    ) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let found = self.db()?.artifacts(RunId(run), prefix).map_err(to_py)?;
        found.iter().map(|a| artifact(py, a)).collect()
    }

    /// An image series, by step.
    fn images<'py>(
        &self,
        py: Python<'py>,
        run: u64,
        key: &str,
    ) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let found = self.db()?.images(RunId(run), key).map_err(to_py)?;
        found.iter().map(|a| artifact(py, a)).collect()
    }

    /// An artifact's content, checked against its hash.
    fn read_artifact<'py>(
        &self,
        py: Python<'py>,
        run: u64,
        path: &str,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let db = self.db()?;
        let bytes = py
            .detach(|| db.read_artifact(RunId(run), path))
            .map_err(to_py)?;
        Ok(PyBytes::new(py, &bytes))
    }
}
