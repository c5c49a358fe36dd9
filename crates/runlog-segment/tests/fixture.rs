//! A segment of every format version is checked in; each must keep opening
//! and reading back exactly the points it was written from, so a format
//! change without a version bump fails here. Each holds every codec tag of
//! its version, so every decoder is pinned.
//!
//! Write the fixture of the current version (only together with a format
//! version bump, keeping the older files):
//! `cargo test -p runlog-segment --test fixture -- --ignored write_fixture`

use std::collections::BTreeSet;
use std::path::PathBuf;

use runlog_segment::{
    Columns, FORMAT_VERSION, SegmentLookup, SegmentOptions, SegmentReader, SegmentWriter, SeriesId,
};

fn fixture_path(version: u32) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/segment-v{version}.seg"))
}

/// Each version's fixture: the series it holds (a prefix of
/// [`fixture_series`]) and the codec tags that version has.
const VERSIONS: [(u32, SeriesId, &[u8]); 3] = [
    (
        1,
        9,
        &[
            0x01, 0x02, 0x03, 0x04, 0x05, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
        ],
    ),
    (
        2,
        10,
        &[
            0x01, 0x02, 0x03, 0x04, 0x05, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16,
        ],
    ),
    // Version 3 adds the owner's metadata to the footer; no codec changes.
    (
        3,
        10,
        &[
            0x01, 0x02, 0x03, 0x04, 0x05, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16,
        ],
    ),
];

/// The metadata the fixture of each version holds: none before version 3.
fn fixture_metadata(version: u32) -> &'static [u8] {
    if version >= 3 {
        b"metadata of the version 3 fixture \x00\xff"
    } else {
        b""
    }
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
    // Version 2: f32 noise in a narrow range, packed f32 values.
    series(10, 100, &mut |i| {
        let noise = (random() % 1000) as f64 / 1e5;
        (i, base + 100 * i, f64::from((0.7 + noise) as f32))
    });
    all
}

fn write_to(path: &std::path::Path) {
    let options = SegmentOptions {
        chunk_points: 64,
        ..SegmentOptions::default()
    };
    let mut writer = SegmentWriter::create(path, options).unwrap();
    let (_, last_id, _) = VERSIONS[VERSIONS.len() - 1];
    for (id, points) in fixture_series()
        .into_iter()
        .filter(|(id, _)| *id <= last_id)
    {
        writer
            .append(id, &points.steps, &points.timestamps, &points.values)
            .unwrap();
    }
    writer
        .set_metadata(fixture_metadata(FORMAT_VERSION).to_vec())
        .unwrap();
    writer.finish().unwrap();
}

#[test]
#[ignore = "writes the checked-in fixture; run only with a format version bump"]
fn write_fixture() {
    write_to(&fixture_path(FORMAT_VERSION));
}

/// The codec tags of every column of every chunk.
fn tags(reader: &SegmentReader) -> BTreeSet<u8> {
    let mut tags = BTreeSet::new();
    for chunk in reader.all_chunks() {
        let bytes = reader.chunk_bytes(chunk);
        tags.insert(bytes[0]);
        tags.insert(bytes[chunk.step_len as usize]);
        tags.insert(bytes[(chunk.step_len + chunk.timestamp_len) as usize]);
    }
    tags
}

#[test]
fn every_versions_fixture_keeps_opening_with_every_point_intact() {
    assert_eq!(VERSIONS[VERSIONS.len() - 1].0, FORMAT_VERSION);
    for (version, last_id, version_tags) in VERSIONS {
        let reader = SegmentReader::open(fixture_path(version))
            .unwrap_or_else(|e| panic!("the v{version} fixture opens: {e}"));
        let expected: Vec<_> = fixture_series()
            .into_iter()
            .filter(|(id, _)| *id <= last_id)
            .collect();
        assert_eq!(
            reader.series_ids().collect::<Vec<_>>(),
            expected.iter().map(|(id, _)| *id).collect::<Vec<_>>()
        );
        for (id, points) in &expected {
            assert_eq!(
                &reader.read_series(*id).unwrap().unwrap(),
                points,
                "v{version} series {id}"
            );
            let stats = reader.stats(*id).unwrap();
            assert_eq!(stats.count as usize, points.len());
            assert_eq!(
                stats.last_value.to_bits(),
                points.values.last().unwrap().to_bits()
            );
        }
        assert_eq!(reader.metadata(), fixture_metadata(version), "v{version}");
        match SegmentLookup::open(fixture_path(version)).unwrap() {
            None => assert!(version < 3, "v{version} has a block table"),
            Some(lookup) => {
                assert_eq!(lookup.metadata().unwrap(), fixture_metadata(version));
                for (id, points) in &expected {
                    assert_eq!(lookup.read_series(*id).unwrap().as_ref(), Some(points));
                }
            }
        }
        let every_tag: BTreeSet<u8> = version_tags.iter().copied().collect();
        assert_eq!(tags(&reader), every_tag, "v{version} exercises every codec");
    }
}

#[test]
fn writing_the_fixture_series_today_reads_back_the_same_and_uses_every_codec() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("today.seg");
    write_to(&path);
    let today = SegmentReader::open(&path).unwrap();
    let fixture = SegmentReader::open(fixture_path(FORMAT_VERSION)).unwrap();
    for id in fixture.series_ids() {
        assert_eq!(
            today.read_series(id).unwrap(),
            fixture.read_series(id).unwrap()
        );
    }
    assert_eq!(tags(&today), tags(&fixture));
    assert_eq!(today.metadata(), fixture.metadata());
}
