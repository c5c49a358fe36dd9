//! A run that keeps writing has its full chunks encoded in the background
//! ("sealed") while they are still in the memtable; every read sees the
//! same points before and after, and across an out-of-order point among
//! sealed ones, a flush and a reopen.

use std::time::{Duration, Instant};

use runlog::{Db, Durability, SegmentOptions};

const CHUNK: usize = 256;

fn open(dir: &std::path::Path) -> Db {
    Db::builder(dir)
        .durability(Durability::Buffered)
        .segment_options(SegmentOptions {
            chunk_points: CHUNK,
            ..SegmentOptions::default()
        })
        .open()
        .unwrap()
}

/// Waits until at least `chunks` chunks are sealed.
fn wait_for_sealed(db: &Db, chunks: u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while db.memtable_usage().sealed_chunks < chunks {
        assert!(
            Instant::now() < deadline,
            "only {:?} after 20 s",
            db.memtable_usage()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn values(db: &Db, run: runlog::RunId) -> Vec<(i64, f64)> {
    let history = db.history(run, "loss", ..).unwrap();
    history.steps.into_iter().zip(history.values).collect()
}

#[test]
fn full_chunks_are_sealed_while_a_run_writes_and_read_back_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let run = db.create_run("exp", "long").unwrap();
    let mut expected = Vec::new();
    for first in (0..10_000i64).step_by(100) {
        let batch: Vec<_> = (first..first + 100)
            .map(|s| ("loss", s, 1_000 * s, f64::from((s as f32).sin())))
            .collect();
        db.log_batch(run, &batch).unwrap();
        expected.extend(batch.iter().map(|p| (p.1, p.3)));
    }
    let full_chunks = (10_000 / CHUNK) as u64;
    wait_for_sealed(&db, full_chunks);
    let usage = db.memtable_usage();
    assert_eq!(usage.points, 10_000);
    assert_eq!(usage.frozen, 0, "{usage:?}");
    assert_eq!(values(&db, run), expected);
    assert_eq!(
        db.history(run, "loss", 300..=310).unwrap().steps,
        (300..=310).collect::<Vec<_>>(),
        "a range inside one sealed chunk"
    );

    // A point among sealed ones: it goes after the points of its step.
    db.log_at(run, "loss", 500, 0, -1.0).unwrap();
    expected.insert(501, (500, -1.0));
    assert_eq!(values(&db, run), expected);
    assert_eq!(db.latest(run, "loss").unwrap().step, 9_999);
    wait_for_sealed(&db, full_chunks);
    assert_eq!(values(&db, run), expected, "sealed again");

    db.flush().unwrap();
    assert_eq!(db.memtable_usage().points, 0);
    assert_eq!(values(&db, run), expected);
    let stats = db.stats(run, "loss").unwrap();
    assert_eq!(stats.count, 10_001);
    assert_eq!(stats.min, -1.0);
    db.close().unwrap();
    let db = open(dir.path());
    assert_eq!(values(&db, run), expected);
}
