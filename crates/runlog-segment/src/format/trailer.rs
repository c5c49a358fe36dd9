//! The 32-byte trailer at the end of the file: where the footer is.
//!
//! ```text
//! offset size field
//!      0    8 footer offset, u64 LE
//!      8    8 footer length, u64 LE
//!     16    4 CRC32 of the footer
//!     20    4 CRC32 of bytes 0..20
//!     24    8 magic "RUNLOGSF"
//! ```

use super::FieldReader;
use crate::error::Corruption;

/// Length of the trailer.
pub const TRAILER_LEN: usize = 32;
const MAGIC: [u8; 8] = *b"RUNLOGSF";

/// Where the footer lies and its checksum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Trailer {
    pub footer_offset: u64,
    pub footer_len: u64,
    pub footer_crc: u32,
}

impl Trailer {
    pub(crate) fn encode(&self) -> [u8; TRAILER_LEN] {
        let mut out = [0u8; TRAILER_LEN];
        out[..8].copy_from_slice(&self.footer_offset.to_le_bytes());
        out[8..16].copy_from_slice(&self.footer_len.to_le_bytes());
        out[16..20].copy_from_slice(&self.footer_crc.to_le_bytes());
        let crc = crc32fast::hash(&out[..20]);
        out[20..24].copy_from_slice(&crc.to_le_bytes());
        out[24..].copy_from_slice(&MAGIC);
        out
    }

    /// Parses the last `TRAILER_LEN` bytes of a file.
    pub(crate) fn decode(bytes: &[u8; TRAILER_LEN]) -> Result<Trailer, Corruption> {
        if bytes[24..] != MAGIC {
            return Err(Corruption::BadMagic);
        }
        let mut fields = FieldReader::new(bytes);
        let short = || Corruption::Structure("trailer too short");
        let footer_offset = fields.u64().ok_or_else(short)?;
        let footer_len = fields.u64().ok_or_else(short)?;
        let footer_crc = fields.u32().ok_or_else(short)?;
        let expected = fields.u32().ok_or_else(short)?;
        let got = crc32fast::hash(&bytes[..20]);
        if got != expected {
            return Err(Corruption::ChecksumMismatch { expected, got });
        }
        Ok(Trailer {
            footer_offset,
            footer_len,
            footer_crc,
        })
    }
}
