//! Manifests of versions 1 to 4, which held the whole catalog:
//!
//! ```text
//! body     := flushed_lsn:u64 next_segment:u64 next_run:u64 next_series:u64
//!             segment_count:u32 (file_no:u64 level:u32)*
//!             run_count:u32 run*  series_count:u32 series*
//!             contents                                     version 3 on
//!             experiments                                  version 4 on
//! contents := run_count:u32 (run:u64 artifact_count:u32 artifact*
//!             stream_count:u32 (kind:u8 name:str stream)*)*
//! ```
//!
//! A writer that opens one writes the catalog to a catalog file and the
//! manifest as version 5.

use crate::RunId;
use crate::catalog::Interner;
use crate::catalog_file::{CatalogImage, decode_contents, decode_run_head, decode_series};
use crate::experiments::Experiments;
use crate::wire::{DecodeError, Decoder};

use super::{Manifest, decode_segments};

/// Reads a body of `version` (1 to 4).
pub(super) fn decode(body: &[u8], version: u32) -> Result<Manifest, DecodeError> {
    let mut d = Decoder::new(body);
    let flushed_lsn = d.u64()?;
    let next_segment = d.u64()?;
    let mut image = CatalogImage {
        next_run: d.u64()?,
        next_series: d.u64()?,
        ..CatalogImage::default()
    };
    let segments = decode_segments(&mut d)?;
    for _ in 0..d.len(40)? {
        let record = decode_run_head(&mut d)?;
        image.runs.insert(record.info.id, record);
    }
    let mut names = Interner::default();
    for _ in 0..d.len(34)? {
        let at = d.position();
        let series = decode_series(&mut d, &mut names)?;
        let record = image.runs.get_mut(&series.run).ok_or_else(|| {
            (
                at,
                format!(
                    "series {} of run {}, which the catalog lacks",
                    series.id, series.run
                ),
            )
        })?;
        record.series.push(series);
    }
    if version >= 3 {
        for _ in 0..d.len(16)? {
            let at = d.position();
            let run = RunId(d.u64()?);
            let record = image.runs.get_mut(&run).ok_or_else(|| {
                (
                    at,
                    format!("contents of run {run}, which the catalog lacks"),
                )
            })?;
            decode_contents(&mut d, record)?;
        }
    }
    if version >= 4 {
        image.experiments = Some(Experiments::decode(&mut d)?);
    }
    if !d.is_done() {
        return Err((d.position(), "bytes after the catalog".into()));
    }
    Ok(Manifest {
        flushed_lsn,
        next_segment,
        segments,
        catalog: image.into_catalog(),
        catalog_ref: None,
        catalog_version: 0,
    })
}
