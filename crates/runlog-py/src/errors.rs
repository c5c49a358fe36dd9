//! The exceptions of the Python package, one per kind of engine error,
//! all under `runlog.Error`, each carrying the engine's message.

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

create_exception!(
    _runlog,
    Error,
    PyException,
    "The base of every error runlog raises."
);
create_exception!(
    _runlog,
    LockedError,
    Error,
    "Another process holds the database open for writing."
);
create_exception!(
    _runlog,
    ReadOnlyError,
    Error,
    "A write through a store opened read-only."
);
create_exception!(
    _runlog,
    ClosedError,
    Error,
    "A call on a store after close()."
);
create_exception!(
    _runlog,
    ForkError,
    Error,
    "A write through a store that the parent process opened, from a forked child."
);
create_exception!(
    _runlog,
    NotFoundError,
    Error,
    "No such run, metric, table, text series, log stream or artifact."
);
create_exception!(
    _runlog,
    ExistsError,
    Error,
    "A run of that name exists in the experiment, or a param is already set to another value."
);
create_exception!(
    _runlog,
    InvalidError,
    Error,
    "A name, path, value or option breaks a rule (the message says which)."
);
create_exception!(
    _runlog,
    LimitError,
    Error,
    "A limit would be passed: a count, a size or the step range."
);
create_exception!(
    _runlog,
    KindError,
    Error,
    "A name already holds another kind of series (a metric, a table, a text series)."
);
create_exception!(
    _runlog,
    CorruptError,
    Error,
    "A file of the database is damaged; the message names the file and offset."
);
create_exception!(
    _runlog,
    StorageError,
    Error,
    "The operating system or the storage failed (I/O, a poisoned database)."
);

/// The Python exception for an engine error.
pub fn to_py(error: runlog::Error) -> PyErr {
    use runlog::Error as E;
    let message = error.to_string();
    match error {
        E::Locked { .. } => LockedError::new_err(message),
        E::ReadOnly => ReadOnlyError::new_err(message),
        E::UnknownRun(_) | E::UnknownSeries { .. } | E::NotStaged(_) => {
            NotFoundError::new_err(message)
        }
        E::RunExists { .. } | E::ParamAlreadySet { .. } => ExistsError::new_err(message),
        E::InvalidName { .. }
        | E::InvalidArtifactPath { .. }
        | E::InvalidOption { .. }
        | E::RaggedTable { .. }
        | E::NotADatabase { .. } => InvalidError::new_err(message),
        E::LimitExceeded { .. }
        | E::ValueTooLong { .. }
        | E::TooLarge { .. }
        | E::StepOverflow { .. } => LimitError::new_err(message),
        E::KindConflict { .. } => KindError::new_err(message),
        E::Corrupt { .. }
        | E::UnsupportedVersion { .. }
        | E::MissingFile { .. }
        | E::WalGap { .. } => CorruptError::new_err(message),
        _ => StorageError::new_err(message),
    }
}

/// Adds every exception class to the module.
pub fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = module.py();
    module.add("Error", py.get_type::<Error>())?;
    module.add("LockedError", py.get_type::<LockedError>())?;
    module.add("ReadOnlyError", py.get_type::<ReadOnlyError>())?;
    module.add("ClosedError", py.get_type::<ClosedError>())?;
    module.add("ForkError", py.get_type::<ForkError>())?;
    module.add("NotFoundError", py.get_type::<NotFoundError>())?;
    module.add("ExistsError", py.get_type::<ExistsError>())?;
    module.add("InvalidError", py.get_type::<InvalidError>())?;
    module.add("LimitError", py.get_type::<LimitError>())?;
    module.add("KindError", py.get_type::<KindError>())?;
    module.add("CorruptError", py.get_type::<CorruptError>())?;
    module.add("StorageError", py.get_type::<StorageError>())?;
    Ok(())
}
