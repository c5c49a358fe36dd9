//! The engine under I/O failures and power cuts of its WAL, segments,
//! MANIFEST and catalog file (kept in a `MemStorage` that fails chosen
//! writes and fsyncs and tells what a power cut would leave; blobs stay on
//! disk): a failed write or fsync fails its call and poisons the database,
//! nothing acknowledged is lost, nothing half-written appears, and the
//! database reopens.

use std::sync::Arc;

use proptest::prelude::*;
use runlog::{Db, Durability, Error, RunId, WalError};
use runlog_wal::{MemStorage, Storage};

fn open(dir: &std::path::Path, storage: &MemStorage) -> runlog::Result<Db> {
    open_with(dir, storage, Durability::Sync)
}

fn open_with(
    dir: &std::path::Path,
    storage: &MemStorage,
    durability: Durability,
) -> runlog::Result<Db> {
    Db::builder(dir)
        .durability(durability)
        .storage(Arc::new(storage.clone()))
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

/// A write or an fsync that fails at any point of a flush or a compaction
/// (the segment, the catalog file, the MANIFEST, and their directory
/// entries): that call fails, the database either goes on or refuses
/// writes as poisoned (with background threads), and reopening it holds
/// every acknowledged call. So does a power cut at that same point.
#[test]
fn a_failed_write_or_fsync_anywhere_in_a_flush_or_compaction_loses_nothing() {
    for background in [false, true] {
        for fail_sync in [false, true] {
            let mut nth = 0;
            while fails_one_flush_io_call(background, fail_sync, nth) {
                nth += 1;
            }
            // Every write and fsync of the flush and compaction was failed
            // in turn: there are several of each.
            assert!(
                nth >= 3,
                "background {background}, fail_sync {fail_sync}: {nth} calls"
            );
        }
    }
}

/// Waits for a background thread's failure to poison `db`.
fn wait_until_poisoned(db: &Db, context: &str) {
    let start = std::time::Instant::now();
    while db.flush().is_ok() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "{context}: the failure never poisoned the database"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Fails the `nth` write (or fsync) after some acknowledged calls, during a
/// flush and compaction; returns whether that fault fired.
fn fails_one_flush_io_call(background: bool, fail_sync: bool, nth: u64) -> bool {
    let context = format!("background {background}, fail_sync {fail_sync}, call {nth}");
    let dir = tempfile::tempdir().unwrap();
    let storage = MemStorage::new();
    let db = Db::builder(dir.path())
        .durability(Durability::Sync)
        .storage(Arc::new(storage.clone()))
        .background_threads(background)
        .open()
        .unwrap();
    let runs = vec![db.create_run("e", "r").unwrap()];
    let mut model = Acknowledged::nothing(1);
    let before_fault = [
        Step::Log(0, 30),
        Step::Tag(0, 0, 10),
        Step::Flush,
        Step::Log(0, 20),
        Step::Param(0),
    ];
    for (i, step) in before_fault.iter().enumerate() {
        apply(&db, &runs, &mut model, step, i);
    }
    let before = storage.stats();
    if fail_sync {
        storage.fail_sync_after(nth);
    } else {
        storage.fail_write_after(nth);
    }
    let outcome = db.flush().and_then(|()| db.compact());
    // Power lost right there instead, the failed write's half torn.
    let (cut, acknowledged_at_cut) = (storage.crash(nth), model.clone());
    let after = storage.stats();
    let fired = if fail_sync {
        after.syncs - before.syncs > nth
    } else {
        after.writes - before.writes > nth
    };
    match (&outcome, fired) {
        (Err(_), true) | (Ok(()), false) => {}
        // Deleting the WAL's old files comes after a flush is seen done: a
        // failure there poisons the database from the flusher thread.
        (Ok(()), true) if background => wait_until_poisoned(&db, &context),
        _ => panic!("{context}: {outcome:?}, though the fault fired: {fired}"),
    }
    if fired {
        // Going on after the failure: flushing again, then a write call,
        // which a poisoned database refuses and any other must keep.
        let _ = db.flush();
        match db.log_at(runs[0], "loss", 50, 50, 50.0) {
            Ok(_) => model.steps[0].push(50),
            Err(e) => assert!(
                matches!(
                    e,
                    Error::Poisoned { .. } | Error::Wal(WalError::Poisoned { .. })
                ),
                "{context}: {e}"
            ),
        }
    } else {
        storage.fail_sync_after(u64::MAX);
        storage.fail_write_after(u64::MAX);
    }
    drop(db);
    let db = open(dir.path(), &storage).unwrap();
    assert_eq!(Acknowledged::of(&db, &runs), model, "{context}");
    drop(db);
    let db = open(dir.path(), &cut).unwrap();
    assert_eq!(
        Acknowledged::of(&db, &runs),
        acknowledged_at_cut,
        "{context}, power cut at the failure"
    );
    fired
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
            .storage(Arc::new(storage.clone()))
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

/// What a database was acknowledged to hold: each run's `loss` steps,
/// params and tags.
#[derive(Clone, Debug, Default, PartialEq)]
struct Acknowledged {
    steps: Vec<Vec<i64>>,
    params: Vec<std::collections::BTreeMap<String, String>>,
    tags: Vec<std::collections::BTreeMap<String, String>>,
}

impl Acknowledged {
    /// Nothing yet, for `runs` runs.
    fn nothing(runs: usize) -> Acknowledged {
        Acknowledged {
            steps: vec![Vec::new(); runs],
            params: vec![Default::default(); runs],
            tags: vec![Default::default(); runs],
        }
    }

    fn of(db: &Db, runs: &[RunId]) -> Acknowledged {
        let mut held = Acknowledged::default();
        for &run in runs {
            let info = db.run(run).unwrap();
            held.steps.push(
                db.history(run, "loss", ..)
                    .map(|h| h.steps)
                    .unwrap_or_default(),
            );
            held.params.push(info.params);
            held.tags.push(info.tags);
        }
        held
    }
}

/// One step of the power-loss test below.
#[derive(Clone, Debug)]
enum Step {
    Log(usize, usize),
    Param(usize),
    Tag(usize, u8, usize),
    Flush,
    Compact,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0usize..3, 1usize..40).prop_map(|(r, n)| Step::Log(r, n)),
        1 => (0usize..3).prop_map(Step::Param),
        2 => (0usize..3, 0u8..3, prop_oneof![0usize..20, 30_000usize..60_000])
            .prop_map(|(r, k, len)| Step::Tag(r, k, len)),
        2 => Just(Step::Flush),
        1 => Just(Step::Compact),
    ]
}

/// Does `step` to `db` and to the model of what it acknowledged.
fn apply(db: &Db, runs: &[RunId], model: &mut Acknowledged, step: &Step, i: usize) {
    match *step {
        Step::Log(r, n) => {
            let first = model.steps[r].len() as i64;
            let batch: Vec<_> = (first..first + n as i64)
                .map(|s| ("loss", s, s, s as f64))
                .collect();
            db.log_batch(runs[r], &batch).unwrap();
            model.steps[r].extend(first..first + n as i64);
        }
        Step::Param(r) => {
            let key = format!("p{i}");
            db.set_param(runs[r], &key, "v").unwrap();
            model.params[r].insert(key, "v".into());
        }
        Step::Tag(r, k, len) => {
            let (key, value) = (format!("t{k}"), format!("{i}:").repeat(len / 4 + 1));
            db.set_tag(runs[r], &key, &value).unwrap();
            model.tags[r].insert(key, value);
        }
        Step::Flush => db.flush().unwrap(),
        Step::Compact => db.compact().unwrap(),
    }
}

/// Under `Group`, a power cut keeps every call made more than the interval
/// before it: calls made before a pause of a hundred intervals survive
/// every cut, and what survives of the calls after it is a prefix.
#[test]
fn under_group_durability_a_power_cut_keeps_calls_older_than_the_interval() {
    let interval = std::time::Duration::from_millis(10);
    let dir = tempfile::tempdir().unwrap();
    let storage = MemStorage::new();
    let db = open_with(dir.path(), &storage, Durability::Group { interval }).unwrap();
    let run = db.create_run("e", "r").unwrap();
    let log_calls = |calls: std::ops::Range<i64>| {
        for call in calls {
            let batch: Vec<_> = (0..3).map(|i| ("loss", call * 3 + i, 0, 1.0)).collect();
            db.log_batch(run, &batch).unwrap();
        }
    };
    log_calls(0..30);
    std::thread::sleep(interval * 100);
    log_calls(30..60);
    for seed in 0..32 {
        let after_cut = Db::builder(dir.path())
            .storage(Arc::new(storage.crash(seed)))
            .open_read_only()
            .unwrap();
        let held = steps(&after_cut);
        assert!(
            held.len() >= 90,
            "seed {seed}: {} of 90 old points",
            held.len()
        );
        assert_eq!(held.len() % 3, 0, "seed {seed}: a call whole or absent");
        assert_eq!(
            held,
            (0..held.len() as i64).collect::<Vec<_>>(),
            "seed {seed}"
        );
    }
}

/// Opens a new database in `storage` with three runs and does `steps`;
/// returns it with its runs and what it acknowledged.
fn run_steps(
    storage: &MemStorage,
    durability: Durability,
    steps: &[Step],
) -> (tempfile::TempDir, Db, Vec<RunId>, Acknowledged) {
    let dir = tempfile::tempdir().unwrap();
    let db = open_with(dir.path(), storage, durability).unwrap();
    let runs: Vec<RunId> = (0..3)
        .map(|r| db.create_run("e", &format!("r{r}")).unwrap())
        .collect();
    let mut model = Acknowledged::nothing(3);
    for (i, step) in steps.iter().enumerate() {
        apply(&db, &runs, &mut model, step, i);
    }
    (dir, db, runs, model)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// The WAL, the segments, the MANIFEST and the catalog file all in the
    /// storage that a power cut acts on: after writes, flushes (each
    /// writing a segment and appending to the catalog file, some rewriting
    /// it) and compactions, a power cut under `Sync` keeps every
    /// acknowledged point, param and tag, and the database opens.
    #[test]
    fn a_power_cut_after_flushes_and_catalog_changes_keeps_everything_acknowledged(
        steps in prop::collection::vec(step(), 1..60),
        seed in any::<u64>(),
    ) {
        let storage = MemStorage::new();
        let (dir, db, runs, model) = run_steps(&storage, Durability::Sync, &steps);
        let after_cut = storage.crash(seed);
        drop(db);
        let db = open(dir.path(), &after_cut).unwrap();
        prop_assert_eq!(Acknowledged::of(&db, &runs), model);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// A process crash, then a power cut: a `Buffered` writer ends without
    /// syncing, so its last WAL records are only in the page cache; the
    /// next writer recovers them, and a power cut after that open keeps
    /// everything the recovered database holds.
    #[test]
    fn a_power_cut_after_a_process_crash_keeps_what_recovery_found(
        steps in prop::collection::vec(step(), 1..40),
        seed in any::<u64>(),
    ) {
        let storage = MemStorage::new();
        let (dir, db, runs, model) = run_steps(&storage, Durability::Buffered, &steps);
        drop(db); // hands the WAL's buffer to the OS, fsyncs nothing
        let recovered = open(dir.path(), &storage).unwrap();
        prop_assert_eq!(&Acknowledged::of(&recovered, &runs), &model);
        let after_cut = storage.crash(seed);
        drop(recovered);
        let db = open(dir.path(), &after_cut).unwrap();
        prop_assert_eq!(Acknowledged::of(&db, &runs), model);
    }
}

/// Flushes that each append a 60 KiB run record, replacing the one before,
/// rewrite the file; a power cut after any of them, the rewrites too,
/// keeps everything acknowledged.
#[test]
fn a_power_cut_after_a_catalog_rewrite_keeps_everything_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let storage = MemStorage::new();
    let db = open(dir.path(), &storage).unwrap();
    let runs = vec![db.create_run("e", "r").unwrap()];
    let mut model = Acknowledged::nothing(1);
    let mut files_seen = std::collections::BTreeSet::new();
    for i in 0..40 {
        apply(&db, &runs, &mut model, &Step::Tag(0, 0, 60_000), i);
        apply(&db, &runs, &mut model, &Step::Log(0, 5), i);
        apply(&db, &runs, &mut model, &Step::Flush, i);
        for name in storage.list_dir(&dir.path().join("catalog")).unwrap() {
            files_seen.insert(name);
        }
        // Read beside the live writer (which holds the lock).
        let after_cut = storage.crash(i as u64);
        let reopened = Db::builder(dir.path())
            .storage(Arc::new(after_cut))
            .open_read_only()
            .unwrap();
        assert_eq!(Acknowledged::of(&reopened, &runs), model, "after flush {i}");
    }
    assert!(
        files_seen.len() > 1,
        "the catalog was never rewritten: {files_seen:?}"
    );
}
