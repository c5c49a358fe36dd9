//! The 32-byte header at the start of every log file.
//!
//! ```text
//! offset size field
//!      0    8 magic "RUNLOGWL"
//!      8    4 format version, u32 LE (1)
//!     12    4 reserved, zero
//!     16    8 first LSN of the file, u64 LE (also its file name)
//!     24    4 reserved, zero
//!     28    4 CRC32 of bytes 0..28, u32 LE
//! ```
//!
//! The magic, the version field and the CRC at bytes 28..32 keep their places
//! in every future version, so a newer file is recognised as such (valid CRC,
//! unknown version) and refused with a clear error instead of being taken for
//! a damaged one.

use crate::Lsn;
use crate::error::Corruption;

/// Length of the file header in bytes.
pub const HEADER_LEN: usize = 32;
/// The magic bytes every log file starts with.
pub const MAGIC: [u8; 8] = *b"RUNLOGWL";
/// The format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

const CRC_AT: usize = 28;

/// Why a header was refused.
#[derive(Debug)]
pub(crate) enum HeaderError {
    /// The header is damaged or torn.
    Corrupt(Corruption),
    /// The header is intact but written by another format version.
    UnsupportedVersion(u32),
}

/// The header of a file whose first record has LSN `first_lsn`.
pub(crate) fn encode(first_lsn: Lsn) -> [u8; HEADER_LEN] {
    let mut header = [0u8; HEADER_LEN];
    header[0..8].copy_from_slice(&MAGIC);
    header[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    header[16..24].copy_from_slice(&first_lsn.0.to_le_bytes());
    let crc = crc32fast::hash(&header[..CRC_AT]);
    header[CRC_AT..].copy_from_slice(&crc.to_le_bytes());
    header
}

/// Validates the header at the start of `file` and returns its first LSN.
pub(crate) fn decode(file: &[u8]) -> Result<Lsn, HeaderError> {
    let Some(header) = file.get(..HEADER_LEN) else {
        return Err(HeaderError::Corrupt(Corruption::Truncated {
            needed: HEADER_LEN as u64,
            available: file.len() as u64,
        }));
    };
    if header[0..8] != MAGIC {
        return Err(HeaderError::Corrupt(Corruption::BadMagic));
    }
    let expected = u32_at(header, CRC_AT);
    let got = crc32fast::hash(&header[..CRC_AT]);
    if expected != got {
        return Err(HeaderError::Corrupt(Corruption::ChecksumMismatch {
            expected,
            got,
        }));
    }
    let version = u32_at(header, 8);
    if version != FORMAT_VERSION {
        return Err(HeaderError::UnsupportedVersion(version));
    }
    if u32_at(header, 12) != 0 || u32_at(header, 24) != 0 {
        return Err(HeaderError::Corrupt(Corruption::ReservedBytesSet));
    }
    Ok(Lsn(u64_at(header, 16)))
}

/// The little-endian `u32` at `at`; the caller has checked the bounds.
pub(crate) fn u32_at(buf: &[u8], at: usize) -> u32 {
    let mut bytes = [0u8; 4];
    bytes.copy_from_slice(&buf[at..at + 4]);
    u32::from_le_bytes(bytes)
}

/// The little-endian `u64` at `at`; the caller has checked the bounds.
pub(crate) fn u64_at(buf: &[u8], at: usize) -> u64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&buf[at..at + 8]);
    u64::from_le_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_first_lsn() {
        assert_eq!(decode(&encode(Lsn(42))).unwrap(), Lsn(42));
    }

    #[test]
    fn refuses_an_intact_header_of_another_version() {
        let mut header = encode(Lsn(7));
        header[8..12].copy_from_slice(&2u32.to_le_bytes());
        let crc = crc32fast::hash(&header[..CRC_AT]);
        header[CRC_AT..].copy_from_slice(&crc.to_le_bytes());
        assert!(matches!(
            decode(&header),
            Err(HeaderError::UnsupportedVersion(2))
        ));
    }

    #[test]
    fn a_flipped_version_bit_is_corruption_not_a_version() {
        let mut header = encode(Lsn(7));
        header[8] ^= 0x02;
        assert!(matches!(
            decode(&header),
            Err(HeaderError::Corrupt(Corruption::ChecksumMismatch { .. }))
        ));
    }

    #[test]
    fn either_reserved_field_set_is_refused_even_with_a_matching_crc() {
        for at in [12, 24] {
            let mut header = encode(Lsn(7));
            header[at] = 1;
            let crc = crc32fast::hash(&header[..CRC_AT]);
            header[CRC_AT..].copy_from_slice(&crc.to_le_bytes());
            assert!(
                matches!(
                    decode(&header),
                    Err(HeaderError::Corrupt(Corruption::ReservedBytesSet))
                ),
                "reserved byte {at}"
            );
        }
    }
}
