//! Logs batches of 10 metrics, one step at a time, into a runlog database
//! until killed, printing `acked N` once step N is durable. A small memtable
//! and small chunks make flushes, compactions and sealing happen all the
//! time, so kills land in them.
//!
//! Usage: `engine-crash-child DIR`

use std::io::Write;

use runlog::{Db, Durability, Error, SegmentOptions};
use runlog_tests::{ENGINE_METRICS, engine_timestamp, engine_value};

fn main() {
    let dir = std::env::args()
        .nth(1)
        .expect("usage: engine-crash-child DIR");
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
    let mut out = std::io::stdout().lock();
    loop {
        let batch: Vec<_> = ENGINE_METRICS
            .iter()
            .enumerate()
            .map(|(m, &name)| (name, step, engine_timestamp(step), engine_value(m, step)))
            .collect();
        db.log_batch(run, &batch).expect("log");
        writeln!(out, "acked {step}").expect("parent reads");
        out.flush().expect("parent reads");
        step += 1;
    }
}
