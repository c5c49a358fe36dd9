//! The whole contents of a file, mapped or in memory.

use std::ops::Deref;

use memmap2::Mmap;

/// A file's bytes: a read-only map of a real file, or bytes in memory.
#[derive(Debug)]
pub struct FileBytes(Backing);

#[derive(Debug)]
enum Backing {
    Mapped(Mmap),
    Owned(Vec<u8>),
}

impl FileBytes {
    pub(crate) fn mapped(map: Mmap) -> FileBytes {
        FileBytes(Backing::Mapped(map))
    }
}

impl From<Vec<u8>> for FileBytes {
    fn from(bytes: Vec<u8>) -> FileBytes {
        FileBytes(Backing::Owned(bytes))
    }
}

impl Deref for FileBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match &self.0 {
            Backing::Mapped(map) => map,
            Backing::Owned(bytes) => bytes,
        }
    }
}
