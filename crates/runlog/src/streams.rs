//! Text streams: text logs per run (`stdout`, `node-3/stderr`), read by
//! line or byte offset while they are written, and text series (string
//! values by step, with the ordering contract of metrics).
//!
//! An append is one WAL record, durable under the database's durability
//! mode like a metric point. The newest bytes of a stream (its tail) live
//! in the catalog; the flusher seals tails into zstd-compressed blob chunks
//! of about [`LOG_CHUNK_BYTES`], and at every flush, so a flushed log costs
//! its compressed size on disk and a read loads one chunk at a time.

use crate::catalog::RunEntry;
use crate::contents::{
    StreamChunk, StreamKey, StreamKind, TextPoint, count_items, encode_text_record, text_records,
};
use crate::db::{Db, Shared};
use crate::error::Error;
use crate::limits::{check_count, check_name};
use crate::ops::Op;
use crate::{Result, RunId};

pub use crate::contents::LOG_CHUNK_BYTES;

/// One text-log stream of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct LogStreamInfo {
    /// Its name.
    pub name: String,
    /// Bytes written.
    pub bytes: u64,
    /// Lines ended by a newline.
    pub lines: u64,
    /// Bytes it takes on disk once sealed (compressed chunks), plus the
    /// tail not yet sealed.
    pub stored_bytes: u64,
}

/// Lines read from a text log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct LogLines {
    /// The number of the first line returned (0-based).
    pub first_line: u64,
    /// Whole lines, without their newline (invalid UTF-8 shown as U+FFFD).
    pub lines: Vec<String>,
    /// The text after the last newline, if the stream ends without one and
    /// the read reached its end.
    pub unterminated: Option<String>,
}

impl LogLines {
    /// The line to read from next.
    pub fn next_line(&self) -> u64 {
        self.first_line + self.lines.len() as u64
    }
}

/// A copy of a stream's layout, taken under the lock and read without it.
struct StreamView {
    chunks: Vec<StreamChunk>,
    tail: Vec<u8>,
    tail_offset: u64,
    tail_first_item: u64,
    items: u64,
}

impl StreamView {
    /// Calls `visit` with the stream's bytes from `offset` on, a chunk at
    /// a time, until it returns false.
    fn visit_from(
        &self,
        shared: &Shared,
        offset: u64,
        mut visit: impl FnMut(&[u8]) -> bool,
    ) -> Result<()> {
        let first = self.chunks.partition_point(|c| c.offset + c.len <= offset);
        for chunk in &self.chunks[first..] {
            let bytes = shared.blobs.read_all(&chunk.hash)?;
            let skip = offset.saturating_sub(chunk.offset) as usize;
            if !visit(&bytes[skip.min(bytes.len())..]) {
                return Ok(());
            }
        }
        let skip = offset.saturating_sub(self.tail_offset) as usize;
        visit(&self.tail[skip.min(self.tail.len())..]);
        Ok(())
    }

    /// The offset where line `line` starts, if the stream has it.
    fn line_start(&self, shared: &Shared, line: u64) -> Result<Option<u64>> {
        if line == 0 {
            return Ok(Some(0));
        }
        if line > self.items {
            return Ok(None);
        }
        let i = self
            .chunks
            .partition_point(|c| c.first_item + c.items < line);
        let (bytes, offset, first_item) = match self.chunks.get(i) {
            Some(c) => (shared.blobs.read_all(&c.hash)?, c.offset, c.first_item),
            None => (self.tail.clone(), self.tail_offset, self.tail_first_item),
        };
        // The line starts after newline number `line - first_item` here.
        let nth = (line - first_item) as usize;
        Ok(bytes
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .nth(nth - 1)
            .map(|(at, _)| offset + at as u64 + 1))
    }
}

impl Db {
    /// Appends `text` to text log `stream` of `run` (created on first use);
    /// returns the stream's length in bytes after it.
    pub fn append_log(&self, run: RunId, stream: &str, text: &str) -> Result<u64> {
        check_name("log stream name", stream)?;
        let limits = self.shared.options.limits;
        check_text_len(run, "log append to", stream, text, limits.text_bytes)?;
        let key = StreamKey::log(stream);
        self.write(|catalog, _| {
            let entry = catalog.run(run).ok_or(Error::UnknownRun(run))?;
            let offset = match entry.streams.get(&key) {
                Some(s) => s.len,
                None => {
                    let logs = entry
                        .streams
                        .keys()
                        .filter(|k| k.kind == StreamKind::Log)
                        .count();
                    check_count(
                        run,
                        "log streams per run",
                        logs + 1,
                        limits.log_streams_per_run,
                        stream,
                    )?;
                    0
                }
            };
            let end = offset + text.len() as u64;
            if text.is_empty() {
                return Ok((Vec::new(), end));
            }
            let op = Op::Append {
                run,
                stream: key.clone(),
                offset,
                bytes: text.as_bytes().to_vec(),
            };
            Ok((vec![op], end))
        })
    }

    /// The text logs of `run`, by name.
    pub fn log_streams(&self, run: RunId) -> Result<Vec<LogStreamInfo>> {
        let state = self.shared.state.read();
        let entry = state.catalog.run(run).ok_or(Error::UnknownRun(run))?;
        Ok(entry
            .streams
            .iter()
            .filter(|(k, _)| k.kind == StreamKind::Log)
            .map(|(k, s)| LogStreamInfo {
                name: k.name.clone(),
                bytes: s.len,
                lines: s.items,
                stored_bytes: s
                    .chunks
                    .iter()
                    .map(|c| self.shared.blobs.stored_len(&c.hash).unwrap_or(0))
                    .sum::<u64>()
                    + s.tail.len() as u64,
            })
            .collect())
    }

    /// Up to `max_lines` lines of text log `stream`, from line `from_line`
    /// (0-based) on. Only the chunks that hold them are read.
    pub fn log_lines(
        &self,
        run: RunId,
        stream: &str,
        from_line: u64,
        max_lines: usize,
    ) -> Result<LogLines> {
        let view = self.stream_view(run, &StreamKey::log(stream))?;
        let mut out = LogLines {
            first_line: from_line,
            ..LogLines::default()
        };
        let Some(start) = view.line_start(&self.shared, from_line)? else {
            return Ok(out);
        };
        let mut line = Vec::new();
        let mut reached_end = true;
        view.visit_from(&self.shared, start, |bytes| {
            for piece in bytes.split_inclusive(|b| *b == b'\n') {
                if out.lines.len() == max_lines {
                    reached_end = false;
                    return false;
                }
                match piece.strip_suffix(b"\n") {
                    Some(rest) => {
                        line.extend_from_slice(rest);
                        out.lines.push(String::from_utf8_lossy(&line).into_owned());
                        line.clear();
                    }
                    None => line.extend_from_slice(piece),
                }
            }
            true
        })?;
        if reached_end && !line.is_empty() && out.lines.len() < max_lines {
            out.unterminated = Some(String::from_utf8_lossy(&line).into_owned());
        }
        Ok(out)
    }

    /// Up to `max_bytes` bytes of text log `stream` from byte `offset` on.
    pub fn log_bytes(
        &self,
        run: RunId,
        stream: &str,
        offset: u64,
        max_bytes: usize,
    ) -> Result<Vec<u8>> {
        let view = self.stream_view(run, &StreamKey::log(stream))?;
        let mut out = Vec::new();
        view.visit_from(&self.shared, offset, |bytes| {
            let room = max_bytes - out.len();
            out.extend_from_slice(&bytes[..bytes.len().min(room)]);
            out.len() < max_bytes
        })?;
        Ok(out)
    }

    /// Logs a string value to text series `name` at the step after its
    /// last one (0 for the first), timestamped now; returns the step.
    pub fn log_str(&self, run: RunId, name: &str, value: &str) -> Result<i64> {
        self.log_text_point(run, name, None, None, value)
    }

    /// Logs a string value to text series `name` at `step` and `timestamp`
    /// (ms since the Unix epoch).
    pub fn log_str_at(
        &self,
        run: RunId,
        name: &str,
        step: i64,
        timestamp: i64,
        value: &str,
    ) -> Result<()> {
        self.log_text_point(run, name, Some(step), Some(timestamp), value)
            .map(drop)
    }

    fn log_text_point(
        &self,
        run: RunId,
        name: &str,
        step: Option<i64>,
        timestamp: Option<i64>,
        value: &str,
    ) -> Result<i64> {
        check_name("text series name", name)?;
        let limits = self.shared.options.limits;
        check_text_len(run, "value of text series", name, value, limits.text_bytes)?;
        let key = StreamKey::text(name);
        self.write(|catalog, now| {
            let entry = catalog.run(run).ok_or(Error::UnknownRun(run))?;
            let stream = entry.streams.get(&key);
            if stream.is_none() {
                refuse_numeric(run, entry, name)?;
                let count =
                    entry.metrics.len() + entry.tables.len() + crate::write::text_series(entry) + 1;
                check_count(run, "metrics per run", count, limits.metrics_per_run, name)?;
            }
            let last = stream.and_then(|s| s.last_step);
            let step = match step {
                Some(step) => step,
                None => match last {
                    None => 0,
                    Some(last) => last.checked_add(1).ok_or_else(|| Error::StepOverflow {
                        run,
                        name: name.to_string(),
                        count: 1,
                    })?,
                },
            };
            let mut bytes = Vec::with_capacity(20 + value.len());
            encode_text_record(&mut bytes, step, timestamp.unwrap_or(now), value);
            let op = Op::Append {
                run,
                stream: key.clone(),
                offset: stream.map_or(0, |s| s.len),
                bytes,
            };
            Ok((vec![op], step))
        })
    }

    /// Every point of text series `name`, in step order (equal steps in
    /// the order they were logged); or the string cells of a table column
    /// named `TABLE/COLUMN`, the steps being rows.
    pub fn text_history(&self, run: RunId, name: &str) -> Result<Vec<TextPoint>> {
        let cells = StreamKey {
            kind: StreamKind::Cells,
            name: name.to_string(),
        };
        let view = self
            .stream_view(run, &StreamKey::text(name))
            .or_else(|error| self.stream_view(run, &cells).map_err(|_| error))?;
        let mut points = Vec::with_capacity(view.items as usize);
        view.visit_from(&self.shared, 0, |bytes| {
            points.extend(text_records(bytes));
            true
        })?;
        points.sort_by_key(|p| p.step);
        Ok(points)
    }

    /// The latest point of text series `name`: the highest step, the last
    /// logged of equal steps.
    pub fn text_latest(&self, run: RunId, name: &str) -> Result<TextPoint> {
        let state = self.shared.state.read();
        let entry = state.catalog.run(run).ok_or(Error::UnknownRun(run))?;
        entry
            .streams
            .get(&StreamKey::text(name))
            .and_then(|s| s.latest.clone())
            .ok_or_else(|| unknown(run, "text series", name))
    }

    /// Every text series of `run` with its values in step order: the
    /// text side of [`Db::get_metrics`].
    pub fn get_texts(&self, run: RunId) -> Result<std::collections::BTreeMap<String, Vec<String>>> {
        self.text_series(run)?
            .into_iter()
            .map(|name| {
                let values = self.text_history(run, &name)?.into_iter().map(|p| p.value);
                Ok((name, values.collect()))
            })
            .collect()
    }

    /// The names of `run`'s text series, sorted.
    pub fn text_series(&self, run: RunId) -> Result<Vec<String>> {
        let state = self.shared.state.read();
        let entry = state.catalog.run(run).ok_or(Error::UnknownRun(run))?;
        Ok(entry
            .streams
            .keys()
            .filter(|k| k.kind == StreamKind::Text)
            .map(|k| k.name.clone())
            .collect())
    }

    fn stream_view(&self, run: RunId, key: &StreamKey) -> Result<StreamView> {
        let state = self.shared.state.read();
        let entry = state.catalog.run(run).ok_or(Error::UnknownRun(run))?;
        let stream = entry.streams.get(key).ok_or_else(|| {
            let what = match key.kind {
                StreamKind::Log => "log stream",
                StreamKind::Text => "text series",
                StreamKind::Cells => "string column",
            };
            unknown(run, what, &key.name)
        })?;
        Ok(StreamView {
            chunks: stream.chunks.clone(),
            tail: stream.tail.clone(),
            tail_offset: stream.tail_offset(),
            tail_first_item: stream.tail_first_item(),
            items: stream.items,
        })
    }
}

/// Refuses `text` longer than `limit` bytes.
fn check_text_len(
    run: RunId,
    what: &'static str,
    name: &str,
    text: &str,
    limit: usize,
) -> Result<()> {
    if text.len() > limit {
        return Err(Error::TooLarge {
            run,
            what,
            name: name.to_string(),
            limit: limit as u64,
        });
    }
    Ok(())
}

fn unknown(run: RunId, what: &'static str, name: &str) -> Error {
    Error::UnknownSeries {
        run,
        what,
        name: name.to_string(),
    }
}

/// A text series may not take a metric's or a table's name.
fn refuse_numeric(run: RunId, entry: &RunEntry, name: &str) -> Result<()> {
    let existing = if entry.metrics.contains_key(name) {
        "metric"
    } else if entry.tables.contains_key(name) {
        "table"
    } else {
        return Ok(());
    };
    Err(Error::KindConflict {
        run,
        name: name.to_string(),
        existing,
    })
}

/// Seals stream tails into compressed blob chunks: every non-empty tail
/// when `all` (before a flush's manifest), else the tails that reached
/// [`LOG_CHUNK_BYTES`]. Returns whether it sealed any. The writer goes on
/// meanwhile; a chunk whose tail moved is dropped.
pub(crate) fn seal_streams(shared: &Shared, all: bool) -> Result<bool> {
    let jobs: Vec<(RunId, StreamKey, StreamChunk, Vec<u8>)> = {
        let mut state = shared.state.write();
        let catalog = &mut state.catalog;
        let keys: Vec<(RunId, StreamKey)> = if all {
            // Runs changed since the last flush noted its changes: so a
            // flush stays in proportion to what changed. A tail of another
            // run (appended as that flush took the changes) stays in the
            // catalog file as it is, and is sealed once its run changes.
            catalog
                .changes
                .runs
                .iter()
                .filter_map(|id| Some((*id, catalog.run(*id)?)))
                .flat_map(|(id, r)| r.streams.keys().map(move |k| (id, k.clone())))
                .collect()
        } else {
            std::mem::take(&mut catalog.ready_to_seal)
        };
        keys.into_iter()
            .filter_map(|(run, key)| {
                let stream = catalog.run(run)?.streams.get(&key)?;
                let threshold = if all { 1 } else { LOG_CHUNK_BYTES };
                (stream.tail.len() >= threshold).then(|| {
                    let chunk = StreamChunk {
                        hash: crate::blobs::BlobHash([0; 32]),
                        offset: stream.tail_offset(),
                        len: stream.tail.len() as u64,
                        first_item: stream.tail_first_item(),
                        items: count_items(key.kind, &stream.tail),
                    };
                    (run, key, chunk, stream.tail.clone())
                })
            })
            .collect()
    };
    let sealed_any = !jobs.is_empty();
    for (run, key, mut chunk, bytes) in jobs {
        let written = shared.blobs.write_bytes(&bytes)?;
        chunk.hash = written.hash;
        let mut state = shared.state.write();
        state.catalog.seal(run, &key, chunk);
        state.note_released();
    }
    Ok(sealed_any)
}
