//! The catalog file: the catalog as a base followed by the runs each flush
//! changed, so that a flush writes what changed since the last one, not the
//! whole catalog. The MANIFEST names the file and how many of its bytes
//! count; bytes past that are a flush cut short by a crash, and are cut
//! before the writer appends again.
//!
//! ```text
//! file       := "RUNLOGCT" version:u32 frame*
//! frame      := body_len:u32 crc:u32 body                 crc = CRC-32 of body
//! body       := 0:u8 runs | 1:u8 index                    version 2 (version 1: runs only)
//! runs       := next_run:u64 next_series:u64 has_experiments:u8
//!               experiments?                              only if has_experiments = 1
//!               run_count:u32 run_record*                 ascending ids
//! run_record := run series_count:u32 series* artifact_count:u32 artifact*
//!               stream_count:u32 (kind:u8 name:str stream)*
//! index      := count:u32 (name_crc:u32 run:u64 back:u64 record_at:u32){count}
//! ```
//!
//! `run`, `series`, `artifact`, `stream` and `experiments` are encoded as
//! the MANIFEST of version 4 held them (`docs/design.md`). A run record
//! holds everything of one run; a later record of a run replaces an earlier
//! one whole, and a later experiments section replaces an earlier one.
//!
//! Every group of runs frames (a flush's, or one frame of a base) is
//! followed by an index frame naming each record in it: the CRC-32 of the
//! run's name, its id, how many bytes before the index frame its runs frame
//! starts, and where in that frame's body the record starts. Offsets are
//! relative, so a rewrite copies a flush's group as it is. A reader of one
//! run (`run_lookup`) walks the frame headers, reads the index frames, and
//! decodes only the records they point it to.

use std::collections::BTreeMap;
use std::io::{BufReader, ErrorKind, Read};
use std::path::{Path, PathBuf};

use runlog_segment::SeriesId;
use runlog_wal::{ReadAt, Storage};

use crate::catalog::{Catalog, Interner, RunEntry, RunInfo, RunStatus, SeriesName};
use crate::contents::{Artifact, Stream, StreamKey, StreamKind};
use crate::experiments::Experiments;
use crate::wire::{DecodeError, Decoder, Encoder};
use crate::{Error, Result, RunId};

/// The folder of catalog files in the database directory.
pub(crate) const CATALOG_DIR: &str = "catalog";
/// The catalog file format version this build writes (it reads version 1,
/// which has no index frames, too).
pub(crate) const CATALOG_VERSION: u32 = 2;
/// The first version with index frames and a kind byte in each body.
pub(crate) const INDEXED_VERSION: u32 = 2;
/// The kind byte of a frame of run records.
const KIND_RUNS: u8 = 0;
/// The kind byte of an index frame.
pub(crate) const KIND_INDEX: u8 = 1;
/// Bytes of one index entry.
const INDEX_ENTRY_LEN: usize = 24;
const MAGIC: &[u8; 8] = b"RUNLOGCT";
pub(crate) const HEADER_LEN: u64 = 12;
pub(crate) const FRAME_HEADER_LEN: u64 = 8;
/// A file is rewritten as one base once more than half of it is records
/// that newer ones replaced, and more than this many bytes: every byte of
/// a run's newest record is then written a bounded number of times,
/// whatever the catalog's size, and records that nothing replaced (the
/// runs of a sweep or an import, written once) are never copied.
const REWRITE_SLACK: u64 = 1 << 20;

/// Where the catalog is, as the MANIFEST records it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct CatalogRef {
    /// The file's number: `catalog/<16 digits>.cat`.
    pub file_no: u64,
    /// How many of its bytes count.
    pub len: u64,
    /// How many of those are its base (the frames it was created with).
    pub base_len: u64,
}

impl CatalogRef {
    /// Whether the file is due for a rewrite, with about `garbage` of its
    /// bytes replaced by newer records ([`Catalog::file_garbage`]).
    pub(crate) fn wants_rewrite(&self, garbage: u64) -> bool {
        garbage > REWRITE_SLACK && garbage.saturating_mul(2) > self.len
    }
}

/// The path of catalog file `file_no`.
pub(crate) fn catalog_path(dir: &Path, file_no: u64) -> PathBuf {
    dir.join(CATALOG_DIR).join(format!("{file_no:016}.cat"))
}

/// Whether `name` is one the engine gives catalog files.
pub(crate) fn is_catalog_name(name: &str) -> bool {
    name.strip_suffix(".cat")
        .is_some_and(|digits| digits.len() == 16 && digits.bytes().all(|b| b.is_ascii_digit()))
}

/// One series of a run, as the catalog persists it.
#[derive(Clone, Debug)]
pub(crate) struct SeriesRecord {
    pub id: SeriesId,
    pub run: RunId,
    pub name: SeriesName,
    pub last_logged_step: Option<i64>,
}

/// One run with everything the catalog persists of it.
#[derive(Clone, Debug)]
pub(crate) struct RunRecord {
    pub info: RunInfo,
    pub deleted: bool,
    pub staged: bool,
    pub tables: Vec<(String, u64)>,
    pub series: Vec<SeriesRecord>,
    pub artifacts: BTreeMap<String, Artifact>,
    pub streams: BTreeMap<StreamKey, Stream>,
}

/// Writes a run's fields up to its tables (`run` in the grammar).
pub(crate) fn encode_run_head(e: &mut Encoder, entry: &RunEntry) {
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

/// Reads what [`encode_run_head`] wrote, as a record without series or
/// contents.
pub(crate) fn decode_run_head(d: &mut Decoder<'_>) -> Result<RunRecord, DecodeError> {
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
    let mut maps = [BTreeMap::new(), BTreeMap::new()];
    for map in &mut maps {
        for _ in 0..d.len(8)? {
            map.insert(d.str()?, d.str()?);
        }
    }
    let [params, tags] = maps;
    let tables = (0..d.len(12)?)
        .map(|_| Ok((d.str()?, d.u64()?)))
        .collect::<Result<Vec<_>, DecodeError>>()?;
    Ok(RunRecord {
        info: RunInfo {
            id,
            experiment,
            name,
            status,
            start_ms,
            end_ms: (end != i64::MIN).then_some(end),
            last_write_ms,
            params,
            tags,
        },
        deleted: flags & 1 != 0,
        staged: flags & 2 != 0,
        tables,
        series: Vec::new(),
        artifacts: BTreeMap::new(),
        streams: BTreeMap::new(),
    })
}

/// Writes one series (`series` in the grammar).
pub(crate) fn encode_series(
    e: &mut Encoder,
    id: SeriesId,
    run: RunId,
    name: &SeriesName,
    last: Option<i64>,
) {
    e.u64(id);
    e.u64(run.0);
    name.encode(e);
    e.u8(u8::from(last.is_some()));
    e.i64(last.unwrap_or(0));
}

/// Reads what [`encode_series`] wrote.
pub(crate) fn decode_series(
    d: &mut Decoder<'_>,
    names: &mut Interner,
) -> Result<SeriesRecord, DecodeError> {
    let id = d.u64()?;
    let run = RunId(d.u64()?);
    let name = SeriesName::decode(d, names)?;
    let has_last = d.u8()? == 1;
    let last = d.i64()?;
    Ok(SeriesRecord {
        id,
        run,
        name,
        last_logged_step: has_last.then_some(last),
    })
}

/// Writes a run's artifacts and streams.
fn encode_contents(e: &mut Encoder, entry: &RunEntry) {
    e.len(entry.artifacts.len());
    for artifact in entry.artifacts.values() {
        artifact.encode(e);
    }
    e.len(entry.streams.len());
    for (key, stream) in &entry.streams {
        e.u8(key.kind.code());
        e.str(&key.name);
        stream.encode(e);
    }
}

/// Reads what [`encode_contents`] wrote into `record`.
pub(crate) fn decode_contents(
    d: &mut Decoder<'_>,
    record: &mut RunRecord,
) -> Result<(), DecodeError> {
    for _ in 0..d.len(68)? {
        let artifact = Artifact::decode(d)?;
        record.artifacts.insert(artifact.path.clone(), artifact);
    }
    for _ in 0..d.len(35)? {
        let kind = StreamKind::decode(d)?;
        let name = d.str()?;
        record
            .streams
            .insert(StreamKey { kind, name }, Stream::decode(d)?);
    }
    Ok(())
}

/// Writes one whole run (`run_record` in the grammar).
fn encode_run(e: &mut Encoder, entry: &RunEntry, catalog: &Catalog) {
    encode_run_head(e, entry);
    let mut ids: Vec<SeriesId> = entry.metrics.values().copied().collect();
    ids.extend(
        entry
            .tables
            .values()
            .flat_map(|t| t.columns.iter().map(|(_, id)| *id)),
    );
    ids.sort_unstable();
    let series: Vec<_> = ids
        .iter()
        .filter_map(|id| Some((*id, catalog.series.get(id)?)))
        .collect();
    e.len(series.len());
    for (id, s) in series {
        encode_series(e, id, s.run, &s.name, s.last_logged_step);
    }
    encode_contents(e, entry);
}

/// Reads what [`encode_run`] wrote; its series must name its run.
pub(crate) fn decode_run(
    d: &mut Decoder<'_>,
    names: &mut Interner,
) -> Result<RunRecord, DecodeError> {
    let mut record = decode_run_head(d)?;
    for _ in 0..d.len(34)? {
        let at = d.position();
        let series = decode_series(d, names)?;
        if series.run != record.info.id {
            return Err((
                at,
                format!(
                    "series {} of run {} in the record of run {}",
                    series.id, series.run, record.info.id
                ),
            ));
        }
        record.series.push(series);
    }
    decode_contents(d, &mut record)?;
    Ok(record)
}

/// The newest record of every run, and of the experiments: what a catalog
/// is built from.
#[derive(Debug, Default)]
pub(crate) struct CatalogImage {
    pub runs: BTreeMap<RunId, RunRecord>,
    pub experiments: Option<Experiments>,
    pub next_run: u64,
    pub next_series: u64,
    /// About how many bytes of the frames applied newer records replaced
    /// (a replaced record taken to be as long as the one replacing it).
    pub replaced: u64,
}

impl CatalogImage {
    /// Builds the catalog: runs in id order (so a newer run of a deleted
    /// run's name keeps the name), each with its series, tables and
    /// contents, then the deletions.
    pub(crate) fn into_catalog(self) -> Catalog {
        let mut catalog = Catalog::default();
        let mut deleted = Vec::new();
        for (id, record) in self.runs {
            if record.staged {
                catalog.create_staged_run(record.info);
            } else {
                catalog.create_run(record.info);
            }
            for series in record.series {
                catalog.define_series(series.id, series.run, series.name);
                if let Some(entry) = catalog.series.get_mut(&series.id) {
                    entry.last_logged_step = series.last_logged_step;
                }
            }
            if let Some(entry) = catalog.runs.get_mut(&id) {
                for (table, rows) in record.tables {
                    entry.tables.entry(table).or_default().rows = rows;
                }
                entry.artifacts = record.artifacts;
                entry.streams = record.streams;
                entry.recorded = true;
            }
            if record.deleted {
                deleted.push(id);
            }
        }
        if let Some(experiments) = self.experiments {
            catalog.experiments = experiments;
        }
        for run in deleted {
            catalog.delete_run(run);
        }
        catalog.count_blob_refs();
        catalog.released.clear();
        catalog.changes = Default::default();
        catalog.file_garbage = self.replaced;
        catalog.next_run = catalog.next_run.max(self.next_run);
        catalog.next_series = catalog.next_series.max(self.next_series);
        catalog
    }

    /// Applies one frame's body of a file of `version`: its records
    /// replace older ones; an index frame changes nothing.
    fn apply_frame(
        &mut self,
        body: &[u8],
        version: u32,
        names: &mut Interner,
    ) -> Result<(), DecodeError> {
        let mut d = Decoder::new(body);
        if version >= INDEXED_VERSION {
            match d.u8()? {
                KIND_RUNS => {}
                KIND_INDEX => return index_entries(body).map(|_| ()),
                other => return Err((0, format!("unknown frame kind {other}"))),
            }
        }
        self.next_run = self.next_run.max(d.u64()?);
        self.next_series = self.next_series.max(d.u64()?);
        let at = d.position();
        match d.u8()? {
            0 => {}
            1 => {
                let replaces = self.experiments.is_some();
                self.experiments = Some(Experiments::decode(&mut d)?);
                if replaces {
                    self.replaced += (d.position() - at) as u64;
                }
            }
            other => return Err((at, format!("experiments flag {other}, not 0 or 1"))),
        }
        for _ in 0..d.len(60)? {
            let at = d.position();
            let record = decode_run(&mut d, names)?;
            if self.runs.insert(record.info.id, record).is_some() {
                self.replaced += (d.position() - at) as u64;
            }
        }
        if !d.is_done() {
            return Err((d.position(), "bytes after the last run record".into()));
        }
        Ok(())
    }
}

/// A frame's body is closed once it holds this many bytes, and the next
/// run record starts another frame: a reader of one run reads and checks
/// the whole frame holding its record, so frames stay small, whether a
/// base or a flush's changes wrote them.
const FRAME_TARGET_BYTES: usize = 1 << 20;

/// A frame of run records, encoded, with each record's run, name CRC and
/// offset in the frame's body: what its index frame lists.
#[derive(Debug)]
pub(crate) struct RunsFrame {
    bytes: Vec<u8>,
    records: Vec<(RunId, u32, u32)>,
    /// About how many bytes of the file it replaces once appended: its
    /// records of runs the file already holds, and its experiments
    /// section (each replaced record taken to be as long as the new one).
    replaces: u64,
}

impl RunsFrame {
    /// About how many bytes of the catalog file `frames` replace.
    pub(crate) fn replaced_by(frames: &[RunsFrame]) -> u64 {
        frames.iter().map(|f| f.replaces).sum()
    }
}

/// Encodes `runs` (those the catalog holds) as frames, the first with the
/// experiments if `experiments`.
pub(crate) fn encode_frames(
    catalog: &Catalog,
    runs: &[RunId],
    experiments: bool,
) -> Vec<RunsFrame> {
    let mut frames = Vec::new();
    let mut entries = runs.iter().filter_map(|id| catalog.runs.get(id)).peekable();
    let mut with_experiments = experiments;
    loop {
        let mut records = Encoder::default();
        let mut offsets = Vec::new();
        let mut replaces = 0;
        while records.bytes.len() < FRAME_TARGET_BYTES
            && let Some(entry) = entries.next()
        {
            let name_crc = crc32fast::hash(entry.info.name.as_bytes());
            let at = records.bytes.len();
            offsets.push((entry.info.id, name_crc, at));
            encode_run(&mut records, entry, catalog);
            if entry.recorded {
                replaces += (records.bytes.len() - at) as u64;
            }
        }
        let mut e = Encoder::default();
        e.u8(KIND_RUNS);
        e.u64(catalog.next_run);
        e.u64(catalog.next_series);
        e.u8(u8::from(with_experiments));
        if with_experiments {
            let at = e.bytes.len();
            catalog.experiments.encode(&mut e);
            replaces += (e.bytes.len() - at) as u64;
        }
        with_experiments = false;
        e.len(offsets.len());
        let head_len = e.bytes.len();
        e.raw(&records.bytes);
        frames.push(RunsFrame {
            bytes: frame_of(&e.bytes),
            records: offsets
                .into_iter()
                .map(|(run, crc, at)| (run, crc, (head_len + at) as u32))
                .collect(),
            replaces,
        });
        if entries.peek().is_none() {
            return frames;
        }
    }
}

/// A frame holding `body`: its length, its CRC, then the body.
fn frame_of(body: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(body.len() + FRAME_HEADER_LEN as usize);
    frame.extend_from_slice(&(body.len() as u32).to_le_bytes());
    frame.extend_from_slice(&crc32fast::hash(body).to_le_bytes());
    frame.extend_from_slice(body);
    frame
}

/// The index frame of `frames`' records, for writing right after them.
fn index_frame(frames: &[RunsFrame]) -> Vec<u8> {
    let count: usize = frames.iter().map(|f| f.records.len()).sum();
    let mut index = Vec::with_capacity(5 + count * INDEX_ENTRY_LEN);
    index.push(KIND_INDEX);
    index.extend_from_slice(&(count as u32).to_le_bytes());
    let mut back: u64 = frames.iter().map(|f| f.bytes.len() as u64).sum();
    for frame in frames {
        for (run, name_crc, record_at) in &frame.records {
            index.extend_from_slice(&name_crc.to_le_bytes());
            index.extend_from_slice(&run.0.to_le_bytes());
            index.extend_from_slice(&back.to_le_bytes());
            index.extend_from_slice(&record_at.to_le_bytes());
        }
        back -= frame.bytes.len() as u64;
    }
    frame_of(&index)
}

/// One entry of an index frame: the run's name CRC, its id, how many bytes
/// before the index frame its runs frame starts, and where the record
/// starts in that frame's body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IndexEntry {
    pub name_crc: u32,
    pub run: RunId,
    pub back: u64,
    pub record_at: u32,
}

/// The entries of an index frame's `body` (kind byte included), once its
/// length is checked against its count.
pub(crate) fn index_entries(
    body: &[u8],
) -> Result<impl Iterator<Item = IndexEntry> + '_, DecodeError> {
    let count = body.get(1..5).map_or(0, |b| {
        u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize
    });
    if body.len() < 5 || body.len() != 5 + count * INDEX_ENTRY_LEN {
        return Err((
            1,
            format!("an index of {count} entries in {} bytes", body.len()),
        ));
    }
    Ok(body[5..].chunks_exact(INDEX_ENTRY_LEN).map(|entry| {
        let u64_at = |at: usize| u64::from_le_bytes(entry[at..at + 8].try_into().expect("8"));
        IndexEntry {
            name_crc: u32::from_le_bytes(entry[..4].try_into().expect("4")),
            run: RunId(u64_at(4)),
            back: u64_at(12),
            record_at: u32::from_le_bytes(entry[20..24].try_into().expect("4")),
        }
    }))
}

/// Reads exactly `buf.len()` bytes of `file` (at `path`) from byte `at`; a
/// file that ends first is `Corrupt`, `why` saying why the bytes must be
/// there.
pub(crate) fn read_exact_at(
    file: &dyn ReadAt,
    path: &Path,
    buf: &mut [u8],
    at: u64,
    why: &str,
) -> Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        let n = file
            .read_at(&mut buf[filled..], at + filled as u64)
            .map_err(|e| Error::io("read", path, e))?;
        if n == 0 {
            return Err(Error::Corrupt {
                file: path.to_path_buf(),
                offset: at + filled as u64,
                reason: format!(
                    "the file ends before byte {}, which {why}",
                    at + buf.len() as u64
                ),
            });
        }
        filled += n;
    }
    Ok(())
}

/// Reads the catalog the MANIFEST points at, frame by frame (memory stays
/// in proportion to the largest frame and the catalog built); returns it
/// and the file's version.
pub(crate) fn read(storage: &dyn Storage, dir: &Path, at: &CatalogRef) -> Result<(Catalog, u32)> {
    let scan = scan(storage, &catalog_path(dir, at.file_no), Some(at.len))?;
    match scan.stopped {
        Some(error) => Err(error),
        None => Ok((scan.image.into_catalog(), scan.version)),
    }
}

/// Checks the 12-byte header of the catalog file at `path`; returns its
/// version.
pub(crate) fn check_header(header: &[u8; HEADER_LEN as usize], path: &Path) -> Result<u32> {
    if header[..8] != *MAGIC {
        return Err(Error::Corrupt {
            file: path.to_path_buf(),
            offset: 0,
            reason: "not a runlog catalog file (bad magic bytes)".into(),
        });
    }
    let version = u32::from_le_bytes(header[8..].try_into().expect("4 bytes"));
    if !(1..=CATALOG_VERSION).contains(&version) {
        return Err(Error::UnsupportedVersion {
            file: path.to_path_buf(),
            found: version,
            supported: CATALOG_VERSION,
        });
    }
    Ok(version)
}

/// What [`read_intact`] found in a catalog file no MANIFEST points at.
#[derive(Debug)]
pub(crate) struct IntactCatalog {
    /// The catalog its intact frames hold.
    pub catalog: Catalog,
    /// Where its last intact frame ends.
    pub len: u64,
    /// What stopped the reading before the file's end, if anything did:
    /// a frame cut short or damaged, named by file and offset.
    pub stopped: Option<Error>,
}

/// Reads every frame of catalog file `file_no` up to the first one cut
/// short or damaged (`repair`, rebuilding a lost MANIFEST). A file that is
/// not a catalog file, or of another version, is an error.
pub(crate) fn read_intact(
    storage: &dyn Storage,
    dir: &Path,
    file_no: u64,
) -> Result<IntactCatalog> {
    let scan = scan(storage, &catalog_path(dir, file_no), None)?;
    Ok(IntactCatalog {
        catalog: scan.image.into_catalog(),
        len: scan.end,
        stopped: scan.stopped,
    })
}

/// The frames of a catalog file read up to `end`, and why the reading
/// stopped before it, if it did.
struct Scan {
    image: CatalogImage,
    version: u32,
    end: u64,
    stopped: Option<Error>,
}

/// Reads the catalog file at `path` frame by frame: the first `counted`
/// bytes, all of which must be whole frames, or (`None`) every intact frame
/// until the file ends. A bad header is an error; a bad frame stops the
/// reading there.
fn scan(storage: &dyn Storage, path: &Path, counted: Option<u64>) -> Result<Scan> {
    let corrupt = |offset: u64, reason: String| Error::Corrupt {
        file: path.to_path_buf(),
        offset,
        reason,
    };
    let file = storage
        .open_read(path)
        .map_err(|e| Error::io("open", path, e))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    // Reads `buf` from byte `pos`; a file that ends first is cut short.
    let mut read_at = |pos: u64, buf: &mut [u8]| {
        let mut filled = 0;
        while filled < buf.len() {
            match reader.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::io("read", path, e)),
            }
        }
        if filled == buf.len() {
            return Ok(true);
        }
        if filled == 0 && counted.is_none() {
            return Ok(false);
        }
        let expected = match counted {
            Some(len) => format!("; the MANIFEST says {len} bytes count"),
            None => String::new(),
        };
        Err(corrupt(
            pos,
            format!(
                "the file ends within {} bytes from here{expected}",
                buf.len()
            ),
        ))
    };
    let mut header = [0u8; HEADER_LEN as usize];
    if !read_at(0, &mut header)? {
        return Err(corrupt(0, "the file is empty".into()));
    }
    let version = check_header(&header, path)?;
    let limit = counted.unwrap_or(u64::MAX);
    let mut image = CatalogImage::default();
    let mut names = Interner::default();
    let mut pos = HEADER_LEN;
    let mut body = Vec::new();
    let mut frame = || -> Result<bool> {
        if pos >= limit {
            return Ok(false);
        }
        if limit - pos < FRAME_HEADER_LEN {
            return Err(corrupt(pos, "a frame header is cut short".into()));
        }
        let mut frame_header = [0u8; FRAME_HEADER_LEN as usize];
        if !read_at(pos, &mut frame_header)? {
            return Ok(false);
        }
        let body_len = u64::from(u32::from_le_bytes(frame_header[..4].try_into().expect("4")));
        let crc = u32::from_le_bytes(frame_header[4..].try_into().expect("4"));
        let body_at = pos + FRAME_HEADER_LEN;
        if body_len > limit - body_at {
            return Err(corrupt(
                pos,
                format!("a frame of {body_len} bytes runs past the {limit} bytes that count"),
            ));
        }
        body.resize(body_len as usize, 0);
        read_at(body_at, &mut body)?;
        let got = crc32fast::hash(&body);
        if got != crc {
            return Err(corrupt(
                pos + 4,
                format!("checksum mismatch: stored {crc:#010x}, computed {got:#010x}"),
            ));
        }
        image
            .apply_frame(&body, version, &mut names)
            .map_err(|(offset, reason)| corrupt(body_at + offset as u64, reason))?;
        pos = body_at + body_len;
        Ok(true)
    };
    let stopped = loop {
        match frame() {
            Ok(true) => {}
            Ok(false) => break None,
            Err(error) => break Some(error),
        }
    };
    Ok(Scan {
        image,
        version,
        end: pos,
        stopped,
    })
}

/// Appends `frames`, and their index frame, to the catalog file at `at`,
/// after the bytes that count (cutting what a crashed flush left), and
/// makes them durable.
pub(crate) fn append(
    storage: &dyn Storage,
    dir: &Path,
    at: &CatalogRef,
    frames: &[RunsFrame],
) -> Result<CatalogRef> {
    let index = index_frame(frames);
    let pieces: Vec<&[u8]> = frames
        .iter()
        .map(|f| f.bytes.as_slice())
        .chain([index.as_slice()])
        .collect();
    append_bytes(storage, dir, at, &pieces)
}

/// Appends `pieces` (whole frames, index frames among them) in turn to the
/// catalog file at `at`, as [`append`] does.
pub(crate) fn append_bytes(
    storage: &dyn Storage,
    dir: &Path,
    at: &CatalogRef,
    pieces: &[&[u8]],
) -> Result<CatalogRef> {
    let path = catalog_path(dir, at.file_no);
    storage
        .open_append(&path)
        .and_then(|file| {
            file.truncate(at.len)?;
            pieces.iter().try_for_each(|piece| file.append(piece))?;
            file.sync()
        })
        .map_err(|e| Error::io("append to", &path, e))?;
    Ok(CatalogRef {
        len: at.len + pieces.iter().map(|p| p.len() as u64).sum::<u64>(),
        ..*at
    })
}

/// Creates catalog file `file_no` holding the frames `next_frame` gives
/// until it gives `None`, each followed by its index frame, durably (its
/// directory entry too).
pub(crate) fn create(
    storage: &dyn Storage,
    dir: &Path,
    file_no: u64,
    mut next_frame: impl FnMut() -> Option<RunsFrame>,
) -> Result<CatalogRef> {
    let folder = dir.join(CATALOG_DIR);
    let path = catalog_path(dir, file_no);
    let io = |e| Error::io("write", &path, e);
    storage.create_dir_all(&folder).map_err(io)?;
    let file = storage.create(&path).map_err(io)?;
    let mut header = MAGIC.to_vec();
    header.extend_from_slice(&CATALOG_VERSION.to_le_bytes());
    let mut len = header.len() as u64;
    file.append(&header).map_err(io)?;
    while let Some(frame) = next_frame() {
        let index = index_frame(std::slice::from_ref(&frame));
        for piece in [&frame.bytes, &index] {
            file.append(piece).map_err(io)?;
            len += piece.len() as u64;
        }
    }
    file.sync().map_err(io)?;
    storage
        .sync_dir(&folder)
        .map_err(|e| Error::io("fsync directory", &folder, e))?;
    Ok(CatalogRef {
        file_no,
        len,
        base_len: len,
    })
}
