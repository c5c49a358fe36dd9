//! [`std::io::Write`] over a [`StorageFile`], for writers built on `Write`.

use std::io::{self, Write};
use std::sync::Arc;

use crate::StorageFile;

/// Appends everything written to it to a [`StorageFile`]; wrap it in a
/// [`std::io::BufWriter`] to append in large pieces.
#[derive(Debug)]
pub struct AppendWriter(Arc<dyn StorageFile>);

impl AppendWriter {
    /// Writes to the end of `file`.
    pub fn new(file: Arc<dyn StorageFile>) -> AppendWriter {
        AppendWriter(file)
    }

    /// The file written to.
    pub fn file(&self) -> &dyn StorageFile {
        self.0.as_ref()
    }
}

impl Write for AppendWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.append(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
