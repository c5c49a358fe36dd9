//! How many segments the compactor leaves: logs many small batches with a
//! tiny memtable, so that flushes land while merges run, and reports the
//! segments per level when the compactor has caught up. The policy
//! promises at most `COMPACTION_FANIN - 1` per level, so a read touches a
//! number of segments logarithmic in the number of flushes.
//!
//! `cargo run --release -p runlog-benches --bin segment-count [-- BATCHES]`

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use runlog::{COMPACTION_FANIN, Db, Durability};

fn per_level(db: &Db) -> BTreeMap<u32, usize> {
    let mut levels = BTreeMap::new();
    for (_, level, _) in db.segment_files() {
        *levels.entry(level).or_insert(0) += 1;
    }
    levels
}

fn main() -> runlog::Result<()> {
    let batches: usize = std::env::args()
        .nth(1)
        .map_or(20_000, |n| n.parse().expect("BATCHES is a number"));
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = Db::builder(dir.path())
        .durability(Durability::Buffered)
        .memtable_bytes(64 << 10)
        .open()?;
    let run = db.create_run("bench", "small-batches")?;
    let started = Instant::now();
    for batch in 0..batches {
        let step = batch as i64 * 10;
        let points: Vec<(&str, i64, i64, f64)> = (0..10)
            .flat_map(|i| {
                let s = step + i;
                [
                    ("loss", s, s, 1.0 / (s + 1) as f64),
                    ("acc", s, s, s as f64 * 1e-6),
                ]
            })
            .collect();
        db.log_batch(run, &points)?;
    }
    db.flush()?;
    let logged = started.elapsed();
    // Let the compactor catch up: at most FANIN - 1 per level, or 60 s.
    let deadline = Instant::now() + Duration::from_secs(60);
    while per_level(&db).values().any(|&n| n >= COMPACTION_FANIN) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let levels = per_level(&db);
    let read = Instant::now();
    let points = db.history(run, "loss", ..)?.len();
    let read = read.elapsed();
    println!(
        "{batches} batches of 20 points, 64 KiB memtable: logged in {:.2} s",
        logged.as_secs_f64()
    );
    println!(
        "segments: {} ({})",
        levels.values().sum::<usize>(),
        levels
            .iter()
            .rev()
            .map(|(level, n)| format!("level {level}: {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "history of loss: {points} points from every segment in {:.2} ms",
        read.as_secs_f64() * 1e3
    );
    db.close()
}
