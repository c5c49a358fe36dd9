//! The comparison harness runs in its quick mode with the tests, so it
//! cannot rot. It checks the table is complete; it asserts no timing
//! (speed belongs to the benches).

use std::process::Command;

#[test]
fn the_comparison_harness_runs_and_prints_every_row() {
    let out = Command::new(env!("CARGO_BIN_EXE_compare"))
        .arg("--quick")
        .output()
        .expect("run compare");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    assert_eq!(text.matches("### ").count(), 2, "both workloads: {text}");
    for row in [
        "| ingest,",
        "| bytes on disk",
        "| history of one metric, points/s",
        "| history of every metric of a run",
        "| history of one metric after a full compaction",
        "| latest of all 10",
        "| run-list summaries",
        "Ceilings:",
    ] {
        assert_eq!(text.matches(row).count(), 2, "{row} in both tables");
    }
}
