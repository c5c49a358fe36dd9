//! The footer: the index of series and chunks, with every chunk's place in
//! the file and its statistics.
//!
//! ```text
//! footer       := series_count:u32 chunk_count:u32 series_entry* chunk_entry*
//!                 metadata_len:u32 metadata                     version 3 on
//! series_entry := series_id:u64 first_chunk:u32 chunk_count:u32          (16 bytes)
//! chunk_entry  := offset:u64 len:u32 crc:u32 step_len:u32 timestamp_len:u32
//!                 stats:88 bytes                                          (112 bytes)
//! ```
//!
//! `metadata` is the owner's bytes, opaque to this crate (at most
//! [`MAX_METADATA_LEN`]); versions 1 and 2 have none.
//!
//! Series are in ascending id order and own consecutive runs of chunks, in
//! step order.

use std::ops::Range;

use super::header::HEADER_LEN;
use super::{FieldReader, MAX_CHUNK_POINTS, MAX_METADATA_LEN, METADATA_VERSION};
use crate::SeriesId;
use crate::error::Corruption;
use crate::stats::{STATS_LEN, Stats};

pub(crate) const SERIES_ENTRY_LEN: u64 = 16;
pub(crate) const CHUNK_ENTRY_LEN: u64 = 24 + STATS_LEN as u64;

/// Where a chunk lies in the file, how its three columns split it, and its
/// statistics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkMeta {
    /// Byte offset of the chunk in the file.
    pub offset: u64,
    /// Length of the chunk in bytes (its three columns).
    pub len: u32,
    /// CRC32 of the chunk's bytes.
    pub crc: u32,
    /// Length of the step column (first).
    pub step_len: u32,
    /// Length of the timestamp column (second); the value column is the rest.
    pub timestamp_len: u32,
    /// Statistics of the chunk's points.
    pub stats: Stats,
}

/// One series in the index: its id, its chunks and its statistics (the fold
/// of its chunks' statistics).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeriesMeta {
    /// The series id.
    pub id: SeriesId,
    /// Statistics over all its points.
    pub stats: Stats,
    pub(crate) chunks: Range<usize>,
}

/// The decoded footer.
#[derive(Debug)]
pub(crate) struct Footer {
    pub series: Vec<SeriesMeta>,
    pub chunks: Vec<ChunkMeta>,
    pub metadata: Vec<u8>,
}

/// Encodes the index of `series` (ascending ids, consecutive chunk ranges)
/// and the owner's `metadata` (at most [`MAX_METADATA_LEN`] bytes).
pub(crate) fn encode(
    series: &[(SeriesId, Range<usize>)],
    chunks: &[ChunkMeta],
    metadata: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        12 + series.len() * SERIES_ENTRY_LEN as usize
            + chunks.len() * CHUNK_ENTRY_LEN as usize
            + metadata.len(),
    );
    out.extend_from_slice(&(series.len() as u32).to_le_bytes());
    out.extend_from_slice(&(chunks.len() as u32).to_le_bytes());
    for (id, range) in series {
        out.extend_from_slice(&id.to_le_bytes());
        out.extend_from_slice(&(range.start as u32).to_le_bytes());
        out.extend_from_slice(&(range.len() as u32).to_le_bytes());
    }
    for chunk in chunks {
        out.extend_from_slice(&chunk.offset.to_le_bytes());
        out.extend_from_slice(&chunk.len.to_le_bytes());
        out.extend_from_slice(&chunk.crc.to_le_bytes());
        out.extend_from_slice(&chunk.step_len.to_le_bytes());
        out.extend_from_slice(&chunk.timestamp_len.to_le_bytes());
        out.extend_from_slice(&chunk.stats.encode());
    }
    out.extend_from_slice(&(metadata.len() as u32).to_le_bytes());
    out.extend_from_slice(metadata);
    out
}

/// A structural problem at `offset` bytes into the footer.
pub(crate) type FooterError = (u64, Corruption);

/// Parses and checks the footer of a file of format `version`; chunks must
/// lie between the header and `footer_offset`.
pub(crate) fn decode(
    footer: &[u8],
    footer_offset: u64,
    version: u32,
) -> Result<Footer, FooterError> {
    let mut fields = FieldReader::new(footer);
    let bad = |at: usize, what: &'static str| (at as u64, Corruption::Structure(what));
    let (Some(series_count), Some(chunk_count)) = (fields.u32(), fields.u32()) else {
        return Err(bad(0, "footer too short for its counts"));
    };
    let index_len =
        8 + u64::from(series_count) * SERIES_ENTRY_LEN + u64::from(chunk_count) * CHUNK_ENTRY_LEN;
    let metadata = if version >= METADATA_VERSION {
        metadata(footer, index_len)?
    } else {
        Vec::new()
    };
    let metadata_len = if version >= METADATA_VERSION {
        4 + metadata.len() as u64
    } else {
        0
    };
    if index_len + metadata_len != footer.len() as u64 {
        return Err(bad(
            0,
            "footer length does not match its series and chunk counts",
        ));
    }
    let mut entries = Vec::with_capacity(series_count as usize);
    let mut next_chunk = 0usize;
    for _ in 0..series_count {
        let at = fields.position();
        let (Some(id), Some(first), Some(count)) = (fields.u64(), fields.u32(), fields.u32())
        else {
            return Err(bad(at, "series entry out of bounds"));
        };
        if entries.last().is_some_and(|(previous, _)| *previous >= id) {
            return Err(bad(at, "series ids are not in ascending order"));
        }
        let end = next_chunk + count as usize;
        if first as usize != next_chunk || count == 0 || end > chunk_count as usize {
            return Err(bad(at, "series chunk range is not the next run of chunks"));
        }
        entries.push((id, next_chunk..end));
        next_chunk = end;
    }
    if next_chunk != chunk_count as usize {
        return Err(bad(4, "chunks not owned by any series"));
    }
    let mut chunks = Vec::with_capacity(chunk_count as usize);
    for _ in 0..chunk_count {
        let at = fields.position();
        chunks.push(chunk_entry(&mut fields, footer_offset).map_err(|what| bad(at, what))?);
    }
    let mut series = Vec::with_capacity(entries.len());
    for (id, range) in entries {
        let owned = &chunks[range.clone()];
        let mut stats = owned[0].stats;
        for pair in owned.windows(2) {
            if pair[0].stats.last_step > pair[1].stats.first_step {
                return Err(bad(8, "a series' chunks are not in step order"));
            }
            stats.merge(&pair[1].stats);
        }
        series.push(SeriesMeta {
            id,
            stats,
            chunks: range,
        });
    }
    Ok(Footer {
        series,
        chunks,
        metadata,
    })
}

/// The metadata that follows an index of `index_len` bytes.
fn metadata(footer: &[u8], index_len: u64) -> Result<Vec<u8>, FooterError> {
    let at = usize::try_from(index_len).unwrap_or(usize::MAX);
    let mut fields = FieldReader::new(footer.get(at..).unwrap_or_default());
    let structure = |what| Err((index_len, Corruption::Structure(what)));
    let Some(len) = fields.u32() else {
        return structure("footer length does not match its series and chunk counts");
    };
    if len as usize > MAX_METADATA_LEN {
        return structure("metadata longer than 65,536 bytes");
    }
    match fields.take(len as usize) {
        Some(bytes) => Ok(bytes.to_vec()),
        None => structure("metadata runs past the footer"),
    }
}

pub(crate) fn chunk_entry(
    fields: &mut FieldReader<'_>,
    footer_offset: u64,
) -> Result<ChunkMeta, &'static str> {
    let short = "chunk entry out of bounds";
    let offset = fields.u64().ok_or(short)?;
    let len = fields.u32().ok_or(short)?;
    let crc = fields.u32().ok_or(short)?;
    let step_len = fields.u32().ok_or(short)?;
    let timestamp_len = fields.u32().ok_or(short)?;
    let mut stats_bytes = [0u8; STATS_LEN];
    stats_bytes.copy_from_slice(fields.take(STATS_LEN).ok_or(short)?);
    let stats = Stats::decode(&stats_bytes);
    let end = offset
        .checked_add(u64::from(len))
        .ok_or("chunk end overflows")?;
    if offset < HEADER_LEN as u64 || end > footer_offset {
        return Err("chunk lies outside the data area");
    }
    let columns = u64::from(step_len) + u64::from(timestamp_len);
    if step_len == 0 || timestamp_len == 0 || columns >= u64::from(len) {
        return Err("chunk column lengths do not fit the chunk");
    }
    if stats.count == 0 || stats.count > MAX_CHUNK_POINTS as u64 {
        return Err("chunk point count out of range");
    }
    if stats.first_step > stats.last_step || stats.min_timestamp > stats.max_timestamp {
        return Err("chunk statistics are inconsistent");
    }
    Ok(ChunkMeta {
        offset,
        len,
        crc,
        step_len,
        timestamp_len,
        stats,
    })
}
