//! The byte layout of a segment file, one structure per module:
//!
//! ```text
//! segment := header chunk* footer footer_blocks trailer    (footer_blocks: version 3 on)
//! ```
//!
//! `docs/format-segment.md` draws every structure byte by byte.

pub(crate) mod chunk;
pub(crate) mod footer;
pub(crate) mod footer_blocks;
pub(crate) mod header;
pub(crate) mod trailer;

/// The format version this build writes. Version 2 added the packed f32
/// value codec (tag `0x16`); version 3 ends the footer with the metadata
/// its owner gave ([`crate::SegmentWriter::set_metadata`]) and follows it
/// with a CRC of each of its 4 KiB blocks ([`crate::SegmentLookup`]).
pub const FORMAT_VERSION: u32 = 3;

/// The first format version whose footer ends with the owner's metadata
/// and is followed by its block checksums.
pub(crate) const METADATA_VERSION: u32 = 3;

/// The most bytes of metadata a segment holds.
pub const MAX_METADATA_LEN: usize = 64 << 10;

/// The oldest format version this build still reads.
pub const OLDEST_READABLE_VERSION: u32 = 1;

/// The most points one chunk may hold.
pub const MAX_CHUNK_POINTS: usize = 1 << 20;

/// Little-endian fields read one after another from a byte slice, refusing
/// to read past its end.
#[derive(Debug)]
pub(crate) struct FieldReader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> FieldReader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> FieldReader<'a> {
        FieldReader { bytes, pos: 0 }
    }

    /// Bytes read so far.
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    pub(crate) fn take(&mut self, len: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(len)?;
        let field = self.bytes.get(self.pos..end)?;
        self.pos = end;
        Some(field)
    }

    pub(crate) fn u32(&mut self) -> Option<u32> {
        let mut le = [0u8; 4];
        le.copy_from_slice(self.take(4)?);
        Some(u32::from_le_bytes(le))
    }

    pub(crate) fn u64(&mut self) -> Option<u64> {
        let mut le = [0u8; 8];
        le.copy_from_slice(self.take(8)?);
        Some(u64::from_le_bytes(le))
    }
}
