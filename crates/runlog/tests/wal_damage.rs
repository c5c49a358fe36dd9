//! Damage in the last WAL file: a torn tail (nothing intact after it) is
//! cut and reported; damage with intact records after it is refused by
//! every open, naming the file and offset, and the file is left as it was.

use std::fs;
use std::path::{Path, PathBuf};

use runlog::{Db, Durability, Error, WalCorruption, WalError, WalTail};

/// A database whose only WAL file holds 40 write calls; returns that file.
fn database_with_wal(dir: &Path) -> PathBuf {
    let db = Db::builder(dir)
        .durability(Durability::Sync)
        .open()
        .unwrap();
    let run = db.create_run("e", "r").unwrap();
    for step in 0..40 {
        db.log_at(run, "loss", step, step, step as f64).unwrap();
    }
    db.close().unwrap();
    let mut files: Vec<PathBuf> = fs::read_dir(dir.join("wal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.pop().unwrap()
}

#[test]
fn a_bad_byte_before_intact_records_is_refused_not_cut() {
    let dir = tempfile::tempdir().unwrap();
    let wal = database_with_wal(dir.path());
    let mut bytes = fs::read(&wal).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    fs::write(&wal, &bytes).unwrap();
    for error in [
        Db::open(dir.path()).unwrap_err(),
        Db::open_read_only(dir.path()).unwrap_err(),
    ] {
        match &error {
            Error::Wal(WalError::Corrupt { file, offset, kind }) => {
                assert_eq!(file, &wal);
                assert!(*offset <= middle as u64 && *offset > 32, "{error}");
                assert!(
                    matches!(kind, WalCorruption::FollowedByIntactRecord { .. }),
                    "{error}"
                );
            }
            other => panic!("{other}"),
        }
    }
    assert_eq!(fs::read(&wal).unwrap(), bytes, "the file is left as it was");
}

#[test]
fn a_bad_byte_in_the_header_is_refused_when_records_follow() {
    let dir = tempfile::tempdir().unwrap();
    let wal = database_with_wal(dir.path());
    let mut bytes = fs::read(&wal).unwrap();
    bytes[3] ^= 0x01;
    fs::write(&wal, &bytes).unwrap();
    let error = Db::open(dir.path()).unwrap_err();
    assert!(
        matches!(&error, Error::Wal(WalError::Corrupt { offset: 0, .. })),
        "{error}"
    );
}

#[test]
fn a_torn_tail_is_cut_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let wal = database_with_wal(dir.path());
    let bytes = fs::read(&wal).unwrap();
    fs::write(&wal, &bytes[..bytes.len() - 3]).unwrap();
    let db = Db::open(dir.path()).unwrap();
    match db.recovered_tail() {
        WalTail::Corrupt { file, offset, .. } => {
            assert_eq!(file, wal);
            assert!(offset < bytes.len() as u64 - 3);
        }
        WalTail::Clean => panic!("the cut tail was not reported"),
    }
    let run = db.find_run("e", "r").unwrap();
    assert_eq!(
        db.stats(run, "loss").unwrap().count,
        39,
        "all but the torn call"
    );
    db.close().unwrap();
    let db = Db::open(dir.path()).unwrap();
    assert_eq!(db.recovered_tail(), WalTail::Clean);
}

#[test]
fn a_record_that_does_not_decode_is_named_by_file_and_offset_in_it() {
    let dir = tempfile::tempdir().unwrap();
    let wal_file = database_with_wal(dir.path());
    let before = fs::metadata(&wal_file).unwrap().len();
    {
        // A record whose CRC holds but whose ops this build cannot read.
        let wal = runlog_wal::Wal::builder(dir.path().join("wal"))
            .open()
            .unwrap();
        let mut payload = vec![0u8; 8]; // wall_ms
        payload.extend(1u32.to_le_bytes()); // one op
        payload.push(250); // of a kind no build defines
        payload.extend([0u8; 32]);
        wal.append(&payload).unwrap();
        wal.close().unwrap();
    }
    let error = Db::open(dir.path()).unwrap_err();
    match &error {
        Error::Corrupt {
            file,
            offset,
            reason,
        } => {
            assert_eq!(file, &wal_file);
            // The op kind byte: after the frame header, wall_ms and count.
            assert_eq!(*offset, before + 16 + 12, "{error}");
            assert!(reason.contains("unknown op kind 250"), "{reason}");
        }
        other => panic!("{other}"),
    }
}
