//! The operations the engine logs to the WAL, one record per write call, and
//! how they change the catalog and the memtable. Applying is idempotent on
//! top of a catalog snapshot that already holds them, so recovery may
//! replay a record the manifest's catalog already reflects.
//!
//! ```text
//! record := wall_ms:i64 op_count:u32 op*
//! op     := 1 run:u64 experiment:str name:str start_ms:i64            create run
//!         | 2 run:u64 status:u8 end_ms:i64 (i64::MIN = none)          set status
//!         | 3 run:u64 key:str value:str                               set param
//!         | 4 run:u64 key:str value:str                               set tag
//!         | 5 series:u64 run:u64 kind:u8 name:str column:str          define series
//!         | 6 series:u64 n:u32 step:i64{n} ts:i64{n} value:f64{n}      points
//!         | 7 run:u64 table:str rows:u64                              table rows
//!         | 8 run:u64                                                 delete run
//!         | 9 series:u64 n:u32 first_step:i64 stride:i64              points with
//!             ts_len:u32 ts:delta{n} value:f64{n}                     steps in a line
//!         | 10 run:u64 experiment:str name:str start_ms:i64           create a staged run
//!         | 11 n:u32 run:u64{n} m:u32 replaced:u64{m}                 publish staged runs,
//!                                                                     deleting `replaced`
//!         | 12 run:u64 path:str hash:u8{32} size:u64 media_type:str   put an artifact
//!             time_ms:i64 step:i64 (i64::MIN = none)                  (its blob is in place)
//!         | 13 run:u64 path:str                                       delete an artifact
//!         | 14 run:u64 kind:u8 name:str offset:u64 len:u32 u8{len}    append to a stream
//!         | 15 id:u64 name:str created_ms:i64                         create an experiment
//!         | 16 id:u64 name:str                                        rename an experiment
//!         | 17 id:u64 deleted:u8                                      delete or restore one
//!         | 18 id:u64 key:str value:str                               set an experiment tag
//!         | 19 run:u64 key:str                                        delete a tag
//!             (kind 0 text log; 1 text series, 2 string cells of a table
//!              column `TABLE/COLUMN`: records step:i64 timestamp:i64 value:str)
//! str    := len:u32 utf8-bytes
//! delta  := the difference from the previous timestamp (the first from 0),
//!           wrapping, zigzag-mapped, as an LEB128 varint; ts_len bytes in all
//! ```
//!
//! Points go in kind 9 when there are at least three and their steps form a
//! line (`first_step + i · stride`, as every batch of consecutive steps
//! does): 9-10 bytes a point instead of kind 6's 24, which the WAL then
//! writes, syncs, replays and deletes. Other points go in kind 6.

use std::collections::BTreeMap;
use std::sync::Arc;

use runlog_segment::{SeriesId, Stats};

use crate::RunId;
use crate::blobs::BlobHash;
use crate::catalog::{Catalog, Interner, RunInfo, RunStatus, SeriesName};
use crate::contents::{Artifact, StreamKey, StreamKind};
use crate::db::absorb;
use crate::experiments::rename_runs;
use crate::memtable::Memtable;
use crate::wire::{DecodeError, Decoder, Encoder};

/// One change to the database.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Op {
    /// A run; a staged one (kind 10) stays invisible until [`Op::Publish`].
    CreateRun {
        run: RunId,
        experiment: String,
        name: String,
        start_ms: i64,
        staged: bool,
    },
    SetStatus {
        run: RunId,
        status: RunStatus,
        end_ms: Option<i64>,
    },
    SetParam {
        run: RunId,
        key: String,
        value: String,
    },
    SetTag {
        run: RunId,
        key: String,
        value: String,
    },
    DefineSeries {
        series: SeriesId,
        run: RunId,
        name: SeriesName,
    },
    Points {
        series: SeriesId,
        points: PointColumns,
    },
    TableRows {
        run: RunId,
        table: String,
        rows: u64,
    },
    DeleteRun {
        run: RunId,
    },
    /// Staged runs made visible at once, after the runs they replace are
    /// deleted.
    Publish {
        runs: Vec<RunId>,
        replaces: Vec<RunId>,
    },
    /// An artifact whose blob is already durable.
    PutArtifact {
        run: RunId,
        artifact: Artifact,
    },
    DeleteArtifact {
        run: RunId,
        path: String,
    },
    CreateExperiment {
        id: u64,
        name: String,
        created_ms: i64,
    },
    RenameExperiment {
        id: u64,
        name: String,
    },
    SetExperimentDeleted {
        id: u64,
        deleted: bool,
    },
    SetExperimentTag {
        id: u64,
        key: String,
        value: String,
    },
    DeleteTag {
        run: RunId,
        key: String,
    },
    DeleteExperimentTag {
        id: u64,
        key: String,
    },
    /// Bytes appended to a stream, at `offset` (so a replay on top of a
    /// snapshot that holds them skips them).
    Append {
        run: RunId,
        stream: StreamKey,
        offset: u64,
        bytes: Vec<u8>,
    },
}

/// The points of one [`Op::Points`], column by column, in log order.
#[derive(Clone, Debug)]
pub(crate) enum PointColumns {
    /// One point, as `log_at` writes it: held without allocating.
    One {
        step: i64,
        timestamp: i64,
        value: f64,
    },
    /// Any number of points.
    Many {
        steps: Vec<i64>,
        timestamps: Vec<i64>,
        values: Vec<f64>,
    },
}

impl PointColumns {
    pub(crate) fn steps(&self) -> &[i64] {
        match self {
            PointColumns::One { step, .. } => std::slice::from_ref(step),
            PointColumns::Many { steps, .. } => steps,
        }
    }

    pub(crate) fn timestamps(&self) -> &[i64] {
        match self {
            PointColumns::One { timestamp, .. } => std::slice::from_ref(timestamp),
            PointColumns::Many { timestamps, .. } => timestamps,
        }
    }

    pub(crate) fn values(&self) -> &[f64] {
        match self {
            PointColumns::One { value, .. } => std::slice::from_ref(value),
            PointColumns::Many { values, .. } => values,
        }
    }
}

/// The same points are equal however they are held.
impl PartialEq for PointColumns {
    fn eq(&self, other: &PointColumns) -> bool {
        self.steps() == other.steps()
            && self.timestamps() == other.timestamps()
            && self.values() == other.values()
    }
}

/// The ops of one write call, logged as one WAL record.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Record {
    pub wall_ms: i64,
    pub ops: Vec<Op>,
}

impl Record {
    /// Encodes the record into `bytes`, replacing what it held (so one
    /// buffer serves every write call).
    pub(crate) fn encode_into(&self, bytes: &mut Vec<u8>) {
        let points: usize = self
            .ops
            .iter()
            .map(|op| match op {
                Op::Points { points, .. } => points.steps().len(),
                Op::Append { bytes, .. } => bytes.len() / 24 + 1,
                _ => 4,
            })
            .sum();
        let mut e = Encoder {
            bytes: std::mem::take(bytes),
        };
        e.bytes.clear();
        e.bytes.reserve(16 + 24 * points + 16 * self.ops.len());
        e.i64(self.wall_ms);
        e.len(self.ops.len());
        for op in &self.ops {
            encode_op(&mut e, op);
        }
        *bytes = e.bytes;
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Record, DecodeError> {
        let mut d = Decoder::new(bytes);
        let wall_ms = d.i64()?;
        let count = d.len(9)?;
        let mut ops = Vec::with_capacity(count);
        for _ in 0..count {
            ops.push(decode_op(&mut d)?);
        }
        if !d.is_done() {
            return Err((d.position(), "bytes after the last op".into()));
        }
        Ok(Record { wall_ms, ops })
    }

    /// The blobs its artifact puts name.
    pub(crate) fn blobs(&self) -> impl Iterator<Item = BlobHash> + '_ {
        self.ops.iter().filter_map(|op| match op {
            Op::PutArtifact { artifact, .. } => Some(artifact.hash),
            _ => None,
        })
    }

    /// One line per op, for WAL dumps.
    pub(crate) fn summaries(&self) -> Vec<String> {
        self.ops.iter().map(summary).collect()
    }

    /// Applies every op to the catalog and memtable.
    pub(crate) fn apply(&self, catalog: &mut Catalog, memtable: &mut Memtable) {
        for op in &self.ops {
            apply(op, self.wall_ms, catalog, memtable);
        }
    }
}

fn summary(op: &Op) -> String {
    match op {
        Op::CreateRun {
            run,
            experiment,
            name,
            staged,
            ..
        } => {
            let kind = if *staged { "staged run" } else { "run" };
            format!("create {kind} {run} {experiment}/{name}")
        }
        Op::SetStatus { run, status, .. } => format!("run {run} status {status}"),
        Op::SetParam { run, key, value } => format!("run {run} param {key}={value}"),
        Op::SetTag { run, key, value } => format!("run {run} tag {key}={value}"),
        Op::DefineSeries { series, run, name } => match name {
            SeriesName::Metric(metric) => format!("run {run} metric {metric} = series {series}"),
            SeriesName::Column { table, column } => {
                format!("run {run} table {table} column {column} = series {series}")
            }
        },
        Op::Points { series, points } => {
            let steps = points.steps();
            format!(
                "points series {series} x{} steps {}..{}",
                steps.len(),
                steps.iter().min().unwrap_or(&0),
                steps.iter().max().unwrap_or(&0)
            )
        }
        Op::TableRows { run, table, rows } => format!("run {run} table {table} rows {rows}"),
        Op::DeleteRun { run } => format!("delete run {run}"),
        Op::Publish { runs, replaces } => {
            format!(
                "publish {} staged runs, deleting {}",
                runs.len(),
                replaces.len()
            )
        }
        Op::PutArtifact { run, artifact } => format!(
            "run {run} artifact {} ({} bytes, {}, blob {})",
            artifact.path, artifact.size, artifact.media_type, artifact.hash
        ),
        Op::DeleteArtifact { run, path } => format!("run {run} delete artifact {path}"),
        Op::CreateExperiment { id, name, .. } => format!("create experiment {id} {name}"),
        Op::RenameExperiment { id, name } => format!("rename experiment {id} to {name}"),
        Op::SetExperimentDeleted { id, deleted } => {
            format!(
                "experiment {id} {}",
                if *deleted { "deleted" } else { "restored" }
            )
        }
        Op::SetExperimentTag { id, key, value } => {
            format!("experiment {id} tag {key}={value}")
        }
        Op::DeleteTag { run, key } => format!("run {run} delete tag {key}"),
        Op::DeleteExperimentTag { id, key } => format!("experiment {id} delete tag {key}"),
        Op::Append {
            run,
            stream,
            offset,
            bytes,
        } => {
            let kind = match stream.kind {
                StreamKind::Log => "log",
                StreamKind::Text => "text series",
                StreamKind::Cells => "string cells",
            };
            format!(
                "run {run} {kind} {} +{} bytes at {offset}",
                stream.name,
                bytes.len()
            )
        }
    }
}

fn encode_op(e: &mut Encoder, op: &Op) {
    match op {
        Op::CreateRun {
            run,
            experiment,
            name,
            start_ms,
            staged,
        } => {
            e.u8(if *staged { 10 } else { 1 });
            e.u64(run.0);
            e.str(experiment);
            e.str(name);
            e.i64(*start_ms);
        }
        Op::SetStatus {
            run,
            status,
            end_ms,
        } => {
            e.u8(2);
            e.u64(run.0);
            e.u8(status.code());
            e.i64(end_ms.unwrap_or(i64::MIN));
        }
        Op::SetParam { run, key, value } | Op::SetTag { run, key, value } => {
            e.u8(if matches!(op, Op::SetParam { .. }) {
                3
            } else {
                4
            });
            e.u64(run.0);
            e.str(key);
            e.str(value);
        }
        Op::DefineSeries { series, run, name } => {
            e.u8(5);
            e.u64(*series);
            e.u64(run.0);
            name.encode(e);
        }
        Op::Points { series, points } => {
            let (steps, timestamps, values) =
                (points.steps(), points.timestamps(), points.values());
            match stride_of(steps) {
                Some(stride) => {
                    e.u8(9);
                    e.u64(*series);
                    e.len(steps.len());
                    e.i64(steps.first().copied().unwrap_or(0));
                    e.i64(stride);
                    let at = e.bytes.len();
                    e.u32(0);
                    e.deltas(timestamps);
                    let ts_len = (e.bytes.len() - at - 4) as u32;
                    e.bytes[at..at + 4].copy_from_slice(&ts_len.to_le_bytes());
                    e.f64s(values);
                }
                None => {
                    e.u8(6);
                    e.u64(*series);
                    e.len(steps.len());
                    e.i64s(steps);
                    e.i64s(timestamps);
                    e.f64s(values);
                }
            }
        }
        Op::TableRows { run, table, rows } => {
            e.u8(7);
            e.u64(run.0);
            e.str(table);
            e.u64(*rows);
        }
        Op::DeleteRun { run } => {
            e.u8(8);
            e.u64(run.0);
        }
        Op::Publish { runs, replaces } => {
            e.u8(11);
            for list in [runs, replaces] {
                e.len(list.len());
                for run in list {
                    e.u64(run.0);
                }
            }
        }
        Op::PutArtifact { run, artifact } => {
            e.u8(12);
            e.u64(run.0);
            artifact.encode(e);
        }
        Op::DeleteArtifact { run, path } => {
            e.u8(13);
            e.u64(run.0);
            e.str(path);
        }
        Op::CreateExperiment {
            id,
            name,
            created_ms,
        } => {
            e.u8(15);
            e.u64(*id);
            e.str(name);
            e.i64(*created_ms);
        }
        Op::RenameExperiment { id, name } => {
            e.u8(16);
            e.u64(*id);
            e.str(name);
        }
        Op::SetExperimentDeleted { id, deleted } => {
            e.u8(17);
            e.u64(*id);
            e.u8(u8::from(*deleted));
        }
        Op::SetExperimentTag { id, key, value } => {
            e.u8(18);
            e.u64(*id);
            e.str(key);
            e.str(value);
        }
        Op::DeleteTag { run, key } => {
            e.u8(19);
            e.u64(run.0);
            e.str(key);
        }
        Op::DeleteExperimentTag { id, key } => {
            e.u8(20);
            e.u64(*id);
            e.str(key);
        }
        Op::Append {
            run,
            stream,
            offset,
            bytes,
        } => {
            e.u8(14);
            e.u64(run.0);
            e.u8(stream.kind.code());
            e.str(&stream.name);
            e.u64(*offset);
            e.len(bytes.len());
            e.raw(bytes);
        }
    }
}

/// Points below which kind 6 is as small as kind 9: kind 9's first step,
/// stride and field length (20 bytes) and its first timestamp (a full
/// varint) outweigh the 16 bytes a point it saves.
const LINE_MIN_POINTS: usize = 3;

/// The stride of `steps` if there are enough of them to gain from kind 9
/// and they form a line `first + i · stride` (wrapping, as decoding
/// computes it).
fn stride_of(steps: &[i64]) -> Option<i64> {
    let [first, second, ..] = steps else {
        return None;
    };
    let stride = second.wrapping_sub(*first);
    (steps.len() >= LINE_MIN_POINTS
        && steps
            .windows(2)
            .all(|pair| pair[1].wrapping_sub(pair[0]) == stride))
    .then_some(stride)
}

fn decode_op(d: &mut Decoder<'_>) -> Result<Op, DecodeError> {
    let at = d.position();
    let op = match d.u8()? {
        kind @ (1 | 10) => Op::CreateRun {
            run: RunId(d.u64()?),
            experiment: d.str()?,
            name: d.str()?,
            start_ms: d.i64()?,
            staged: kind == 10,
        },
        11 => {
            let mut lists = [Vec::new(), Vec::new()];
            for list in &mut lists {
                for _ in 0..d.len(8)? {
                    list.push(RunId(d.u64()?));
                }
            }
            let [runs, replaces] = lists;
            Op::Publish { runs, replaces }
        }
        2 => {
            let run = RunId(d.u64()?);
            let code = d.u8()?;
            let status = RunStatus::from_code(code)
                .ok_or_else(|| (at, format!("unknown run status code {code}")))?;
            let end = d.i64()?;
            Op::SetStatus {
                run,
                status,
                end_ms: (end != i64::MIN).then_some(end),
            }
        }
        3 => Op::SetParam {
            run: RunId(d.u64()?),
            key: d.str()?,
            value: d.str()?,
        },
        4 => Op::SetTag {
            run: RunId(d.u64()?),
            key: d.str()?,
            value: d.str()?,
        },
        5 => Op::DefineSeries {
            series: d.u64()?,
            run: RunId(d.u64()?),
            name: SeriesName::decode(d, &mut Interner::default())?,
        },
        6 => {
            let series = d.u64()?;
            let n = d.len(24)?;
            let steps = d.i64s(n)?;
            let timestamps = d.i64s(n)?;
            let values = d.f64s(n)?;
            Op::Points {
                series,
                points: PointColumns::Many {
                    steps,
                    timestamps,
                    values,
                },
            }
        }
        7 => Op::TableRows {
            run: RunId(d.u64()?),
            table: d.str()?,
            rows: d.u64()?,
        },
        8 => Op::DeleteRun {
            run: RunId(d.u64()?),
        },
        9 => {
            let series = d.u64()?;
            let n = d.len(9)?;
            let first = d.i64()?;
            let stride = d.i64()?;
            let ts_len = d.u32()? as usize;
            let timestamps = d.deltas(n, ts_len)?;
            let values = d.f64s(n)?;
            Op::Points {
                series,
                points: PointColumns::Many {
                    steps: (0..n as i64)
                        .map(|i| first.wrapping_add(stride.wrapping_mul(i)))
                        .collect(),
                    timestamps,
                    values,
                },
            }
        }
        12 => Op::PutArtifact {
            run: RunId(d.u64()?),
            artifact: Artifact::decode(d)?,
        },
        13 => Op::DeleteArtifact {
            run: RunId(d.u64()?),
            path: d.str()?,
        },
        15 => Op::CreateExperiment {
            id: d.u64()?,
            name: d.str()?,
            created_ms: d.i64()?,
        },
        16 => Op::RenameExperiment {
            id: d.u64()?,
            name: d.str()?,
        },
        17 => Op::SetExperimentDeleted {
            id: d.u64()?,
            deleted: d.u8()? != 0,
        },
        18 => Op::SetExperimentTag {
            id: d.u64()?,
            key: d.str()?,
            value: d.str()?,
        },
        19 => Op::DeleteTag {
            run: RunId(d.u64()?),
            key: d.str()?,
        },
        20 => Op::DeleteExperimentTag {
            id: d.u64()?,
            key: d.str()?,
        },
        14 => {
            let run = RunId(d.u64()?);
            let kind = StreamKind::decode(d)?;
            let name = d.str()?;
            let offset = d.u64()?;
            let len = d.len(1)?;
            Op::Append {
                run,
                stream: StreamKey { kind, name },
                offset,
                bytes: d.bytes(len)?.to_vec(),
            }
        }
        other => {
            return Err((
                at,
                format!("unknown op kind {other} (written by a newer build?)"),
            ));
        }
    };
    Ok(op)
}

/// Notes in the catalog's changes what `op` changes.
fn note_change(op: &Op, catalog: &mut Catalog) {
    let changes = &mut catalog.changes;
    match op {
        Op::CreateRun { run, .. } => {
            changes.runs.insert(*run);
            changes.experiments = true;
        }
        Op::SetStatus { run, .. }
        | Op::SetParam { run, .. }
        | Op::SetTag { run, .. }
        | Op::DefineSeries { run, .. }
        | Op::TableRows { run, .. }
        | Op::DeleteRun { run }
        | Op::PutArtifact { run, .. }
        | Op::DeleteArtifact { run, .. }
        | Op::DeleteTag { run, .. }
        | Op::Append { run, .. } => {
            changes.runs.insert(*run);
        }
        Op::Points { series, .. } => {
            if let Some(entry) = catalog.series.get(series) {
                changes.runs.insert(entry.run);
            }
        }
        Op::Publish { runs, replaces } => {
            changes.runs.extend(runs.iter().chain(replaces));
            changes.experiments = true;
        }
        Op::CreateExperiment { .. }
        | Op::RenameExperiment { .. }
        | Op::SetExperimentDeleted { .. }
        | Op::SetExperimentTag { .. }
        | Op::DeleteExperimentTag { .. } => changes.experiments = true,
    }
}

fn apply(op: &Op, wall_ms: i64, catalog: &mut Catalog, memtable: &mut Memtable) {
    note_change(op, catalog);
    match op {
        Op::CreateRun {
            run,
            experiment,
            name,
            start_ms,
            staged,
        } => {
            let info = RunInfo {
                id: *run,
                experiment: experiment.clone(),
                name: name.clone(),
                status: RunStatus::Running,
                start_ms: *start_ms,
                end_ms: None,
                last_write_ms: *start_ms,
                params: BTreeMap::new(),
                tags: BTreeMap::new(),
            };
            if *staged {
                catalog.create_staged_run(info);
            } else {
                catalog.create_run(info);
            }
        }
        Op::SetStatus {
            run,
            status,
            end_ms,
        } => {
            if let Some(entry) = catalog.runs.get_mut(run) {
                let info = Arc::make_mut(&mut entry.info);
                info.status = *status;
                info.end_ms = *end_ms;
            }
        }
        Op::SetParam { run, key, value } => {
            if let Some(entry) = catalog.runs.get_mut(run) {
                Arc::make_mut(&mut entry.info)
                    .params
                    .insert(key.clone(), value.clone());
            }
        }
        Op::SetTag { run, key, value } => {
            if let Some(entry) = catalog.runs.get_mut(run) {
                Arc::make_mut(&mut entry.info)
                    .tags
                    .insert(key.clone(), value.clone());
            }
        }
        Op::DefineSeries { series, run, name } => {
            catalog.define_series(*series, *run, name.clone());
        }
        Op::Points { series, points } => {
            let Some(entry) = catalog.series.get_mut(series) else {
                return;
            };
            let (steps, timestamps, values) =
                (points.steps(), points.timestamps(), points.values());
            let run = entry.run;
            memtable.insert_all(*series, steps, timestamps, values);
            let in_step_order = steps.windows(2).all(|w| w[0] <= w[1]);
            if in_step_order {
                // Log order is step order here: the op's own stats are exact.
                if let Some(op_stats) = Stats::of(steps, timestamps, values) {
                    absorb(&mut entry.stats, &op_stats);
                }
            } else {
                for ((&step, &timestamp), &value) in steps.iter().zip(timestamps).zip(values) {
                    absorb(&mut entry.stats, &Stats::of_point(step, timestamp, value));
                }
            }
            if let Some(&last) = steps.last() {
                entry.last_logged_step = Some(last);
            }
            catalog.note_write(run, wall_ms);
        }
        Op::TableRows { run, table, rows } => {
            if let Some(entry) = catalog.runs.get_mut(run) {
                let table = entry.tables.entry(table.clone()).or_default();
                table.rows = table.rows.max(*rows);
            }
        }
        Op::DeleteRun { run } => {
            catalog.delete_run(*run);
            memtable.count_catalog_bytes(16);
        }
        Op::Publish { runs, replaces } => catalog.publish(runs, replaces),
        Op::PutArtifact { run, artifact } => {
            catalog.put_artifact(*run, artifact.clone());
            memtable.count_catalog_bytes(64 + artifact.path.len());
        }
        Op::DeleteArtifact { run, path } => {
            catalog.delete_artifact(*run, path);
            memtable.count_catalog_bytes(64 + path.len());
        }
        Op::CreateExperiment {
            id,
            name,
            created_ms,
        } => catalog.experiments.create(*id, name, *created_ms),
        Op::RenameExperiment { id, name } => {
            if let Some(old) = catalog.experiments.rename(*id, name) {
                rename_runs(catalog, &old, name);
            }
        }
        Op::SetExperimentDeleted { id, deleted } => {
            if let Some(entry) = catalog.experiments.get_mut(*id) {
                entry.deleted = *deleted;
            }
        }
        Op::SetExperimentTag { id, key, value } => {
            if let Some(entry) = catalog.experiments.get_mut(*id) {
                entry.tags.insert(key.clone(), value.clone());
            }
        }
        Op::DeleteTag { run, key } => {
            if let Some(entry) = catalog.runs.get_mut(run) {
                Arc::make_mut(&mut entry.info).tags.remove(key);
            }
        }
        Op::DeleteExperimentTag { id, key } => {
            if let Some(entry) = catalog.experiments.get_mut(*id) {
                entry.tags.remove(key);
            }
        }
        Op::Append {
            run,
            stream,
            offset,
            bytes,
        } => {
            catalog.append(*run, stream, *offset, bytes);
            memtable.count_catalog_bytes(bytes.len());
            catalog.note_write(*run, wall_ms);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(record: &Record) -> Vec<u8> {
        let mut bytes = vec![0xAA; 3]; // encoding replaces what was there
        record.encode_into(&mut bytes);
        bytes
    }

    #[test]
    fn records_round_trip_and_damaged_ones_are_refused() {
        let record = Record {
            wall_ms: 17,
            ops: vec![
                Op::CreateRun {
                    run: RunId(1),
                    experiment: "exp".into(),
                    name: "run".into(),
                    start_ms: 5,
                    staged: false,
                },
                Op::CreateRun {
                    run: RunId(2),
                    experiment: "exp".into(),
                    name: "run".into(),
                    start_ms: 6,
                    staged: true,
                },
                Op::Publish {
                    runs: vec![RunId(2)],
                    replaces: vec![RunId(1)],
                },
                Op::SetStatus {
                    run: RunId(1),
                    status: RunStatus::Failed,
                    end_ms: Some(9),
                },
                Op::SetParam {
                    run: RunId(1),
                    key: "lr".into(),
                    value: "0.1".into(),
                },
                Op::SetTag {
                    run: RunId(1),
                    key: "k".into(),
                    value: "v".into(),
                },
                Op::DefineSeries {
                    series: 4,
                    run: RunId(1),
                    name: SeriesName::Column {
                        table: "t".into(),
                        column: "c".into(),
                    },
                },
                Op::Points {
                    series: 4,
                    points: PointColumns::Many {
                        steps: vec![1, 2],
                        timestamps: vec![3, 4],
                        values: vec![-0.0, 1.5],
                    },
                },
                Op::Points {
                    series: 4,
                    points: PointColumns::One {
                        step: 3,
                        timestamp: 5,
                        value: f64::INFINITY,
                    },
                },
                Op::TableRows {
                    run: RunId(1),
                    table: "t".into(),
                    rows: 2,
                },
                Op::PutArtifact {
                    run: RunId(2),
                    artifact: Artifact {
                        path: "images/a.png".into(),
                        size: 12,
                        media_type: "image/png".into(),
                        hash: BlobHash([7; 32]),
                        time_ms: 8,
                        step: Some(-3),
                    },
                },
                Op::PutArtifact {
                    run: RunId(2),
                    artifact: Artifact {
                        path: "model.bin".into(),
                        size: 0,
                        media_type: "application/octet-stream".into(),
                        hash: BlobHash([0; 32]),
                        time_ms: 9,
                        step: None,
                    },
                },
                Op::DeleteArtifact {
                    run: RunId(2),
                    path: "model.bin".into(),
                },
                Op::Append {
                    run: RunId(2),
                    stream: StreamKey::log("node-1/stdout"),
                    offset: 40,
                    bytes: b"epoch 1\n".to_vec(),
                },
                Op::Append {
                    run: RunId(2),
                    stream: StreamKey::text("phase"),
                    offset: 0,
                    bytes: vec![1, 2, 3],
                },
                Op::CreateExperiment {
                    id: 3,
                    name: "vision".into(),
                    created_ms: 4,
                },
                Op::RenameExperiment {
                    id: 3,
                    name: "vision-2".into(),
                },
                Op::SetExperimentDeleted {
                    id: 3,
                    deleted: true,
                },
                Op::SetExperimentTag {
                    id: 3,
                    key: "owner".into(),
                    value: "me".into(),
                },
                Op::DeleteTag {
                    run: RunId(2),
                    key: "k".into(),
                },
                Op::DeleteExperimentTag {
                    id: 3,
                    key: "owner".into(),
                },
                Op::DeleteRun { run: RunId(1) },
            ],
        };
        let bytes = encode(&record);
        assert_eq!(Record::decode(&bytes).unwrap(), record);
        for cut in 0..bytes.len() {
            assert!(Record::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }

    fn points_record(steps: Vec<i64>, timestamps: Vec<i64>) -> Record {
        let values = (0..steps.len()).map(|i| i as f64 - 0.5).collect();
        Record {
            wall_ms: 1,
            ops: vec![Op::Points {
                series: 3,
                points: PointColumns::Many {
                    steps,
                    timestamps,
                    values,
                },
            }],
        }
    }

    #[test]
    fn one_point_held_inline_is_the_same_op_as_a_column_of_one() {
        let inline = Record {
            wall_ms: 1,
            ops: vec![Op::Points {
                series: 3,
                points: PointColumns::One {
                    step: 7,
                    timestamp: 8,
                    value: -0.5,
                },
            }],
        };
        let column = points_record(vec![7], vec![8]);
        assert_eq!(inline, column);
        assert_eq!(encode(&inline), encode(&column));
        assert_ne!(inline, points_record(vec![7], vec![9]));
    }

    #[test]
    fn points_with_steps_in_a_line_take_a_third_of_the_bytes() {
        let steps: Vec<i64> = (100..200).collect();
        let timestamps: Vec<i64> = steps
            .iter()
            .map(|s| 1_700_000_000_000 + 100 * s + s % 6)
            .collect();
        let line = encode(&points_record(steps.clone(), timestamps.clone()));
        let mut scattered = steps;
        scattered.swap(3, 4);
        let raw = encode(&points_record(scattered, timestamps));
        assert_eq!(line[12], 9, "kind 9");
        assert_eq!(raw[12], 6, "kind 6");
        assert!(
            line.len() * 2 < raw.len(),
            "{} vs {}",
            line.len(),
            raw.len()
        );
    }

    proptest::proptest! {
        #[test]
        fn points_round_trip_in_either_kind(
            start in proptest::prelude::any::<i64>(),
            stride in proptest::prelude::any::<i64>(),
            n in 0usize..40,
            scatter in proptest::prelude::any::<bool>(),
            timestamps in proptest::collection::vec(proptest::prelude::any::<i64>(), 40),
            jitter in 0i64..1000,
        ) {
            let mut steps: Vec<i64> = (0..n as i64).map(|i| start.wrapping_add(stride.wrapping_mul(i))).collect();
            if scatter && n > 2 {
                steps[1] = steps[1].wrapping_add(1);
            }
            // Arbitrary timestamps, or close ones.
            let timestamps: Vec<i64> = (0..n)
                .map(|i| if jitter % 2 == 0 { timestamps[i] } else { start.wrapping_add(i as i64 * jitter) })
                .collect();
            let record = points_record(steps, timestamps);
            let bytes = encode(&record);
            proptest::prop_assert_eq!(Record::decode(&bytes).unwrap(), record);
            for cut in 0..bytes.len() {
                proptest::prop_assert!(Record::decode(&bytes[..cut]).is_err());
            }
        }
    }

    #[test]
    fn a_damaged_timestamp_field_is_refused() {
        let mut bytes = encode(&points_record((0..5).collect(), vec![1, 2, 3, 4, 5]));
        // wall_ms 8, count 4, kind 1, series 8, n 4, first 8, stride 8: the
        // ts_len field starts at 41.
        let ts_len = u32::from_le_bytes(bytes[41..45].try_into().unwrap());
        assert_eq!(ts_len, 5, "one byte per small delta");
        bytes[45] = 0xFF; // a varint that runs on
        assert!(Record::decode(&bytes).is_err());
    }
}
