//! TFRecord framing, as event files use it: each record is
//!
//! ```text
//! u64 LE length | u32 LE masked CRC32C of the length | data | u32 LE masked CRC32C of the data
//! ```
//!
//! where a masked CRC is `rotate_right(crc, 15) + 0xa282ead8`. Every CRC
//! is checked; a record that is cut short or fails a check is damage, at
//! the offset where the record starts.

use std::io::{self, Read};

/// Where and how a file is damaged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// The offset of the record that is damaged.
    pub offset: u64,
    /// What is wrong there.
    pub what: &'static str,
}

/// The records of an event file, read one at a time.
pub struct Records<R> {
    source: R,
    offset: u64,
    last: u64,
    done: bool,
}

impl<R: Read> Records<R> {
    /// Reads records from `source`.
    pub fn new(source: R) -> Records<R> {
        Records {
            source,
            offset: 0,
            last: 0,
            done: false,
        }
    }

    /// The next record's data, `None` at the end of the file, or the damage
    /// that ends it (after which nothing more is read).
    pub fn next_record(&mut self) -> io::Result<Option<Result<Vec<u8>, Damage>>> {
        if self.done {
            return Ok(None);
        }
        let start = self.offset;
        let damage = |what| Damage {
            offset: start,
            what,
        };
        let mut header = [0u8; 12];
        match read_full(&mut self.source, &mut header)? {
            0 => return Ok(None),
            12 => {}
            _ => {
                return Ok(Some(Err(
                    self.end(damage("the file ends inside a record's header"))
                )));
            }
        }
        let length = u64::from_le_bytes(header[..8].try_into().expect("8 bytes"));
        if masked_crc(&header[..8]) != u32::from_le_bytes(header[8..].try_into().expect("4 bytes"))
        {
            return Ok(Some(Err(
                self.end(damage("the length's CRC does not match"))
            )));
        }
        let Ok(length) = usize::try_from(length) else {
            return Ok(Some(Err(self.end(damage("a record longer than memory")))));
        };
        let mut data = Vec::new();
        let got = (&mut self.source)
            .take(length as u64)
            .read_to_end(&mut data)?;
        let mut footer = [0u8; 4];
        if got < length || read_full(&mut self.source, &mut footer)? < 4 {
            return Ok(Some(Err(self.end(damage("the file ends inside a record")))));
        }
        if masked_crc(&data) != u32::from_le_bytes(footer) {
            return Ok(Some(Err(self.end(damage("the data's CRC does not match")))));
        }
        self.last = start;
        self.offset += 16 + length as u64;
        Ok(Some(Ok(data)))
    }

    /// The offset of the record returned last.
    pub fn offset_of_last(&self) -> u64 {
        self.last
    }

    fn end(&mut self, damage: Damage) -> Damage {
        self.done = true;
        damage
    }
}

/// Fills `buf` as far as the source goes; the bytes read.
fn read_full(source: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match source.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// TFRecord's masked CRC32C.
pub fn masked_crc(bytes: &[u8]) -> u32 {
    crc32c::crc32c(bytes)
        .rotate_right(15)
        .wrapping_add(0xa282_ead8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn frame(data: &[u8]) -> Vec<u8> {
        let length = (data.len() as u64).to_le_bytes();
        let mut out = length.to_vec();
        out.extend(masked_crc(&length).to_le_bytes());
        out.extend(data);
        out.extend(masked_crc(data).to_le_bytes());
        out
    }

    fn read_all(bytes: &[u8]) -> (Vec<Vec<u8>>, Option<Damage>) {
        let mut records = Records::new(bytes);
        let mut out = Vec::new();
        while let Some(next) = records.next_record().unwrap() {
            match next {
                Ok(data) => out.push(data),
                Err(damage) => return (out, Some(damage)),
            }
        }
        (out, None)
    }

    proptest! {
        /// Framed records read back whole; a cut or a flipped byte is
        /// damage at the start of the record it hits, and every record
        /// before it is intact.
        #[test]
        fn records_read_back_and_damage_is_found_where_it_is(
            records in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 1..8),
            cut in any::<proptest::sample::Index>(),
            flip in any::<proptest::sample::Index>(),
        ) {
            let file: Vec<u8> = records.iter().flat_map(|r| frame(r)).collect();
            prop_assert_eq!(read_all(&file), (records.clone(), None));
            let starts: Vec<usize> = records.iter().scan(0, |at, r| { let s = *at; *at += 16 + r.len(); Some(s) }).collect();
            let hit = |byte: usize| starts.iter().rposition(|&s| s <= byte).unwrap();

            let at = cut.index(file.len());
            let (kept, damage) = read_all(&file[..at]);
            if starts.contains(&at) {
                prop_assert_eq!(damage, None, "a cut between records is a shorter file");
            } else {
                prop_assert_eq!(damage.map(|d| d.offset), Some(starts[hit(at)] as u64));
            }
            prop_assert_eq!(&kept[..], &records[..kept.len()]);

            let byte = flip.index(file.len());
            let mut flipped = file.clone();
            flipped[byte] ^= 0x20;
            let (kept, damage) = read_all(&flipped);
            prop_assert_eq!(kept.len(), hit(byte));
            prop_assert_eq!(damage.map(|d| d.offset), Some(starts[hit(byte)] as u64));
        }
    }
}
