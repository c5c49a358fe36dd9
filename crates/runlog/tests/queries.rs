//! The query layer and run lifecycle: run lists with filters and summaries,
//! comparisons, downsampling, history by time, tables, statuses, killed
//! runs on reopen, and deleted runs dropped by compaction.

use runlog::{Db, Durability, RunFilter, RunStatus, SegmentOptions};
use runlog_segment::SegmentReader;

fn open(dir: &std::path::Path) -> Db {
    Db::builder(dir)
        .durability(Durability::Sync)
        .memtable_bytes(64 << 10)
        .segment_options(SegmentOptions {
            chunk_points: 64,
            ..SegmentOptions::default()
        })
        .open()
        .unwrap()
}

#[test]
fn run_lists_filter_and_summarise() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    for i in 0..6 {
        let run = db
            .create_run(&format!("exp-{}", i % 2), &format!("run-{i}"))
            .unwrap();
        db.log_list(run, "loss", &[3.0 + i as f64, 1.0, 2.0])
            .unwrap();
        db.set_tag(run, "parity", if i % 2 == 0 { "even" } else { "odd" })
            .unwrap();
        if i % 3 == 0 {
            db.complete_run(run).unwrap();
        }
    }
    let all = db.runs(&RunFilter::default());
    assert_eq!(all.len(), 6);
    let loss = all[4].metric("loss").unwrap();
    assert_eq!(
        (loss.count, loss.last_value, loss.min, loss.max),
        (3, 2.0, 1.0, 7.0)
    );
    let exp0 = db.runs(&RunFilter {
        experiment: Some("exp-0".into()),
        ..RunFilter::default()
    });
    assert_eq!(
        exp0.iter()
            .map(|r| r.info.name.as_str())
            .collect::<Vec<_>>(),
        ["run-0", "run-2", "run-4"]
    );
    let done = db.runs(&RunFilter {
        status: Some(RunStatus::Completed),
        ..RunFilter::default()
    });
    assert_eq!(done.len(), 2);
    assert!(done.iter().all(|r| r.info.end_ms.is_some()));
    let odd = db.runs(&RunFilter {
        tag: Some(("parity".into(), "odd".into())),
        ..RunFilter::default()
    });
    assert_eq!(odd.len(), 3);
    assert_eq!(
        db.experiments().into_iter().collect::<Vec<_>>(),
        [("exp-0".to_string(), 3), ("exp-1".to_string(), 3)]
    );
    let ids: Vec<_> = all.iter().map(|r| r.info.id).collect();
    let compared = db.compare("loss", &ids[..2]).unwrap();
    assert_eq!(compared[1].1.values, [4.0, 1.0, 2.0]);
    let missing = db.compare("nope", &ids[..1]).unwrap();
    assert!(missing[0].1.is_empty());
}

#[test]
fn downsampling_keeps_first_last_min_max_per_bucket() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let run = db.create_run("e", "r").unwrap();
    let values: Vec<f64> = (0..1000).map(|i| ((i * 37) % 101) as f64).collect();
    db.log_list(run, "v", &values).unwrap();
    db.flush().unwrap();
    let buckets = db.downsample(run, "v", .., 10).unwrap();
    assert_eq!(buckets.len(), 10);
    for (b, bucket) in buckets.iter().enumerate() {
        let slice = &values[b * 100..(b + 1) * 100];
        assert_eq!(
            (bucket.start_step, bucket.end_step, bucket.count),
            (b as i64 * 100, b as i64 * 100 + 99, 100)
        );
        assert_eq!((bucket.first, bucket.last), (slice[0], slice[99]));
        assert_eq!(
            bucket.min,
            slice.iter().copied().fold(f64::INFINITY, f64::min)
        );
        assert_eq!(
            bucket.max,
            slice.iter().copied().fold(f64::NEG_INFINITY, f64::max)
        );
    }
    let full = db.history(run, "v", ..).unwrap();
    assert_eq!(full.values, values, "the lossless history stays");
    let by_time = db.history_by_time(run, "v", i64::MIN..i64::MAX).unwrap();
    assert_eq!(by_time.len(), 1000);
    assert!(db.history_by_time(run, "v", ..0).unwrap().is_empty());
}

#[test]
fn tables_read_back_aligned_by_row() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let run = db.create_run("e", "r").unwrap();
    for angle in 0..4 {
        let a = f64::from(angle);
        db.log_row(run, "trig", &[("angle", a), ("cos", a.cos())])
            .unwrap();
    }
    db.log_row(run, "trig", &[("sin", 0.5)]).unwrap();
    db.log_table(
        run,
        "trig",
        &[("angle", &[9.0, 10.0]), ("sin", &[0.1, 0.2])],
    )
    .unwrap();
    let table = db.table(run, "trig").unwrap();
    assert_eq!(table.rows, 7);
    let column = |name: &str| {
        table
            .columns
            .iter()
            .find(|c| c.0 == name)
            .unwrap()
            .1
            .clone()
    };
    assert_eq!(
        column("angle"),
        [
            Some(0.0),
            Some(1.0),
            Some(2.0),
            Some(3.0),
            None,
            Some(9.0),
            Some(10.0)
        ]
    );
    assert_eq!(
        column("sin"),
        [None, None, None, None, Some(0.5), Some(0.1), Some(0.2)]
    );
    assert_eq!(column("cos")[4], None);
    assert_eq!(
        table
            .columns
            .iter()
            .map(|c| c.0.as_str())
            .collect::<Vec<_>>(),
        ["angle", "cos", "sin"]
    );
    // Every read by name takes a column as TABLE/COLUMN, steps being rows.
    let sin = db.history(run, "trig/sin", ..).unwrap();
    assert_eq!(
        (sin.steps, sin.values),
        (vec![4, 5, 6], vec![0.5, 0.1, 0.2])
    );
    assert_eq!(db.latest(run, "trig/angle").unwrap().value, 10.0);
    assert_eq!(db.stats(run, "trig/cos").unwrap().count, 4);
    let all = db.get_metrics(run).unwrap();
    assert_eq!(
        all.keys().collect::<Vec<_>>(),
        ["trig/angle", "trig/cos", "trig/sin"]
    );
    assert_eq!(all["trig/angle"], [0.0, 1.0, 2.0, 3.0, 9.0, 10.0]);
    assert!(matches!(
        db.history(run, "trig/tan", ..),
        Err(runlog::Error::UnknownSeries { .. })
    ));
    assert!(matches!(
        db.history(run, "trig", ..),
        Err(runlog::Error::UnknownSeries { .. })
    ));
}

#[test]
fn runs_left_running_are_reported_and_can_be_marked_killed_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let alive = db.create_run("e", "alive").unwrap();
    let done = db.create_run("e", "done").unwrap();
    db.log(alive, "loss", 1.0).unwrap();
    db.complete_run(done).unwrap();
    let info = db.run(alive).unwrap();
    assert!(info.last_write_ms >= info.start_ms);
    drop(db);
    let db = open(dir.path());
    assert_eq!(
        db.run(alive).unwrap().status,
        RunStatus::Running,
        "reported as it was"
    );
    drop(db);
    let db = Db::builder(dir.path())
        .mark_running_on_open(RunStatus::Killed)
        .open()
        .unwrap();
    let info = db.run(alive).unwrap();
    assert_eq!(info.status, RunStatus::Killed);
    assert!(info.end_ms.is_some());
    assert_eq!(db.run(done).unwrap().status, RunStatus::Completed);
}

#[test]
fn deleted_runs_vanish_at_once_and_compaction_drops_their_points() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let keep = db.create_run("e", "keep").unwrap();
    let gone = db.create_run("e", "gone").unwrap();
    db.log_list(keep, "x", &[1.0; 500]).unwrap();
    db.log_list(gone, "x", &[2.0; 700]).unwrap();
    db.flush().unwrap();
    db.delete_run(gone).unwrap();
    assert!(db.run(gone).is_err());
    assert_eq!(db.runs(&RunFilter::default()).len(), 1);
    db.compact().unwrap();
    let files = db.segment_files();
    assert_eq!(files.len(), 1);
    let points: u64 = SegmentReader::open(&files[0].0)
        .unwrap()
        .series()
        .iter()
        .map(|s| s.stats.count)
        .sum();
    assert_eq!(points, 500, "only the kept run's points remain on disk");
    assert_eq!(db.history(keep, "x", ..).unwrap().len(), 500);
    let again = db.create_run("e", "gone").unwrap();
    assert_ne!(again, gone, "the name is free again, under a new id");
}

#[test]
fn a_read_only_handle_sees_new_data_after_refresh() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let run = db.create_run("e", "r").unwrap();
    db.log_list(run, "x", &[1.0; 3000]).unwrap();
    db.flush().unwrap();
    db.log_list(run, "x", &[2.0; 10]).unwrap();
    let reader = Db::open_read_only(dir.path()).unwrap();
    assert_eq!(reader.history(run, "x", ..).unwrap().len(), 3010);
    db.log_list(run, "x", &[3.0; 5]).unwrap();
    db.flush().unwrap();
    db.compact().unwrap();
    db.log(run, "x", 4.0).unwrap();
    assert_eq!(
        reader.history(run, "x", ..).unwrap().len(),
        3010,
        "a snapshot until refreshed"
    );
    reader.refresh().unwrap();
    assert_eq!(reader.history(run, "x", ..).unwrap().len(), 3016);
    assert_eq!(reader.latest(run, "x").unwrap().value, 4.0);
}

#[test]
fn batches_place_every_point_in_its_metric_whatever_the_order_of_names() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let run = db.create_run("exp", "wide").unwrap();
    // 300 metrics (more than a batch scans linearly), each step naming
    // them in a different order, in strings of their own.
    let names: Vec<String> = (0..300).map(|i| format!("layer{i}/grad_norm")).collect();
    for step in 0..4i64 {
        let mut order: Vec<usize> = (0..names.len()).collect();
        order.rotate_left(step as usize * 7);
        if step % 2 == 1 {
            order.reverse();
        }
        let owned: Vec<String> = order.iter().map(|&i| names[i].clone()).collect();
        let batch: Vec<(&str, i64, i64, f64)> = order
            .iter()
            .zip(&owned)
            .map(|(&i, name)| (name.as_str(), step, step, (i * 10) as f64 + step as f64))
            .collect();
        db.log_batch(run, &batch).unwrap();
    }
    // A batch that names one metric over and over, and others in between.
    db.log_batch(
        run,
        &[
            ("layer0/grad_norm", 4, 4, 0.5),
            ("layer1/grad_norm", 4, 4, 10.5),
            ("layer0/grad_norm", 5, 5, 0.25),
            ("layer0/grad_norm", 6, 6, 0.125),
            ("layer1/grad_norm", 5, 5, 10.25),
        ],
    )
    .unwrap();
    for (i, name) in names.iter().enumerate() {
        let history = db.history(run, name, ..).unwrap();
        let mut expected: Vec<f64> = (0..4).map(|s| (i * 10) as f64 + s as f64).collect();
        match i {
            0 => expected.extend([0.5, 0.25, 0.125]),
            1 => expected.extend([10.5, 10.25]),
            _ => {}
        }
        assert_eq!(history.values, expected, "{name}");
        assert_eq!(
            history.steps,
            (0..expected.len() as i64).collect::<Vec<_>>()
        );
    }
}
