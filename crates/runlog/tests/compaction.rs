//! The compactor keeps at most `COMPACTION_FANIN - 1` segments per level
//! with flushes landing while it merges (a tiny memtable, many batches).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use runlog::{COMPACTION_FANIN, Db, Durability};

#[test]
fn flushes_during_merges_leave_at_most_fanin_minus_one_per_level() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::builder(dir.path())
        .durability(Durability::Buffered)
        .memtable_bytes(64 << 10)
        .open()
        .unwrap();
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
