//! `repair` replaces damaged records that intact ones follow by filler
//! records with the same LSNs: every intact record survives, the log reads
//! in sequence again, and what was dropped is reported.

mod common;

use std::path::Path;
use std::sync::Arc;

use proptest::prelude::*;
use runlog_wal::{Durability, Lsn, RecoveryMode, repair};

use common::{DIR, files, payload_for, read_all, storage_with};

const MAX_LEN: usize = 60;
const FILLER: &[u8] = b"filler";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn repair_keeps_every_intact_record_and_reports_the_rest(
        count in 20u64..200,
        damage in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 1u8..=255), 1..4),
    ) {
        let storage = runlog_wal::MemStorage::new();
        let wal = common::open(&storage, Durability::Buffered).unwrap();
        for lsn in 1..=count {
            wal.append(&payload_for(Lsn(lsn), MAX_LEN)).unwrap();
        }
        wal.close().unwrap();
        // Flip bytes anywhere but in the last file's last two records'
        // worth of bytes, so that intact records always follow the damage.
        // (Damage with only damage after it is a torn tail, the writer's to
        // cut: flips in the last two records once cut both, which is the
        // rule, not a loss this test bounds.)
        let mut log = files(&storage);
        let last = log.len() - 1;
        for (index, _, mask) in &damage {
            let file = index.index(log.len());
            let tail = 2 * (runlog_wal::RECORD_HEADER_LEN + MAX_LEN);
            let room = if file == last { log[file].1.len().saturating_sub(tail) } else { log[file].1.len() };
            if room == 0 { continue; }
            let at = index.index(room);
            log[file].1[at] ^= mask;
        }
        let storage = storage_with(&log);
        let dropped = repair(Arc::new(storage.clone()), Path::new(DIR), FILLER).unwrap();
        let records = read_all(&storage, RecoveryMode::Strict)
            .or_else(|_| read_all(&storage, RecoveryMode::TolerateCorruptTail))
            .unwrap();
        let lost: Vec<u64> = dropped
            .iter()
            .flat_map(|d| d.lsns.start().0..=d.lsns.end().0)
            .collect();
        // In sequence, each record either intact or a reported filler.
        for (i, record) in records.iter().enumerate() {
            prop_assert_eq!(record.lsn, Lsn(i as u64 + 1));
            if lost.contains(&record.lsn.0) {
                prop_assert_eq!(&record.payload[..], FILLER);
            } else {
                prop_assert_eq!(&record.payload[..], &payload_for(record.lsn, MAX_LEN)[..]);
            }
        }
        // Every record is back, but a last one torn by the damage (the
        // writer's to cut, as after a crash).
        prop_assert!(records.len() as u64 + 1 >= count, "{} of {count}", records.len());
        // A second repair finds nothing more to do.
        prop_assert!(repair(Arc::new(storage.clone()), Path::new(DIR), FILLER).unwrap().is_empty());
    }
}

#[test]
fn one_bad_byte_in_a_middle_record_loses_that_record_only() {
    let storage = runlog_wal::MemStorage::new();
    let wal = common::open(&storage, Durability::Buffered).unwrap();
    for lsn in 1..=30 {
        wal.append(&payload_for(Lsn(lsn), MAX_LEN)).unwrap();
    }
    wal.close().unwrap();
    let mut log = files(&storage);
    let middle = log[0].1.len() / 2;
    log[0].1[middle] ^= 0x40;
    let storage = storage_with(&log);
    assert!(
        read_all(&storage, RecoveryMode::TolerateCorruptTail).is_err(),
        "refused before"
    );
    let dropped = repair(Arc::new(storage.clone()), Path::new(DIR), FILLER).unwrap();
    assert_eq!(dropped.len(), 1);
    let lost = dropped[0].lsns.clone();
    assert_eq!(lost.start(), lost.end(), "one record: {lost:?}");
    let records = read_all(&storage, RecoveryMode::Strict).unwrap();
    assert_eq!(records.len(), 30);
    assert_eq!(&records[lost.start().0 as usize - 1].payload[..], FILLER);
}
