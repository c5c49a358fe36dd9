//! The RUN argument that most commands take, and how it finds a run.

use runlog::{Db, RunFilter, RunId};

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
        if let Some(experiment) = &self.experiment {
            return db.find_run(experiment, &self.run).ok_or_else(|| {
                format!("experiment {experiment:?} has no run named {:?}", self.run)
            });
        }
        if let Ok(id) = self.run.parse::<u64>()
            && db.run(RunId(id)).is_ok()
        {
            return Ok(RunId(id));
        }
        // Every `/` could separate the experiment from the name: accept the
        // one reading that names a run.
        let mut matches: Vec<RunId> = self
            .run
            .match_indices('/')
            .filter_map(|(at, _)| db.find_run(&self.run[..at], &self.run[at + 1..]))
            .collect();
        if matches.is_empty() {
            matches = db
                .runs(&RunFilter::default())
                .into_iter()
                .filter(|r| r.info.name == self.run)
                .map(|r| r.info.id)
                .collect();
        }
        match matches[..] {
            [id] => Ok(id),
            [] => Err(format!(
                "no run {:?} (give an id, experiment/name, a unique name, or --experiment)",
                self.run
            )),
            _ => Err(format!(
                "{} runs match {:?}; give the id, or the name with --experiment",
                matches.len(),
                self.run
            )),
        }
    }
}
