//! A segment written by format version 1 is checked in; it must keep
//! opening and reading back exactly the points it was written from, so a
//! format change without a version bump fails here. It holds every codec
//! tag, so every decoder is pinned.
//!
//! Regenerate (only together with a format version bump, keeping the old
//! file under its version's name):
//! `cargo test -p runlog-segment --test fixture -- --ignored write_fixture`

use std::collections::BTreeSet;
use std::path::PathBuf;

use runlog_segment::{Columns, SegmentOptions, SegmentReader, SegmentWriter, SeriesId};

fn fixture_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/segment-v1.seg")
}

/// The series the fixture holds; deterministic, and chosen so that the
/// writer picks every codec at least once.
fn fixture_series() -> Vec<(SeriesId, Columns)> {
    let mut xorshift = 0x2545_F491_4F6C_DD1Du64;
    let mut random = move || {
        xorshift ^= xorshift << 13;
        xorshift ^= xorshift >> 7;
        xorshift ^= xorshift << 17;
        xorshift
    };
    let mut all = Vec::new();
    let mut series = |id: SeriesId, n: i64, point: &mut dyn FnMut(i64) -> (i64, i64, f64)| {
        let mut columns = Columns::default();
        for i in 0..n {
            let (step, timestamp, value) = point(i);
            columns.push(step, timestamp, value);
        }
        all.push((id, columns));
    };
    let base = 1_700_000_000_000i64;
    // f32 noise, steps 0.., jittered timestamps.
    series(1, 200, &mut |i| {
        let noise = (random() % 1000) as f64 / 1e4;
        (
            i,
            base + 100 * i + (i * 7) % 6,
            f64::from((2.0 - i as f64 / 200.0 + noise) as f32),
        )
    });
    // Smooth f64, sparse steps.
    series(2, 150, &mut |i| {
        (1000 * i, base + i * 100_000, 3e-4 * (i as f64 / 50.0).cos())
    });
    // Integers; constant timestamps.
    series(3, 130, &mut |i| (i, base, (90 + (i * 13) % 11) as f64));
    // A constant value.
    series(4, 70, &mut |i| (i, base + i, 0.5));
    // Random bit patterns and random steps: plain columns.
    series(5, 3, &mut |i| {
        (
            i * 1_000_000_007 + (random() >> 40) as i64,
            random() as i64,
            f64::from_bits(random()),
        )
    });
    // Special values, two points: Gorilla.
    series(6, 2, &mut |i| (i, base + i, [f64::NAN, -0.0][i as usize]));
    // Irregular steps with noisy timestamps: delta and pco columns.
    series(7, 200, &mut |i| {
        (
            i * 3 + (random() % 3) as i64,
            base + (random() % 1_000_000) as i64,
            i as f64 * 0.25 - 7.0,
        )
    });
    // Infinities and subnormals.
    series(8, 4, &mut |i| {
        (
            i,
            base,
            [f64::INFINITY, f64::NEG_INFINITY, 5e-324, f64::MAX][i as usize],
        )
    });
    // Regular timestamps with rare huge outliers: pco beats bit packing.
    series(9, 256, &mut |i| {
        let outlier = if i % 50 == 7 { 1_000_000_000 } else { 0 };
        (i, base + 100 * i + outlier, 1.0)
    });
    all
}

fn write_to(path: &std::path::Path) {
    let options = SegmentOptions {
        chunk_points: 64,
        ..SegmentOptions::default()
    };
    let mut writer = SegmentWriter::create(path, options).unwrap();
    for (id, points) in fixture_series() {
        writer
            .append(id, &points.steps, &points.timestamps, &points.values)
            .unwrap();
    }
    writer.finish().unwrap();
}

#[test]
#[ignore = "writes the checked-in fixture; run only with a format version bump"]
fn write_fixture() {
    write_to(&fixture_path());
}

#[test]
fn the_version_1_fixture_keeps_opening_with_every_point_intact() {
    let reader = SegmentReader::open(fixture_path()).expect("the v1 fixture opens");
    let expected = fixture_series();
    assert_eq!(
        reader.series_ids().collect::<Vec<_>>(),
        expected.iter().map(|(id, _)| *id).collect::<Vec<_>>()
    );
    for (id, points) in &expected {
        assert_eq!(
            &reader.read_series(*id).unwrap().unwrap(),
            points,
            "series {id}"
        );
        let stats = reader.stats(*id).unwrap();
        assert_eq!(stats.count as usize, points.len());
        assert_eq!(
            stats.last_value.to_bits(),
            points.values.last().unwrap().to_bits()
        );
    }
    let mut tags = BTreeSet::new();
    for chunk in reader.all_chunks() {
        let bytes = reader.chunk_bytes(chunk);
        tags.insert(bytes[0]);
        tags.insert(bytes[chunk.step_len as usize]);
        tags.insert(bytes[(chunk.step_len + chunk.timestamp_len) as usize]);
    }
    let every_tag: BTreeSet<u8> = [
        0x01, 0x02, 0x03, 0x04, 0x05, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
    ]
    .into();
    assert_eq!(tags, every_tag, "the fixture exercises every codec");
}

#[test]
fn writing_the_fixture_series_today_reads_back_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("today.seg");
    write_to(&path);
    let today = SegmentReader::open(&path).unwrap();
    let fixture = SegmentReader::open(fixture_path()).unwrap();
    for id in fixture.series_ids() {
        assert_eq!(
            today.read_series(id).unwrap(),
            fixture.read_series(id).unwrap()
        );
    }
}
