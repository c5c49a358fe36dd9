//! The engine under I/O failures and power cuts of its WAL (kept in a
//! `MemStorage` that fails chosen writes and fsyncs and tells what a power
//! cut would leave): a failed write or fsync fails its call and poisons the
//! database, nothing acknowledged is lost, nothing half-written appears,
//! and the database reopens.

use std::sync::Arc;

use proptest::prelude::*;
use runlog::{Db, Durability, Error, RunId};
use runlog_wal::MemStorage;

fn open(dir: &std::path::Path, storage: &MemStorage) -> runlog::Result<Db> {
    Db::builder(dir)
        .durability(Durability::Sync)
        .wal_storage(Arc::new(storage.clone()))
        .background_threads(false)
        .open()
}

/// The steps of `loss` the database holds for run 0.
fn steps(db: &Db) -> Vec<i64> {
    db.history(RunId(0), "loss", ..)
        .map(|h| h.steps)
        .unwrap_or_default()
}

#[test]
fn a_failed_wal_write_or_fsync_fails_its_call_poisons_and_loses_nothing() {
    for fail_sync in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let storage = MemStorage::new();
        let db = open(dir.path(), &storage).unwrap();
        let run = db.create_run("e", "r").unwrap();
        for step in 0..20 {
            db.log_at(run, "loss", step, 0, 1.0).unwrap();
        }
        if fail_sync {
            storage.fail_sync_after(0);
        } else {
            storage.fail_write_after(0);
        }
        let batch: Vec<_> = (20..30).map(|s| ("loss", s, 0, 1.0)).collect();
        assert!(db.log_batch(run, &batch).is_err(), "the failing call fails");
        let after = db.log_at(run, "loss", 30, 0, 1.0).unwrap_err();
        assert!(
            matches!(after, Error::Poisoned { .. } | Error::Wal(_)),
            "{after}"
        );
        drop(db);
        // Reopened on what the storage holds now (faults fire once):
        // every acknowledged point, and the failed batch whole or absent.
        let db = open(dir.path(), &storage).unwrap();
        let held = steps(&db);
        assert!(
            held == (0..20).collect::<Vec<_>>() || held == (0..30).collect::<Vec<_>>(),
            "fail_sync {fail_sync}: {held:?}"
        );
        db.log_at(run, "loss", 40, 0, 1.0).unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// A power cut at a random moment: under `Sync`, every acknowledged
    /// write call survives, what survives is a prefix of the calls made,
    /// and the database opens.
    #[test]
    fn a_power_cut_keeps_every_acknowledged_call(calls in 1usize..60, seed in any::<u64>()) {
        let dir = tempfile::tempdir().unwrap();
        let storage = MemStorage::new();
        let db = open(dir.path(), &storage).unwrap();
        let run = db.create_run("e", "r").unwrap();
        for call in 0..calls as i64 {
            let batch: Vec<_> = (0..3).map(|i| ("loss", call * 3 + i, 0, call as f64)).collect();
            db.log_batch(run, &batch).unwrap();
        }
        let after_cut = storage.crash(seed);
        drop(db);
        let db = open(dir.path(), &after_cut).unwrap();
        let held = steps(&db);
        prop_assert_eq!(held, (0..calls as i64 * 3).collect::<Vec<_>>());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// With `Buffered` durability and `sync` called now and then, a power
    /// cut keeps every call made before the last `sync`, and what survives
    /// is a prefix of the calls: none half-written, none after a lost one.
    #[test]
    fn a_power_cut_keeps_a_prefix_holding_everything_synced(
        calls in prop::collection::vec(any::<bool>(), 1..80),
        seed in any::<u64>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let storage = MemStorage::new();
        let db = Db::builder(dir.path())
            .durability(Durability::Buffered)
            .wal_storage(Arc::new(storage.clone()))
            .background_threads(false)
            .open()
            .unwrap();
        let run = db.create_run("e", "r").unwrap();
        db.sync().unwrap();
        let mut synced = 0;
        for (call, &sync_after) in calls.iter().enumerate() {
            let call = call as i64;
            let batch: Vec<_> = (0..3).map(|i| ("loss", call * 3 + i, 0, call as f64)).collect();
            db.log_batch(run, &batch).unwrap();
            if sync_after {
                db.sync().unwrap();
                synced = (call + 1) * 3;
            }
        }
        let after_cut = storage.crash(seed);
        drop(db);
        let db = open(dir.path(), &after_cut).unwrap();
        let held = steps(&db);
        prop_assert!(held.len() as i64 >= synced, "{} of {synced} synced points", held.len());
        prop_assert_eq!(held.len() % 3, 0, "a call whole or absent");
        prop_assert_eq!(&held, &(0..held.len() as i64).collect::<Vec<_>>());
    }
}
