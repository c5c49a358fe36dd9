//! The real file system.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use memmap2::Mmap;

use crate::{FileBytes, ReadAt, Storage, StorageFile};

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

    fn map_immutable(&self, path: &Path) -> io::Result<FileBytes> {
        let file = File::open(path)?;
        if file.metadata()?.len() == 0 {
            return Ok(FileBytes::from(Vec::new()));
        }
        map(&file).map(FileBytes::mapped)
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

/// Maps all of `file` read-only: the crate's one use of `unsafe`.
#[expect(
    unsafe_code,
    reason = "memory-mapping a file is unsafe in Rust; segments are read in place"
)]
fn map(file: &File) -> io::Result<Mmap> {
    // SAFETY: `Mmap::map` is unsafe because another process could change or
    // truncate the file while it is mapped, changing bytes behind a shared
    // slice (or raising SIGBUS). `Storage::map_immutable` is only for files
    // that never change once named: the engine maps only segment files,
    // which the segment writer builds under a temporary name and renames
    // into place once complete and fsynced, and which nothing opens for
    // writing again; they are only ever deleted, which keeps an existing
    // mapping valid. Readers bounds-check and CRC-check every byte they use.
    unsafe { Mmap::map(file) }
}
