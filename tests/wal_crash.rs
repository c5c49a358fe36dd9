//! A real crash test: a child process appends to a WAL and reports each
//! durable LSN; the parent kills it with SIGKILL at a random moment, then
//! checks that every acknowledged record is there and the log is an exact
//! prefix of the deterministic sequence. The next child reopens the same
//! log (cutting any torn tail) and carries on.
//!
//! `RUNLOG_CRASH_ITERATIONS=5000 cargo test -p runlog-tests --test wal_crash`
//! runs the long mode.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use runlog_tests::{crash_test_setup, run_and_kill, wal_payload};
use runlog_wal::{FsStorage, Lsn, RecoveryMode, WalReader};

const DEFAULT_ITERATIONS: u64 = 50;

#[test]
fn acknowledged_records_survive_sigkill() {
    let (iterations, mut rng, seed) = crash_test_setup("crash test", DEFAULT_ITERATIONS);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut max_acked = Lsn(0);
    for iteration in 0..iterations {
        let mode = if iteration % 2 == 0 { "sync" } else { "group" };
        let delay = Duration::from_micros(500 + rng.below(40_000));
        let mut child = Command::new(env!("CARGO_BIN_EXE_wal-crash-child"));
        child
            .arg(dir.path())
            .arg(mode)
            .arg(rng.below(u64::MAX).to_string());
        let acked = Lsn(run_and_kill(child, delay).unwrap_or(0));
        max_acked = max_acked.max(acked);

        let records: Vec<_> = WalReader::open(
            Arc::new(FsStorage),
            dir.path(),
            RecoveryMode::TolerateCorruptTail,
            Lsn(0),
        )
        .and_then(|reader| reader.collect::<Result<Vec<_>, _>>())
        .unwrap_or_else(|e| panic!("iteration {iteration} (seed {seed}): {e}"));
        for pair in records.windows(2) {
            assert_eq!(pair[1].lsn, pair[0].lsn.next(), "seed {seed}: consecutive");
        }
        for record in &records {
            assert_eq!(
                record.payload[..],
                wal_payload(record.lsn)[..],
                "seed {seed}: payload of record {}",
                record.lsn
            );
        }
        let last = records.last().map_or(Lsn(0), |r| r.lsn);
        assert!(
            last >= max_acked,
            "iteration {iteration} (seed {seed}): record {max_acked} was acknowledged, the log ends at {last}"
        );
    }
    assert!(
        max_acked > Lsn(0),
        "the children acknowledged records before being killed"
    );
}
