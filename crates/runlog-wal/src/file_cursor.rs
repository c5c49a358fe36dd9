//! One log file read front to back in chunks into one buffer, so that
//! reading a file never faults in fresh memory for all of it at once (for a
//! 64 MiB file that cost more than the read itself). The bytes it hands
//! out share the buffer; once they are dropped, the buffer's space is
//! reused.

use std::io::{self, Read};

use bytes::{Bytes, BytesMut};

/// The most bytes one read asks for, unless a long record needs more.
const CHUNK: usize = 1 << 20;

/// The fewest bytes one read asks for: the first read of a file, so that
/// opening a small file does not fill a whole chunk; reads grow with what
/// has been read, up to [`CHUNK`].
const FIRST_READ: usize = 16 << 10;

/// A file being read, and the bytes read from it but not yet taken.
pub(crate) struct FileCursor {
    source: Box<dyn Read + Send>,
    /// Read and not yet taken: `buffer[0]` is at file offset `offset`.
    buffer: BytesMut,
    offset: u64,
    at_end: bool,
}

impl std::fmt::Debug for FileCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileCursor")
            .field("offset", &self.offset)
            .field("buffered", &self.buffer.len())
            .field("at_end", &self.at_end)
            .finish_non_exhaustive()
    }
}

impl FileCursor {
    /// A cursor at the start of `source`.
    pub(crate) fn new(source: Box<dyn Read + Send>) -> FileCursor {
        FileCursor {
            source,
            buffer: BytesMut::new(),
            offset: 0,
            at_end: false,
        }
    }

    /// The file offset of the first byte not yet taken.
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    /// The bytes not yet taken, after reading until there are at least
    /// `len` of them or the file ends.
    pub(crate) fn fill(&mut self, len: usize) -> io::Result<&[u8]> {
        while self.buffer.len() < len && !self.at_end {
            let start = self.buffer.len();
            let read_so_far = self.offset as usize + start;
            // A read grows with the file read so far, up to a chunk. A long
            // record may need more: at most what is buffered already, so its
            // buffer doubles, and a damaged length field cannot make it
            // outgrow the file more than twice over.
            let chunk = read_so_far.clamp(FIRST_READ, CHUNK);
            let want = (len - start).min(start).max(chunk);
            // Reclaims the space of bytes taken and dropped when it can.
            self.buffer.reserve(want);
            self.buffer.resize(start + want, 0);
            let read = loop {
                match self.source.read(&mut self.buffer[start..]) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    other => break other,
                }
            };
            let read = read.inspect_err(|_| self.buffer.truncate(start))?;
            self.buffer.truncate(start + read);
            self.at_end = read == 0;
        }
        Ok(&self.buffer)
    }

    /// Takes the next `len` bytes, which [`FileCursor::fill`] has read.
    pub(crate) fn take(&mut self, len: usize) -> Bytes {
        debug_assert!(len <= self.buffer.len());
        self.offset += len as u64;
        self.buffer.split_to(len).freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A source that hands out at most `step` bytes per read.
    struct Trickle {
        data: Vec<u8>,
        at: usize,
        step: usize,
    }

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(self.step).min(self.data.len() - self.at);
            buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    #[test]
    fn short_reads_and_takes_across_chunks_give_back_the_file() {
        let data: Vec<u8> = (0..3 * CHUNK + 17).map(|i| (i * 7 % 251) as u8).collect();
        let mut cursor = FileCursor::new(Box::new(Trickle {
            data: data.clone(),
            at: 0,
            step: 4093,
        }));
        let mut taken = Vec::new();
        let mut held = Vec::new();
        for len in [5, CHUNK + 3, 1, 2 * CHUNK, 100] {
            let available = cursor.fill(len).unwrap().len();
            let len = len.min(available);
            assert_eq!(cursor.offset(), taken.len() as u64);
            let bytes = cursor.take(len);
            taken.extend_from_slice(&bytes);
            held.push(bytes); // kept alive: the buffer must not reuse them
        }
        assert!(cursor.fill(1).unwrap().is_empty(), "at the end");
        assert_eq!(taken, data);
        assert_eq!(held.concat(), data);
    }

    #[test]
    fn a_length_past_the_end_of_a_small_file_reads_only_the_file() {
        let mut cursor = FileCursor::new(Box::new(io::Cursor::new(vec![7u8; 1000])));
        assert_eq!(cursor.fill(200 << 20).unwrap().len(), 1000);
        assert!(
            cursor.buffer.capacity() <= 2 * CHUNK,
            "{}",
            cursor.buffer.capacity()
        );
    }

    #[test]
    fn a_read_error_is_returned_and_the_cursor_stays_put() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("disk gone"))
            }
        }
        let mut cursor = FileCursor::new(Box::new(Failing));
        assert!(cursor.fill(1).is_err());
        assert_eq!(cursor.offset(), 0);
    }
}
