//! `demo`: a database following the standard workload, to explore.

use std::path::Path;

use runlog::{Cell, Db, Durability, RunFilter, RunId};
use runlog_workload::{METRICS, Run, experiment_id, run_id};

use crate::output::CliResult;
use crate::progress::bar;
use crate::query::{open_writer, print_runs};

const RUNS: usize = 12;

/// The tag the last run gets once the whole demo is durable: a database
/// without it holds a demo that was interrupted.
const COMPLETE: (&str, &str) = ("demo", "complete");

/// Creates the demo database in `dir` (or reuses a complete one) and lists
/// its runs.
pub fn run(dir: &Path, steps: u64, json: bool) -> CliResult {
    let exists = ["RUNLOG", "MANIFEST", "wal"]
        .iter()
        .any(|name| dir.join(name).exists());
    if exists {
        let db = Db::open_read_only(dir)?;
        let runs = db.runs(&RunFilter::default());
        let complete = runs
            .iter()
            .any(|r| r.info.tags.get(COMPLETE.0).map(String::as_str) == Some(COMPLETE.1));
        if !complete {
            return Err(format!(
                "{} holds an incomplete demo ({} of {RUNS} runs started; it was interrupted): delete it and run `runlog-db demo` again",
                dir.display(),
                runs.len()
            )
            .into());
        }
        eprintln!("{} already holds the demo; listing it", dir.display());
    } else {
        create(dir, steps)?;
        eprintln!("created the demo database in {}", dir.display());
    }
    let db = Db::open_read_only(dir)?;
    print_runs(&db.runs(&RunFilter::default()), &["loss".to_string()], json)
}

/// What a run holds besides metrics: a config file, driver logs and a
/// text series of its phase.
fn log_contents(db: &Db, run: RunId, index: usize, steps: u64) -> CliResult {
    let config = format!(
        "{{\n  \"lr\": 3e-4,\n  \"batch_size\": {},\n  \"seed\": {index}\n}}\n",
        32 << (index % 3)
    );
    db.log_text(run, "config.json", &config)?;
    let every = (steps / 20).max(1);
    for step in (0..steps).step_by(every as usize) {
        let phase = if step < steps / 10 { "warmup" } else { "train" };
        // At the time the run logged its loss at that step.
        let at = db.history(run, "loss", step as i64..=step as i64)?;
        let timestamp = at.timestamps.first().copied().unwrap_or(0);
        db.log_str_at(run, "phase", step as i64, timestamp, phase)?;
        db.append_log(run, "stdout", &format!("step {step}: {phase}\n"))?;
    }
    db.append_log(
        run,
        "stderr",
        "warning: the demo has no GPU; using the CPU\n",
    )?;
    Ok(())
}

fn create(dir: &Path, steps: u64) -> CliResult {
    let db = open_writer(Db::builder(dir).durability(Durability::Buffered))?;
    let per_run = Run { steps, seed: 0 }.point_count();
    let progress = bar(per_run * RUNS as u64, "points").with_message("creating the demo");
    for index in 0..RUNS {
        let run = db.create_run(&experiment_id(index % 3), &run_id(index))?;
        db.set_param(run, "lr", "3e-4")?;
        db.set_param(run, "batch_size", &(32 << (index % 3)).to_string())?;
        db.set_tag(run, "model", if index % 2 == 0 { "mlp" } else { "cnn" })?;
        db.set_tag(run, "dataset", "mnist")?;
        let mut batch = Vec::with_capacity(1100);
        let mut failed = None;
        Run {
            steps,
            seed: index as u64,
        }
        .for_each_point(|metric, step, timestamp, value| {
            if failed.is_some() {
                return;
            }
            batch.push((METRICS[metric], step, timestamp, value));
            if batch.len() >= 1000 && metric == METRICS.len() - 1 {
                progress.inc(batch.len() as u64);
                // The generator cannot stop early: keep the first error,
                // log nothing more, and report it below.
                failed = db.log_batch(run, &batch).err();
                batch.clear();
            }
        });
        if let Some(error) = failed {
            return Err(error.into());
        }
        progress.inc(batch.len() as u64);
        db.log_batch(run, &batch)?;
        for row in 0..5 {
            let fraction = f64::from(row) / 4.0;
            db.log_row_cells(
                run,
                "eval",
                &[
                    ("fraction", Cell::Number(fraction)),
                    ("accuracy", Cell::Number(0.5 + 0.4 * fraction)),
                    (
                        "split",
                        Cell::Text(if row % 2 == 0 { "val" } else { "test" }),
                    ),
                ],
            )?;
        }
        log_contents(&db, run, index, steps)?;
        match index % 4 {
            2 => {} // still running
            3 => db.fail_run(run)?,
            _ => db.complete_run(run)?,
        }
    }
    progress.finish_and_clear();
    db.flush()?;
    // Marked complete only once every point is in a segment.
    let last = db
        .find_run(&experiment_id((RUNS - 1) % 3), &run_id(RUNS - 1))
        .ok_or("the demo's last run is missing")?;
    db.set_tag(last, COMPLETE.0, COMPLETE.1)?;
    db.sync()?;
    Ok(db.close()?)
}
