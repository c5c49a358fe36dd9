//! Bit streams, least significant bit first, and fixed-width bit packing.

/// The low `bits` bits set.
pub(crate) fn mask(bits: u32) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

/// Bits needed to hold `value` (0 for 0).
pub(crate) fn width_of(value: u64) -> u32 {
    64 - value.leading_zeros()
}

/// Bytes needed for `count` values of `width` bits.
pub(crate) fn packed_len(count: usize, width: u32) -> usize {
    (count as u128 * u128::from(width)).div_ceil(8) as usize
}

/// Appends bits to a byte buffer.
#[derive(Debug)]
pub(crate) struct BitWriter<'a> {
    out: &'a mut Vec<u8>,
    acc: u64,
    filled: u32,
}

impl<'a> BitWriter<'a> {
    pub(crate) fn new(out: &'a mut Vec<u8>) -> BitWriter<'a> {
        BitWriter {
            out,
            acc: 0,
            filled: 0,
        }
    }

    /// Appends the low `bits` bits of `value` (`bits` <= 64).
    pub(crate) fn write(&mut self, value: u64, bits: u32) {
        debug_assert!(bits <= 64);
        if bits == 0 {
            return;
        }
        let value = value & mask(bits);
        self.acc |= value << self.filled;
        let total = self.filled + bits;
        if total >= 64 {
            self.out.extend_from_slice(&self.acc.to_le_bytes());
            self.acc = if self.filled == 0 {
                0
            } else {
                value >> (64 - self.filled)
            };
            self.filled = total - 64;
        } else {
            self.filled = total;
        }
    }

    /// Writes out the last partial byte(s).
    pub(crate) fn finish(self) {
        let bytes = self.filled.div_ceil(8) as usize;
        self.out.extend_from_slice(&self.acc.to_le_bytes()[..bytes]);
    }
}

/// Reads bits written by [`BitWriter`], refusing to read past the end.
#[derive(Debug)]
pub(crate) struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> BitReader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> BitReader<'a> {
        BitReader { data, pos: 0 }
    }

    /// The next `bits` bits (`bits` <= 64), or `None` past the end.
    pub(crate) fn read(&mut self, bits: u32) -> Option<u64> {
        let end = self.pos.checked_add(bits as usize)?;
        if end > self.data.len() * 8 {
            return None;
        }
        let value = bits_at(self.data, self.pos, bits);
        self.pos = end;
        Some(value)
    }
}

/// The `bits` bits starting at bit `pos`; the caller checked the bounds.
#[inline]
fn bits_at(data: &[u8], pos: usize, bits: u32) -> u64 {
    if bits == 0 {
        return 0;
    }
    let byte = pos / 8;
    let shift = (pos % 8) as u32;
    if shift + bits <= 64
        && let Some(word) = data.get(byte..byte + 8)
    {
        let mut le = [0u8; 8];
        le.copy_from_slice(word);
        return (u64::from_le_bytes(le) >> shift) & mask(bits);
    }
    let mut window = [0u8; 16];
    let available = (data.len() - byte).min(16);
    window[..available].copy_from_slice(&data[byte..byte + available]);
    ((u128::from_le_bytes(window) >> shift) as u64) & mask(bits)
}

/// Appends `values`, each in `width` bits.
pub(crate) fn pack(values: impl Iterator<Item = u64>, width: u32, out: &mut Vec<u8>) {
    let mut writer = BitWriter::new(out);
    for value in values {
        writer.write(value, width);
    }
    writer.finish();
}

/// Appends `each` of the `count` values of `width` bits packed in `data`
/// to `out`, in order; `None` (and nothing appended) if `data` is too short.
#[inline]
pub(crate) fn unpack<T>(
    data: &[u8],
    width: u32,
    count: usize,
    out: &mut Vec<T>,
    mut each: impl FnMut(u64) -> T,
) -> Option<()> {
    if width > 64 || data.len() < packed_len(count, width) {
        return None;
    }
    if width == 0 {
        out.extend((0..count).map(|_| each(0)));
        return Some(());
    }
    let bits = width as usize;
    // Values whose 8-byte window lies inside `data` take one unaligned load
    // each; the last few go through the careful path. Ranges mapped are
    // exact-size iterators, so `extend` writes without a check per value.
    let fast = if width <= 56 && data.len() >= 8 {
        count.min(8 * (data.len() - 8) / bits + 1)
    } else {
        0
    };
    let mask = mask(width);
    out.extend((0..fast).map(|i| {
        let pos = i * bits;
        let mut le = [0u8; 8];
        le.copy_from_slice(&data[pos / 8..pos / 8 + 8]);
        each((u64::from_le_bytes(le) >> (pos % 8)) & mask)
    }));
    out.extend((fast..count).map(|i| each(bits_at(data, i * bits, width))));
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn bits_round_trip(items in prop::collection::vec((any::<u64>(), 0u32..=64), 0..200)) {
            let mut out = Vec::new();
            let mut writer = BitWriter::new(&mut out);
            for &(value, bits) in &items {
                writer.write(value, bits);
            }
            writer.finish();
            let total: usize = items.iter().map(|&(_, b)| b as usize).sum();
            prop_assert_eq!(out.len(), total.div_ceil(8));
            let mut reader = BitReader::new(&out);
            for &(value, bits) in &items {
                prop_assert_eq!(reader.read(bits), Some(value & mask(bits)));
            }
            prop_assert_eq!(reader.read(9), None);
        }

        #[test]
        fn packing_round_trips(values in prop::collection::vec(any::<u64>(), 0..300), width in 0u32..=64) {
            let values: Vec<u64> = values.into_iter().map(|v| v & mask(width)).collect();
            let mut out = Vec::new();
            pack(values.iter().copied(), width, &mut out);
            prop_assert_eq!(out.len(), packed_len(values.len(), width));
            let mut back = vec![7u64];
            prop_assert!(unpack(&out, width, values.len(), &mut back, |v| v).is_some());
            prop_assert_eq!(&back[1..], &values[..]);
            if !out.is_empty() {
                prop_assert!(unpack(&out[..out.len() - 1], width, values.len(), &mut back, |v| v).is_none());
                prop_assert_eq!(back.len(), values.len() + 1, "nothing appended");
            }
        }
    }
}
