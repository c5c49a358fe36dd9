//! Codecs for i64 columns (steps and timestamps).

use super::bits::{pack, packed_len, unpack, width_of};
use super::{DecodeError, PcoLevel, pco, too_short, u64_at, worth_slower};

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

    pub(crate) fn from_tag(tag: u8) -> Option<IntCodec> {
        IntCodec::ALL.into_iter().find(|codec| *codec as u8 == tag)
    }

    /// A short name, as inspection tools print it.
    pub fn name(self) -> &'static str {
        match self {
            IntCodec::Plain => "plain",
            IntCodec::Constant => "constant",
            IntCodec::Linear => "linear",
            IntCodec::Delta => "delta",
            IntCodec::Pco => "pco",
        }
    }
}

/// A bit-packed form of a column: fixed header words, then each value's
/// offset in `width` bits.
struct Packed {
    header: Vec<i64>,
    width: u32,
    count: usize,
}

impl Packed {
    fn encoded_len(&self) -> usize {
        self.header.len() * 8 + 1 + packed_len(self.count, self.width)
    }

    fn write_header(&self, out: &mut Vec<u8>) {
        for word in &self.header {
            out.extend_from_slice(&word.to_le_bytes());
        }
        out.push(self.width as u8);
    }
}

/// Whether every difference of two of `values` lies within ±2^61, so that
/// the linear and delta forms can be worked out in i64 without overflow.
fn narrow(values: &[i64]) -> bool {
    let (min, max) = values
        .iter()
        .fold((i64::MAX, i64::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)));
    i128::from(max) - i128::from(min) <= 1 << 61
}

/// The smallest `min` of `f` over the values and the distance to the
/// largest, if both fit the form's fields (`min` an i64, the distance a
/// u64).
fn offsets<T: Copy + Ord + TryInto<i64> + TryInto<u64> + std::ops::Sub<Output = T>>(
    values: &[i64],
    f: impl Fn(usize, i64) -> T,
) -> Option<(i64, u64)> {
    let mut items = values.iter().enumerate().map(|(i, &x)| f(i, x));
    let first = items.next()?;
    let (min, max) = items.fold((first, first), |(lo, hi), y| (lo.min(y), hi.max(y)));
    Some((min.try_into().ok()?, (max - min).try_into().ok()?))
}

/// The linear form: residuals around the line from the first value with
/// the slope of the first and last. `None` if the numbers do not fit its
/// fields.
fn linear(values: &[i64]) -> Option<Packed> {
    let n = values.len() as i128;
    let first = values[0];
    // Rounded, not truncated: timestamps 100 ms apart with jitter must get
    // slope 100 whichever way the last point's jitter goes.
    let slope = if n > 1 {
        let rise = i128::from(values[values.len() - 1]) - i128::from(first);
        let half = (n - 1) / 2;
        i64::try_from(if rise >= 0 {
            (rise + half) / (n - 1)
        } else {
            (rise - half) / (n - 1)
        })
        .ok()?
    } else {
        0
    };
    let (min, range) = if narrow(values) {
        offsets(values, |i, x| x - first - slope * i as i64)?
    } else {
        offsets(values, |i, x| {
            i128::from(x) - i128::from(first) - i128::from(slope) * i as i128
        })?
    };
    Some(Packed {
        header: vec![first, slope, min],
        width: width_of(range),
        count: values.len(),
    })
}

/// The delta form: the first value, then each difference from the one
/// before. `None` if the differences do not fit its fields.
fn delta(values: &[i64]) -> Option<Packed> {
    let pairs = &values[..values.len() - 1];
    let (min, range) = if values.len() < 2 {
        (0, 0)
    } else if narrow(values) {
        offsets(pairs, |i, x| values[i + 1] - x)?
    } else {
        offsets(pairs, |i, x| i128::from(values[i + 1]) - i128::from(x))?
    };
    Some(Packed {
        header: vec![values[0], min],
        width: width_of(range),
        count: values.len() - 1,
    })
}

/// Appends the bit-packed column `packed` of `values` as `codec` (linear
/// or delta), tag first. Offsets are worked out in wrapping arithmetic,
/// which gives them exactly: each lies in `0..2^64`.
fn write_packed(codec: IntCodec, packed: &Packed, values: &[i64], out: &mut Vec<u8>) {
    out.push(codec as u8);
    packed.write_header(out);
    let (first, min) = (packed.header[0], packed.header[packed.header.len() - 1]);
    if codec == IntCodec::Linear {
        let slope = packed.header[1];
        let offsets = values.iter().enumerate().map(|(i, &x)| {
            x.wrapping_sub(first)
                .wrapping_sub(slope.wrapping_mul(i as i64))
                .wrapping_sub(min) as u64
        });
        pack(offsets, packed.width, out);
    } else {
        let offsets = values
            .windows(2)
            .map(|pair| pair[1].wrapping_sub(pair[0]).wrapping_sub(min) as u64);
        pack(offsets, packed.width, out);
    }
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
        IntCodec::Linear | IntCodec::Delta => {
            let form = if codec == IntCodec::Linear {
                linear
            } else {
                delta
            };
            let Some(packed) = form(values) else {
                return false;
            };
            write_packed(codec, &packed, values, out);
        }
        IntCodec::Pco => {
            out.push(codec as u8);
            let order = pco::delta_order(values.len(), |i| values[i] as u64);
            pco::compress(values, level, order, out);
        }
    }
    true
}

/// Bits a value that bit packing must exceed before pco is tried on an i64
/// column. Workload timestamps (100 ms apart, 0-5 ms jitter) pack into 3
/// bits around their line; pco saves an eighth of that at best, for more
/// time to encode and decode than the column is worth.
pub const PCO_MIN_BITS: usize = 3;

/// Appends the best encoding of `values` (at least one), tag first, and
/// returns the codec chosen: constant if it applies, else the smallest of
/// plain, linear and delta (all bit-packed, fast to decode) unless pco is
/// worth its slower decoding (see [`worth_slower`]).
///
/// Constant, linear, delta and plain sizes are computed exactly without
/// encoding; pco, far slower to encode and decode, is run only where they
/// need more than [`PCO_MIN_BITS`] bits a value.
pub fn encode_ints(values: &[i64], level: PcoLevel, out: &mut Vec<u8>) -> IntCodec {
    assert!(!values.is_empty(), "a column holds at least one value");
    if encode_ints_as(IntCodec::Constant, values, level, out) {
        return IntCodec::Constant;
    }
    let linear = linear(values);
    let delta = delta(values);
    // (bytes, bits a value, codec) of each fast form.
    let size = |codec, packed: &Option<Packed>| {
        packed.as_ref().map_or((usize::MAX, 64, codec), |p| {
            (p.encoded_len(), p.width as usize, codec)
        })
    };
    let sizes = [
        (8 * values.len(), 64, IntCodec::Plain),
        size(IntCodec::Linear, &linear),
        size(IntCodec::Delta, &delta),
    ];
    let (best_len, best_width, best) = sizes.into_iter().min().expect("three candidates");
    if best_width > PCO_MIN_BITS {
        let start = out.len();
        encode_ints_as(IntCodec::Pco, values, level, out);
        if worth_slower(out.len() - start - 1, best_len) {
            return IntCodec::Pco;
        }
        out.truncate(start);
    }
    let packed = match best {
        IntCodec::Linear => linear,
        IntCodec::Delta => delta,
        _ => None,
    };
    match packed {
        Some(packed) => write_packed(best, &packed, values, out),
        None => {
            encode_ints_as(IntCodec::Plain, values, level, out);
        }
    }
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
            let mut at = base;
            unpack(&body[25..], width, count, out, |r| {
                let x = at.wrapping_add(r as i64);
                at = at.wrapping_add(slope);
                x
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
            if body.len() < 17 + packed_len(count - 1, width) {
                return Err(too_short("delta"));
            }
            out.push(first);
            let mut previous = first;
            unpack(&body[17..], width, count - 1, out, |d| {
                previous = previous.wrapping_add(min).wrapping_add(d as i64);
                previous
            })
            .ok_or_else(|| too_short("delta"))?;
        }
        IntCodec::Pco => pco::decompress(body, count, out)?,
    }
    Ok(codec)
}
