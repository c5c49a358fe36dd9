//! Codecs for f64 columns (values), all bit-exact: NaN payloads, `-0.0`,
//! infinities and subnormals come back identical.

use super::{DecodeError, PcoLevel, gorilla, pco, too_short, u64_at};

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
}

impl FloatCodec {
    /// Every f64 codec.
    pub const ALL: [FloatCodec; 6] = [
        FloatCodec::Plain,
        FloatCodec::Constant,
        FloatCodec::Gorilla,
        FloatCodec::PcoF64,
        FloatCodec::PcoF32,
        FloatCodec::PcoInt,
    ];

    fn from_tag(tag: u8) -> Option<FloatCodec> {
        FloatCodec::ALL
            .into_iter()
            .find(|codec| *codec as u8 == tag)
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

/// Appends `values` encoded with `codec`, tag first; `false` (and nothing
/// appended) if `codec` cannot hold them.
pub fn encode_floats_as(
    codec: FloatCodec,
    values: &[f64],
    level: PcoLevel,
    out: &mut Vec<u8>,
) -> bool {
    let Some(first) = values.first().map(|v| v.to_bits()) else {
        return false;
    };
    let fits = match codec {
        FloatCodec::Constant => values.iter().all(|v| v.to_bits() == first),
        FloatCodec::PcoF32 => values.iter().all(|&v| is_exact_f32(v)),
        FloatCodec::PcoInt => values.iter().all(|&v| is_exact_int(v)),
        FloatCodec::Plain | FloatCodec::Gorilla | FloatCodec::PcoF64 => true,
    };
    if !fits {
        return false;
    }
    out.push(codec as u8);
    match codec {
        FloatCodec::Plain => {
            for v in values {
                out.extend_from_slice(&v.to_bits().to_le_bytes());
            }
        }
        FloatCodec::Constant => out.extend_from_slice(&first.to_le_bytes()),
        FloatCodec::Gorilla => gorilla::encode(values, out),
        FloatCodec::PcoF64 => pco::compress(values, level, out),
        FloatCodec::PcoF32 => {
            let narrow: Vec<f32> = values.iter().map(|&v| v as f32).collect();
            pco::compress(&narrow, level, out);
        }
        FloatCodec::PcoInt => {
            let ints: Vec<i64> = values.iter().map(|&v| v as i64).collect();
            pco::compress(&ints, level, out);
        }
    }
    true
}

/// Appends the smallest encoding of `values` (at least one), tag first, and
/// returns the codec chosen: constant if it applies, else the smallest of
/// pco over the narrowest exact type (i64, f32 or f64), Gorilla and plain.
pub fn encode_floats(values: &[f64], level: PcoLevel, out: &mut Vec<u8>) -> FloatCodec {
    assert!(!values.is_empty(), "a column holds at least one value");
    if encode_floats_as(FloatCodec::Constant, values, level, out) {
        return FloatCodec::Constant;
    }
    let start = out.len();
    let pco = [FloatCodec::PcoInt, FloatCodec::PcoF32, FloatCodec::PcoF64]
        .into_iter()
        .find(|&codec| encode_floats_as(codec, values, level, out))
        .expect("pco over f64 holds any values");
    let pco_len = out.len() - start;
    let mut gorilla = Vec::new();
    encode_floats_as(FloatCodec::Gorilla, values, level, &mut gorilla);
    let plain_len = 1 + 8 * values.len();
    if pco_len <= gorilla.len() && pco_len <= plain_len {
        return pco;
    }
    out.truncate(start);
    if gorilla.len() <= plain_len {
        out.extend_from_slice(&gorilla);
        FloatCodec::Gorilla
    } else {
        encode_floats_as(FloatCodec::Plain, values, level, out);
        FloatCodec::Plain
    }
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
    }
    Ok(codec)
}
