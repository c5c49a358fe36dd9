//! A second process watches a live run grow: the engine crash child writes
//! (flushing, compacting and truncating its WAL all the time, with a 64 KiB
//! memtable) while this test holds one read-only handle open across all of
//! it and refreshes it. Every refresh must show exactly the points the
//! writer had acknowledged by then, or later ones, each with its value.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use runlog::{Db, Error};
use runlog_tests::{ENGINE_METRICS, engine_timestamp, engine_value};

#[test]
fn one_read_only_handle_follows_a_live_run_exactly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut writer = Command::new(env!("CARGO_BIN_EXE_engine-crash-child"))
        .arg(dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn the writer");
    // The last step the writer acknowledged, as it prints them.
    let acked = Arc::new(AtomicI64::new(-1));
    let lines = BufReader::new(writer.stdout.take().expect("piped")).lines();
    let seen = Arc::clone(&acked);
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            if let Some(step) = line.strip_prefix("acked ").and_then(|s| s.parse().ok()) {
                seen.store(step, Ordering::SeqCst);
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let (reader, run) = loop {
        assert!(
            Instant::now() < deadline,
            "the writer never created its run"
        );
        std::thread::sleep(Duration::from_millis(20));
        match Db::open_read_only(dir.path()) {
            Ok(reader) => match reader.find_run("crash", "run") {
                Some(run) => break (reader, run),
                None => continue,
            },
            Err(Error::Io { .. } | Error::NotADatabase { .. }) => continue, // not created yet
            Err(e) => panic!("{e}"),
        }
    };
    let mut refreshes = 0;
    let mut last_len = 0;
    while refreshes < 40 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(25));
        let acknowledged = acked.load(Ordering::SeqCst);
        reader.refresh().expect("refresh while the writer runs");
        for (m, &metric) in ENGINE_METRICS.iter().enumerate() {
            let history = reader.history(run, metric, ..).expect("history");
            assert!(
                history.len() as i64 > acknowledged,
                "{metric}: {} points seen, step {acknowledged} was acknowledged",
                history.len()
            );
            for (i, &step) in history.steps.iter().enumerate() {
                assert_eq!(step, i as i64, "{metric}: steps in order, none missing");
                assert_eq!(history.timestamps[i], engine_timestamp(step));
                assert_eq!(
                    history.values[i].to_bits(),
                    engine_value(m, step).to_bits(),
                    "{metric} at step {step}"
                );
            }
            if m == 0 {
                last_len = history.len();
            }
        }
        refreshes += 1;
    }
    writer.kill().expect("stop the writer");
    writer.wait().expect("reap the writer");
    assert_eq!(refreshes, 40, "the reader refreshed throughout");
    assert!(
        last_len > 1000,
        "the run grew past several flushes: {last_len}"
    );
}
