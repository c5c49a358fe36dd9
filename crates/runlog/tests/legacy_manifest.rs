//! A database written by the build before the catalog file (manifest
//! version 4, the catalog inside the MANIFEST) reads the same with this
//! build, and a writer moves its catalog to a catalog file; its segments,
//! which predate segment provenance, stop a MANIFEST rebuild until a
//! compaction rewrites them. A catalog file of version 1 (before index
//! frames) reads the same too, and a writer rewrites it as version 2.
//!
//! The fixture `fixtures/manifest-v4` and its dump `fixtures/manifest-v4.txt`
//! were made by commit 494ae3e: experiments (tagged, renamed, deleted), a
//! completed run with params, tags, metrics (NaN too), a table with text
//! cells, artifacts, an image, a text log and a text series; a deleted run
//! whose name a newer run took; a published staged run; then a flush, and
//! after it a run, a log line and a tag change that only the WAL holds.
//! `dump` below is the function that made the text.

use std::fs;
use std::path::Path;

use runlog::{Db, RunFilter};

/// Everything a database shows, as text: experiments, runs with their
/// metadata, every metric's points, tables, artifacts, logs and text
/// series.
fn dump(db: &Db) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for experiment in db.list_experiments() {
        writeln!(out, "{experiment:?}").unwrap();
    }
    for summary in db.runs(&RunFilter::default()) {
        let run = summary.info.id;
        writeln!(out, "{:?}", summary.info).unwrap();
        for (name, stats) in &summary.metrics {
            let points = db.history(run, name, ..).unwrap();
            writeln!(out, "  {name}: {stats:?} {points:?}").unwrap();
        }
        for table in db.table_names(run).unwrap() {
            writeln!(out, "  table {table}: {:?}", db.table(run, &table).unwrap()).unwrap();
        }
        for artifact in db.artifacts(run, "").unwrap() {
            let bytes = db.read_artifact(run, &artifact.path).unwrap();
            writeln!(out, "  artifact {artifact:?} {bytes:?}").unwrap();
        }
        for stream in db.log_streams(run).unwrap() {
            let lines = db.log_lines(run, &stream.name, 0, 1000).unwrap();
            writeln!(
                out,
                "  log {} {} {}: {:?}",
                stream.name, stream.bytes, stream.lines, lines.lines
            )
            .unwrap();
        }
        for name in db.text_series(run).unwrap() {
            writeln!(
                out,
                "  text {name}: {:?}",
                db.text_history(run, &name).unwrap()
            )
            .unwrap();
        }
    }
    out
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn manifest_version(dir: &Path) -> u32 {
    let bytes = fs::read(dir.join("MANIFEST")).unwrap();
    u32::from_le_bytes(bytes[8..12].try_into().unwrap())
}

fn catalog_files(dir: &Path) -> usize {
    fs::read_dir(dir.join("catalog")).map_or(0, |entries| entries.count())
}

#[test]
fn a_version_4_database_reads_the_same_and_a_writer_moves_its_catalog() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let expected = fs::read_to_string(fixtures.join("manifest-v4.txt")).unwrap();
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("db");
    copy_dir(&fixtures.join("manifest-v4"), &dir);
    assert_eq!(manifest_version(&dir), 4);

    // A reader changes nothing.
    assert_eq!(dump(&Db::open_read_only(&dir).unwrap()), expected);
    assert_eq!((manifest_version(&dir), catalog_files(&dir)), (4, 0));

    // A writer writes the catalog file and a version 5 manifest at open.
    let db = Db::open(&dir).unwrap();
    assert_eq!(dump(&db), expected);
    assert_eq!((manifest_version(&dir), catalog_files(&dir)), (5, 1));
    db.close().unwrap();
    assert_eq!(dump(&Db::open_read_only(&dir).unwrap()), expected);

    // And goes on from there: a flush appends, a reopen reads it all.
    let db = Db::open(&dir).unwrap();
    let d = db.find_run("e1", "d").unwrap();
    db.log_at(d, "loss", 1, 1_700_000_000_900, 8.0).unwrap();
    db.flush().unwrap();
    db.close().unwrap();
    let db = Db::open_read_only(&dir).unwrap();
    assert_eq!(db.history(d, "loss", ..).unwrap().values, vec![9.0, 8.0]);
    assert_eq!(catalog_files(&dir), 1);
    let before: Vec<_> = expected
        .lines()
        .filter(|l| !l.contains("RunId(4)") && !l.contains("9.0"))
        .collect();
    let after = dump(&db);
    for line in before {
        assert!(after.lines().any(|l| l == line), "lost: {line}");
    }
}

/// Names of the files under `dir`, recursively, sorted (without the
/// writer lock's file, which taking the lock creates).
fn file_names(dir: &Path) -> Vec<String> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            names.extend(file_names(&entry.path()));
        } else if entry.file_name() != "LOCK" {
            names.push(entry.path().display().to_string());
        }
    }
    names.sort();
    names
}

#[test]
fn segments_of_older_builds_stop_a_rebuild_until_a_compaction_rewrites_them() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let expected = fs::read_to_string(fixtures.join("manifest-v4.txt")).unwrap();
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("db");
    copy_dir(&fixtures.join("manifest-v4"), &dir);
    let report = runlog::inspect::verify(&dir).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    let old_segments = "written before segments recorded their WAL records";
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.message.contains(old_segments)),
        "{:?}",
        report.notes
    );

    // Their MANIFEST lost, such segments cannot be told live or not:
    // repair says so and changes nothing.
    let lost = temp.path().join("lost");
    copy_dir(&fixtures.join("manifest-v4"), &lost);
    fs::remove_file(lost.join("MANIFEST")).unwrap();
    let before = file_names(&lost);
    let notes = runlog::repair(&lost).unwrap().notes.join("\n");
    assert!(notes.contains("cannot be rebuilt"), "{notes}");
    assert_eq!(file_names(&lost), before, "nothing changed");

    // A compaction rewrites them; then a lost MANIFEST is rebuilt.
    let db = Db::open(&dir).unwrap();
    db.compact().unwrap();
    db.close().unwrap();
    let report = runlog::inspect::verify(&dir).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert!(
        !report
            .notes
            .iter()
            .any(|n| n.message.contains(old_segments)),
        "{:?}",
        report.notes
    );
    fs::remove_file(dir.join("MANIFEST")).unwrap();
    let notes = runlog::repair(&dir).unwrap().notes.join("\n");
    assert!(notes.contains("rebuilt the MANIFEST"), "{notes}");
    assert_eq!(dump(&Db::open_read_only(&dir).unwrap()), expected);
    assert_eq!(dump(&Db::open(&dir).unwrap()), expected);
}

/// Whether every lookup of the runs in `names` answers what the whole
/// open `db` does, and how each was answered.
fn lookups_agree(dir: &Path, db: &Db, names: &[(&str, &str)]) -> Vec<bool> {
    names
        .iter()
        .map(|&(experiment, name)| {
            let id = db.find_run(experiment, name).unwrap();
            let found = runlog::RunLookup::find(dir, Some(experiment), name).unwrap();
            assert_eq!(found.len(), 1, "{experiment}/{name}");
            assert_eq!(found[0].info(), &db.run(id).unwrap());
            for metric in db.metric_names(id).unwrap() {
                let stats = found[0].stats(&metric).unwrap();
                let want = db.stats(id, &metric).unwrap();
                assert_eq!(
                    (stats.count, stats.last_step, stats.last_value.to_bits()),
                    (want.count, want.last_step, want.last_value.to_bits()),
                    "{experiment}/{name} {metric}"
                );
            }
            found[0].opened_whole()
        })
        .collect()
}

/// The fixture `fixtures/catalog-v1` was written by c1af51c, the build
/// before catalog index frames, with `fixtures/make_catalog_v1.rs` (which
/// also wrote its dump): runs with params, tags, NaN among points, a table, a
/// deleted run whose name a newer run took, a flush, then a tag change,
/// points and a run that only the WAL holds.
#[test]
fn a_version_1_catalog_file_reads_the_same_and_a_writer_indexes_it() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let expected = fs::read_to_string(fixtures.join("catalog-v1.txt")).unwrap();
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("db");
    copy_dir(&fixtures.join("catalog-v1"), &dir);
    let names = [("e1", "a"), ("e1", "b"), ("e2", "c"), ("e2", "d")];
    let catalog_version = |dir: &Path| {
        let file = fs::read_dir(dir.join("catalog")).unwrap().next().unwrap();
        let bytes = fs::read(file.unwrap().path()).unwrap();
        u32::from_le_bytes(bytes[8..12].try_into().unwrap())
    };
    assert_eq!(catalog_version(&dir), 1);

    // Readers change nothing; lookups open it whole, with the same answers.
    let db = Db::open_read_only(&dir).unwrap();
    assert_eq!(dump(&db), expected);
    assert_eq!(lookups_agree(&dir, &db, &names), [true; 4]);
    drop(db);
    assert_eq!(catalog_version(&dir), 1);

    // A writer rewrites it as version 2, with index frames.
    Db::open(&dir).unwrap().close().unwrap();
    assert_eq!((catalog_version(&dir), catalog_files(&dir)), (2, 1));
    let db = Db::open_read_only(&dir).unwrap();
    assert_eq!(dump(&db), expected);
    assert_eq!(lookups_agree(&dir, &db, &names), [false; 4]);
}
