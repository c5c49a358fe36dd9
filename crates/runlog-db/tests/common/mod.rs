//! What every test of the binary needs: the binary itself.

use std::process::{Command, Output};

/// The `runlog-db` binary, to configure and spawn.
#[allow(dead_code, reason = "each test binary uses part of this module")]
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_runlog-db"))
}

/// Runs `runlog-db` with `args` to its end.
#[allow(dead_code, reason = "each test binary uses part of this module")]
pub fn runlog_db(args: &[&str]) -> Output {
    bin().args(args).output().expect("run runlog-db")
}

/// The arguments of `runlog-db import DB --format FORMAT FILE EXTRA...`.
#[allow(dead_code, reason = "each test binary uses part of this module")]
pub fn import_args<'a>(
    db: &'a std::path::Path,
    format: &'a str,
    file: &'a std::path::Path,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut args = vec![
        "import",
        db.to_str().unwrap(),
        "--format",
        format,
        file.to_str().unwrap(),
    ];
    args.extend(extra);
    args
}

/// Runs `runlog-db` with `args`, which must succeed; returns its output.
#[allow(dead_code, reason = "each test binary uses part of this module")]
pub fn ok(args: &[&str]) -> String {
    let out = runlog_db(args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}
