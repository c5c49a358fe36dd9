//! The catalog: experiments, runs and their metadata, and the series (one
//! metric, or one column of a table, of one run) with their live statistics.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use runlog_segment::{SeriesId, Stats};

use crate::blobs::BlobHash;
use crate::contents::{Artifact, LOG_CHUNK_BYTES, Stream, StreamChunk, StreamKey};
use crate::experiments::Experiments;
use crate::series_table::SeriesTable;
use crate::wire::{DecodeError, Decoder, Encoder};

/// Identifies a run within a database.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize), serde(transparent))]
pub struct RunId(pub u64);

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Where a run is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "lowercase")
)]
pub enum RunStatus {
    /// Still logging (or its writer died without saying otherwise).
    Running,
    /// Ended normally.
    Completed,
    /// Ended with an error.
    Failed,
    /// Stopped from outside, or found `Running` after its writer died.
    Killed,
}

impl RunStatus {
    pub(crate) fn code(self) -> u8 {
        match self {
            RunStatus::Running => 0,
            RunStatus::Completed => 1,
            RunStatus::Failed => 2,
            RunStatus::Killed => 3,
        }
    }

    pub(crate) fn from_code(code: u8) -> Option<RunStatus> {
        [
            RunStatus::Running,
            RunStatus::Completed,
            RunStatus::Failed,
            RunStatus::Killed,
        ]
        .into_iter()
        .find(|s| s.code() == code)
    }

    /// The lowercase name (`running`, `completed`, `failed`, `killed`).
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Completed => "completed",
            RunStatus::Failed => "failed",
            RunStatus::Killed => "killed",
        }
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RunStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<RunStatus, String> {
        [
            RunStatus::Running,
            RunStatus::Completed,
            RunStatus::Failed,
            RunStatus::Killed,
        ]
        .into_iter()
        .find(|status| status.as_str().eq_ignore_ascii_case(s))
        .ok_or_else(|| format!("unknown run status {s:?} (running, completed, failed, killed)"))
    }
}

/// A run and its metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct RunInfo {
    /// Its id.
    pub id: RunId,
    /// The experiment it belongs to.
    pub experiment: String,
    /// Its name, unique within the experiment.
    pub name: String,
    /// Its status.
    pub status: RunStatus,
    /// When it was created, ms since the Unix epoch.
    pub start_ms: i64,
    /// When it ended, if it did.
    pub end_ms: Option<i64>,
    /// Wall-clock time of its last logged point (its start if none).
    pub last_write_ms: i64,
    /// Params: write-once key/value strings.
    pub params: BTreeMap<String, String>,
    /// Tags: overwritable key/value strings.
    pub tags: BTreeMap<String, String>,
}

/// Whether a series is a metric or a column of a table metric.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum SeriesName {
    /// Shared with the run's metric map and with run-list summaries.
    Metric(Arc<str>),
    Column {
        table: String,
        column: String,
    },
}

/// Hands out one shared copy of each metric name while a manifest is read,
/// so 10,000 runs logging `loss` hold one `loss`.
#[derive(Debug, Default)]
pub(crate) struct Interner(HashMap<Arc<str>, ()>);

impl Interner {
    pub(crate) fn get(&mut self, name: &str) -> Arc<str> {
        if let Some((shared, ())) = self.0.get_key_value(name) {
            return Arc::clone(shared);
        }
        let shared: Arc<str> = Arc::from(name);
        self.0.insert(Arc::clone(&shared), ());
        shared
    }
}

impl SeriesName {
    /// Writes `kind:u8 name:str column:str` (kind 0 metric with an empty
    /// column, 1 table column).
    pub(crate) fn encode(&self, e: &mut Encoder) {
        match self {
            SeriesName::Metric(name) => {
                e.u8(0);
                e.str(name);
                e.str("");
            }
            SeriesName::Column { table, column } => {
                e.u8(1);
                e.str(table);
                e.str(column);
            }
        }
    }

    /// Reads what [`SeriesName::encode`] wrote.
    pub(crate) fn decode(
        d: &mut Decoder<'_>,
        names: &mut Interner,
    ) -> Result<SeriesName, DecodeError> {
        let at = d.position();
        let kind = d.u8()?;
        let (first, second) = (d.str_ref()?, d.str_ref()?);
        match kind {
            0 => Ok(SeriesName::Metric(names.get(first))),
            1 => Ok(SeriesName::Column {
                table: first.to_string(),
                column: second.to_string(),
            }),
            other => Err((at, format!("unknown series kind {other}"))),
        }
    }
}

/// A table metric's columns (in the order they first appeared) and rows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct TableEntry {
    pub columns: Vec<(String, SeriesId)>,
    pub rows: u64,
}

/// A run in the catalog.
#[derive(Clone, Debug)]
pub(crate) struct RunEntry {
    /// Shared with run-list summaries, so a run list copies no metadata;
    /// changed copy-on-write (`Arc::make_mut`).
    pub info: Arc<RunInfo>,
    pub deleted: bool,
    /// Created by an import that has not published it yet: invisible to
    /// run lists and name look-ups, and holding no name until published.
    pub staged: bool,
    /// Metric names (shared with run-list summaries) and their series.
    pub metrics: BTreeMap<Arc<str>, SeriesId>,
    pub tables: BTreeMap<String, TableEntry>,
    /// Artifacts by path.
    pub artifacts: BTreeMap<String, Artifact>,
    /// Text logs and text series.
    pub streams: BTreeMap<StreamKey, Stream>,
    /// Whether the catalog file holds a record of it, which its next
    /// record replaces.
    pub recorded: bool,
}

impl RunEntry {
    /// The series `name` names: a metric, or else a table column as
    /// `TABLE/COLUMN` (every `/` is tried, as table and column names may
    /// hold one).
    pub(crate) fn series_named(&self, name: &str) -> Option<SeriesId> {
        if let Some(&id) = self.metrics.get(name) {
            return Some(id);
        }
        name.match_indices('/').find_map(|(at, _)| {
            let table = self.tables.get(&name[..at])?;
            let column = &name[at + 1..];
            table
                .columns
                .iter()
                .find(|(c, _)| c == column)
                .map(|(_, id)| *id)
        })
    }

    /// Every blob the run references, once per reference.
    fn blobs(&self) -> impl Iterator<Item = BlobHash> + '_ {
        let artifacts = self.artifacts.values().map(|a| a.hash);
        let chunks = self
            .streams
            .values()
            .flat_map(|s| s.chunks.iter().map(|c| c.hash));
        artifacts.chain(chunks)
    }
}

/// A series in the catalog.
#[derive(Clone, Debug)]
pub(crate) struct SeriesEntry {
    pub run: RunId,
    pub name: SeriesName,
    /// Step of the last point logged (for the implicit step of `log`).
    pub last_logged_step: Option<i64>,
    /// Statistics over every point, live.
    pub stats: Option<Stats>,
}

/// Everything the database knows besides the points themselves.
#[derive(Clone, Debug, Default)]
pub(crate) struct Catalog {
    pub runs: BTreeMap<RunId, RunEntry>,
    pub run_names: HashMap<(String, String), RunId>,
    pub series: SeriesTable<SeriesEntry>,
    pub next_run: u64,
    pub next_series: u64,
    /// References to each blob, from artifacts and stream chunks.
    pub blob_refs: HashMap<BlobHash, u32>,
    /// Blobs whose last reference went since this was last drained: the
    /// writer frees them once a manifest records their release.
    pub released: Vec<BlobHash>,
    /// Streams whose tail reached [`LOG_CHUNK_BYTES`], for the flusher.
    pub ready_to_seal: Vec<(RunId, StreamKey)>,
    /// Every experiment.
    pub experiments: Experiments,
    /// What changed since the catalog file last recorded it.
    pub changes: Changes,
    /// About how many bytes of the catalog file newer records replaced
    /// since its base was written: what decides when it is rewritten.
    pub file_garbage: u64,
}

/// The runs changed since the catalog file last recorded them, and whether
/// the experiments did: what the next flush appends to it.
#[derive(Clone, Debug, Default)]
pub(crate) struct Changes {
    pub runs: HashSet<RunId>,
    pub experiments: bool,
}

impl Changes {
    /// Takes what changed, runs in id order, leaving nothing.
    pub(crate) fn take(&mut self) -> (Vec<RunId>, bool) {
        let mut runs: Vec<RunId> = self.runs.drain().collect();
        runs.sort_unstable();
        (runs, std::mem::take(&mut self.experiments))
    }
}

impl Catalog {
    pub(crate) fn run(&self, run: RunId) -> Option<&RunEntry> {
        self.runs.get(&run).filter(|r| !r.deleted)
    }

    /// Adds a series; the caller made sure its id and name are new.
    pub(crate) fn define_series(&mut self, series: SeriesId, run: RunId, name: SeriesName) {
        if self.series.contains_key(&series) {
            return;
        }
        self.next_series = self.next_series.max(series + 1);
        if let Some(entry) = self.runs.get_mut(&run) {
            match &name {
                SeriesName::Metric(metric) => {
                    entry.metrics.insert(Arc::clone(metric), series);
                }
                SeriesName::Column { table, column } => {
                    entry
                        .tables
                        .entry(table.clone())
                        .or_default()
                        .columns
                        .push((column.clone(), series));
                }
            }
        }
        self.series.insert(
            series,
            SeriesEntry {
                run,
                name,
                last_logged_step: None,
                stats: None,
            },
        );
    }

    /// Moves a run's last write time on to `wall_ms`, if that is later.
    pub(crate) fn note_write(&mut self, run: RunId, wall_ms: i64) {
        if let Some(entry) = self.runs.get_mut(&run)
            && entry.info.last_write_ms < wall_ms
        {
            Arc::make_mut(&mut entry.info).last_write_ms = wall_ms;
        }
    }

    /// Marks a run deleted, frees its name (unless a newer run took it)
    /// and releases its blobs.
    pub(crate) fn delete_run(&mut self, run: RunId) {
        if let Some(entry) = self.runs.get_mut(&run) {
            entry.deleted = true;
            let blobs: Vec<BlobHash> = entry.blobs().collect();
            entry.artifacts.clear();
            entry.streams.clear();
            for hash in blobs {
                release(&mut self.blob_refs, &mut self.released, hash);
            }
            let key = (entry.info.experiment.clone(), entry.info.name.clone());
            if self.run_names.get(&key) == Some(&run) {
                self.run_names.remove(&key);
            }
        }
    }

    /// Adds a run, registering its experiment if new; an existing id is
    /// left as it is (replay is idempotent).
    pub(crate) fn create_run(&mut self, info: RunInfo) {
        if !self.runs.contains_key(&info.id) {
            self.experiments.register(&info.experiment, info.start_ms);
        }
        self.insert_run(info);
    }

    /// Adds a run without registering its experiment.
    fn insert_run(&mut self, info: RunInfo) {
        if self.runs.contains_key(&info.id) {
            return;
        }
        self.next_run = self.next_run.max(info.id.0 + 1);
        self.run_names
            .insert((info.experiment.clone(), info.name.clone()), info.id);
        self.runs.insert(
            info.id,
            RunEntry {
                info: Arc::new(info),
                deleted: false,
                staged: false,
                metrics: BTreeMap::new(),
                tables: BTreeMap::new(),
                artifacts: BTreeMap::new(),
                streams: BTreeMap::new(),
                recorded: false,
            },
        );
    }

    /// Adds a staged run: like [`Catalog::create_run`], without its name.
    pub(crate) fn create_staged_run(&mut self, info: RunInfo) {
        if self.runs.contains_key(&info.id) {
            return;
        }
        let key = (info.experiment.clone(), info.name.clone());
        let holder = self.run_names.get(&key).copied();
        let id = info.id;
        self.insert_run(info);
        // The name stays with whoever held it.
        match holder {
            Some(holder) => self.run_names.insert(key, holder),
            None => self.run_names.remove(&key),
        };
        if let Some(entry) = self.runs.get_mut(&id) {
            entry.staged = true;
        }
    }

    /// Publishes staged runs, deleting the runs they replace first, so that
    /// they take their names (replay is idempotent: a published run stays).
    pub(crate) fn publish(&mut self, runs: &[RunId], replaces: &[RunId]) {
        for &old in replaces {
            self.delete_run(old);
        }
        for run in runs {
            if let Some(entry) = self.runs.get_mut(run)
                && entry.staged
                && !entry.deleted
            {
                entry.staged = false;
                let key = (entry.info.experiment.clone(), entry.info.name.clone());
                self.experiments.register(&key.0, entry.info.start_ms);
                self.run_names.insert(key, *run);
            }
        }
    }

    /// Puts (or replaces) an artifact of a live run.
    pub(crate) fn put_artifact(&mut self, run: RunId, artifact: Artifact) {
        let Some(entry) = self.runs.get_mut(&run).filter(|r| !r.deleted) else {
            return;
        };
        let hash = artifact.hash;
        *self.blob_refs.entry(hash).or_default() += 1;
        if let Some(old) = entry.artifacts.insert(artifact.path.clone(), artifact) {
            release(&mut self.blob_refs, &mut self.released, old.hash);
        }
    }

    /// Deletes an artifact, if there is one at `path`.
    pub(crate) fn delete_artifact(&mut self, run: RunId, path: &str) {
        if let Some(old) = self
            .runs
            .get_mut(&run)
            .and_then(|entry| entry.artifacts.remove(path))
        {
            release(&mut self.blob_refs, &mut self.released, old.hash);
        }
    }

    /// Appends to a stream of a live run (creating it).
    pub(crate) fn append(&mut self, run: RunId, key: &StreamKey, offset: u64, bytes: &[u8]) {
        if let Some(entry) = self.runs.get_mut(&run).filter(|r| !r.deleted) {
            if !entry.streams.contains_key(key) {
                entry.streams.insert(key.clone(), Stream::default());
            }
            let stream = entry.streams.get_mut(key).expect("inserted above");
            let before = stream.tail.len();
            stream.append(key.kind, offset, bytes);
            if before < LOG_CHUNK_BYTES && stream.tail.len() >= LOG_CHUNK_BYTES {
                self.ready_to_seal.push((run, key.clone()));
            }
        }
    }

    /// Seals a chunk of a stream's tail, or releases the chunk's blob if
    /// the stream moved on (or went) meanwhile.
    pub(crate) fn seal(&mut self, run: RunId, key: &StreamKey, chunk: StreamChunk) {
        let sealed = self
            .runs
            .get_mut(&run)
            .filter(|r| !r.deleted)
            .and_then(|entry| entry.streams.get_mut(key))
            .is_some_and(|stream| stream.seal(chunk));
        if sealed {
            self.changes.runs.insert(run);
            *self.blob_refs.entry(chunk.hash).or_default() += 1;
        } else if !self.blob_refs.contains_key(&chunk.hash) {
            self.released.push(chunk.hash);
        }
    }

    /// Counts the references of every run's blobs afresh (after a
    /// manifest is read).
    pub(crate) fn count_blob_refs(&mut self) {
        self.blob_refs.clear();
        for entry in self.runs.values() {
            for hash in entry.blobs() {
                *self.blob_refs.entry(hash).or_default() += 1;
            }
        }
    }

    /// The runs an import staged and never published.
    pub(crate) fn staged_runs(&self) -> Vec<RunId> {
        self.runs
            .iter()
            .filter(|(_, r)| r.staged && !r.deleted)
            .map(|(id, _)| *id)
            .collect()
    }
}

/// Drops one reference to `hash`, noting it in `released` if it was the last.
fn release(refs: &mut HashMap<BlobHash, u32>, released: &mut Vec<BlobHash>, hash: BlobHash) {
    if let Some(count) = refs.get_mut(&hash) {
        *count -= 1;
        if *count == 0 {
            refs.remove(&hash);
            released.push(hash);
        }
    }
}
