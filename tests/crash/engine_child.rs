//! Logs batches of 10 metrics, one step at a time, into a runlog database
//! until killed (with `--contents`, also a `stdout` log line and a `phase`
//! text value at each step and an artifact every few steps), printing
//! `acked N` once all of step N is durable. A small memtable and small chunks make flushes,
//! compactions and sealing happen all the time, so kills land in them.
//!
//! Usage: `engine-crash-child DIR [--contents]`

use std::io::Write;

use runlog::{Db, Durability, Error, RunId, SegmentOptions};
use runlog_tests::{
    ARTIFACT_EVERY, ENGINE_METRICS, engine_artifact, engine_artifact_path, engine_log_line,
    engine_phase, engine_timestamp, engine_value,
};

/// Logs what step `step` holds besides metrics.
fn log_contents(db: &Db, run: RunId, step: i64) {
    db.append_log(run, "stdout", &engine_log_line(step))
        .expect("append");
    if step % ARTIFACT_EVERY == 0 {
        db.put_artifact(run, &engine_artifact_path(step), &engine_artifact(step))
            .expect("put");
    }
    db.log_str_at(
        run,
        "phase",
        step,
        engine_timestamp(step),
        &engine_phase(step),
    )
    .expect("text");
}

/// At a restart: logs what the last step holds besides metrics, for each
/// of those parts that the database does not hold yet (a kill may have
/// cut a step between its write calls).
fn catch_up(db: &Db, run: RunId, step: i64) {
    let lines = db
        .log_streams(run)
        .expect("streams")
        .first()
        .map_or(0, |s| s.lines as i64);
    if lines == step {
        db.append_log(run, "stdout", &engine_log_line(step))
            .expect("append");
    }
    let path = engine_artifact_path(step);
    if step % ARTIFACT_EVERY == 0 && db.artifact(run, &path).is_err() {
        db.put_artifact(run, &path, &engine_artifact(step))
            .expect("put");
    }
    let phases = db.text_history(run, "phase").map_or(0, |h| h.len() as i64);
    if phases == step {
        db.log_str_at(
            run,
            "phase",
            step,
            engine_timestamp(step),
            &engine_phase(step),
        )
        .expect("text");
    }
}

fn main() {
    let dir = std::env::args()
        .nth(1)
        .expect("usage: engine-crash-child DIR [--contents]");
    // With --contents, each step also writes a log line and a text value,
    // and every few steps an artifact.
    let contents = std::env::args().nth(2).as_deref() == Some("--contents");
    let db = Db::builder(&dir)
        .durability(Durability::Sync)
        .memtable_bytes(64 << 10)
        .segment_options(SegmentOptions {
            chunk_points: 64,
            ..SegmentOptions::default()
        })
        .open()
        .unwrap_or_else(|e| panic!("open: {e}"));
    let run = match db.create_run("crash", "run") {
        Ok(run) => run,
        Err(Error::RunExists { existing, .. }) => existing,
        Err(e) => panic!("create run: {e}"),
    };
    let mut step = db.latest(run, ENGINE_METRICS[0]).map_or(0, |p| p.step + 1);
    if contents && step > 0 {
        catch_up(&db, run, step - 1);
    }
    let mut out = std::io::stdout().lock();
    loop {
        let batch: Vec<_> = ENGINE_METRICS
            .iter()
            .enumerate()
            .map(|(m, &name)| (name, step, engine_timestamp(step), engine_value(m, step)))
            .collect();
        db.log_batch(run, &batch).expect("log");
        if contents {
            log_contents(&db, run, step);
        }
        writeln!(out, "acked {step}").expect("parent reads");
        out.flush().expect("parent reads");
        step += 1;
    }
}
