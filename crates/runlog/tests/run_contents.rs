//! Artifacts, text logs and text series through the public API: storage
//! rules (dedup, freeing, orphans), limits and refusals, and readers in
//! another handle while a writer writes.

use std::fs;
use std::path::{Path, PathBuf};

use runlog::{Db, Durability, Error, LOG_CHUNK_BYTES, Limits, RunId};

fn blob_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(dir.join("blobs")) else {
        return out;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        }
    }
    out.sort();
    out
}

fn writer(dir: &Path) -> Db {
    Db::builder(dir)
        .durability(Durability::Sync)
        .open()
        .unwrap()
}

#[test]
fn the_same_content_is_stored_once_and_freed_when_nothing_references_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = writer(dir.path());
    let a = db.create_run("e", "a").unwrap();
    let b = db.create_run("e", "b").unwrap();
    let config = br#"{"lr": 0.1, "layers": [64, 64]}"#;
    let first = db.put_artifact(a, "model/config.json", config).unwrap();
    let second = db.put_artifact(b, "config.json", config).unwrap();
    assert_eq!(first.hash, second.hash);
    assert_eq!(first.media_type, "application/json");
    assert_eq!(blob_files(dir.path()).len(), 1);
    db.put_artifact(a, "other.bin", b"other").unwrap();
    assert_eq!(blob_files(dir.path()).len(), 2);

    // Deleting one reference keeps the blob the other run still names.
    db.delete_run(a).unwrap();
    db.flush().unwrap();
    assert_eq!(blob_files(dir.path()).len(), 1);
    assert_eq!(db.read_artifact(b, "config.json").unwrap(), config);
    db.delete_artifact(b, "config.json").unwrap();
    db.flush().unwrap();
    assert!(blob_files(dir.path()).is_empty());
    assert!(matches!(
        db.artifact(b, "config.json"),
        Err(Error::UnknownSeries {
            what: "artifact",
            ..
        })
    ));
}

#[test]
fn a_replaced_artifact_frees_its_old_content() {
    let dir = tempfile::tempdir().unwrap();
    let db = writer(dir.path());
    let run = db.create_run("e", "r").unwrap();
    db.log_text(run, "notes.md", "first").unwrap();
    let second = db.log_text(run, "notes.md", "second").unwrap();
    assert_eq!(second.media_type, "text/markdown");
    db.flush().unwrap();
    assert_eq!(blob_files(dir.path()).len(), 1);
    assert_eq!(db.read_artifact(run, "notes.md").unwrap(), b"second");
    assert_eq!(db.artifacts(run, "").unwrap(), [second]);
}

#[test]
fn orphans_are_collected_on_open_and_foreign_files_kept() {
    let dir = tempfile::tempdir().unwrap();
    let hash = {
        let db = writer(dir.path());
        let run = db.create_run("e", "r").unwrap();
        db.put_artifact(run, "kept.txt", b"kept").unwrap().hash
    };
    // A blob no record names (a put cut short after its rename), a
    // temporary file, and a user's file.
    let orphan = dir
        .path()
        .join("blobs/ab")
        .join(format!("{}.blob", "ab".repeat(32)));
    fs::create_dir_all(orphan.parent().unwrap()).unwrap();
    fs::write(&orphan, b"junk").unwrap();
    let temp = dir.path().join("blobs/tmp-77-0.blobtmp");
    fs::write(&temp, b"half").unwrap();
    let mine = dir.path().join("blobs/README");
    fs::write(&mine, b"mine").unwrap();
    let db = writer(dir.path());
    assert!(!orphan.exists() && !temp.exists());
    assert!(mine.exists());
    let kept = db.artifact(RunId(0), "kept.txt").unwrap();
    assert_eq!(kept.hash, hash);
    assert_eq!(db.read_artifact(RunId(0), "kept.txt").unwrap(), b"kept");
}

#[test]
fn bad_paths_and_limits_are_typed_errors_that_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::builder(dir.path())
        .limits(Limits {
            artifact_bytes: 1000,
            artifacts_per_run: 2,
            text_bytes: 100,
            ..Limits::default()
        })
        .open()
        .unwrap();
    let run = db.create_run("e", "r").unwrap();
    for path in ["../escape", "/etc/passwd", "a//b", "a/", "nul\0", ""] {
        let error = db.put_artifact(run, path, b"x").unwrap_err();
        assert!(
            matches!(error, Error::InvalidArtifactPath { .. }),
            "{path:?}: {error}"
        );
    }
    let error = db.put_artifact(run, "big.bin", &[0u8; 1001]).unwrap_err();
    assert!(
        matches!(
            error,
            Error::TooLarge {
                what: "artifact",
                limit: 1000,
                ..
            }
        ),
        "{error}"
    );
    db.put_artifact(run, "one", b"1").unwrap();
    db.put_artifact(run, "two", b"2").unwrap();
    db.put_artifact(run, "two", b"2 again").unwrap(); // a replacement is no new one
    let error = db.put_artifact(run, "three", b"3").unwrap_err();
    assert!(matches!(error, Error::LimitExceeded { .. }), "{error}");
    let error = db.append_log(run, "stdout", &"x".repeat(101)).unwrap_err();
    assert!(matches!(error, Error::TooLarge { .. }), "{error}");
    let error = db.log_str(run, "phase", &"y".repeat(101)).unwrap_err();
    assert!(matches!(error, Error::TooLarge { .. }), "{error}");
    assert!(matches!(
        db.put_artifact(RunId(9), "x", b"x"),
        Err(Error::UnknownRun(_))
    ));
    let paths: Vec<String> = db
        .artifacts(run, "")
        .unwrap()
        .into_iter()
        .map(|a| a.path)
        .collect();
    assert_eq!(paths, ["one", "two"]);
    assert!(db.log_streams(run).unwrap().is_empty());
    assert!(db.text_series(run).unwrap().is_empty());
    // Nothing of the refused puts stayed on disk.
    drop(db);
    assert_eq!(blob_files(dir.path()).len(), 3);
}

#[test]
fn a_failing_source_stores_nothing() {
    struct Failing(usize);
    impl std::io::Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0 == 0 {
                return Err(std::io::Error::other("disk unplugged"));
            }
            self.0 -= 1;
            buf.fill(1);
            Ok(buf.len())
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let db = writer(dir.path());
    let run = db.create_run("e", "r").unwrap();
    let error = db
        .put_artifact_from(run, "ckpt.pt", &mut Failing(3), None)
        .unwrap_err();
    assert!(matches!(error, Error::ArtifactSource { .. }), "{error}");
    assert!(db.artifacts(run, "").unwrap().is_empty());
    assert!(blob_files(dir.path()).is_empty());
    let leftovers: Vec<_> = fs::read_dir(dir.path().join("blobs")).unwrap().collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn image_series_are_browsable_by_step() {
    let dir = tempfile::tempdir().unwrap();
    let db = writer(dir.path());
    let run = db.create_run("e", "r").unwrap();
    let png = |shade: u8| {
        let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        bytes.extend([shade; 40]);
        bytes
    };
    for step in [20, 0, 10] {
        db.log_image(run, "samples", step, &png(step as u8))
            .unwrap();
    }
    db.log_image(run, "samples2", 5, &png(1)).unwrap();
    let images = db.images(run, "samples").unwrap();
    let steps: Vec<_> = images.iter().map(|a| a.step).collect();
    assert_eq!(steps, [Some(0), Some(10), Some(20)]);
    assert_eq!(images[1].path, "images/samples/step-10.png");
    assert_eq!(images[1].media_type, "image/png");
    assert_eq!(db.read_artifact(run, &images[1].path).unwrap(), png(10));
}

#[test]
fn logs_are_read_by_line_and_offset_across_sealed_chunks_and_stored_compressed() {
    let dir = tempfile::tempdir().unwrap();
    let db = writer(dir.path());
    let run = db.create_run("e", "r").unwrap();
    let lines = 3 * LOG_CHUNK_BYTES / 40;
    let mut text = String::new();
    let mut batch = String::new();
    for i in 0..lines {
        batch.push_str(&format!(
            "step {i:>8} loss {:.6} lr 3e-4\n",
            1.0 / (i + 1) as f64
        ));
        if batch.len() > 50_000 || i + 1 == lines {
            db.append_log(run, "node-0/stdout", &batch).unwrap();
            text.push_str(&batch);
            batch.clear();
        }
    }
    db.append_log(run, "node-0/stdout", "no newline yet")
        .unwrap();
    text.push_str("no newline yet");
    let reader = Db::open_read_only(dir.path()).unwrap();
    db.flush().unwrap();
    reader.refresh().unwrap();
    for handle in [&db, &reader] {
        let info = &handle.log_streams(run).unwrap()[0];
        assert_eq!(info.name, "node-0/stdout");
        assert_eq!((info.bytes, info.lines), (text.len() as u64, lines as u64));
        assert!(
            info.stored_bytes * 3 < info.bytes,
            "{} bytes stored for {}",
            info.stored_bytes,
            info.bytes
        );
        let middle = handle.log_lines(run, "node-0/stdout", 70_000, 3).unwrap();
        let want: Vec<String> = text
            .lines()
            .skip(70_000)
            .take(3)
            .map(String::from)
            .collect();
        assert_eq!(middle.lines, want);
        assert_eq!(middle.next_line(), 70_003);
        assert_eq!(middle.unterminated, None);
        let end = handle
            .log_lines(run, "node-0/stdout", lines as u64 - 1, 10)
            .unwrap();
        assert_eq!(end.lines.len(), 1);
        assert_eq!(end.unterminated.as_deref(), Some("no newline yet"));
        let at = LOG_CHUNK_BYTES as u64 - 7;
        let bytes = handle.log_bytes(run, "node-0/stdout", at, 20).unwrap();
        assert_eq!(bytes, &text.as_bytes()[at as usize..at as usize + 20]);
        assert!(
            handle
                .log_lines(run, "node-0/stdout", lines as u64 + 5, 1)
                .unwrap()
                .lines
                .is_empty()
        );
    }
    assert!(matches!(
        db.log_lines(run, "stderr", 0, 1),
        Err(Error::UnknownSeries { .. })
    ));
}

#[test]
fn a_reader_in_another_handle_sees_appends_without_a_flush() {
    let dir = tempfile::tempdir().unwrap();
    let db = writer(dir.path());
    let run = db.create_run("e", "r").unwrap();
    db.append_log(run, "stdout", "epoch 1\n").unwrap();
    db.log_str(run, "phase", "warmup").unwrap();
    let reader = Db::open_read_only(dir.path()).unwrap();
    assert_eq!(
        reader.log_lines(run, "stdout", 0, 10).unwrap().lines,
        ["epoch 1"]
    );
    db.append_log(run, "stdout", "epoch 2\n").unwrap();
    db.log_str(run, "phase", "train").unwrap();
    reader.refresh().unwrap();
    let read = reader.log_lines(run, "stdout", 1, 10).unwrap();
    assert_eq!(
        (read.first_line, read.lines),
        (1, vec!["epoch 2".to_string()])
    );
    let latest = reader.text_latest(run, "phase").unwrap();
    assert_eq!((latest.step, latest.value.as_str()), (1, "train"));
}

#[test]
fn text_series_and_metrics_never_share_a_name() {
    let dir = tempfile::tempdir().unwrap();
    let db = writer(dir.path());
    let run = db.create_run("e", "r").unwrap();
    db.log(run, "loss", 1.0).unwrap();
    db.log_str(run, "phase", "a").unwrap();
    db.log_row(run, "eval", &[("acc", 0.5)]).unwrap();
    for (result, existing) in [
        (db.log_str(run, "loss", "x").map(drop), "metric"),
        (db.log_str(run, "eval", "x").map(drop), "table"),
        (db.log(run, "phase", 1.0).map(drop), "text series"),
        (
            db.log_row(run, "phase", &[("c", 1.0)]).map(drop),
            "text series",
        ),
    ] {
        assert!(
            matches!(result, Err(Error::KindConflict { existing: e, .. }) if e == existing),
            "{result:?}"
        );
    }
}

#[test]
fn everything_survives_a_reopen_with_and_without_a_flush() {
    let dir = tempfile::tempdir().unwrap();
    for flush in [false, true] {
        let name = format!("r{flush}");
        {
            let db = writer(dir.path());
            let run = db.create_run("e", &name).unwrap();
            db.put_artifact(run, "a/b.txt", b"artifact").unwrap();
            db.append_log(run, "stderr", "warning: x\n").unwrap();
            db.log_str_at(run, "phase", 5, 77, "eval").unwrap();
            if flush {
                db.flush().unwrap();
            }
        }
        let db = writer(dir.path());
        let run = db.find_run("e", &name).unwrap();
        assert_eq!(db.read_artifact(run, "a/b.txt").unwrap(), b"artifact");
        assert_eq!(
            db.log_lines(run, "stderr", 0, 9).unwrap().lines,
            ["warning: x"]
        );
        let history = db.text_history(run, "phase").unwrap();
        assert_eq!(
            (
                history[0].step,
                history[0].timestamp,
                history[0].value.as_str()
            ),
            (5, 77, "eval")
        );
    }
}

#[test]
fn verify_checks_every_blob_and_names_a_damaged_one() {
    let dir = tempfile::tempdir().unwrap();
    let db = writer(dir.path());
    let run = db.create_run("e", "r").unwrap();
    db.append_log(run, "stdout", &"a log line\n".repeat(1000))
        .unwrap();
    db.flush().unwrap(); // the log's tail becomes a sealed chunk
    let artifact = db.put_artifact(run, "weights.bin", &[3u8; 5000]).unwrap();
    let report = runlog::inspect::verify(dir.path()).unwrap();
    assert_eq!(report.blobs, 2, "{report:?}");
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    let path = blob_files(dir.path())
        .into_iter()
        .find(|p| p.to_string_lossy().contains(&artifact.hash.to_string()))
        .unwrap();
    let mut bytes = fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    fs::write(&path, &bytes).unwrap();
    let report = runlog::inspect::verify(dir.path()).unwrap();
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert_eq!(report.problems[0].file, path);
    assert!(report.problems[0].offset.is_some());
    // Reading it says the same, and hands out no damaged byte as good.
    let error = db.read_artifact(run, "weights.bin").unwrap_err();
    assert!(
        matches!(error, Error::Corrupt { ref file, .. } if *file == path),
        "{error}"
    );
}

#[test]
fn table_rows_hold_string_cells_beside_numbers() {
    use runlog::Cell;
    let dir = tempfile::tempdir().unwrap();
    let db = writer(dir.path());
    let run = db.create_run("e", "r").unwrap();
    let rows = [
        vec![("label", Cell::Text("cat")), ("score", Cell::Number(0.9))],
        vec![("score", Cell::Number(0.4))],
        vec![("label", Cell::Text("dög"))],
    ];
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(db.log_row_cells(run, "preds", row).unwrap(), i as u64);
    }
    db.flush().unwrap();
    let table = Db::open_read_only(dir.path())
        .unwrap()
        .table(run, "preds")
        .unwrap();
    assert_eq!(table.rows, 3);
    assert_eq!(
        table.columns,
        [("score".to_string(), vec![Some(0.9), Some(0.4), None])]
    );
    assert_eq!(
        table.text_columns,
        [(
            "label".to_string(),
            vec![Some("cat".to_string()), None, Some("dög".to_string())]
        )]
    );
    let labels = db.text_history(run, "preds/label").unwrap();
    assert_eq!(labels.iter().map(|p| p.step).collect::<Vec<_>>(), [0, 2]);
    // A column keeps its kind.
    for (row, existing) in [
        (vec![("label", Cell::Number(1.0))], "string column"),
        (vec![("score", Cell::Text("x"))], "numeric column"),
    ] {
        let result = db.log_row_cells(run, "preds", &row);
        assert!(
            matches!(result, Err(Error::KindConflict { existing: e, .. }) if e == existing),
            "{result:?}"
        );
    }
    let repeated = db.log_row_cells(
        run,
        "preds",
        &[("a", Cell::Number(1.0)), ("a", Cell::Text("x"))],
    );
    assert!(
        matches!(repeated, Err(Error::InvalidName { .. })),
        "{repeated:?}"
    );
    assert_eq!(
        db.table(run, "preds").unwrap().rows,
        3,
        "refused rows write nothing"
    );
}

#[test]
fn followers_see_log_appends_and_artifact_changes_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let db = writer(dir.path());
    let run = db.create_run("e", "r").unwrap();
    let mut follower = db.follow();
    db.append_log(run, "stdout", "a\n").unwrap();
    db.put_artifact(run, "x.txt", b"x").unwrap();
    db.append_log(run, "stdout", "b\n").unwrap();
    db.delete_artifact(run, "x.txt").unwrap();
    db.log_str(run, "phase", "p").unwrap();
    let changes = follower.poll().unwrap();
    let seen: Vec<String> = changes
        .iter()
        .map(|c| match c {
            runlog::Change::LogAppended {
                stream,
                offset,
                text,
                ..
            } => format!("{stream}@{offset}:{text}"),
            runlog::Change::ArtifactChanged { path, deleted, .. } => {
                format!("{path} deleted={deleted}")
            }
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        seen,
        [
            "stdout@0:a\n",
            "x.txt deleted=false",
            "stdout@2:b\n",
            "x.txt deleted=true"
        ]
    );
    assert_eq!(db.get_texts(run).unwrap()["phase"], ["p"]);
}
