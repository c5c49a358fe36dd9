//! Looking up a few series in a segment without reading its whole footer:
//! the footer's fixed-width, id-ordered entries are binary-searched in the
//! mapped file, and each 4 KiB block of it is checked against its CRC
//! (format version 3 on) before any entry in it is used. Opening touches
//! the header, the trailer and the block table only, so a lookup reads a
//! few pages of a footer of any size.

use std::ops::Range;
use std::path::{Path, PathBuf};

use runlog_storage::{FileBytes, FsStorage, Storage};

use crate::columns::Columns;
use crate::envelope::{Envelope, corrupt};
use crate::error::Corruption;
use crate::format::FieldReader;
use crate::format::chunk;
use crate::format::footer::{CHUNK_ENTRY_LEN, ChunkMeta, SERIES_ENTRY_LEN, chunk_entry};
use crate::format::footer_blocks::BlockTable;
use crate::reader::chunk_error;
use crate::stats::Stats;
use crate::{MAX_METADATA_LEN, Result, SeriesId};

/// A segment opened for lookups of single series (see the module docs);
/// [`crate::SegmentReader`] reads the whole index at open instead.
#[derive(Debug)]
pub struct SegmentLookup {
    path: PathBuf,
    bytes: FileBytes,
    footer: Range<usize>,
    blocks: BlockTable,
    series_count: u64,
    chunk_count: u64,
    /// Its lowest and highest series id (none if it holds no series).
    ids: Option<(SeriesId, SeriesId)>,
}

impl SegmentLookup {
    /// Maps the segment at `path` and checks its header, trailer and block
    /// table; `None` if it is of format version 1 or 2, which have no block
    /// table (read those with [`crate::SegmentReader`]).
    pub fn open(path: impl AsRef<Path>) -> Result<Option<SegmentLookup>> {
        SegmentLookup::open_in(&FsStorage, path.as_ref())
    }

    /// [`SegmentLookup::open`] for a segment in `storage`.
    pub fn open_in(storage: &dyn Storage, path: &Path) -> Result<Option<SegmentLookup>> {
        let bytes = storage
            .map_immutable(path)
            .map_err(|e| crate::Error::io("open", path, e))?;
        SegmentLookup::from_file_bytes(path.to_path_buf(), bytes)
    }

    /// [`SegmentLookup::open`] for a segment held in memory; `name` stands
    /// for its path in errors.
    pub fn from_bytes(name: impl Into<PathBuf>, bytes: Vec<u8>) -> Result<Option<SegmentLookup>> {
        SegmentLookup::from_file_bytes(name.into(), FileBytes::from(bytes))
    }

    fn from_file_bytes(path: PathBuf, bytes: FileBytes) -> Result<Option<SegmentLookup>> {
        let envelope = Envelope::open(&path, &bytes)?;
        let Some(blocks) = envelope.blocks else {
            return Ok(None);
        };
        let mut lookup = SegmentLookup {
            path,
            bytes,
            footer: envelope.footer,
            blocks,
            series_count: 0,
            chunk_count: 0,
            ids: None,
        };
        let mut counts = FieldReader::new(lookup.footer_bytes(0, 8)?);
        let (series, chunks) = (counts.u32(), counts.u32());
        lookup.series_count = u64::from(series.unwrap_or_default());
        lookup.chunk_count = u64::from(chunks.unwrap_or_default());
        let index_len =
            8 + lookup.series_count * SERIES_ENTRY_LEN + lookup.chunk_count * CHUNK_ENTRY_LEN;
        if index_len + 4 > lookup.footer.len() as u64 {
            return Err(lookup.structure(
                0,
                "footer length does not match its series and chunk counts",
            ));
        }
        // Most segments of a database with many runs hold none of a given
        // series: their first and last entries say so without a search.
        if lookup.series_count > 0 {
            let first = lookup.series_entry(0)?.0;
            let last = lookup.series_entry(lookup.series_count - 1)?.0;
            lookup.ids = Some((first, last));
        }
        Ok(Some(lookup))
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Size of the file in bytes.
    pub fn file_len(&self) -> u64 {
        self.bytes.len() as u64
    }

    /// How many series the segment holds.
    pub fn series_count(&self) -> u64 {
        self.series_count
    }

    /// `len` footer bytes from footer offset `at`, once the blocks holding
    /// them passed their CRC.
    fn footer_bytes(&self, at: u64, len: u64) -> Result<&[u8]> {
        let footer = &self.bytes[self.footer.clone()];
        let end = at
            .checked_add(len)
            .filter(|&end| end <= footer.len() as u64);
        let Some(end) = end else {
            return Err(self.structure(at, "footer entry out of bounds"));
        };
        let range = at as usize..end as usize;
        self.blocks
            .check(footer, range.clone())
            .map_err(|(block, kind)| corrupt(&self.path, self.footer.start as u64 + block, kind))?;
        Ok(&footer[range])
    }

    fn structure(&self, at: u64, what: &'static str) -> crate::Error {
        corrupt(
            &self.path,
            self.footer.start as u64 + at,
            Corruption::Structure(what),
        )
    }

    /// Series entry `index`: its id and its chunks' index range.
    fn series_entry(&self, index: u64) -> Result<(SeriesId, Range<u64>)> {
        let at = 8 + index * SERIES_ENTRY_LEN;
        let mut fields = FieldReader::new(self.footer_bytes(at, SERIES_ENTRY_LEN)?);
        let id = fields.u64().unwrap_or_default();
        let first = u64::from(fields.u32().unwrap_or_default());
        let count = u64::from(fields.u32().unwrap_or_default());
        if count == 0 || first + count > self.chunk_count {
            return Err(self.structure(at, "series chunk range is not inside the chunks"));
        }
        Ok((id, first..first + count))
    }

    /// The index range of series `id`'s chunks, if the segment holds it.
    fn find(&self, id: SeriesId) -> Result<Option<Range<u64>>> {
        if !self
            .ids
            .is_some_and(|(first, last)| (first..=last).contains(&id))
        {
            return Ok(None);
        }
        let (mut low, mut high) = (0, self.series_count);
        while low < high {
            let middle = low + (high - low) / 2;
            let (found, chunks) = self.series_entry(middle)?;
            match found.cmp(&id) {
                std::cmp::Ordering::Equal => return Ok(Some(chunks)),
                std::cmp::Ordering::Less => low = middle + 1,
                std::cmp::Ordering::Greater => high = middle,
            }
        }
        Ok(None)
    }

    /// The chunks of series `id`, in step order (none if the segment does
    /// not hold it).
    pub fn chunks(&self, id: SeriesId) -> Result<Vec<ChunkMeta>> {
        let Some(range) = self.find(id)? else {
            return Ok(Vec::new());
        };
        let entries_at = 8 + self.series_count * SERIES_ENTRY_LEN;
        let at = entries_at + range.start * CHUNK_ENTRY_LEN;
        let bytes = self.footer_bytes(at, (range.end - range.start) * CHUNK_ENTRY_LEN)?;
        let mut fields = FieldReader::new(bytes);
        let mut chunks: Vec<ChunkMeta> = Vec::with_capacity((range.end - range.start) as usize);
        for index in range {
            let entry_at = entries_at + index * CHUNK_ENTRY_LEN;
            let chunk = chunk_entry(&mut fields, self.footer.start as u64)
                .map_err(|what| self.structure(entry_at, what))?;
            if chunks
                .last()
                .is_some_and(|before| before.stats.last_step > chunk.stats.first_step)
            {
                return Err(self.structure(entry_at, "a series' chunks are not in step order"));
            }
            chunks.push(chunk);
        }
        Ok(chunks)
    }

    /// Statistics of series `id` over all its points (the fold of its
    /// chunks'), without reading data; `None` if the segment does not hold
    /// it.
    pub fn stats(&self, id: SeriesId) -> Result<Option<Stats>> {
        let chunks = self.chunks(id)?;
        let mut chunks = chunks.iter();
        let Some(first) = chunks.next() else {
            return Ok(None);
        };
        let mut stats = first.stats;
        for chunk in chunks {
            stats.merge(&chunk.stats);
        }
        Ok(Some(stats))
    }

    /// Every point of series `id`, in order, each chunk checked against its
    /// CRC and statistics; `None` if the segment does not hold it.
    pub fn read_series(&self, id: SeriesId) -> Result<Option<Columns>> {
        let chunks = self.chunks(id)?;
        if chunks.is_empty() {
            return Ok(None);
        }
        let mut out = Columns::default();
        for meta in &chunks {
            let start = meta.offset as usize;
            let bytes = &self.bytes[start..start + meta.len as usize];
            chunk::decode(bytes, meta, &mut out).map_err(|e| chunk_error(&self.path, meta, e))?;
        }
        Ok(Some(out))
    }

    /// The metadata its writer gave ([`crate::SegmentWriter::set_metadata`]).
    pub fn metadata(&self) -> Result<Vec<u8>> {
        let at = 8 + self.series_count * SERIES_ENTRY_LEN + self.chunk_count * CHUNK_ENTRY_LEN;
        let len = u64::from(u32::from_le_bytes(
            self.footer_bytes(at, 4)?.try_into().expect("4 bytes"),
        ));
        if len > MAX_METADATA_LEN as u64 || at + 4 + len != self.footer.len() as u64 {
            return Err(self.structure(at, "metadata does not end where the footer does"));
        }
        Ok(self.footer_bytes(at + 4, len)?.to_vec())
    }
}
