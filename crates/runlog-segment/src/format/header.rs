//! The 16-byte file header.
//!
//! ```text
//! offset size field
//!      0    8 magic "RUNLOGSG"
//!      8    4 format version, u32 LE
//!     12    4 CRC32 of bytes 0..12
//! ```
//!
//! The magic, the version field and the CRC keep their places in every
//! version, so a newer file is refused as such, not taken for a damaged one.

use super::{FORMAT_VERSION, FieldReader, OLDEST_READABLE_VERSION};
use crate::error::Corruption;

/// Length of the header.
pub const HEADER_LEN: usize = 16;
const MAGIC: [u8; 8] = *b"RUNLOGSG";

/// Why a header was refused.
#[derive(Debug)]
pub(crate) enum HeaderError {
    Corrupt(Corruption),
    UnsupportedVersion(u32),
}

pub(crate) fn encode() -> [u8; HEADER_LEN] {
    let mut header = [0u8; HEADER_LEN];
    header[..8].copy_from_slice(&MAGIC);
    header[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    let crc = crc32fast::hash(&header[..12]);
    header[12..].copy_from_slice(&crc.to_le_bytes());
    header
}

/// Checks the header at the start of `file` (at least `HEADER_LEN` bytes);
/// returns the format version.
pub(crate) fn check(file: &[u8]) -> Result<u32, HeaderError> {
    let mut fields = FieldReader::new(file);
    let magic = fields.take(8);
    let version = fields.u32();
    let stored = fields.u32();
    let (Some(magic), Some(version), Some(expected)) = (magic, version, stored) else {
        return Err(HeaderError::Corrupt(Corruption::TooShort {
            len: file.len() as u64,
        }));
    };
    if magic != MAGIC {
        return Err(HeaderError::Corrupt(Corruption::BadMagic));
    }
    let got = crc32fast::hash(&file[..12]);
    if got != expected {
        return Err(HeaderError::Corrupt(Corruption::ChecksumMismatch {
            expected,
            got,
        }));
    }
    if !(OLDEST_READABLE_VERSION..=FORMAT_VERSION).contains(&version) {
        return Err(HeaderError::UnsupportedVersion(version));
    }
    Ok(version)
}
