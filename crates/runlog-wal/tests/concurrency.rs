//! Several threads appending at once: every record lands once, LSNs are
//! unique and consecutive, and appenders waiting for durability share fsyncs.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use runlog_wal::{Durability, Lsn, MemStorage, RecoveryMode};

use common::read_all;

const THREADS: u8 = 8;
const PER_THREAD: u32 = 200;

/// Appends `PER_THREAD` records from each of `THREADS` threads; returns the
/// LSN each (thread, index) was given.
fn append_from_threads(wal: &runlog_wal::Wal) -> BTreeMap<Lsn, Vec<u8>> {
    let assigned = parking_lot::Mutex::new(BTreeMap::new());
    thread::scope(|scope| {
        for thread_id in 0..THREADS {
            let assigned = &assigned;
            scope.spawn(move || {
                for index in 0..PER_THREAD {
                    let payload = [&[thread_id][..], &index.to_le_bytes()].concat();
                    let lsn = wal.append(&payload).unwrap();
                    assigned.lock().insert(lsn, payload);
                }
            });
        }
    });
    assigned.into_inner()
}

fn check_replay(storage: &MemStorage, assigned: &BTreeMap<Lsn, Vec<u8>>) {
    let records = read_all(storage, RecoveryMode::Strict).unwrap();
    assert_eq!(records.len(), assigned.len(), "every LSN was given once");
    for (record, (lsn, payload)) in records.iter().zip(assigned) {
        assert_eq!(record.lsn, *lsn);
        assert_eq!(&record.payload[..], &payload[..]);
    }
    assert_eq!(
        assigned.keys().next_back(),
        Some(&Lsn(u64::from(THREADS) * u64::from(PER_THREAD)))
    );
}

#[test]
fn concurrent_sync_appenders_share_fsyncs() {
    let storage = MemStorage::new();
    storage.set_sync_latency(Duration::from_millis(1));
    let wal = common::open(&storage, Durability::Sync).unwrap();
    let before = storage.stats();
    let assigned = append_from_threads(&wal);
    let syncs = storage.stats().syncs - before.syncs;
    let appends = u64::from(THREADS) * u64::from(PER_THREAD);
    // Each append returned durable, yet while one fsync ran the other
    // threads' records queued up behind it and were covered by the next.
    assert!(syncs < appends / 2, "{syncs} fsyncs for {appends} appends");
    assert_eq!(wal.durable_lsn(), Lsn(appends));
    drop(wal);
    check_replay(&storage, &assigned);
}

#[test]
fn group_mode_appends_wait_for_no_fsync_and_one_sync_covers_them_all() {
    let storage = MemStorage::new();
    let wal = Arc::new(
        common::open(
            &storage,
            Durability::Group {
                interval: Duration::from_secs(3600),
            },
        )
        .unwrap(),
    );
    let before = storage.stats();
    let assigned = append_from_threads(&wal);
    let during = storage.stats();
    let appends = u64::from(THREADS) * u64::from(PER_THREAD);
    // Small files rotate (one fsync of the full file, one of the new file
    // and one of the directory each); no append waits for its own fsync.
    let rotations = (during.syncs - before.syncs) / 3;
    assert!(rotations < appends / 10, "{rotations} rotations");
    assert_eq!(wal.sync().unwrap(), Lsn(appends));
    assert_eq!(storage.stats().syncs - during.syncs, 1, "one fsync for all");
    drop(wal);
    check_replay(&storage, &assigned);
}

#[test]
fn the_group_flusher_makes_appends_durable_without_a_sync_call() {
    let storage = MemStorage::new();
    let wal = common::open(
        &storage,
        Durability::Group {
            interval: Duration::from_millis(2),
        },
    )
    .unwrap();
    let lsn = wal.append(b"made durable by the flusher").unwrap();
    let durable = (0..5000).any(|_| {
        thread::sleep(Duration::from_millis(1));
        wal.durable_lsn() >= lsn
    });
    assert!(durable, "the flusher fsynced within five seconds");
    // What the flusher made durable survives a power cut.
    let after = storage.crash(3);
    let records = read_all(&after, RecoveryMode::TolerateCorruptTail).unwrap();
    assert_eq!(records.last().map(|r| r.lsn), Some(lsn));
}

#[test]
fn truncate_before_deletes_only_whole_older_files() {
    let storage = MemStorage::new();
    let wal = common::open(&storage, Durability::Buffered).unwrap();
    for lsn in 1..=1000 {
        wal.append(&common::payload_for(Lsn(lsn), 100)).unwrap();
    }
    wal.sync().unwrap();
    let files_before = common::files(&storage).len();
    assert!(files_before > 4);
    let deleted = wal.truncate_before(Lsn(600)).unwrap();
    assert!(deleted > 0 && deleted < files_before);
    let records = read_all(&storage, RecoveryMode::Strict).unwrap();
    let first = records.first().unwrap().lsn;
    assert!(first <= Lsn(600), "record 600 and later are kept");
    assert!(first > Lsn(1), "files wholly below 600 are gone");
    assert_eq!(common::check_exact_prefix(&records, 100), Lsn(1000));
    // Truncating past the end leaves one empty file and the LSN sequence.
    wal.truncate_before(Lsn(u64::MAX)).unwrap();
    assert_eq!(common::files(&storage).len(), 1);
    assert!(read_all(&storage, RecoveryMode::Strict).unwrap().is_empty());
    drop(wal);
    let wal = common::open(&storage, Durability::Buffered).unwrap();
    assert_eq!(wal.next_lsn(), Lsn(1001));
}
