//! One writer per database directory: an OS lock on `LOCK`, holding the
//! writer's process id for the error a second writer gets.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::Path;

use crate::{Error, Result};

/// The lock file's name in the database directory.
pub(crate) const LOCK: &str = "LOCK";

/// Takes the writer lock of `dir`, or reports who holds it. The lock is
/// released when the returned file is dropped (or the process dies).
pub(crate) fn acquire(dir: &Path) -> Result<File> {
    let path = dir.join(LOCK);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| Error::io("open", &path, e))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let pid = file
                .read_to_string(&mut holder)
                .ok()
                .and_then(|_| holder.trim().parse().ok());
            return Err(Error::Locked { path, pid });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(Error::io("lock", &path, e)),
    }
    file.set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| writeln!(file, "{}", std::process::id()))
        .map_err(|e| Error::io("write the pid into", &path, e))?;
    Ok(file)
}
