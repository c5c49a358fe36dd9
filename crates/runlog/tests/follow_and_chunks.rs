//! Reading in windows or pages gives exactly the history, and a follower
//! sees every point logged after it started, in log order, across flushes.

use proptest::prelude::*;
use runlog::{Change, Columns, Db, Durability, HistoryCursor};

fn concat(chunks: impl Iterator<Item = runlog::Result<Columns>>) -> Columns {
    let mut all = Columns::default();
    for chunk in chunks {
        let chunk = chunk.unwrap();
        assert!(!chunk.is_empty(), "no empty windows");
        all.extend_from(&chunk, 0..chunk.len());
    }
    all
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn windows_concatenate_to_the_history(
        // Steps with gaps, repeats and points logged out of order.
        points in prop::collection::vec((-50i64..2000, any::<f64>()), 1..600),
        flush_at in 0usize..600,
        target in 1usize..100,
        from in -100i64..2100,
        len in 0i64..2500,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::builder(dir.path()).durability(Durability::Buffered).open().unwrap();
        let run = db.create_run("e", "r").unwrap();
        for (i, &(step, value)) in points.iter().enumerate() {
            db.log_at(run, "m", step, i as i64, value).unwrap();
            if i == flush_at {
                db.flush().unwrap();
            }
        }
        for range in [(i64::MIN, i64::MAX), (from, from.saturating_add(len))] {
            let expected = db.history(run, "m", range.0..=range.1).unwrap();
            let windows = db.history_chunks(run, "m", range.0..=range.1, target).unwrap();
            prop_assert_eq!(concat(windows), expected);
        }
    }

    #[test]
    fn pages_concatenate_to_the_history(
        // Few distinct steps, so that pages often end inside a step.
        points in prop::collection::vec((0i64..40, any::<f64>()), 1..400),
        flush_at in 0usize..400,
        limit in 1usize..50,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::builder(dir.path()).durability(Durability::Buffered).open().unwrap();
        let run = db.create_run("e", "r").unwrap();
        for (i, &(step, value)) in points.iter().enumerate() {
            db.log_at(run, "m", step, i as i64, value).unwrap();
            if i == flush_at {
                db.flush().unwrap();
            }
        }
        let mut pages = Vec::new();
        let mut cursor = Some(HistoryCursor::START);
        while let Some(from) = cursor {
            let (page, next) = db.history_page(run, "m", from, limit).unwrap();
            prop_assert!(page.len() == limit || next.is_none(), "only the last page is short");
            pages.push(Ok(page));
            cursor = next;
        }
        prop_assert_eq!(pages.len(), points.len().div_ceil(limit));
        prop_assert_eq!(concat(pages.into_iter()), db.history(run, "m", ..).unwrap());
    }
}

#[test]
fn a_follower_sees_points_after_its_start_in_log_order_across_flushes() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::builder(dir.path())
        .durability(Durability::Sync)
        .memtable_bytes(1 << 16)
        .open()
        .unwrap();
    let run = db.create_run("e", "r").unwrap();
    db.log_list(run, "loss", &[1.0, 2.0]).unwrap();
    let reader = Db::open_read_only(dir.path()).unwrap();
    let mut follower = reader.follow();
    let mut logged = Vec::new();
    for i in 0..3000i64 {
        let step = if i % 7 == 0 { i / 2 } else { i }; // steps that go back
        db.log_at(run, "loss", step, i, i as f64).unwrap();
        logged.push((step, i as f64));
        if i == 1500 {
            db.flush().unwrap();
        }
    }
    let other = db.create_run("e", "s").unwrap();
    db.log(other, "acc", 0.5).unwrap();
    let mut seen = Vec::new();
    let mut created = Vec::new();
    for change in follower.poll().unwrap() {
        match change {
            Change::Points {
                run: r,
                metric,
                points,
            } if r == run => {
                assert_eq!(&*metric, "loss");
                seen.extend(
                    points
                        .steps
                        .iter()
                        .copied()
                        .zip(points.values.iter().copied()),
                );
            }
            Change::Points { run: r, metric, .. } => assert_eq!((r, &*metric), (other, "acc")),
            Change::RunCreated { name, .. } => created.push(name),
            Change::Missed { calls } => panic!("{calls} calls missed"),
            _ => {}
        }
    }
    assert_eq!(seen, logged, "every point once, as logged");
    assert_eq!(created, ["s"]);
    assert!(follower.poll().unwrap().is_empty(), "nothing new");
}
