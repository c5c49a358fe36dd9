//! Damaged logs: every truncation and every single-bit flip of a small log
//! is detected; tolerant recovery keeps exactly the intact prefix, strict
//! recovery names the file and offset; damage in an older file is never
//! skipped.

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use runlog_wal::{
    Corruption, Durability, Error, HEADER_LEN, Lsn, MemStorage, RECORD_HEADER_LEN, RecoveryMode,
    Tail, Wal,
};

use common::{DIR, check_exact_prefix, files, payload_for, read_all, storage_with};

const MAX_LEN: usize = 40;

/// A log of one file holding records 1..=`count`, and the byte offset at
/// which each record starts, plus the end.
fn small_log(count: u64) -> (PathBuf, Vec<u8>, Vec<usize>) {
    let storage = MemStorage::new();
    let wal = common::open(&storage, Durability::Buffered).unwrap();
    for lsn in 1..=count {
        wal.append(&payload_for(Lsn(lsn), MAX_LEN)).unwrap();
    }
    wal.close().unwrap();
    let mut all = files(&storage);
    assert_eq!(all.len(), 1, "the small log fits in one file");
    let (path, bytes) = all.remove(0);
    let mut starts = vec![HEADER_LEN];
    for lsn in 1..=count {
        let last = *starts.last().unwrap();
        starts.push(last + RECORD_HEADER_LEN + payload_for(Lsn(lsn), MAX_LEN).len());
    }
    assert_eq!(*starts.last().unwrap(), bytes.len());
    (path, bytes, starts)
}

#[test]
fn every_truncation_keeps_exactly_the_whole_records() {
    let (path, bytes, starts) = small_log(12);
    for cut in 0..=bytes.len() {
        let storage = storage_with(&[(path.clone(), bytes[..cut].to_vec())]);
        let whole = starts.iter().skip(1).filter(|&&end| end <= cut).count() as u64;

        let records = read_all(&storage, RecoveryMode::TolerateCorruptTail).unwrap();
        assert_eq!(records.len() as u64, whole, "cut at {cut}");
        check_exact_prefix(&records, MAX_LEN);

        let clean = starts.contains(&cut);
        match read_all(&storage, RecoveryMode::Strict) {
            Ok(strict) => {
                assert!(clean, "strict accepted a torn log cut at {cut}");
                assert_eq!(strict, records);
            }
            Err(Error::Corrupt { file, offset, .. }) => {
                assert!(!clean, "strict refused a clean cut at {cut}");
                assert_eq!(file, path);
                let expected = if cut < HEADER_LEN {
                    0
                } else {
                    starts[whole as usize]
                };
                assert_eq!(offset, expected as u64, "cut at {cut}");
            }
            Err(other) => panic!("cut at {cut}: unexpected {other}"),
        }

        // A writer opened on the torn log cuts the tail and carries on.
        let wal = common::open(&storage, Durability::Sync).unwrap();
        assert_eq!(wal.next_lsn(), Lsn(whole + 1), "cut at {cut}");
        assert_eq!(*wal.recovered_tail() == Tail::Clean, clean, "cut at {cut}");
        wal.append(&payload_for(Lsn(whole + 1), MAX_LEN)).unwrap();
        drop(wal);
        let after = read_all(&storage, RecoveryMode::Strict).unwrap();
        assert_eq!(check_exact_prefix(&after, MAX_LEN), Lsn(whole + 1));
    }
}

#[test]
fn every_bit_flip_is_detected_and_reported_where_it_is() {
    let (path, bytes, starts) = small_log(6);
    for bit in 0..bytes.len() * 8 {
        let mut damaged = bytes.clone();
        damaged[bit / 8] ^= 1 << (bit % 8);
        let storage = storage_with(&[(path.clone(), damaged)]);
        let byte = bit / 8;
        let (intact, damage_at) = if byte < HEADER_LEN {
            (0, 0)
        } else {
            let record = starts.iter().rposition(|&s| s <= byte).unwrap();
            (record, starts[record])
        };
        // Damage in the last record is a torn tail: the records before it
        // survive. Damage with intact records after it is corruption in
        // every mode, named where it starts: nothing after it is dropped
        // silently.
        let last_record = intact + 1 == starts.len() - 1;
        match read_all(&storage, RecoveryMode::TolerateCorruptTail) {
            Ok(records) => {
                assert!(
                    last_record,
                    "bit {bit}: damage before intact records was cut as a tail"
                );
                assert_eq!(records.len(), intact, "bit {bit}");
                check_exact_prefix(&records, MAX_LEN);
            }
            Err(Error::Corrupt { file, offset, kind }) => {
                assert!(!last_record, "bit {bit}: a torn last record refused");
                assert_eq!(
                    (file, offset),
                    (path.clone(), damage_at as u64),
                    "bit {bit}"
                );
                assert!(
                    matches!(kind, Corruption::FollowedByIntactRecord { .. }),
                    "bit {bit}: {kind}"
                );
            }
            Err(other) => panic!("bit {bit}: {other}"),
        }

        match read_all(&storage, RecoveryMode::Strict) {
            Err(Error::Corrupt { file, offset, .. }) => {
                assert_eq!(file, path, "bit {bit}");
                assert_eq!(offset, damage_at as u64, "bit {bit}");
            }
            other => panic!("bit {bit}: strict mode gave {other:?}"),
        }
    }
}

#[test]
fn damage_in_an_older_file_is_an_error_in_every_mode() {
    let storage = MemStorage::new();
    let wal = common::open(&storage, Durability::Buffered).unwrap();
    for lsn in 1..=400 {
        wal.append(&payload_for(Lsn(lsn), MAX_LEN)).unwrap();
    }
    wal.close().unwrap();
    let mut log = files(&storage);
    assert!(log.len() >= 3, "the log spans several files");
    let middle = log.len() / 2;
    let damaged_at = HEADER_LEN + 1000;
    log[middle].1[damaged_at] ^= 0x10;
    let storage = storage_with(&log);
    for mode in [RecoveryMode::TolerateCorruptTail, RecoveryMode::Strict] {
        match read_all(&storage, mode) {
            Err(Error::Corrupt { file, offset, .. }) => {
                assert_eq!(file, log[middle].0);
                assert!(offset <= damaged_at as u64 && offset >= HEADER_LEN as u64);
            }
            other => panic!("{mode:?}: {other:?}"),
        }
        let opened = Wal::builder(DIR)
            .storage(Arc::new(storage.clone()))
            .recovery_mode(mode)
            .replay_and_open(Lsn(0), |_| {});
        assert!(matches!(opened, Err(Error::Corrupt { .. })), "{mode:?}");
    }
}

#[test]
fn a_missing_file_in_the_middle_is_an_error() {
    let storage = MemStorage::new();
    let wal = common::open(&storage, Durability::Buffered).unwrap();
    for lsn in 1..=400 {
        wal.append(&payload_for(Lsn(lsn), MAX_LEN)).unwrap();
    }
    wal.close().unwrap();
    let mut log = files(&storage);
    let removed = log.remove(1);
    let storage = storage_with(&log);
    match read_all(&storage, RecoveryMode::TolerateCorruptTail) {
        Err(Error::Corrupt {
            file,
            offset: 0,
            kind: Corruption::OutOfSequence { .. },
        }) => assert_eq!(
            file,
            log[1].0,
            "names the file after {}",
            removed.0.display()
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_file_of_a_newer_format_version_is_refused_in_every_mode() {
    let (path, mut bytes, _) = small_log(3);
    bytes[8..12].copy_from_slice(&2u32.to_le_bytes());
    let crc = crc32(&bytes[..28]);
    bytes[28..32].copy_from_slice(&crc.to_le_bytes());
    let storage = storage_with(&[(path.clone(), bytes)]);
    for mode in [RecoveryMode::TolerateCorruptTail, RecoveryMode::Strict] {
        let opened = Wal::builder(DIR)
            .storage(Arc::new(storage.clone()))
            .recovery_mode(mode)
            .open();
        match opened {
            Err(Error::UnsupportedVersion {
                file,
                found: 2,
                supported: 1,
            }) => assert_eq!(file, path),
            other => panic!("{mode:?}: {other:?}"),
        }
    }
}

#[test]
fn a_file_whose_name_and_header_disagree_on_its_first_lsn_is_refused() {
    let (path, bytes, _) = small_log(3);
    let renamed = path.with_file_name(format!("{:020}.log", 2));
    let storage = storage_with(&[(renamed.clone(), bytes)]);
    match read_all(&storage, RecoveryMode::Strict) {
        Err(Error::Corrupt {
            file,
            offset: 0,
            kind: Corruption::FollowedByIntactRecord { damage, .. },
        }) => {
            assert_eq!(file, renamed);
            assert!(
                matches!(
                    *damage,
                    Corruption::NameMismatch {
                        name: Lsn(2),
                        header: Lsn(1)
                    }
                ),
                "{damage:?}"
            );
        }
        other => panic!("{other:?}"),
    }
}

/// CRC32 (IEEE), bit by bit: an independent check of the header checksum.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
