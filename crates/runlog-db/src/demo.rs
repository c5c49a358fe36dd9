//! `demo`: a database following the standard workload, to explore.

use std::path::Path;

use runlog::{Db, Durability, RunFilter};
use runlog_workload::{METRICS, Run, experiment_id, run_id};

use crate::output::CliResult;
use crate::progress::bar;
use crate::query::{open_writer, print_runs};

const RUNS: usize = 12;

/// Creates the demo database in `dir` (or reuses it) and lists its runs.
pub fn run(dir: &Path, steps: u64, json: bool) -> CliResult {
    if dir.join("MANIFEST").exists() {
        eprintln!("{} already holds a database; listing it", dir.display());
    } else {
        create(dir, steps)?;
        eprintln!("created the demo database in {}", dir.display());
    }
    let db = Db::open_read_only(dir)?;
    print_runs(&db.runs(&RunFilter::default()), &["loss".to_string()], json)
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
            db.log_row(
                run,
                "eval",
                &[("fraction", fraction), ("accuracy", 0.5 + 0.4 * fraction)],
            )?;
        }
        match index % 4 {
            2 => {} // still running
            3 => db.fail_run(run)?,
            _ => db.complete_run(run)?,
        }
    }
    progress.finish_and_clear();
    db.flush()?;
    Ok(db.close()?)
}
