//! A writer never deletes or changes what it did not make: directories
//! that hold anything but a database are refused, a lost MANIFEST is an
//! error rather than an empty database, only files named as the engine
//! names them are collected, and the WAL must continue where the MANIFEST
//! ends.

mod common;

use std::fs;
use std::path::Path;

use common::segment_names;
use runlog::{Db, Durability, Error};
use runlog_wal::{Lsn, Wal};

/// The errors of a writer's and a reader's open of `dir`, each refused.
fn both_opens_refuse(dir: &Path) -> [Error; 2] {
    [
        Db::open(dir).unwrap_err(),
        Db::open_read_only(dir).unwrap_err(),
    ]
}

fn small_database(dir: &Path) {
    let db = Db::builder(dir)
        .durability(Durability::Sync)
        .open()
        .unwrap();
    let run = db.create_run("e", "r").unwrap();
    db.log_list(run, "loss", &[3.0, 2.0, 1.0]).unwrap();
    db.flush().unwrap();
    db.log(run, "loss", 0.5).unwrap();
    db.close().unwrap();
}

#[test]
fn a_directory_holding_other_files_is_refused_and_left_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("notes.txt"), "mine").unwrap();
    for error in both_opens_refuse(dir.path()) {
        assert!(
            matches!(&error, Error::NotADatabase { found, .. } if found.contains("notes.txt")),
            "{error}"
        );
    }
    let names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["notes.txt"], "nothing created");

    // A user's file in a `segments` folder, with nothing else runlog makes.
    let other = tempfile::tempdir().unwrap();
    fs::create_dir(other.path().join("segments")).unwrap();
    fs::write(other.path().join("segments/intro.mp4"), "x").unwrap();
    let error = Db::open(other.path()).unwrap_err();
    assert!(matches!(error, Error::NotADatabase { .. }), "{error}");
    assert_eq!(
        fs::read(other.path().join("segments/intro.mp4")).unwrap(),
        b"x"
    );
}

#[test]
fn a_new_database_carries_its_identity_and_version() {
    let dir = tempfile::tempdir().unwrap();
    small_database(dir.path());
    let identity = fs::read_to_string(dir.path().join("RUNLOG")).unwrap();
    assert_eq!(identity, "runlog database\nformat-version 1\n");
    // A database from before identity files opens, and gains one.
    fs::remove_file(dir.path().join("RUNLOG")).unwrap();
    Db::open_read_only(dir.path()).unwrap();
    Db::open(dir.path()).unwrap().close().unwrap();
    assert!(dir.path().join("RUNLOG").exists());
    // A newer format is refused by name and version.
    fs::write(
        dir.path().join("RUNLOG"),
        "runlog database\nformat-version 9\n",
    )
    .unwrap();
    let error = Db::open(dir.path()).unwrap_err();
    assert!(
        matches!(error, Error::UnsupportedVersion { found: 9, .. }),
        "{error}"
    );
    fs::write(dir.path().join("RUNLOG"), "something else\n").unwrap();
    let error = Db::open_read_only(dir.path()).unwrap_err();
    assert!(matches!(error, Error::Corrupt { offset: 0, .. }), "{error}");
}

#[test]
fn a_lost_manifest_is_an_error_and_no_segment_is_deleted() {
    let dir = tempfile::tempdir().unwrap();
    small_database(dir.path());
    let before = segment_names(dir.path());
    assert!(!before.is_empty());
    fs::remove_file(dir.path().join("MANIFEST")).unwrap();
    for error in both_opens_refuse(dir.path()) {
        assert!(
            matches!(&error, Error::MissingFile { file, .. } if file.ends_with("MANIFEST")),
            "{error}"
        );
        assert!(error.to_string().contains("nothing was deleted"), "{error}");
    }
    assert_eq!(segment_names(dir.path()), before, "every segment kept");
    // Segments alone, with the catalog lost too, are refused the same way.
    fs::remove_dir_all(dir.path().join("catalog")).unwrap();
    let error = Db::open(dir.path()).unwrap_err();
    assert!(
        matches!(&error, Error::MissingFile { file, .. } if file.ends_with("MANIFEST")),
        "{error}"
    );
    assert_eq!(segment_names(dir.path()), before, "every segment kept");
}

#[test]
fn a_segments_path_that_is_not_a_folder_is_an_error_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    small_database(dir.path());
    let segments = dir.path().join("segments");
    fs::remove_dir_all(&segments).unwrap();
    fs::write(&segments, "not a folder").unwrap();
    for error in both_opens_refuse(dir.path()) {
        assert!(error.to_string().contains("segments"), "{error}");
    }
    assert_eq!(fs::read(&segments).unwrap(), b"not a folder");
}

#[test]
fn only_files_named_as_the_engine_names_them_are_collected() {
    let dir = tempfile::tempdir().unwrap();
    small_database(dir.path());
    let segments = dir.path().join("segments");
    // A user's files, two of them named almost as segments are.
    let theirs = ["intro.mp4", "abcdefghijklmnop.seg", "123.seg"];
    for name in theirs {
        fs::write(segments.join(name), "user").unwrap();
    }
    fs::write(segments.join("0000000000000099.seg"), "abandoned").unwrap();
    fs::write(segments.join("0000000000000098.seg.tmp"), "half").unwrap();
    Db::open(dir.path()).unwrap().close().unwrap();
    let names = segment_names(dir.path());
    for name in theirs {
        assert_eq!(fs::read(segments.join(name)).unwrap(), b"user", "{name}");
    }
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with("00000000000000099") || n.ends_with(".tmp")),
        "{names:?}"
    );
}

#[test]
fn a_segment_the_manifest_lists_is_named_when_missing() {
    let dir = tempfile::tempdir().unwrap();
    small_database(dir.path());
    let listed = segment_names(dir.path()).pop().unwrap();
    fs::remove_file(dir.path().join("segments").join(&listed)).unwrap();
    let error = Db::open_read_only(dir.path()).unwrap_err();
    assert!(
        matches!(&error, Error::MissingFile { file, .. } if file.ends_with(&listed)),
        "{error}"
    );
    let error = Db::open(dir.path()).unwrap_err();
    assert!(error.to_string().contains(&listed), "{error}");
}

/// Flushes everything, deletes the WAL and returns the LSN it would have
/// continued at (the manifest's flushed LSN + 1), for tests that put
/// another WAL in its place.
fn wal_replaced_after_a_flush(dir: &Path) -> Lsn {
    let db = Db::open(dir).unwrap();
    db.flush().unwrap();
    db.close().unwrap();
    // The WAL now starts right after what the manifest holds.
    let next = Wal::builder(dir.join("wal"))
        .replay_and_open(Lsn::FIRST, |_| {})
        .unwrap()
        .next_lsn();
    fs::remove_dir_all(dir.join("wal")).unwrap();
    next
}

#[test]
fn a_wal_that_does_not_continue_the_manifest_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    small_database(dir.path());
    let flushed = wal_replaced_after_a_flush(dir.path());
    Wal::builder(dir.path().join("wal"))
        .replay_and_open(Lsn(flushed.0 + 5), |_| {})
        .unwrap()
        .close()
        .unwrap();
    for error in both_opens_refuse(dir.path()) {
        assert!(matches!(error, Error::WalGap { .. }), "{error}");
    }
}

#[test]
fn a_deleted_wal_is_refused_until_repair_starts_it_again() {
    let dir = tempfile::tempdir().unwrap();
    small_database(dir.path());
    fs::remove_dir_all(dir.path().join("wal")).unwrap();
    // The point logged after the last flush went with the WAL: refused,
    // never opened as if nothing was missing.
    for error in both_opens_refuse(dir.path()) {
        assert!(
            matches!(&error, Error::MissingFile { file, .. } if file.ends_with("wal")),
            "{error}"
        );
    }
    let report = runlog::repair(dir.path()).unwrap();
    assert!(
        report.notes.iter().any(|n| n.contains("WAL was missing")),
        "{report:?}"
    );
    {
        let db = Db::builder(dir.path())
            .durability(Durability::Sync)
            .open()
            .unwrap();
        let run = db.find_run("e", "r").unwrap();
        db.log(run, "loss", 0.25).unwrap();
        db.close().unwrap();
    }
    // The new WAL starts after what the manifest holds, so the new point is
    // replayed (it once restarted at LSN 1 and was skipped).
    let db = Db::open(dir.path()).unwrap();
    let run = db.find_run("e", "r").unwrap();
    assert_eq!(
        db.history(run, "loss", ..).unwrap().values,
        [3.0, 2.0, 1.0, 0.25]
    );
}

#[test]
fn a_new_database_has_a_manifest_so_a_lost_wal_is_noticed() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::builder(dir.path())
            .durability(Durability::Sync)
            .open()
            .unwrap();
        let run = db.create_run("e", "r").unwrap();
        db.log(run, "loss", 1.0).unwrap(); // never flushed
        db.close().unwrap();
    }
    fs::remove_dir_all(dir.path().join("wal")).unwrap();
    assert!(matches!(
        Db::open(dir.path()),
        Err(Error::MissingFile { .. })
    ));
}

#[test]
fn a_reader_refuses_a_wal_whose_records_skip_past_the_manifest() {
    let dir = tempfile::tempdir().unwrap();
    small_database(dir.path());
    let flushed = wal_replaced_after_a_flush(dir.path());
    let wal = Wal::builder(dir.path().join("wal"))
        .replay_and_open(Lsn(flushed.0 + 3), |_| {})
        .unwrap();
    // A record that decodes (an empty write call), three LSNs too late.
    wal.append(&[0u8; 12]).unwrap();
    wal.close().unwrap();
    let error = Db::open_read_only(dir.path()).unwrap_err();
    assert!(matches!(error, Error::WalGap { .. }), "{error}");
}

#[test]
fn a_manifest_or_catalog_byte_that_still_decodes_is_caught_by_its_checksum() {
    let dir = tempfile::tempdir().unwrap();
    small_database(dir.path());
    let catalog = fs::read_dir(dir.path().join("catalog"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "cat"))
        .expect("a catalog file");
    // The experiment name "e" (a u32 length, then the byte): "d" would
    // decode just as well, so only the CRC can tell. Then the MANIFEST's
    // flushed LSN (its first body byte), which decodes as any number.
    let name_at = |bytes: &[u8]| {
        bytes
            .windows(5)
            .position(|w| w == [1, 0, 0, 0, b'e'])
            .expect("the experiment name is in the catalog")
            + 4
    };
    for (path, at) in [(catalog, None), (dir.path().join("MANIFEST"), Some(20))] {
        let original = fs::read(&path).unwrap();
        let mut bytes = original.clone();
        let at = at.unwrap_or_else(|| name_at(&bytes));
        bytes[at] ^= 0x01;
        fs::write(&path, &bytes).unwrap();
        for error in both_opens_refuse(dir.path()) {
            assert!(
                matches!(&error, Error::Corrupt { file, reason, .. } if *file == path && reason.contains("checksum")),
                "{error}"
            );
        }
        fs::write(&path, &original).unwrap();
        Db::open_read_only(dir.path()).unwrap();
    }
}

#[test]
fn a_manifest_whose_checksum_holds_but_whose_body_does_not_names_the_offset() {
    let dir = tempfile::tempdir().unwrap();
    small_database(dir.path());
    let path = dir.path().join("MANIFEST");
    let mut bytes = fs::read(&path).unwrap();
    // The body ends with the catalog reference: file, length, base length
    // (u64 each), before the 4-byte CRC. A base longer than the file's
    // counted length decodes, but cannot be.
    let body_end = bytes.len() - 4;
    let reference_at = body_end - 24;
    let len = u64::from_le_bytes(bytes[body_end - 16..body_end - 8].try_into().unwrap());
    bytes[body_end - 8..body_end].copy_from_slice(&(len + 1).to_le_bytes());
    let crc = crc32fast::hash(&bytes[20..body_end]);
    bytes[body_end..].copy_from_slice(&crc.to_le_bytes());
    fs::write(&path, &bytes).unwrap();
    for error in both_opens_refuse(dir.path()) {
        match &error {
            Error::Corrupt { file, offset, .. } => {
                assert_eq!((file, *offset), (&path, reference_at as u64), "{error}")
            }
            other => panic!("{other}"),
        }
    }
}

#[test]
fn a_manifest_that_cannot_be_read_is_an_error_not_a_lost_one() {
    let dir = tempfile::tempdir().unwrap();
    small_database(dir.path());
    let path = dir.path().join("MANIFEST");
    fs::remove_file(&path).unwrap();
    fs::create_dir(&path).unwrap();
    for error in both_opens_refuse(dir.path()) {
        assert!(
            matches!(&error, Error::Io { path: p, .. } if *p == path),
            "{error}"
        );
    }
}
