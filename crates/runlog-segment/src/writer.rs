//! Writing a segment: series streamed in id order into a temporary file,
//! which becomes the segment only once complete and durable.

use std::io::{BufWriter, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use runlog_storage::{AppendWriter, FsStorage, Storage};

use crate::codec::PcoLevel;
use crate::columns::Columns;
use crate::encode::{ChunkPoints, EncodedChunk, encode_all};
use crate::error::InputProblem;
use crate::format::footer::{self, ChunkMeta};
use crate::format::footer_blocks;
use crate::format::trailer::Trailer;
use crate::format::{MAX_CHUNK_POINTS, MAX_METADATA_LEN, header};
use crate::{Error, Result, SeriesId};

/// Points per chunk unless told otherwise (see `docs/performance.md` for the
/// measurements behind it).
pub const DEFAULT_CHUNK_POINTS: usize = 32_768;

/// pco's compression level unless told otherwise.
pub const DEFAULT_PCO_LEVEL: PcoLevel = 6;

/// How a segment is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentOptions {
    /// Points per chunk: 1 to [`MAX_CHUNK_POINTS`]. Larger chunks compress a
    /// little better; smaller ones let step-range reads skip more.
    pub chunk_points: usize,
    /// pco's compression level, 0 to 12: higher is smaller and slower.
    pub pco_level: PcoLevel,
    /// Threads that encode chunks when whole series are appended at once
    /// ([`SegmentWriter::append_all`]), the calling thread among them: 1 to
    /// [`MAX_ENCODE_THREADS`]. The file is the same for any number.
    pub encode_threads: usize,
}

/// The most threads [`SegmentOptions::encode_threads`] may ask for.
pub const MAX_ENCODE_THREADS: usize = 256;

impl Default for SegmentOptions {
    /// 32,768 points per chunk, pco level 6, one encoding thread per core.
    fn default() -> SegmentOptions {
        SegmentOptions {
            chunk_points: DEFAULT_CHUNK_POINTS,
            pco_level: DEFAULT_PCO_LEVEL,
            encode_threads: std::thread::available_parallelism()
                .map_or(1, |n| n.get().min(MAX_ENCODE_THREADS)),
        }
    }
}

/// Points encoded together by one [`SegmentWriter::append_all`] step, which
/// bounds the encoded bytes held in memory at once.
const ENCODE_WINDOW_POINTS: usize = 1 << 20;

/// What a finished segment holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentInfo {
    /// Its path.
    pub path: PathBuf,
    /// Its size in bytes.
    pub file_len: u64,
    /// Series written.
    pub series: usize,
    /// Chunks written.
    pub chunks: usize,
    /// Points written.
    pub points: u64,
}

/// Writes one segment file.
///
/// Series must come in ascending id order; the points of a series may come
/// in several calls, in step order. A series with no points is not stored.
/// Nothing appears at the final path until [`SegmentWriter::finish`]
/// returns; dropping an unfinished writer deletes its temporary file.
#[derive(Debug)]
pub struct SegmentWriter {
    storage: Arc<dyn Storage>,
    path: PathBuf,
    temp_path: PathBuf,
    file: Option<BufWriter<AppendWriter>>,
    options: SegmentOptions,
    written: u64,
    series: Vec<(SeriesId, Range<usize>)>,
    chunks: Vec<ChunkMeta>,
    /// The series being written, and the step of its last point.
    current: Option<(SeriesId, i64)>,
    /// Points of the current series not yet making a full chunk.
    pending: Columns,
    scratch: Vec<u8>,
    points: u64,
    /// The owner's bytes for the footer.
    metadata: Vec<u8>,
    /// Whether the segment was renamed into place.
    finished: bool,
}

impl SegmentWriter {
    /// Starts writing the segment that will appear at `path` on the file
    /// system.
    pub fn create(path: impl Into<PathBuf>, options: SegmentOptions) -> Result<SegmentWriter> {
        SegmentWriter::create_in(Arc::new(FsStorage), path.into(), options)
    }

    /// [`SegmentWriter::create`] for a segment in `storage`.
    pub fn create_in(
        storage: Arc<dyn Storage>,
        path: PathBuf,
        options: SegmentOptions,
    ) -> Result<SegmentWriter> {
        if options.chunk_points == 0 || options.chunk_points > MAX_CHUNK_POINTS {
            return Err(Error::InvalidOption {
                name: "chunk_points",
                value: options.chunk_points.to_string(),
                rule: "from 1 to 1,048,576",
            });
        }
        if options.pco_level > 12 {
            return Err(Error::InvalidOption {
                name: "pco_level",
                value: options.pco_level.to_string(),
                rule: "from 0 to 12",
            });
        }
        if options.encode_threads == 0 || options.encode_threads > MAX_ENCODE_THREADS {
            return Err(Error::InvalidOption {
                name: "encode_threads",
                value: options.encode_threads.to_string(),
                rule: "from 1 to 256",
            });
        }
        let mut temp_name = path.file_name().unwrap_or_default().to_os_string();
        temp_name.push(".tmp");
        let temp_path = path.with_file_name(temp_name);
        let file = storage
            .create(&temp_path)
            .map_err(|e| Error::io("create", &temp_path, e))?;
        let mut writer = SegmentWriter {
            storage,
            path,
            temp_path,
            file: Some(BufWriter::with_capacity(1 << 20, AppendWriter::new(file))),
            options,
            written: 0,
            series: Vec::new(),
            chunks: Vec::new(),
            current: None,
            pending: Columns::default(),
            scratch: Vec::new(),
            points: 0,
            metadata: Vec::new(),
            finished: false,
        };
        writer.write(&header::encode())?;
        Ok(writer)
    }

    /// Appends points of series `id` (columns of equal length, steps not
    /// decreasing, continuing after its previous points). Checks everything
    /// before writing anything.
    pub fn append(
        &mut self,
        id: SeriesId,
        steps: &[i64],
        timestamps: &[i64],
        values: &[f64],
    ) -> Result<()> {
        self.check(id, steps, timestamps, values)
            .map_err(|problem| Error::InvalidPoints {
                series: id,
                problem,
            })?;
        let Some(&last_step) = steps.last() else {
            return Ok(());
        };
        self.start_points(id, last_step, steps.len())?;

        let chunk_points = self.options.chunk_points;
        let mut taken = 0;
        if !self.pending.is_empty() {
            taken = (chunk_points - self.pending.len()).min(steps.len());
            self.pending.steps.extend_from_slice(&steps[..taken]);
            self.pending
                .timestamps
                .extend_from_slice(&timestamps[..taken]);
            self.pending.values.extend_from_slice(&values[..taken]);
            if self.pending.len() == chunk_points {
                self.flush_pending()?;
            }
        }
        while steps.len() - taken >= chunk_points {
            let chunk = taken..taken + chunk_points;
            self.write_chunk(
                &steps[chunk.clone()],
                &timestamps[chunk.clone()],
                &values[chunk],
            )?;
            taken += chunk_points;
        }
        self.pending.steps.extend_from_slice(&steps[taken..]);
        self.pending
            .timestamps
            .extend_from_slice(&timestamps[taken..]);
        self.pending.values.extend_from_slice(&values[taken..]);
        Ok(())
    }

    /// Makes series `id` the current one (ending the one before) and counts
    /// `count` points ending at `last_step` into it.
    fn start_points(&mut self, id: SeriesId, last_step: i64, count: usize) -> Result<()> {
        if self.current.is_some_and(|(current, _)| current != id) {
            self.end_series()?;
        }
        if self.current.is_none() {
            self.series.push((id, self.chunks.len()..self.chunks.len()));
        }
        self.current = Some((id, last_step));
        self.points += count as u64;
        Ok(())
    }

    /// Where points of series `id` may go: after the step returned if they
    /// continue the current series, or (`None`) as a new series, whose id
    /// must exceed every id written so far.
    fn position(&self, id: SeriesId) -> Result<Option<i64>, InputProblem> {
        match (self.current, self.series.last()) {
            (Some((current, last_step)), _) if current == id => Ok(Some(last_step)),
            (_, Some(&(previous, _))) if previous >= id => {
                Err(InputProblem::SeriesOutOfOrder { previous })
            }
            _ => Ok(None),
        }
    }

    fn check(
        &self,
        id: SeriesId,
        steps: &[i64],
        timestamps: &[i64],
        values: &[f64],
    ) -> Result<(), InputProblem> {
        check_points(self.position(id)?, steps, timestamps, values)?;
        let new_chunks = (self.pending.len() + steps.len()).div_ceil(self.options.chunk_points);
        self.check_room(new_chunks, 1)
    }

    /// Whether the index has room for `chunks` and `series` more entries.
    fn check_room(&self, chunks: usize, series: usize) -> Result<(), InputProblem> {
        if self.chunks.len().saturating_add(chunks) >= u32::MAX as usize
            || self.series.len().saturating_add(series) >= u32::MAX as usize
        {
            return Err(InputProblem::TooManyChunks);
        }
        Ok(())
    }

    /// Points of series `id` held back until they fill a chunk (or the
    /// series ends): 0 unless `id` is the series being written.
    pub fn pending_points(&self, id: SeriesId) -> usize {
        match self.current {
            Some((current, _)) if current == id => self.pending.len(),
            _ => 0,
        }
    }

    /// Appends whole series at once, in ascending id order (the first may
    /// continue the current series), and ends each: later calls must name
    /// greater ids. Their chunks are encoded on up to
    /// [`SegmentOptions::encode_threads`] threads; the file is the same as
    /// [`SegmentWriter::append`] would write. Checks everything before
    /// writing anything.
    pub fn append_all(&mut self, series: &[(SeriesId, &Columns)]) -> Result<()> {
        let chunks: usize = series
            .iter()
            .map(|(_, p)| p.len().div_ceil(self.options.chunk_points))
            .sum();
        if let Some(&(first, _)) = series.first() {
            // One more chunk for points of the current series pending.
            self.check_room(chunks + 1, series.len())
                .map_err(|problem| Error::InvalidPoints {
                    series: first,
                    problem,
                })?;
        }
        let mut previous_id = None;
        for &(id, points) in series {
            let invalid = |problem| Error::InvalidPoints {
                series: id,
                problem,
            };
            let after = match previous_id {
                None => self.position(id).map_err(invalid)?,
                Some(previous) if previous >= id => {
                    return Err(invalid(InputProblem::SeriesOutOfOrder { previous }));
                }
                Some(_) => None,
            };
            check_points(after, &points.steps, &points.timestamps, &points.values)
                .map_err(invalid)?;
            previous_id = Some(id);
        }
        let mut whole = series;
        if let Some((&(id, first), rest)) = series.split_first()
            && self.current.is_some_and(|(current, _)| current == id)
        {
            self.append(id, &first.steps, &first.timestamps, &first.values)?;
            whole = rest;
        }
        self.end_series()?;
        let chunk_points = self.options.chunk_points;
        let chunks: Vec<(SeriesId, ChunkPoints<'_>)> = whole
            .iter()
            .flat_map(|&(id, points)| {
                (0..points.len()).step_by(chunk_points).map(move |start| {
                    let range = start..(start + chunk_points).min(points.len());
                    let chunk = ChunkPoints {
                        steps: &points.steps[range.clone()],
                        timestamps: &points.timestamps[range.clone()],
                        values: &points.values[range],
                    };
                    (id, chunk)
                })
            })
            .collect();
        for window in windows(&chunks, ENCODE_WINDOW_POINTS) {
            let points: Vec<ChunkPoints<'_>> = window.iter().map(|&(_, c)| c).collect();
            let encoded = encode_all(&points, self.options.pco_level, self.options.encode_threads);
            for (&(id, points), chunk) in window.iter().zip(encoded) {
                if self.series.last().is_none_or(|&(last, _)| last != id) {
                    self.series.push((id, self.chunks.len()..self.chunks.len()));
                }
                self.points += points.steps.len() as u64;
                self.write_encoded(&chunk)?;
            }
        }
        Ok(())
    }

    /// Appends a chunk already encoded, as [`SegmentReader::chunk_bytes`]
    /// and [`SegmentReader::chunks`] give it, to series `id` without
    /// decoding it (after flushing any points of `id` still pending as a
    /// chunk of their own). The bytes must match the entry's length and
    /// CRC; the statistics are taken as they are.
    ///
    /// [`SegmentReader::chunk_bytes`]: crate::SegmentReader::chunk_bytes
    /// [`SegmentReader::chunks`]: crate::SegmentReader::chunks
    pub fn copy_chunk(&mut self, id: SeriesId, chunk: &ChunkMeta, bytes: &[u8]) -> Result<()> {
        let invalid = |problem| Error::InvalidPoints {
            series: id,
            problem,
        };
        let after = self.position(id).map_err(invalid)?;
        if let Some(previous) = after
            && chunk.stats.first_step < previous
        {
            return Err(invalid(InputProblem::StepsNotSorted {
                index: 0,
                previous,
                step: chunk.stats.first_step,
            }));
        }
        let columns_fit =
            u64::from(chunk.step_len) + u64::from(chunk.timestamp_len) < u64::from(chunk.len);
        if bytes.len() != chunk.len as usize
            || !columns_fit
            || chunk.stats.count == 0
            || chunk.stats.count > MAX_CHUNK_POINTS as u64
            || crc32fast::hash(bytes) != chunk.crc
        {
            return Err(invalid(InputProblem::ChunkMismatch));
        }
        self.check_room(2, 1).map_err(invalid)?;
        self.start_points(id, chunk.stats.last_step, chunk.stats.count as usize)?;
        self.flush_pending()?;
        self.write_chunk_bytes(bytes, *chunk)
    }

    /// Appends a chunk encoded in memory ([`EncodedChunk::encode`]) to
    /// series `id` as it is, like [`SegmentWriter::copy_chunk`].
    pub fn append_encoded(&mut self, id: SeriesId, chunk: &EncodedChunk) -> Result<()> {
        self.copy_chunk(id, &chunk.meta(0), chunk.bytes())
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        let file = self.file.as_mut().ok_or_else(|| {
            Error::io(
                "go on writing after an earlier failure on",
                &self.temp_path,
                std::io::Error::other("the writer failed before"),
            )
        })?;
        if let Err(e) = file.write_all(bytes) {
            // Nothing later may pretend the file is whole.
            self.file = None;
            return Err(Error::io("write", &self.temp_path, e));
        }
        self.written += bytes.len() as u64;
        Ok(())
    }

    fn write_chunk(&mut self, steps: &[i64], timestamps: &[i64], values: &[f64]) -> Result<()> {
        let points = ChunkPoints {
            steps,
            timestamps,
            values,
        };
        let chunk = EncodedChunk::from_points(
            points,
            self.options.pco_level,
            std::mem::take(&mut self.scratch),
        );
        let written = self.write_encoded(&chunk);
        self.scratch = chunk.into_bytes();
        written
    }

    fn write_encoded(&mut self, chunk: &EncodedChunk) -> Result<()> {
        self.write_chunk_bytes(chunk.bytes(), chunk.meta(0))
    }

    /// Writes a chunk's `bytes` as the next chunk of the last series in the
    /// index, with `meta` as its entry (its offset set here).
    fn write_chunk_bytes(&mut self, bytes: &[u8], meta: ChunkMeta) -> Result<()> {
        let meta = ChunkMeta {
            offset: self.written,
            ..meta
        };
        self.write(bytes)?;
        self.chunks.push(meta);
        if let Some(last) = self.series.last_mut() {
            last.1.end = self.chunks.len();
        }
        Ok(())
    }

    fn flush_pending(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        let written = self.write_chunk(&pending.steps, &pending.timestamps, &pending.values);
        self.pending = pending;
        self.pending.clear();
        written
    }

    fn end_series(&mut self) -> Result<()> {
        self.flush_pending()?;
        self.current = None;
        Ok(())
    }

    /// Gives the bytes the footer ends with, opaque to this crate (what the
    /// owner needs to know of the file without its other records, at most
    /// [`MAX_METADATA_LEN`] bytes); [`SegmentReader::metadata`] returns them.
    ///
    /// [`SegmentReader::metadata`]: crate::SegmentReader::metadata
    pub fn set_metadata(&mut self, metadata: Vec<u8>) -> Result<()> {
        if metadata.len() > MAX_METADATA_LEN {
            return Err(Error::InvalidOption {
                name: "metadata",
                value: format!("{} bytes", metadata.len()),
                rule: "at most 65,536 bytes",
            });
        }
        self.metadata = metadata;
        Ok(())
    }

    /// Writes the footer, makes the file durable and renames it into place
    /// (then makes the rename durable).
    pub fn finish(mut self) -> Result<SegmentInfo> {
        self.end_series()?;
        let footer = footer::encode(&self.series, &self.chunks, &self.metadata);
        let trailer = Trailer {
            footer_offset: self.written,
            footer_len: footer.len() as u64,
            footer_crc: crc32fast::hash(&footer),
        };
        self.write(&footer)?;
        self.write(&footer_blocks::encode(&footer))?;
        self.write(&trailer.encode())?;
        let file = self
            .file
            .take()
            .expect("write succeeded, so the file is open");
        let file = file
            .into_inner()
            .map_err(|e| Error::io("write", &self.temp_path, e.into_error()))?;
        file.file()
            .sync()
            .map_err(|e| Error::io("fsync", &self.temp_path, e))?;
        self.storage
            .rename(&self.temp_path, &self.path)
            .map_err(|e| Error::io("rename into place", &self.path, e))?;
        self.finished = true;
        let dir = parent_dir(&self.path);
        self.storage
            .sync_dir(dir)
            .map_err(|e| Error::io("fsync directory", dir, e))?;
        Ok(SegmentInfo {
            path: self.path.clone(),
            file_len: self.written,
            series: self.series.len(),
            chunks: self.chunks.len(),
            points: self.points,
        })
    }
}

impl Drop for SegmentWriter {
    fn drop(&mut self) {
        if !self.finished {
            // Nothing to report from `drop` if the file is already gone.
            let _ = self.storage.remove_file(&self.temp_path);
        }
    }
}

/// Whether `steps`, `timestamps` and `values` are columns of equal length
/// with steps that do not decrease, starting at or after `after`.
pub(crate) fn check_points(
    after: Option<i64>,
    steps: &[i64],
    timestamps: &[i64],
    values: &[f64],
) -> Result<(), InputProblem> {
    if steps.len() != timestamps.len() || steps.len() != values.len() {
        return Err(InputProblem::LengthMismatch {
            steps: steps.len(),
            timestamps: timestamps.len(),
            values: values.len(),
        });
    }
    let mut previous = after;
    for (index, &step) in steps.iter().enumerate() {
        if let Some(previous) = previous
            && step < previous
        {
            return Err(InputProblem::StepsNotSorted {
                index,
                previous,
                step,
            });
        }
        previous = Some(step);
    }
    Ok(())
}

/// Splits `chunks` into consecutive windows of about `points` points (at
/// least one chunk each).
fn windows<'a, 'p>(
    chunks: &'a [(SeriesId, ChunkPoints<'p>)],
    points: usize,
) -> impl Iterator<Item = &'a [(SeriesId, ChunkPoints<'p>)]> {
    let mut rest = chunks;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut total = 0;
        let end = rest
            .iter()
            .position(|(_, c)| {
                total += c.steps.len();
                total > points
            })
            .map_or(rest.len(), |i| i.max(1));
        let (window, tail) = rest.split_at(end);
        rest = tail;
        Some(window)
    })
}

/// The directory `path` is in (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}
