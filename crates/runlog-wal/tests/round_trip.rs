//! Whatever is appended and synced is replayed identically, in order, with
//! the right LSNs, across reopens and file rotations.

mod common;

use std::sync::Arc;

use proptest::prelude::*;
use runlog_wal::{Durability, HEADER_LEN, Lsn, MemStorage, RECORD_HEADER_LEN, RecoveryMode, Wal};

use common::{DIR, first_lsn, read_all};

/// One step of a writing session.
#[derive(Clone, Debug)]
enum Op {
    Append(Vec<u8>),
    Batch(Vec<Vec<u8>>),
    Sync,
    Reopen,
}

fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => prop::collection::vec(any::<u8>(), 0..64),
        2 => prop::collection::vec(any::<u8>(), 0..9000),
        1 => Just(Vec::new()),
        1 => (1usize..4_000_000).prop_map(|len| vec![0xA5; len]),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => payload().prop_map(Op::Append),
        2 => prop::collection::vec(payload(), 0..6).prop_map(Op::Batch),
        1 => Just(Op::Sync),
        1 => Just(Op::Reopen),
    ]
}

fn durability() -> impl Strategy<Value = Durability> {
    prop_oneof![
        Just(Durability::Sync),
        Just(Durability::Buffered),
        Just(Durability::Group {
            interval: std::time::Duration::from_millis(1)
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn appended_records_replay_identically(
        ops in prop::collection::vec(op(), 0..40),
        durability in durability(),
        segment_size in prop_oneof![Just(4096u64), Just(64 << 10), Just(64 << 20)],
    ) {
        let storage = MemStorage::new();
        let open = || Wal::builder(DIR)
            .storage(Arc::new(storage.clone()))
            .durability(durability)
            .segment_size(segment_size)
            .open()
            .unwrap();
        let mut wal = open();
        let mut model: Vec<Vec<u8>> = Vec::new();
        for op in ops {
            match op {
                Op::Append(payload) => {
                    let lsn = wal.append(&payload).unwrap();
                    prop_assert_eq!(lsn, Lsn(model.len() as u64 + 1));
                    model.push(payload);
                }
                Op::Batch(payloads) => {
                    let range = wal.append_batch(&payloads).unwrap();
                    prop_assert_eq!(range.start, Lsn(model.len() as u64 + 1));
                    prop_assert_eq!(range.end.0 - range.start.0, payloads.len() as u64);
                    model.extend(payloads);
                }
                Op::Sync => {
                    prop_assert_eq!(wal.sync().unwrap(), Lsn(model.len() as u64));
                }
                Op::Reopen => {
                    wal.close().unwrap();
                    wal = open();
                    prop_assert_eq!(wal.next_lsn(), Lsn(model.len() as u64 + 1));
                }
            }
        }
        wal.close().unwrap();
        let records = read_all(&storage, RecoveryMode::Strict).unwrap();
        prop_assert_eq!(records.len(), model.len());
        for (index, (record, payload)) in records.iter().zip(&model).enumerate() {
            prop_assert_eq!(record.lsn, Lsn(index as u64 + 1));
            prop_assert_eq!(&record.payload[..], &payload[..]);
        }
    }
}

#[test]
fn replay_from_an_lsn_skips_only_earlier_records() {
    let storage = MemStorage::new();
    let wal = common::open(&storage, Durability::Buffered).unwrap();
    for lsn in 1..=500u64 {
        wal.append(&common::payload_for(Lsn(lsn), 100)).unwrap();
    }
    wal.close().unwrap();
    let mut replayed = Vec::new();
    let wal = Wal::builder(DIR)
        .storage(Arc::new(storage.clone()))
        .segment_size(4096)
        .replay_and_open(Lsn(321), |record| replayed.push(record))
        .unwrap();
    assert_eq!(replayed.first().map(|r| r.lsn), Some(Lsn(321)));
    assert_eq!(common::check_exact_prefix(&replayed, 100), Lsn(500));
    assert_eq!(wal.next_lsn(), Lsn(501));
}

#[test]
fn a_ten_megabyte_batch_on_the_real_file_system_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let big: Vec<u8> = (0..10_000_000u32).map(|i| (i % 251) as u8).collect();
    let wal = Wal::builder(dir.path())
        .durability(Durability::Sync)
        .segment_size(1 << 20)
        .open()
        .unwrap();
    wal.append(b"small").unwrap();
    let range = wal.append_batch(&[&big[..], b"after"]).unwrap();
    assert_eq!(range, Lsn(2)..Lsn(4));
    drop(wal);
    let mut replayed = Vec::new();
    let wal = Wal::builder(dir.path())
        .recovery_mode(RecoveryMode::Strict)
        .replay_and_open(Lsn::FIRST, |record| replayed.push(record))
        .unwrap();
    let payloads: Vec<&[u8]> = replayed.iter().map(|r| &r.payload[..]).collect();
    assert_eq!(payloads, [&b"small"[..], &big[..], b"after"]);
    assert_eq!(wal.next_lsn(), Lsn(4));
}

/// A file is full when the next record would not fit in it: the writer
/// rotates exactly then, never earlier and never later (a record larger
/// than a file gets a file of its own).
#[test]
fn a_file_rotates_exactly_when_the_next_record_would_not_fit() {
    let storage = MemStorage::new();
    let wal = common::open(&storage, Durability::Buffered).unwrap();
    for lsn in 1..=400 {
        // Mostly small records, now and then one larger than a file.
        let len = if lsn % 97 == 0 {
            6000
        } else {
            (lsn * 37 % 300) as usize
        };
        wal.append(&vec![lsn as u8; len]).unwrap();
    }
    wal.close().unwrap();
    let records = read_all(&storage, RecoveryMode::Strict).unwrap();
    let framed = |lsn: u64| (RECORD_HEADER_LEN + records[lsn as usize - 1].payload.len()) as u64;
    let files = common::files(&storage);
    assert!(files.len() > 10, "{} files", files.len());
    for pair in files.windows(2) {
        let (len, next_first) = (pair[0].1.len() as u64, first_lsn(&pair[1].0));
        let first = first_lsn(&pair[0].0);
        let alone = next_first == first + 1;
        assert!(len <= 4096 || alone, "{:?} is {len} bytes", pair[0].0);
        assert!(
            len + framed(next_first) > 4096,
            "{:?} ({len} bytes) had room for record {next_first}",
            pair[0].0
        );
    }
}

/// A record that fills a file to the last byte stays in it; the next one
/// starts a new file.
#[test]
fn a_record_that_exactly_fills_a_file_stays_in_it() {
    let storage = MemStorage::new();
    let wal = common::open(&storage, Durability::Buffered).unwrap();
    wal.append(&[1u8; 100]).unwrap();
    let room = 4096 - HEADER_LEN - 2 * RECORD_HEADER_LEN - 100;
    wal.append(&vec![2u8; room]).unwrap();
    wal.append(b"next").unwrap();
    wal.close().unwrap();
    let files = common::files(&storage);
    assert_eq!(files.len(), 2, "{files:?}");
    assert_eq!(files[0].1.len(), 4096);
    assert_eq!(first_lsn(&files[1].0), 3);
}
