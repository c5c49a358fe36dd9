//! Writers, readers, flushes and compactions at the same time: each reader
//! only ever sees, per metric, a prefix of what its writer logged, growing;
//! at the end everything is there exactly once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use runlog::{Db, Durability, RunId, SegmentOptions};

const WRITERS: u64 = 3;
const STEPS: i64 = 6000;

fn value(run: u64, step: i64) -> f64 {
    (run * 1_000_000) as f64 + step as f64
}

#[test]
fn readers_see_growing_prefixes_while_writers_flush_and_compact() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::builder(dir.path())
        .durability(Durability::Buffered)
        .memtable_bytes(64 << 10)
        .segment_options(SegmentOptions {
            chunk_points: 256,
            ..SegmentOptions::default()
        })
        .open()
        .unwrap();
    let runs: Vec<RunId> = (0..WRITERS)
        .map(|w| db.create_run("stress", &format!("writer-{w}")).unwrap())
        .collect();
    let done = AtomicBool::new(false);
    thread::scope(|scope| {
        let writers: Vec<_> = runs
            .iter()
            .map(|&run| {
                let db = &db;
                scope.spawn(move || {
                    for step in 0..STEPS {
                        let v = value(run.0, step);
                        db.log_batch(run, &[("a", step, step, v), ("b", step, step, -v)])
                            .unwrap();
                    }
                })
            })
            .collect();
        for _ in 0..2 {
            let (db, runs, done) = (&db, &runs, &done);
            scope.spawn(move || {
                let mut seen = vec![0usize; runs.len()];
                while !done.load(Ordering::Acquire) {
                    for (i, &run) in runs.iter().enumerate() {
                        let Ok(history) = db.history(run, "a", ..) else {
                            continue; // the metric does not exist yet
                        };
                        let expected: Vec<i64> = (0..history.len() as i64).collect();
                        assert_eq!(history.steps, expected, "a prefix, each step once");
                        assert!(
                            history
                                .values
                                .iter()
                                .zip(0..)
                                .all(|(&v, s)| v == value(run.0, s))
                        );
                        assert!(history.len() >= seen[i], "never shrinks");
                        seen[i] = history.len();
                        let latest = db.latest(run, "a").unwrap();
                        assert!(latest.step as usize + 1 >= seen[i]);
                    }
                }
            });
        }
        for writer in writers {
            writer.join().unwrap();
        }
        db.flush().unwrap();
        done.store(true, Ordering::Release);
    });
    assert!(
        db.segment_files().len() < 12,
        "compaction kept the file count bounded"
    );
    for &run in &runs {
        for (name, sign) in [("a", 1.0), ("b", -1.0)] {
            let history = db.history(run, name, ..).unwrap();
            assert_eq!(history.len(), STEPS as usize);
            assert!(
                history
                    .values
                    .iter()
                    .zip(0..)
                    .all(|(&v, s)| v == sign * value(run.0, s))
            );
            assert_eq!(db.stats(run, name).unwrap().count, STEPS as u64);
        }
    }
}
