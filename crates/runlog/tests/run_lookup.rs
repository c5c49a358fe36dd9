//! `RunLookup` answers for one run what a whole read-only open answers
//! (metadata, every metric's statistics and latest point), reading only the
//! catalog's index frames, the frames they point to, the run's segment
//! entries and the WAL after the last flush: checked against `Db` over
//! random writes, flushes, merges, deletions and reopens, beside a live
//! writer and after it closed; and on databases it reads by a whole open.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use proptest::prelude::*;
use runlog::{Db, Durability, RunId, RunInfo, RunLookup, RunStatus, Stats};

#[derive(Clone, Debug)]
enum Step {
    Log { run: u8, metric: u8, points: u16 },
    Param { run: u8, value: u8 },
    Tag { run: u8, value: u8 },
    Complete { run: u8 },
    Row { run: u8 },
    Delete { run: u8 },
    Flush,
    Compact,
    Reopen,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (0..4u8, 0..3u8, 1..500u16)
            .prop_map(|(run, metric, points)| Step::Log { run, metric, points }),
        2 => (0..4u8, any::<u8>()).prop_map(|(run, value)| Step::Param { run, value }),
        2 => (0..4u8, any::<u8>()).prop_map(|(run, value)| Step::Tag { run, value }),
        1 => (0..4u8).prop_map(|run| Step::Complete { run }),
        1 => (0..4u8).prop_map(|run| Step::Row { run }),
        1 => (0..4u8).prop_map(|run| Step::Delete { run }),
        1 => Just(Step::Flush),
        1 => Just(Step::Compact),
        1 => Just(Step::Reopen),
    ]
}

fn open(dir: &Path) -> Db {
    Db::builder(dir)
        .durability(Durability::Buffered)
        .memtable_bytes(64 << 10)
        .open()
        .unwrap()
}

fn run_of(db: &Db, run: u8) -> RunId {
    let name = format!("r{run}");
    db.find_run("e", &name)
        .unwrap_or_else(|| db.create_run("e", &name).unwrap())
}

/// Applies `steps`; returns the database, still open.
fn apply(dir: &Path, steps: &[Step]) -> Db {
    let mut db = open(dir);
    let mut counter = 0.0;
    for step in steps {
        match *step {
            Step::Log {
                run,
                metric,
                points,
            } => {
                let id = run_of(&db, run);
                let values: Vec<f64> = (0..points)
                    .map(|_| {
                        counter += 0.25;
                        counter
                    })
                    .collect();
                db.log_list(id, &format!("m{metric}"), &values).unwrap();
            }
            Step::Param { run, value } => {
                let id = run_of(&db, run);
                db.set_param(id, &format!("p{value}"), &value.to_string())
                    .unwrap();
            }
            Step::Tag { run, value } => {
                let id = run_of(&db, run);
                db.set_tag(id, "t", &value.to_string()).unwrap();
            }
            Step::Complete { run } => {
                let id = run_of(&db, run);
                db.complete_run(id).unwrap();
            }
            Step::Row { run } => {
                let id = run_of(&db, run);
                db.log_row(id, "eval", &[("acc", counter), ("loss", -counter)])
                    .unwrap();
            }
            Step::Delete { run } => {
                if let Some(id) = db.find_run("e", &format!("r{run}")) {
                    db.delete_run(id).unwrap();
                }
            }
            Step::Flush => db.flush().unwrap(),
            Step::Compact => db.compact().unwrap(),
            Step::Reopen => {
                db.close().unwrap();
                db = open(dir);
            }
        }
    }
    db
}

/// What a whole read-only open says of the run named `name`: its
/// metadata and every series' statistics.
fn expected(dir: &Path, name: &str) -> Option<(RunInfo, BTreeMap<String, Stats>)> {
    let db = Db::open_read_only(dir).unwrap();
    let id = db.find_run("e", name)?;
    let mut names = db.metric_names(id).unwrap();
    names.extend(db.column_names(id).unwrap());
    let series = names
        .into_iter()
        .filter_map(|n| Some((n.clone(), db.stats(id, &n).ok()?)))
        .collect();
    Some((db.run(id).unwrap(), series))
}

fn looked_up(lookup: &RunLookup) -> (RunInfo, BTreeMap<String, Stats>) {
    let series = lookup
        .series_names()
        .map(|n| (n.to_string(), lookup.stats(n).unwrap()))
        .collect();
    (lookup.info().clone(), series)
}

/// Every run's lookup, by name and by id, against the whole open.
fn check_every_run(dir: &Path) -> Result<(), TestCaseError> {
    for run in 0..4 {
        let name = format!("r{run}");
        let want = expected(dir, &name);
        let found = RunLookup::find(dir, Some("e"), &name).unwrap();
        prop_assert_eq!(found.len(), usize::from(want.is_some()), "{}", name);
        if let Some(want) = want {
            prop_assert!(!found[0].opened_whole(), "read from the index");
            prop_assert_eq!(&looked_up(&found[0]), &want, "{}", name);
            let by_id = RunLookup::by_id(dir, want.0.id).unwrap().unwrap();
            prop_assert_eq!(&looked_up(&by_id), &want);
            for (metric, stats) in &want.1 {
                let latest = found[0].latest(metric).unwrap();
                prop_assert_eq!(latest.step, stats.last_step);
                prop_assert_eq!(latest.value.to_bits(), stats.last_value.to_bits());
            }
            prop_assert!(
                RunLookup::find(dir, Some("other"), &name)
                    .unwrap()
                    .is_empty()
            );
            prop_assert_eq!(RunLookup::find(dir, None, &name).unwrap().len(), 1);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn a_lookup_answers_what_a_whole_open_does_beside_a_writer_and_after_it(
        steps in proptest::collection::vec(step(), 1..40)
    ) {
        let dir = tempfile::tempdir().unwrap();
        let db = apply(dir.path(), &steps);
        // Beside the live writer: what the WAL holds since the last flush.
        db.sync().unwrap();
        check_every_run(dir.path())?;
        db.close().unwrap();
        check_every_run(dir.path())?;
    }
}

#[test]
fn a_run_created_after_the_last_flush_is_found_from_the_wal_alone() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::builder(dir.path())
        .durability(Durability::Sync)
        .open()
        .unwrap();
    let old = db.create_run("e", "old").unwrap();
    db.log_list(old, "loss", &[3.0, 2.0]).unwrap();
    db.flush().unwrap();
    let new = db.create_run("e", "new").unwrap();
    db.set_param(new, "lr", "0.1").unwrap();
    db.log_list(new, "loss", &[5.0]).unwrap();
    db.log_list(old, "loss", &[1.0]).unwrap();
    let found = RunLookup::find(dir.path(), Some("e"), "new").unwrap();
    assert_eq!(found.len(), 1);
    assert!(!found[0].opened_whole());
    assert_eq!(found[0].info().params["lr"], "0.1");
    assert_eq!(found[0].latest("loss").unwrap().value, 5.0);
    let old_now = RunLookup::by_id(dir.path(), old).unwrap().unwrap();
    let stats = old_now.stats("loss").unwrap();
    assert_eq!((stats.count, stats.last_value, stats.max), (3, 1.0, 3.0));
    assert!(old_now.stats("acc").is_err());
    db.close().unwrap();
}

#[test]
fn an_experiment_renamed_since_the_last_flush_is_answered_by_a_whole_open() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::builder(dir.path())
        .durability(Durability::Sync)
        .open()
        .unwrap();
    let run = db.create_run("e", "r").unwrap();
    db.log_list(run, "loss", &[1.0]).unwrap();
    db.flush().unwrap();
    let experiment = db.list_experiments()[0].id;
    db.rename_experiment(experiment, "renamed").unwrap();
    db.set_status(run, RunStatus::Failed).unwrap();
    let found = RunLookup::find(dir.path(), Some("renamed"), "r").unwrap();
    assert_eq!(found.len(), 1, "found under its new experiment name");
    assert!(found[0].opened_whole());
    assert_eq!(found[0].info().status, RunStatus::Failed);
    assert!(
        RunLookup::find(dir.path(), Some("e"), "r")
            .unwrap()
            .is_empty()
    );
    db.close().unwrap();
}

#[test]
fn a_damaged_index_frame_is_refused_by_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path()).unwrap();
    for r in 0..20 {
        let run = db.create_run("e", &format!("r{r}")).unwrap();
        db.log_list(run, "loss", &[1.0]).unwrap();
    }
    db.close().unwrap();
    let catalog = fs::read_dir(dir.path().join("catalog"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut bytes = fs::read(&catalog).unwrap();
    // The last frame is the last flush's index frame; damage an entry.
    let at = bytes.len() - 10;
    bytes[at] ^= 0x20;
    fs::write(&catalog, &bytes).unwrap();
    match RunLookup::find(dir.path(), Some("e"), "r3") {
        Err(runlog::Error::Corrupt { file, offset, .. }) => {
            assert_eq!(file, catalog);
            assert!(offset < at as u64, "{offset}");
        }
        other => panic!("{other:?}"),
    }
}
