//! Experiments as entities: created before their runs, renamed with their
//! runs, deleted and restored, tagged; all of it survives a reopen.

use runlog::{Db, Durability, Error, ExperimentId};

fn open(dir: &std::path::Path) -> Db {
    Db::builder(dir)
        .durability(Durability::Sync)
        .open()
        .unwrap()
}

#[test]
fn experiments_live_before_their_runs_and_keep_their_ids() {
    let dir = tempfile::tempdir().unwrap();
    for flush in [false, true] {
        let _ = std::fs::remove_dir_all(dir.path());
        let (empty, vision) = {
            let db = open(dir.path());
            let empty = db.create_experiment("empty").unwrap();
            let run = db.create_run("vision", "r1").unwrap();
            db.log(run, "loss", 1.0).unwrap();
            let vision = db.find_experiment("vision").unwrap();
            db.set_experiment_tag(vision, "owner", "me").unwrap();
            assert!(matches!(
                db.create_experiment("vision"),
                Err(Error::ExperimentExists { existing, .. }) if existing == vision
            ));
            if flush {
                db.flush().unwrap();
            }
            (empty, vision)
        };
        assert_eq!((empty, vision), (ExperimentId(0), ExperimentId(1)));
        for db in [open(dir.path()), Db::open_read_only(dir.path()).unwrap()] {
            let listed = db.list_experiments();
            let names: Vec<_> = listed
                .iter()
                .map(|e| (e.id.0, e.name.as_str(), e.runs))
                .collect();
            assert_eq!(names, [(0, "empty", 0), (1, "vision", 1)], "flush {flush}");
            assert_eq!(db.experiment(vision).unwrap().tags["owner"], "me");
            drop(db);
        }
    }
}

#[test]
fn a_rename_moves_every_run_and_frees_the_old_name() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let a = db.create_run("old", "a").unwrap();
    let b = db.create_run("old", "b").unwrap();
    let id = db.find_experiment("old").unwrap();
    db.create_experiment("taken").unwrap();
    assert!(matches!(
        db.rename_experiment(id, "taken"),
        Err(Error::ExperimentExists { .. })
    ));
    db.rename_experiment(id, "new").unwrap();
    assert_eq!(db.find_run("new", "a"), Some(a));
    assert_eq!(db.find_run("new", "b"), Some(b));
    assert_eq!(db.find_run("old", "a"), None);
    assert_eq!(db.run(a).unwrap().experiment, "new");
    // The old name is free again: a new run there registers a new one.
    db.create_run("old", "c").unwrap();
    let old = db.find_experiment("old").unwrap();
    assert_ne!(old, id);
    drop(db);
    let db = open(dir.path());
    assert_eq!(db.experiment(id).unwrap().runs, 2);
    assert_eq!(db.experiment(old).unwrap().runs, 1);
}

#[test]
fn delete_and_restore_keep_runs_and_names() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let run = db.create_run("e", "r").unwrap();
    let id = db.find_experiment("e").unwrap();
    db.set_experiment_deleted(id, true).unwrap();
    assert!(db.experiment(id).unwrap().deleted);
    assert!(matches!(
        db.create_experiment("e"),
        Err(Error::ExperimentExists { .. })
    ));
    assert_eq!(db.run(run).unwrap().experiment, "e");
    drop(db);
    let db = open(dir.path());
    assert!(db.experiment(id).unwrap().deleted);
    db.set_experiment_deleted(id, false).unwrap();
    assert!(!db.experiment(id).unwrap().deleted);
    assert!(matches!(
        db.experiment(ExperimentId(77)),
        Err(Error::UnknownExperiment(ExperimentId(77)))
    ));
    assert!(db.set_experiment_tag(ExperimentId(77), "k", "v").is_err());
}

#[test]
fn an_import_registers_its_experiment_only_when_it_publishes() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let staged = db.create_staged_run("imported", "r", None).unwrap();
    assert_eq!(db.find_experiment("imported"), None);
    db.publish_runs(&[staged], &[]).unwrap();
    assert!(db.find_experiment("imported").is_some());
}

#[test]
fn a_deleted_experiment_tag_stays_deleted_across_a_reopen_and_a_flush() {
    let dir = tempfile::tempdir().unwrap();
    for flush in [false, true] {
        let _ = std::fs::remove_dir_all(dir.path());
        let id = {
            let db = open(dir.path());
            let id = db.create_experiment("e").unwrap();
            db.set_experiment_tag(id, "owner", "me").unwrap();
            db.set_experiment_tag(id, "team", "vision").unwrap();
            db.delete_experiment_tag(id, "owner").unwrap();
            // A tag that is not there: no error, nothing written.
            db.delete_experiment_tag(id, "absent").unwrap();
            assert!(matches!(
                db.delete_experiment_tag(ExperimentId(77), "owner"),
                Err(Error::UnknownExperiment(ExperimentId(77)))
            ));
            if flush {
                db.flush().unwrap();
            }
            id
        };
        let db = open(dir.path());
        let tags = db.experiment(id).unwrap().tags;
        assert_eq!(
            tags.into_iter().collect::<Vec<_>>(),
            [("team".to_string(), "vision".to_string())],
            "flush {flush}"
        );
    }
}
