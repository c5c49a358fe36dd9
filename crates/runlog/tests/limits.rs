//! Every limit and every kind of bad input is refused with a typed error
//! naming the offending value and the limit, and nothing of the refused
//! call is written (checked again after a reopen).

use runlog::{Db, Durability, Error, Limits, RunId};

fn open(dir: &std::path::Path) -> Db {
    Db::builder(dir)
        .durability(Durability::Sync)
        .limits(Limits {
            metrics_per_run: 3,
            columns_per_table: 2,
            params_per_run: 2,
            tags_per_run: 2,
            value_bytes: 8,
            ..Limits::default()
        })
        .open()
        .unwrap()
}

/// What a run holds, to compare before and after refused calls.
fn contents(db: &Db, run: RunId) -> String {
    format!(
        "{:?} {:?} {:?} {:?}",
        db.get_metrics(run).unwrap(),
        db.table_names(run).unwrap(),
        db.run(run).unwrap().params,
        db.run(run).unwrap().tags
    )
}

#[test]
fn bad_names_are_refused_by_rule() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let run = db.create_run("exp", "run").unwrap();
    let long = "x".repeat(256);
    let cases: [(&str, &str); 3] = [
        ("", "must not be empty"),
        (&long, "256 bytes, the limit is 255"),
        ("a\nb", "control character"),
    ];
    for (name, reason) in cases {
        let calls: Vec<(&str, runlog::Result<()>)> = vec![
            ("metric name", db.log(run, name, 1.0).map(drop)),
            (
                "metric name",
                db.log_batch(run, &[("ok", 0, 0, 1.0), (name, 0, 0, 1.0)]),
            ),
            ("table name", db.log_row(run, name, &[("c", 1.0)]).map(drop)),
            (
                "column name",
                db.log_row(run, "t", &[(name, 1.0)]).map(drop),
            ),
            ("param key", db.set_param(run, name, "v")),
            ("tag key", db.set_tag(run, name, "v")),
            ("experiment name", db.create_run(name, "r").map(drop)),
            ("run name", db.create_run("exp", name).map(drop)),
        ];
        for (what, result) in calls {
            match result {
                Err(Error::InvalidName {
                    what: got,
                    name: n,
                    reason: r,
                }) => {
                    assert_eq!((got, n.as_str()), (what, name));
                    assert!(r.contains(reason), "{r}");
                }
                other => panic!("{what} {name:?}: {other:?}"),
            }
        }
    }
    assert_eq!(contents(&db, run), "{} [] {} {}", "nothing was written");
    assert_eq!(db.runs(&Default::default()).len(), 1);
}

#[test]
fn limits_are_enforced_and_refused_calls_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let run = db.create_run("exp", "run").unwrap();
    db.log_batch(run, &[("a", 0, 0, 1.0), ("b", 0, 0, 1.0)])
        .unwrap();
    let before = contents(&db, run);
    // Two new metrics where one fits: the whole batch is refused.
    match db.log_batch(run, &[("a", 1, 0, 2.0), ("c", 0, 0, 1.0), ("d", 0, 0, 1.0)]) {
        Err(Error::LimitExceeded {
            what: "metrics per run",
            limit: 3,
            name,
            ..
        }) => assert_eq!(name, "d"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        contents(&db, run),
        before,
        "not even the point of the known metric"
    );
    db.log(run, "c", 1.0).unwrap();
    assert!(matches!(
        db.log_row(run, "t", &[("x", 1.0)]),
        Err(Error::LimitExceeded {
            what: "metrics per run",
            ..
        })
    ));

    let other = db.create_run("exp", "tables").unwrap();
    db.log_row(other, "t", &[("x", 1.0), ("y", 2.0)]).unwrap();
    match db.log_row(other, "t", &[("x", 1.0), ("z", 2.0)]) {
        Err(Error::LimitExceeded {
            what: "columns per table",
            limit: 2,
            name,
            ..
        }) => assert_eq!(name, "z"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        db.table(other, "t").unwrap().rows,
        1,
        "the refused row was not logged"
    );
    match db.log_table(other, "t", &[("x", &[1.0, 2.0]), ("y", &[1.0])]) {
        Err(Error::RaggedTable {
            column,
            len: 1,
            expected: 2,
            ..
        }) => assert_eq!(column, "y"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        db.log_table(other, "t", &[("x", &[1.0]), ("x", &[2.0])]),
        Err(Error::InvalidName {
            what: "column name",
            ..
        })
    ));
    assert!(matches!(
        db.log(other, "t", 1.0),
        Err(Error::KindConflict {
            existing: "table",
            ..
        })
    ));

    db.set_param(run, "p1", "v").unwrap();
    db.set_param(run, "p1", "v").unwrap(); // the same value again is fine
    match db.set_param(run, "p1", "w") {
        Err(Error::ParamAlreadySet { key, existing, .. }) => {
            assert_eq!((key.as_str(), existing.as_str()), ("p1", "v"))
        }
        other => panic!("{other:?}"),
    }
    db.set_param(run, "p2", "v").unwrap();
    assert!(matches!(
        db.set_param(run, "p3", "v"),
        Err(Error::LimitExceeded {
            what: "params per run",
            limit: 2,
            ..
        })
    ));
    match db.set_param(run, "p1", "123456789") {
        Err(Error::ValueTooLong {
            len: 9, limit: 8, ..
        }) => {}
        other => panic!("{other:?}"),
    }
    db.set_tag(run, "k1", "v").unwrap();
    db.set_tag(run, "k1", "w").unwrap(); // tags overwrite
    db.set_tag(run, "k2", "v").unwrap();
    assert!(matches!(
        db.set_tag(run, "k3", "v"),
        Err(Error::LimitExceeded {
            what: "tags per run",
            ..
        })
    ));
    assert_eq!(db.run(run).unwrap().tags["k1"], "w");

    assert!(matches!(
        db.log(RunId(99), "a", 1.0),
        Err(Error::UnknownRun(RunId(99)))
    ));
    assert!(
        matches!(db.create_run("exp", "run"), Err(Error::RunExists { existing, .. }) if existing == run)
    );
    assert!(matches!(
        db.latest(run, "nope"),
        Err(Error::UnknownSeries { .. })
    ));

    let snapshot = (contents(&db, run), contents(&db, other));
    db.close().unwrap();
    let db = open(dir.path());
    assert_eq!(
        (contents(&db, run), contents(&db, other)),
        snapshot,
        "the same after a reopen"
    );
}

#[test]
fn a_second_writer_is_refused_with_the_holder_pid_and_readers_cannot_write() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    match Db::open(dir.path()) {
        Err(Error::Locked { path, pid }) => {
            assert_eq!(path, dir.path().join("LOCK"));
            assert_eq!(pid, Some(std::process::id()));
        }
        other => panic!("{other:?}"),
    }
    let reader = Db::open_read_only(dir.path()).unwrap();
    assert!(matches!(reader.create_run("e", "r"), Err(Error::ReadOnly)));
    assert!(matches!(reader.flush(), Err(Error::ReadOnly)));
    drop(db);
    Db::open(dir.path()).expect("the lock goes with its holder");
}

#[test]
fn a_read_only_open_of_a_missing_directory_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    match Db::open_read_only(&missing) {
        Err(Error::Io { path, .. }) => assert_eq!(path, missing),
        other => panic!("{other:?}"),
    }
    assert!(!missing.exists(), "a reader creates nothing");
}

#[test]
fn out_of_range_options_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        Db::builder(dir.path()).memtable_bytes(10).open(),
        Err(Error::InvalidOption {
            name: "memtable_bytes",
            ..
        })
    ));
}

#[test]
fn a_huge_name_makes_a_short_message() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path()).unwrap();
    let run = db.create_run("e", "r").unwrap();
    let name = "n".repeat(10 << 20);
    let message = db.log(run, &name, 1.0).unwrap_err().to_string();
    assert!(message.len() < 300, "{} bytes", message.len());
    assert!(
        message.contains(&format!("{} bytes", name.len())),
        "{message}"
    );
    let message = db.history(run, &name, ..).unwrap_err().to_string();
    assert!(message.len() < 300, "{} bytes", message.len());
}

#[test]
fn implicit_steps_past_i64_max_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path()).unwrap();
    let run = db.create_run("e", "r").unwrap();
    db.log_at(run, "loss", i64::MAX - 1, 0, 1.0).unwrap();
    assert_eq!(db.log(run, "loss", 2.0).unwrap(), i64::MAX);
    let error = db.log(run, "loss", 3.0).unwrap_err();
    assert!(
        matches!(error, runlog::Error::StepOverflow { count: 1, .. }),
        "{error}"
    );
    let error = db
        .log_list(run, "acc", &[1.0; 3])
        .map(|_| ())
        .and_then(|()| {
            db.log_at(run, "acc", i64::MAX - 1, 0, 0.0)?;
            db.log_list(run, "acc", &[1.0, 2.0]).map(|_| ())
        });
    assert!(
        matches!(error, Err(runlog::Error::StepOverflow { count: 2, .. })),
        "{error:?}"
    );
    assert_eq!(
        db.stats(run, "loss").unwrap().count,
        2,
        "nothing of a refused call"
    );
    assert_eq!(db.stats(run, "acc").unwrap().count, 4);
}

#[test]
fn a_memtable_under_64_kib_is_refused_by_name_and_nothing_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    for bytes in [0, 1000, (64 << 10) - 1] {
        match Db::builder(&db).memtable_bytes(bytes).open() {
            Err(Error::InvalidOption { name, value, .. }) => {
                assert_eq!((name, value), ("memtable_bytes", bytes.to_string()))
            }
            other => panic!("{bytes} bytes: {:?}", other.map(|_| ())),
        }
        assert!(!db.exists(), "{bytes} bytes created the database");
    }
    Db::builder(&db)
        .memtable_bytes(64 << 10)
        .open()
        .unwrap()
        .close()
        .unwrap();
}
