//! Experiments as entities: an id, a name, tags, a deleted flag. A run
//! names its experiment; the first run of a new name registers it, and
//! `create_experiment` registers one before it has runs (as tracking
//! servers do). Renaming renames it in every run.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::db::Db;
use crate::error::Error;
use crate::limits::{check_name, check_value};
use crate::ops::Op;
use crate::wire::{DecodeError, Decoder, Encoder};
use crate::{Result, RunId};

/// Identifies an experiment within a database.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize), serde(transparent))]
pub struct ExperimentId(pub u64);

impl std::fmt::Display for ExperimentId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An experiment and what it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Experiment {
    /// Its id.
    pub id: ExperimentId,
    /// Its name, unique in the database.
    pub name: String,
    /// When it was created, ms since the Unix epoch.
    pub created_ms: i64,
    /// Whether it was deleted (its runs are kept; it can be restored).
    pub deleted: bool,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
    /// Its runs (published, not deleted).
    pub runs: usize,
}

/// One experiment in the catalog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ExperimentEntry {
    pub name: String,
    pub created_ms: i64,
    pub deleted: bool,
    pub tags: BTreeMap<String, String>,
}

/// Every experiment, by id and by name.
#[derive(Clone, Debug, Default)]
pub(crate) struct Experiments {
    by_id: BTreeMap<u64, ExperimentEntry>,
    by_name: HashMap<String, u64>,
    pub next: u64,
}

impl Experiments {
    /// The id of the experiment named `name`.
    pub(crate) fn id_of(&self, name: &str) -> Option<u64> {
        self.by_name.get(name).copied()
    }

    pub(crate) fn get(&self, id: u64) -> Option<&ExperimentEntry> {
        self.by_id.get(&id)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&u64, &ExperimentEntry)> {
        self.by_id.iter()
    }

    /// Registers `name` if new (the first run of an experiment).
    pub(crate) fn register(&mut self, name: &str, created_ms: i64) {
        if !self.by_name.contains_key(name) {
            self.create(self.next, name, created_ms);
        }
    }

    /// Adds experiment `id` (a replay of one already there changes nothing).
    pub(crate) fn create(&mut self, id: u64, name: &str, created_ms: i64) {
        if self.by_id.contains_key(&id) || self.by_name.contains_key(name) {
            return;
        }
        self.next = self.next.max(id + 1);
        self.by_name.insert(name.to_string(), id);
        self.by_id.insert(
            id,
            ExperimentEntry {
                name: name.to_string(),
                created_ms,
                deleted: false,
                tags: BTreeMap::new(),
            },
        );
    }

    /// Renames experiment `id`; returns its old name if it changed.
    pub(crate) fn rename(&mut self, id: u64, name: &str) -> Option<String> {
        let entry = self.by_id.get_mut(&id)?;
        if entry.name == name || self.by_name.contains_key(name) {
            return None;
        }
        let old = std::mem::replace(&mut entry.name, name.to_string());
        self.by_name.remove(&old);
        self.by_name.insert(name.to_string(), id);
        Some(old)
    }

    pub(crate) fn get_mut(&mut self, id: u64) -> Option<&mut ExperimentEntry> {
        self.by_id.get_mut(&id)
    }

    /// Writes `count:u32 (id:u64 name:str created_ms:i64 deleted:u8
    /// tag_count:u32 (key:str value:str)*)* next:u64` for the manifest.
    pub(crate) fn encode(&self, e: &mut Encoder) {
        e.len(self.by_id.len());
        for (id, entry) in &self.by_id {
            e.u64(*id);
            e.str(&entry.name);
            e.i64(entry.created_ms);
            e.u8(u8::from(entry.deleted));
            e.len(entry.tags.len());
            for (k, v) in &entry.tags {
                e.str(k);
                e.str(v);
            }
        }
        e.u64(self.next);
    }

    /// Reads what [`Experiments::encode`] wrote.
    pub(crate) fn decode(d: &mut Decoder<'_>) -> Result<Experiments, DecodeError> {
        let mut out = Experiments::default();
        for _ in 0..d.len(25)? {
            let id = d.u64()?;
            let name = d.str()?;
            let created_ms = d.i64()?;
            let deleted = d.u8()? != 0;
            let mut tags = BTreeMap::new();
            for _ in 0..d.len(8)? {
                tags.insert(d.str()?, d.str()?);
            }
            out.create(id, &name, created_ms);
            if let Some(entry) = out.by_id.get_mut(&id) {
                entry.deleted = deleted;
                entry.tags = tags;
            }
        }
        out.next = out.next.max(d.u64()?);
        Ok(out)
    }
}

impl Db {
    /// Creates an experiment before it has runs; refused if one of that
    /// name exists (deleted ones included, as their names stay taken).
    pub fn create_experiment(&self, name: &str) -> Result<ExperimentId> {
        check_name("experiment name", name)?;
        self.write(|catalog, now| {
            if let Some(existing) = catalog.experiments.id_of(name) {
                return Err(Error::ExperimentExists {
                    name: name.to_string(),
                    existing: ExperimentId(existing),
                });
            }
            let id = catalog.experiments.next;
            let op = Op::CreateExperiment {
                id,
                name: name.to_string(),
                created_ms: now,
            };
            Ok((vec![op], ExperimentId(id)))
        })
    }

    /// The experiment with id `id`.
    pub fn experiment(&self, id: ExperimentId) -> Result<Experiment> {
        let state = self.shared.state.read();
        let catalog = &state.catalog;
        let entry = catalog
            .experiments
            .get(id.0)
            .ok_or(Error::UnknownExperiment(id))?;
        let runs = catalog
            .runs
            .values()
            .filter(|r| !r.deleted && !r.staged && r.info.experiment == entry.name)
            .count();
        Ok(Experiment {
            id,
            name: entry.name.clone(),
            created_ms: entry.created_ms,
            deleted: entry.deleted,
            tags: entry.tags.clone(),
            runs,
        })
    }

    /// The id of the experiment named `name`.
    pub fn find_experiment(&self, name: &str) -> Option<ExperimentId> {
        self.shared
            .state
            .read()
            .catalog
            .experiments
            .id_of(name)
            .map(ExperimentId)
    }

    /// Every experiment, deleted ones included, by id.
    pub fn list_experiments(&self) -> Vec<Experiment> {
        let state = self.shared.state.read();
        let catalog = &state.catalog;
        let mut runs: HashMap<&str, usize> = HashMap::new();
        for run in catalog.runs.values().filter(|r| !r.deleted && !r.staged) {
            *runs.entry(run.info.experiment.as_str()).or_default() += 1;
        }
        catalog
            .experiments
            .iter()
            .map(|(id, e)| Experiment {
                id: ExperimentId(*id),
                name: e.name.clone(),
                created_ms: e.created_ms,
                deleted: e.deleted,
                tags: e.tags.clone(),
                runs: runs.get(e.name.as_str()).copied().unwrap_or(0),
            })
            .collect()
    }

    /// Renames an experiment, and so every run's experiment.
    pub fn rename_experiment(&self, id: ExperimentId, name: &str) -> Result<()> {
        check_name("experiment name", name)?;
        self.write(|catalog, _| {
            let entry = catalog
                .experiments
                .get(id.0)
                .ok_or(Error::UnknownExperiment(id))?;
            if entry.name == name {
                return Ok((Vec::new(), ()));
            }
            if let Some(existing) = catalog.experiments.id_of(name) {
                return Err(Error::ExperimentExists {
                    name: name.to_string(),
                    existing: ExperimentId(existing),
                });
            }
            let op = Op::RenameExperiment {
                id: id.0,
                name: name.to_string(),
            };
            Ok((vec![op], ()))
        })
    }

    /// Marks an experiment deleted (`true`) or restores it (`false`).
    pub fn set_experiment_deleted(&self, id: ExperimentId, deleted: bool) -> Result<()> {
        self.write(|catalog, _| {
            catalog
                .experiments
                .get(id.0)
                .ok_or(Error::UnknownExperiment(id))?;
            Ok((vec![Op::SetExperimentDeleted { id: id.0, deleted }], ()))
        })
    }

    /// Sets a tag of an experiment.
    pub fn set_experiment_tag(&self, id: ExperimentId, key: &str, value: &str) -> Result<()> {
        check_name("tag key", key)?;
        let limit = self.shared.options.limits.value_bytes;
        check_value("tag value", key, value, limit)?;
        self.write(|catalog, _| {
            catalog
                .experiments
                .get(id.0)
                .ok_or(Error::UnknownExperiment(id))?;
            let op = Op::SetExperimentTag {
                id: id.0,
                key: key.to_string(),
                value: value.to_string(),
            };
            Ok((vec![op], ()))
        })
    }

    /// Removes a tag of an experiment (a tag it does not have is no error,
    /// and writes nothing).
    pub fn delete_experiment_tag(&self, id: ExperimentId, key: &str) -> Result<()> {
        self.write(|catalog, _| {
            let entry = catalog
                .experiments
                .get(id.0)
                .ok_or(Error::UnknownExperiment(id))?;
            if !entry.tags.contains_key(key) {
                return Ok((Vec::new(), ()));
            }
            let op = Op::DeleteExperimentTag {
                id: id.0,
                key: key.to_string(),
            };
            Ok((vec![op], ()))
        })
    }
}

/// The runs of experiment `old`, now named `new`: their names move too.
pub(crate) fn rename_runs(catalog: &mut crate::catalog::Catalog, old: &str, new: &str) {
    let moved: Vec<RunId> = catalog
        .runs
        .iter()
        .filter(|(_, r)| r.info.experiment == old)
        .map(|(id, _)| *id)
        .collect();
    for id in moved {
        if let Some(run) = catalog.runs.get_mut(&id) {
            catalog.changes.runs.insert(id);
            Arc::make_mut(&mut run.info).experiment = new.to_string();
            let name = run.info.name.clone();
            if catalog.run_names.get(&(old.to_string(), name.clone())) == Some(&id) {
                catalog.run_names.remove(&(old.to_string(), name.clone()));
                catalog.run_names.insert((new.to_string(), name), id);
            }
        }
    }
}
