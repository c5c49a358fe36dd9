//! The manifest: which segment files make up the database, up to which WAL
//! record their points reach, and a snapshot of the catalog. One file,
//! replaced atomically (write `MANIFEST.tmp`, fsync, rename, fsync the
//! directory), so every open sees one consistent state.
//!
//! ```text
//! manifest := "RUNLOGMF" version:u32 body_len:u64 body crc:u32   crc of body
//! body     := flushed_lsn:u64 next_segment:u64 next_run:u64 next_series:u64
//!             segment_count:u32 (file_no:u64 level:u32)*            oldest first
//!             run_count:u32 run*  series_count:u32 series*          ascending ids
//! run      := id:u64 experiment:str name:str status:u8 start_ms:i64
//!             end_ms:i64 last_write_ms:i64 flags:u8       bit 0 deleted, bit 1 staged
//!                                                            (version 1: deleted 0 or 1)
//!             param_count:u32 (key:str value:str)* tag_count:u32 (key:str value:str)*
//!             table_count:u32 (table:str rows:u64)*
//! series   := id:u64 run:u64 kind:u8 name:str column:str has_last:u8 last_step:i64
//! contents := run_count:u32 (run:u64 artifact_count:u32 artifact*   version 3 on
//!             stream_count:u32 (kind:u8 name:str stream)*)*
//! artifact := path:str hash:u8{32} size:u64 media_type:str time_ms:i64
//!             step:i64 (i64::MIN = none)
//! stream   := len:u64 items:u64 chunk_count:u32 chunk* tail_len:u32 u8{tail_len}
//!             has_last_step:u8 last_step:i64 has_latest:u8
//!             (step:i64 timestamp:i64 value:str)?              only if has_latest = 1
//! chunk    := hash:u8{32} offset:u64 len:u64 first_item:u64 items:u64
//! experiments := count:u32 (id:u64 name:str created_ms:i64          version 4 on
//!             deleted:u8 tag_count:u32 (key:str value:str)*)* next:u64
//! ```
//!
//! `docs/format-manifest.md` describes every field.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::catalog::{Catalog, Interner, RunInfo, RunStatus, SeriesName};
use crate::contents::{Artifact, Stream, StreamKey, StreamKind};
use crate::experiments::Experiments;
use crate::wire::{DecodeError, Decoder, Encoder};
use crate::{Error, Result, RunId};

/// The manifest's file name in the database directory.
pub(crate) const MANIFEST: &str = "MANIFEST";
/// The manifest format version this build writes (it reads 1 to 3 as
/// well: version 2 adds the staged flag to a run's flags byte, version 3
/// the contents section, version 4 the experiments; before it, the
/// experiments are those the runs name, numbered by first run).
pub(crate) const MANIFEST_VERSION: u32 = 4;
/// The oldest manifest version this build reads.
pub(crate) const OLDEST_MANIFEST_VERSION: u32 = 1;
const MAGIC: &[u8; 8] = b"RUNLOGMF";

/// A segment file in the manifest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SegmentEntry {
    pub file_no: u64,
    pub level: u32,
}

/// What a manifest holds.
#[derive(Clone, Debug, Default)]
pub(crate) struct Manifest {
    /// Every WAL record up to this LSN is reflected in the segments.
    pub flushed_lsn: u64,
    pub next_segment: u64,
    pub segments: Vec<SegmentEntry>,
    pub catalog: Catalog,
}

impl Manifest {
    fn encode(&self) -> Vec<u8> {
        let mut e = Encoder::default();
        e.u64(self.flushed_lsn);
        e.u64(self.next_segment);
        e.u64(self.catalog.next_run);
        e.u64(self.catalog.next_series);
        e.len(self.segments.len());
        for s in &self.segments {
            e.u64(s.file_no);
            e.u32(s.level);
        }
        e.len(self.catalog.runs.len());
        for entry in self.catalog.runs.values() {
            let info = &entry.info;
            e.u64(info.id.0);
            e.str(&info.experiment);
            e.str(&info.name);
            e.u8(info.status.code());
            e.i64(info.start_ms);
            e.i64(info.end_ms.unwrap_or(i64::MIN));
            e.i64(info.last_write_ms);
            e.u8(u8::from(entry.deleted) | (u8::from(entry.staged) << 1));
            for map in [&info.params, &info.tags] {
                e.len(map.len());
                for (k, v) in map {
                    e.str(k);
                    e.str(v);
                }
            }
            e.len(entry.tables.len());
            for (table, t) in &entry.tables {
                e.str(table);
                e.u64(t.rows);
            }
        }
        let mut series: Vec<_> = self.catalog.series.iter().collect();
        series.sort_unstable_by_key(|(id, _)| **id);
        e.len(series.len());
        for (id, s) in series {
            e.u64(*id);
            e.u64(s.run.0);
            s.name.encode(&mut e);
            e.u8(u8::from(s.last_logged_step.is_some()));
            e.i64(s.last_logged_step.unwrap_or(0));
        }
        let with_contents: Vec<_> = self
            .catalog
            .runs
            .values()
            .filter(|r| !r.artifacts.is_empty() || !r.streams.is_empty())
            .collect();
        e.len(with_contents.len());
        for entry in with_contents {
            e.u64(entry.info.id.0);
            e.len(entry.artifacts.len());
            for artifact in entry.artifacts.values() {
                artifact.encode(&mut e);
            }
            e.len(entry.streams.len());
            for (key, stream) in &entry.streams {
                e.u8(key.kind.code());
                e.str(&key.name);
                stream.encode(&mut e);
            }
        }
        self.catalog.experiments.encode(&mut e);
        e.bytes
    }

    fn decode(body: &[u8], version: u32) -> Result<Manifest, DecodeError> {
        let mut d = Decoder::new(body);
        let flushed_lsn = d.u64()?;
        let next_segment = d.u64()?;
        let mut catalog = Catalog::default();
        let next_run = d.u64()?;
        let next_series = d.u64()?;
        let segments = (0..d.len(12)?)
            .map(|_| {
                Ok(SegmentEntry {
                    file_no: d.u64()?,
                    level: d.u32()?,
                })
            })
            .collect::<Result<Vec<_>, DecodeError>>()?;
        let mut names = Interner::default();
        let mut deleted = Vec::new();
        let mut table_rows = Vec::new();
        for _ in 0..d.len(40)? {
            let at = d.position();
            let id = RunId(d.u64()?);
            let experiment = d.str()?;
            let name = d.str()?;
            let code = d.u8()?;
            let status = RunStatus::from_code(code)
                .ok_or_else(|| (at, format!("unknown run status code {code}")))?;
            let start_ms = d.i64()?;
            let end = d.i64()?;
            let last_write_ms = d.i64()?;
            let flags_at = d.position();
            let flags = d.u8()?;
            if flags & !0b11 != 0 {
                return Err((flags_at, format!("unknown run flags {flags:#04x}")));
            }
            if flags & 1 != 0 {
                deleted.push(id);
            }
            let is_staged = flags & 2 != 0;
            let mut maps = [BTreeMap::new(), BTreeMap::new()];
            for map in &mut maps {
                for _ in 0..d.len(8)? {
                    map.insert(d.str()?, d.str()?);
                }
            }
            let [params, tags] = maps;
            for _ in 0..d.len(12)? {
                table_rows.push((id, d.str()?, d.u64()?));
            }
            let info = RunInfo {
                id,
                experiment,
                name,
                status,
                start_ms,
                end_ms: (end != i64::MIN).then_some(end),
                last_write_ms,
                params,
                tags,
            };
            if is_staged {
                catalog.create_staged_run(info);
            } else {
                catalog.create_run(info);
            }
        }
        for _ in 0..d.len(34)? {
            let id = d.u64()?;
            let run = RunId(d.u64()?);
            let name = SeriesName::decode(&mut d, &mut names)?;
            let has_last = d.u8()? == 1;
            let last = d.i64()?;
            catalog.define_series(id, run, name);
            if let Some(entry) = catalog.series.get_mut(&id) {
                entry.last_logged_step = has_last.then_some(last);
            }
        }
        if version >= 3 {
            decode_contents(&mut d, &mut catalog)?;
        }
        if version >= 4 {
            catalog.experiments = Experiments::decode(&mut d)?;
        }
        if !d.is_done() {
            return Err((d.position(), "bytes after the catalog".into()));
        }
        for (run, table, rows) in table_rows {
            if let Some(entry) = catalog.runs.get_mut(&run) {
                entry.tables.entry(table).or_default().rows = rows;
            }
        }
        for run in deleted {
            catalog.delete_run(run);
        }
        catalog.count_blob_refs();
        catalog.released.clear();
        catalog.next_run = catalog.next_run.max(next_run);
        catalog.next_series = catalog.next_series.max(next_series);
        Ok(Manifest {
            flushed_lsn,
            next_segment,
            segments,
            catalog,
        })
    }

    /// Reads the manifest in `dir`; `None` if there is none (a new database).
    pub(crate) fn read(dir: &Path) -> Result<Option<Manifest>> {
        let path = dir.join(MANIFEST);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("read", &path, e)),
        };
        let corrupt = |offset: usize, reason: String| Error::Corrupt {
            file: path.clone(),
            offset: offset as u64,
            reason,
        };
        let mut d = Decoder::new(&bytes);
        let header = (|| Ok::<_, DecodeError>((d.u64()?, d.u32()?, d.u64()?)))()
            .map_err(|(at, reason)| corrupt(at, reason))?;
        let (magic, version, body_len) = header;
        if magic.to_le_bytes() != *MAGIC {
            return Err(corrupt(0, "not a runlog manifest (bad magic bytes)".into()));
        }
        let body_start = 20usize;
        let body_end = body_start
            .checked_add(usize::try_from(body_len).unwrap_or(usize::MAX))
            .filter(|&end| end.checked_add(4) == Some(bytes.len()))
            .ok_or_else(|| corrupt(12, format!("body length {body_len} does not fit the file")))?;
        let body = &bytes[body_start..body_end];
        let mut crc = [0u8; 4];
        crc.copy_from_slice(&bytes[body_end..]);
        let (expected, got) = (u32::from_le_bytes(crc), crc32fast::hash(body));
        if expected != got {
            return Err(corrupt(
                body_end,
                format!("checksum mismatch: stored {expected:#010x}, computed {got:#010x}"),
            ));
        }
        if !(OLDEST_MANIFEST_VERSION..=MANIFEST_VERSION).contains(&version) {
            return Err(Error::UnsupportedVersion {
                file: path,
                found: version,
                supported: MANIFEST_VERSION,
            });
        }
        Manifest::decode(body, version)
            .map(Some)
            .map_err(|(at, reason)| corrupt(body_start + at, reason))
    }

    /// Replaces the manifest in `dir` atomically and durably.
    pub(crate) fn write(&self, dir: &Path) -> Result<()> {
        let body = self.encode();
        let mut bytes = Vec::with_capacity(body.len() + 24);
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&MANIFEST_VERSION.to_le_bytes());
        bytes.extend_from_slice(&(body.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&body);
        bytes.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
        let temp = dir.join("MANIFEST.tmp");
        let path = dir.join(MANIFEST);
        let mut file = File::create(&temp).map_err(|e| Error::io("create", &temp, e))?;
        file.write_all(&bytes)
            .and_then(|()| file.sync_all())
            .map_err(|e| Error::io("write", &temp, e))?;
        fs::rename(&temp, &path).map_err(|e| Error::io("rename into place", &path, e))?;
        sync_dir(dir)
    }
}

/// Reads the contents section into the runs it names.
fn decode_contents(d: &mut Decoder<'_>, catalog: &mut Catalog) -> Result<(), DecodeError> {
    for _ in 0..d.len(16)? {
        let at = d.position();
        let run = RunId(d.u64()?);
        let mut artifacts = BTreeMap::new();
        for _ in 0..d.len(68)? {
            let artifact = Artifact::decode(d)?;
            artifacts.insert(artifact.path.clone(), artifact);
        }
        let mut streams = BTreeMap::new();
        for _ in 0..d.len(35)? {
            let kind = StreamKind::decode(d)?;
            let name = d.str()?;
            streams.insert(StreamKey { kind, name }, Stream::decode(d)?);
        }
        let entry = catalog.runs.get_mut(&run).ok_or_else(|| {
            (
                at,
                format!("contents of run {run}, which the catalog lacks"),
            )
        })?;
        entry.artifacts = artifacts;
        entry.streams = streams;
    }
    Ok(())
}

/// Makes creations, renames and deletions in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io("fsync directory", dir, e))
}

/// The path of segment file `file_no`.
pub(crate) fn segment_path(dir: &Path, file_no: u64) -> PathBuf {
    dir.join("segments").join(format!("{file_no:016}.seg"))
}
