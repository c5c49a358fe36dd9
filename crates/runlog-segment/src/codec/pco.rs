//! pco (Pcodec) for whole numeric columns: it finds delta orders, common
//! multiples and float quantisation by itself and entropy-codes the rest.

use pco::ChunkConfig;
use pco::data_types::Number;
use pco::standalone::{
    DecompressorItem, FileDecompressor, simple_compress, simple_decompress_into,
};

use super::DecodeError;

/// Appends the pco (standalone format) encoding of `values`.
pub(crate) fn compress<T: Number>(values: &[T], level: usize, out: &mut Vec<u8>) {
    let config = ChunkConfig::default().with_compression_level(level);
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
