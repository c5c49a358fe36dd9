//! Writing a segment: series streamed in id order into a temporary file,
//! which becomes the segment only once complete and durable.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::codec::PcoLevel;
use crate::columns::Columns;
use crate::error::InputProblem;
use crate::format::footer::{self, ChunkMeta};
use crate::format::trailer::Trailer;
use crate::format::{MAX_CHUNK_POINTS, chunk, header};
use crate::stats::Stats;
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
}

impl Default for SegmentOptions {
    fn default() -> SegmentOptions {
        SegmentOptions {
            chunk_points: DEFAULT_CHUNK_POINTS,
            pco_level: DEFAULT_PCO_LEVEL,
        }
    }
}

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
    path: PathBuf,
    temp_path: PathBuf,
    file: Option<BufWriter<File>>,
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
    /// Whether the segment was renamed into place.
    finished: bool,
}

impl SegmentWriter {
    /// Starts writing the segment that will appear at `path`.
    pub fn create(path: impl Into<PathBuf>, options: SegmentOptions) -> Result<SegmentWriter> {
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
        let path = path.into();
        let mut temp_name = path.file_name().unwrap_or_default().to_os_string();
        temp_name.push(".tmp");
        let temp_path = path.with_file_name(temp_name);
        let file = File::create(&temp_path).map_err(|e| Error::io("create", &temp_path, e))?;
        let mut writer = SegmentWriter {
            path,
            temp_path,
            file: Some(BufWriter::with_capacity(1 << 20, file)),
            options,
            written: 0,
            series: Vec::new(),
            chunks: Vec::new(),
            current: None,
            pending: Columns::default(),
            scratch: Vec::new(),
            points: 0,
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
        if self.current.is_some_and(|(current, _)| current != id) {
            self.end_series()?;
        }
        if self.current.is_none() {
            self.series.push((id, self.chunks.len()..self.chunks.len()));
        }
        self.current = Some((id, last_step));
        self.points += steps.len() as u64;

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

    fn check(
        &self,
        id: SeriesId,
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
        let previous_id = self
            .current
            .map(|(current, _)| current)
            .or(self.series.last().map(|s| s.0));
        if let Some(previous) = previous_id
            && id < previous
        {
            return Err(InputProblem::SeriesOutOfOrder { previous });
        }
        let mut previous = match self.current {
            Some((current, last_step)) if current == id => Some(last_step),
            _ => None,
        };
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
        let new_chunks = (self.pending.len() + steps.len()).div_ceil(self.options.chunk_points);
        if self.chunks.len() + new_chunks >= u32::MAX as usize
            || self.series.len() + 1 >= u32::MAX as usize
        {
            return Err(InputProblem::TooManyChunks);
        }
        Ok(())
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
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        let (step_len, timestamp_len) = chunk::encode(
            steps,
            timestamps,
            values,
            self.options.pco_level,
            &mut scratch,
        );
        let meta = ChunkMeta {
            offset: self.written,
            len: scratch.len() as u32,
            crc: crc32fast::hash(&scratch),
            step_len,
            timestamp_len,
            stats: Stats::of(steps, timestamps, values).expect("a chunk holds points"),
        };
        let written = self.write(&scratch);
        self.scratch = scratch;
        written?;
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

    /// Writes the footer, makes the file durable and renames it into place
    /// (then makes the rename durable).
    pub fn finish(mut self) -> Result<SegmentInfo> {
        self.end_series()?;
        let footer = footer::encode(&self.series, &self.chunks);
        let trailer = Trailer {
            footer_offset: self.written,
            footer_len: footer.len() as u64,
            footer_crc: crc32fast::hash(&footer),
        };
        self.write(&footer)?;
        self.write(&trailer.encode())?;
        let file = self
            .file
            .take()
            .expect("write succeeded, so the file is open");
        let file = file
            .into_inner()
            .map_err(|e| Error::io("write", &self.temp_path, e.into_error()))?;
        file.sync_all()
            .map_err(|e| Error::io("fsync", &self.temp_path, e))?;
        fs::rename(&self.temp_path, &self.path)
            .map_err(|e| Error::io("rename into place", &self.path, e))?;
        self.finished = true;
        sync_parent(&self.path)?;
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
            let _ = fs::remove_file(&self.temp_path);
        }
    }
}

/// Makes a rename or creation in `path`'s directory durable.
fn sync_parent(path: &Path) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io("fsync directory", dir, e))
}
