//! Read-only memory maps of segment files: the crate's one use of `unsafe`.

use std::fs::File;
use std::io;

use memmap2::Mmap;

/// Maps all of `file` read-only.
#[expect(
    unsafe_code,
    reason = "memory-mapping a file is unsafe in Rust; segments are read in place"
)]
pub(crate) fn map(file: &File) -> io::Result<Mmap> {
    // SAFETY: `Mmap::map` is unsafe because another process could change or
    // truncate the file while it is mapped, changing bytes behind a shared
    // slice (or raising SIGBUS). Segment files are immutable: the writer
    // builds them under a temporary name and renames them into place only
    // once complete and fsynced, and nothing ever opens them for writing
    // again; they are only ever deleted, which keeps an existing mapping
    // valid. Every byte read from the map is bounds-checked and CRC-checked
    // before use.
    unsafe { Mmap::map(file) }
}
