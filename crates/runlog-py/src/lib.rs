//! `runlog._runlog`: the engine's calls for Python. The pure-Python
//! package `runlog` (in `python/runlog`) wraps this module with the Run
//! API and the MLflow-style face; this crate converts values, maps errors
//! to exceptions and releases the GIL around every engine call.

mod convert;
mod errors;
mod logging;
mod reading;
mod store;

use pyo3::prelude::*;

/// The extension module.
#[pymodule]
fn _runlog(module: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::register(module)?;
    module.add_class::<store::Store>()?;
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
