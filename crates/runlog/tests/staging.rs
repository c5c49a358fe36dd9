//! Staged runs: invisible until published, published all at once (with the
//! runs they replace deleted in the same write), and deleted by the next
//! writer open if their import never published them, across flushes too.

use runlog::{Db, Durability, Error, RunFilter};

fn names(db: &Db) -> Vec<String> {
    db.runs(&RunFilter::default())
        .into_iter()
        .map(|r| format!("{}/{}", r.info.experiment, r.info.name))
        .collect()
}

#[test]
fn staged_runs_appear_together_and_replace_what_they_replace() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::builder(dir.path())
        .durability(Durability::Sync)
        .open()
        .unwrap();
    let old = db.create_run("e", "a").unwrap();
    db.log(old, "loss", 9.0).unwrap();
    let a = db.create_staged_run("e", "a", Some(5)).unwrap();
    let b = db.create_staged_run("new", "b", None).unwrap();
    db.log_list(a, "loss", &[1.0, 2.0]).unwrap();
    db.log_list(b, "loss", &[3.0]).unwrap();
    assert_eq!(names(&db), ["e/a"], "staged runs are not listed");
    assert_eq!(db.find_run("e", "a"), Some(old));
    assert!(db.find_run("new", "b").is_none());
    assert!(!db.experiments().contains_key("new"));
    // A name held by a run not replaced refuses the whole publish.
    let error = db.publish_runs(&[a, b], &[]).unwrap_err();
    assert!(matches!(error, Error::RunExists { .. }), "{error}");
    assert!(db.find_run("new", "b").is_none(), "nothing published");
    assert!(matches!(
        db.publish_runs(&[old], &[]),
        Err(Error::NotStaged(_))
    ));
    db.publish_runs(&[a, b], &[old]).unwrap();
    assert_eq!(names(&db), ["e/a", "new/b"]);
    assert_eq!(db.find_run("e", "a"), Some(a));
    assert_eq!(db.history(a, "loss", ..).unwrap().values, [1.0, 2.0]);
    assert_eq!(db.run(a).unwrap().start_ms, 5);
    db.close().unwrap();
    let db = Db::open(dir.path()).unwrap();
    assert_eq!(names(&db), ["e/a", "new/b"], "published survives a reopen");
    assert!(db.discarded_staged_runs().is_empty());
}

#[test]
fn runs_never_published_are_deleted_by_the_next_writer_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::builder(dir.path())
            .durability(Durability::Sync)
            .open()
            .unwrap();
        db.create_run("e", "kept").unwrap();
        // A re-run staging a replacement of "kept", never published.
        db.create_staged_run("e", "kept", None).unwrap();
        let staged = db.create_staged_run("e", "half", None).unwrap();
        db.log_list(staged, "loss", &vec![0.5; 1000]).unwrap();
        // Through the manifest too: the staged flag is in its catalog.
        db.flush().unwrap();
        db.log(staged, "loss", 0.25).unwrap();
        db.close().unwrap(); // the import never published
    }
    let reader = Db::open_read_only(dir.path()).unwrap();
    assert_eq!(names(&reader), ["e/kept"], "a reader never sees it");
    assert_eq!(
        reader.find_run("e", "kept"),
        Some(runlog::RunId(0)),
        "names stay"
    );
    let db = Db::open(dir.path()).unwrap();
    let discarded: Vec<&str> = db
        .discarded_staged_runs()
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(discarded, ["kept", "half"]);
    db.create_run("e", "half").unwrap(); // its name was never taken
    db.close().unwrap();
    let db = Db::open(dir.path()).unwrap();
    assert!(db.discarded_staged_runs().is_empty(), "deleted once");
    assert_eq!(names(&db), ["e/kept", "e/half"]);
}
