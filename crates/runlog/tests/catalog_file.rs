//! The catalog file: a flush appends the runs it changed, not the whole
//! catalog; the file is rewritten once most of it is records that newer
//! ones replaced (never for runs written once); and
//! what a crash leaves, or damage, is cut or refused, never a silent loss.

use std::fs;
use std::path::{Path, PathBuf};

use runlog::{Db, Error, RunFilter};

/// The catalog files, by name.
fn catalog_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir.join("catalog"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

/// The one catalog file and its length.
fn the_catalog(dir: &Path) -> (PathBuf, u64) {
    let files = catalog_files(dir);
    assert_eq!(files.len(), 1, "{files:?}");
    let len = fs::metadata(&files[0]).unwrap().len();
    (files[0].clone(), len)
}

/// A database of `runs` runs with 3 params, 3 tags and 2 metrics each.
fn many_runs(dir: &Path, runs: usize) -> Db {
    let db = Db::open(dir).unwrap();
    for r in 0..runs {
        let run = db
            .create_run(&format!("e{}", r % 7), &format!("run-{r}"))
            .unwrap();
        for k in 0..3 {
            db.set_param(run, &format!("p{k}"), &format!("{r}-{k}"))
                .unwrap();
            db.set_tag(run, &format!("t{k}"), "value").unwrap();
        }
        db.log_batch(run, &[("loss", 0, 0, 1.0), ("acc", 0, 0, 0.5)])
            .unwrap();
    }
    db.flush().unwrap();
    db
}

#[test]
fn a_flush_writes_what_changed_not_the_whole_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let db = many_runs(dir.path(), 3_000);
    let (_, before) = the_catalog(dir.path());
    assert!(before > 300_000, "3,000 runs take {before} bytes");
    let manifest_before = fs::metadata(dir.path().join("MANIFEST")).unwrap().len();
    let run = db.find_run("e3", "run-3").unwrap();
    db.log_at(run, "loss", 1, 1, 0.25).unwrap();
    db.set_tag(run, "t0", "changed").unwrap();
    db.flush().unwrap();
    let (_, after) = the_catalog(dir.path());
    // One run record (its params, tags and series) and a frame header.
    assert!(
        after - before < 1_000,
        "one run's change appended {} bytes",
        after - before
    );
    // The manifest lists segments and where the catalog ends, no more.
    let manifest = fs::metadata(dir.path().join("MANIFEST")).unwrap().len();
    assert!(
        manifest <= manifest_before + 12,
        "{manifest_before} -> {manifest}"
    );
    assert!(manifest < 200, "{manifest}");
    let expected = db.runs(&RunFilter::default());
    db.close().unwrap();
    for db in [
        Db::open_read_only(dir.path()).unwrap(),
        Db::open(dir.path()).unwrap(),
    ] {
        assert_eq!(db.runs(&RunFilter::default()), expected);
        assert_eq!(db.run(run).unwrap().tags["t0"], "changed");
        assert_eq!(db.latest(run, "loss").unwrap().value, 0.25);
    }
}

#[test]
fn runs_written_once_are_never_copied_and_replaced_records_are() {
    let dir = tempfile::tempdir().unwrap();
    // Rewrites run inline after each flush.
    let db = Db::builder(dir.path())
        .background_threads(false)
        .open()
        .unwrap();
    let mut runs = Vec::new();
    let mut first = None;
    // A sweep: 10,000 new runs, flushed every 500, whose records no later
    // one replaces; a rewrite would only copy them.
    for r in 0..10_000 {
        let run = db.create_run("sweep", &format!("trial-{r}")).unwrap();
        for k in 0..3 {
            db.set_param(run, &format!("p{k}"), &format!("{r}-{k}"))
                .unwrap();
        }
        db.log(run, "loss", r as f64).unwrap();
        runs.push(run);
        if r % 500 == 499 {
            db.flush().unwrap();
            first.get_or_insert_with(|| the_catalog(dir.path()).0);
        }
    }
    let (file, len) = the_catalog(dir.path());
    assert!(len > 1_500_000, "{len} bytes");
    assert_eq!(Some(&file), first.as_ref(), "a sweep rewrote the catalog");
    // What `runlog-db stats` reports: the bytes that count, all of them.
    let stats = runlog::inspect::storage_stats(dir.path()).unwrap();
    assert_eq!(stats.catalog_bytes, len);
    // Then every run's record is replaced, twice: more than half the file
    // is replaced records, and it is rewritten.
    for pass in 0..2 {
        for &run in &runs {
            db.set_tag(run, "pass", &pass.to_string()).unwrap();
        }
        // A flush runs once the memtable holds points.
        db.log(runs[0], "loss", 0.0).unwrap();
        db.flush().unwrap();
    }
    let (rewritten, rewritten_len) = the_catalog(dir.path());
    assert_ne!(rewritten, file, "{rewritten_len} bytes never rewritten");
    assert!(rewritten_len < 2 * len, "{len} -> {rewritten_len} bytes");
    let expected = db.runs(&RunFilter::default());
    db.close().unwrap();
    let db = Db::open_read_only(dir.path()).unwrap();
    assert_eq!(db.runs(&RunFilter::default()), expected);
    assert_eq!(db.run(runs[4321]).unwrap().tags["pass"], "1");
    assert_eq!(db.run(runs[4321]).unwrap().params["p2"], "4321-2");
}

#[test]
fn replaced_records_rewrite_the_file_and_the_old_one_goes() {
    // Inline after each flush without background threads; on the
    // compactor thread, beside the flushes, with them.
    for background in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::builder(dir.path())
            .background_threads(background)
            .open()
            .unwrap();
        let run = db.create_run("e0", "run-0").unwrap();
        db.create_run("e1", "run-1").unwrap();
        db.flush().unwrap();
        let (first, _) = the_catalog(dir.path());
        let experiment = db.find_experiment("e1").unwrap();
        for i in 0..60 {
            // 60 KiB a flush: the run's record, written whole each time.
            db.set_tag(run, "big", &format!("{i:05}").repeat(12_000))
                .unwrap();
            db.log_at(run, "loss", i, i, i as f64).unwrap();
            if i == 30 {
                db.rename_experiment(experiment, "renamed").unwrap();
            }
            db.flush().unwrap();
            if !background {
                // Never more than the live records, a megabyte of replaced
                // ones and a flush.
                let (_, len) = the_catalog(dir.path());
                assert!(
                    len < 3 * 61_000 + (1 << 20) + 61_000,
                    "{len} bytes after {i} flushes"
                );
            }
        }
        let expected = db.runs(&RunFilter::default());
        db.close().unwrap();
        let (last, len) = the_catalog(dir.path());
        assert_ne!(
            last, first,
            "3.6 MB of changes never rewrote the file (background {background})"
        );
        assert!(
            background || len < 3 * 61_000 + (1 << 20) + 61_000,
            "{len} bytes at the end"
        );
        let db = Db::open_read_only(dir.path()).unwrap();
        assert_eq!(db.runs(&RunFilter::default()), expected);
        assert_eq!(db.run(run).unwrap().tags["big"], "00059".repeat(12_000));
        assert_eq!(db.history(run, "loss", ..).unwrap().steps.len(), 60);
        let renamed = RunFilter {
            experiment: Some("renamed".into()),
            ..RunFilter::default()
        };
        assert_eq!(db.runs(&renamed).len(), 1);
    }
}

#[test]
fn bytes_a_crashed_flush_left_past_the_manifest_are_ignored_then_cut() {
    let dir = tempfile::tempdir().unwrap();
    let db = many_runs(dir.path(), 20);
    let expected = db.runs(&RunFilter::default());
    db.close().unwrap();
    let (path, len) = the_catalog(dir.path());
    // A frame header promising more than was written, then half a body.
    let mut tail = vec![0xff, 0, 0, 0, 1, 2, 3, 4];
    tail.extend_from_slice(b"half a frame");
    let mut bytes = fs::read(&path).unwrap();
    bytes.extend_from_slice(&tail);
    fs::write(&path, &bytes).unwrap();
    assert_eq!(
        Db::open_read_only(dir.path())
            .unwrap()
            .runs(&RunFilter::default()),
        expected
    );
    let db = Db::open(dir.path()).unwrap();
    let run = db.create_run("e0", "after").unwrap();
    db.log_at(run, "loss", 0, 0, 1.0).unwrap();
    db.flush().unwrap();
    db.close().unwrap();
    let bytes = fs::read(&path).unwrap();
    assert!(
        !bytes[len as usize..].starts_with(&tail[..8]),
        "the leftover stayed in front of the new frame"
    );
    let db = Db::open_read_only(dir.path()).unwrap();
    assert_eq!(db.runs(&RunFilter::default()).len(), expected.len() + 1);
    assert_eq!(db.run(run).unwrap().name, "after");
}

#[test]
fn a_cut_damaged_or_missing_catalog_file_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    many_runs(dir.path(), 20).close().unwrap();
    let (path, len) = the_catalog(dir.path());
    let original = fs::read(&path).unwrap();
    let refused = |what: &str| {
        for error in [
            Db::open(dir.path()).unwrap_err(),
            Db::open_read_only(dir.path()).unwrap_err(),
        ] {
            let named = match &error {
                Error::Corrupt { file, .. } | Error::MissingFile { file, .. } => *file == path,
                Error::Io { path: file, .. } => *file == path,
                _ => false,
            };
            assert!(named, "{what}: {error}");
        }
    };
    fs::write(&path, &original[..len as usize - 10]).unwrap();
    refused("cut");
    let mut flipped = original.clone();
    flipped[len as usize / 2] ^= 0x40;
    fs::write(&path, &flipped).unwrap();
    refused("a flipped byte");
    let report = runlog::inspect::verify(dir.path()).unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.file == path && p.offset.is_some()),
        "{:?}",
        report.problems
    );
    fs::remove_file(&path).unwrap();
    refused("deleted");
    // Nothing was deleted or changed meanwhile: put back, it opens.
    fs::write(&path, &original).unwrap();
    assert_eq!(
        Db::open(dir.path())
            .unwrap()
            .runs(&RunFilter::default())
            .len(),
        20
    );
}

#[test]
fn a_writer_deletes_catalog_files_it_made_and_abandoned_and_no_other() {
    let dir = tempfile::tempdir().unwrap();
    many_runs(dir.path(), 5).close().unwrap();
    let (live, _) = the_catalog(dir.path());
    let folder = dir.path().join("catalog");
    // What a rewrite cut short by a crash leaves, and a user's file.
    fs::write(folder.join("0000000000000099.cat"), b"RUNLOGCT partial").unwrap();
    fs::write(folder.join("notes.txt"), b"mine").unwrap();
    Db::open_read_only(dir.path()).unwrap();
    assert_eq!(
        catalog_files(dir.path()).len(),
        3,
        "a reader deletes nothing"
    );
    Db::open(dir.path()).unwrap().close().unwrap();
    assert_eq!(
        catalog_files(dir.path()),
        vec![live, folder.join("notes.txt")]
    );
}

#[test]
fn a_lost_manifest_beside_a_catalog_file_is_refused_and_nothing_deleted() {
    let dir = tempfile::tempdir().unwrap();
    many_runs(dir.path(), 5).close().unwrap();
    let (catalog, _) = the_catalog(dir.path());
    fs::remove_file(dir.path().join("MANIFEST")).unwrap();
    let error = Db::open(dir.path()).unwrap_err();
    assert!(
        matches!(&error, Error::MissingFile { file, why } if file.ends_with("MANIFEST") && why.contains("catalog")),
        "{error}"
    );
    assert!(catalog.exists());
}
