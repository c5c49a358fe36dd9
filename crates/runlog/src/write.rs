//! The write API: runs, their metadata, and metric points. Every call checks
//! everything first, then logs one WAL record, then applies it: a refused
//! call writes nothing.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use runlog_segment::{Columns, SeriesId};
use runlog_wal::Durability;

use crate::catalog::{Catalog, RunEntry, RunStatus, SeriesName};
use crate::contents::{StreamKey, StreamKind, encode_text_record};
use crate::db::{Db, freeze};
use crate::limits::{check_count, check_name, check_value};
use crate::memtable::{Memtable, POINT_BYTES};
use crate::ops::{Op, PointColumns, Record};
use crate::{Error, Result, RunId};

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// One cell of a table row ([`Db::log_row_cells`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Cell<'a> {
    /// A number, kept as a point of the column's series.
    Number(f64),
    /// A string, kept in the column's string cells.
    Text(&'a str),
}

/// A column named twice in one call is refused.
fn refuse_repeated<'a>(table: &str, columns: impl Iterator<Item = &'a str>) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for column in columns {
        if !seen.insert(column) {
            return Err(Error::InvalidName {
                what: "column name",
                name: format!("{table}/{column}"),
                reason: "given twice in one call".into(),
            });
        }
    }
    Ok(())
}

/// The text series of a run.
pub(crate) fn text_series(entry: &RunEntry) -> usize {
    entry
        .streams
        .keys()
        .filter(|k| k.kind == StreamKind::Text)
        .count()
}

/// A metric or table may not take a text series' name.
fn refuse_text_series(run: RunId, entry: &RunEntry, name: &str) -> Result<()> {
    if entry.streams.contains_key(&StreamKey::text(name)) {
        return Err(Error::KindConflict {
            run,
            name: name.to_string(),
            existing: "text series",
        });
    }
    Ok(())
}

/// Series ids handed out within one write call, before it is applied.
struct NewSeries<'a> {
    catalog: &'a Catalog,
    next: SeriesId,
    defined: HashMap<SeriesName, SeriesId>,
    ops: Vec<Op>,
}

impl<'a> NewSeries<'a> {
    fn new(catalog: &'a Catalog) -> NewSeries<'a> {
        NewSeries {
            catalog,
            next: catalog.next_series,
            defined: HashMap::new(),
            ops: Vec::new(),
        }
    }

    fn metrics_and_tables(&self, entry: &RunEntry) -> usize {
        let new_tables = self
            .defined
            .keys()
            .filter_map(|n| match n {
                SeriesName::Column { table, .. } if !entry.tables.contains_key(table) => {
                    Some(table)
                }
                _ => None,
            })
            .collect::<std::collections::HashSet<_>>()
            .len();
        let new_metrics = self
            .defined
            .keys()
            .filter(|n| matches!(n, SeriesName::Metric(_)))
            .count();
        entry.metrics.len() + entry.tables.len() + text_series(entry) + new_tables + new_metrics
    }

    /// The series of metric `name` in `run`, defining it if new.
    fn metric(&mut self, db: &Db, run: RunId, name: &str) -> Result<SeriesId> {
        let entry = self.catalog.run(run).ok_or(Error::UnknownRun(run))?;
        if let Some(&id) = entry.metrics.get(name) {
            return Ok(id);
        }
        let key = SeriesName::Metric(std::sync::Arc::from(name));
        if let Some(&id) = self.defined.get(&key) {
            return Ok(id);
        }
        check_name("metric name", name)?;
        if entry.tables.contains_key(name) {
            return Err(Error::KindConflict {
                run,
                name: name.to_string(),
                existing: "table",
            });
        }
        refuse_text_series(run, entry, name)?;
        let limit = db.shared.options.limits.metrics_per_run;
        check_count(
            run,
            "metrics per run",
            self.metrics_and_tables(entry) + 1,
            limit,
            name,
        )?;
        Ok(self.define(run, key))
    }

    /// The series of column `column` of table `table` in `run`, defining
    /// them if new.
    fn column(&mut self, db: &Db, run: RunId, table: &str, column: &str) -> Result<SeriesId> {
        let entry = self.catalog.run(run).ok_or(Error::UnknownRun(run))?;
        let existing = entry.tables.get(table);
        if let Some(&(_, id)) = existing.and_then(|t| t.columns.iter().find(|(c, _)| c == column)) {
            return Ok(id);
        }
        let key = SeriesName::Column {
            table: table.to_string(),
            column: column.to_string(),
        };
        if let Some(&id) = self.defined.get(&key) {
            return Ok(id);
        }
        check_name("table name", table)?;
        check_name("column name", column)?;
        if entry.metrics.contains_key(table) {
            return Err(Error::KindConflict {
                run,
                name: table.to_string(),
                existing: "metric",
            });
        }
        refuse_text_series(run, entry, table)?;
        if entry.streams.contains_key(&StreamKey::cells(table, column)) {
            return Err(Error::KindConflict {
                run,
                name: format!("{table}/{column}"),
                existing: "string column",
            });
        }
        let limits = db.shared.options.limits;
        if existing.is_none() {
            let before = self.metrics_and_tables(entry);
            let new_table = !self
                .defined
                .keys()
                .any(|n| matches!(n, SeriesName::Column { table: t, .. } if t == table));
            check_count(
                run,
                "metrics per run",
                before + usize::from(new_table),
                limits.metrics_per_run,
                table,
            )?;
        }
        let columns = existing.map_or(0, |t| t.columns.len())
            + self
                .defined
                .keys()
                .filter(|n| matches!(n, SeriesName::Column { table: t, .. } if t == table))
                .count();
        check_count(
            run,
            "columns per table",
            columns + 1,
            limits.columns_per_table,
            column,
        )?;
        Ok(self.define(run, key))
    }

    fn define(&mut self, run: RunId, name: SeriesName) -> SeriesId {
        let id = self.next;
        self.next += 1;
        self.defined.insert(name.clone(), id);
        self.ops.push(Op::DefineSeries {
            series: id,
            run,
            name,
        });
        id
    }

    /// The step after the last one logged to `series` (0 for a new series):
    /// `None` when that was `i64::MAX`.
    fn next_step(&self, series: SeriesId) -> Option<i64> {
        self.catalog
            .series
            .get(&series)
            .and_then(|s| s.last_logged_step)
            .map_or(Some(0), |s| s.checked_add(1))
    }
}

/// Points grouped by series, series in the order first given.
#[derive(Default)]
struct Points<'n> {
    groups: Vec<(SeriesId, Columns)>,
    /// Index into `groups`, built once a call names many series (a linear
    /// scan is faster for the usual handful).
    index: HashMap<SeriesId, usize>,
    /// For [`Points::extend_named`]: the name of each group, and the group
    /// the next point probably names. A batch usually names the same
    /// metrics in the same order step after step, so most points are placed
    /// without looking their name up.
    names: Vec<&'n str>,
    next: usize,
}

impl<'n> Points<'n> {
    const SCAN_LIMIT: usize = 16;

    /// The group of `series`, and whether it is new.
    fn group(&mut self, series: SeriesId) -> (usize, bool) {
        let found = if self.groups.len() <= Self::SCAN_LIMIT {
            self.groups.iter().rposition(|g| g.0 == series)
        } else {
            if self.index.is_empty() {
                self.index = self
                    .groups
                    .iter()
                    .enumerate()
                    .map(|(i, g)| (g.0, i))
                    .collect();
            }
            self.index.get(&series).copied()
        };
        match found {
            Some(at) => (at, false),
            None => {
                self.groups.push((series, Columns::default()));
                if !self.index.is_empty() {
                    self.index.insert(series, self.groups.len() - 1);
                }
                (self.groups.len() - 1, true)
            }
        }
    }

    fn push(&mut self, series: SeriesId, step: i64, timestamp: i64, value: f64) {
        let (at, _) = self.group(series);
        self.groups[at].1.push(step, timestamp, value);
    }

    /// Points from which [`Points::extend_named`] finds every point's group
    /// first and makes room in each group at once; smaller calls place
    /// points one by one (two passes and their bookkeeping cost more than
    /// they save there).
    const PRESIZE_MIN: usize = 64;

    /// Adds `points` of named metrics. A point whose name is the one
    /// predicted (the name after the previous point's, in the order names
    /// first appeared) is placed without a lookup; any other calls
    /// `resolve` for its series.
    fn extend_named(
        &mut self,
        points: &[(&'n str, i64, i64, f64)],
        mut resolve: impl FnMut(&str) -> Result<SeriesId>,
    ) -> Result<()> {
        if points.len() < Self::PRESIZE_MIN {
            for &(name, step, timestamp, value) in points {
                let at = self.place(name, &mut resolve)?;
                self.groups[at].1.push(step, timestamp, value);
            }
            return Ok(());
        }
        let mut groups = Vec::with_capacity(points.len());
        for &(name, ..) in points {
            groups.push(self.place(name, &mut resolve)?);
        }
        let mut counts = vec![0; self.groups.len()];
        for &group in &groups {
            counts[group] += 1;
        }
        for ((_, columns), count) in self.groups.iter_mut().zip(counts) {
            columns.reserve(count);
        }
        for (&(_, step, timestamp, value), &group) in points.iter().zip(&groups) {
            self.groups[group].1.push(step, timestamp, value);
        }
        Ok(())
    }

    /// The group a point of metric `name` goes to: the predicted one if
    /// the name matches, else the one `resolve` leads to.
    #[inline]
    fn place(
        &mut self,
        name: &'n str,
        resolve: &mut impl FnMut(&str) -> Result<SeriesId>,
    ) -> Result<usize> {
        let predicted = self
            .names
            .get(self.next)
            .is_some_and(|&p| p.len() == name.len() && (p.as_ptr() == name.as_ptr() || p == name));
        let at = if predicted {
            self.next
        } else {
            self.group_of_name(name, resolve)?
        };
        self.next = if at + 1 == self.groups.len() {
            0
        } else {
            at + 1
        };
        Ok(at)
    }

    /// The group of metric `name`, looked up through `resolve`; a new group
    /// records its name, so that `names` stays aligned with `groups`.
    #[cold]
    fn group_of_name(
        &mut self,
        name: &'n str,
        resolve: &mut impl FnMut(&str) -> Result<SeriesId>,
    ) -> Result<usize> {
        let (at, new) = self.group(resolve(name)?);
        if new {
            if self.names.is_empty() {
                // One allocation for the usual handful of names.
                self.names.reserve(Self::SCAN_LIMIT);
            }
            self.names.push(name);
        }
        debug_assert_eq!(self.names.len(), self.groups.len());
        Ok(at)
    }

    fn into_ops(self, ops: &mut Vec<Op>) {
        ops.extend(self.groups.into_iter().map(|(series, points)| Op::Points {
            series,
            points: PointColumns::Many {
                steps: points.steps,
                timestamps: points.timestamps,
                values: points.values,
            },
        }));
    }
}

/// The largest record buffer kept between write calls (bytes); the usual
/// call's record is far smaller.
const RECORD_BUFFER_KEEP: usize = 1 << 20;

impl Db {
    /// Logs the ops `build` makes from the current catalog as one WAL
    /// record, applies them, and (under `Sync`) waits for durability.
    pub(crate) fn write<T>(
        &self,
        build: impl FnOnce(&Catalog, i64) -> Result<(Vec<Op>, T)>,
    ) -> Result<T> {
        let wal = self.shared.check_writable()?;
        let (result, wake_flusher) = {
            let mut record_bytes = self.shared.write.lock();
            let (now, (ops, result)) = {
                // One shared look serves the room check and the build.
                let mut state = self.shared.state.read();
                if self.memtable_full(&state.active) {
                    drop(state);
                    self.wait_for_memtable_room()?;
                    state = self.shared.state.read();
                }
                let now = now_ms();
                (now, build(&state.catalog, now)?)
            };
            if ops.is_empty() {
                return Ok(result);
            }
            let record = Record { wall_ms: now, ops };
            record.encode_into(&mut record_bytes);
            let lsn = wal.append(&record_bytes);
            if record_bytes.capacity() > RECORD_BUFFER_KEEP {
                // A rare large batch does not pin its buffer.
                *record_bytes = Vec::new();
            }
            let lsn = lsn?;
            let mut state = self.shared.state.write();
            let state = &mut *state;
            let waiting_to_seal = state.active.waiting_to_seal();
            record.apply(&mut state.catalog, &mut state.active);
            state.active.last_lsn = lsn.0;
            state.note_released();
            let full = self.memtable_full(&state.active) && state.frozen.is_empty();
            if full {
                freeze(state);
            }
            // The flusher seals chunks between flushes: wake it for either.
            (
                result,
                full || state.active.waiting_to_seal() > waiting_to_seal,
            )
        };
        if wake_flusher {
            self.shared.notify(false);
        }
        if self.shared.options.durability == Durability::Sync {
            wal.sync()?;
        }
        Ok(result)
    }

    /// Whether `memtable` is full: its memory reached half the memtable
    /// budget (so that it and the one being flushed stay within the budget
    /// together), or its points would take twice the budget unencoded. The
    /// second bound keeps the WAL that a crash makes replay in proportion
    /// to the budget, now that sealed chunks hold many points in little
    /// memory.
    pub(crate) fn memtable_full(&self, memtable: &Memtable) -> bool {
        let half = self.shared.options.memtable_bytes / 2;
        memtable.bytes() >= half || memtable.points().saturating_mul(POINT_BYTES) >= 4 * half
    }

    /// Backpressure: while the active memtable is full and the previous one
    /// is still being flushed, writers wait for the flusher (or, without
    /// background threads, flush it themselves). Called with the writer
    /// mutex held.
    fn wait_for_memtable_room(&self) -> Result<()> {
        loop {
            // A shared look first: the flusher may have made room.
            if !self.memtable_full(&self.shared.state.read().active) {
                return Ok(());
            }
            {
                let mut state = self.shared.state.write();
                if !self.memtable_full(&state.active) {
                    return Ok(());
                }
                if state.frozen.is_empty() {
                    freeze(&mut state);
                    drop(state);
                    self.shared.notify(false);
                    return Ok(());
                }
            }
            if !self.has_background_threads() {
                crate::background::flush_one(&self.shared)?;
                continue;
            }
            let mut signals = self.shared.signals.lock();
            if let Some(cause) = self.shared.poison.get() {
                return Err(Error::Poisoned {
                    cause: cause.clone(),
                });
            }
            self.shared
                .wake
                .wait_for(&mut signals, std::time::Duration::from_millis(10));
        }
    }

    /// Creates a run named `name` in `experiment` (created on first use),
    /// `Running` from now. Run names are unique within an experiment.
    pub fn create_run(&self, experiment: &str, name: &str) -> Result<RunId> {
        self.create_run_started(experiment, name, None, false)
    }

    /// Like [`Db::create_run`] with the start time given (ms since the
    /// epoch), for runs brought over from another tracker.
    pub fn create_run_at(&self, experiment: &str, name: &str, start_ms: i64) -> Result<RunId> {
        self.create_run_started(experiment, name, Some(start_ms), false)
    }

    /// Creates a run, visible at once or staged (holding no name, so it is
    /// not checked against the names in use until it is published).
    fn create_run_started(
        &self,
        experiment: &str,
        name: &str,
        start_ms: Option<i64>,
        staged: bool,
    ) -> Result<RunId> {
        check_name("experiment name", experiment)?;
        check_name("run name", name)?;
        self.write(|catalog, now| {
            let key = (experiment.to_string(), name.to_string());
            if let Some(&existing) = catalog.run_names.get(&key).filter(|_| !staged) {
                return Err(Error::RunExists {
                    experiment: experiment.to_string(),
                    name: name.to_string(),
                    existing,
                });
            }
            let run = RunId(catalog.next_run);
            let op = Op::CreateRun {
                run,
                experiment: experiment.to_string(),
                name: name.to_string(),
                start_ms: start_ms.unwrap_or(now),
                staged,
            };
            Ok((vec![op], run))
        })
    }

    /// Sets a run's status; any status but `Running` records now as the
    /// end time.
    pub fn set_status(&self, run: RunId, status: RunStatus) -> Result<()> {
        self.set_status_ended(run, status, None)
    }

    /// Sets a run's status and end time (ms; `None` for none), for runs
    /// brought over from another tracker.
    pub fn set_status_at(&self, run: RunId, status: RunStatus, end_ms: Option<i64>) -> Result<()> {
        self.set_status_ended(run, status, Some(end_ms))
    }

    fn set_status_ended(
        &self,
        run: RunId,
        status: RunStatus,
        end: Option<Option<i64>>,
    ) -> Result<()> {
        self.write(|catalog, now| {
            catalog.run(run).ok_or(Error::UnknownRun(run))?;
            let end_ms = end.unwrap_or((status != RunStatus::Running).then_some(now));
            Ok((
                vec![Op::SetStatus {
                    run,
                    status,
                    end_ms,
                }],
                (),
            ))
        })
    }

    /// Marks a run `Completed`.
    pub fn complete_run(&self, run: RunId) -> Result<()> {
        self.set_status(run, RunStatus::Completed)
    }

    /// Marks a run `Failed`.
    pub fn fail_run(&self, run: RunId) -> Result<()> {
        self.set_status(run, RunStatus::Failed)
    }

    /// Marks a run `Killed`.
    pub fn kill_run(&self, run: RunId) -> Result<()> {
        self.set_status(run, RunStatus::Killed)
    }

    pub(crate) fn mark_running_runs(&self, status: RunStatus) -> Result<()> {
        let running: Vec<RunId> = self
            .shared
            .state
            .read()
            .catalog
            .runs
            .values()
            .filter(|r| !r.deleted && !r.staged && r.info.status == RunStatus::Running)
            .map(|r| r.info.id)
            .collect();
        running
            .into_iter()
            .try_for_each(|run| self.set_status(run, status))
    }

    /// Sets a param. Params are write-once: setting the value it already has
    /// is fine, changing it is [`Error::ParamAlreadySet`].
    pub fn set_param(&self, run: RunId, key: &str, value: &str) -> Result<()> {
        check_name("param key", key)?;
        let limits = self.shared.options.limits;
        check_value("param", key, value, limits.value_bytes)?;
        self.write(|catalog, _| {
            let entry = catalog.run(run).ok_or(Error::UnknownRun(run))?;
            match entry.info.params.get(key) {
                Some(existing) if existing == value => return Ok((Vec::new(), ())),
                Some(existing) => {
                    return Err(Error::ParamAlreadySet {
                        run,
                        key: key.to_string(),
                        existing: existing.clone(),
                    });
                }
                None => check_count(
                    run,
                    "params per run",
                    entry.info.params.len() + 1,
                    limits.params_per_run,
                    key,
                )?,
            }
            let op = Op::SetParam {
                run,
                key: key.to_string(),
                value: value.to_string(),
            };
            Ok((vec![op], ()))
        })
    }

    /// Sets (or overwrites) a tag.
    pub fn set_tag(&self, run: RunId, key: &str, value: &str) -> Result<()> {
        check_name("tag key", key)?;
        let limits = self.shared.options.limits;
        check_value("tag", key, value, limits.value_bytes)?;
        self.write(|catalog, _| {
            let entry = catalog.run(run).ok_or(Error::UnknownRun(run))?;
            if !entry.info.tags.contains_key(key) {
                check_count(
                    run,
                    "tags per run",
                    entry.info.tags.len() + 1,
                    limits.tags_per_run,
                    key,
                )?;
            }
            let op = Op::SetTag {
                run,
                key: key.to_string(),
                value: value.to_string(),
            };
            Ok((vec![op], ()))
        })
    }

    /// Deletes a tag of a run (nothing if it has none of that key).
    pub fn delete_tag(&self, run: RunId, key: &str) -> Result<()> {
        self.write(|catalog, _| {
            let entry = catalog.run(run).ok_or(Error::UnknownRun(run))?;
            if !entry.info.tags.contains_key(key) {
                return Ok((Vec::new(), ()));
            }
            let op = Op::DeleteTag {
                run,
                key: key.to_string(),
            };
            Ok((vec![op], ()))
        })
    }

    /// Creates a staged run for an import: logged to like any run, but
    /// invisible to run lists, experiments and [`Db::find_run`], and holding
    /// no name, until [`Db::publish_runs`] makes it visible together with
    /// the other runs of the import. Runs still staged when the database
    /// next opens for writing (the import crashed) are deleted then
    /// ([`Db::discarded_staged_runs`]).
    pub fn create_staged_run(
        &self,
        experiment: &str,
        name: &str,
        start_ms: Option<i64>,
    ) -> Result<RunId> {
        self.create_run_started(experiment, name, start_ms, true)
    }

    /// Makes staged runs visible, all at once (one WAL record): after a
    /// crash either all of them are there or none. The runs in `replaces`
    /// are deleted in the same record, so a staged run may take one's name
    /// (a re-run import replacing what it imported before). Refused, with
    /// nothing changed, if a run is not staged, or a name is taken by a run
    /// not replaced, or given twice.
    pub fn publish_runs(&self, runs: &[RunId], replaces: &[RunId]) -> Result<()> {
        self.write(|catalog, _| {
            for &old in replaces {
                let entry = catalog.run(old).ok_or(Error::UnknownRun(old))?;
                if entry.staged {
                    return Err(Error::UnknownRun(old));
                }
            }
            let mut names = std::collections::HashSet::new();
            for &run in runs {
                let entry = catalog.run(run).ok_or(Error::UnknownRun(run))?;
                if !entry.staged {
                    return Err(Error::NotStaged(run));
                }
                let key = (entry.info.experiment.clone(), entry.info.name.clone());
                let taken = catalog
                    .run_names
                    .get(&key)
                    .filter(|holder| !replaces.contains(holder))
                    .copied();
                if let Some(existing) =
                    taken.or_else(|| (!names.insert(key.clone())).then_some(run))
                {
                    return Err(Error::RunExists {
                        experiment: key.0,
                        name: key.1,
                        existing,
                    });
                }
            }
            let op = Op::Publish {
                runs: runs.to_vec(),
                replaces: replaces.to_vec(),
            };
            Ok((vec![op], ()))
        })
    }

    /// Deletes a run: it disappears from every query at once; compaction
    /// drops its points from the files.
    pub fn delete_run(&self, run: RunId) -> Result<()> {
        self.write(|catalog, _| {
            catalog.run(run).ok_or(Error::UnknownRun(run))?;
            Ok((vec![Op::DeleteRun { run }], ()))
        })
    }

    /// Logs `value` to metric `name` at the step after the last one logged
    /// to it (0 for a new metric), timestamped now; returns the step.
    pub fn log(&self, run: RunId, name: &str, value: f64) -> Result<i64> {
        self.log_point(run, name, None, None, value)
    }

    /// Logs one point; a step left out is the one after the metric's last
    /// (0 for a new metric), a timestamp left out is now (ms). Returns the
    /// step. What front ends call for `run.log(name, value, step=None,
    /// timestamp=None)`.
    pub fn log_point(
        &self,
        run: RunId,
        name: &str,
        step: Option<i64>,
        timestamp_ms: Option<i64>,
        value: f64,
    ) -> Result<i64> {
        self.write(|catalog, now| {
            let mut new = NewSeries::new(catalog);
            let series = new.metric(self, run, name)?;
            let step = match step {
                Some(step) => step,
                None => new.next_step(series).ok_or_else(|| Error::StepOverflow {
                    run,
                    name: name.to_string(),
                    count: 1,
                })?,
            };
            let mut ops = new.ops;
            ops.push(Op::Points {
                series,
                points: PointColumns::One {
                    step,
                    timestamp: timestamp_ms.unwrap_or(now),
                    value,
                },
            });
            Ok((ops, step))
        })
    }

    /// Logs one point with an explicit step and timestamp (ms).
    pub fn log_at(
        &self,
        run: RunId,
        name: &str,
        step: i64,
        timestamp_ms: i64,
        value: f64,
    ) -> Result<()> {
        self.log_point(run, name, Some(step), Some(timestamp_ms), value)
            .map(drop)
    }

    /// Logs many points, of any metrics of one run, as one atomic write:
    /// `(metric, step, timestamp_ms, value)`.
    pub fn log_batch(&self, run: RunId, points: &[(&str, i64, i64, f64)]) -> Result<()> {
        self.write(|catalog, _| {
            let mut new = NewSeries::new(catalog);
            let mut grouped = Points::default();
            grouped.extend_named(points, |name| new.metric(self, run, name))?;
            let mut ops = new.ops;
            grouped.into_ops(&mut ops);
            Ok((ops, ()))
        })
    }

    /// Logs a whole list as one metric, at consecutive implicit steps after
    /// the last one logged; returns the steps used.
    pub fn log_list(&self, run: RunId, name: &str, values: &[f64]) -> Result<std::ops::Range<i64>> {
        self.write(|catalog, now| {
            let mut new = NewSeries::new(catalog);
            let series = new.metric(self, run, name)?;
            // Implicit steps go up from the last one; past i64::MAX there
            // is none to give (repeating i64::MAX would be a silent lie).
            let overflow = || Error::StepOverflow {
                run,
                name: name.to_string(),
                count: values.len(),
            };
            let first = new.next_step(series).ok_or_else(overflow)?;
            let end = i64::try_from(values.len())
                .ok()
                .and_then(|n| first.checked_add(n - 1))
                .ok_or_else(overflow)?;
            let range = first..end.saturating_add(1);
            if values.is_empty() {
                // Nothing to log: not even the metric's name.
                return Ok((Vec::new(), first..first));
            }
            let steps: Vec<i64> = (first..=end).collect();
            let mut ops = new.ops;
            ops.push(Op::Points {
                series,
                points: PointColumns::Many {
                    timestamps: vec![now; steps.len()],
                    steps,
                    values: values.to_vec(),
                },
            });
            Ok((ops, range))
        })
    }

    /// Logs one row of table metric `table`: each `(column, value)` at the
    /// table's next row index (its step). Columns a row leaves out have no
    /// value in that row. Returns the row index.
    pub fn log_row(&self, run: RunId, table: &str, row: &[(&str, f64)]) -> Result<u64> {
        let columns: Vec<(&str, Vec<f64>)> = row.iter().map(|&(c, v)| (c, vec![v])).collect();
        let columns: Vec<(&str, &[f64])> =
            columns.iter().map(|(c, v)| (*c, v.as_slice())).collect();
        self.log_table(run, table, &columns).map(|rows| rows.start)
    }

    /// Logs one row of table metric `table` whose cells may be numbers or
    /// strings. A column holds one kind: a string given to a numeric
    /// column, or the reverse, is [`Error::KindConflict`]. String cells
    /// read back with [`Db::table`] and, as `TABLE/COLUMN`, with
    /// [`Db::text_history`]. Returns the row index.
    pub fn log_row_cells(&self, run: RunId, table: &str, row: &[(&str, Cell<'_>)]) -> Result<u64> {
        refuse_repeated(table, row.iter().map(|(c, _)| *c))?;
        let limits = self.shared.options.limits;
        self.write(|catalog, now| {
            let entry = catalog.run(run).ok_or(Error::UnknownRun(run))?;
            let existing = entry.tables.get(table);
            let row_index = existing.map_or(0, |t| t.rows);
            if row.is_empty() {
                return Ok((Vec::new(), row_index));
            }
            let mut new = NewSeries::new(catalog);
            let mut grouped = Points::default();
            let mut appends = Vec::new();
            for &(column, cell) in row {
                match cell {
                    Cell::Number(value) => {
                        let series = new.column(self, run, table, column)?;
                        grouped.push(series, row_index as i64, now, value);
                    }
                    Cell::Text(text) => {
                        check_name("table name", table)?;
                        check_name("column name", column)?;
                        if text.len() > limits.text_bytes {
                            return Err(Error::TooLarge {
                                run,
                                what: "string cell of",
                                name: format!("{table}/{column}"),
                                limit: limits.text_bytes as u64,
                            });
                        }
                        let numeric =
                            existing.is_some_and(|t| t.columns.iter().any(|(c, _)| c == column));
                        if numeric || entry.metrics.contains_key(table) {
                            return Err(Error::KindConflict {
                                run,
                                name: format!("{table}/{column}"),
                                existing: if numeric { "numeric column" } else { "metric" },
                            });
                        }
                        refuse_text_series(run, entry, table)?;
                        let key = StreamKey::cells(table, column);
                        let mut bytes = Vec::with_capacity(20 + text.len());
                        encode_text_record(&mut bytes, row_index as i64, now, text);
                        appends.push(Op::Append {
                            run,
                            offset: entry.streams.get(&key).map_or(0, |s| s.len),
                            stream: key,
                            bytes,
                        });
                    }
                }
            }
            let mut ops = new.ops;
            grouped.into_ops(&mut ops);
            ops.extend(appends);
            ops.push(Op::TableRows {
                run,
                table: table.to_string(),
                rows: row_index + 1,
            });
            Ok((ops, row_index))
        })
    }

    /// Logs whole columns of table metric `table` (all of the same length)
    /// as rows after its last row; returns the row indexes used.
    pub fn log_table(
        &self,
        run: RunId,
        table: &str,
        columns: &[(&str, &[f64])],
    ) -> Result<std::ops::Range<u64>> {
        let expected = columns.first().map_or(0, |(_, v)| v.len());
        for &(column, values) in columns {
            if values.len() != expected {
                return Err(Error::RaggedTable {
                    table: table.to_string(),
                    column: column.to_string(),
                    len: values.len(),
                    expected,
                });
            }
        }
        refuse_repeated(table, columns.iter().map(|(c, _)| *c))?;
        self.write(|catalog, now| {
            let entry = catalog.run(run).ok_or(Error::UnknownRun(run))?;
            let first_row = entry.tables.get(table).map_or(0, |t| t.rows);
            let rows = first_row..first_row + expected as u64;
            if expected == 0 {
                return Ok((Vec::new(), rows));
            }
            let mut new = NewSeries::new(catalog);
            let mut grouped = Points::default();
            for &(column, values) in columns {
                let series = new.column(self, run, table, column)?;
                for (i, &value) in values.iter().enumerate() {
                    grouped.push(series, (first_row + i as u64) as i64, now, value);
                }
            }
            let mut ops = new.ops;
            grouped.into_ops(&mut ops);
            ops.push(Op::TableRows {
                run,
                table: table.to_string(),
                rows: rows.end,
            });
            Ok((ops, rows))
        })
    }
}
