//! `tail`: follow a live run, printing every point as the writer logs it,
//! in the order logged. The history present at the start is printed first
//! (streamed), then the follower reads each new write call once from the
//! WAL, so a repeated step, or one that goes back, is printed as logged.

use std::path::Path;
use std::time::Duration;

use runlog::{Change, Columns, DEFAULT_CHUNK_POINTS, Db, RunId};
use serde_json::json;

use crate::output::{CliResult, Out, num};
use crate::query::{json_num, open};
use crate::run_arg::RunArg;

/// How often the follower looks for new writes.
const POLL: Duration = Duration::from_millis(200);

/// How one point prints.
struct Printer {
    out: Out,
    json: bool,
}

impl Printer {
    fn points(&mut self, metric: &str, points: &Columns) -> CliResult {
        for i in 0..points.len() {
            if self.json {
                self.out.json(&json!({
                    "metric": metric, "step": points.steps[i],
                    "timestamp_ms": points.timestamps[i], "value": json_num(points.values[i]),
                }))?;
            } else {
                self.out.line(format!(
                    "{metric}  {}  {}",
                    points.steps[i],
                    num(points.values[i])
                ))?;
            }
        }
        Ok(())
    }
}

/// Prints every point of the run's metrics (or of `metrics`) as it appears,
/// until interrupted (Ctrl-C) or the reader of the output goes away.
pub fn run(dir: &Path, run: &RunArg, metrics: &[String], json: bool) -> CliResult {
    let db = open(dir)?;
    let mut follower = db.follow();
    let mut printer = Printer {
        out: Out::new(),
        json,
    };
    let wanted = |name: &str| metrics.is_empty() || metrics.iter().any(|m| m == name);
    let (id, mut changes) = match run.resolve(&db) {
        Ok(id) => (id, Vec::new()),
        Err(why) => {
            eprintln!(
                "runlog-db: {why}; waiting for run {} to be created",
                run.describe()
            );
            wait_for_run(&mut follower, run)?
        }
    };
    print_history(&db, id, metrics, &mut printer)?;
    printer.out.flush()?;
    loop {
        for change in changes {
            match change {
                Change::Points {
                    run,
                    metric,
                    points,
                } if run == id && wanted(&metric) => printer.points(&metric, &points)?,
                Change::StatusChanged { run, status } if run == id => {
                    eprintln!("runlog-db: the run is now {status}");
                }
                Change::Missed { calls } => eprintln!(
                    "runlog-db: {calls} write calls were flushed before tail could read them; \
                     `history` shows their points"
                ),
                _ => {}
            }
        }
        printer.out.flush()?;
        std::thread::sleep(POLL);
        changes = follower.poll()?;
    }
}

/// Waits until the follower sees the run created; returns it with the
/// changes that came after its creation in the same poll.
fn wait_for_run(follower: &mut runlog::Follower, run: &RunArg) -> CliResult<(RunId, Vec<Change>)> {
    loop {
        let mut changes = follower.poll()?.into_iter();
        while let Some(change) = changes.next() {
            if let Change::RunCreated {
                run: id,
                experiment,
                name,
                staged,
            } = change
                && run.matches(&experiment, &name)
            {
                let how = if staged {
                    "is being imported (visible once the import publishes it)"
                } else {
                    "started"
                };
                eprintln!("runlog-db: run {experiment}/{name} (id {id}) {how}");
                return Ok((id, changes.collect()));
            }
        }
        std::thread::sleep(POLL);
    }
}

/// Prints what the run holds now, metric by metric; says which asked-for
/// metrics it does not have yet.
fn print_history(db: &Db, id: RunId, metrics: &[String], printer: &mut Printer) -> CliResult {
    let Ok(names) = db.metric_names(id) else {
        return Ok(()); // created after this handle's view: nothing yet
    };
    for missing in metrics.iter().filter(|m| !names.contains(m)) {
        eprintln!(
            "runlog-db: the run has no metric {missing:?} yet (it has {}); waiting for it",
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        );
    }
    for name in names
        .iter()
        .filter(|n| metrics.is_empty() || metrics.contains(n))
    {
        for chunk in db.history_chunks(id, name, .., DEFAULT_CHUNK_POINTS)? {
            printer.points(name, &chunk?)?;
        }
    }
    Ok(())
}
