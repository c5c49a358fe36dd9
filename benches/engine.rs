//! Engine hot paths on the standard workload (`shared/workload.md`):
//! ingest per call and batched (to the WAL and memtable, or through a
//! flush into segments), `latest`, `history` of a 1M-point and of a
//! 1,000-point metric, run-list summaries of 10,000 runs x 10 metrics, open
//! time of that database, and open time with a WAL to replay.
//!
//! `cargo bench -p runlog-benches --bench engine`

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use runlog::{Db, Durability, RunFilter, RunId};
use runlog_workload::{METRICS, Run};
use tempfile::TempDir;

fn scratch() -> TempDir {
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("scratch dir")
}

fn group_commit() -> Durability {
    Durability::Group {
        interval: Duration::from_millis(10),
    }
}

/// The standard run's points in log order: (metric index, step, ts, value).
fn workload(steps: u64) -> Vec<(usize, i64, i64, f64)> {
    let mut points = Vec::new();
    Run { steps, seed: 0 }.for_each_point(|m, s, t, v| points.push((m, s, t, v)));
    points
}

/// A new database with one run, for an ingest iteration.
fn fresh_run() -> (TempDir, Db, RunId) {
    let dir = scratch();
    let db = Db::builder(dir.path())
        .durability(group_commit())
        .open()
        .expect("open");
    let run = db.create_run("bench", "run").expect("run");
    (dir, db, run)
}

fn ingest(c: &mut Criterion) {
    let points = workload(100_000);
    let mut group = c.benchmark_group("engine_ingest");
    group.sample_size(10);
    group.throughput(Throughput::Elements(points.len() as u64));
    group.bench_function("log_at_per_point", |b| {
        b.iter_batched(
            fresh_run,
            |(dir, db, run)| {
                for &(m, step, ts, value) in &points {
                    db.log_at(run, METRICS[m], step, ts, value).expect("log");
                }
                db.close().expect("close");
                dir
            },
            BatchSize::PerIteration,
        );
    });
    for (name, flush) in [
        ("log_batch_100_steps", false),
        ("log_batch_100_steps_through_flush", true),
    ] {
        group.bench_function(name, |b| {
            b.iter_batched(
                fresh_run,
                |(dir, db, run)| {
                    let mut batch = Vec::with_capacity(1000);
                    for chunk in points.chunk_by(|a, b| a.1 / 100 == b.1 / 100) {
                        batch.clear();
                        batch.extend(chunk.iter().map(|&(m, s, t, v)| (METRICS[m], s, t, v)));
                        db.log_batch(run, &batch).expect("log");
                    }
                    if flush {
                        // Into compressed segments, as `compare` measures.
                        db.flush().expect("flush");
                    }
                    db.close().expect("close");
                    dir
                },
                BatchSize::PerIteration,
            );
        });
    }
    group.finish();
}

/// One run of the standard workload with `steps` steps, flushed to segments.
fn loaded(dir: &Path, steps: u64) -> (Db, RunId) {
    let db = Db::builder(dir)
        .durability(Durability::Buffered)
        .open()
        .expect("open");
    let run = db.create_run("bench", "run").expect("run");
    let points = workload(steps);
    for chunk in points.chunks(10_000) {
        let batch: Vec<_> = chunk
            .iter()
            .map(|&(m, s, t, v)| (METRICS[m], s, t, v))
            .collect();
        db.log_batch(run, &batch).expect("log");
    }
    db.flush().expect("flush");
    (db, run)
}

fn reads(c: &mut Criterion) {
    let dir = scratch();
    let (db, run) = loaded(dir.path(), 1_000_000);
    let mut group = c.benchmark_group("engine_read");
    group.throughput(Throughput::Elements(1));
    group.bench_function("latest", |b| {
        b.iter(|| black_box(db.latest(run, "loss").expect("latest")))
    });
    group.throughput(Throughput::Elements(1_000_000));
    group.sample_size(20);
    group.bench_function("history_1M_points", |b| {
        b.iter(|| black_box(db.history(run, "loss", ..).expect("history").len()))
    });
    let mut out = runlog::Columns::default();
    group.bench_function("history_1M_points_reused_buffers", |b| {
        b.iter(|| {
            out.clear();
            db.history_into(run, "loss", .., &mut out).expect("history");
            black_box(out.len())
        })
    });
    group.bench_function("downsample_1M_points_1000_buckets", |b| {
        b.iter(|| {
            black_box(
                db.downsample(run, "loss", .., 1000)
                    .expect("downsample")
                    .len(),
            )
        })
    });
    drop(db);
    // A short run's metric, as in a run list of many runs: one chunk.
    let dir = scratch();
    let (db, run) = loaded(dir.path(), 1_000);
    group.throughput(Throughput::Elements(1_000));
    group.sample_size(100);
    for metric in ["loss", "acc", "lr"] {
        group.bench_function(format!("history_1000_points_{metric}"), |b| {
            b.iter(|| black_box(db.history(run, metric, ..).expect("history").len()))
        });
    }
    group.finish();
}

fn many_runs(c: &mut Criterion) {
    let dir = scratch();
    {
        let db = Db::builder(dir.path())
            .durability(Durability::Buffered)
            .open()
            .expect("open");
        for r in 0..10_000 {
            let run = db
                .create_run(
                    &runlog_workload::experiment_id(r),
                    &runlog_workload::run_id(r),
                )
                .expect("run");
            let batch: Vec<_> = (0..10)
                .flat_map(|s| {
                    METRICS
                        .iter()
                        .map(move |&m| (m, s as i64, s as i64, (r * s) as f64))
                })
                .collect();
            db.log_batch(run, &batch).expect("log");
        }
        db.flush().expect("flush");
        db.close().expect("close");
    }
    let mut group = c.benchmark_group("engine_many_runs");
    group.sample_size(10);
    let db = Db::open(dir.path()).expect("open");
    // Elements: metric summaries listed (10,000 runs x 10 metrics).
    group.throughput(Throughput::Elements(100_000));
    group.bench_function("runs_summary_10k_runs_x_10_metrics", |b| {
        b.iter(|| black_box(db.runs(&RunFilter::default()).len()))
    });
    drop(db);
    // Elements: the points the opened database holds.
    group.throughput(Throughput::Elements(1_000_000));
    group.bench_function("open_10k_runs_no_wal", |b| {
        b.iter(|| black_box(Db::open(dir.path()).expect("open")))
    });
    group.finish();
}

fn replay(c: &mut Criterion) {
    let dir = scratch();
    let points = workload(100_000);
    {
        // Everything stays in the WAL: the memtable never fills.
        let db = Db::builder(dir.path())
            .durability(Durability::Buffered)
            .memtable_bytes(1 << 30)
            .open()
            .expect("open");
        let run = db.create_run("bench", "run").expect("run");
        for chunk in points.chunks(1_000) {
            let batch: Vec<_> = chunk
                .iter()
                .map(|&(m, s, t, v)| (METRICS[m], s, t, v))
                .collect();
            db.log_batch(run, &batch).expect("log");
        }
        db.close().expect("close");
    }
    let wal_bytes: u64 = std::fs::read_dir(dir.path().join("wal"))
        .expect("wal dir")
        .map(|e| e.expect("entry").metadata().expect("metadata").len())
        .sum();
    let mut group = c.benchmark_group("engine_open");
    group.sample_size(10);
    group.throughput(Throughput::ElementsAndBytes {
        elements: points.len() as u64,
        bytes: wal_bytes,
    });
    group.bench_function("open_replaying_800k_points_of_wal", |b| {
        b.iter(|| {
            black_box(
                Db::builder(dir.path())
                    .memtable_bytes(1 << 30)
                    .open()
                    .expect("open"),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, ingest, reads, many_runs, replay);
criterion_main!(benches);
