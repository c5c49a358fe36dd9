//! Arbitrary series written to a segment read back bit for bit, whole and by
//! step range, with statistics equal to ones computed naively here.

use std::collections::BTreeMap;

use proptest::prelude::*;
use runlog_segment::{
    Columns, EncodedChunk, SegmentLookup, SegmentOptions, SegmentReader, SegmentWriter, SeriesId,
};

/// A value of any kind, weighted towards the awkward ones.
fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => any::<f32>().prop_map(f64::from),
        2 => any::<u64>().prop_map(f64::from_bits),
        1 => prop_oneof![
            Just(f64::NAN),
            Just(f64::from_bits(0x7FF4_0000_0000_1234)),
            Just(f64::from_bits(0xFFF8_0000_0000_0001)),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(-0.0),
            Just(0.0),
            Just(5e-324),
            Just(-2.2250738585072e-310),
        ],
        1 => (-100i64..100).prop_map(|i| i as f64),
    ]
}

/// Points of one series: steps sorted (negative, repeated, huge gaps).
fn series() -> impl Strategy<Value = Columns> {
    let step_gaps = prop_oneof![
        4 => 0i64..3,
        1 => Just(0i64),
        1 => 0i64..(1 << 40),
    ];
    prop::collection::vec((step_gaps, any::<i64>(), value()), 0..300)
        .prop_flat_map(|points| (any::<i64>().prop_map(|s| s >> 2), Just(points)))
        .prop_map(|(start, points)| {
            let mut columns = Columns::default();
            let mut step = start;
            for (gap, timestamp, value) in points {
                step = step.saturating_add(gap);
                columns.push(step, timestamp, value);
            }
            columns
        })
}

/// The statistics of `points`, computed the obvious way.
struct Naive {
    count: u64,
    first: (i64, i64, u64),
    last: (i64, i64, u64),
    min_timestamp: i64,
    max_timestamp: i64,
    min: Option<f64>,
    max: Option<f64>,
}

fn naive(points: &Columns) -> Naive {
    let n = points.len() - 1;
    let numbers: Vec<f64> = points
        .values
        .iter()
        .copied()
        .filter(|v| !v.is_nan())
        .collect();
    let mut sorted = numbers.clone();
    sorted.sort_by(f64::total_cmp);
    Naive {
        count: points.len() as u64,
        first: (
            points.steps[0],
            points.timestamps[0],
            points.values[0].to_bits(),
        ),
        last: (
            points.steps[n],
            points.timestamps[n],
            points.values[n].to_bits(),
        ),
        min_timestamp: *points.timestamps.iter().min().unwrap(),
        max_timestamp: *points.timestamps.iter().max().unwrap(),
        min: sorted.first().copied(),
        max: sorted.last().copied(),
    }
}

fn check_stats(stats: runlog_segment::Stats, points: &Columns) -> Result<(), TestCaseError> {
    let expected = naive(points);
    prop_assert_eq!(stats.count, expected.count);
    prop_assert_eq!(
        (
            stats.first_step,
            stats.first_timestamp,
            stats.first_value.to_bits()
        ),
        expected.first
    );
    prop_assert_eq!(
        (
            stats.last_step,
            stats.last_timestamp,
            stats.last_value.to_bits()
        ),
        expected.last
    );
    prop_assert_eq!(stats.min_timestamp, expected.min_timestamp);
    prop_assert_eq!(stats.max_timestamp, expected.max_timestamp);
    match (expected.min, expected.max) {
        (Some(min), Some(max)) => {
            prop_assert_eq!(stats.min.to_bits(), min.to_bits());
            prop_assert_eq!(stats.max.to_bits(), max.to_bits());
        }
        _ => prop_assert!(stats.min.is_nan() && stats.max.is_nan()),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn series_round_trip_bit_for_bit_with_naive_stats(
        data in prop::collection::btree_map(any::<SeriesId>(), series(), 0..6),
        chunk_points in 1usize..64,
        pieces in 1usize..4,
        range in (any::<i64>(), any::<i64>()),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("test.seg");
        let options = SegmentOptions { chunk_points, ..SegmentOptions::default() };
        let mut writer = SegmentWriter::create(&path, options).unwrap();
        for (&id, points) in &data {
            // Hand each series over in several calls.
            let cut = points.len() / pieces;
            let mut start = 0;
            while start < points.len() {
                let end = if cut == 0 { points.len() } else { (start + cut).min(points.len()) };
                writer.append(
                    id,
                    &points.steps[start..end],
                    &points.timestamps[start..end],
                    &points.values[start..end],
                ).unwrap();
                start = end;
            }
        }
        let info = writer.finish().unwrap();
        let stored: BTreeMap<SeriesId, &Columns> =
            data.iter().filter(|(_, p)| !p.is_empty()).map(|(id, p)| (*id, p)).collect();
        prop_assert_eq!(info.series, stored.len());

        let reader = SegmentReader::open(&path).unwrap();
        prop_assert_eq!(reader.file_len(), info.file_len);
        prop_assert_eq!(reader.series_ids().collect::<Vec<_>>(), stored.keys().copied().collect::<Vec<_>>());
        for (&id, points) in &stored {
            let read = reader.read_series(id).unwrap().unwrap();
            prop_assert_eq!(&read, *points);
            check_stats(reader.stats(id).unwrap(), points)?;
            for chunk in reader.chunks(id) {
                prop_assert!(chunk.stats.count as usize <= chunk_points);
            }
            let (a, b) = range;
            let (low, high) = (a.min(b), a.max(b));
            let expected: Vec<usize> =
                (0..points.len()).filter(|&i| (low..=high).contains(&points.steps[i])).collect();
            let ranged = reader.read_steps(id, low..=high).unwrap().unwrap();
            prop_assert_eq!(ranged.steps, expected.iter().map(|&i| points.steps[i]).collect::<Vec<_>>());
            let inside_from_first = reader.read_steps(id, points.steps[points.len() / 2]..).unwrap().unwrap();
            prop_assert!(inside_from_first.len() >= points.len() - points.len() / 2);
        }
        prop_assert_eq!(reader.read_series(SeriesId::MAX).unwrap().map(|c| c.len()), stored.get(&SeriesId::MAX).map(|p| p.len()));

        // Lookups answer what the whole index does.
        let lookup = SegmentLookup::open(&path).unwrap().expect("version 3");
        prop_assert_eq!(lookup.series_count(), stored.len() as u64);
        for id in stored.keys().copied().chain([0, 1, SeriesId::MAX]) {
            prop_assert_eq!(lookup.chunks(id).unwrap(), reader.chunks(id).to_vec());
            prop_assert_eq!(lookup.stats(id).unwrap(), reader.stats(id));
            prop_assert_eq!(lookup.read_series(id).unwrap(), reader.read_series(id).unwrap());
        }
    }
}

#[test]
fn lookups_in_a_footer_of_many_blocks_find_every_series_and_only_those() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.seg");
    let mut writer = SegmentWriter::create(&path, SegmentOptions::default()).unwrap();
    let ids: Vec<SeriesId> = (0..3000u64).map(|i| i * 7 + 3).collect();
    for &id in &ids {
        let value = id as f64;
        writer
            .append(id, &[1, 2], &[10, 20], &[value, -value])
            .unwrap();
    }
    writer.set_metadata(b"provenance".to_vec()).unwrap();
    writer.finish().unwrap();
    let reader = SegmentReader::open(&path).unwrap();
    let lookup = SegmentLookup::open(&path).unwrap().expect("version 3");
    for &id in &ids {
        let stats = lookup.stats(id).unwrap().expect("held");
        assert_eq!(Some(stats), reader.stats(id), "series {id}");
        assert_eq!(stats.last_value, -(id as f64));
        for missing in [id - 1, id + 1] {
            assert!(
                lookup.chunks(missing).unwrap().is_empty(),
                "series {missing}"
            );
        }
    }
    assert_eq!(lookup.metadata().unwrap(), b"provenance");
    assert!(lookup.chunks(0).unwrap().is_empty());
    assert!(lookup.chunks(SeriesId::MAX).unwrap().is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Whole series appended at once on several threads, and chunks copied
    /// from a finished segment, give the very file `append` writes.
    #[test]
    fn append_all_and_copied_chunks_write_the_same_file_as_append(
        data in prop::collection::btree_map(any::<SeriesId>(), series(), 0..6),
        chunk_points in 1usize..64,
        encode_threads in 1usize..4,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let options = SegmentOptions { chunk_points, encode_threads, ..SegmentOptions::default() };
        let appended = dir.path().join("appended.seg");
        let mut writer = SegmentWriter::create(&appended, options).unwrap();
        for (&id, points) in &data {
            writer.append(id, &points.steps, &points.timestamps, &points.values).unwrap();
        }
        writer.finish().unwrap();

        let all = dir.path().join("all.seg");
        let mut writer = SegmentWriter::create(&all, options).unwrap();
        let series: Vec<(SeriesId, &Columns)> = data.iter().map(|(id, p)| (*id, p)).collect();
        writer.append_all(&series).unwrap();
        writer.finish().unwrap();
        prop_assert_eq!(std::fs::read(&all).unwrap(), std::fs::read(&appended).unwrap());

        let reader = SegmentReader::open(&appended).unwrap();
        let copied = dir.path().join("copied.seg");
        let mut writer = SegmentWriter::create(&copied, options).unwrap();
        for id in reader.series_ids() {
            for chunk in reader.chunks(id) {
                writer.copy_chunk(id, chunk, reader.checked_chunk_bytes(chunk).unwrap()).unwrap();
            }
        }
        writer.finish().unwrap();
        prop_assert_eq!(std::fs::read(&copied).unwrap(), std::fs::read(&appended).unwrap());

        let encoded = dir.path().join("encoded.seg");
        let mut writer = SegmentWriter::create(&encoded, options).unwrap();
        for (&id, points) in &data {
            for start in (0..points.len()).step_by(chunk_points) {
                let end = (start + chunk_points).min(points.len());
                let chunk = EncodedChunk::encode(
                    &points.steps[start..end],
                    &points.timestamps[start..end],
                    &points.values[start..end],
                    options.pco_level,
                ).unwrap();
                let mut back = Columns::default();
                chunk.decode_into(&mut back).unwrap();
                let mut expected = Columns::default();
                expected.extend_from(points, start..end);
                prop_assert_eq!(&back, &expected);
                prop_assert_eq!(chunk.len(), end - start);
                writer.append_encoded(id, &chunk).unwrap();
            }
        }
        writer.finish().unwrap();
        prop_assert_eq!(std::fs::read(&encoded).unwrap(), std::fs::read(&appended).unwrap());
    }
}

#[test]
fn chunks_encoded_in_memory_refuse_what_a_chunk_cannot_hold() {
    use runlog_segment::InputProblem;
    assert_eq!(
        EncodedChunk::encode(&[], &[], &[], 6).unwrap_err(),
        InputProblem::ChunkSize { points: 0 }
    );
    assert!(matches!(
        EncodedChunk::encode(&[2, 1], &[0, 0], &[0.0, 0.0], 6),
        Err(InputProblem::StepsNotSorted { index: 1, .. })
    ));
    assert!(matches!(
        EncodedChunk::encode(&[1], &[0, 0], &[0.0], 6),
        Err(InputProblem::LengthMismatch { .. })
    ));
    let chunk = EncodedChunk::encode(&[1, 5], &[10, 50], &[0.5, f64::NAN], 6).unwrap();
    assert_eq!((chunk.stats().first_step, chunk.stats().last_step), (1, 5));
    let mut out = Columns::default();
    chunk.read_steps_into(&(2..), &mut out).unwrap();
    assert_eq!(out.steps, [5]);
    chunk.read_steps_into(&(6..), &mut out).unwrap();
    assert_eq!(out.len(), 1, "a range past the chunk reads nothing");
}

#[test]
fn append_all_on_several_threads_writes_the_file_append_writes() {
    // Enough points for the threads to start (the property test above is
    // below that size): 20 runs of the workload, 2,000 steps each.
    let mut data: Vec<(SeriesId, Columns)> = Vec::new();
    for run in 0..20u64 {
        let mut metrics = vec![Columns::default(); runlog_workload::METRICS.len()];
        runlog_workload::Run {
            steps: 2_000,
            seed: run,
        }
        .for_each_point(|m, s, t, v| metrics[m].push(s, t, v));
        data.extend((0..).zip(metrics).map(|(m, c)| (run * 100 + m, c)));
    }
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, threads: usize, whole: bool| {
        let path = dir.path().join(name);
        let options = SegmentOptions {
            chunk_points: 1_500,
            encode_threads: threads,
            ..SegmentOptions::default()
        };
        let mut writer = SegmentWriter::create(&path, options).unwrap();
        if whole {
            let series: Vec<(SeriesId, &Columns)> = data.iter().map(|(id, c)| (*id, c)).collect();
            writer.append_all(&series).unwrap();
        } else {
            for (id, c) in &data {
                writer
                    .append(*id, &c.steps, &c.timestamps, &c.values)
                    .unwrap();
            }
        }
        writer.finish().unwrap();
        std::fs::read(path).unwrap()
    };
    let expected = write("appended.seg", 1, false);
    assert_eq!(write("one.seg", 1, true), expected);
    assert_eq!(write("three.seg", 3, true), expected);
}

#[test]
fn append_all_checks_every_series_before_writing_any() {
    use runlog_segment::{Error, InputProblem};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("all.seg");
    let mut writer = SegmentWriter::create(&path, SegmentOptions::default()).unwrap();
    writer.append(3, &[1, 2], &[0, 0], &[1.0, 2.0]).unwrap();
    let mut sorted = Columns::default();
    sorted.push(5, 0, 5.0);
    let mut unsorted = Columns::default();
    unsorted.push(9, 0, 9.0);
    unsorted.push(8, 0, 8.0);
    match writer.append_all(&[(4, &sorted), (6, &unsorted)]) {
        Err(Error::InvalidPoints {
            series: 6,
            problem: InputProblem::StepsNotSorted { index: 1, .. },
        }) => {}
        other => panic!("{other:?}"),
    }
    match writer.append_all(&[(5, &sorted), (4, &sorted)]) {
        Err(Error::InvalidPoints {
            series: 4,
            problem: InputProblem::SeriesOutOfOrder { previous: 5 },
        }) => {}
        other => panic!("{other:?}"),
    }
    // The current series may go on, then later ids follow.
    let mut more = Columns::default();
    more.push(2, 1, 2.5);
    writer.append_all(&[(3, &more), (4, &sorted)]).unwrap();
    // A series appended whole is ended: its id cannot come again.
    assert!(matches!(
        writer.append(4, &[7], &[0], &[7.0]),
        Err(Error::InvalidPoints {
            series: 4,
            problem: InputProblem::SeriesOutOfOrder { previous: 4 }
        })
    ));
    writer.finish().unwrap();
    let reader = SegmentReader::open(&path).unwrap();
    assert_eq!(reader.series_ids().collect::<Vec<_>>(), [3, 4]);
    assert_eq!(
        reader.read_series(3).unwrap().unwrap().values,
        [1.0, 2.0, 2.5]
    );
    assert_eq!(reader.read_series(4).unwrap().unwrap().values, [5.0]);
}

#[test]
fn copy_chunk_refuses_damaged_bytes_and_steps_going_back() {
    use runlog_segment::{Error, InputProblem};
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source.seg");
    let options = SegmentOptions {
        chunk_points: 4,
        ..SegmentOptions::default()
    };
    let mut writer = SegmentWriter::create(&source, options).unwrap();
    let steps: Vec<i64> = (10..20).collect();
    let values: Vec<f64> = steps.iter().map(|&s| s as f64 / 3.0).collect();
    writer.append(1, &steps, &steps, &values).unwrap();
    writer.finish().unwrap();
    let reader = SegmentReader::open(&source).unwrap();
    let chunk = reader.chunks(1)[0];
    let bytes = reader.chunk_bytes(&chunk).to_vec();

    let target = dir.path().join("target.seg");
    let mut writer = SegmentWriter::create(&target, options).unwrap();
    writer.append(1, &[3, 4], &[0, 0], &[0.5, 0.5]).unwrap();
    assert_eq!(writer.pending_points(1), 2);
    let mut damaged = bytes.clone();
    *damaged.last_mut().unwrap() ^= 1;
    assert!(matches!(
        writer.copy_chunk(1, &chunk, &damaged),
        Err(Error::InvalidPoints {
            series: 1,
            problem: InputProblem::ChunkMismatch
        })
    ));
    assert!(matches!(
        writer.copy_chunk(1, &chunk, &bytes[1..]),
        Err(Error::InvalidPoints {
            problem: InputProblem::ChunkMismatch,
            ..
        })
    ));
    writer.copy_chunk(1, &chunk, &bytes).unwrap();
    assert_eq!(writer.pending_points(1), 0, "pending points went first");
    assert!(matches!(
        writer.copy_chunk(1, &chunk, &bytes),
        Err(Error::InvalidPoints {
            problem: InputProblem::StepsNotSorted {
                previous: 13,
                step: 10,
                ..
            },
            ..
        })
    ));
    writer.finish().unwrap();
    let copied = SegmentReader::open(&target).unwrap();
    assert_eq!(copied.chunks(1).len(), 2);
    assert_eq!(
        copied.read_series(1).unwrap().unwrap().steps,
        [3, 4, 10, 11, 12, 13]
    );
}

#[test]
fn a_million_point_workload_series_round_trips() {
    let run = runlog_workload::Run {
        steps: 1_000_000,
        seed: 3,
    };
    let series = run.series();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.seg");
    let mut writer = SegmentWriter::create(&path, SegmentOptions::default()).unwrap();
    for (id, s) in series.iter().enumerate().take(3) {
        writer
            .append(id as SeriesId, &s.steps, &s.timestamps, &s.values)
            .unwrap();
    }
    writer.finish().unwrap();
    let reader = SegmentReader::open(&path).unwrap();
    for (id, s) in series.iter().enumerate().take(3) {
        let read = reader.read_series(id as SeriesId).unwrap().unwrap();
        assert_eq!(read.steps, s.steps);
        assert_eq!(read.timestamps, s.timestamps);
        assert!(
            read.values
                .iter()
                .zip(&s.values)
                .all(|(a, b)| a.to_bits() == b.to_bits())
        );
        let middle = reader
            .read_steps(id as SeriesId, 500_000..500_010)
            .unwrap()
            .unwrap();
        let expected: Vec<i64> = s
            .steps
            .iter()
            .copied()
            .filter(|st| (500_000..500_010).contains(st))
            .collect();
        assert_eq!(middle.steps, expected);
    }
}

#[test]
fn bad_input_is_refused_with_the_offending_values_and_nothing_written() {
    use runlog_segment::{Error, InputProblem};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.seg");
    let mut writer = SegmentWriter::create(&path, SegmentOptions::default()).unwrap();
    writer.append(5, &[1, 2], &[0, 0], &[1.0, 2.0]).unwrap();
    match writer.append(5, &[3, 1], &[0, 0], &[0.0, 0.0]) {
        Err(Error::InvalidPoints {
            series: 5,
            problem:
                InputProblem::StepsNotSorted {
                    index: 1,
                    previous: 3,
                    step: 1,
                },
        }) => {}
        other => panic!("{other:?}"),
    }
    match writer.append(5, &[1], &[0], &[0.0]) {
        Err(Error::InvalidPoints {
            problem:
                InputProblem::StepsNotSorted {
                    index: 0,
                    previous: 2,
                    step: 1,
                },
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        writer.append(4, &[9], &[0], &[0.0]),
        Err(Error::InvalidPoints {
            series: 4,
            problem: InputProblem::SeriesOutOfOrder { previous: 5 }
        })
    ));
    assert!(matches!(
        writer.append(6, &[9], &[0, 1], &[0.0]),
        Err(Error::InvalidPoints {
            problem: InputProblem::LengthMismatch {
                steps: 1,
                timestamps: 2,
                values: 1
            },
            ..
        })
    ));
    assert!(!path.exists(), "nothing at the final path before finish");
    writer.finish().unwrap();
    let reader = SegmentReader::open(&path).unwrap();
    assert_eq!(
        reader.read_series(5).unwrap().unwrap().steps,
        [1, 2],
        "refused calls wrote nothing"
    );
    assert_eq!(reader.series_ids().count(), 1);
}

#[test]
fn an_unfinished_writer_leaves_no_file_behind() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dropped.seg");
    let mut writer = SegmentWriter::create(&path, SegmentOptions::default()).unwrap();
    writer.append(1, &[1], &[1], &[1.0]).unwrap();
    drop(writer);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn options_out_of_range_are_refused_by_name() {
    use runlog_segment::Error;
    let dir = tempfile::tempdir().unwrap();
    for (options, name) in [
        (
            SegmentOptions {
                chunk_points: 0,
                ..SegmentOptions::default()
            },
            "chunk_points",
        ),
        (
            SegmentOptions {
                pco_level: 13,
                ..SegmentOptions::default()
            },
            "pco_level",
        ),
        (
            SegmentOptions {
                encode_threads: 0,
                ..SegmentOptions::default()
            },
            "encode_threads",
        ),
        (
            SegmentOptions {
                encode_threads: runlog_segment::MAX_ENCODE_THREADS + 1,
                ..SegmentOptions::default()
            },
            "encode_threads",
        ),
    ] {
        match SegmentWriter::create(dir.path().join("x.seg"), options) {
            Err(Error::InvalidOption { name: got, .. }) => assert_eq!(got, name),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn metadata_reads_back_as_given_up_to_its_limit_and_is_refused_beyond() {
    use runlog_segment::{Error, MAX_METADATA_LEN};
    let dir = tempfile::tempdir().unwrap();
    for (name, metadata) in [
        ("none.seg", Vec::new()),
        ("some.seg", b"\x00owner\xff".to_vec()),
        ("full.seg", vec![0xA5; MAX_METADATA_LEN]),
    ] {
        let path = dir.path().join(name);
        let mut writer = SegmentWriter::create(&path, SegmentOptions::default()).unwrap();
        writer.append(3, &[1, 2], &[10, 20], &[0.5, 1.5]).unwrap();
        writer.set_metadata(metadata.clone()).unwrap();
        writer.finish().unwrap();
        let reader = SegmentReader::open(&path).unwrap();
        assert_eq!(reader.metadata(), metadata.as_slice(), "{name}");
        let at = reader.metadata_offset() as usize;
        let file = std::fs::read(&path).unwrap();
        assert_eq!(
            &file[at..at + metadata.len()],
            metadata.as_slice(),
            "{name}"
        );
        let length = u32::from_le_bytes(file[at - 4..at].try_into().unwrap());
        assert_eq!(
            length as usize,
            metadata.len(),
            "{name}: its length field before it"
        );
        assert_eq!(reader.read_series(3).unwrap().unwrap().steps, [1, 2]);
    }
    let mut writer =
        SegmentWriter::create(dir.path().join("over.seg"), SegmentOptions::default()).unwrap();
    match writer.set_metadata(vec![0; MAX_METADATA_LEN + 1]) {
        Err(Error::InvalidOption {
            name: "metadata",
            value,
            ..
        }) => assert_eq!(value, "65537 bytes"),
        other => panic!("{other:?}"),
    }
}
