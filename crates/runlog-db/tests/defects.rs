//! Regression tests for the defects a new user hit, each through the real
//! binary: a closed pipe, charts of extreme values, `tail` of repeated and
//! decreasing steps and of a run not yet created, `compact` and `stats`
//! with points only in the WAL, headerless CSV, a streamed import's memory,
//! and kill -9 in the middle of an import.

mod common;

use common::{bin, import_args, runlog_db};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use runlog::{Db, Durability};
use serde_json::Value;

/// Waits for `child` at most `limit`; a child still running then is a
/// hang: it is killed and the test fails.
fn wait_within(mut child: Child, limit: Duration, what: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what} still running after {limit:?}: it hangs");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_closed_pipe_ends_every_printing_command_quietly_with_success() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap();
    // Every output is far larger than a pipe's buffer (64 KiB), so the
    // command is still writing when the reader goes away.
    {
        let db = Db::open(dir.path()).unwrap();
        for r in 0..2000 {
            let run = db.create_run("e", &format!("run-{r}")).unwrap();
            let points = if r == 0 { 100_000 } else { 2 };
            db.log_list(run, "loss", &vec![0.5; points]).unwrap();
        }
        db.close().unwrap();
    }
    let commands: [&[&str]; 5] = [
        &["history", path, "0", "loss"],
        &["history", path, "0", "loss", "--json"],
        &["runs", path],
        &["runs", path, "--json"],
        &["wal", path],
    ];
    for args in commands {
        let mut child = bin()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let mut first = [0u8; 16];
        stdout.read_exact(&mut first).unwrap();
        drop(stdout); // `| head -c 16`
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        let status = child.wait().unwrap();
        assert!(status.success(), "{args:?}: {status:?}, {stderr}");
        assert!(stderr.is_empty(), "{args:?} printed {stderr}");
    }
}

#[test]
fn plot_draws_extreme_values_and_says_what_it_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap();
    {
        let db = Db::open(dir.path()).unwrap();
        let run = db.create_run("e", "extreme").unwrap();
        db.log_list(run, "max", &[f64::MAX, -f64::MAX, 1.0])
            .unwrap();
        db.log_list(run, "top", &[f64::MAX, f64::MAX]).unwrap();
        db.log_list(
            run,
            "odd",
            &[f64::NAN, 1.0, f64::INFINITY, 2.0, f64::NEG_INFINITY],
        )
        .unwrap();
        db.log_list(run, "single", &[3.5]).unwrap();
        db.log_list(run, "constant", &[0.0; 50]).unwrap();
        db.log_list(run, "wide", &[1e-300, 1e300, 1e-300]).unwrap();
        db.log_list(run, "tiny", &[5e-324, 5e-324]).unwrap();
        db.log_list(run, "none", &[f64::NAN]).unwrap();
        db.close().unwrap();
    }
    let metrics = [
        "max", "top", "odd", "single", "constant", "wide", "tiny", "none",
    ];
    for (output, extra) in [
        ("all.svg", None),
        ("all.png", None),
        ("log.svg", Some("--log-y")),
    ] {
        let out = dir.path().join(output);
        let mut args = vec!["plot", path, "extreme"];
        args.extend(metrics);
        args.extend(["-o", out.to_str().unwrap()]);
        args.extend(extra);
        let child = bin().args(&args).stderr(Stdio::piped()).spawn().unwrap();
        let status = wait_within(child, Duration::from_secs(60), output);
        assert!(status.success(), "{output}: {status:?}");
        let bytes = std::fs::read(&out).unwrap();
        assert!(bytes.len() > 1000, "{output} holds a chart");
    }
    let out = runlog_db(&[
        "plot",
        path,
        "extreme",
        "odd",
        "-o",
        dir.path().join("odd.svg").to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("odd: 3 NaN or infinite values"), "{stderr}");
    let png = std::fs::read(dir.path().join("all.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
}

/// Points a `tail` child printed: (metric, step, value).
type Printed = Arc<Mutex<Vec<(String, i64, f64)>>>;

/// Reads JSON lines from a `tail` child until `count` arrived, into the
/// shared list (so the test can wait for tail to have started).
fn tail_lines(child: &mut Child, count: usize) -> (std::thread::JoinHandle<()>, Printed) {
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let seen: Printed = Arc::default();
    let shared = Arc::clone(&seen);
    let reader = std::thread::spawn(move || {
        for line in lines {
            let value: Value = serde_json::from_str(&line.unwrap()).unwrap();
            let mut seen = shared.lock().unwrap();
            seen.push((
                value["metric"].as_str().unwrap().to_string(),
                value["step"].as_i64().unwrap(),
                value["value"].as_f64().unwrap(),
            ));
            if seen.len() == count {
                break;
            }
        }
    });
    (reader, seen)
}

/// Waits (30 s at most) until `ready` holds.
fn wait_until(what: &str, ready: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn join_within(
    (reader, seen): (std::thread::JoinHandle<()>, Printed),
    child: &mut Child,
) -> Vec<(String, i64, f64)> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !reader.is_finished() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    reader.join().unwrap();
    seen.lock().unwrap().clone()
}

#[test]
fn tail_prints_repeated_and_decreasing_steps_exactly_as_logged() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::builder(dir.path())
        .durability(Durability::Sync)
        .open()
        .unwrap();
    let run = db.create_run("e", "resumed").unwrap();
    db.log_at(run, "loss", 7, 0, 0.7).unwrap();
    let mut tail = bin()
        .args(["tail", dir.path().to_str().unwrap(), "e/resumed", "--json"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // A run that repeats steps and goes back (resumed from a checkpoint),
    // and a second metric, each point acknowledged while tail follows.
    let logged = [
        (5, 0.5),
        (5, 0.55),
        (3, 0.3),
        (3, 0.33),
        (10, 1.0),
        (1, 0.1),
    ];
    let reader = tail_lines(&mut tail, 1 + logged.len() + 1);
    // Tail has read the history (so it follows from here) once it printed it.
    let printed = Arc::clone(&reader.1);
    wait_until("tail printed the history", || {
        !printed.lock().unwrap().is_empty()
    });
    for (i, &(step, value)) in logged.iter().enumerate() {
        db.log_at(run, "loss", step, i as i64, value).unwrap();
        if i == 2 {
            db.flush().unwrap(); // a flush in the middle loses nothing
        }
    }
    db.log_at(run, "acc", 1, 0, 0.9).unwrap();
    let mut expected = vec![("loss".to_string(), 7, 0.7)];
    expected.extend(logged.iter().map(|&(s, v)| ("loss".to_string(), s, v)));
    expected.push(("acc".to_string(), 1, 0.9));
    assert_eq!(join_within(reader, &mut tail), expected);
}

/// What a child writes to standard error, gathered as it comes.
fn stderr_of(child: &mut Child) -> Arc<Mutex<String>> {
    let lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let text: Arc<Mutex<String>> = Arc::default();
    let shared = Arc::clone(&text);
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            let mut text = shared.lock().unwrap();
            text.push_str(&line);
            text.push('\n');
        }
    });
    text
}

#[test]
fn tail_waits_for_a_run_not_yet_created_and_names_a_metric_it_lacks() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::builder(dir.path())
        .durability(Durability::Sync)
        .open()
        .unwrap();
    db.create_run("e", "first").unwrap();
    let mut tail = bin()
        .args([
            "tail",
            dir.path().to_str().unwrap(),
            "e/later",
            "loss",
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = stderr_of(&mut tail);
    let reader = tail_lines(&mut tail, 2);
    wait_until("tail says it waits", || {
        stderr
            .lock()
            .unwrap()
            .contains("waiting for run \"e/later\"")
    });
    let run = db.create_run("e", "later").unwrap();
    db.log_list(run, "loss", &[2.0, 1.0]).unwrap();
    let seen = join_within(reader, &mut tail);
    assert_eq!(
        seen,
        [("loss".to_string(), 0, 2.0), ("loss".to_string(), 1, 1.0)]
    );

    let mut lacking = bin()
        .args(["tail", dir.path().to_str().unwrap(), "e/later", "accuracy"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = stderr_of(&mut lacking);
    wait_until("tail names the metric the run lacks", || {
        stderr
            .lock()
            .unwrap()
            .contains("no metric \"accuracy\" yet (it has loss)")
    });
    lacking.kill().unwrap();
    lacking.wait().unwrap();
}

#[test]
fn compact_flushes_the_wal_first_and_stats_counts_every_point() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap();
    {
        let db = Db::open(dir.path()).unwrap();
        let run = db.create_run("e", "r").unwrap();
        db.log_list(run, "loss", &vec![1.0; 3000]).unwrap();
        db.close().unwrap(); // nothing flushed: every point is in the WAL
    }
    let stats: Value =
        serde_json::from_slice(&runlog_db(&["stats", path, "--json"]).stdout).unwrap();
    assert_eq!(
        (stats["points"].as_u64(), stats["wal_points"].as_u64()),
        (Some(3000), Some(3000))
    );
    let text = String::from_utf8(runlog_db(&["stats", path]).stdout).unwrap();
    assert!(text.contains("3000 in the WAL not yet flushed"), "{text}");
    let out = runlog_db(&["compact", path]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("flushed 3000 points"));
    let stats: Value =
        serde_json::from_slice(&runlog_db(&["stats", path, "--json"]).stdout).unwrap();
    assert_eq!(stats["segment_points"], 3000);
    assert_eq!(stats["wal_points"], 0);
    assert_eq!(stats["segments"].as_array().unwrap().len(), 1);
}

#[test]
fn a_csv_without_its_header_row_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("headless.csv");
    std::fs::write(&csv, "r,e,loss,0,0,1.5\nr,e,loss,1,0,1.25\n").unwrap();
    let db = dir.path().join("db");
    let out = runlog_db(&import_args(&db, "csv", &csv, &[]));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("line 1") && stderr.contains("header row"),
        "{stderr}"
    );
    assert!(!db.exists(), "nothing written");
}

/// Writes a CSV of `points` points of one run, steps 0.., and returns it.
fn big_csv(dir: &Path, points: u64) -> std::path::PathBuf {
    let path = dir.join("big.csv");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    writeln!(file, "run,experiment,metric,step,timestamp_ms,value").unwrap();
    for step in 0..points {
        let metric = ["loss", "acc", "lr", "grad_norm"][step as usize % 4];
        writeln!(
            file,
            "run-1,exp,{metric},{step},{},{}",
            1_700_000_000_000 + step,
            step as f64 * 0.001
        )
        .unwrap();
    }
    file.flush().unwrap();
    path
}

/// Runs `child` to its end and returns its exit status and peak resident
/// memory in bytes, from the kernel's accounting (`wait4`).
#[allow(
    unsafe_code,
    reason = "wait4 is the one call that reports a child's peak memory"
)]
fn peak_memory(child: Child) -> (i32, u64) {
    let mut status = 0;
    // SAFETY: `rusage` is plain data the kernel fills in; `wait4` reaps
    // the child we own, by its pid.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        let pid = child.id() as libc::pid_t;
        assert_eq!(libc::wait4(pid, &mut status, 0, &mut usage), pid);
        usage
    };
    (status, usage.ru_maxrss as u64 * 1024)
}

#[test]
fn import_and_parquet_export_stream_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    // 4M points (about 180 MB of CSV): the old import held the whole file
    // (over 5x its size); streaming holds one batch.
    let points = 4_000_000;
    let csv = big_csv(dir.path(), points);
    let file_size = std::fs::metadata(&csv).unwrap().len();
    let db_path = dir.path().join("db");
    let child = bin()
        .args(import_args(&db_path, "csv", &csv, &[]))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (status, peak) = peak_memory(child);
    assert_eq!(status, 0);
    assert!(
        peak < 160 << 20,
        "peak RSS {} MiB for a {} MiB file",
        peak >> 20,
        file_size >> 20
    );
    let db = Db::open_read_only(&db_path).unwrap();
    let run = db.find_run("exp", "run-1").unwrap();
    let total: u64 = ["loss", "acc", "lr", "grad_norm"]
        .iter()
        .map(|m| db.stats(run, m).unwrap().count)
        .sum();
    assert_eq!(total, points);
    drop(db);

    // The Parquet export of those points, held whole, would be over 250
    // MB of Arrow arrays; streamed it holds a batch and a row group.
    let lake = dir.path().join("lake");
    let child = bin()
        .args([
            "export",
            db_path.to_str().unwrap(),
            "--format",
            "parquet",
            "-o",
        ])
        .arg(&lake)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (status, peak) = peak_memory(child);
    assert_eq!(status, 0);
    assert!(peak < 160 << 20, "export peak RSS {} MiB", peak >> 20);
    let exports = std::fs::read_to_string(lake.join("exports.jsonl")).unwrap();
    assert!(
        exports.contains(&format!("\"rows\":[{points},0,0,1]")),
        "{exports}"
    );
}

#[test]
fn kill_9_during_an_import_leaves_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let points = 3_000_000;
    let csv = big_csv(dir.path(), points);
    let db_dir = dir.path().join("db");
    let mut child = bin()
        .args(import_args(&db_dir, "csv", &csv, &[]))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill once the second pass has written something.
    let deadline = Instant::now() + Duration::from_secs(120);
    while !db_dir.join("wal").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(700));
    child.kill().unwrap();
    let status = child.wait().unwrap();
    // The documented outcome: the import's runs are all there (it had
    // published) or none is; the next writer deletes what it had staged;
    // the database verifies.
    let reader = Db::open_read_only(&db_dir).unwrap();
    let visible = reader.find_run("exp", "run-1");
    if let Some(run) = visible {
        let total: u64 = ["loss", "acc", "lr", "grad_norm"]
            .iter()
            .map(|m| reader.stats(run, m).unwrap().count)
            .sum();
        assert_eq!(total, points, "published whole ({status:?})");
    } else {
        let db = Db::open(&db_dir).unwrap();
        assert_eq!(
            db.discarded_staged_runs().len(),
            1,
            "the staged run is deleted"
        );
        assert!(db.find_run("exp", "run-1").is_none());
        db.close().unwrap();
    }
    let out = runlog_db(&["verify", db_dir.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // Re-running the import is safe: the run comes whole, once.
    let out = runlog_db(&import_args(
        &db_dir,
        "csv",
        &csv,
        &["--existing", "replace"],
    ));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let db = Db::open_read_only(&db_dir).unwrap();
    let run = db.find_run("exp", "run-1").unwrap();
    let total: u64 = ["loss", "acc", "lr", "grad_norm"]
        .iter()
        .map(|m| db.stats(run, m).unwrap().count)
        .sum();
    assert_eq!(total, points);
}
