//! Reading a segment: open by its footer, decode chunks on demand.

use std::ops::RangeBounds;
use std::path::{Path, PathBuf};

use runlog_storage::{FileBytes, FsStorage, Storage};

use crate::columns::Columns;
use crate::envelope::{Envelope, corrupt};
use crate::error::Corruption;
use crate::format::chunk::{self, ChunkError};
use crate::format::footer::{self, ChunkMeta, SeriesMeta};
use crate::stats::Stats;
use crate::{Error, Result, SeriesId};

/// An open segment: its index is in memory, its data is read on demand.
#[derive(Debug)]
pub struct SegmentReader {
    path: PathBuf,
    bytes: FileBytes,
    series: Vec<SeriesMeta>,
    chunks: Vec<ChunkMeta>,
    metadata: Vec<u8>,
    /// Where the metadata starts in the file.
    metadata_at: u64,
}

impl SegmentReader {
    /// Maps the segment at `path` on the file system and reads and checks
    /// its header, trailer and footer; no chunk is read.
    pub fn open(path: impl AsRef<Path>) -> Result<SegmentReader> {
        SegmentReader::open_in(&FsStorage, path.as_ref())
    }

    /// [`SegmentReader::open`] for a segment in `storage`.
    pub fn open_in(storage: &dyn Storage, path: &Path) -> Result<SegmentReader> {
        let bytes = storage
            .map_immutable(path)
            .map_err(|e| Error::io("open", path, e))?;
        SegmentReader::from_file_bytes(path.to_path_buf(), bytes)
    }

    /// Reads a segment held in memory; `name` stands for its path in errors.
    pub fn from_bytes(name: impl Into<PathBuf>, bytes: Vec<u8>) -> Result<SegmentReader> {
        SegmentReader::from_file_bytes(name.into(), FileBytes::from(bytes))
    }

    fn from_file_bytes(path: PathBuf, file_bytes: FileBytes) -> Result<SegmentReader> {
        let envelope = Envelope::open(&path, &file_bytes)?;
        let footer_offset = envelope.footer.start as u64;
        let footer_bytes = &file_bytes[envelope.footer.clone()];
        let got = crc32fast::hash(footer_bytes);
        if got != envelope.footer_crc {
            return Err(corrupt(
                &path,
                footer_offset,
                Corruption::ChecksumMismatch {
                    expected: envelope.footer_crc,
                    got,
                },
            ));
        }
        let footer = footer::decode(footer_bytes, footer_offset, envelope.version)
            .map_err(|(at, kind)| corrupt(&path, footer_offset + at, kind))?;
        Ok(SegmentReader {
            path,
            bytes: file_bytes,
            series: footer.series,
            chunks: footer.chunks,
            metadata_at: (envelope.footer.end - footer.metadata.len()) as u64,
            metadata: footer.metadata,
        })
    }

    /// The metadata its writer gave ([`crate::SegmentWriter::set_metadata`]);
    /// empty if none, or if the file is of format version 1 or 2.
    pub fn metadata(&self) -> &[u8] {
        &self.metadata
    }

    /// The byte offset in the file where [`SegmentReader::metadata`]
    /// starts (the footer's end, for a file without metadata).
    pub fn metadata_offset(&self) -> u64 {
        self.metadata_at
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Size of the file in bytes.
    pub fn file_len(&self) -> u64 {
        self.bytes.len() as u64
    }

    /// The series in the segment, ascending by id.
    pub fn series(&self) -> &[SeriesMeta] {
        &self.series
    }

    /// The ids of the series in the segment, ascending.
    pub fn series_ids(&self) -> impl Iterator<Item = SeriesId> + '_ {
        self.series.iter().map(|s| s.id)
    }

    fn find(&self, id: SeriesId) -> Option<&SeriesMeta> {
        // Most segments of a database with many runs hold none of a given
        // series: their id range says so without a search.
        let (first, last) = (self.series.first()?, self.series.last()?);
        if id < first.id || id > last.id {
            return None;
        }
        self.series
            .binary_search_by_key(&id, |s| s.id)
            .ok()
            .map(|index| &self.series[index])
    }

    /// Statistics of series `id` over all its points, without reading data.
    pub fn stats(&self, id: SeriesId) -> Option<Stats> {
        self.find(id).map(|s| s.stats)
    }

    /// The chunks of series `id`, in step order.
    pub fn chunks(&self, id: SeriesId) -> &[ChunkMeta] {
        self.find(id)
            .map_or(&[][..], |s| &self.chunks[s.chunks.clone()])
    }

    /// Every chunk in the file, in file order.
    pub fn all_chunks(&self) -> &[ChunkMeta] {
        &self.chunks
    }

    /// The bytes of `chunk`: its three columns, each starting with its codec
    /// tag (the footer checked that they lie inside the file).
    pub fn chunk_bytes(&self, chunk: &ChunkMeta) -> &[u8] {
        let start = chunk.offset as usize;
        &self.bytes[start..start + chunk.len as usize]
    }

    /// The bytes of `chunk` once their CRC is checked, for copying the
    /// chunk without decoding it.
    pub fn checked_chunk_bytes(&self, chunk: &ChunkMeta) -> Result<&[u8]> {
        let bytes = self.chunk_bytes(chunk);
        chunk::check_crc(bytes, chunk).map_err(|e| chunk_error(&self.path, chunk, e))?;
        Ok(bytes)
    }

    /// Checks `chunk`'s CRC and statistics and appends its points to `out`
    /// (left unchanged on error).
    pub fn read_chunk(&self, chunk: &ChunkMeta, out: &mut Columns) -> Result<()> {
        chunk::decode(self.chunk_bytes(chunk), chunk, out)
            .map_err(|e| chunk_error(&self.path, chunk, e))
    }

    /// Every point of series `id`, in order; `None` if the segment does not
    /// hold the series.
    pub fn read_series(&self, id: SeriesId) -> Result<Option<Columns>> {
        self.read_steps(id, ..)
    }

    /// The points of series `id` whose step lies in `steps`, in order,
    /// decoding only the chunks whose step range meets `steps`; `None` if
    /// the segment does not hold the series.
    pub fn read_steps(
        &self,
        id: SeriesId,
        steps: impl RangeBounds<i64>,
    ) -> Result<Option<Columns>> {
        let mut out = Columns::default();
        Ok(self.read_steps_into(id, steps, &mut out)?.then_some(out))
    }

    /// Like [`SegmentReader::read_steps`], appending to `out` (so a caller
    /// can reuse its buffers); returns whether the segment holds the series.
    pub fn read_steps_into(
        &self,
        id: SeriesId,
        steps: impl RangeBounds<i64>,
        out: &mut Columns,
    ) -> Result<bool> {
        let Some(series) = self.find(id) else {
            return Ok(false);
        };
        let chunks = &self.chunks[series.chunks.clone()];
        let meeting =
            |chunk: &&ChunkMeta| overlaps(&steps, chunk.stats.first_step, chunk.stats.last_step);
        let at_most: u64 = chunks.iter().filter(meeting).map(|c| c.stats.count).sum();
        out.reserve(at_most as usize);
        let mut partial = Columns::default();
        for chunk in chunks.iter().filter(meeting) {
            read_chunk_steps(&chunk.stats, &steps, out, &mut partial, |into| {
                self.read_chunk(chunk, into)
            })?;
        }
        Ok(true)
    }
}

/// The error of a damaged chunk of the segment at `path`.
pub(crate) fn chunk_error(path: &Path, chunk: &ChunkMeta, error: ChunkError) -> Error {
    match error {
        ChunkError::Corrupt(at, kind) => corrupt(path, chunk.offset + at, kind),
        ChunkError::UnknownCodec(at, tag) => Error::UnknownCodec {
            file: path.to_path_buf(),
            offset: chunk.offset + at,
            tag,
        },
    }
}

/// Appends the points of a chunk (with statistics `stats`) whose step lies
/// in `steps` to `out`: `decode` writes straight into `out` when the whole
/// chunk lies inside, into `partial` when only part of it does, and is not
/// called when none does.
pub(crate) fn read_chunk_steps(
    stats: &Stats,
    steps: &impl RangeBounds<i64>,
    out: &mut Columns,
    partial: &mut Columns,
    decode: impl FnOnce(&mut Columns) -> Result<()>,
) -> Result<()> {
    let (first, last) = (stats.first_step, stats.last_step);
    if !overlaps(steps, first, last) {
        return Ok(());
    }
    if steps.contains(&first) && steps.contains(&last) {
        return decode(out);
    }
    partial.clear();
    decode(partial)?;
    let range = partial.step_range(steps);
    out.extend_from(partial, range);
    Ok(())
}

/// Whether `range` meets `first..=last`.
fn overlaps(range: &impl RangeBounds<i64>, first: i64, last: i64) -> bool {
    use std::ops::Bound;
    let starts_before_end = match range.start_bound() {
        Bound::Included(&s) => s <= last,
        Bound::Excluded(&s) => s < last,
        Bound::Unbounded => true,
    };
    let ends_after_start = match range.end_bound() {
        Bound::Included(&e) => e >= first,
        Bound::Excluded(&e) => e > first,
        Bound::Unbounded => true,
    };
    starts_before_end && ends_after_start
}
