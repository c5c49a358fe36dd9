//! The RUN argument that most commands take, and how it finds a run.

use std::path::Path;

use runlog::{Db, RunFilter, RunId, RunLookup};

/// A run: its id, `experiment/name`, a name unique in the database, or a
/// name with `--experiment` (for experiment names that hold `/`, such as
/// MLflow's `/Users/me/exp`).
#[derive(Clone, Debug, clap::Args)]
pub struct RunArg {
    /// The run: its id, experiment/name, or a name unique in the database.
    pub run: String,
    /// The run's experiment; RUN is then its name.
    #[arg(long)]
    pub experiment: Option<String>,
}

impl RunArg {
    /// What the user typed, for messages.
    pub fn describe(&self) -> String {
        match &self.experiment {
            Some(experiment) => format!("{:?} in experiment {experiment:?}", self.run),
            None => format!("{:?}", self.run),
        }
    }

    /// Whether a run of this experiment and name is the one meant.
    pub fn matches(&self, experiment: &str, name: &str) -> bool {
        match &self.experiment {
            Some(wanted) => wanted == experiment && self.run == name,
            None => {
                self.run == name
                    || self
                        .run
                        .strip_prefix(experiment)
                        .and_then(|rest| rest.strip_prefix('/'))
                        == Some(name)
            }
        }
    }

    /// Finds the run, or says why not.
    pub fn resolve(&self, db: &Db) -> Result<RunId, String> {
        self.resolve_in(db)
    }

    /// Finds the run as [`RunArg::resolve`] does, reading only where it is
    /// in the database at `dir` ([`RunLookup`]), not opening it whole.
    pub fn look_up(&self, dir: &Path) -> Result<RunLookup, String> {
        self.resolve_in(&Lookups(dir))
    }

    fn resolve_in<S: RunSource>(&self, source: &S) -> Result<S::Run, String> {
        if let Some(experiment) = &self.experiment {
            return source
                .named(Some(experiment), &self.run)?
                .pop()
                .ok_or_else(|| {
                    format!("experiment {experiment:?} has no run named {:?}", self.run)
                });
        }
        if let Ok(id) = self.run.parse::<u64>()
            && let Some(run) = source.by_id(RunId(id))?
        {
            return Ok(run);
        }
        // Every `/` could separate the experiment from the name: accept the
        // one reading that names a run.
        let mut matches = Vec::new();
        for (at, _) in self.run.match_indices('/') {
            matches.extend(source.named(Some(&self.run[..at]), &self.run[at + 1..])?);
        }
        if matches.is_empty() {
            matches = source.named(None, &self.run)?;
        }
        match matches.len() {
            1 => Ok(matches.remove(0)),
            0 => Err(format!(
                "no run {:?} (give an id, experiment/name, a unique name, or --experiment)",
                self.run
            )),
            n => Err(format!(
                "{n} runs match {:?}; give the id, or the name with --experiment",
                self.run
            )),
        }
    }
}

/// Where a RUN argument looks for its run.
trait RunSource {
    /// What it finds.
    type Run;
    /// The run of this id, if there is one.
    fn by_id(&self, id: RunId) -> Result<Option<Self::Run>, String>;
    /// The runs of this name (in this experiment, if given).
    fn named(&self, experiment: Option<&str>, name: &str) -> Result<Vec<Self::Run>, String>;
}

impl RunSource for Db {
    type Run = RunId;

    fn by_id(&self, id: RunId) -> Result<Option<RunId>, String> {
        Ok(self.run(id).is_ok().then_some(id))
    }

    fn named(&self, experiment: Option<&str>, name: &str) -> Result<Vec<RunId>, String> {
        Ok(match experiment {
            Some(experiment) => self.find_run(experiment, name).into_iter().collect(),
            None => self
                .runs(&RunFilter::default())
                .into_iter()
                .filter(|r| r.info.name == name)
                .map(|r| r.info.id)
                .collect(),
        })
    }
}

/// The database at a path, read one run at a time.
struct Lookups<'a>(&'a Path);

impl RunSource for Lookups<'_> {
    type Run = RunLookup;

    fn by_id(&self, id: RunId) -> Result<Option<RunLookup>, String> {
        RunLookup::by_id(self.0, id).map_err(|e| e.to_string())
    }

    fn named(&self, experiment: Option<&str>, name: &str) -> Result<Vec<RunLookup>, String> {
        RunLookup::find(self.0, experiment, name).map_err(|e| e.to_string())
    }
}
