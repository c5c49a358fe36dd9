//! A real crash test of the engine: a child process logs batches of 10
//! metrics with a tiny memtable and small chunks (so flushes, compactions
//! and sealing run all the time) and reports each acknowledged step; the
//! parent kills it with SIGKILL at a random moment, reopens the database
//! and checks that every acknowledged step is there, each metric's history
//! is an exact prefix with no duplicates, and the statistics equal ones
//! recomputed from the history. The same holds for the run's text log,
//! text series and artifacts (whole, byte for byte), and after the writer
//! reopens, `verify` finds every blob intact and none left unreferenced.
//!
//! `RUNLOG_CRASH_ITERATIONS=2000 cargo test --release -p runlog-tests --test engine_crash`
//! runs the long mode.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use runlog::Db;
use runlog_tests::{
    ARTIFACT_EVERY, ENGINE_METRICS, crash_test_setup, engine_artifact, engine_artifact_path,
    engine_log_line, engine_phase, engine_timestamp, engine_value, run_and_kill, run_and_kill_when,
};

/// Whether a segment file is being written (a flush or compaction under
/// way): its temporary file exists.
fn segment_write_in_progress(dir: &Path) -> bool {
    std::fs::read_dir(dir.join("segments")).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.file_name().to_string_lossy().ends_with(".seg.tmp"))
    })
}

const DEFAULT_ITERATIONS: u64 = 50;

/// Checks the database after a kill; returns the number of steps it holds.
fn check(db: &Db, max_acked: Option<i64>, context: &str) -> i64 {
    let Some(run) = db.find_run("crash", "run") else {
        assert!(max_acked.is_none(), "{context}: run lost");
        return 0;
    };
    let mut steps_held = None;
    for (m, name) in ENGINE_METRICS.iter().enumerate() {
        // A kill between the run's creation and its first batch leaves
        // the run without metrics.
        let history = match db.history(run, name, ..) {
            Ok(history) => history,
            Err(runlog::Error::UnknownSeries { .. }) => runlog::Columns::default(),
            Err(e) => panic!("{context}: history of {name}: {e}"),
        };
        let expected: Vec<i64> = (0..history.len() as i64).collect();
        assert_eq!(
            history.steps, expected,
            "{context}: {name} holds each step once, from 0"
        );
        for (i, &value) in history.values.iter().enumerate() {
            assert_eq!(
                value.to_bits(),
                engine_value(m, i as i64).to_bits(),
                "{context}: {name}[{i}]"
            );
            assert_eq!(history.timestamps[i], engine_timestamp(i as i64));
        }
        let held = history.len() as i64;
        assert_eq!(
            *steps_held.get_or_insert(held),
            held,
            "{context}: batches are atomic"
        );
        if let Some(acked) = max_acked {
            assert!(
                held > acked,
                "{context}: step {acked} was acknowledged, {name} holds {held} steps"
            );
        }
        if held > 0 {
            let stats = db.stats(run, name).expect("stats");
            let numbers: Vec<f64> = history
                .values
                .iter()
                .copied()
                .filter(|v| !v.is_nan())
                .collect();
            assert_eq!(stats.count, held as u64, "{context}: {name} count");
            assert_eq!(stats.last_step, held - 1);
            assert_eq!(
                stats.last_value.to_bits(),
                history.values[held as usize - 1].to_bits()
            );
            if let (Some(min), Some(max)) = (
                numbers.iter().copied().min_by(f64::total_cmp),
                numbers.iter().copied().max_by(f64::total_cmp),
            ) {
                assert_eq!(
                    (stats.min.to_bits(), stats.max.to_bits()),
                    (min.to_bits(), max.to_bits())
                );
            }
        }
    }
    check_contents(db, run, max_acked, context);
    steps_held.unwrap_or(0)
}

/// The log, text series and artifacts: exact prefixes of what the child
/// writes, holding every acknowledged step, nothing torn.
fn check_contents(db: &Db, run: runlog::RunId, max_acked: Option<i64>, context: &str) {
    let must_hold = max_acked.map_or(0, |a| a + 1);
    let lines = match db.log_lines(run, "stdout", 0, usize::MAX) {
        Ok(read) => {
            assert_eq!(read.unterminated, None, "{context}: a torn log line");
            read.lines
        }
        Err(runlog::Error::UnknownSeries { .. }) => Vec::new(),
        Err(e) => panic!("{context}: log: {e}"),
    };
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(
            format!("{line}\n"),
            engine_log_line(i as i64),
            "{context}: line {i}"
        );
    }
    assert!(
        lines.len() as i64 >= must_hold,
        "{context}: {} log lines",
        lines.len()
    );
    let phases = db.text_history(run, "phase").unwrap_or_default();
    for (i, point) in phases.iter().enumerate() {
        let step = i as i64;
        assert_eq!(
            (point.step, point.timestamp, point.value.as_str()),
            (step, engine_timestamp(step), engine_phase(step).as_str()),
            "{context}: phase {i}"
        );
    }
    assert!(
        phases.len() as i64 >= must_hold,
        "{context}: {} phases",
        phases.len()
    );
    let artifacts = db.artifacts(run, "ckpt").expect("artifacts");
    let mut steps: Vec<i64> = Vec::new();
    for artifact in &artifacts {
        let step: i64 = artifact.path["ckpt/step-".len()..artifact.path.len() - 4]
            .parse()
            .expect("the child's paths");
        assert_eq!(artifact.path, engine_artifact_path(step));
        let bytes = db
            .read_artifact(run, &artifact.path)
            .unwrap_or_else(|e| panic!("{context}: {}: {e}", artifact.path));
        assert!(
            bytes == engine_artifact(step),
            "{context}: {} differs",
            artifact.path
        );
        steps.push(step);
    }
    steps.sort_unstable();
    let expected: Vec<i64> = (0..steps.len() as i64)
        .map(|i| i * ARTIFACT_EVERY)
        .collect();
    assert_eq!(steps, expected, "{context}: artifacts form a prefix");
    let acked_artifacts = (must_hold + ARTIFACT_EVERY - 1) / ARTIFACT_EVERY;
    assert!(
        steps.len() as i64 >= acked_artifacts,
        "{context}: {} artifacts",
        steps.len()
    );
}

#[test]
fn acknowledged_points_survive_sigkill_during_flushes_and_compactions() {
    let (iterations, mut rng, seed) = crash_test_setup("engine crash test", DEFAULT_ITERATIONS);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut max_acked: Option<i64> = None;
    let mut segments_seen = 0;
    let mut in_segment_write = 0;
    for iteration in 0..iterations {
        let mut child = Command::new(env!("CARGO_BIN_EXE_engine-crash-child"));
        child.arg(dir.path()).arg("--contents");
        // Every other kill is steered into a flush or compaction: at the
        // first sight of a segment being written (or after 3 s); the
        // others land at random.
        let acked = if iteration % 2 == 1 {
            let start = Instant::now();
            run_and_kill_when(child, || {
                segment_write_in_progress(dir.path()) || start.elapsed() > Duration::from_secs(3)
            })
        } else {
            run_and_kill(child, Duration::from_millis(5 + rng.below(120)))
        }
        .map(|step| step as i64);
        // Where it landed: a temporary segment file left behind means a
        // segment write was cut short.
        if segment_write_in_progress(dir.path()) {
            in_segment_write += 1;
        }
        max_acked = max_acked.max(acked);
        let context = format!("iteration {iteration} (seed {seed})");
        // Read-only first (changes nothing), then as the next writer would.
        match Db::open_read_only(dir.path()) {
            Ok(reader) => {
                check(&reader, max_acked, &context);
            }
            // Killed while creating the database: nothing was acknowledged,
            // and the next writer creates it.
            Err(runlog::Error::NotADatabase { .. }) if max_acked.is_none() => {}
            Err(e) => panic!("{context}: {e}"),
        }
        // Without background threads, so that no seal makes a new chunk
        // blob (referenced by the next manifest only) before `verify`.
        let db = Db::builder(dir.path())
            .background_threads(false)
            .open()
            .unwrap_or_else(|e| panic!("{context}: reopen: {e}"));
        check(&db, max_acked, &context);
        segments_seen = segments_seen.max(db.segment_files().len());
        db.close().expect("close");
        // The writer's open collected what a kill left of a put.
        let report = runlog::inspect::verify(dir.path()).expect("verify");
        assert!(
            report.problems.is_empty(),
            "{context}: {:?}",
            report.problems
        );
        let unreferenced: Vec<_> = report
            .notes
            .iter()
            .filter(|n| n.message.contains("nothing references"))
            .collect();
        assert!(unreferenced.is_empty(), "{context}: {unreferenced:?}");
    }
    assert!(
        max_acked.is_some_and(|s| s > 0),
        "the children logged before being killed"
    );
    assert!(segments_seen > 0, "flushes happened during the test");
    println!("{iterations} kills, {in_segment_write} of them inside a segment write");
    assert!(
        in_segment_write > 0,
        "no kill landed inside a flush or compaction"
    );
}
