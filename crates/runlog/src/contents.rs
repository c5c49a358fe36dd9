//! What a run holds besides metrics, as the catalog keeps it: artifacts
//! (files in the blob store under run-relative paths) and text streams
//! (text logs and text series: append-only bytes, whose older part is
//! sealed into compressed blob chunks and whose newest part, the tail, is
//! held in memory and in the WAL).

use crate::blobs::BlobHash;
use crate::wire::{DecodeError, Decoder, Encoder};

/// A stream's tail is sealed into a compressed chunk once it holds this
/// many bytes (and at every flush, whatever it holds): reading any range
/// of a stream loads at most a chunk of about this size.
pub const LOG_CHUNK_BYTES: usize = 1 << 20;

/// An artifact: one file of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Artifact {
    /// Its run-relative path (`images/confusion.png`).
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its media type (`image/png`, `application/octet-stream`).
    pub media_type: String,
    /// The BLAKE3 hash of its content.
    pub hash: BlobHash,
    /// When it was put, ms since the Unix epoch.
    pub time_ms: i64,
    /// The step of an image in an image series.
    pub step: Option<i64>,
}

impl Artifact {
    /// Writes `path:str hash:u8{32} size:u64 media_type:str time_ms:i64
    /// step:i64` (i64::MIN for no step), as WAL ops and the manifest hold it.
    pub(crate) fn encode(&self, e: &mut Encoder) {
        e.str(&self.path);
        e.raw(&self.hash.0);
        e.u64(self.size);
        e.str(&self.media_type);
        e.i64(self.time_ms);
        e.i64(self.step.unwrap_or(i64::MIN));
    }

    /// Reads what [`Artifact::encode`] wrote.
    pub(crate) fn decode(d: &mut Decoder<'_>) -> Result<Artifact, DecodeError> {
        Ok(Artifact {
            path: d.str()?,
            hash: BlobHash(d.array()?),
            size: d.u64()?,
            media_type: d.str()?,
            time_ms: d.i64()?,
            step: Some(d.i64()?).filter(|&s| s != i64::MIN),
        })
    }
}

/// One point of a text series.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct TextPoint {
    /// Its step.
    pub step: i64,
    /// Its timestamp, ms since the Unix epoch.
    pub timestamp: i64,
    /// Its value.
    pub value: String,
}

/// The two kinds of text stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum StreamKind {
    /// A text log (`stdout`, `node-3/stderr`): bytes; items are lines.
    Log,
    /// A text series: records `step:i64 timestamp:i64 len:u32 utf8`;
    /// items are points.
    Text,
    /// The string cells of one table column, named `TABLE/COLUMN`: records
    /// as a text series holds them, the step being the row.
    Cells,
}

impl StreamKind {
    pub(crate) fn code(self) -> u8 {
        match self {
            StreamKind::Log => 0,
            StreamKind::Text => 1,
            StreamKind::Cells => 2,
        }
    }

    pub(crate) fn decode(d: &mut Decoder<'_>) -> Result<StreamKind, DecodeError> {
        let at = d.position();
        match d.u8()? {
            0 => Ok(StreamKind::Log),
            1 => Ok(StreamKind::Text),
            2 => Ok(StreamKind::Cells),
            other => Err((at, format!("unknown stream kind {other}"))),
        }
    }
}

/// A stream's name within its run.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct StreamKey {
    pub kind: StreamKind,
    pub name: String,
}

impl StreamKey {
    pub(crate) fn log(name: &str) -> StreamKey {
        StreamKey {
            kind: StreamKind::Log,
            name: name.to_string(),
        }
    }

    pub(crate) fn text(name: &str) -> StreamKey {
        StreamKey {
            kind: StreamKind::Text,
            name: name.to_string(),
        }
    }

    pub(crate) fn cells(table: &str, column: &str) -> StreamKey {
        StreamKey {
            kind: StreamKind::Cells,
            name: format!("{table}/{column}"),
        }
    }
}

/// A sealed part of a stream: bytes `offset..offset + len`, holding items
/// `first_item..first_item + items` (for a log, `first_item` newlines come
/// before it and it holds `items`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StreamChunk {
    pub hash: BlobHash,
    pub offset: u64,
    pub len: u64,
    pub first_item: u64,
    pub items: u64,
}

/// An append-only text stream.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Stream {
    /// Sealed chunks, in order, covering bytes `0..len - tail.len()`.
    pub chunks: Vec<StreamChunk>,
    /// The bytes after the last chunk.
    pub tail: Vec<u8>,
    /// Bytes in all.
    pub len: u64,
    /// Items in all (lines ended by a newline, or text points).
    pub items: u64,
    /// A text series' latest point (highest step, the last logged of
    /// equal steps) and its last logged step.
    pub latest: Option<TextPoint>,
    pub last_step: Option<i64>,
}

impl Stream {
    /// Where the tail starts.
    pub(crate) fn tail_offset(&self) -> u64 {
        self.len - self.tail.len() as u64
    }

    /// Items before the tail.
    pub(crate) fn tail_first_item(&self) -> u64 {
        self.chunks.last().map_or(0, |c| c.first_item + c.items)
    }

    /// Appends `bytes` written at `offset`; bytes already held (a record
    /// replayed on top of a snapshot that has it) are skipped.
    pub(crate) fn append(&mut self, kind: StreamKind, offset: u64, bytes: &[u8]) {
        if offset.saturating_add(bytes.len() as u64) <= self.len {
            return;
        }
        self.items += count_items(kind, bytes);
        if kind != StreamKind::Log {
            for point in text_records(bytes) {
                self.last_step = Some(point.step);
                if self.latest.as_ref().is_none_or(|l| point.step >= l.step) {
                    self.latest = Some(point);
                }
            }
        }
        self.tail.extend_from_slice(bytes);
        self.len += bytes.len() as u64;
    }

    /// Replaces the first `chunk.len` tail bytes with `chunk`; false (and
    /// nothing changed) if the tail moved on since the chunk was cut.
    pub(crate) fn seal(&mut self, chunk: StreamChunk) -> bool {
        let fits = chunk.offset == self.tail_offset()
            && chunk.len <= self.tail.len() as u64
            && chunk.first_item == self.tail_first_item();
        if fits {
            self.tail.drain(..chunk.len as usize);
            self.chunks.push(chunk);
        }
        fits
    }

    /// Writes the stream for the manifest.
    pub(crate) fn encode(&self, e: &mut Encoder) {
        e.u64(self.len);
        e.u64(self.items);
        e.len(self.chunks.len());
        for c in &self.chunks {
            e.raw(&c.hash.0);
            e.u64(c.offset);
            e.u64(c.len);
            e.u64(c.first_item);
            e.u64(c.items);
        }
        e.len(self.tail.len());
        e.raw(&self.tail);
        e.u8(u8::from(self.last_step.is_some()));
        e.i64(self.last_step.unwrap_or(0));
        match &self.latest {
            Some(p) => {
                e.u8(1);
                e.i64(p.step);
                e.i64(p.timestamp);
                e.str(&p.value);
            }
            None => e.u8(0),
        }
    }

    /// Reads what [`Stream::encode`] wrote.
    pub(crate) fn decode(d: &mut Decoder<'_>) -> Result<Stream, DecodeError> {
        let at = d.position();
        let len = d.u64()?;
        let items = d.u64()?;
        let mut chunks = Vec::new();
        for _ in 0..d.len(64)? {
            chunks.push(StreamChunk {
                hash: BlobHash(d.array()?),
                offset: d.u64()?,
                len: d.u64()?,
                first_item: d.u64()?,
                items: d.u64()?,
            });
        }
        let tail_len = d.len(1)?;
        let tail = d.bytes(tail_len)?.to_vec();
        let has_last = d.u8()? == 1;
        let last = d.i64()?;
        let latest = match d.u8()? {
            0 => None,
            _ => Some(TextPoint {
                step: d.i64()?,
                timestamp: d.i64()?,
                value: d.str()?,
            }),
        };
        let stream = Stream {
            chunks,
            tail,
            len,
            items,
            latest,
            last_step: has_last.then_some(last),
        };
        let covered = stream.chunks.iter().map(|c| c.len).sum::<u64>() + tail_len as u64;
        if covered != len {
            return Err((
                at,
                format!("stream of {len} bytes whose parts hold {covered}"),
            ));
        }
        Ok(stream)
    }
}

/// Items in `bytes` of a stream of `kind`.
pub(crate) fn count_items(kind: StreamKind, bytes: &[u8]) -> u64 {
    match kind {
        StreamKind::Log => bytes.iter().filter(|&&b| b == b'\n').count() as u64,
        StreamKind::Text | StreamKind::Cells => text_records(bytes).count() as u64,
    }
}

/// Encodes one text point as a text-series record.
pub(crate) fn encode_text_record(out: &mut Vec<u8>, step: i64, timestamp: i64, value: &str) {
    out.extend_from_slice(&step.to_le_bytes());
    out.extend_from_slice(&timestamp.to_le_bytes());
    out.extend_from_slice(&(value.len() as u32).to_le_bytes());
    out.extend_from_slice(value.as_bytes());
}

/// The text points in whole records `bytes` (a damaged end stops them;
/// the WAL and blob checksums rule that out on disk).
pub(crate) fn text_records(bytes: &[u8]) -> impl Iterator<Item = TextPoint> + '_ {
    let mut d = Decoder::new(bytes);
    std::iter::from_fn(move || {
        if d.is_done() {
            return None;
        }
        Some(TextPoint {
            step: d.i64().ok()?,
            timestamp: d.i64().ok()?,
            value: d.str().ok()?,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_replayed_twice_count_once_and_seals_keep_the_order() {
        let mut stream = Stream::default();
        stream.append(StreamKind::Log, 0, b"one\ntw");
        stream.append(StreamKind::Log, 6, b"o\nthree\n");
        stream.append(StreamKind::Log, 6, b"o\nthree\n");
        assert_eq!((stream.len, stream.items), (14, 3));
        let chunk = StreamChunk {
            hash: BlobHash([1; 32]),
            offset: 0,
            len: 10,
            first_item: 0,
            items: 2,
        };
        assert!(stream.seal(chunk));
        assert!(!stream.seal(chunk), "the tail moved on");
        assert_eq!(stream.tail, b"ree\n");
        assert_eq!(stream.tail_offset(), 10);
        assert_eq!(stream.tail_first_item(), 2);
        let mut e = Encoder::default();
        stream.encode(&mut e);
        assert_eq!(Stream::decode(&mut Decoder::new(&e.bytes)).unwrap(), stream);
    }

    #[test]
    fn text_series_keep_the_latest_by_step() {
        let mut bytes = Vec::new();
        for (step, value) in [(3, "c"), (1, "a"), (3, "c2"), (2, "b")] {
            encode_text_record(&mut bytes, step, 100 + step, value);
        }
        let mut stream = Stream::default();
        stream.append(StreamKind::Text, 0, &bytes);
        assert_eq!(stream.items, 4);
        assert_eq!(stream.latest.as_ref().unwrap().value, "c2");
        assert_eq!(stream.last_step, Some(2));
        let values: Vec<String> = text_records(&bytes).map(|p| p.value).collect();
        assert_eq!(values, ["c", "a", "c2", "b"]);
    }
}
