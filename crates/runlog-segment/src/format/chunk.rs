//! A chunk: the step, timestamp and value columns of up to
//! `MAX_CHUNK_POINTS` points, each column a codec tag and its bytes.

use crate::codec::{DecodeError, PcoLevel, decode_floats, decode_ints, encode_floats, encode_ints};
use crate::columns::Columns;
use crate::error::Corruption;
use crate::format::footer::ChunkMeta;
use crate::stats::Stats;

/// Appends the three columns of the points given; returns the lengths of
/// the step and timestamp columns.
pub(crate) fn encode(
    steps: &[i64],
    timestamps: &[i64],
    values: &[f64],
    level: PcoLevel,
    out: &mut Vec<u8>,
) -> (u32, u32) {
    let start = out.len();
    encode_ints(steps, level, out);
    let step_len = out.len() - start;
    encode_ints(timestamps, level, out);
    let timestamp_len = out.len() - start - step_len;
    encode_floats(values, level, out);
    (step_len as u32, timestamp_len as u32)
}

/// A problem decoding a chunk, at `offset` bytes into it.
#[derive(Debug)]
pub(crate) enum ChunkError {
    Corrupt(u64, Corruption),
    UnknownCodec(u64, u8),
}

/// Checks the chunk's CRC, decodes its columns, checks them against its
/// statistics and appends its points to `out`. On error `out` is unchanged.
pub(crate) fn decode(bytes: &[u8], meta: &ChunkMeta, out: &mut Columns) -> Result<(), ChunkError> {
    check_crc(bytes, meta)?;
    let count = meta.stats.count as usize;
    let step_end = meta.step_len as usize;
    let timestamp_end = step_end + meta.timestamp_len as usize;
    let before = out.len();
    let decoded = (|| {
        let column_error = |at: usize| {
            move |e: DecodeError| match e {
                DecodeError::UnknownTag(tag) => ChunkError::UnknownCodec(at as u64, tag),
                DecodeError::MissingTag => {
                    ChunkError::Corrupt(at as u64, Corruption::Column("empty column".into()))
                }
                DecodeError::Malformed(what) => {
                    ChunkError::Corrupt(at as u64, Corruption::Column(what))
                }
            }
        };
        decode_ints(&bytes[..step_end], count, &mut out.steps).map_err(column_error(0))?;
        decode_ints(&bytes[step_end..timestamp_end], count, &mut out.timestamps)
            .map_err(column_error(step_end))?;
        decode_floats(&bytes[timestamp_end..], count, &mut out.values)
            .map_err(column_error(timestamp_end))?;
        check_against_stats(out, before, &meta.stats)
            .then_some(())
            .ok_or(ChunkError::Corrupt(0, Corruption::StatsMismatch))
    })();
    if decoded.is_err() {
        out.steps.truncate(before);
        out.timestamps.truncate(before);
        out.values.truncate(before);
    }
    decoded
}

/// Checks the chunk's bytes against the CRC in its index entry.
pub(crate) fn check_crc(bytes: &[u8], meta: &ChunkMeta) -> Result<(), ChunkError> {
    let got = crc32fast::hash(bytes);
    if got != meta.crc {
        return Err(ChunkError::Corrupt(
            0,
            Corruption::ChecksumMismatch {
                expected: meta.crc,
                got,
            },
        ));
    }
    Ok(())
}

/// Whether the points appended from `from` on agree with `stats`: same
/// count, first and last step, timestamp and value, and sorted steps.
fn check_against_stats(out: &Columns, from: usize, stats: &Stats) -> bool {
    let steps = &out.steps[from..];
    let timestamps = &out.timestamps[from..];
    let values = &out.values[from..];
    let count = stats.count as usize;
    steps.len() == count
        && timestamps.len() == count
        && values.len() == count
        && steps.first() == Some(&stats.first_step)
        && steps.last() == Some(&stats.last_step)
        && timestamps.first() == Some(&stats.first_timestamp)
        && timestamps.last() == Some(&stats.last_timestamp)
        && values.first().map(|v| v.to_bits()) == Some(stats.first_value.to_bits())
        && values.last().map(|v| v.to_bits()) == Some(stats.last_value.to_bits())
        // A fold without early exit: compiled to vector compares.
        && steps.windows(2).fold(true, |sorted, pair| sorted & (pair[0] <= pair[1]))
}
