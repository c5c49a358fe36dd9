//! Little-endian encoding of the engine's own records (WAL payloads and the
//! manifest), with bounds-checked decoding.

/// Appends fields to a byte buffer.
#[derive(Debug, Default)]
pub(crate) struct Encoder {
    pub bytes: Vec<u8>,
}

impl Encoder {
    pub(crate) fn u8(&mut self, v: u8) {
        self.bytes.push(v);
    }
    pub(crate) fn u32(&mut self, v: u32) {
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn u64(&mut self, v: u64) {
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn i64(&mut self, v: i64) {
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }
    /// Each of `xs`, in order.
    pub(crate) fn i64s(&mut self, xs: &[i64]) {
        self.words(xs.len(), xs.iter().map(|x| x.to_le_bytes()));
    }
    /// The bit patterns of `xs`, in order.
    pub(crate) fn f64s(&mut self, xs: &[f64]) {
        self.words(xs.len(), xs.iter().map(|x| x.to_bits().to_le_bytes()));
    }
    /// `n` 8-byte words, with room made for them at once.
    fn words(&mut self, n: usize, words: impl Iterator<Item = [u8; 8]>) {
        self.bytes.reserve(8 * n);
        for word in words {
            self.bytes.extend_from_slice(&word);
        }
    }
    /// The differences of `xs`, each from the one before (the first from
    /// 0), wrapping, zigzag-mapped and written as LEB128 varints: one byte
    /// for a difference within ±63, two within ±8191.
    pub(crate) fn deltas(&mut self, xs: &[i64]) {
        let mut previous = 0i64;
        for &x in xs {
            let delta = x.wrapping_sub(previous);
            previous = x;
            let mut zigzag = ((delta << 1) ^ (delta >> 63)) as u64;
            while zigzag >= 0x80 {
                self.bytes.push(zigzag as u8 | 0x80);
                zigzag >>= 7;
            }
            self.bytes.push(zigzag as u8);
        }
    }
    /// A length-prefixed (u32) UTF-8 string.
    pub(crate) fn str(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.bytes.extend_from_slice(s.as_bytes());
    }
    /// Raw bytes, as they are.
    pub(crate) fn raw(&mut self, bytes: &[u8]) {
        self.bytes.extend_from_slice(bytes);
    }
    pub(crate) fn len(&mut self, n: usize) {
        self.u32(n as u32);
    }
}

/// Reads fields written by [`Encoder`]; every read is bounds-checked and a
/// failure names the offset.
#[derive(Debug)]
pub(crate) struct Decoder<'a> {
    bytes: &'a [u8],
    pos: usize,
}

/// Where decoding failed and why.
pub(crate) type DecodeError = (usize, String);

impl<'a> Decoder<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Decoder<'a> {
        Decoder { bytes, pos: 0 }
    }

    pub(crate) fn is_done(&self) -> bool {
        self.pos == self.bytes.len()
    }

    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len())
            .ok_or_else(|| (self.pos, format!("needs {n} more bytes than are left")))?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    /// `n` raw bytes, borrowed from the input.
    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        self.take(n)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }
    pub(crate) fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    pub(crate) fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    pub(crate) fn i64(&mut self) -> Result<i64, DecodeError> {
        Ok(i64::from_le_bytes(self.array()?))
    }
    /// `n` i64s written by [`Encoder::i64s`].
    pub(crate) fn i64s(&mut self, n: usize) -> Result<Vec<i64>, DecodeError> {
        self.words(n, i64::from_le_bytes)
    }
    /// `n` f64s written by [`Encoder::f64s`].
    pub(crate) fn f64s(&mut self, n: usize) -> Result<Vec<f64>, DecodeError> {
        self.words(n, |word| f64::from_bits(u64::from_le_bytes(word)))
    }
    /// `n` values written by [`Encoder::deltas`], which must take exactly
    /// `len` bytes.
    pub(crate) fn deltas(&mut self, n: usize, len: usize) -> Result<Vec<i64>, DecodeError> {
        let at = self.pos;
        let bytes = self.take(len)?;
        let mut out = Vec::with_capacity(n);
        let (mut previous, mut pos) = (0i64, 0usize);
        for _ in 0..n {
            let (mut zigzag, mut shift) = (0u64, 0u32);
            loop {
                let &byte = bytes
                    .get(pos)
                    .ok_or_else(|| (at + pos, "varint runs past its field".to_string()))?;
                pos += 1;
                if shift == 63 && byte > 1 {
                    return Err((at + pos - 1, "varint exceeds 64 bits".into()));
                }
                zigzag |= u64::from(byte & 0x7F) << shift;
                if byte < 0x80 {
                    break;
                }
                shift += 7;
            }
            let delta = (zigzag >> 1) as i64 ^ -((zigzag & 1) as i64);
            previous = previous.wrapping_add(delta);
            out.push(previous);
        }
        if pos != len {
            return Err((at + pos, "bytes left after the last varint".into()));
        }
        Ok(out)
    }
    fn words<T>(&mut self, n: usize, from: fn([u8; 8]) -> T) -> Result<Vec<T>, DecodeError> {
        let bytes = self.take(
            n.checked_mul(8)
                .ok_or((self.pos, "count overflows".into()))?,
        )?;
        Ok(bytes
            .chunks_exact(8)
            .map(|word| from(word.try_into().expect("8-byte chunk")))
            .collect())
    }
    pub(crate) fn str(&mut self) -> Result<String, DecodeError> {
        self.str_ref().map(str::to_string)
    }
    /// A string borrowed from the input.
    pub(crate) fn str_ref(&mut self) -> Result<&'a str, DecodeError> {
        let at = self.pos;
        let len = self.u32()? as usize;
        let bytes = self.take(len)?;
        std::str::from_utf8(bytes).map_err(|_| (at, "string is not UTF-8".to_string()))
    }
    /// A count of items that each take at least `min_item` bytes, refused
    /// if the rest of the input cannot hold them (no huge allocation from a
    /// damaged count).
    pub(crate) fn len(&mut self, min_item: usize) -> Result<usize, DecodeError> {
        let at = self.pos;
        let n = self.u32()? as usize;
        if n.saturating_mul(min_item.max(1)) > self.bytes.len() - self.pos {
            return Err((at, format!("count {n} exceeds the bytes left")));
        }
        Ok(n)
    }
}
