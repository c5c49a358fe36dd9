//! `repair` rebuilds a lost or damaged MANIFEST from the segment files
//! (which say which WAL records they hold) and the catalog file: the
//! rebuilt database reads exactly what the old one did, checked against a
//! model over random writes, flushes, merges, deletions and reopens; a
//! merge's inputs left beside its output are not counted twice; what cannot
//! be recovered is said, and nothing is deleted.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use common::segment_names;
use proptest::prelude::*;
use runlog::{Db, Durability, RunFilter, repair};

/// What the database should read: run name to params and series.
type Model = BTreeMap<String, RunModel>;

#[derive(Clone, Debug, Default, PartialEq)]
struct RunModel {
    params: BTreeMap<String, String>,
    metrics: BTreeMap<String, Vec<(i64, u64)>>,
}

#[derive(Clone, Debug)]
enum Step {
    Log { run: u8, metric: u8, points: u16 },
    Param { run: u8, value: u8 },
    Delete { run: u8 },
    Flush,
    Compact,
    Reopen,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (0..4u8, 0..3u8, 1..600u16)
            .prop_map(|(run, metric, points)| Step::Log { run, metric, points }),
        2 => (0..4u8, any::<u8>()).prop_map(|(run, value)| Step::Param { run, value }),
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

/// Applies `steps` to a database in `dir` and to the model.
fn run_steps(dir: &Path, steps: &[Step]) -> Model {
    let mut model = Model::new();
    let mut db = open(dir);
    let mut counter = 0u64;
    for step in steps {
        match *step {
            Step::Log {
                run,
                metric,
                points,
            } => {
                let name = format!("r{run}");
                let id = db
                    .find_run("e", &name)
                    .unwrap_or_else(|| db.create_run("e", &name).unwrap());
                let metric = format!("m{metric}");
                let series = model
                    .entry(name)
                    .or_default()
                    .metrics
                    .entry(metric.clone())
                    .or_default();
                let batch: Vec<(&str, i64, i64, f64)> = (0..points)
                    .map(|_| {
                        counter += 1;
                        let step = series.len() as i64;
                        let value = counter as f64 * 0.5;
                        series.push((step, value.to_bits()));
                        (metric.as_str(), step, 1_700_000_000_000 + step, value)
                    })
                    .collect();
                db.log_batch(id, &batch).unwrap();
            }
            Step::Param { run, value } => {
                let name = format!("r{run}");
                let id = db
                    .find_run("e", &name)
                    .unwrap_or_else(|| db.create_run("e", &name).unwrap());
                // Params are write-once: each key always gets one value.
                let key = format!("p{value}");
                db.set_param(id, &key, &value.to_string()).unwrap();
                model
                    .entry(name)
                    .or_default()
                    .params
                    .insert(key, value.to_string());
            }
            Step::Delete { run } => {
                let name = format!("r{run}");
                if let Some(id) = db.find_run("e", &name) {
                    db.delete_run(id).unwrap();
                    model.remove(&name);
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
    db.close().unwrap();
    model
}

/// What the database in `dir` reads, in the model's shape.
fn read(db: &Db) -> Model {
    let mut out = Model::new();
    for summary in db.runs(&RunFilter::default()) {
        let info = &summary.info;
        let mut run = RunModel {
            params: info.params.clone(),
            ..RunModel::default()
        };
        for metric in db.metric_names(info.id).unwrap() {
            let history = db.history(info.id, &metric, ..).unwrap();
            let points = history
                .steps
                .iter()
                .zip(&history.values)
                .map(|(step, value)| (*step, value.to_bits()))
                .collect();
            run.metrics.insert(metric, points);
        }
        out.insert(info.name.clone(), run);
    }
    out
}

/// Repairs `dir` and checks that it then opens, for writing and read-only,
/// reading `model`; returns repair's notes.
fn repair_and_check(dir: &Path, model: &Model) -> Vec<String> {
    let report = repair(dir).unwrap();
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("rebuilt the MANIFEST")),
        "{:?}",
        report.notes
    );
    let read_only = Db::open_read_only(dir).unwrap();
    assert_eq!(
        &read(&read_only),
        model,
        "read-only, notes {:?}",
        report.notes
    );
    drop(read_only);
    let db = open(dir);
    assert_eq!(&read(&db), model, "writer, notes {:?}", report.notes);
    // It goes on writing: new series ids do not collide with old ones.
    let run = db.create_run("e", "after-repair").unwrap();
    db.log_list(run, "fresh", &[1.0, 2.0]).unwrap();
    db.flush().unwrap();
    db.compact().unwrap();
    let mut after = read(&db);
    let fresh = after.remove("after-repair").expect("the new run");
    assert_eq!(fresh.metrics["fresh"].len(), 2);
    assert_eq!(&after, model, "old runs unchanged by new writes");
    db.close().unwrap();
    report.notes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Whatever happened before the MANIFEST was lost, the rebuilt database
    /// reads what the model says: every point once, every param.
    #[test]
    fn a_lost_manifest_is_rebuilt_to_read_what_the_model_says(
        steps in proptest::collection::vec(step(), 1..40)
    ) {
        let dir = tempfile::tempdir().unwrap();
        let model = run_steps(dir.path(), &steps);
        prop_assert_eq!(&read(&Db::open_read_only(dir.path()).unwrap()), &model);
        fs::remove_file(dir.path().join("MANIFEST")).unwrap();
        assert!(Db::open(dir.path()).is_err(), "refused before repair");
        repair_and_check(dir.path(), &model);
    }
}

/// Many small batches through a tiny memtable: many flushes and tiered
/// merges on the compactor thread; then every point is flushed, so that
/// the segment files hold them all and the tests below know which files a
/// merge makes.
fn many_segments(dir: &Path) -> Model {
    let steps: Vec<Step> = (0..120)
        .map(|i| Step::Log {
            run: (i % 3) as u8,
            metric: (i % 2) as u8,
            points: 400,
        })
        .collect();
    let model = run_steps(dir, &steps);
    let db = without_threads(dir);
    db.flush().unwrap();
    db.close().unwrap();
    model
}

/// The database in `dir`, with no flusher or compactor thread: files
/// change only when a test asks.
fn without_threads(dir: &Path) -> Db {
    Db::builder(dir)
        .memtable_bytes(64 << 10)
        .background_threads(false)
        .open()
        .unwrap()
}

#[test]
fn a_merges_inputs_left_beside_its_output_are_not_counted_twice() {
    let dir = tempfile::tempdir().unwrap();
    let model = many_segments(dir.path());
    let before = segment_names(dir.path());
    assert!(before.len() > 1, "{before:?}");
    let saved: Vec<(String, Vec<u8>)> = before
        .iter()
        .map(|n| {
            (
                n.clone(),
                fs::read(dir.path().join("segments").join(n)).unwrap(),
            )
        })
        .collect();
    // Merge everything, then put the inputs back, as a crash after the
    // merge's MANIFEST and before the inputs' deletion would leave them.
    let db = without_threads(dir.path());
    db.compact().unwrap();
    db.close().unwrap();
    for (name, bytes) in &saved {
        fs::write(dir.path().join("segments").join(name), bytes).unwrap();
    }
    fs::remove_file(dir.path().join("MANIFEST")).unwrap();
    let notes = repair_and_check(dir.path(), &model);
    assert!(
        notes
            .iter()
            .any(|n| n.contains("a merged segment holds too")),
        "{notes:?}"
    );
}

#[test]
fn a_merge_that_never_reached_the_manifest_leaves_its_inputs_live() {
    let dir = tempfile::tempdir().unwrap();
    let model = many_segments(dir.path());
    let segments = dir.path().join("segments");
    let inputs: Vec<(String, Vec<u8>)> = segment_names(dir.path())
        .into_iter()
        .map(|n| {
            let bytes = fs::read(segments.join(&n)).unwrap();
            (n, bytes)
        })
        .collect();
    let db = without_threads(dir.path());
    db.compact().unwrap();
    db.close().unwrap();
    // As if the merge had crashed before its rename: no output, inputs all
    // there.
    let outputs: Vec<String> = segment_names(dir.path())
        .into_iter()
        .filter(|n| !inputs.iter().any(|(input, _)| input == n))
        .collect();
    assert_eq!(outputs.len(), 1, "one merged segment: {outputs:?}");
    fs::remove_file(segments.join(&outputs[0])).unwrap();
    for (name, bytes) in &inputs {
        fs::write(segments.join(name), bytes).unwrap();
    }
    fs::remove_file(dir.path().join("MANIFEST")).unwrap();
    let notes = repair_and_check(dir.path(), &model);
    assert!(
        !notes
            .iter()
            .any(|n| n.contains("a merged segment holds too")),
        "{notes:?}"
    );
}

#[test]
fn a_damaged_manifest_is_set_aside_and_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let model = many_segments(dir.path());
    let path = dir.path().join("MANIFEST");
    let mut bytes = fs::read(&path).unwrap();
    bytes[24] ^= 0x40;
    fs::write(&path, &bytes).unwrap();
    assert!(Db::open(dir.path()).is_err());
    let notes = repair_and_check(dir.path(), &model);
    assert!(notes[0].contains("the MANIFEST is damaged"), "{notes:?}");
    assert_eq!(
        fs::read(dir.path().join("MANIFEST.damaged")).unwrap(),
        bytes
    );
}

#[test]
fn a_lost_catalog_keeps_every_point_in_a_run_of_its_own_and_says_names_are_lost() {
    let dir = tempfile::tempdir().unwrap();
    let model = many_segments(dir.path());
    let points: usize = model
        .values()
        .flat_map(|run| run.metrics.values())
        .map(Vec::len)
        .sum();
    fs::remove_file(dir.path().join("MANIFEST")).unwrap();
    fs::remove_dir_all(dir.path().join("catalog")).unwrap();
    let report = repair(dir.path()).unwrap();
    let notes = report.notes.join("\n");
    assert!(notes.contains("there is no catalog file"), "{notes}");
    assert!(notes.contains("their names and runs are lost"), "{notes}");
    let db = open(dir.path());
    // A merge must not drop them as a deleted run's points.
    db.compact().unwrap();
    let recovered = read(&db);
    assert_eq!(recovered.len(), 1, "{:?}", recovered.keys());
    let (name, run) = recovered.iter().next().unwrap();
    assert!(name.starts_with("unnamed-series-"), "{name}");
    assert_eq!(
        run.metrics.values().map(Vec::len).sum::<usize>(),
        points,
        "every point kept"
    );
    // New series get ids above the old ones.
    let id = db.create_run("e", "new").unwrap();
    db.log_list(id, "m0", &[7.0]).unwrap();
    db.flush().unwrap();
    assert_eq!(db.history(id, "m0", ..).unwrap().values, [7.0]);
    db.close().unwrap();
}

#[test]
fn a_damaged_segment_is_set_aside_and_named() {
    let dir = tempfile::tempdir().unwrap();
    many_segments(dir.path());
    let names = segment_names(dir.path());
    let victim = dir.path().join("segments").join(&names[0]);
    let mut bytes = fs::read(&victim).unwrap();
    let at = bytes.len() - 40;
    bytes[at] ^= 1;
    fs::write(&victim, &bytes).unwrap();
    fs::remove_file(dir.path().join("MANIFEST")).unwrap();
    let report = repair(dir.path()).unwrap();
    let notes = report.notes.join("\n");
    assert!(
        notes.contains(&format!("{}.damaged", victim.display())),
        "{notes}"
    );
    assert_eq!(
        fs::read(format!("{}.damaged", victim.display())).unwrap(),
        bytes,
        "kept as it was"
    );
    Db::open(dir.path()).unwrap().close().unwrap();
}
