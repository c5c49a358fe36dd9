//! The catalog at scale: ingests N runs of the shape (3 params,
//! 3 tags, 10 metrics of 10 points, then completed), one run at a time, and
//! reports the ingest rate per tenth of the runs, the slowest run, the
//! bytes written against the database's size (flushed, so no WAL is
//! left), then what a reader pays:
//! opening read-only and answering one run's params and latest value (in a
//! fresh child process, with its peak RSS), whole (`Db::open_read_only`)
//! and reading only where the run is (`RunLookup`, what `runlog-db params`
//! and `latest` use), the segments left and their levels, and the full run
//! list with every metric's, then one metric's, last/min/max.
//!
//! `cargo run --release -p runlog-benches --bin engine-many-runs [N ...]`
//! (default 10000 100000 1000000), in a scratch directory under `$TMPDIR`.

use std::path::Path;
use std::time::{Duration, Instant};

use runlog::{Db, Durability, RunFilter, RunLookup};
use runlog_workload::{METRICS, experiment_id, run_id};

#[path = "proc_status.rs"]
mod proc_status;
use proc_status::status_kib;

/// Bytes this process has passed to `write` calls so far (`wchar` of
/// `/proc/self/io`).
fn bytes_written() -> u64 {
    let io = std::fs::read_to_string("/proc/self/io").expect("procfs");
    io.lines()
        .find_map(|line| line.strip_prefix("wchar:"))
        .and_then(|rest| rest.trim().parse().ok())
        .expect("wchar present")
}

/// The size of every file under `dir` (0 if there is no `dir`).
fn size_of(dir: &Path) -> u64 {
    if !dir.exists() {
        return std::fs::metadata(dir.with_file_name("MANIFEST")).map_or(0, |m| m.len());
    }
    std::fs::read_dir(dir)
        .expect("list")
        .map(|entry| {
            let entry = entry.expect("entry");
            let meta = entry.metadata().expect("metadata");
            if meta.is_dir() {
                size_of(&entry.path())
            } else {
                meta.len()
            }
        })
        .sum()
}

/// Logs run `r`: what one tracked training run writes.
fn log_run(db: &Db, r: usize) {
    let run = db
        .create_run(&experiment_id(r), &run_id(r))
        .expect("create run");
    for k in 0..3 {
        db.set_param(run, &format!("param_{k}"), &format!("{}", r * 7 + k))
            .expect("param");
        db.set_tag(run, &format!("tag_{k}"), "value").expect("tag");
    }
    let batch: Vec<_> = (0..10i64)
        .flat_map(|s| {
            METRICS
                .iter()
                .map(move |&m| (m, s, s, (r as f64) * 0.001 + s as f64))
        })
        .collect();
    db.log_batch(run, &batch).expect("log");
    db.complete_run(run).expect("complete");
}

/// In the child: answers one run's params and latest loss, opening the
/// database whole (`whole`) or looking the run up (`lookup`), and prints
/// the time, the peak RSS and the answers.
fn probe(dir: &Path, r: usize, how: &str) {
    let start = Instant::now();
    let (params, latest) = match how {
        "whole" => {
            let db = Db::open_read_only(dir).expect("open read-only");
            let run = db
                .find_run(&experiment_id(r), &run_id(r))
                .expect("the run exists");
            let params = db.run(run).expect("run").params.len();
            (params, db.latest(run, METRICS[0]).expect("latest"))
        }
        _ => {
            let found = RunLookup::find(dir, Some(&experiment_id(r)), &run_id(r)).expect("lookup");
            let run = found.first().expect("the run exists");
            assert!(!run.opened_whole(), "read from the index");
            (
                run.info().params.len(),
                run.latest(METRICS[0]).expect("latest"),
            )
        }
    };
    let elapsed = start.elapsed();
    println!(
        "{} {} {} {}",
        elapsed.as_secs_f64() * 1e3,
        status_kib("VmHWM:"),
        params,
        latest.value
    );
}

fn measure(runs: usize) {
    let dir = tempfile::tempdir().expect("scratch dir");
    let written_before = bytes_written();
    let start = Instant::now();
    let db = Db::builder(dir.path())
        .durability(Durability::Buffered)
        .open()
        .expect("open");
    let tenth = (runs / 10).max(1);
    let mut tenth_start = Instant::now();
    let mut rates = Vec::new();
    let mut slowest = Duration::ZERO;
    for r in 0..runs {
        let run_start = Instant::now();
        log_run(&db, r);
        slowest = slowest.max(run_start.elapsed());
        if (r + 1) % tenth == 0 {
            rates.push(tenth as f64 / tenth_start.elapsed().as_secs_f64());
            tenth_start = Instant::now();
        }
    }
    // Readers then open a database with nothing left to replay.
    db.flush().expect("flush");
    db.close().expect("close");
    let elapsed = start.elapsed().as_secs_f64();
    let written = bytes_written() - written_before;
    let size = size_of(dir.path());
    // The catalog file, or the MANIFEST that held the catalog before it.
    let catalog = size_of(&dir.path().join("catalog"));
    println!("## {runs} runs");
    println!(
        "ingest: {:.0} runs/s overall ({elapsed:.1} s, with the last flush); per tenth: {}",
        runs as f64 / elapsed,
        rates
            .iter()
            .map(|r| format!("{r:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "slowest run (its 9 write calls): {:.1} ms",
        slowest.as_secs_f64() * 1e3
    );
    println!(
        "bytes written: {:.1} MB for a database of {:.1} MB ({:.2}x); catalog {:.1} MB",
        written as f64 / 1e6,
        size as f64 / 1e6,
        written as f64 / size as f64,
        catalog as f64 / 1e6
    );
    let exe = std::env::current_exe().expect("own path");
    let mut answers = Vec::new();
    for (how, what) in [
        ("whole", "read-only open"),
        ("lookup", "RunLookup (only where the run is)"),
    ] {
        let mut probes = Vec::new();
        for _ in 0..3 {
            let out = std::process::Command::new(&exe)
                .arg("--probe")
                .arg(dir.path())
                .arg((runs / 2).to_string())
                .arg(how)
                .output()
                .expect("probe");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let text = String::from_utf8(out.stdout).expect("utf-8");
            let fields: Vec<f64> = text
                .split_whitespace()
                .map(|f| f.parse().expect("number"))
                .collect();
            probes.push((fields[0], fields[1] / 1024.0));
            answers.push((fields[2], fields[3]));
        }
        println!(
            "{what} + one run's params and latest: {} (peak RSS MiB)",
            probes
                .iter()
                .map(|(ms, mib)| format!("{ms:.0} ms ({mib:.0})"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");
    let db = Db::open_read_only(dir.path()).expect("open read-only");
    let segments = db.segment_files();
    println!(
        "segments: {}, levels {:?}",
        segments.len(),
        segments
            .iter()
            .map(|s| s.1)
            .collect::<std::collections::BTreeSet<_>>()
    );
    for (what, metrics) in [
        ("every metric's", None),
        ("one metric's", Some(vec![METRICS[0].to_string()])),
    ] {
        let filter = RunFilter {
            metrics,
            ..RunFilter::default()
        };
        let mut lists = Vec::new();
        for _ in 0..5 {
            let start = Instant::now();
            let listed = db.runs(&filter);
            lists.push(start.elapsed().as_secs_f64() * 1e3);
            assert_eq!(listed.len(), runs);
            assert!(listed.iter().all(|s| s.metric(METRICS[0]).is_some()));
        }
        lists.sort_by(f64::total_cmp);
        println!(
            "full run list with {what} last/min/max: median {:.0} ms (of {:.0}-{:.0})",
            lists[2], lists[0], lists[4]
        );
    }
    println!();
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--probe") {
        probe(
            Path::new(&args[1]),
            args[2].parse().expect("run index"),
            &args[3],
        );
        return;
    }
    let counts: Vec<usize> = if args.is_empty() {
        vec![10_000, 100_000, 1_000_000]
    } else {
        args.iter()
            .map(|a| a.parse().expect("a run count"))
            .collect()
    };
    for runs in counts {
        measure(runs);
    }
}
