//! The store: one open database, shared by every Python thread, closed
//! once; and the calls about runs themselves.

use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::RwLock;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use runlog::{Db, Durability, RunFilter, RunId, RunStatus};

use crate::convert::{run_info, summary};
use crate::errors::{ClosedError, ForkError, InvalidError, to_py};

/// An open runlog database (`runlog.open` wraps it).
#[pyclass(frozen, module = "runlog._runlog")]
pub struct Store {
    db: RwLock<Option<Arc<Db>>>,
    /// The process that opened it: a forked child may not write through it.
    pid: u32,
    path: PathBuf,
    read_only: bool,
}

impl Store {
    /// The database, for a read.
    pub fn db(&self) -> PyResult<Arc<Db>> {
        self.db.read().clone().ok_or_else(|| {
            ClosedError::new_err(format!("the store {} is closed", self.path.display()))
        })
    }

    /// The database, for a write: refused in a forked child.
    pub fn writer(&self) -> PyResult<Arc<Db>> {
        let pid = std::process::id();
        if pid != self.pid {
            return Err(ForkError::new_err(format!(
                "this store was opened by process {}; process {pid} (a fork) must open its own with runlog.open",
                self.pid
            )));
        }
        self.db()
    }
}

/// Parses a durability name.
fn durability(name: &str) -> PyResult<Durability> {
    match name {
        "sync" => Ok(Durability::Sync),
        "group" => Ok(Durability::default()),
        "buffered" => Ok(Durability::Buffered),
        other => Err(InvalidError::new_err(format!(
            "durability {other:?}: give \"sync\" (every call fsynced), \"group\" (fsync every 10 ms) or \"buffered\""
        ))),
    }
}

/// Parses a status name.
pub fn status(name: &str) -> PyResult<RunStatus> {
    name.parse().map_err(InvalidError::new_err)
}

#[pymethods]
impl Store {
    /// Opens (or creates) the database at `path`; `read_only` opens it
    /// beside a live writer, seeing what it logged (call `refresh`).
    #[new]
    #[pyo3(signature = (path, read_only = false, durability = "group"))]
    fn new(py: Python<'_>, path: PathBuf, read_only: bool, durability: &str) -> PyResult<Store> {
        let mode = self::durability(durability)?;
        let opened = py.detach(|| {
            if read_only {
                Db::open_read_only(path.clone())
            } else {
                Db::builder(path.clone()).durability(mode).open()
            }
        });
        Ok(Store {
            db: RwLock::new(Some(Arc::new(opened.map_err(to_py)?))),
            pid: std::process::id(),
            path,
            read_only,
        })
    }

    /// The database directory.
    #[getter]
    fn path(&self) -> PathBuf {
        self.path.clone()
    }

    /// Whether it was opened read-only.
    #[getter]
    fn read_only(&self) -> bool {
        self.read_only
    }

    /// Whether `close` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.db.read().is_none()
    }

    /// Makes everything logged durable and closes the database. Later calls
    /// raise `ClosedError`; closing again does nothing.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let Some(db) = self.db.write().take() else {
            return Ok(());
        };
        if std::process::id() != self.pid {
            // A forked child's copy: the parent owns the files.
            std::mem::forget(db);
            return Ok(());
        }
        py.detach(|| match Arc::try_unwrap(db) {
            Ok(db) => db.close(),
            // Another thread is in a call: make all durable; the last
            // reference closes it.
            Err(shared) => shared.sync(),
        })
        .map_err(to_py)
    }

    /// Writes what is in memory to segment files now.
    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        let db = self.writer()?;
        py.detach(|| db.flush()).map_err(to_py)
    }

    /// Makes every acknowledged write durable (fsync).
    fn sync(&self, py: Python<'_>) -> PyResult<()> {
        let db = self.writer()?;
        py.detach(|| db.sync()).map_err(to_py)
    }

    /// For a read-only store: reads what the writer added since.
    fn refresh(&self, py: Python<'_>) -> PyResult<()> {
        let db = self.db()?;
        py.detach(|| db.refresh()).map_err(to_py)
    }

    /// Creates a run; returns its id.
    #[pyo3(signature = (experiment, name, start_ms = None))]
    fn create_run(
        &self,
        py: Python<'_>,
        experiment: &str,
        name: &str,
        start_ms: Option<i64>,
    ) -> PyResult<u64> {
        let db = self.writer()?;
        py.detach(|| match start_ms {
            Some(start) => db.create_run_at(experiment, name, start),
            None => db.create_run(experiment, name),
        })
        .map(|run| run.0)
        .map_err(to_py)
    }

    /// Sets a param (write-once: the same value again is allowed).
    fn set_param(&self, py: Python<'_>, run: u64, key: &str, value: &str) -> PyResult<()> {
        let db = self.writer()?;
        py.detach(|| db.set_param(RunId(run), key, value))
            .map_err(to_py)
    }

    /// Sets a tag (overwritable).
    fn set_tag(&self, py: Python<'_>, run: u64, key: &str, value: &str) -> PyResult<()> {
        let db = self.writer()?;
        py.detach(|| db.set_tag(RunId(run), key, value))
            .map_err(to_py)
    }

    /// Sets a run's status (`running`, `completed`, `failed`, `killed`),
    /// with its end time (ms), now if left out for an ended status.
    #[pyo3(signature = (run, status, end_ms = None))]
    fn set_status(
        &self,
        py: Python<'_>,
        run: u64,
        status: &str,
        end_ms: Option<i64>,
    ) -> PyResult<()> {
        let status = self::status(status)?;
        let db = self.writer()?;
        py.detach(|| match end_ms {
            Some(end) => db.set_status_at(RunId(run), status, Some(end)),
            None => db.set_status(RunId(run), status),
        })
        .map_err(to_py)
    }

    /// Deletes a run and what it holds.
    fn delete_run(&self, py: Python<'_>, run: u64) -> PyResult<()> {
        let db = self.writer()?;
        py.detach(|| db.delete_run(RunId(run))).map_err(to_py)
    }

    /// A run's metadata as a dict.
    fn run_info<'py>(&self, py: Python<'py>, run: u64) -> PyResult<Bound<'py, PyDict>> {
        let info = self.db()?.run(RunId(run)).map_err(to_py)?;
        run_info(py, &info)
    }

    /// The id of the run `name` in `experiment`, or None.
    fn find_run(&self, experiment: &str, name: &str) -> PyResult<Option<u64>> {
        Ok(self.db()?.find_run(experiment, name).map(|r| r.0))
    }

    /// Experiments and their run counts.
    fn experiments(&self) -> PyResult<std::collections::BTreeMap<String, usize>> {
        Ok(self.db()?.experiments())
    }

    /// Run summaries (metadata, and last/min/max/count of each metric),
    /// filtered by experiment, status and one tag.
    #[pyo3(signature = (experiment = None, status = None, tag = None))]
    fn runs<'py>(
        &self,
        py: Python<'py>,
        experiment: Option<String>,
        status: Option<&str>,
        tag: Option<(String, String)>,
    ) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let filter = RunFilter {
            experiment,
            status: status.map(self::status).transpose()?,
            tag,
            metrics: None,
        };
        let db = self.db()?;
        let runs = py.detach(|| db.runs(&filter));
        runs.iter().map(|r| summary(py, r)).collect()
    }
}
