//! Fuzz target: arbitrary bytes as a segment (see `bodies/segment_open.rs`).
#![no_main]

#[path = "../bodies/segment_open.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| body::run(data));
