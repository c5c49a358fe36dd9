//! The reproduction through the binary: one bad byte in the middle
//! of the last WAL file no longer drops the records after it. Every command
//! refuses, naming the file and offset, and nothing is cut; `repair` drops
//! exactly the damaged write call; `verify` is then clean.

mod common;

use std::path::PathBuf;

use common::runlog_db;
use runlog::{Db, Durability};

#[test]
fn a_bad_wal_byte_is_refused_everywhere_then_repaired_explicitly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap();
    {
        let db = Db::builder(dir.path())
            .durability(Durability::Sync)
            .open()
            .unwrap();
        for r in 0..30 {
            let run = db.create_run("e", &format!("run-{r}")).unwrap();
            db.log_list(run, "loss", &[1.0, 0.5]).unwrap();
        }
        db.close().unwrap();
    }
    let mut wal: Vec<PathBuf> = std::fs::read_dir(dir.path().join("wal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    wal.sort();
    let wal = wal.pop().unwrap();
    let mut bytes = std::fs::read(&wal).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&wal, &bytes).unwrap();

    for args in [vec!["runs", path], vec!["verify", path]] {
        let out = runlog_db(&args);
        assert!(!out.status.success(), "{args:?}");
        let text = String::from_utf8_lossy(&out.stderr);
        assert!(text.contains(wal.to_str().unwrap()), "{args:?}: {text}");
    }
    let csv = dir.path().with_extension("csv");
    std::fs::write(
        &csv,
        "run,experiment,metric,step,timestamp_ms,value\nx,e,loss,0,0,1\n",
    )
    .unwrap();
    let out = runlog_db(&["import", path, "--format", "csv", csv.to_str().unwrap()]);
    assert!(!out.status.success(), "a writer refuses too");
    assert_eq!(std::fs::read(&wal).unwrap(), bytes, "nothing was cut");

    let out = runlog_db(&["repair", path]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        said.lines()
            .filter(|l| l.starts_with("dropped WAL records"))
            .count(),
        1,
        "{said}"
    );
    let out = runlog_db(&["verify", path]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let db = Db::open_read_only(dir.path()).unwrap();
    let runs = db.runs(&runlog::RunFilter::default());
    let points: u64 = runs
        .iter()
        .filter_map(|r| r.metric("loss"))
        .map(|s| s.count)
        .sum();
    // One call lost: a run's creation (29 runs listed) or its two points.
    assert_eq!(points, 58, "{} runs", runs.len());
    assert!((29..=30).contains(&runs.len()), "{} runs", runs.len());
}

/// The first reproduction: `rm DB/MANIFEST`, then a writer. The
/// import is refused with nothing deleted; `repair` rebuilds the MANIFEST
/// from the segments and the catalog file; every command then answers as
/// before, and the import goes through.
#[test]
fn a_lost_manifest_is_refused_then_rebuilt_by_repair() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap();
    {
        let db = Db::builder(dir.path())
            .memtable_bytes(64 << 10)
            .open()
            .unwrap();
        for r in 0..40 {
            let run = db.create_run("e", &format!("run-{r}")).unwrap();
            db.set_param(run, "lr", &format!("{r}e-4")).unwrap();
            let values: Vec<f64> = (0..500).map(|i| f64::from(r * 1000 + i)).collect();
            db.log_list(run, "loss", &values).unwrap();
        }
        db.close().unwrap();
    }
    let listing = |args: &[&str]| {
        let out = runlog_db(args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let runs_before = listing(&["runs", path]);
    let history_before = listing(&["history", path, "e/run-7", "loss"]);
    let segments_before = std::fs::read_dir(dir.path().join("segments"))
        .unwrap()
        .count();
    assert!(segments_before > 1, "several segments");
    std::fs::remove_file(dir.path().join("MANIFEST")).unwrap();

    let csv = dir.path().with_extension("csv");
    std::fs::write(
        &csv,
        "run,experiment,metric,step,timestamp_ms,value\nnew,e,loss,0,0,1\n",
    )
    .unwrap();
    let import = ["import", path, "--format", "csv", csv.to_str().unwrap()];
    let out = runlog_db(&import);
    assert!(!out.status.success(), "a writer refuses");
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("MANIFEST") && text.contains("repair"),
        "{text}"
    );
    assert_eq!(
        std::fs::read_dir(dir.path().join("segments"))
            .unwrap()
            .count(),
        segments_before,
        "nothing deleted"
    );

    let said = listing(&["repair", path]);
    assert!(said.contains("note: rebuilt the MANIFEST"), "{said}");
    assert_eq!(listing(&["runs", path]), runs_before);
    assert_eq!(
        listing(&["history", path, "e/run-7", "loss"]),
        history_before
    );
    assert!(listing(&["verify", path]).contains("0 problems"));
    let out = runlog_db(&import);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(listing(&["runs", path]).contains("new"));
}
