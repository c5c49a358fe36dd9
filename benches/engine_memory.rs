//! Peak memory while ingesting the standard workload: streams 10M points
//! (N = 1.25M steps) into a database with a 64 MiB memtable budget, in
//! batches of one step, and reports the process's peak resident memory
//! (`VmHWM`) above what it held before ingesting, next to the budget, and
//! what is in segments and what still in memtables at the end.
//!
//! `cargo run --release -p runlog-benches --bin engine-memory [STEPS] [BUDGET_MIB]`

use std::time::Instant;

use runlog::{Db, Durability};
use runlog_workload::{METRICS, Run};

#[path = "proc_status.rs"]
mod proc_status;
use proc_status::status_kib;

fn main() {
    let mut args = std::env::args().skip(1);
    let steps: u64 = args.next().map_or(1_250_000, |s| s.parse().expect("STEPS"));
    let budget_mib: usize = args.next().map_or(64, |s| s.parse().expect("BUDGET_MIB"));
    let dir = tempfile::tempdir().expect("scratch dir");
    let db = Db::builder(dir.path())
        .durability(Durability::Group {
            interval: std::time::Duration::from_millis(10),
        })
        .memtable_bytes(budget_mib << 20)
        .open()
        .expect("open");
    let run = db.create_run("memory", "run").expect("run");
    let before = status_kib("VmRSS:");
    let start = Instant::now();
    let mut batch = Vec::with_capacity(16);
    let mut current_step = 0;
    let mut points = 0u64;
    Run { steps, seed: 0 }.for_each_point(|m, step, ts, value| {
        if step != current_step && !batch.is_empty() {
            db.log_batch(run, &batch).expect("log");
            batch.clear();
        }
        current_step = step;
        batch.push((METRICS[m], step, ts, value));
        points += 1;
    });
    db.log_batch(run, &batch).expect("log");
    db.sync().expect("sync");
    let elapsed = start.elapsed();
    let peak = status_kib("VmHWM:");
    let disk: u64 = db.segment_files().iter().map(|f| f.2).sum();
    let memtables = db.memtable_usage();
    db.close().expect("close");
    println!("points ingested:        {points}");
    println!(
        "ingest rate:            {:.2} M points/s (log_batch per step)",
        points as f64 / elapsed.as_secs_f64() / 1e6
    );
    println!("memtable budget:        {budget_mib} MiB");
    println!("RSS before ingest:      {:.1} MiB", before as f64 / 1024.0);
    println!("peak RSS (VmHWM):       {:.1} MiB", peak as f64 / 1024.0);
    println!(
        "peak above before:      {:.1} MiB",
        (peak - before) as f64 / 1024.0
    );
    let in_segments = points - memtables.points;
    println!(
        "segments on disk:       {:.1} MiB for {in_segments} points ({:.3} bytes/point)",
        disk as f64 / 1048576.0,
        disk as f64 / in_segments.max(1) as f64
    );
    println!(
        "still in memtables:     {} points in {:.1} MiB ({} chunks sealed, {} memtables frozen)",
        memtables.points,
        memtables.bytes as f64 / 1048576.0,
        memtables.sealed_chunks,
        memtables.frozen
    );
}
