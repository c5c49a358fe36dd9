//! pco (Pcodec) for whole numeric columns: it finds delta orders, common
//! multiples and float quantisation by itself and entropy-codes the rest.

use pco::data_types::Number;
use pco::standalone::{
    DecompressorItem, FileDecompressor, simple_compress, simple_decompress_into,
};
use pco::{ChunkConfig, DeltaSpec};

use super::DecodeError;

/// [`delta_order`] looks at this many windows of consecutive values...
const SAMPLE_WINDOWS: usize = 4;
/// ...of this many values each.
const SAMPLE_WINDOW: usize = 64;

/// The highest delta order pco supports, and [`delta_order`] picks.
const MAX_DELTA_ORDER: usize = 7;

/// The order of consecutive differences (0 to 7) that pco should encode a
/// column of `len` values with, given each value as an order-preserving
/// integer `key(i)`.
///
/// It takes a few evenly spaced windows of consecutive values and, order
/// by order, their differences (wrapping, as pco computes them); the cost
/// of an order is the mean bit length of its differences around their
/// median, and a higher order must lower it by a tenth of a bit. pco's own
/// search compresses a sample once per candidate, which dominated encoding
/// time on small chunks; this one chooses as well on the standard workload
/// (`docs/performance.md`).
pub(crate) fn delta_order(len: usize, key: impl Fn(usize) -> u64) -> usize {
    let (count, width) = if len <= SAMPLE_WINDOWS * SAMPLE_WINDOW {
        (1, len)
    } else {
        (SAMPLE_WINDOWS, SAMPLE_WINDOW)
    };
    let mut windows: Vec<Vec<u64>> = (0..count)
        .map(|w| {
            let start = (w * (len - width)).checked_div(count - 1).unwrap_or(0);
            (start..start + width).map(&key).collect()
        })
        .collect();
    let mut scratch = Vec::new();
    let mut best = (mean_bits_around_median(&windows, &mut scratch), 0);
    for order in 1..=MAX_DELTA_ORDER {
        for window in windows.iter_mut().filter(|w| !w.is_empty()) {
            for i in 0..window.len() - 1 {
                window[i] = window[i + 1].wrapping_sub(window[i]);
            }
            window.pop();
        }
        let Some(cost) = mean_bits_around_median(&windows, &mut scratch) else {
            break;
        };
        if best.0.is_some_and(|b| cost >= b - 0.1) {
            break;
        }
        best = (Some(cost), order);
    }
    best.1
}

/// The mean bit length of the values' (wrapping) distances from their
/// median; `None` for no values.
fn mean_bits_around_median(windows: &[Vec<u64>], scratch: &mut Vec<i64>) -> Option<f64> {
    scratch.clear();
    scratch.extend(windows.iter().flatten().map(|&x| x as i64));
    if scratch.is_empty() {
        return None;
    }
    let middle = scratch.len() / 2;
    let median = *scratch.select_nth_unstable(middle).1;
    let bits: u64 = scratch
        .iter()
        .map(|&x| u64::from(64 - x.wrapping_sub(median).unsigned_abs().leading_zeros()))
        .sum();
    Some(bits as f64 / scratch.len() as f64)
}

/// Appends the pco (standalone format) encoding of `values`, with
/// consecutive deltas of order `delta_order` (see [`delta_order`]).
pub(crate) fn compress<T: Number>(
    values: &[T],
    level: usize,
    delta_order: usize,
    out: &mut Vec<u8>,
) {
    let delta = match delta_order {
        0 => DeltaSpec::NoOp,
        order => DeltaSpec::TryConsecutive(order),
    };
    let config = ChunkConfig::default()
        .with_compression_level(level)
        .with_delta_spec(delta);
    // pco only refuses invalid configurations, and ours is always valid.
    let compressed = simple_compress(values, &config).expect("valid pco configuration");
    out.extend_from_slice(&compressed);
}

/// Appends exactly `count` values decoded from `data` to `out`.
pub(crate) fn decompress<T: Number + Default>(
    data: &[u8],
    count: usize,
    out: &mut Vec<T>,
) -> Result<(), DecodeError> {
    let start = out.len();
    out.resize(start + count, T::default());
    let progress = simple_decompress_into(data, &mut out[start..])
        .map_err(|e| DecodeError::Malformed(format!("pco: {e}")))?;
    if progress.n_processed != count || !progress.finished {
        out.truncate(start);
        return Err(too_many(progress.n_processed, count));
    }
    Ok(())
}

/// Values decoded per batch by [`decompress_batches`] (a multiple of pco's
/// batch size of 256).
const BATCH: usize = 1024;

/// Decodes exactly `count` values from `data`, handing them to `each` in
/// batches, without allocating: for columns stored narrower than they are
/// read (f32 or i64 values widened to f64).
pub(crate) fn decompress_batches<T: Number + Default + Copy>(
    data: &[u8],
    count: usize,
    mut each: impl FnMut(&[T]),
) -> Result<(), DecodeError> {
    let pco_error = |e: pco::errors::PcoError| DecodeError::Malformed(format!("pco: {e}"));
    let (file, mut src) = FileDecompressor::new(data).map_err(pco_error)?;
    let mut batch = [T::default(); BATCH];
    let mut decoded = 0usize;
    while let DecompressorItem::Chunk(mut chunk) =
        file.chunk_decompressor::<T, _>(src).map_err(pco_error)?
    {
        loop {
            let progress = chunk.read(&mut batch).map_err(pco_error)?;
            decoded += progress.n_processed;
            if decoded > count {
                return Err(too_many(decoded, count));
            }
            each(&batch[..progress.n_processed]);
            if progress.finished {
                break;
            }
            if progress.n_processed == 0 {
                return Err(DecodeError::Malformed("pco chunk makes no progress".into()));
            }
        }
        src = chunk.into_src();
    }
    if decoded != count {
        return Err(too_many(decoded, count));
    }
    Ok(())
}

fn too_many(decoded: usize, count: usize) -> DecodeError {
    DecodeError::Malformed(format!(
        "pco column holds {decoded} values where {count} are expected"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order_of(values: &[i64]) -> usize {
        delta_order(values.len(), |i| values[i] as u64)
    }

    #[test]
    fn delta_orders_follow_the_shape_of_the_column() {
        let mut noise = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            noise ^= noise << 13;
            noise ^= noise >> 7;
            noise ^= noise << 17;
            (noise % 1000) as i64
        };
        let noisy: Vec<i64> = (0..5000).map(|_| next()).collect();
        assert_eq!(order_of(&noisy), 0, "noise has no trend to take out");
        let timestamps: Vec<i64> = (0..5000)
            .map(|i| 1_700_000_000_000 + 100 * i + next() % 6)
            .collect();
        assert_eq!(order_of(&timestamps), 1, "a line with jitter");
        let steps_of_epochs: Vec<i64> = (0..5000).map(|i| i / 1000).collect();
        assert_eq!(order_of(&steps_of_epochs), 1, "a step function");
        let curve: Vec<i64> = (0..5000)
            .map(|i| (1e12 * (i as f64 / 3000.0).cos()) as i64)
            .collect();
        assert!(order_of(&curve) >= 3, "a smooth curve takes higher orders");
        assert_eq!(order_of(&[7]), 0);
        assert_eq!(order_of(&[]), 0);
    }
}
