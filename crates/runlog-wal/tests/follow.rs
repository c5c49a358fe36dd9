//! The follower hands out every record exactly once, in order, across file
//! rotations and truncations, and waits at a record still being written.

use std::path::Path;
use std::sync::Arc;

use proptest::prelude::*;
use runlog_wal::{Durability, Followed, Lsn, MemStorage, Storage, Wal, WalFollower};

fn payload(i: u64) -> Vec<u8> {
    let len = (i * 37 % 700) as usize;
    (0..len).map(|b| (b as u64 ^ i) as u8).collect()
}

/// Drains what the follower has now: the LSNs of records read, and the
/// LSN ranges it reported removed.
fn drain(
    follower: &mut WalFollower,
    seen: &mut Vec<(u64, Vec<u8>)>,
    removed: &mut Vec<(u64, u64)>,
) {
    loop {
        match follower.poll().expect("no damage in this log") {
            Followed::Record(record) => seen.push((record.lsn.0, record.payload.to_vec())),
            Followed::Removed { from, to } => removed.push((from.0, to.0)),
            Followed::Idle => return,
        }
    }
}

proptest! {
    #[test]
    fn every_record_once_in_order_or_reported_removed(
        // Each step: how many records to append, then whether to poll, and
        // whether to truncate what the follower has read (or more).
        steps in prop::collection::vec((0u64..30, any::<bool>(), 0u8..4), 1..40),
    ) {
        let storage = Arc::new(MemStorage::new());
        let dir = Path::new("/db/wal");
        let wal = Wal::builder(dir)
            .storage(storage.clone())
            .durability(Durability::Buffered)
            .segment_size(4096)
            .open()
            .unwrap();
        let mut follower = WalFollower::new(storage.clone(), dir, Lsn::FIRST);
        let (mut seen, mut removed) = (Vec::new(), Vec::new());
        let mut appended = 0u64;
        for (count, poll, truncate) in steps {
            for _ in 0..count {
                appended += 1;
                prop_assert_eq!(wal.append(&payload(appended)).unwrap(), Lsn(appended));
            }
            if poll {
                // Appends reach the file when the log writes its buffer.
                wal.sync().unwrap();
                drain(&mut follower, &mut seen, &mut removed);
            }
            match truncate {
                // Up to what the follower has read: it must lose nothing.
                1 => { wal.truncate_before(follower.next_lsn()).unwrap(); }
                // Everything: it may lose records, and must say which.
                2 => { wal.truncate_before(Lsn(appended + 1)).unwrap(); }
                _ => {}
            }
        }
        wal.sync().unwrap();
        drain(&mut follower, &mut seen, &mut removed);
        // What was read and what was reported removed cover 1..=appended
        // exactly once, in order.
        let mut covered: Vec<u64> = seen.iter().map(|(lsn, _)| *lsn).collect();
        for &(from, to) in &removed {
            covered.extend(from..=to);
        }
        covered.sort_unstable();
        prop_assert_eq!(covered, (1..=appended).collect::<Vec<_>>());
        for (lsn, bytes) in &seen {
            prop_assert_eq!(bytes, &payload(*lsn));
        }
        prop_assert!(seen.windows(2).all(|w| w[0].0 < w[1].0));
    }
}

#[test]
fn a_record_being_written_is_waited_for_then_read_whole() {
    let storage = Arc::new(MemStorage::new());
    let dir = Path::new("/db/wal");
    let wal = Wal::builder(dir).storage(storage.clone()).open().unwrap();
    wal.append(b"first").unwrap();
    wal.sync().unwrap();
    let mut follower = WalFollower::new(storage.clone(), dir, Lsn::FIRST);
    assert!(matches!(follower.poll().unwrap(), Followed::Record(r) if &r.payload[..] == b"first"));
    assert_eq!(follower.poll().unwrap(), Followed::Idle);
    wal.append(b"second").unwrap();
    wal.sync().unwrap();
    // The file as a reader sees it mid-write: the next record's first
    // half. The follower waits, and then reads the whole record.
    let file = storage.list_dir(dir).unwrap().pop().unwrap();
    let path = dir.join(file);
    let whole = storage.contents(&path).unwrap();
    let cut = whole.len() - 4;
    let handle = storage.open_append(&path).unwrap();
    handle.truncate(cut as u64).unwrap();
    assert_eq!(follower.poll().unwrap(), Followed::Idle);
    handle.append(&whole[cut..]).unwrap();
    let got = follower.poll().unwrap();
    assert!(
        matches!(&got, Followed::Record(r) if &r.payload[..] == b"second"),
        "{got:?}"
    );
    assert_eq!(follower.next_lsn(), Lsn(3));
}

#[test]
fn following_from_a_later_lsn_skips_earlier_records() {
    let storage = Arc::new(MemStorage::new());
    let dir = Path::new("/db/wal");
    let wal = Wal::builder(dir).storage(storage.clone()).open().unwrap();
    for i in 1..=5u64 {
        wal.append(&payload(i)).unwrap();
    }
    wal.sync().unwrap();
    let mut follower = WalFollower::new(storage, dir, Lsn(4));
    let (mut seen, mut removed) = (Vec::new(), Vec::new());
    drain(&mut follower, &mut seen, &mut removed);
    assert_eq!(seen, vec![(4, payload(4)), (5, payload(5))]);
    assert!(removed.is_empty());
}
