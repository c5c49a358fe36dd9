//! `verify` tells damage from what a live writer or a crash leaves: a torn
//! tail is a note; it checks one snapshot beside a writer that flushes and
//! compacts; and it lists every damaged file, not only the first.

use std::fs;
use std::path::{Path, PathBuf};

use runlog::inspect;
use runlog::{Db, Durability};

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

#[test]
fn a_torn_tail_is_a_note_not_a_problem() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::builder(dir.path())
            .durability(Durability::Sync)
            .open()
            .unwrap();
        let run = db.create_run("e", "r").unwrap();
        for step in 0..20 {
            db.log_at(run, "loss", step, 0, 1.0).unwrap();
        }
        db.close().unwrap();
    }
    let wal = files_in(&dir.path().join("wal")).pop().unwrap();
    let bytes = fs::read(&wal).unwrap();
    fs::write(&wal, &bytes[..bytes.len() - 5]).unwrap();
    let report = inspect::verify(dir.path()).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.notes.len(), 1, "{:?}", report.notes);
    assert!(report.notes[0].message.contains("torn tail"));
    assert_eq!(report.notes[0].file, wal);
}

#[test]
fn every_damaged_file_is_listed() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::builder(dir.path())
            .durability(Durability::Sync)
            .open()
            .unwrap();
        let run = db.create_run("e", "r").unwrap();
        db.log_list(run, "loss", &vec![0.5; 5000]).unwrap();
        db.flush().unwrap();
        for step in 0..20 {
            db.log_at(run, "acc", step, 0, 1.0).unwrap();
        }
        db.close().unwrap();
    }
    let segment = files_in(&dir.path().join("segments")).pop().unwrap();
    let mut bytes = fs::read(&segment).unwrap();
    bytes[200] ^= 0xff;
    fs::write(&segment, &bytes).unwrap();
    let wal = files_in(&dir.path().join("wal")).pop().unwrap();
    let mut bytes = fs::read(&wal).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    fs::write(&wal, &bytes).unwrap();
    let report = inspect::verify(dir.path()).unwrap();
    let files: Vec<&PathBuf> = report.problems.iter().map(|p| &p.file).collect();
    assert!(files.contains(&&segment), "{:?}", report.problems);
    assert!(files.contains(&&wal), "{:?}", report.problems);
}

#[test]
fn verify_beside_a_writer_that_flushes_and_compacts_finds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::builder(dir.path())
        .durability(Durability::Group {
            interval: std::time::Duration::from_millis(1),
        })
        .memtable_bytes(64 << 10)
        .open()
        .unwrap();
    let run = db.create_run("e", "r").unwrap();
    let writer = std::thread::spawn(move || {
        for batch in 0..3000i64 {
            let points: Vec<(&str, i64, i64, f64)> = (0..50)
                .map(|i| ("loss", batch * 50 + i, 0, i as f64))
                .collect();
            db.log_batch(run, &points).unwrap();
            if batch % 1000 == 999 {
                db.compact().unwrap();
            }
        }
        db.close().unwrap();
    });
    let mut checks = 0;
    while !writer.is_finished() || checks == 0 {
        let report = inspect::verify(dir.path()).unwrap();
        assert!(
            report.problems.is_empty(),
            "check {checks}: {:?}",
            report.problems
        );
        checks += 1;
    }
    writer.join().unwrap();
    assert!(checks > 1, "verify ran while the writer wrote");
}

#[test]
fn segments_whose_provenance_could_not_rebuild_the_manifest_are_problems() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::builder(dir.path())
            .background_threads(false)
            .open()
            .unwrap();
        let run = db.create_run("e", "r").unwrap();
        for round in 0..2 {
            db.log_list(run, "loss", &[f64::from(round); 10]).unwrap();
            db.flush().unwrap();
        }
        db.close().unwrap();
    }
    let report = inspect::verify(dir.path()).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert!(report.notes.is_empty(), "{:?}", report.notes);
    // The newer segment replaced by a copy of the older: both claim the
    // same WAL records.
    let segments = files_in(&dir.path().join("segments"));
    assert_eq!(segments.len(), 2, "{segments:?}");
    fs::copy(&segments[0], &segments[1]).unwrap();
    let report = inspect::verify(dir.path()).unwrap();
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    let problem = &report.problems[0];
    assert_eq!(problem.file, segments[1]);
    assert!(
        problem
            .message
            .contains("a rebuilt MANIFEST would be wrong")
            && problem.message.contains(&segments[0].display().to_string()),
        "{}",
        problem.message
    );
}
