//! Replays the checked-in seed corpus of every fuzz target under stable
//! Rust, so the fuzz bodies run in every CI build, not only under nightly.

use std::path::Path;

#[path = "../fuzz/bodies/segment_open.rs"]
mod segment_open;
#[path = "../fuzz/bodies/wal_replay.rs"]
mod wal_replay;

/// Runs `body` over every file in `fuzz/seeds/<target>/`; returns how many.
fn replay_seeds(target: &str, body: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/seeds")
        .join(target);
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("seed entry").path();
        let data = std::fs::read(&path).expect("seed reads");
        body(&data);
        count += 1;
    }
    count
}

#[test]
fn wal_replay_seeds() {
    assert!(replay_seeds("wal_replay", wal_replay::run) >= 3);
}

#[test]
fn segment_open_seeds() {
    assert!(replay_seeds("segment_open", segment_open::run) >= 1);
}
