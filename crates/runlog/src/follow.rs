//! Following a database while a writer logs: [`Db::follow`] hands out what
//! each write call changed, in the order the calls were made, read straight
//! from the write-ahead log from where the handle's view ends. A follower
//! never re-reads what it has read, and it sees a point whatever its step:
//! a step logged twice, or one that goes back, comes out as logged.

use std::collections::HashMap;
use std::sync::Arc;

use runlog_segment::{Columns, SeriesId};
use runlog_wal::{Followed, Lsn, WalFollower};

use crate::catalog::{RunStatus, SeriesName};
use crate::contents::StreamKind;
use crate::db::undecodable;
use crate::ops::{Op, Record};
use crate::{Db, Result, RunId};

/// Points one [`Follower::poll`] gathers at most before it returns (it
/// always returns whole write calls).
const POINTS_PER_POLL: usize = 1 << 20;

/// One change a write call made, as [`Follower::poll`] reports it.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Change {
    /// A run was created.
    RunCreated {
        /// Its id.
        run: RunId,
        /// Its experiment.
        experiment: String,
        /// Its name.
        name: String,
        /// Created by an import, invisible until [`Change::Published`]
        /// (and deleted if that never comes).
        staged: bool,
    },
    /// An import's staged runs became visible, and the runs they replace
    /// were deleted, at once.
    Published {
        /// The runs made visible.
        runs: Vec<RunId>,
        /// The runs deleted.
        replaced: Vec<RunId>,
    },
    /// A run's status changed.
    StatusChanged {
        /// The run.
        run: RunId,
        /// Its new status.
        status: RunStatus,
    },
    /// Text appended to a text log.
    LogAppended {
        /// The run.
        run: RunId,
        /// The stream.
        stream: String,
        /// Its byte offset in the stream.
        offset: u64,
        /// The text.
        text: String,
    },
    /// Artifacts put or deleted.
    ArtifactChanged {
        /// The run.
        run: RunId,
        /// The artifact's path.
        path: String,
        /// Whether it was deleted (else put).
        deleted: bool,
    },
    /// Points of a metric, in the order they were logged.
    Points {
        /// The run.
        run: RunId,
        /// The metric.
        metric: Arc<str>,
        /// The points, in log order (not sorted by step).
        points: Columns,
    },
    /// Write calls that a flush removed from the log before the follower
    /// read them: their points are in the history, but cannot be told
    /// apart from older ones. Reported so that nothing goes missing
    /// silently; it happens only if the follower falls a whole WAL file
    /// behind.
    Missed {
        /// How many write calls.
        calls: u64,
    },
}

/// Follows a database's writes from one instant on (see [`Db::follow`]).
#[derive(Debug)]
pub struct Follower {
    wal: WalFollower,
    /// Every metric series known, with its run and name.
    metrics: HashMap<SeriesId, (RunId, Arc<str>)>,
}

impl Db {
    /// A follower of every write made after what this handle shows now:
    /// read this handle's history, then poll the follower, and every point
    /// is seen exactly once. Works on a read-only handle in another process
    /// and on the writer's own handle.
    pub fn follow(&self) -> Follower {
        let state = self.shared.state.read();
        let metrics = state
            .catalog
            .series
            .iter()
            .filter_map(|(id, entry)| match &entry.name {
                SeriesName::Metric(name) => Some((id, (entry.run, Arc::clone(name)))),
                SeriesName::Column { .. } => None,
            })
            .collect();
        let from = Lsn(state.active.last_lsn + 1);
        Follower {
            wal: WalFollower::new(
                Arc::clone(&self.shared.options.storage),
                &self.shared.dir.join("wal"),
                from,
            ),
            metrics,
        }
    }
}

impl Follower {
    /// What write calls made since the last poll, in order; empty when
    /// nothing new was logged. A long backlog comes over several polls.
    pub fn poll(&mut self) -> Result<Vec<Change>> {
        let mut changes = Vec::new();
        let mut points = 0;
        while points < POINTS_PER_POLL {
            let record = match self.wal.poll()? {
                Followed::Record(record) => record,
                Followed::Idle => break,
                Followed::Removed { from, to } => {
                    changes.push(Change::Missed {
                        calls: to.0 - from.0 + 1,
                    });
                    continue;
                }
            };
            let decoded = Record::decode(&record.payload).map_err(|e| undecodable(&record, e))?;
            for op in decoded.ops {
                points += self.absorb(op, &mut changes);
            }
        }
        Ok(changes)
    }

    /// Turns one op into its change, if it is one a follower reports;
    /// returns the points it carried.
    fn absorb(&mut self, op: Op, changes: &mut Vec<Change>) -> usize {
        match op {
            Op::CreateRun {
                run,
                experiment,
                name,
                staged,
                ..
            } => changes.push(Change::RunCreated {
                run,
                experiment,
                name,
                staged,
            }),
            Op::Publish { runs, replaces } => changes.push(Change::Published {
                runs,
                replaced: replaces,
            }),
            Op::SetStatus { run, status, .. } => {
                changes.push(Change::StatusChanged { run, status })
            }
            Op::DefineSeries {
                series,
                run,
                name: SeriesName::Metric(name),
            } => {
                self.metrics.insert(series, (run, name));
            }
            Op::Points { series, points } => {
                if let Some((run, metric)) = self.metrics.get(&series) {
                    let mut columns = Columns::default();
                    let (steps, timestamps, values) =
                        (points.steps(), points.timestamps(), points.values());
                    columns.reserve(steps.len());
                    for i in 0..steps.len() {
                        columns.push(steps[i], timestamps[i], values[i]);
                    }
                    changes.push(Change::Points {
                        run: *run,
                        metric: Arc::clone(metric),
                        points: columns,
                    });
                    return steps.len();
                }
            }
            Op::Append {
                run,
                stream,
                offset,
                bytes,
            } if stream.kind == StreamKind::Log => changes.push(Change::LogAppended {
                run,
                stream: stream.name,
                offset,
                text: String::from_utf8_lossy(&bytes).into_owned(),
            }),
            Op::PutArtifact { run, artifact } => changes.push(Change::ArtifactChanged {
                run,
                path: artifact.path,
                deleted: false,
            }),
            Op::DeleteArtifact { run, path } => changes.push(Change::ArtifactChanged {
                run,
                path,
                deleted: true,
            }),
            _ => {}
        }
        0
    }
}
