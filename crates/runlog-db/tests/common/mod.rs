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
