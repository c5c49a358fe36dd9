//! Fuzz target: arbitrary bytes as a WAL file (see `bodies/wal_replay.rs`).
#![no_main]

#[path = "../bodies/wal_replay.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| body::run(data));
