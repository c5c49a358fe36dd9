//! The small file-system interface the log does all its I/O through.
//!
//! [`FsStorage`] is the real file system. [`crate::MemStorage`] keeps files in
//! memory, tells what has been made durable from what has only been written,
//! and can fail chosen writes and fsyncs, so crash and failure tests can run
//! without a real power cut.

use std::fmt::Debug;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

/// A directory of files the log can create, append to, read and delete.
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

/// The real file system.
#[derive(Clone, Copy, Debug, Default)]
pub struct FsStorage;

impl Storage for FsStorage {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        fs::create_dir_all(dir)
    }

    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_type()?.is_file()
                && let Ok(name) = entry.file_name().into_string()
            {
                names.push(name);
            }
        }
        Ok(names)
    }

    fn open_read(&self, path: &Path) -> io::Result<Box<dyn Read + Send>> {
        Ok(Box::new(File::open(path)?))
    }

    fn open_read_at(&self, path: &Path) -> io::Result<Box<dyn ReadAt>> {
        Ok(Box::new(PositionedFile(File::open(path)?)))
    }

    fn create(&self, path: &Path) -> io::Result<Arc<dyn StorageFile>> {
        // O_TRUNC and O_APPEND cannot be asked for together: empty the file
        // first, then open it for appending like any other.
        File::create(path)?;
        self.open_append(path)
    }

    fn open_append(&self, path: &Path) -> io::Result<Arc<dyn StorageFile>> {
        let file = OpenOptions::new().append(true).open(path)?;
        Ok(Arc::new(AppendFile(file)))
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }
}

/// A real file read at offsets (`pread`): the open descriptor keeps
/// reading a file that its writer deletes meanwhile.
#[derive(Debug)]
struct PositionedFile(File);

impl ReadAt for PositionedFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.0.read_at(&mut buf[filled..], offset + filled as u64) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(filled)
    }
}

/// A real file written only at its end.
#[derive(Debug)]
struct AppendFile(File);

impl StorageFile for AppendFile {
    fn append(&self, buf: &[u8]) -> io::Result<()> {
        // Opened with O_APPEND: every write lands at the current end, also
        // after `truncate`.
        (&self.0).write_all(buf)
    }

    fn sync(&self) -> io::Result<()> {
        self.0.sync_data()
    }

    fn truncate(&self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }
}
