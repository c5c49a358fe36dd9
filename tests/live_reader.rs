//! A second process watches a live run grow: the engine crash child writes
//! while this test, in another process, holds a read-only handle and
//! refreshes it.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use runlog::{Db, Error};

#[test]
fn a_read_only_process_sees_a_live_run_grow() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut writer = Command::new(env!("CARGO_BIN_EXE_engine-crash-child"))
        .arg(dir.path())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn the writer");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut sizes = Vec::new();
    while sizes.len() < 4 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        let reader = match Db::open_read_only(dir.path()) {
            Ok(reader) => reader,
            Err(Error::Io { .. }) => continue, // the writer has not created it yet
            Err(e) => panic!("{e}"),
        };
        let Some(run) = reader.find_run("crash", "run") else {
            continue;
        };
        reader.refresh().expect("refresh while the writer runs");
        let held = reader.history(run, "loss", ..).expect("history").len();
        if sizes.last().is_none_or(|&last| held > last) {
            sizes.push(held);
        }
    }
    writer.kill().expect("stop the writer");
    writer.wait().expect("reap the writer");
    assert!(sizes.len() >= 4, "the reader saw the run grow: {sizes:?}");
}
