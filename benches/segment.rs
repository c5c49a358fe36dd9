//! Segment encode and decode throughput on a 1M-point series of the
//! standard workload (`loss`, noisy f32; `lr`, smooth f64), and a whole
//! standard run (800,200 points, ten series) written with `append_all` on
//! one thread and on every core, as a flush writes a memtable.
//!
//! `cargo bench -p runlog-benches --bench segment`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use runlog_segment::{Columns, SegmentOptions, SegmentReader, SegmentWriter};
use runlog_workload::Run;

fn segments(c: &mut Criterion) {
    let series = Run {
        steps: 1_000_000,
        seed: 1,
    }
    .series();
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("scratch dir");
    let mut group = c.benchmark_group("segment");
    group.sample_size(10);
    for s in series.iter().filter(|s| matches!(s.name, "loss" | "lr")) {
        group.throughput(Throughput::Elements(s.len() as u64));
        let path = dir.path().join(format!("{}.seg", s.name));
        let write = || {
            let mut writer =
                SegmentWriter::create(&path, SegmentOptions::default()).expect("create");
            writer
                .append(0, &s.steps, &s.timestamps, &s.values)
                .expect("append");
            writer.finish().expect("finish")
        };
        group.bench_function(format!("encode_1M/{}", s.name), |b| b.iter(write));
        write();
        let reader = SegmentReader::open(&path).expect("open");
        group.bench_function(format!("decode_1M/{}", s.name), |b| {
            b.iter(|| black_box(reader.read_series(0).expect("read")));
        });
        // Steady state: the caller reuses its buffers, as the engine does.
        let mut out = Columns::default();
        group.bench_function(format!("decode_1M_reused_buffers/{}", s.name), |b| {
            b.iter(|| {
                out.clear();
                reader.read_steps_into(0, .., &mut out).expect("read");
                black_box(out.len())
            });
        });
    }
    group.finish();
}

fn flush(c: &mut Criterion) {
    let series = Run {
        steps: 100_000,
        seed: 0,
    }
    .series();
    let columns: Vec<Columns> = series
        .iter()
        .map(|s| Columns {
            steps: s.steps.clone(),
            timestamps: s.timestamps.clone(),
            values: s.values.clone(),
        })
        .collect();
    let all: Vec<(u64, &Columns)> = (0..).zip(&columns).collect();
    let points: usize = columns.iter().map(Columns::len).sum();
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("scratch dir");
    let mut group = c.benchmark_group("segment_flush");
    group.sample_size(10);
    group.throughput(Throughput::Elements(points as u64));
    let every_core = SegmentOptions::default().encode_threads;
    for (name, threads) in [("one_thread", 1), ("every_core", every_core)] {
        let options = SegmentOptions {
            encode_threads: threads,
            ..SegmentOptions::default()
        };
        let path = dir.path().join(format!("{name}.seg"));
        group.bench_function(format!("standard_run_append_all/{name}"), |b| {
            b.iter(|| {
                let mut writer = SegmentWriter::create(&path, options).expect("create");
                writer.append_all(&all).expect("append");
                writer.finish().expect("finish")
            })
        });
    }
    group.finish();
}

criterion_group!(benches, segments, flush);
criterion_main!(benches);
