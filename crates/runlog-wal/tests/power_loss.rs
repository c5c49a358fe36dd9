//! Simulated power loss with the in-memory storage: unsynced bytes are
//! dropped or torn at random, and every record acknowledged as durable
//! survives, while what survives is always an exact prefix of what was
//! appended.

mod common;

use proptest::prelude::*;
use runlog_wal::{Durability, Lsn, MemStorage, RecoveryMode};

use common::{check_exact_prefix, first_lsn, payload_for, read_all};

const MAX_LEN: usize = 300;

#[derive(Clone, Debug)]
enum Op {
    /// Append this many records in one batch.
    Append(usize),
    Sync,
    /// Delete files wholly below the last acknowledged LSN.
    Truncate,
    /// Lose power; the seed picks what survives.
    Crash(u64),
    /// The process dies (its unsynced bytes stay in the page cache) and a
    /// new writer opens; a later power cut must not lose what it recovered.
    /// With `wrote_out`, the dying writer had handed its buffered records to
    /// the operating system (unsynced), as a process killed after its
    /// `write` calls has.
    ProcessCrash {
        wrote_out: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (1usize..20).prop_map(Op::Append),
        2 => Just(Op::Sync),
        1 => Just(Op::Truncate),
        1 => any::<u64>().prop_map(Op::Crash),
        1 => any::<bool>().prop_map(|wrote_out| Op::ProcessCrash { wrote_out }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn acknowledged_records_survive_power_loss(
        ops in prop::collection::vec(op(), 1..60),
        sync_mode in any::<bool>(),
        final_crash in any::<u64>(),
    ) {
        let durability = if sync_mode { Durability::Sync } else { Durability::Buffered };
        let mut storage = MemStorage::new();
        let mut wal = common::open(&storage, durability).unwrap();
        // Every record at or below `acked` was reported durable.
        let mut acked = Lsn(0);
        // Records below this may have been deleted by truncation.
        let mut truncated_below = Lsn(0);
        for op in ops.into_iter().chain([Op::Crash(final_crash)]) {
            match op {
                Op::Append(count) => {
                    let next = wal.next_lsn();
                    let batch: Vec<Vec<u8>> =
                        (0..count as u64).map(|i| payload_for(Lsn(next.0 + i), MAX_LEN)).collect();
                    let range = wal.append_batch(&batch).unwrap();
                    if durability == Durability::Sync {
                        acked = range.end.prev();
                    }
                }
                Op::Sync => acked = wal.sync().unwrap(),
                Op::Truncate => {
                    wal.truncate_before(acked).unwrap();
                    truncated_below = acked;
                }
                Op::ProcessCrash { wrote_out } => {
                    if wrote_out && durability == Durability::Buffered {
                        drop(wal); // writes the buffer out, fsyncs nothing
                    } else {
                        std::mem::forget(wal); // no clean close; the page cache stays
                    }
                    wal = common::open(&storage, durability).unwrap();
                    // The new writer made what it recovered durable before
                    // building on it.
                    acked = wal.next_lsn().prev();
                }
                Op::Crash(seed) => {
                    let after = storage.crash(seed);
                    std::mem::forget(wal); // the process is gone: no clean close
                    let records = read_all(&after, RecoveryMode::TolerateCorruptTail).unwrap();
                    let last = check_exact_prefix(&records, MAX_LEN);
                    prop_assert!(last >= acked, "acknowledged {acked}, survived up to {last}");
                    if let Some(first) = records.first() {
                        prop_assert!(first.lsn <= truncated_below.max(Lsn::FIRST));
                    }
                    storage = after;
                    wal = common::open(&storage, durability).unwrap();
                    prop_assert_eq!(wal.next_lsn(), last.next());
                    acked = last;
                }
            }
        }
    }
}

/// The three modes, `Group` with an interval no test waits for.
const MODES: [Durability; 3] = [
    Durability::Sync,
    Durability::Group {
        interval: std::time::Duration::from_secs(3600),
    },
    Durability::Buffered,
];

/// Appends 50 records that cross file boundaries; returns the last LSN.
fn append_some(wal: &runlog_wal::Wal) -> Lsn {
    for lsn in 1..=50 {
        wal.append(&payload_for(Lsn(lsn), MAX_LEN)).unwrap();
    }
    Lsn(50)
}

/// Checks that every power cut of `storage` keeps records 1 to `last`.
fn assert_survives_power_cuts(storage: &MemStorage, last: Lsn, context: &str) {
    for seed in 0..16 {
        let records = read_all(&storage.crash(seed), RecoveryMode::Strict).unwrap();
        assert_eq!(
            check_exact_prefix(&records, MAX_LEN),
            last,
            "{context}, seed {seed}"
        );
    }
}

#[test]
fn close_makes_every_record_durable_in_every_mode() {
    for durability in MODES {
        let storage = MemStorage::new();
        let wal = common::open(&storage, durability).unwrap();
        let last = append_some(&wal);
        wal.close().unwrap();
        assert_survives_power_cuts(&storage, last, &format!("{durability:?}"));
    }
}

#[test]
fn a_dropped_writer_syncs_or_under_buffered_hands_its_records_to_the_os() {
    for durability in MODES {
        let storage = MemStorage::new();
        let wal = common::open(&storage, durability).unwrap();
        let last = append_some(&wal);
        drop(wal);
        // What a later open sees at once: everything appended.
        let records = read_all(&storage, RecoveryMode::Strict).unwrap();
        assert_eq!(
            check_exact_prefix(&records, MAX_LEN),
            last,
            "{durability:?}"
        );
        // `Buffered` fsyncs only when told to or when a file is full.
        if durability != Durability::Buffered {
            assert_survives_power_cuts(&storage, last, &format!("{durability:?}"));
        }
    }
}

/// `truncate_before(lsn)` deletes exactly the files that hold only records
/// below `lsn` (all of them when `lsn` is past every record), and the
/// deletions are durable when it returns: no power cut brings one back.
#[test]
fn truncation_deletes_exactly_the_files_below_its_lsn_and_durably() {
    let last = 50;
    for lsn in 1..=last + 1 {
        let storage = MemStorage::new();
        let wal = common::open(&storage, Durability::Sync).unwrap();
        append_some(&wal);
        wal.truncate_before(Lsn(lsn)).unwrap();
        let kept = read_all(&storage, RecoveryMode::Strict).unwrap();
        match kept.first() {
            None => assert_eq!(lsn, last + 1, "truncating before {lsn} deleted everything"),
            Some(first) => {
                assert!(
                    lsn <= last,
                    "before {lsn}: records kept though all are below it"
                );
                assert!(
                    first.lsn.0 <= lsn,
                    "before {lsn}: record {} is the first kept",
                    first.lsn
                );
                assert_eq!(kept.last().unwrap().lsn, Lsn(last));
                // The first file kept holds a record at or after `lsn`.
                let files = common::files(&storage);
                let second_starts = files.get(1).map_or(u64::MAX, |(path, _)| first_lsn(path));
                assert!(
                    second_starts > lsn,
                    "before {lsn}: the first kept file holds nothing at or after it"
                );
            }
        }
        let kept_first = kept.first().map(|r| r.lsn);
        for seed in 0..8 {
            let after = read_all(&storage.crash(seed), RecoveryMode::Strict).unwrap();
            assert_eq!(
                after.first().map(|r| r.lsn),
                kept_first,
                "before {lsn}, seed {seed}"
            );
        }
    }
}
