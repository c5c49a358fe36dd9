//! Codecs for i64 columns (steps and timestamps).

use super::bits::{pack, packed_len, unpack, width_of};
use super::{DecodeError, PcoLevel, pco, too_short, u64_at};

/// The codecs for i64 columns, by tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum IntCodec {
    /// `n` little-endian i64.
    Plain = 0x01,
    /// One i64 that every value equals.
    Constant = 0x02,
    /// `first`, `slope`, `min` (i64 each), `width` (u8), then `n` residuals
    /// `x[i] - (first + slope * i) - min` in `width` bits each.
    Linear = 0x03,
    /// `first`, `min` (i64 each), `width` (u8), then `n - 1` deltas
    /// `x[i] - x[i-1] - min` in `width` bits each.
    Delta = 0x04,
    /// pco's standalone format.
    Pco = 0x05,
}

impl IntCodec {
    /// Every i64 codec.
    pub const ALL: [IntCodec; 5] = [
        IntCodec::Plain,
        IntCodec::Constant,
        IntCodec::Linear,
        IntCodec::Delta,
        IntCodec::Pco,
    ];

    fn from_tag(tag: u8) -> Option<IntCodec> {
        IntCodec::ALL.into_iter().find(|codec| *codec as u8 == tag)
    }
}

/// A bit-packed form of a column: fixed header words and the packed values.
struct Packed {
    header: Vec<i64>,
    width: u32,
    count: usize,
}

impl Packed {
    fn encoded_len(&self) -> usize {
        self.header.len() * 8 + 1 + packed_len(self.count, self.width)
    }
}

/// The linear form: residuals around the line through the first and last
/// values. `None` if the numbers do not fit its fields.
fn linear(values: &[i64]) -> Option<(Packed, i128, i128)> {
    let n = values.len() as i128;
    let first = i128::from(values[0]);
    let slope = if n > 1 {
        (i128::from(values[values.len() - 1]) - first) / (n - 1)
    } else {
        0
    };
    let (mut min, mut max) = (i128::MAX, i128::MIN);
    for (i, &x) in values.iter().enumerate() {
        let residual = i128::from(x) - first - slope * i as i128;
        min = min.min(residual);
        max = max.max(residual);
    }
    let range = u64::try_from(max - min).ok()?;
    let packed = Packed {
        header: vec![
            values[0],
            i64::try_from(slope).ok()?,
            i64::try_from(min).ok()?,
        ],
        width: width_of(range),
        count: values.len(),
    };
    Some((packed, slope, min))
}

/// The delta form. `None` if the deltas do not fit its fields.
fn delta(values: &[i64]) -> Option<(Packed, i128)> {
    let (mut min, mut max) = (i128::MAX, i128::MIN);
    for pair in values.windows(2) {
        let d = i128::from(pair[1]) - i128::from(pair[0]);
        min = min.min(d);
        max = max.max(d);
    }
    if values.len() < 2 {
        min = 0;
        max = 0;
    }
    let range = u64::try_from(max - min).ok()?;
    let packed = Packed {
        header: vec![values[0], i64::try_from(min).ok()?],
        width: width_of(range),
        count: values.len() - 1,
    };
    Some((packed, min))
}

fn write_header(packed: &Packed, out: &mut Vec<u8>) {
    for word in &packed.header {
        out.extend_from_slice(&word.to_le_bytes());
    }
    out.push(packed.width as u8);
}

/// Appends `values` encoded with `codec`, tag first; `false` (and nothing
/// appended) if `codec` cannot hold them.
pub fn encode_ints_as(codec: IntCodec, values: &[i64], level: PcoLevel, out: &mut Vec<u8>) -> bool {
    if values.is_empty() {
        return false;
    }
    match codec {
        IntCodec::Plain => {
            out.push(codec as u8);
            for x in values {
                out.extend_from_slice(&x.to_le_bytes());
            }
        }
        IntCodec::Constant => {
            if values.iter().any(|&x| x != values[0]) {
                return false;
            }
            out.push(codec as u8);
            out.extend_from_slice(&values[0].to_le_bytes());
        }
        IntCodec::Linear => {
            let Some((packed, slope, min)) = linear(values) else {
                return false;
            };
            out.push(codec as u8);
            write_header(&packed, out);
            let first = i128::from(values[0]);
            let residuals = values
                .iter()
                .enumerate()
                .map(|(i, &x)| (i128::from(x) - first - slope * i as i128 - min) as u64);
            pack(residuals, packed.width, out);
        }
        IntCodec::Delta => {
            let Some((packed, min)) = delta(values) else {
                return false;
            };
            out.push(codec as u8);
            write_header(&packed, out);
            let deltas = values
                .windows(2)
                .map(|pair| (i128::from(pair[1]) - i128::from(pair[0]) - min) as u64);
            pack(deltas, packed.width, out);
        }
        IntCodec::Pco => {
            out.push(codec as u8);
            pco::compress(values, level, out);
        }
    }
    true
}

/// Appends the smallest encoding of `values` (at least one), tag first, and
/// returns the codec chosen.
///
/// Constant, linear, delta and plain sizes are computed exactly without
/// encoding; pco, far slower, is run only where they need more than two bits
/// a value.
pub fn encode_ints(values: &[i64], level: PcoLevel, out: &mut Vec<u8>) -> IntCodec {
    assert!(!values.is_empty(), "a column holds at least one value");
    if encode_ints_as(IntCodec::Constant, values, level, out) {
        return IntCodec::Constant;
    }
    let sizes = [
        (8 * values.len(), IntCodec::Plain),
        (
            linear(values).map_or(usize::MAX, |(p, ..)| p.encoded_len()),
            IntCodec::Linear,
        ),
        (
            delta(values).map_or(usize::MAX, |(p, _)| p.encoded_len()),
            IntCodec::Delta,
        ),
    ];
    let (best_len, best) = sizes.into_iter().min().expect("three candidates");
    if best_len > values.len() / 4 {
        let start = out.len();
        encode_ints_as(IntCodec::Pco, values, level, out);
        if out.len() - start - 1 < best_len {
            return IntCodec::Pco;
        }
        out.truncate(start);
    }
    encode_ints_as(best, values, level, out);
    best
}

/// Appends the `count` values of the column `data` (tag first) to `out`.
pub fn decode_ints(data: &[u8], count: usize, out: &mut Vec<i64>) -> Result<IntCodec, DecodeError> {
    let (&tag, body) = data.split_first().ok_or(DecodeError::MissingTag)?;
    let codec = IntCodec::from_tag(tag).ok_or(DecodeError::UnknownTag(tag))?;
    out.reserve(count);
    match codec {
        IntCodec::Plain => {
            if body.len() != count.checked_mul(8).ok_or_else(|| too_short("plain"))? {
                return Err(too_short("plain"));
            }
            out.extend(
                body.chunks_exact(8)
                    .map(|b| i64::from_le_bytes(b.try_into().expect("8-byte chunk"))),
            );
        }
        IntCodec::Constant => {
            let value = u64_at(body, 0).ok_or_else(|| too_short("constant"))? as i64;
            out.extend(std::iter::repeat_n(value, count));
        }
        IntCodec::Linear => {
            let first = u64_at(body, 0).ok_or_else(|| too_short("linear"))? as i64;
            let slope = u64_at(body, 8).ok_or_else(|| too_short("linear"))? as i64;
            let min = u64_at(body, 16).ok_or_else(|| too_short("linear"))? as i64;
            let width = u32::from(*body.get(24).ok_or_else(|| too_short("linear"))?);
            let base = first.wrapping_add(min);
            if width == 0 {
                // An exact line (steps 0, 1, 2, ...): no bits to read.
                out.extend((0..count as i64).map(|i| base.wrapping_add(slope.wrapping_mul(i))));
                return Ok(codec);
            }
            let mut i = 0i64;
            unpack(&body[25..], width, count, |r| {
                out.push(
                    base.wrapping_add(slope.wrapping_mul(i))
                        .wrapping_add(r as i64),
                );
                i += 1;
            })
            .ok_or_else(|| too_short("linear"))?;
        }
        IntCodec::Delta => {
            let first = u64_at(body, 0).ok_or_else(|| too_short("delta"))? as i64;
            let min = u64_at(body, 8).ok_or_else(|| too_short("delta"))? as i64;
            let width = u32::from(*body.get(16).ok_or_else(|| too_short("delta"))?);
            if count == 0 {
                return Ok(codec);
            }
            if width == 0 {
                // Every delta equals `min`: an arithmetic sequence.
                out.extend((0..count as i64).map(|i| first.wrapping_add(min.wrapping_mul(i))));
                return Ok(codec);
            }
            out.push(first);
            let mut previous = first;
            unpack(&body[17..], width, count - 1, |d| {
                previous = previous.wrapping_add(min).wrapping_add(d as i64);
                out.push(previous);
            })
            .ok_or_else(|| too_short("delta"))?;
        }
        IntCodec::Pco => pco::decompress(body, count, out)?,
    }
    Ok(codec)
}
