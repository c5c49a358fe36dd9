//! The compactor keeps at most `COMPACTION_FANIN - 1` segments per level
//! of one series with flushes landing while it merges (a tiny memtable,
//! many batches), and leaves segments that share no series as they are.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use runlog::{COMPACTION_FANIN, Db, Durability};

/// A database whose memtable flushes every 64 KiB, so that flushes land
/// while merges run.
fn tiny_memtable(dir: &Path) -> Db {
    Db::builder(dir)
        .durability(Durability::Buffered)
        .memtable_bytes(64 << 10)
        .open()
        .unwrap()
}

#[test]
fn flushes_during_merges_leave_at_most_fanin_minus_one_per_level() {
    let dir = tempfile::tempdir().unwrap();
    let db = tiny_memtable(dir.path());
    let run = db.create_run("e", "r").unwrap();
    let mut expected = 0;
    for batch in 0..3000i64 {
        let points: Vec<(&str, i64, i64, f64)> = (0..10)
            .map(|i| ("loss", batch * 10 + i, 0, i as f64))
            .collect();
        db.log_batch(run, &points).unwrap();
        expected += points.len();
    }
    db.flush().unwrap();
    let per_level = || {
        let mut levels = BTreeMap::new();
        for (_, level, _) in db.segment_files() {
            *levels.entry(level).or_insert(0usize) += 1;
        }
        levels
    };
    // A bound on a hang, not a timing: the compactor catches up.
    let deadline = Instant::now() + Duration::from_secs(120);
    while per_level().values().any(|&n| n >= COMPACTION_FANIN) {
        assert!(
            Instant::now() < deadline,
            "never caught up: {:?}",
            per_level()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let levels: Vec<u32> = db.segment_files().iter().map(|f| f.1).collect();
    assert!(
        levels.windows(2).all(|p| p[0] >= p[1]),
        "ordered: {levels:?}"
    );
    assert!(levels.len() <= 3 * 6, "{levels:?}");
    assert_eq!(db.history(run, "loss", ..).unwrap().len(), expected);
}

/// Many short runs, each logged whole before the next starts, as an
/// import or a sweep writes them: every flush holds only series newer than
/// the segments before it. Merging such segments would only copy them, so
/// the compactor leaves them as they were flushed, and reads still find
/// every point.
#[test]
fn flushes_of_new_runs_only_are_left_unmerged() {
    let dir = tempfile::tempdir().unwrap();
    let db = tiny_memtable(dir.path());
    let runs: Vec<_> = (0..1500)
        .map(|r| {
            let run = db.create_run("sweep", &format!("trial-{r}")).unwrap();
            let points: Vec<(&str, i64, i64, f64)> = (0..10)
                .flat_map(|s| {
                    [
                        ("loss", s, s, r as f64 + s as f64),
                        ("acc", s, s, -(s as f64)),
                    ]
                })
                .collect();
            db.log_batch(run, &points).unwrap();
            db.complete_run(run).unwrap();
            run
        })
        .collect();
    db.flush().unwrap();
    let check = |db: &Db| {
        let levels: Vec<u32> = db.segment_files().iter().map(|f| f.1).collect();
        assert!(levels.len() > 2 * COMPACTION_FANIN, "{levels:?}");
        assert!(levels.iter().all(|&l| l == 0), "merged: {levels:?}");
        for (r, &run) in runs.iter().enumerate() {
            let loss = db.history(run, "loss", ..).unwrap();
            assert_eq!(loss.steps, (0..10).collect::<Vec<i64>>());
            assert_eq!(loss.values[9], r as f64 + 9.0);
            assert_eq!(db.history(run, "acc", ..).unwrap().len(), 10);
        }
    };
    check(&db);
    db.close().unwrap();
    let db = Db::open(dir.path()).unwrap();
    check(&db);
    // An explicit compaction still merges them all.
    db.compact().unwrap();
    assert_eq!(db.segment_files().len(), 1);
    assert_eq!(db.history(runs[700], "loss", ..).unwrap().values[0], 700.0);
}
