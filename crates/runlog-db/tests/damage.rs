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
