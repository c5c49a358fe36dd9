//! Codecs for f64 columns (values), all bit-exact: NaN payloads, `-0.0`,
//! infinities and subnormals come back identical.

use super::bits::{pack, unpack, width_of};
use super::{DecodeError, PcoLevel, gorilla, pco, too_short, u32_at, u64_at, worth_slower};

/// The codecs for f64 columns, by tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum FloatCodec {
    /// `n` little-endian IEEE bit patterns.
    Plain = 0x10,
    /// One bit pattern that every value has.
    Constant = 0x11,
    /// Gorilla XOR.
    Gorilla = 0x12,
    /// pco over the f64 values.
    PcoF64 = 0x13,
    /// pco over f32: every value is an f32 widened to f64, so narrowing and
    /// widening gives the same bits back.
    PcoF32 = 0x14,
    /// pco over i64: every value is an integer that converts to i64 and back
    /// to the same bits (so not `-0.0`).
    PcoInt = 0x15,
    /// Every value is an f32 widened (not NaN): `min` (u32), `width` (u8),
    /// then each value's order-preserving 32-bit key minus `min` in `width`
    /// bits. Fast to decode, and close to pco on noisy values in a narrow
    /// range.
    PackedF32 = 0x16,
}

impl FloatCodec {
    /// Every f64 codec.
    pub const ALL: [FloatCodec; 7] = [
        FloatCodec::Plain,
        FloatCodec::Constant,
        FloatCodec::Gorilla,
        FloatCodec::PcoF64,
        FloatCodec::PcoF32,
        FloatCodec::PcoInt,
        FloatCodec::PackedF32,
    ];

    pub(crate) fn from_tag(tag: u8) -> Option<FloatCodec> {
        FloatCodec::ALL
            .into_iter()
            .find(|codec| *codec as u8 == tag)
    }

    /// A short name, as inspection tools print it.
    pub fn name(self) -> &'static str {
        match self {
            FloatCodec::Plain => "plain",
            FloatCodec::Constant => "constant",
            FloatCodec::Gorilla => "gorilla",
            FloatCodec::PcoF64 => "pco-f64",
            FloatCodec::PcoF32 => "pco-f32",
            FloatCodec::PcoInt => "pco-int",
            FloatCodec::PackedF32 => "packed-f32",
        }
    }
}

/// Whether `value` is an f32 widened: narrowing and widening give its bits
/// back. NaN is excluded, since casts may change NaN payloads.
fn is_exact_f32(value: f64) -> bool {
    !value.is_nan() && f64::from(value as f32).to_bits() == value.to_bits()
}

/// Whether `value` is an integer that converts to i64 and back to the same
/// bits (`as` saturates out-of-range values and maps NaN to 0, which then
/// fail the bit check).
fn is_exact_int(value: f64) -> bool {
    (value as i64 as f64).to_bits() == value.to_bits()
}

/// An f32 as an integer in the same order as the floats (for values that
/// are not NaN): negative values' bits reversed below positive ones.
fn f32_key(value: f32) -> u32 {
    let bits = value.to_bits();
    if bits >> 31 == 1 {
        !bits
    } else {
        bits | 1 << 31
    }
}

/// The f32 whose [`f32_key`] is `key`.
fn f32_from_key(key: u32) -> f32 {
    f32::from_bits(if key >> 31 == 1 {
        key & !(1 << 31)
    } else {
        !key
    })
}

/// An f64 as an integer in the same order as the floats (NaN aside).
fn f64_key(value: f64) -> u64 {
    let bits = value.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    }
}

/// Whether `codec` can hold every one of `values` (at least one) exactly.
fn fits(codec: FloatCodec, values: &[f64]) -> bool {
    let first = values[0].to_bits();
    match codec {
        FloatCodec::Constant => values.iter().all(|v| v.to_bits() == first),
        FloatCodec::PcoF32 | FloatCodec::PackedF32 => values.iter().all(|&v| is_exact_f32(v)),
        FloatCodec::PcoInt => values.iter().all(|&v| is_exact_int(v)),
        FloatCodec::Plain | FloatCodec::Gorilla | FloatCodec::PcoF64 => true,
    }
}

/// Appends `values` encoded with `codec`, tag first; `false` (and nothing
/// appended) if `codec` cannot hold them.
pub fn encode_floats_as(
    codec: FloatCodec,
    values: &[f64],
    level: PcoLevel,
    out: &mut Vec<u8>,
) -> bool {
    if values.is_empty() || !fits(codec, values) {
        return false;
    }
    out.push(codec as u8);
    match codec {
        FloatCodec::Plain => {
            for v in values {
                out.extend_from_slice(&v.to_bits().to_le_bytes());
            }
        }
        FloatCodec::Constant => out.extend_from_slice(&values[0].to_bits().to_le_bytes()),
        FloatCodec::Gorilla => gorilla::encode(values, out),
        FloatCodec::PcoF64 => {
            let order = pco::delta_order(values.len(), |i| f64_key(values[i]));
            pco::compress(values, level, order, out);
        }
        FloatCodec::PcoF32 => {
            let narrow: Vec<f32> = values.iter().map(|&v| v as f32).collect();
            let order = pco::delta_order(narrow.len(), |i| u64::from(f32_key(narrow[i])));
            pco::compress(&narrow, level, order, out);
        }
        FloatCodec::PcoInt => {
            let ints: Vec<i64> = values.iter().map(|&v| v as i64).collect();
            let order = pco::delta_order(ints.len(), |i| ints[i] as u64);
            pco::compress(&ints, level, order, out);
        }
        FloatCodec::PackedF32 => {
            let (min, max) = values.iter().fold((u32::MAX, 0), |(lo, hi), &v| {
                let key = f32_key(v as f32);
                (lo.min(key), hi.max(key))
            });
            let width = width_of(u64::from(max - min));
            out.extend_from_slice(&min.to_le_bytes());
            out.push(width as u8);
            let offsets = values.iter().map(|&v| u64::from(f32_key(v as f32) - min));
            pack(offsets, width, out);
        }
    }
    true
}

/// Columns up to this many values also try Gorilla; beyond it pco was
/// always smaller on every column measured, and trying costs encode time.
pub const GORILLA_MAX_VALUES: usize = 256;

/// Appends the best encoding of `values` (at least one), tag first, and
/// returns the codec chosen: constant if it applies; else the smaller of
/// packed f32 and plain (fast to decode), unless the smaller of pco over
/// the narrowest exact type (i64, f32 or f64) and, for columns of at most
/// [`GORILLA_MAX_VALUES`], Gorilla is worth its slower decoding (see
/// [`worth_slower`]).
pub fn encode_floats(values: &[f64], level: PcoLevel, out: &mut Vec<u8>) -> FloatCodec {
    assert!(!values.is_empty(), "a column holds at least one value");
    if encode_floats_as(FloatCodec::Constant, values, level, out) {
        return FloatCodec::Constant;
    }
    let plain_len = 1 + 8 * values.len();
    let mut packed = Vec::new();
    let fast = if encode_floats_as(FloatCodec::PackedF32, values, level, &mut packed)
        && packed.len() <= plain_len
    {
        (FloatCodec::PackedF32, packed.len())
    } else {
        (FloatCodec::Plain, plain_len)
    };
    let pco = [FloatCodec::PcoInt, FloatCodec::PcoF32, FloatCodec::PcoF64]
        .into_iter()
        .find(|&codec| fits(codec, values))
        .expect("pco over f64 holds any values");
    let gorilla = (values.len() <= GORILLA_MAX_VALUES).then_some(FloatCodec::Gorilla);
    let slow = std::iter::once(pco)
        .chain(gorilla)
        .map(|codec| {
            let mut bytes = Vec::new();
            encode_floats_as(codec, values, level, &mut bytes);
            (codec, bytes)
        })
        .min_by_key(|(_, bytes)| bytes.len())
        .expect("pco is a candidate");
    if worth_slower(slow.1.len(), fast.1) {
        out.extend_from_slice(&slow.1);
        return slow.0;
    }
    match fast.0 {
        FloatCodec::PackedF32 => out.extend_from_slice(&packed),
        codec => {
            encode_floats_as(codec, values, level, out);
        }
    }
    fast.0
}

/// Appends the `count` values of the column `data` (tag first) to `out`.
pub fn decode_floats(
    data: &[u8],
    count: usize,
    out: &mut Vec<f64>,
) -> Result<FloatCodec, DecodeError> {
    let (&tag, body) = data.split_first().ok_or(DecodeError::MissingTag)?;
    let codec = FloatCodec::from_tag(tag).ok_or(DecodeError::UnknownTag(tag))?;
    out.reserve(count);
    match codec {
        FloatCodec::Plain => {
            if body.len() != count.checked_mul(8).ok_or_else(|| too_short("plain"))? {
                return Err(too_short("plain"));
            }
            out.extend(
                body.chunks_exact(8).map(|b| {
                    f64::from_bits(u64::from_le_bytes(b.try_into().expect("8-byte chunk")))
                }),
            );
        }
        FloatCodec::Constant => {
            let bits = u64_at(body, 0).ok_or_else(|| too_short("constant"))?;
            out.extend(std::iter::repeat_n(f64::from_bits(bits), count));
        }
        FloatCodec::Gorilla => gorilla::decode(body, count, out)?,
        FloatCodec::PcoF64 => pco::decompress(body, count, out)?,
        FloatCodec::PcoF32 => {
            let start = out.len();
            pco::decompress_batches::<f32>(body, count, |batch| {
                out.extend(batch.iter().map(|&v| f64::from(v)));
            })
            .inspect_err(|_| out.truncate(start))?;
        }
        FloatCodec::PcoInt => {
            let start = out.len();
            pco::decompress_batches::<i64>(body, count, |batch| {
                out.extend(batch.iter().map(|&v| v as f64));
            })
            .inspect_err(|_| out.truncate(start))?;
        }
        FloatCodec::PackedF32 => {
            let min = u32_at(body, 0).ok_or_else(|| too_short("packed f32"))?;
            let width = u32::from(*body.get(4).ok_or_else(|| too_short("packed f32"))?);
            if width > 32 {
                return Err(DecodeError::Malformed(format!(
                    "packed f32 column has width {width} (at most 32)"
                )));
            }
            unpack(&body[5..], width, count, out, |offset| {
                f64::from(f32_from_key(min.wrapping_add(offset as u32)))
            })
            .ok_or_else(|| too_short("packed f32"))?;
        }
    }
    Ok(codec)
}
