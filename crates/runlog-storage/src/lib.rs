//! The small file-system interface runlog does all its I/O through.
//!
//! The write-ahead log, the segments, the MANIFEST and the catalog file are
//! written and read through [`Storage`]. [`FsStorage`] is the real file
//! system. [`MemStorage`] keeps files in memory, tells what has been made
//! durable from what has only been written, and can fail chosen writes and
//! fsyncs, so crash and failure tests can run without a real power cut.

mod append_writer;
mod file_bytes;
mod fs;
mod mem;

use std::fmt::Debug;
use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;

pub use append_writer::AppendWriter;
pub use file_bytes::FileBytes;
pub use fs::FsStorage;
pub use mem::{MemStats, MemStorage};

/// A directory of files that can be created, appended to, read and deleted.
pub trait Storage: Send + Sync + Debug {
    /// Creates `dir` and its parents if missing.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// The names of the regular files in `dir`.
    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// Opens the file at `path` for reading front to back.
    fn open_read(&self, path: &Path) -> io::Result<Box<dyn Read + Send>>;
    /// Opens the file at `path` for reads at any offset, seeing what is
    /// appended after it was opened (a follower reads a growing file).
    fn open_read_at(&self, path: &Path) -> io::Result<Box<dyn ReadAt>>;
    /// All bytes of the file at `path`, mapped into memory where the storage
    /// can. Only for files that are never changed once they have their name
    /// (written under a temporary name, made durable, renamed into place,
    /// and later only deleted): a mapped file changed meanwhile would change
    /// the bytes under the reader.
    fn map_immutable(&self, path: &Path) -> io::Result<FileBytes>;
    /// Creates the file at `path`, emptying it if it exists, open for appending.
    fn create(&self, path: &Path) -> io::Result<Arc<dyn StorageFile>>;
    /// Opens the existing file at `path` for appending.
    fn open_append(&self, path: &Path) -> io::Result<Arc<dyn StorageFile>>;
    /// Deletes the file at `path`.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Renames `from` to `to`, replacing `to` atomically.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Makes the creations and deletions of files in `dir` durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
}

/// A file read at chosen offsets.
pub trait ReadAt: Send + Sync + Debug {
    /// Reads into `buf` from byte `offset`; fewer bytes than asked (or 0)
    /// means the file ends there.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;
}

/// An open file that is only ever appended to, synced or cut short.
pub trait StorageFile: Send + Sync + Debug {
    /// Appends all of `buf` at the end of the file.
    fn append(&self, buf: &[u8]) -> io::Result<()>;
    /// Makes everything appended so far durable (`fdatasync`).
    fn sync(&self) -> io::Result<()>;
    /// Cuts the file to `len` bytes.
    fn truncate(&self, len: u64) -> io::Result<()>;
}
