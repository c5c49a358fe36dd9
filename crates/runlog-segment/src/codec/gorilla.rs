//! Gorilla XOR compression of f64 bit patterns (Pelkonen et al., VLDB 2015),
//! with bits stored least significant first.
//!
//! The first value is stored in 64 bits. Each later value is XORed with the
//! one before: `0` if equal; else `1`, then `0` and the XOR's meaningful
//! bits if they fit the previous window of leading and trailing zeros, or
//! `1`, the leading zeros (5 bits, at most 31), the meaningful length minus
//! one (6 bits) and the meaningful bits.

use super::DecodeError;
use super::bits::{BitReader, BitWriter};

/// Appends the Gorilla encoding of `values`.
pub(crate) fn encode(values: &[f64], out: &mut Vec<u8>) {
    let mut writer = BitWriter::new(out);
    let Some((&first, rest)) = values.split_first() else {
        writer.finish();
        return;
    };
    writer.write(first.to_bits(), 64);
    let mut previous = first.to_bits();
    let mut window: Option<(u32, u32)> = None;
    for value in rest {
        let bits = value.to_bits();
        let xor = bits ^ previous;
        previous = bits;
        if xor == 0 {
            writer.write(0, 1);
            continue;
        }
        writer.write(1, 1);
        let leading = xor.leading_zeros().min(31);
        let trailing = xor.trailing_zeros();
        match window {
            Some((lead, trail)) if leading >= lead && trailing >= trail => {
                writer.write(0, 1);
                writer.write(xor >> trail, 64 - lead - trail);
            }
            _ => {
                let meaningful = 64 - leading - trailing;
                writer.write(1, 1);
                writer.write(u64::from(leading), 5);
                writer.write(u64::from(meaningful - 1), 6);
                writer.write(xor >> trailing, meaningful);
                window = Some((leading, trailing));
            }
        }
    }
    writer.finish();
}

/// Appends `count` values decoded from `data` to `out`.
pub(crate) fn decode(data: &[u8], count: usize, out: &mut Vec<f64>) -> Result<(), DecodeError> {
    let truncated = || DecodeError::Malformed("Gorilla column ends early".into());
    if count == 0 {
        return Ok(());
    }
    let mut reader = BitReader::new(data);
    let mut previous = reader.read(64).ok_or_else(truncated)?;
    out.push(f64::from_bits(previous));
    let mut window: Option<(u32, u32)> = None;
    for _ in 1..count {
        if reader.read(1).ok_or_else(truncated)? == 1 {
            let (lead, trail) = if reader.read(1).ok_or_else(truncated)? == 0 {
                window.ok_or_else(|| {
                    DecodeError::Malformed("Gorilla reuses a window before setting one".into())
                })?
            } else {
                let lead = reader.read(5).ok_or_else(truncated)? as u32;
                let meaningful = reader.read(6).ok_or_else(truncated)? as u32 + 1;
                let trail = 64u32.checked_sub(lead + meaningful).ok_or_else(|| {
                    DecodeError::Malformed("Gorilla window wider than 64 bits".into())
                })?;
                window = Some((lead, trail));
                (lead, trail)
            };
            let meaningful = reader.read(64 - lead - trail).ok_or_else(truncated)?;
            previous ^= meaningful << trail;
        }
        out.push(f64::from_bits(previous));
    }
    Ok(())
}
