//! The body of the `segment_open` fuzz target, shared with the stable test
//! that replays the checked-in seeds (`tests/fuzz_seeds.rs`).
//!
//! Arbitrary bytes opened as a segment: opening, reading every series whole
//! and by step range, and reading every chunk must never panic, and whatever
//! reads successfully must agree with the footer's statistics. So must
//! lookups of single series (`SegmentLookup`), which check only the footer
//! blocks they read.

use runlog_segment::{Columns, SegmentLookup, SegmentReader};

/// Runs one input.
pub fn run(data: &[u8]) {
    look_up(data);
    let Ok(reader) = SegmentReader::from_bytes("fuzz.seg", data.to_vec()) else {
        return;
    };
    let ids: Vec<u64> = reader.series_ids().collect();
    for id in ids {
        let stats = reader.stats(id).expect("listed series has stats");
        if let Ok(Some(points)) = reader.read_series(id) {
            assert_eq!(points.len() as u64, stats.count);
            assert!(points.steps.windows(2).all(|w| w[0] <= w[1]));
        }
        let middle = stats.first_step / 2 + stats.last_step / 2;
        if let Ok(Some(points)) = reader.read_steps(id, middle..) {
            assert!(points.steps.iter().all(|&s| s >= middle));
        }
    }
    for chunk in reader.all_chunks() {
        let mut out = Columns::default();
        if reader.read_chunk(chunk, &mut out).is_ok() {
            assert_eq!(out.len() as u64, chunk.stats.count);
        }
    }
}

/// Looks up a few series ids, and the metadata, one at a time.
fn look_up(data: &[u8]) {
    let Ok(Some(lookup)) = SegmentLookup::from_bytes("fuzz.seg", data.to_vec()) else {
        return;
    };
    let _ = lookup.metadata();
    for id in (0..32).chain([u64::MAX]) {
        let (Ok(Some(stats)), Ok(Some(points))) = (lookup.stats(id), lookup.read_series(id)) else {
            continue;
        };
        assert_eq!(points.len() as u64, stats.count);
        assert!(points.steps.windows(2).all(|w| w[0] <= w[1]));
    }
}
