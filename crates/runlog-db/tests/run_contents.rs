//! The commands for what a run holds besides metrics, through the real
//! binary: artifacts in and out, logs (also followed while a writer
//! appends), tables and TABLE/COLUMN, text series.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use common::{bin, ok, runlog_db};
use runlog::{Cell, Db, Durability};

fn fails(args: &[&str]) -> String {
    let out = runlog_db(args);
    assert!(!out.status.success(), "{args:?} succeeded");
    assert_ne!(out.status.code(), Some(101), "{args:?} panicked");
    String::from_utf8(out.stderr).unwrap()
}

fn database() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::builder(dir.path())
        .durability(Durability::Sync)
        .open()
        .unwrap();
    let run = db.create_run("exp", "r1").unwrap();
    db.log(run, "loss", 0.5).unwrap();
    db.log_row_cells(
        run,
        "eval",
        &[("acc", Cell::Number(0.75)), ("split", Cell::Text("val"))],
    )
    .unwrap();
    db.log_row(run, "eval", &[("acc", 0.875)]).unwrap();
    db.log_str(run, "phase", "warmup").unwrap();
    db.log_str(run, "phase", "train").unwrap();
    db.append_log(run, "stdout", "line 0\nline 1\nline 2\n")
        .unwrap();
    db.put_artifact(run, "images/a.png", b"\x89PNG\r\n\x1a\nfake")
        .unwrap();
    db.close().unwrap();
    dir
}

#[test]
fn artifacts_go_in_and_come_out_byte_for_byte() {
    let dir = database();
    let db = dir.path().to_str().unwrap();
    let file = dir.path().join("weights.bin");
    let content: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&file, &content).unwrap();
    let said = ok(&[
        "put-artifact",
        db,
        "exp/r1",
        "model/weights.bin",
        file.to_str().unwrap(),
    ]);
    assert!(said.contains("model/weights.bin"), "{said}");
    let listed = ok(&["artifacts", db, "exp/r1", "--json"]);
    let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
    let paths: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["images/a.png", "model/weights.bin"]);
    assert_eq!(listed[1]["size"], content.len());
    let under_model = ok(&["artifacts", db, "exp/r1", "model"]);
    assert!(under_model.contains("weights.bin") && !under_model.contains("a.png"));
    let out = runlog_db(&["artifact", db, "exp/r1", "model/weights.bin"]);
    assert!(out.status.success());
    assert!(out.stdout == content, "stdout differs");
    let copy = dir.path().join("copy.bin");
    ok(&[
        "artifact",
        db,
        "exp/r1",
        "model/weights.bin",
        "-o",
        copy.to_str().unwrap(),
    ]);
    assert!(std::fs::read(&copy).unwrap() == content);
    // Paths that would leave the run are refused, and name the rule.
    let error = fails(&["put-artifact", db, "exp/r1", "../x", file.to_str().unwrap()]);
    assert!(error.contains("`..`"), "{error}");
    let error = fails(&["artifact", db, "exp/r1", "missing.txt"]);
    assert!(error.contains("no artifact named"), "{error}");
}

#[test]
fn a_damaged_artifact_is_refused_and_leaves_no_partial_file() {
    let dir = database();
    let db = dir.path().to_str().unwrap();
    let blob = walk(&dir.path().join("blobs")).into_iter().next().unwrap();
    let mut bytes = std::fs::read(&blob).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    std::fs::write(&blob, &bytes).unwrap();
    let target = dir.path().join("a.png");
    let error = fails(&[
        "artifact",
        db,
        "exp/r1",
        "images/a.png",
        "-o",
        target.to_str().unwrap(),
    ]);
    assert!(error.contains(&blob.display().to_string()), "{error}");
    assert!(!target.exists());
    let report = fails(&["verify", db]);
    assert!(!report.is_empty());
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn logs_list_streams_print_lines_from_a_line_and_as_json() {
    let dir = database();
    let db = dir.path().to_str().unwrap();
    let listed = ok(&["logs", db, "exp/r1"]);
    assert!(listed.contains("stdout"), "{listed}");
    assert_eq!(
        ok(&["logs", db, "exp/r1", "stdout", "--from", "1"]),
        "line 1\nline 2\n"
    );
    let json = ok(&["logs", db, "exp/r1", "stdout", "--json"]);
    let first: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert_eq!(first, serde_json::json!({"line": 0, "text": "line 0"}));
    let error = fails(&["logs", db, "exp/r1", "stderr"]);
    assert!(error.contains("no log stream named \"stderr\""), "{error}");
}

#[test]
fn logs_follow_prints_lines_as_a_writer_appends_them() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::builder(dir.path())
        .durability(Durability::Sync)
        .open()
        .unwrap();
    let run = db.create_run("exp", "live").unwrap();
    db.append_log(run, "node-0/stderr", "first\npartial ")
        .unwrap();
    let mut child = bin()
        .args([
            "logs",
            dir.path().to_str().unwrap(),
            "exp/live",
            "node-0/stderr",
            "--follow",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "first");
    // The unterminated line is printed once whole, then what follows.
    db.append_log(run, "node-0/stderr", "line\nsecond\n")
        .unwrap();
    assert_eq!(lines.next().unwrap().unwrap(), "partial line");
    assert_eq!(lines.next().unwrap().unwrap(), "second");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn tables_columns_and_text_series_read_through_every_command() {
    let dir = database();
    let db = dir.path().to_str().unwrap();
    let tables = ok(&["tables", db, "exp/r1"]);
    assert!(
        tables.contains("eval") && tables.contains("acc, split"),
        "{tables}"
    );
    let rows = ok(&["tables", db, "exp/r1", "eval", "--json"]);
    let rows: Vec<serde_json::Value> = rows
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        rows,
        [
            serde_json::json!({"row": 0, "acc": 0.75, "split": "val"}),
            serde_json::json!({"row": 1, "acc": 0.875}),
        ]
    );
    let history = ok(&["history", db, "exp/r1", "eval/acc", "--json"]);
    let values: Vec<f64> = history
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["value"]
                .as_f64()
                .unwrap()
        })
        .collect();
    assert_eq!(values, [0.75, 0.875]);
    let phase = ok(&["history", db, "exp/r1", "phase", "--json"]);
    let phases: Vec<String> = phase
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["value"].to_string())
        .collect();
    assert_eq!(phases, ["\"warmup\"", "\"train\""]);
    let latest = ok(&["latest", db, "exp/r1"]);
    assert!(
        latest.contains("eval/acc") && latest.contains("train"),
        "{latest}"
    );
    let metrics = ok(&["metrics", db, "exp/r1"]);
    assert!(
        metrics.contains("eval/acc") && metrics.contains("phase"),
        "{metrics}"
    );
    let runs = ok(&["runs", db, "--metric", "loss,phase"]);
    assert!(runs.contains("train"), "{runs}");
    let error = fails(&["history", db, "exp/r1", "eval/nope"]);
    assert!(error.contains("eval/nope"), "{error}");
    let error = fails(&["history", db, "exp/r1", "phase", "--buckets", "3"]);
    assert!(error.contains("text series"), "{error}");
}
