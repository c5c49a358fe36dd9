//! The real binary, run on databases these tests create: each command's text
//! and `--json` output checked against the data logged, exit codes, and
//! `verify` failing on a file the test corrupts.

mod common;

use common::{ok, runlog_db};
use std::path::Path;

use runlog::{Db, Durability};
use serde_json::Value;

fn json(args: &[&str]) -> Value {
    serde_json::from_str(&ok(args)).expect("one JSON document")
}

fn json_lines(args: &[&str]) -> Vec<Value> {
    ok(args)
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect()
}

/// A small database: two runs with known points, params, tags and statuses.
fn small_db(dir: &Path) {
    let db = Db::builder(dir)
        .durability(Durability::Sync)
        .open()
        .unwrap();
    let a = db.create_run("exp", "alpha").unwrap();
    let b = db.create_run("other", "beta").unwrap();
    db.log_list(a, "loss", &[3.0, 2.0, 2.5, f64::NAN, 1.0])
        .unwrap();
    db.log_at(a, "acc", 7, 1_700_000_000_000, 0.5).unwrap();
    db.log_list(b, "loss", &[9.0, 8.0]).unwrap();
    db.set_param(a, "lr", "0.1").unwrap();
    db.set_tag(a, "team", "vision").unwrap();
    db.complete_run(a).unwrap();
    db.flush().unwrap();
    db.log(a, "loss", 0.5).unwrap(); // one point left in the WAL
    db.close().unwrap();
}

#[test]
fn query_commands_print_what_was_logged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap();
    small_db(dir.path());

    let runs = json(&["runs", path, "--json"]);
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["name"], "alpha");
    assert_eq!(runs[0]["status"], "completed");
    let loss = &runs[0]["metrics"]["loss"];
    assert_eq!(loss["last_value"], 0.5);
    assert_eq!(
        (loss["min"].clone(), loss["max"].clone()),
        (0.5.into(), 3.0.into())
    );
    assert_eq!(loss["count"], 6);
    let text = ok(&["runs", path, "--experiment", "other"]);
    assert!(text.contains("beta") && !text.contains("alpha"), "{text}");
    let completed = json(&[
        "runs",
        path,
        "--status",
        "completed",
        "--tag",
        "team=vision",
        "--json",
    ]);
    assert_eq!(completed.as_array().unwrap().len(), 1);

    let metrics = json(&["metrics", path, "exp/alpha", "--json"]);
    let loss = metrics
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["metric"] == "loss")
        .unwrap();
    assert_eq!(
        (loss["count"].clone(), loss["last_step"].clone()),
        (6.into(), 5.into())
    );

    let points = json_lines(&["history", path, "alpha", "loss", "--json"]);
    let values: Vec<String> = points.iter().map(|p| p["value"].to_string()).collect();
    assert_eq!(values, ["3.0", "2.0", "2.5", "\"NaN\"", "1.0", "0.5"]);
    let ranged = json_lines(&[
        "history", path, "0", "loss", "--from", "1", "--to", "2", "--json",
    ]);
    assert_eq!(
        ranged
            .iter()
            .map(|p| p["step"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        [1, 2]
    );
    let limited = ok(&["history", path, "0", "loss", "--limit", "2"]);
    assert_eq!(
        limited.lines().count(),
        3,
        "header and two points: {limited}"
    );
    let buckets = json_lines(&["history", path, "0", "loss", "--buckets", "2", "--json"]);
    assert_eq!(buckets.len(), 2);
    assert_eq!(
        buckets[0]["count"].as_u64().unwrap() + buckets[1]["count"].as_u64().unwrap(),
        6
    );

    let latest = json(&["latest", path, "alpha", "acc", "--json"]);
    assert_eq!(latest[0]["step"], 7);
    assert_eq!(latest[0]["timestamp_ms"], 1_700_000_000_000i64);
    let all_latest = ok(&["latest", path, "alpha"]);
    assert!(all_latest.contains("acc") && all_latest.contains("loss"));
    assert_eq!(json(&["params", path, "alpha", "--json"])["lr"], "0.1");
    assert_eq!(json(&["tags", path, "alpha", "--json"])["team"], "vision");
    let no_tags = ok(&["tags", path, "beta"]);
    assert_eq!(no_tags.lines().count(), 2, "just the header: {no_tags}");
    assert!(no_tags.contains("key"));
}

#[test]
fn storage_commands_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap();
    small_db(dir.path());

    let stats = json(&["stats", path, "--json"]);
    assert_eq!(stats["segment_points"], 8, "points in segments");
    assert_eq!(stats["wal_points"], 1, "the point left in the WAL");
    assert_eq!(stats["points"], 9, "every point");
    assert!(
        stats["wal_bytes"].as_u64().unwrap() > 32,
        "one record in the WAL"
    );
    let codecs = stats["codecs"].as_object().unwrap();
    assert!(codecs.keys().any(|k| k.starts_with("value:")));
    assert!(
        !codecs.keys().any(|k| k.ends_with(":unknown")),
        "every codec is named: {codecs:?}"
    );
    let report = json(&["verify", path, "--json"]);
    assert_eq!(report["problems"].as_array().unwrap().len(), 0);
    assert_eq!(report["points"], 8);
    let wal = json_lines(&["wal", path, "--json"]);
    assert!(
        wal.iter()
            .any(|r| r["ops"].to_string().contains("points series"))
    );
    ok(&["compact", path]);

    // Damage a segment: verify must fail, naming the file and offset.
    let segment = std::fs::read_dir(dir.path().join("segments"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .next()
        .unwrap();
    let mut bytes = std::fs::read(&segment).unwrap();
    bytes[20] ^= 0x40;
    std::fs::write(&segment, bytes).unwrap();
    let out = runlog_db(&["verify", path]);
    assert!(!out.status.success(), "verify exits non-zero on damage");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("runlog-db: "), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.contains(segment.to_str().unwrap()) && stderr.contains("at byte 16"),
        "{stderr}"
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("PROBLEM"), "{text}");
}

#[test]
fn errors_are_one_line_and_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap();
    let out = runlog_db(&["runs", path]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a runlog database"));
    small_db(dir.path());
    for args in [
        vec!["metrics", path, "nope"],
        vec!["history", path, "0", "missing"],
        vec!["runs", path, "--status", "sleeping"],
        vec!["runs", path, "--tag", "novalue"],
    ] {
        let out = runlog_db(&args);
        assert!(!out.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    }
}

#[test]
fn demo_creates_a_database_and_lists_it() {
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    let demo = demo.to_str().unwrap();
    let runs = json(&["demo", demo, "--steps", "2000", "--json"]);
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 12);
    assert!(runs.iter().all(|r| r["metrics"]["loss"]["count"] == 2000));
    let statuses: std::collections::BTreeSet<String> = runs
        .iter()
        .map(|r| r["status"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(statuses.len(), 3, "{statuses:?}");
    let again = json(&["demo", demo, "--json"]);
    assert_eq!(
        again.as_array().unwrap().len(),
        12,
        "a second demo reuses the database"
    );
    ok(&["verify", demo]);

    // What an interrupted demo leaves (some runs, no completion mark) is
    // said to be incomplete, not listed as a demo.
    let partial = dir.path().join("partial");
    {
        let db = Db::open(&partial).unwrap();
        db.create_run("exp-0", "run-00000").unwrap();
        db.close().unwrap();
    }
    let out = runlog_db(&["demo", partial.to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("incomplete demo (1 of 12 runs"), "{stderr}");
}

#[test]
fn plot_writes_an_svg_with_each_series() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap();
    small_db(dir.path());
    let svg = dir.path().join("chart.svg");
    ok(&[
        "plot",
        path,
        "alpha",
        "loss",
        "acc",
        "-o",
        svg.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(
        text.starts_with("<svg") && text.trim_end().ends_with("</svg>"),
        "a whole SVG document"
    );
    let series_lines = text
        .split("<polyline")
        .filter(|element| {
            element
                .split('>')
                .next()
                .is_some_and(|attrs| attrs.contains("stroke-width=\"2\""))
        })
        .count();
    assert_eq!(series_lines, 2, "one line per metric");
    let has_label = |text: &str, label: &str| text.lines().any(|line| line.trim() == label);
    assert!(
        has_label(&text, "loss") && has_label(&text, "acc"),
        "a legend entry per metric"
    );
    let compare = dir.path().join("compare.svg");
    ok(&[
        "plot",
        path,
        "alpha",
        "loss",
        "--runs",
        "beta",
        "--x",
        "time",
        "-o",
        compare.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(&compare).unwrap();
    assert!(
        has_label(&text, "exp/alpha") && has_label(&text, "other/beta"),
        "a legend entry per run"
    );
    // Several metrics across runs: a panel each; beta has no `acc`, and
    // the chart says so rather than failing.
    let out = runlog_db(&[
        "plot",
        path,
        "alpha",
        "loss",
        "acc",
        "--runs",
        "beta",
        "-o",
        compare.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("other/beta has no metric \"acc\""),
        "{stderr}"
    );
}
