//! A failed write or fsync poisons the writer: that call reports the I/O
//! error, every later call reports `Poisoned`, and reopening recovers every
//! record that was durable before the failure.

mod common;

use std::time::Duration;

use runlog_wal::{Durability, Error, Lsn, MemStorage, RecoveryMode};

use common::{check_exact_prefix, payload_for, read_all};

const MAX_LEN: usize = 100;

fn assert_poisoned(wal: &runlog_wal::Wal) {
    assert!(matches!(wal.append(b"x"), Err(Error::Poisoned { .. })));
    assert!(matches!(
        wal.append_batch(&[b"y"]),
        Err(Error::Poisoned { .. })
    ));
    assert!(matches!(wal.sync(), Err(Error::Poisoned { .. })));
    assert!(matches!(
        wal.truncate_before(Lsn(u64::MAX)),
        Err(Error::Poisoned { .. })
    ));
}

/// Appends records under `durability` until one fails, with `arm` choosing
/// the fault; then checks poisoning and recovery.
fn poison_and_recover(durability: Durability, arm: impl Fn(&MemStorage)) {
    let storage = MemStorage::new();
    let wal = common::open(&storage, durability).unwrap();
    for lsn in 1..=50 {
        wal.append(&payload_for(Lsn(lsn), MAX_LEN)).unwrap();
    }
    let durable = wal.sync().unwrap();
    arm(&storage);
    let failure = (51..10_000)
        .map(|lsn| {
            wal.append(&payload_for(Lsn(lsn), MAX_LEN))
                .and_then(|_| wal.sync())
        })
        .find_map(Result::err)
        .expect("the injected fault fires");
    assert!(matches!(failure, Error::Io { .. }), "{failure}");
    assert_poisoned(&wal);
    assert!(wal.durable_lsn() >= durable);
    let acked = wal.durable_lsn();
    drop(wal);
    let after = storage.crash(7);
    let records = read_all(&after, RecoveryMode::TolerateCorruptTail).unwrap();
    assert!(check_exact_prefix(&records, MAX_LEN) >= acked);
    let reopened = common::open(&after, durability).unwrap();
    reopened
        .append(&payload_for(reopened.next_lsn(), MAX_LEN))
        .unwrap();
}

#[test]
fn a_failed_write_poisons_every_mode() {
    for durability in [
        Durability::Sync,
        Durability::Buffered,
        Durability::Group {
            interval: Duration::from_millis(1),
        },
    ] {
        poison_and_recover(durability, |storage| storage.fail_write_after(3));
    }
}

#[test]
fn a_failed_fsync_poisons_every_mode() {
    for durability in [
        Durability::Sync,
        Durability::Buffered,
        Durability::Group {
            interval: Duration::from_millis(1),
        },
    ] {
        poison_and_recover(durability, |storage| storage.fail_sync_after(2));
    }
}

#[test]
fn a_failed_fsync_in_the_background_flusher_poisons_the_writer() {
    let storage = MemStorage::new();
    let wal = common::open(
        &storage,
        Durability::Group {
            interval: Duration::from_millis(1),
        },
    )
    .unwrap();
    storage.fail_sync_after(0);
    wal.append(b"waits for the flusher").unwrap();
    // The flusher runs every millisecond; wait (bounded) until it has failed.
    let poisoned = (0..5000).any(|_| {
        std::thread::sleep(Duration::from_millis(1));
        matches!(wal.append(b"probe"), Err(Error::Poisoned { .. }))
    });
    assert!(poisoned, "the flusher's failed fsync poisons the writer");
    assert_poisoned(&wal);
}

#[test]
fn an_oversized_payload_is_refused_and_nothing_of_its_batch_is_written() {
    let storage = MemStorage::new();
    let wal = common::open(&storage, Durability::Sync).unwrap();
    let too_big = vec![0u8; runlog_wal::MAX_PAYLOAD + 1];
    match wal.append_batch(&[&b"fine"[..], &too_big[..]]) {
        Err(Error::PayloadTooLarge { len, limit }) => {
            assert_eq!(len, runlog_wal::MAX_PAYLOAD + 1);
            assert_eq!(limit, runlog_wal::MAX_PAYLOAD);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(wal.next_lsn(), Lsn::FIRST);
    wal.append(b"still usable").unwrap();
    drop(wal);
    assert_eq!(read_all(&storage, RecoveryMode::Strict).unwrap().len(), 1);
}

#[test]
fn a_payload_of_exactly_the_limit_is_accepted() {
    let storage = MemStorage::new();
    let wal = common::open(&storage, Durability::Buffered).unwrap();
    let largest = vec![7u8; runlog_wal::MAX_PAYLOAD];
    assert_eq!(wal.append(&largest).unwrap(), Lsn::FIRST);
    wal.close().unwrap();
    let records = read_all(&storage, RecoveryMode::Strict).unwrap();
    assert_eq!(records.len(), 1);
    assert!(
        records[0].payload[..] == largest[..],
        "the payload reads back whole"
    );
}

#[test]
fn out_of_range_options_are_refused_by_name() {
    let storage = MemStorage::new();
    let too_small = runlog_wal::Wal::builder(common::DIR)
        .storage(std::sync::Arc::new(storage.clone()))
        .segment_size(100)
        .open();
    assert!(matches!(
        too_small,
        Err(Error::InvalidOption {
            name: "segment_size",
            ..
        })
    ));
    let zero_interval = runlog_wal::Wal::builder(common::DIR)
        .storage(std::sync::Arc::new(storage))
        .durability(Durability::Group {
            interval: Duration::ZERO,
        })
        .open();
    assert!(matches!(
        zero_interval,
        Err(Error::InvalidOption {
            name: "durability",
            ..
        })
    ));
}
