//! Encoding chunks, one at a time or many at once on several threads. The
//! bytes of a chunk depend only on its points and the pco level, so the
//! thread count never changes a file.

use std::ops::RangeBounds;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::codec::PcoLevel;
use crate::columns::Columns;
use crate::error::{Error, InputProblem, Result};
use crate::format::MAX_CHUNK_POINTS;
use crate::format::chunk::{self, ChunkError};
use crate::format::footer::ChunkMeta;
use crate::reader::read_chunk_steps;
use crate::stats::Stats;

/// The points of one chunk, borrowed from the caller.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ChunkPoints<'a> {
    pub steps: &'a [i64],
    pub timestamps: &'a [i64],
    pub values: &'a [f64],
}

/// A chunk encoded in memory: its three columns and what its index entry
/// needs. It decodes on its own, and [`SegmentWriter::append_encoded`]
/// writes it into a segment as it is.
///
/// [`SegmentWriter::append_encoded`]: crate::SegmentWriter::append_encoded
#[derive(Debug)]
pub struct EncodedChunk {
    bytes: Vec<u8>,
    crc: u32,
    step_len: u32,
    timestamp_len: u32,
    stats: Stats,
}

/// What a decode error of an in-memory chunk names as its file.
const IN_MEMORY: &str = "<chunk in memory>";

impl EncodedChunk {
    /// Encodes the points given as columns: 1 to [`MAX_CHUNK_POINTS`]
    /// points, steps not decreasing, with pco at `level`. The bytes are
    /// those a segment writer would write for the same points.
    pub fn encode(
        steps: &[i64],
        timestamps: &[i64],
        values: &[f64],
        level: PcoLevel,
    ) -> Result<EncodedChunk, InputProblem> {
        crate::writer::check_points(None, steps, timestamps, values)?;
        if steps.is_empty() || steps.len() > MAX_CHUNK_POINTS {
            return Err(InputProblem::ChunkSize {
                points: steps.len(),
            });
        }
        let points = ChunkPoints {
            steps,
            timestamps,
            values,
        };
        Ok(EncodedChunk::from_points(points, level, Vec::new()))
    }

    /// Encodes `points` (checked by the caller: at least one, sorted) into
    /// `bytes`, which is cleared first so its allocation can be reused.
    pub(crate) fn from_points(
        points: ChunkPoints<'_>,
        level: PcoLevel,
        mut bytes: Vec<u8>,
    ) -> Self {
        bytes.clear();
        let (step_len, timestamp_len) = chunk::encode(
            points.steps,
            points.timestamps,
            points.values,
            level,
            &mut bytes,
        );
        EncodedChunk {
            crc: crc32fast::hash(&bytes),
            bytes,
            step_len,
            timestamp_len,
            stats: Stats::of(points.steps, points.timestamps, points.values)
                .expect("a chunk holds points"),
        }
    }

    /// Statistics of its points.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.stats.count as usize
    }

    /// Whether it holds no points (never: a chunk holds at least one).
    pub fn is_empty(&self) -> bool {
        self.stats.count == 0
    }

    /// Its size in bytes.
    pub fn encoded_len(&self) -> usize {
        self.bytes.len()
    }

    /// Its bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Its bytes, for reuse as an encoding buffer.
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// Its index entry, placed at `offset`.
    pub(crate) fn meta(&self, offset: u64) -> ChunkMeta {
        ChunkMeta {
            offset,
            len: self.bytes.len() as u32,
            crc: self.crc,
            step_len: self.step_len,
            timestamp_len: self.timestamp_len,
            stats: self.stats,
        }
    }

    /// Appends its points whose step lies in `steps` to `out`, decoding it
    /// only if some do (see [`EncodedChunk::decode_into`]).
    pub fn read_steps_into(&self, steps: &impl RangeBounds<i64>, out: &mut Columns) -> Result<()> {
        let mut partial = Columns::default();
        read_chunk_steps(&self.stats, steps, out, &mut partial, |into| {
            self.decode_into(into)
        })
    }

    /// Checks it (CRC, columns, statistics) and appends its points to
    /// `out` (left unchanged on error).
    pub fn decode_into(&self, out: &mut Columns) -> Result<()> {
        chunk::decode(&self.bytes, &self.meta(0), out).map_err(|e| match e {
            ChunkError::Corrupt(offset, kind) => Error::Corrupt {
                file: IN_MEMORY.into(),
                offset,
                kind,
            },
            ChunkError::UnknownCodec(offset, tag) => Error::UnknownCodec {
                file: IN_MEMORY.into(),
                offset,
                tag,
            },
        })
    }
}

/// Points below which a batch is encoded on the calling thread: starting
/// threads costs more than it saves.
const PARALLEL_MIN_POINTS: usize = 16_384;

/// Encodes every chunk of `chunks` on up to `threads` threads (the caller's
/// among them) and returns them in the order given.
pub(crate) fn encode_all(
    chunks: &[ChunkPoints<'_>],
    level: PcoLevel,
    threads: usize,
) -> Vec<EncodedChunk> {
    let points: usize = chunks.iter().map(|c| c.steps.len()).sum();
    let threads = threads.min(chunks.len());
    if threads <= 1 || points < PARALLEL_MIN_POINTS {
        return chunks
            .iter()
            .map(|&c| EncodedChunk::from_points(c, level, Vec::new()))
            .collect();
    }
    // Each worker takes the next chunk not yet taken, so one large chunk
    // does not hold up a whole share of small ones.
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some(&chunk) = chunks.get(index) else {
                return done;
            };
            done.push((index, EncodedChunk::from_points(chunk, level, Vec::new())));
        }
    };
    let mut slots: Vec<Option<EncodedChunk>> = (0..chunks.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..threads).map(|_| scope.spawn(work)).collect();
        let mut finished = vec![work()];
        for helper in helpers {
            // A panic in a helper is a bug in a codec: pass it on.
            finished.push(
                helper
                    .join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p)),
            );
        }
        for (index, chunk) in finished.into_iter().flatten() {
            slots[index] = Some(chunk);
        }
    });
    slots
        .into_iter()
        .map(|slot| slot.expect("every chunk was taken by a worker"))
        .collect()
}
