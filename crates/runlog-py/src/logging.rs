//! The write calls: points, text, tables, text logs and artifacts. Every
//! call releases the GIL while the engine works (an fsync under `sync`
//! durability, a wait for memtable room), and numpy buffers are copied
//! out first, so that no other thread can change them meanwhile.

use std::path::PathBuf;

use numpy::PyReadonlyArray1;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use runlog::{Cell, RunId};

use crate::convert::artifact;
use crate::errors::{InvalidError, StorageError, to_py};
use crate::store::Store;

/// A numpy array's values, contiguous or not.
fn values<T: numpy::Element + Copy>(array: &PyReadonlyArray1<'_, T>) -> Vec<T> {
    match array.as_slice() {
        Ok(slice) => slice.to_vec(),
        Err(_) => array.as_array().iter().copied().collect(),
    }
}

#[pymethods]
impl Store {
    /// Logs one point; a step left out follows the metric's last, a
    /// timestamp (ms) left out is now. Returns the step.
    #[pyo3(signature = (run, name, value, step = None, timestamp = None))]
    fn log(
        &self,
        py: Python<'_>,
        run: u64,
        name: &str,
        value: f64,
        step: Option<i64>,
        timestamp: Option<i64>,
    ) -> PyResult<i64> {
        let db = self.writer()?;
        py.detach(|| db.log_point(RunId(run), name, step, timestamp, value))
            .map_err(to_py)
    }

    /// Logs a string to a text series; returns the step.
    #[pyo3(signature = (run, name, value, step = None, timestamp = None))]
    fn log_str(
        &self,
        py: Python<'_>,
        run: u64,
        name: &str,
        value: &str,
        step: Option<i64>,
        timestamp: Option<i64>,
    ) -> PyResult<i64> {
        let db = self.writer()?;
        py.detach(|| match (step, timestamp) {
            (Some(step), Some(ts)) => db
                .log_str_at(RunId(run), name, step, ts, value)
                .map(|()| step),
            (Some(step), None) => db
                .log_str_at(RunId(run), name, step, now_ms(), value)
                .map(|()| step),
            (None, None) => db.log_str(RunId(run), name, value),
            (None, Some(_)) => Err(runlog::Error::InvalidOption {
                name: "timestamp",
                value: "without a step".into(),
                rule: "a text value with a timestamp needs its step",
            }),
        })
        .map_err(to_py)
    }

    /// Logs a float64 array at consecutive implicit steps; returns the
    /// first step and the one after the last.
    fn log_list(
        &self,
        py: Python<'_>,
        run: u64,
        name: &str,
        values: PyReadonlyArray1<'_, f64>,
    ) -> PyResult<(i64, i64)> {
        let values = self::values(&values);
        let db = self.writer()?;
        py.detach(|| db.log_list(RunId(run), name, &values))
            .map(|steps| (steps.start, steps.end))
            .map_err(to_py)
    }

    /// Logs points of several metrics at one step, as one atomic write.
    #[pyo3(signature = (run, names, values, step, timestamp = None))]
    fn log_many(
        &self,
        py: Python<'_>,
        run: u64,
        names: Vec<String>,
        values: PyReadonlyArray1<'_, f64>,
        step: i64,
        timestamp: Option<i64>,
    ) -> PyResult<()> {
        let values = self::values(&values);
        if values.len() != names.len() {
            return Err(InvalidError::new_err(format!(
                "{} names and {} values",
                names.len(),
                values.len()
            )));
        }
        let ts = timestamp.unwrap_or_else(now_ms);
        let points: Vec<(&str, i64, i64, f64)> = names
            .iter()
            .zip(&values)
            .map(|(n, &v)| (n.as_str(), step, ts, v))
            .collect();
        let db = self.writer()?;
        py.detach(|| db.log_batch(RunId(run), &points))
            .map_err(to_py)
    }

    /// Logs whole columns of one metric: steps, timestamps (ms) and values
    /// of equal lengths, as one atomic write.
    fn log_columns(
        &self,
        py: Python<'_>,
        run: u64,
        name: &str,
        steps: PyReadonlyArray1<'_, i64>,
        timestamps: PyReadonlyArray1<'_, i64>,
        values: PyReadonlyArray1<'_, f64>,
    ) -> PyResult<()> {
        let (steps, timestamps, values) = (
            self::values(&steps),
            self::values(&timestamps),
            self::values(&values),
        );
        if steps.len() != values.len() || timestamps.len() != values.len() {
            return Err(InvalidError::new_err(format!(
                "{} steps, {} timestamps and {} values: give as many of each",
                steps.len(),
                timestamps.len(),
                values.len()
            )));
        }
        let points: Vec<(&str, i64, i64, f64)> = (0..values.len())
            .map(|i| (name, steps[i], timestamps[i], values[i]))
            .collect();
        let db = self.writer()?;
        py.detach(|| db.log_batch(RunId(run), &points))
            .map_err(to_py)
    }

    /// Logs one table row of numbers and strings; returns its row index.
    fn log_row(
        &self,
        py: Python<'_>,
        run: u64,
        table: &str,
        numbers: Vec<(String, f64)>,
        texts: Vec<(String, String)>,
    ) -> PyResult<u64> {
        let mut cells: Vec<(&str, Cell<'_>)> = numbers
            .iter()
            .map(|(c, v)| (c.as_str(), Cell::Number(*v)))
            .collect();
        cells.extend(texts.iter().map(|(c, v)| (c.as_str(), Cell::Text(v))));
        let db = self.writer()?;
        py.detach(|| db.log_row_cells(RunId(run), table, &cells))
            .map_err(to_py)
    }

    /// Logs whole float64 columns of a table as rows after its last;
    /// returns the first row and the one after the last.
    fn log_table(
        &self,
        py: Python<'_>,
        run: u64,
        table: &str,
        columns: Vec<(String, PyReadonlyArray1<'_, f64>)>,
    ) -> PyResult<(u64, u64)> {
        let owned: Vec<(String, Vec<f64>)> = columns
            .iter()
            .map(|(name, array)| (name.clone(), self::values(array)))
            .collect();
        let columns: Vec<(&str, &[f64])> = owned
            .iter()
            .map(|(name, values)| (name.as_str(), values.as_slice()))
            .collect();
        let db = self.writer()?;
        py.detach(|| db.log_table(RunId(run), table, &columns))
            .map(|rows| (rows.start, rows.end))
            .map_err(to_py)
    }

    /// Appends text to a text log stream; returns its length in bytes.
    fn append_log(&self, py: Python<'_>, run: u64, stream: &str, text: &str) -> PyResult<u64> {
        let db = self.writer()?;
        py.detach(|| db.append_log(RunId(run), stream, text))
            .map_err(to_py)
    }

    /// Puts bytes as an artifact; returns its listing entry.
    #[pyo3(signature = (run, path, data, media_type = None, step = None))]
    fn put_artifact<'py>(
        &self,
        py: Python<'py>,
        run: u64,
        path: &str,
        data: &[u8],
        media_type: Option<&str>,
        step: Option<i64>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let db = self.writer()?;
        let put = py
            .detach(|| db.put_artifact_at_step(RunId(run), path, step, &mut &data[..], media_type));
        artifact(py, &put.map_err(to_py)?)
    }

    /// Puts a file as an artifact, streamed (any size, bounded memory).
    #[pyo3(signature = (run, path, file, media_type = None))]
    fn put_artifact_file<'py>(
        &self,
        py: Python<'py>,
        run: u64,
        path: &str,
        file: PathBuf,
        media_type: Option<&str>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let db = self.writer()?;
        let put = py.detach(|| {
            let mut source = std::fs::File::open(&file)
                .map_err(|e| StorageError::new_err(format!("open {}: {e}", file.display())))?;
            db.put_artifact_from(RunId(run), path, &mut source, media_type)
                .map_err(to_py)
        })?;
        artifact(py, &put)
    }

    /// Logs an image of image series `key` at `step`; returns its entry.
    fn log_image<'py>(
        &self,
        py: Python<'py>,
        run: u64,
        key: &str,
        step: i64,
        data: &[u8],
    ) -> PyResult<Bound<'py, PyDict>> {
        let db = self.writer()?;
        let put = py.detach(|| db.log_image(RunId(run), key, step, data));
        artifact(py, &put.map_err(to_py)?)
    }

    /// Deletes an artifact.
    fn delete_artifact(&self, py: Python<'_>, run: u64, path: &str) -> PyResult<()> {
        let db = self.writer()?;
        py.detach(|| db.delete_artifact(RunId(run), path))
            .map_err(to_py)
    }
}

/// Milliseconds since the Unix epoch.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
