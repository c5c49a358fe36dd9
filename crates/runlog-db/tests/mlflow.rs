//! `import-mlflow` from both stores MLflow writes: a small `mlruns` file
//! store and a small SQLite database with MLflow's schema, written here.

use std::fs;
use std::path::Path;
use std::process::Command;

use runlog::{Db, RunStatus};

fn import(dir: &Path, source: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_runlog-db"))
        .args([
            "import-mlflow",
            dir.to_str().unwrap(),
            source.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_file_store_comes_over_bit_for_bit() {
    let root = tempfile::tempdir().unwrap();
    let mlruns = root.path().join("mlruns");
    let run = mlruns.join("0/4f1c2a9b8e7d6c5b");
    fs::create_dir_all(run.join("metrics/nested")).unwrap();
    fs::create_dir_all(run.join("params")).unwrap();
    fs::create_dir_all(run.join("tags")).unwrap();
    fs::create_dir_all(mlruns.join("1/deadbeef00000000")).unwrap();
    fs::write(mlruns.join("0/meta.yaml"), "artifact_location: file:///x\nexperiment_id: '0'\nlifecycle_stage: active\nname: Default\n").unwrap();
    fs::write(
        mlruns.join("1/meta.yaml"),
        "experiment_id: '1'\nlifecycle_stage: deleted\nname: gone\n",
    )
    .unwrap();
    fs::write(
        mlruns.join("1/deadbeef00000000/meta.yaml"),
        "run_name: ghost\nstatus: 3\n",
    )
    .unwrap();
    fs::write(
        run.join("meta.yaml"),
        "artifact_uri: file:///x\nend_time: 3000\nentry_point_name: ''\nexperiment_id: '0'\nlifecycle_stage: active\nrun_id: 4f1c2a9b8e7d6c5b\nrun_name: beta\nstart_time: 2000\nstatus: 4\nuser_id: me\n",
    )
    .unwrap();
    fs::write(
        run.join("metrics/loss"),
        "1000 2.5 0\n1001 nan 1\n1002 inf 2\n1003 -0.0 3\n1004 -inf 3\n",
    )
    .unwrap();
    fs::write(run.join("metrics/nested/key"), "1000 7 \n1001 8\n").unwrap();
    fs::write(run.join("params/lr"), "0.01").unwrap();
    fs::write(run.join("tags/mlflow.user"), "me").unwrap();
    fs::create_dir_all(run.join("artifacts/model")).unwrap();
    fs::write(run.join("artifacts/model/MLmodel"), "flavors: {}\n").unwrap();
    fs::write(run.join("artifacts/confusion.png"), b"\x89PNG\r\n\x1a\n").unwrap();

    let dir = root.path().join("db");
    import(&dir, &mlruns);
    let db = Db::open_read_only(&dir).unwrap();
    assert_eq!(
        db.experiments().len(),
        1,
        "the deleted experiment is skipped"
    );
    let id = db.find_run("Default", "beta").unwrap();
    let info = db.run(id).unwrap();
    assert_eq!(
        (info.status, info.start_ms, info.end_ms),
        (RunStatus::Failed, 2000, Some(3000))
    );
    assert_eq!(info.params["lr"], "0.01");
    assert_eq!(info.tags["mlflow.user"], "me");
    assert_eq!(info.tags["mlflow.run_id"], "4f1c2a9b8e7d6c5b");
    let loss = db.history(id, "loss", ..).unwrap();
    assert_eq!(loss.steps, [0, 1, 2, 3, 3]);
    assert_eq!(loss.timestamps, [1000, 1001, 1002, 1003, 1004]);
    let bits: Vec<u64> = loss.values.iter().map(|v| v.to_bits()).collect();
    assert_eq!(
        bits,
        [
            2.5f64.to_bits(),
            f64::NAN.to_bits(),
            f64::INFINITY.to_bits(),
            (-0.0f64).to_bits(),
            f64::NEG_INFINITY.to_bits()
        ]
    );
    assert_eq!(db.history(id, "nested/key", ..).unwrap().values, [7.0, 8.0]);
    let artifacts: Vec<(String, u64)> = db
        .artifacts(id, "")
        .unwrap()
        .into_iter()
        .map(|a| (a.path, a.size))
        .collect();
    assert_eq!(
        artifacts,
        [
            ("confusion.png".to_string(), 8),
            ("model/MLmodel".to_string(), 12)
        ]
    );
    assert_eq!(
        db.read_artifact(id, "model/MLmodel").unwrap(),
        b"flavors: {}\n"
    );
}

#[test]
fn the_sqlite_store_comes_over_as_mlflow_stored_it() {
    let root = tempfile::tempdir().unwrap();
    let path = root.path().join("mlflow.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "CREATE TABLE experiments (experiment_id INTEGER PRIMARY KEY, name VARCHAR(256) NOT NULL UNIQUE,
             artifact_location VARCHAR(256), lifecycle_stage VARCHAR(32), creation_time BIGINT, last_update_time BIGINT);
         CREATE TABLE runs (run_uuid VARCHAR(32) PRIMARY KEY, name VARCHAR(250), source_type VARCHAR(20),
             source_name VARCHAR(500), entry_point_name VARCHAR(50), user_id VARCHAR(256), status VARCHAR(9),
             start_time BIGINT, end_time BIGINT, deleted_time BIGINT, source_version VARCHAR(50),
             lifecycle_stage VARCHAR(20), artifact_uri VARCHAR(200), experiment_id INTEGER);
         CREATE TABLE metrics (key VARCHAR(250) NOT NULL, value FLOAT NOT NULL, timestamp BIGINT NOT NULL,
             run_uuid VARCHAR(32) NOT NULL, step BIGINT DEFAULT 0 NOT NULL, is_nan BOOLEAN DEFAULT 0 NOT NULL,
             PRIMARY KEY (key, timestamp, step, run_uuid, value, is_nan));
         CREATE TABLE params (key VARCHAR(250) NOT NULL, value VARCHAR(8000) NOT NULL, run_uuid VARCHAR(32) NOT NULL,
             PRIMARY KEY (key, run_uuid));
         CREATE TABLE tags (key VARCHAR(250) NOT NULL, value VARCHAR(8000), run_uuid VARCHAR(32) NOT NULL,
             PRIMARY KEY (key, run_uuid));
         INSERT INTO experiments VALUES (0, 'Default', '', 'active', 0, 0), (1, 'vision', '', 'active', 0, 0);
         INSERT INTO runs (run_uuid, name, status, start_time, end_time, lifecycle_stage, experiment_id, artifact_uri) VALUES
             ('aaaaaaaaaaaaaaaa1111', 'alpha', 'FINISHED', 1000, 5000, 'active', 1, './mlruns/1/aaaaaaaaaaaaaaaa1111/artifacts'),
             ('bbbbbbbbbbbbbbbb2222', 'alpha', 'RUNNING', 1500, NULL, 'active', 1, 's3://bucket/runs/bbbb'),
             ('cccccccccccccccc3333', 'deleted', 'FINISHED', 1, 2, 'deleted', 0, NULL);
         INSERT INTO metrics VALUES
             ('loss', 3.0, 10, 'aaaaaaaaaaaaaaaa1111', 0, 0),
             ('loss', 0.0, 11, 'aaaaaaaaaaaaaaaa1111', 1, 1),
             ('loss', 1.7976931348623157e308, 12, 'aaaaaaaaaaaaaaaa1111', 2, 0),
             ('loss', 1.5, 13, 'aaaaaaaaaaaaaaaa1111', 1, 0),
             ('acc', 0.5, 10, 'bbbbbbbbbbbbbbbb2222', 0, 0),
             ('acc', 0.9, 10, 'cccccccccccccccc3333', 0, 0);
         INSERT INTO params VALUES ('lr', '0.1', 'aaaaaaaaaaaaaaaa1111');
         INSERT INTO tags VALUES ('team', 'vision', 'aaaaaaaaaaaaaaaa1111');",
    )
    .unwrap();
    drop(conn);

    let folder = root.path().join("mlruns/1/aaaaaaaaaaaaaaaa1111/artifacts");
    fs::create_dir_all(&folder).unwrap();
    fs::write(folder.join("notes.txt"), "from sqlite").unwrap();
    let dir = root.path().join("db");
    let out = Command::new(env!("CARGO_BIN_EXE_runlog-db"))
        .args([
            "import-mlflow",
            dir.to_str().unwrap(),
            path.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("1 runs are at remote URIs") && stderr.contains("s3://bucket/runs/bbbb"),
        "a remote artifact store is named, not silently skipped: {stderr}"
    );
    let db = Db::open_read_only(&dir).unwrap();
    assert_eq!(
        db.runs(&Default::default()).len(),
        2,
        "the deleted run is skipped"
    );
    let alpha = db.find_run("vision", "alpha").unwrap();
    let info = db.run(alpha).unwrap();
    assert_eq!(
        (info.status, info.start_ms, info.end_ms),
        (RunStatus::Completed, 1000, Some(5000))
    );
    assert_eq!(
        (info.params["lr"].as_str(), info.tags["team"].as_str()),
        ("0.1", "vision")
    );
    let loss = db.history(alpha, "loss", ..).unwrap();
    assert_eq!(loss.steps, [0, 1, 1, 2], "ties keep MLflow's order");
    assert!(loss.values[1].is_nan(), "is_nan = 1 becomes NaN");
    assert_eq!(loss.values[3], f64::MAX, "as MLflow stored its inf");
    assert_eq!(
        db.read_artifact(alpha, "notes.txt").unwrap(),
        b"from sqlite"
    );
    let second = db
        .find_run("vision", "alpha-bbbbbbbb")
        .expect("a clashing name gets the run id");
    let info = db.run(second).unwrap();
    assert_eq!((info.status, info.end_ms), (RunStatus::Running, None));
    assert_eq!(db.latest(second, "acc").unwrap().value, 0.5);
}

/// Runs `import-mlflow` expecting a refusal; returns its message.
fn refused(dir: &Path, source: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_runlog-db"))
        .args([
            "import-mlflow",
            dir.to_str().unwrap(),
            source.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn what_cannot_be_read_as_mlflow_wrote_it_is_refused_not_guessed() {
    let root = tempfile::tempdir().unwrap();
    let mlruns = root.path().join("mlruns");
    let run = mlruns.join("0/d\u{e9}j\u{e0}-vu-run-id");
    fs::create_dir_all(&run).unwrap();
    fs::create_dir_all(mlruns.join("0/no-meta-here")).unwrap();
    fs::write(
        mlruns.join("0/meta.yaml"),
        "experiment_id: '0'\nname: Default\n",
    )
    .unwrap();
    let meta = |status: &str, start: &str| {
        format!(
            "run_id: d\u{e9}j\u{e0}-vu-run-id\nrun_name: r\nstatus: {status}\nstart_time: {start}\nlifecycle_stage: active\n"
        )
    };
    let db = root.path().join("db");

    fs::write(run.join("meta.yaml"), meta("PAUSED", "1700000000000")).unwrap();
    let message = refused(&db, &mlruns);
    assert!(message.contains("unknown status \"PAUSED\""), "{message}");
    assert!(
        message.contains("no-meta-here"),
        "a skipped folder is named: {message}"
    );

    fs::write(run.join("meta.yaml"), meta("FINISHED", "yesterday")).unwrap();
    let message = refused(&db, &mlruns);
    assert!(message.contains("start_time \"yesterday\""), "{message}");
    assert!(!db.exists(), "nothing written");

    // A non-ASCII run id imports (it used to panic when cut for a name).
    fs::write(run.join("meta.yaml"), meta("FINISHED", "1700000000000")).unwrap();
    import(&db, &mlruns);
    // Importing again is refused by default, never doubles a run, and
    // skips or replaces when asked.
    let message = refused(&db, &mlruns);
    assert!(message.contains("imported before"), "{message}");
    for existing in ["skip", "replace", "replace"] {
        let out = Command::new(env!("CARGO_BIN_EXE_runlog-db"))
            .args([
                "import-mlflow",
                db.to_str().unwrap(),
                mlruns.to_str().unwrap(),
                "--existing",
                existing,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let reader = Db::open_read_only(&db).unwrap();
    let runs = reader.runs(&runlog::RunFilter::default());
    assert_eq!(runs.len(), 1, "one run, however often imported");
    assert_eq!(runs[0].info.name, "r");
    assert_eq!(
        runs[0].info.tags["mlflow.run_id"],
        "d\u{e9}j\u{e0}-vu-run-id"
    );
}
