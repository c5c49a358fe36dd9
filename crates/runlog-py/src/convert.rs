//! Engine results as Python dicts (the pure-Python layer wraps them in
//! classes).

use pyo3::prelude::*;
use pyo3::types::PyDict;
use runlog::{Artifact, RunInfo, RunSummary, Stats};

/// A run's metadata: id, experiment, name, status, times, params, tags.
pub fn run_info<'py>(py: Python<'py>, info: &RunInfo) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    dict.set_item("id", info.id.0)?;
    dict.set_item("experiment", &info.experiment)?;
    dict.set_item("name", &info.name)?;
    dict.set_item("status", info.status.as_str())?;
    dict.set_item("start_ms", info.start_ms)?;
    dict.set_item("end_ms", info.end_ms)?;
    dict.set_item("last_write_ms", info.last_write_ms)?;
    dict.set_item("params", info.params.clone())?;
    dict.set_item("tags", info.tags.clone())?;
    Ok(dict)
}

/// A metric's statistics.
pub fn stats<'py>(py: Python<'py>, stats: &Stats) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    dict.set_item("count", stats.count)?;
    dict.set_item("first_step", stats.first_step)?;
    dict.set_item("first", stats.first_value)?;
    dict.set_item("last_step", stats.last_step)?;
    dict.set_item("last_timestamp", stats.last_timestamp)?;
    dict.set_item("last", stats.last_value)?;
    dict.set_item("min", stats.min)?;
    dict.set_item("max", stats.max)?;
    Ok(dict)
}

/// One row of a run list: the metadata, every metric's statistics, and
/// every text series' latest value.
pub fn summary<'py>(py: Python<'py>, summary: &RunSummary) -> PyResult<Bound<'py, PyDict>> {
    let dict = run_info(py, &summary.info)?;
    let metrics = PyDict::new(py);
    for (name, s) in &summary.metrics {
        metrics.set_item(name.as_ref(), stats(py, s)?)?;
    }
    dict.set_item("metrics", metrics)?;
    let texts = PyDict::new(py);
    for (name, point) in &summary.texts {
        texts.set_item(name, &point.value)?;
    }
    dict.set_item("texts", texts)?;
    Ok(dict)
}

/// An artifact's listing entry.
pub fn artifact<'py>(py: Python<'py>, artifact: &Artifact) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    dict.set_item("path", &artifact.path)?;
    dict.set_item("size", artifact.size)?;
    dict.set_item("media_type", &artifact.media_type)?;
    dict.set_item("hash", artifact.hash.to_string())?;
    dict.set_item("time_ms", artifact.time_ms)?;
    dict.set_item("step", artifact.step)?;
    Ok(dict)
}
