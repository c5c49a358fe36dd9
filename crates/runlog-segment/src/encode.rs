//! Encoding chunks, one at a time or many at once on several threads. The
//! bytes of a chunk depend only on its points and the pco level, so the
//! thread count never changes a file.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::codec::PcoLevel;
use crate::format::chunk;
use crate::stats::Stats;

/// The points of one chunk, borrowed from the caller.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ChunkPoints<'a> {
    pub steps: &'a [i64],
    pub timestamps: &'a [i64],
    pub values: &'a [f64],
}

/// A chunk's bytes (its three columns) and what its index entry needs.
#[derive(Debug)]
pub(crate) struct EncodedChunk {
    pub bytes: Vec<u8>,
    pub step_len: u32,
    pub timestamp_len: u32,
    pub stats: Stats,
}

impl EncodedChunk {
    /// Encodes `points` (at least one) into `bytes`, which is cleared first
    /// so its allocation can be reused.
    pub(crate) fn encode(points: ChunkPoints<'_>, level: PcoLevel, mut bytes: Vec<u8>) -> Self {
        bytes.clear();
        let (step_len, timestamp_len) = chunk::encode(
            points.steps,
            points.timestamps,
            points.values,
            level,
            &mut bytes,
        );
        EncodedChunk {
            bytes,
            step_len,
            timestamp_len,
            stats: Stats::of(points.steps, points.timestamps, points.values)
                .expect("a chunk holds points"),
        }
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
            .map(|&c| EncodedChunk::encode(c, level, Vec::new()))
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
            done.push((index, EncodedChunk::encode(chunk, level, Vec::new())));
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
