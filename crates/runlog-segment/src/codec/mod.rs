//! Column codecs. Each column of each chunk starts with a one-byte tag naming
//! its codec; the writer tries the candidates that fit the data and keeps the
//! smallest encoding.
//!
//! | tag | column | codec |
//! |---|---|---|
//! | `0x01` | i64 | plain: `n` little-endian i64 |
//! | `0x02` | i64 | constant: one i64 |
//! | `0x03` | i64 | linear: first, slope, min residual, bit-packed residuals |
//! | `0x04` | i64 | delta: first, min delta, bit-packed deltas |
//! | `0x05` | i64 | pco |
//! | `0x10` | f64 | plain: `n` IEEE bit patterns |
//! | `0x11` | f64 | constant: one IEEE bit pattern |
//! | `0x12` | f64 | Gorilla XOR |
//! | `0x13` | f64 | pco over f64 |
//! | `0x14` | f64 | pco over f32 (every value is an f32 widened, bit-exact) |
//! | `0x15` | f64 | pco over i64 (every value is an integer, bit-exact) |
//! | `0x16` | f64 | packed f32: every value an f32 widened; order-preserving 32-bit keys minus the smallest, bit-packed |
//!
//! Bit-packed and plain columns decode several times faster than pco and
//! Gorilla columns; the choosers keep the smallest fast encoding unless a
//! slow one is more than an eighth smaller ([`worth_slower`]).

mod bits;
mod float;
mod gorilla;
mod int;
mod pco;

pub use float::{FloatCodec, GORILLA_MAX_VALUES, decode_floats, encode_floats, encode_floats_as};
pub use int::{IntCodec, PCO_MIN_BITS, decode_ints, encode_ints, encode_ints_as};

/// The name of the codec with tag `tag`, in either column type, or `None`
/// for a tag this build does not know.
pub fn codec_name(tag: u8) -> Option<&'static str> {
    IntCodec::from_tag(tag)
        .map(IntCodec::name)
        .or_else(|| FloatCodec::from_tag(tag).map(FloatCodec::name))
}

/// Why a column failed to decode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The column is empty where a tag must be.
    MissingTag,
    /// The tag names no codec this build knows (for this column type).
    UnknownTag(u8),
    /// The codec's bytes are inconsistent with the number of values.
    Malformed(String),
}

/// How hard pco works: 0 to 12 (see `SegmentOptions::pco_level`).
pub type PcoLevel = usize;

/// Whether a slow codec's `slow_len` bytes beat a fast codec's `fast_len`
/// by enough to be worth decoding several times slower: by more than an
/// eighth. The eighth bounds what preferring fast codecs costs in size.
pub(crate) fn worth_slower(slow_len: usize, fast_len: usize) -> bool {
    slow_len.saturating_mul(8) < fast_len.saturating_mul(7)
}

/// Reads the little-endian u32 at `at`, if `data` holds it.
pub(crate) fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    let bytes = data.get(at..at.checked_add(4)?)?;
    let mut le = [0u8; 4];
    le.copy_from_slice(bytes);
    Some(u32::from_le_bytes(le))
}

/// Reads the little-endian u64 at `at`, if `data` holds it.
pub(crate) fn u64_at(data: &[u8], at: usize) -> Option<u64> {
    let bytes = data.get(at..at.checked_add(8)?)?;
    let mut le = [0u8; 8];
    le.copy_from_slice(bytes);
    Some(u64::from_le_bytes(le))
}

/// The error for a column shorter than its codec's fixed fields.
pub(crate) fn too_short(codec: &str) -> DecodeError {
    DecodeError::Malformed(format!("{codec} column is truncated"))
}

#[cfg(test)]
mod tests;
