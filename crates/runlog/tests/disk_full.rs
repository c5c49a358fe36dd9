//! A full disk under artifacts and text logs: a put that does not fit
//! fails with an error and leaves nothing behind, and every acknowledged
//! write survives. Runs on a small tmpfs, so it needs root (as CI has);
//! elsewhere it says that it was skipped.

use std::path::{Path, PathBuf};
use std::process::Command;

use runlog::{Db, Durability};

/// A tmpfs of `megabytes`, unmounted when dropped.
struct Tmpfs(PathBuf, tempfile::TempDir);

impl Tmpfs {
    fn mount(megabytes: u32) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status()
            .ok()?;
        status.success().then(|| Tmpfs(dir.path().join("db"), dir))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.1.path()).status();
    }
}

fn open(dir: &Path) -> Db {
    Db::builder(dir)
        .durability(Durability::Sync)
        .open()
        .unwrap()
}

#[test]
fn a_full_disk_loses_nothing_acknowledged_and_leaves_no_partial_artifact() {
    let Some(disk) = Tmpfs::mount(24) else {
        eprintln!("SKIPPED: mounting a tmpfs needs root");
        return;
    };
    let dir = &disk.0;
    // A user's file on the same disk, deleted later to make room.
    let ballast = dir.with_file_name("ballast");
    std::fs::write(&ballast, vec![1u8; 2 << 20]).unwrap();
    let db = open(dir);
    let run = db.create_run("e", "r").unwrap();
    let small = vec![5u8; 4 << 20];
    db.put_artifact(run, "small.bin", &small).unwrap();
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let noise: Vec<u8> = (0..40u32 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let error = db.put_artifact(run, "too-big.bin", &noise).unwrap_err();
    assert!(error.to_string().contains("No space left"), "{error}");
    let paths: Vec<String> = db
        .artifacts(run, "")
        .unwrap()
        .into_iter()
        .map(|a| a.path)
        .collect();
    assert_eq!(paths, ["small.bin"]);
    // The failed put left no file behind, so there is room again.
    let mut acknowledged = String::new();
    loop {
        let line = format!("line {} {}\n", acknowledged.len(), "x".repeat(200));
        match db.append_log(run, "stdout", &line) {
            Ok(_) => acknowledged.push_str(&line),
            Err(_) => break, // the disk is full now
        }
    }
    assert!(acknowledged.len() > 1 << 20, "{} bytes", acknowledged.len());
    drop(db);
    // Free room the way a user would, then reopen: everything acknowledged
    // is there, and intact.
    std::fs::remove_file(&ballast).unwrap();
    let db = open(dir);
    let read = db.log_bytes(run, "stdout", 0, usize::MAX).unwrap();
    assert_eq!(read.len(), acknowledged.len());
    assert!(read == acknowledged.as_bytes());
    assert_eq!(db.read_artifact(run, "small.bin").unwrap(), small);
    drop(db);
    let report = runlog::inspect::verify(dir).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}
