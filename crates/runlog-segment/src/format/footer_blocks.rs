//! The footer's block checksums (version 3 on): a CRC-32 of every
//! 4,096-byte block of the footer, so that a reader can check just the
//! entries it reads ([`crate::SegmentLookup`]) instead of the whole footer.
//!
//! ```text
//! footer_blocks := block_len:u32 block_count:u32 block_crc:u32{block_count}
//!                  table_crc:u32                     crc of the bytes before it
//! ```
//!
//! Block `i` covers footer bytes `i * block_len .. min((i + 1) * block_len,
//! footer_len)`; `block_count` is `ceil(footer_len / block_len)`. The
//! table lies between the footer and the trailer.

use std::ops::Range;

use super::FieldReader;
use crate::error::Corruption;

/// The block length this build writes.
pub(crate) const BLOCK_LEN: u32 = 4096;

/// The checksums of a footer's blocks.
#[derive(Debug)]
pub(crate) struct BlockTable {
    block_len: u32,
    crcs: Vec<u32>,
}

/// A problem at `offset` bytes into the table.
pub(crate) type TableError = (u64, Corruption);

/// Encodes the table of `footer`.
pub(crate) fn encode(footer: &[u8]) -> Vec<u8> {
    let blocks = footer.chunks(BLOCK_LEN as usize);
    let mut out = Vec::with_capacity(12 + 4 * blocks.len());
    out.extend_from_slice(&BLOCK_LEN.to_le_bytes());
    out.extend_from_slice(&(blocks.len() as u32).to_le_bytes());
    for block in blocks {
        out.extend_from_slice(&crc32fast::hash(block).to_le_bytes());
    }
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

impl BlockTable {
    /// Reads the table at the start of `bytes` (which run to the trailer)
    /// for a footer of `footer_len` bytes, checking that it fills `bytes`
    /// exactly and its own CRC.
    pub(crate) fn decode(bytes: &[u8], footer_len: u64) -> Result<BlockTable, TableError> {
        let mut fields = FieldReader::new(bytes);
        let bad = |at: u64, what| (at, Corruption::Structure(what));
        let (Some(block_len), Some(count)) = (fields.u32(), fields.u32()) else {
            return Err(bad(0, "footer block table too short"));
        };
        if block_len == 0 || u64::from(count) != footer_len.div_ceil(u64::from(block_len)) {
            return Err(bad(
                0,
                "footer block table does not fit the footer's length",
            ));
        }
        let table_len = 12 + 4 * u64::from(count);
        if table_len != bytes.len() as u64 {
            return Err(bad(
                4,
                "footer block table does not end where the trailer starts",
            ));
        }
        let crc_at = bytes.len() - 4;
        let stored = u32::from_le_bytes(bytes[crc_at..].try_into().expect("4 bytes"));
        let got = crc32fast::hash(&bytes[..crc_at]);
        if stored != got {
            return Err((
                crc_at as u64,
                Corruption::ChecksumMismatch {
                    expected: stored,
                    got,
                },
            ));
        }
        let crcs = bytes[8..crc_at]
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
            .collect();
        Ok(BlockTable { block_len, crcs })
    }

    /// Checks the blocks of `footer` that `range` (footer offsets, inside
    /// it) meets; on a mismatch, the offset in the footer of the block.
    pub(crate) fn check(&self, footer: &[u8], range: Range<usize>) -> Result<(), TableError> {
        if range.is_empty() {
            return Ok(());
        }
        let block_len = self.block_len as usize;
        let (first, last) = (range.start / block_len, (range.end - 1) / block_len);
        for index in first..=last {
            let start = index * block_len;
            let block = &footer[start..(start + block_len).min(footer.len())];
            let got = crc32fast::hash(block);
            let expected = self.crcs[index];
            if got != expected {
                return Err((start as u64, Corruption::ChecksumMismatch { expected, got }));
            }
        }
        Ok(())
    }
}
