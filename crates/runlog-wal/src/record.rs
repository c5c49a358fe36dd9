//! Record framing: a 16-byte frame header, then the payload.
//!
//! ```text
//! offset size field
//!      0    4 CRC32 of bytes 4..16+len (length, LSN and payload), u32 LE
//!      4    4 payload length `len`, u32 LE
//!      8    8 LSN, u64 LE
//!     16  len payload
//! ```

use std::ops::Range;

use crate::Lsn;
use crate::error::Corruption;
use crate::header::{u32_at, u64_at};

/// Length of a record's frame header in bytes.
pub const RECORD_HEADER_LEN: usize = 16;

/// The largest payload one record may carry: 256 MiB.
pub const MAX_PAYLOAD: usize = 256 << 20;

/// Appends the framed record `(lsn, payload)` to `out`.
///
/// The caller has checked `payload.len() <= MAX_PAYLOAD`.
pub(crate) fn encode_into(out: &mut Vec<u8>, lsn: Lsn, payload: &[u8]) {
    debug_assert!(payload.len() <= MAX_PAYLOAD);
    let start = out.len();
    out.reserve(RECORD_HEADER_LEN + payload.len());
    out.extend_from_slice(&[0; 4]); // the CRC, filled in below
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&lsn.0.to_le_bytes());
    out.extend_from_slice(payload);
    // One pass over the bytes just written, while they are in cache.
    let crc = crc32fast::hash(&out[start + 4..]);
    out[start..start + 4].copy_from_slice(&crc.to_le_bytes());
}

/// A record found intact in a buffer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Frame {
    /// The record's LSN.
    pub lsn: Lsn,
    /// Where its payload lies in the buffer.
    pub payload: Range<usize>,
}

/// The whole length (frame header and payload) of the record `buf` starts
/// with, once `buf` holds its frame header and if the length is in range.
pub(crate) fn frame_len(buf: &[u8]) -> Option<usize> {
    if buf.len() < RECORD_HEADER_LEN {
        return None;
    }
    let len = u32_at(buf, 4) as usize;
    (len <= MAX_PAYLOAD).then_some(RECORD_HEADER_LEN + len)
}

/// Validates the record `buf` starts with.
pub(crate) fn decode(buf: &[u8]) -> Result<Frame, Corruption> {
    let available = buf.len();
    if available < RECORD_HEADER_LEN {
        return Err(Corruption::Truncated {
            needed: RECORD_HEADER_LEN as u64,
            available: available as u64,
        });
    }
    let expected = u32_at(buf, 0);
    let len = u32_at(buf, 4) as usize;
    if len > MAX_PAYLOAD {
        return Err(Corruption::LengthOutOfRange { len: len as u64 });
    }
    let needed = RECORD_HEADER_LEN + len;
    if available < needed {
        return Err(Corruption::Truncated {
            needed: needed as u64,
            available: available as u64,
        });
    }
    let got = crc32fast::hash(&buf[4..needed]);
    if expected != got {
        return Err(Corruption::ChecksumMismatch { expected, got });
    }
    Ok(Frame {
        lsn: Lsn(u64_at(buf, 8)),
        payload: RECORD_HEADER_LEN..needed,
    })
}

/// The first offset after 0 in `buf` where an intact record with an LSN of
/// at least `min_lsn` starts, with that LSN: what tells damage (intact
/// records follow) from a torn tail (nothing valid follows).
pub(crate) fn find_intact_after(buf: &[u8], min_lsn: Lsn) -> Option<(usize, Lsn)> {
    (1..buf.len().saturating_sub(RECORD_HEADER_LEN - 1)).find_map(|at| {
        let rest = &buf[at..];
        let lsn = u64_at(rest, 8);
        // Cheap checks first: an LSN in reach and a length that fits.
        let plausible = lsn >= min_lsn.0
            && lsn - min_lsn.0 < 1 << 32
            && frame_len(rest).is_some_and(|len| len <= rest.len());
        (plausible && decode(rest).is_ok()).then_some((at, Lsn(lsn)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_every_prefix() {
        let mut buf = Vec::new();
        encode_into(&mut buf, Lsn(9), b"hello");
        let frame = decode(&buf).unwrap();
        assert_eq!(frame.lsn, Lsn(9));
        assert_eq!(&buf[frame.payload], b"hello");
        for cut in 0..buf.len() {
            assert!(matches!(
                decode(&buf[..cut]),
                Err(Corruption::Truncated { .. })
            ));
        }
    }

    #[test]
    fn an_all_zero_frame_is_not_a_record() {
        assert!(decode(&[0u8; 64]).is_err());
    }

    #[test]
    fn a_length_past_the_limit_is_out_of_range_not_truncated() {
        let mut buf = Vec::new();
        encode_into(&mut buf, Lsn(1), b"x");
        buf[4..8].copy_from_slice(&(MAX_PAYLOAD as u32 + 1).to_le_bytes());
        assert_eq!(
            decode(&buf),
            Err(Corruption::LengthOutOfRange {
                len: MAX_PAYLOAD as u64 + 1
            })
        );
        assert_eq!(frame_len(&buf), None);
    }

    /// Seven bytes of damage, then the record `(lsn, payload)`.
    fn damaged_then(lsn: u64, payload: &[u8]) -> Vec<u8> {
        let mut buf = vec![0xAB; 7];
        encode_into(&mut buf, Lsn(lsn), payload);
        buf
    }

    #[test]
    fn finds_the_intact_record_after_damage_at_any_lsn() {
        for base in [1, 1 << 40] {
            // An empty record is the shortest, and may end the buffer.
            for payload in [&b""[..], b"after the damage"] {
                let buf = damaged_then(base + 3, payload);
                assert_eq!(
                    find_intact_after(&buf, Lsn(base)),
                    Some((7, Lsn(base + 3))),
                    "LSNs from {base}, {} payload bytes",
                    payload.len()
                );
            }
        }
    }

    #[test]
    fn a_damaged_record_or_one_too_far_ahead_is_not_taken_for_intact() {
        let mut buf = damaged_then(12, b"after the damage");
        let last = buf.len() - 1;
        buf[last] ^= 1;
        assert_eq!(find_intact_after(&buf, Lsn(10)), None, "checksum mismatch");
        let far = damaged_then(10 + (1 << 32), b"far ahead");
        assert_eq!(
            find_intact_after(&far, Lsn(10)),
            None,
            "LSN 2^32 past the expected one"
        );
    }
}
