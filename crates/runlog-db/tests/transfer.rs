//! `export` and `import` round-trip exactly (CSV, JSON lines, Parquet); bad input is refused by line
//! number with nothing written; `tail` follows a concurrent writer.

mod common;

use common::{bin, import_args, runlog_db};
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use runlog::{Db, Durability};

const AWKWARD: [f64; 8] = [
    0.1,
    -0.0,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::NAN,
    5e-324,
    1.7976931348623157e308,
    -2.5e-10,
];

#[test]
fn export_then_import_round_trips_bit_for_bit_in_every_format() {
    let source = tempfile::tempdir().unwrap();
    {
        let db = Db::builder(source.path())
            .durability(Durability::Sync)
            .open()
            .unwrap();
        let run = db.create_run("exp, \"quoted\"", "run,1").unwrap();
        let mut values = AWKWARD.to_vec();
        values.push(f64::from_bits(0x7FF4_0000_0000_BEEF)); // a NaN payload
        db.log_list(run, "loss", &values).unwrap();
        db.log_at(run, "acc", -5, -1, 0.25).unwrap();
        db.create_run("exp", "empty").unwrap();
        db.close().unwrap();
    }
    for format in ["csv", "jsonl", "parquet"] {
        // A file, or for Parquet a folder.
        let file = source.path().join(format!("points.{format}"));
        let out = runlog_db(&[
            "export",
            source.path().to_str().unwrap(),
            "--format",
            format,
            "-o",
            file.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let target = tempfile::tempdir().unwrap();
        let out = runlog_db(&import_args(target.path(), format, &file, &[]));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let original = Db::open_read_only(source.path()).unwrap();
        let imported = Db::open_read_only(target.path()).unwrap();
        let a = original.find_run("exp, \"quoted\"", "run,1").unwrap();
        let b = imported.find_run("exp, \"quoted\"", "run,1").unwrap();
        for metric in ["loss", "acc"] {
            assert_eq!(
                original.history(a, metric, ..).unwrap(),
                imported.history(b, metric, ..).unwrap(),
                "{format} {metric}"
            );
        }
        if format == "parquet" {
            // The runs table carries runs without points too.
            assert!(imported.find_run("exp", "empty").is_some());
        }
    }
}

#[test]
fn a_malformed_import_names_the_line_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("bad.csv");
    std::fs::write(
        &csv,
        "run,experiment,metric,step,timestamp_ms,value\nr,e,loss,0,0,1.5\nr,e,loss,1,0,1.25\nr,e,loss,two,0,1.0\n",
    )
    .unwrap();
    let db_dir = dir.path().join("db");
    let out = runlog_db(&import_args(&db_dir, "csv", &csv, &[]));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("line 4") && stderr.contains("\"two\""),
        "{stderr}"
    );
    assert!(!db_dir.exists(), "nothing written, not even the database");

    let jsonl = dir.path().join("bad.jsonl");
    std::fs::write(&jsonl, "{\"run\":\"r\",\"experiment\":\"e\",\"metric\":\"m\",\"step\":0,\"timestamp_ms\":0,\"value\":1}\n{\"run\":\"r\"}\n").unwrap();
    let out = runlog_db(&import_args(&db_dir, "jsonl", &jsonl, &[]));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 2"));
    let bad_name = dir.path().join("bad-name.csv");
    std::fs::write(
        &bad_name,
        "run,experiment,metric,step,timestamp_ms,value\nr,e,,0,0,1\n",
    )
    .unwrap();
    let out = runlog_db(&import_args(&db_dir, "csv", &bad_name, &[]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("line 2") && stderr.contains("metric"),
        "{stderr}"
    );
    assert!(!db_dir.exists());
}

#[test]
fn tail_prints_points_a_concurrent_writer_logs() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::builder(dir.path())
        .durability(Durability::Sync)
        .open()
        .unwrap();
    let run = db.create_run("e", "live").unwrap();
    db.log(run, "loss", 10.0).unwrap();
    let mut tail = bin()
        .args([
            "tail",
            dir.path().to_str().unwrap(),
            "e/live",
            "loss",
            "--json",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = BufReader::new(tail.stdout.take().unwrap()).lines();
    let reader = std::thread::spawn(move || {
        let mut steps = Vec::new();
        for line in lines {
            let value: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
            steps.push(value["step"].as_i64().unwrap());
            if steps.len() == 4 {
                break;
            }
        }
        steps
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    for value in [11.0, 12.0, 13.0] {
        std::thread::sleep(Duration::from_millis(300));
        db.log(run, "loss", value).unwrap();
    }
    while !reader.is_finished() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    tail.kill().unwrap();
    tail.wait().unwrap();
    assert_eq!(
        reader.join().unwrap(),
        [0, 1, 2, 3],
        "each point once, in order"
    );
}

#[test]
fn a_rerun_import_never_doubles_a_run_and_replaces_or_skips_as_asked() {
    let dir = tempfile::tempdir().unwrap();
    let db_dir = dir.path().join("db");
    {
        let db = Db::open(&db_dir).unwrap();
        let run = db.create_run("e", "r").unwrap();
        db.log_row(run, "t", &[("c", 1.0)]).unwrap();
        db.close().unwrap();
    }
    let csv = dir.path().join("points.csv");
    std::fs::write(
        &csv,
        "run,experiment,metric,step,timestamp_ms,value\na,e,loss,0,0,1\nr,e,t,0,0,1\n",
    )
    .unwrap();
    let import = |extra: &[&str]| runlog_db(&import_args(&db_dir, "csv", &csv, extra));
    // e/r exists: refused by default, naming it; not even e/a is written.
    let out = import(&[]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("e/r") && stderr.contains("--existing"),
        "{stderr}"
    );
    let count = |db: &Db, name: &str| {
        db.find_run("e", name)
            .map(|run| db.stats(run, "loss").map_or(0, |s| s.count))
    };
    assert_eq!(count(&Db::open_read_only(&db_dir).unwrap(), "a"), None);
    // Skip: e/a is imported, e/r kept as it was (its table).
    assert!(import(&["--existing", "skip"]).status.success());
    let db = Db::open_read_only(&db_dir).unwrap();
    assert_eq!(count(&db, "a"), Some(1));
    assert_eq!(
        db.series_kind(db.find_run("e", "r").unwrap(), "t"),
        Some("table")
    );
    // Replace: both runs are the file's, once each, however often.
    for _ in 0..2 {
        assert!(import(&["--existing", "replace"]).status.success());
    }
    let db = Db::open_read_only(&db_dir).unwrap();
    assert_eq!(count(&db, "a"), Some(1), "never doubled");
    let r = db.find_run("e", "r").unwrap();
    assert_eq!(
        db.series_kind(r, "t"),
        Some("metric"),
        "replaced by the file's run"
    );
    assert_eq!(db.runs(&runlog::RunFilter::default()).len(), 2);
}

#[test]
fn json_lines_carry_status_times_params_and_tags() {
    let source = tempfile::tempdir().unwrap();
    {
        let db = Db::builder(source.path())
            .durability(Durability::Sync)
            .open()
            .unwrap();
        let run = db.create_run_at("exp", "kept", 1_600_000_000_000).unwrap();
        db.set_param(run, "lr", "0.1").unwrap();
        db.set_tag(run, "team", "nlp").unwrap();
        db.log(run, "loss", 1.5).unwrap();
        db.set_status_at(run, runlog::RunStatus::Killed, Some(1_600_000_500_000))
            .unwrap();
        // A run without points travels too.
        let empty = db.create_run("exp", "no points").unwrap();
        db.set_param(empty, "seed", "7").unwrap();
        db.close().unwrap();
    }
    let file = source.path().join("all.jsonl");
    let out = runlog_db(&[
        "export",
        source.path().to_str().unwrap(),
        "--format",
        "jsonl",
        "-o",
        file.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let target = tempfile::tempdir().unwrap();
    let out = runlog_db(&import_args(target.path(), "jsonl", &file, &[]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (from, to) = (
        Db::open_read_only(source.path()).unwrap(),
        Db::open_read_only(target.path()).unwrap(),
    );
    for name in ["kept", "no points"] {
        let a = from.run(from.find_run("exp", name).unwrap()).unwrap();
        let b = to.run(to.find_run("exp", name).unwrap()).unwrap();
        assert_eq!(
            (a.status, a.start_ms, a.end_ms, &a.params, &a.tags),
            (b.status, b.start_ms, b.end_ms, &b.params, &b.tags),
            "{name}"
        );
    }
    // A bad record is refused by line, writing nothing.
    let bad = source.path().join("bad.jsonl");
    std::fs::write(
        &bad,
        "{\"record\":\"run\",\"run\":\"r\",\"experiment\":\"e\",\"status\":\"paused\",\"start_ms\":1,\"end_ms\":null,\"params\":{},\"tags\":{}}\n",
    )
    .unwrap();
    let fresh = tempfile::tempdir().unwrap();
    let out = runlog_db(&import_args(fresh.path(), "jsonl", &bad, &[]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("line 1") && stderr.contains("paused"),
        "{stderr}"
    );
}
