//! Simulated power loss with the in-memory storage: unsynced bytes are
//! dropped or torn at random, and every record acknowledged as durable
//! survives, while what survives is always an exact prefix of what was
//! appended.

mod common;

use proptest::prelude::*;
use runlog_wal::{Durability, Lsn, MemStorage, RecoveryMode};

use common::{check_exact_prefix, payload_for, read_all};

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
