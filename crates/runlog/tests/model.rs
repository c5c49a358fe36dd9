//! Model-based test: random sequences of writes (metrics, tables,
//! artifacts, text logs, text series), flushes, compactions, clean reopens
//! and crash reopens (with a torn WAL tail) against a simple in-memory
//! model; every query answer must equal the model's.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use proptest::prelude::*;
use runlog::{Db, Durability, Error, RunFilter, RunId, RunStatus, SegmentOptions};

const METRICS: [&str; 4] = ["m0", "m1", "m2", "t0"];
const TABLES: [&str; 2] = ["t0", "t1"];
const COLUMNS: [&str; 3] = ["c0", "c1", "c2"];
const ARTIFACTS: [&str; 3] = ["a.txt", "images/x.png", "./model/w.bin"];
const STREAMS: [&str; 2] = ["stdout", "node-1/stderr"];
/// Text series names; `m0` and `t1` clash with a metric and a table.
const TEXTS: [&str; 3] = ["s0", "m0", "t1"];

/// Artifact contents: empty, short, compressible, and noise-like.
fn content(index: usize) -> Vec<u8> {
    match index {
        0 => Vec::new(),
        1 => b"hello".to_vec(),
        2 => "epoch 1 loss 0.5\n".repeat(40).into_bytes(),
        _ => (0..700u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect(),
    }
}

#[derive(Clone, Debug)]
enum Op {
    CreateRun(usize, usize),
    Log(usize, usize, f64),
    LogAt(usize, usize, i64, f64),
    LogBatch(usize, Vec<(usize, i64, f64)>),
    LogList(usize, usize, Vec<f64>),
    LogRow(usize, usize, Vec<(usize, f64)>),
    Status(usize, u8),
    Param(usize, usize, usize),
    Tag(usize, usize, usize),
    Delete(usize),
    PutArtifact(usize, usize, usize),
    DeleteArtifact(usize, usize),
    AppendLog(usize, usize, String),
    LogStr(usize, usize, Option<i64>, String),
    Flush,
    Compact,
    Reopen,
    CrashReopen(Vec<u8>),
}

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => any::<f32>().prop_map(f64::from),
        1 => Just(f64::NAN),
        1 => Just(-0.0),
        1 => Just(f64::INFINITY),
        1 => (0i64..3).prop_map(|i| i as f64),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let run = 0usize..4;
    prop_oneof![
        3 => (0usize..2, 0usize..4).prop_map(|(e, n)| Op::CreateRun(e, n)),
        6 => (run.clone(), 0usize..4, value()).prop_map(|(r, m, v)| Op::Log(r, m, v)),
        4 => (run.clone(), 0usize..4, -3i64..12, value()).prop_map(|(r, m, s, v)| Op::LogAt(r, m, s, v)),
        3 => (run.clone(), prop::collection::vec((0usize..4, -3i64..12, value()), 0..12)).prop_map(|(r, p)| Op::LogBatch(r, p)),
        2 => (run.clone(), 0usize..4, prop::collection::vec(value(), 0..5)).prop_map(|(r, m, v)| Op::LogList(r, m, v)),
        3 => (run.clone(), 0usize..2, prop::collection::btree_map(0usize..3, value(), 0..3))
            .prop_map(|(r, t, row)| Op::LogRow(r, t, row.into_iter().collect())),
        1 => (run.clone(), 0u8..4).prop_map(|(r, s)| Op::Status(r, s)),
        1 => (run.clone(), 0usize..3, 0usize..2).prop_map(|(r, k, v)| Op::Param(r, k, v)),
        1 => (run.clone(), 0usize..3, 0usize..2).prop_map(|(r, k, v)| Op::Tag(r, k, v)),
        1 => run.clone().prop_map(Op::Delete),
        2 => (run.clone(), 0usize..3, 0usize..4).prop_map(|(r, p, c)| Op::PutArtifact(r, p, c)),
        1 => (run.clone(), 0usize..3).prop_map(|(r, p)| Op::DeleteArtifact(r, p)),
        3 => (run.clone(), 0usize..2, "([a-z ]{0,6}\n?){0,4}").prop_map(|(r, s, t)| Op::AppendLog(r, s, t)),
        2 => (run, 0usize..3, prop::option::of(-3i64..12), "[a-zé]{0,5}").prop_map(|(r, n, s, v)| Op::LogStr(r, n, s, v)),
        1 => Just(Op::Flush),
        1 => Just(Op::Compact),
        1 => Just(Op::Reopen),
        1 => prop::collection::vec(any::<u8>(), 0..40).prop_map(Op::CrashReopen),
    ]
}

/// A table's columns: each column's (row, value) pairs in log order.
type ModelColumns = BTreeMap<String, Vec<(i64, f64)>>;

#[derive(Clone, Debug, Default)]
struct ModelRun {
    id: u64,
    experiment: String,
    name: String,
    deleted: bool,
    status: Option<RunStatus>,
    params: BTreeMap<String, String>,
    tags: BTreeMap<String, String>,
    /// Points in log order.
    metrics: BTreeMap<String, Vec<(i64, i64, f64)>>,
    /// Table -> (rows, column -> (row, value) in log order).
    tables: BTreeMap<String, (u64, ModelColumns)>,
    /// Artifact path -> content.
    artifacts: BTreeMap<String, Vec<u8>>,
    /// Log stream -> everything appended.
    logs: BTreeMap<String, String>,
    /// Text series -> (step, value) in log order.
    texts: BTreeMap<String, Vec<(i64, String)>>,
}

impl ModelRun {
    /// Whether `name` is taken by a numeric metric or a table.
    fn numeric(&self, name: &str) -> bool {
        self.metrics.contains_key(name) || self.tables.contains_key(name)
    }
}

/// The model's ordered history: stable sort by step keeps log order on ties.
fn ordered(points: &[(i64, i64, f64)]) -> Vec<(i64, i64, u64)> {
    let mut sorted: Vec<_> = points
        .iter()
        .map(|&(s, t, v)| (s, t, v.to_bits()))
        .collect();
    sorted.sort_by_key(|p| p.0);
    sorted
}

fn open(dir: &Path) -> Db {
    Db::builder(dir)
        .durability(Durability::Sync)
        .memtable_bytes(64 << 10)
        .segment_options(SegmentOptions {
            chunk_points: 4,
            ..SegmentOptions::default()
        })
        .open()
        .unwrap()
}

fn live(runs: &[ModelRun], index: usize) -> Option<&ModelRun> {
    runs.get(index).filter(|r| !r.deleted)
}

fn check(db: &Db, runs: &[ModelRun]) -> Result<(), TestCaseError> {
    for run in runs {
        let id = RunId(run.id);
        if run.deleted {
            prop_assert!(matches!(db.run(id), Err(Error::UnknownRun(_))));
            continue;
        }
        let info = db.run(id).unwrap();
        prop_assert_eq!(&info.experiment, &run.experiment);
        prop_assert_eq!(&info.name, &run.name);
        prop_assert_eq!(info.status, run.status.unwrap_or(RunStatus::Running));
        prop_assert_eq!(&info.params, &run.params);
        prop_assert_eq!(&info.tags, &run.tags);
        prop_assert_eq!(
            db.metric_names(id).unwrap(),
            run.metrics.keys().cloned().collect::<Vec<_>>()
        );
        let all = db.get_metrics(id).unwrap();
        for (name, points) in &run.metrics {
            let expected = ordered(points);
            let history = db.history(id, name, ..).unwrap();
            // Implicit-step points are timestamped with the wall clock, which
            // the model leaves as i64::MIN: compare only explicit timestamps.
            let got: Vec<_> = (0..history.len())
                .map(|i| {
                    let ts = if expected[i].1 == i64::MIN {
                        i64::MIN
                    } else {
                        history.timestamps[i]
                    };
                    (history.steps[i], ts, history.values[i].to_bits())
                })
                .collect();
            prop_assert_eq!(&got, &expected, "history of {}", name);
            let values: Vec<u64> = all[name].iter().map(|v| v.to_bits()).collect();
            prop_assert_eq!(values, expected.iter().map(|p| p.2).collect::<Vec<_>>());
            // Ranged reads, every field (implicit timestamps aside).
            let ranged = db.history(id, name, 2..=5).unwrap();
            let in_range: Vec<_> = expected.iter().filter(|p| (2..=5).contains(&p.0)).collect();
            prop_assert_eq!(ranged.len(), in_range.len());
            for (i, want) in in_range.iter().enumerate() {
                prop_assert_eq!(ranged.steps[i], want.0);
                prop_assert_eq!(ranged.values[i].to_bits(), want.2);
                if want.1 != i64::MIN {
                    prop_assert_eq!(ranged.timestamps[i], want.1);
                }
            }
            // latest: largest step, ties to the last logged.
            let latest = db.latest(id, name).unwrap();
            let last = *expected.last().unwrap();
            prop_assert_eq!((latest.step, latest.value.to_bits()), (last.0, last.2));
            if last.1 != i64::MIN {
                prop_assert_eq!(latest.timestamp_ms, last.1);
            }
            let stats = db.stats(id, name).unwrap();
            prop_assert_eq!(stats.count as usize, points.len());
            let numbers: Vec<f64> = points.iter().map(|p| p.2).filter(|v| !v.is_nan()).collect();
            match (
                numbers.iter().copied().min_by(f64::total_cmp),
                numbers.iter().copied().max_by(f64::total_cmp),
            ) {
                (Some(min), Some(max)) => {
                    prop_assert_eq!(stats.min.to_bits(), min.to_bits());
                    prop_assert_eq!(stats.max.to_bits(), max.to_bits());
                }
                // Every value NaN: so are min and max (the NaN rule).
                _ => prop_assert!(stats.min.is_nan() && stats.max.is_nan(), "{:?}", stats),
            }
            prop_assert_eq!(stats.first_value.to_bits(), expected[0].2);
            let buckets: Vec<_> = db
                .downsample(id, name, .., 3)
                .unwrap()
                .iter()
                .map(|b| {
                    (
                        b.start_step,
                        b.end_step,
                        b.count,
                        b.first.to_bits(),
                        b.last.to_bits(),
                        canonical(b.min),
                        canonical(b.max),
                    )
                })
                .collect();
            prop_assert_eq!(buckets, model_buckets(&expected, 3));
        }
        prop_assert_eq!(
            db.table_names(id).unwrap(),
            run.tables.keys().cloned().collect::<Vec<_>>()
        );
        for (table, (rows, columns)) in &run.tables {
            let got = db.table(id, table).unwrap();
            prop_assert_eq!(got.rows, *rows);
            let mut names: Vec<_> = got.columns.iter().map(|c| c.0.clone()).collect();
            names.sort();
            prop_assert_eq!(names, columns.keys().cloned().collect::<Vec<_>>());
            for (column, cells) in &got.columns {
                let mut expected = vec![None; *rows as usize];
                for &(row, value) in &columns[column] {
                    expected[row as usize] = Some(value.to_bits());
                }
                let cells: Vec<_> = cells.iter().map(|c| c.map(f64::to_bits)).collect();
                prop_assert_eq!(cells, expected);
            }
        }
    }
    check_contents(db, runs)?;
    let listed = db.runs(&RunFilter::default());
    prop_assert_eq!(listed.len(), runs.iter().filter(|r| !r.deleted).count());
    for summary in &listed {
        let run = &runs[summary.info.id.0 as usize];
        prop_assert_eq!(&summary.info.name, &run.name);
        prop_assert_eq!(summary.metrics.len(), run.metrics.len());
        let texts: Vec<(String, i64, String)> = summary
            .texts
            .iter()
            .map(|(name, p)| (name.clone(), p.step, p.value.clone()))
            .collect();
        let expected: Vec<(String, i64, String)> = run
            .texts
            .iter()
            .map(|(name, points)| {
                let mut sorted = points.clone();
                sorted.sort_by_key(|p| p.0);
                let (step, value) = sorted.pop().unwrap();
                (name.clone(), step, value)
            })
            .collect();
        prop_assert_eq!(texts, expected);
        // Each row's summary against the model: count, latest, first.
        for (name, stats) in &summary.metrics {
            let expected = ordered(&run.metrics[name.as_ref()]);
            prop_assert_eq!(stats.count as usize, expected.len());
            let last = expected.last().unwrap();
            prop_assert_eq!(
                (stats.last_step, stats.last_value.to_bits()),
                (last.0, last.2)
            );
            prop_assert_eq!(stats.first_value.to_bits(), expected[0].2);
        }
    }
    Ok(())
}

/// Artifacts, text logs and text series against the model.
fn check_contents(db: &Db, runs: &[ModelRun]) -> Result<(), TestCaseError> {
    for run in runs.iter().filter(|r| !r.deleted) {
        let id = RunId(run.id);
        let listed = db.artifacts(id, "").unwrap();
        let paths: Vec<_> = listed.iter().map(|a| a.path.clone()).collect();
        prop_assert_eq!(paths, run.artifacts.keys().cloned().collect::<Vec<_>>());
        for artifact in &listed {
            let want = &run.artifacts[&artifact.path];
            prop_assert_eq!(artifact.size, want.len() as u64);
            prop_assert_eq!(&db.read_artifact(id, &artifact.path).unwrap(), want);
        }
        let under_images = db.artifacts(id, "images/").unwrap().len();
        prop_assert_eq!(
            under_images,
            usize::from(run.artifacts.contains_key("images/x.png"))
        );
        let streams = db.log_streams(id).unwrap();
        let names: Vec<_> = streams.iter().map(|s| s.name.clone()).collect();
        prop_assert_eq!(names, run.logs.keys().cloned().collect::<Vec<_>>());
        for (name, text) in &run.logs {
            let bytes = db.log_bytes(id, name, 0, usize::MAX).unwrap();
            prop_assert_eq!(String::from_utf8(bytes).unwrap(), text.clone());
            let middle = db.log_bytes(id, name, 3, 5).unwrap();
            let want: Vec<u8> = text.bytes().skip(3).take(5).collect();
            prop_assert_eq!(middle, want);
            let lines: Vec<&str> = text.split_inclusive('\n').collect();
            for from in [0, 1, 3] {
                let read = db.log_lines(id, name, from, 2).unwrap();
                let whole: Vec<String> = lines
                    .iter()
                    .skip(from as usize)
                    .filter_map(|l| l.strip_suffix('\n'))
                    .take(2)
                    .map(str::to_string)
                    .collect();
                prop_assert_eq!(&read.lines, &whole, "lines from {}", from);
                let rest = lines
                    .iter()
                    .skip(from as usize + whole.len())
                    .collect::<Vec<_>>();
                let unterminated = match rest.as_slice() {
                    [last] if !last.ends_with('\n') && whole.len() < 2 => Some(last.to_string()),
                    _ => None,
                };
                prop_assert_eq!(read.unterminated, unterminated);
            }
        }
        prop_assert_eq!(
            db.text_series(id).unwrap(),
            run.texts.keys().cloned().collect::<Vec<_>>()
        );
        for (name, points) in &run.texts {
            let mut expected = points.clone();
            expected.sort_by_key(|p| p.0);
            let got: Vec<_> = db
                .text_history(id, name)
                .unwrap()
                .into_iter()
                .map(|p| (p.step, p.value))
                .collect();
            prop_assert_eq!(&got, &expected);
            let latest = db.text_latest(id, name).unwrap();
            prop_assert_eq!(
                (latest.step, latest.value),
                expected.last().cloned().unwrap()
            );
        }
    }
    Ok(())
}

/// A min or max's bits, any NaN as the one NaN (which NaN an all-NaN
/// bucket reports is not part of the contract).
fn canonical(value: f64) -> u64 {
    if value.is_nan() {
        f64::NAN.to_bits()
    } else {
        value.to_bits()
    }
}

/// Downsampling computed from the model alone: `buckets` equal step ranges
/// from the first step, each point's bucket by division, fields folded
/// point by point (min and max over non-NaN values, NaN if none).
fn model_buckets(
    points: &[(i64, i64, u64)],
    buckets: i128,
) -> Vec<(i64, i64, u64, u64, u64, u64, u64)> {
    let lo = i128::from(points[0].0);
    let span = i128::from(points[points.len() - 1].0) - lo + 1;
    let width = (span + buckets - 1) / buckets;
    let mut out: Vec<(i128, Vec<f64>)> = Vec::new();
    for &(step, _, bits) in points {
        let index = (i128::from(step) - lo) / width;
        match out.last_mut() {
            Some((at, values)) if *at == index => values.push(f64::from_bits(bits)),
            _ => out.push((index, vec![f64::from_bits(bits)])),
        }
    }
    out.into_iter()
        .map(|(index, values)| {
            let start = lo + index * width;
            let end = (start + width - 1).min(i128::from(i64::MAX));
            let numbers: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
            let min = numbers
                .iter()
                .copied()
                .min_by(f64::total_cmp)
                .unwrap_or(f64::NAN);
            let max = numbers
                .iter()
                .copied()
                .max_by(f64::total_cmp)
                .unwrap_or(f64::NAN);
            (
                start as i64,
                end as i64,
                values.len() as u64,
                values[0].to_bits(),
                values[values.len() - 1].to_bits(),
                canonical(min),
                canonical(max),
            )
        })
        .collect()
}

/// Appends `garbage` to the newest WAL file: a torn write of a record that
/// was never acknowledged.
fn tear_wal_tail(dir: &Path, garbage: &[u8]) {
    let mut files: Vec<_> = std::fs::read_dir(dir.join("wal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    if let Some(last) = files.last() {
        let mut file = std::fs::OpenOptions::new().append(true).open(last).unwrap();
        file.write_all(garbage).unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn every_answer_matches_the_model(ops in prop::collection::vec(op(), 1..80)) {
        // Two runs exist from the start, so most ops land on a live run.
        let ops = [Op::CreateRun(0, 0), Op::CreateRun(1, 1)].into_iter().chain(ops);
        let dir = tempfile::tempdir().unwrap();
        let mut db = open(dir.path());
        let mut runs: Vec<ModelRun> = Vec::new();
        for op in ops {
            match op {
                Op::CreateRun(e, n) => {
                    let (experiment, name) = (format!("exp{e}"), format!("run{n}"));
                    let result = db.create_run(&experiment, &name);
                    match runs.iter().find(|r| !r.deleted && r.experiment == experiment && r.name == name) {
                        Some(existing) => {
                            let refused = matches!(result, Err(Error::RunExists { existing: id, .. }) if id.0 == existing.id);
                            prop_assert!(refused, "{:?}", result);
                        }
                        None => {
                            prop_assert_eq!(result.unwrap(), RunId(runs.len() as u64));
                            runs.push(ModelRun { id: runs.len() as u64, experiment, name, ..ModelRun::default() });
                        }
                    }
                }
                Op::Log(r, m, v) => {
                    let result = db.log(RunId(r as u64), METRICS[m], v);
                    expect_metric_write(&mut runs, r, &[m], &[(m, None, v)], result.map(drop))?;
                }
                Op::LogAt(r, m, s, v) => {
                    let result = db.log_at(RunId(r as u64), METRICS[m], s, 1000 + s, v);
                    expect_metric_write(&mut runs, r, &[m], &[(m, Some(s), v)], result)?;
                }
                Op::LogBatch(r, points) => {
                    // Names in fresh strings: the batch must match them by
                    // content, not by address.
                    let names: Vec<String> = points.iter().map(|&(m, ..)| METRICS[m].to_string()).collect();
                    let batch: Vec<_> = points.iter().zip(&names).map(|(&(_, s, v), name)| (name.as_str(), s, 1000 + s, v)).collect();
                    let result = db.log_batch(RunId(r as u64), &batch);
                    let names: Vec<_> = points.iter().map(|p| p.0).collect();
                    let points: Vec<_> = points.iter().map(|&(m, s, v)| (m, Some(s), v)).collect();
                    expect_metric_write(&mut runs, r, &names, &points, result)?;
                }
                Op::LogList(r, m, values) => {
                    let result = db.log_list(RunId(r as u64), METRICS[m], &values);
                    let points: Vec<_> = values.iter().map(|&v| (m, None, v)).collect();
                    expect_metric_write(&mut runs, r, &[m], &points, result.map(drop))?;
                }
                Op::LogRow(r, t, row) => {
                    let cells: Vec<_> = row.iter().map(|&(c, v)| (COLUMNS[c], v)).collect();
                    let result = db.log_row(RunId(r as u64), TABLES[t], &cells);
                    let table = TABLES[t];
                    match live(&runs, r) {
                        None => prop_assert!(matches!(result, Err(Error::UnknownRun(_)))),
                        Some(model) if (model.metrics.contains_key(table) || model.texts.contains_key(table)) && !row.is_empty() => {
                            prop_assert!(matches!(result, Err(Error::KindConflict { .. })), "{:?}", result);
                        }
                        Some(_) => {
                            let row_index = result.unwrap();
                            let model = &mut runs[r];
                            if !row.is_empty() {
                                let (rows, columns) = model.tables.entry(table.to_string()).or_default();
                                prop_assert_eq!(row_index, *rows);
                                *rows += 1;
                                for (c, v) in row {
                                    columns.entry(COLUMNS[c].to_string()).or_default().push((row_index as i64, v));
                                }
                            }
                        }
                    }
                }
                Op::Status(r, s) => {
                    let status = [RunStatus::Running, RunStatus::Completed, RunStatus::Failed, RunStatus::Killed][s as usize];
                    let result = db.set_status(RunId(r as u64), status);
                    match live(&runs, r) {
                        None => prop_assert!(result.is_err()),
                        Some(_) => { result.unwrap(); runs[r].status = Some(status); }
                    }
                }
                Op::Param(r, k, v) => {
                    let (key, value) = (format!("p{k}"), format!("v{v}"));
                    let result = db.set_param(RunId(r as u64), &key, &value);
                    match live(&runs, r) {
                        None => prop_assert!(result.is_err()),
                        Some(model) => match model.params.get(&key) {
                            Some(old) if *old != value => {
                                let refused = matches!(result, Err(Error::ParamAlreadySet { .. }));
                                prop_assert!(refused, "{:?}", result);
                            }
                            _ => { result.unwrap(); runs[r].params.insert(key, value); }
                        },
                    }
                }
                Op::Tag(r, k, v) => {
                    let result = db.set_tag(RunId(r as u64), &format!("k{k}"), &format!("v{v}"));
                    match live(&runs, r) {
                        None => prop_assert!(result.is_err()),
                        Some(_) => { result.unwrap(); runs[r].tags.insert(format!("k{k}"), format!("v{v}")); }
                    }
                }
                Op::Delete(r) => {
                    let result = db.delete_run(RunId(r as u64));
                    match live(&runs, r) {
                        None => prop_assert!(result.is_err()),
                        Some(_) => { result.unwrap(); runs[r].deleted = true; }
                    }
                }
                Op::PutArtifact(r, p, c) => {
                    let bytes = content(c);
                    let result = db.put_artifact(RunId(r as u64), ARTIFACTS[p], &bytes);
                    match live(&runs, r) {
                        None => prop_assert!(matches!(result, Err(Error::UnknownRun(_)))),
                        Some(_) => {
                            let artifact = result.unwrap();
                            prop_assert_eq!(artifact.path.as_str(), ARTIFACTS[p].trim_start_matches("./"));
                            runs[r].artifacts.insert(artifact.path, bytes);
                        }
                    }
                }
                Op::DeleteArtifact(r, p) => {
                    let result = db.delete_artifact(RunId(r as u64), ARTIFACTS[p]);
                    let path = ARTIFACTS[p].trim_start_matches("./");
                    match live(&runs, r) {
                        None => prop_assert!(matches!(result, Err(Error::UnknownRun(_)))),
                        Some(model) if !model.artifacts.contains_key(path) => {
                            prop_assert!(matches!(result, Err(Error::UnknownSeries { what: "artifact", .. })), "{:?}", result);
                        }
                        Some(_) => {
                            result.unwrap();
                            runs[r].artifacts.remove(path);
                        }
                    }
                }
                Op::AppendLog(r, s, text) => {
                    let result = db.append_log(RunId(r as u64), STREAMS[s], &text);
                    match live(&runs, r) {
                        None => prop_assert!(matches!(result, Err(Error::UnknownRun(_)))),
                        Some(_) => {
                            let end = result.unwrap();
                            let model = &mut runs[r];
                            if !text.is_empty() || model.logs.contains_key(STREAMS[s]) {
                                let log = model.logs.entry(STREAMS[s].to_string()).or_default();
                                log.push_str(&text);
                                prop_assert_eq!(end, log.len() as u64);
                            }
                        }
                    }
                }
                Op::LogStr(r, n, step, value) => {
                    let id = RunId(r as u64);
                    let name = TEXTS[n];
                    let result = match step {
                        Some(step) => db.log_str_at(id, name, step, 1000 + step, &value).map(|()| step),
                        None => db.log_str(id, name, &value),
                    };
                    match live(&runs, r) {
                        None => prop_assert!(matches!(result, Err(Error::UnknownRun(_)))),
                        Some(model) if model.numeric(name) => {
                            prop_assert!(matches!(result, Err(Error::KindConflict { .. })), "{:?}", result);
                        }
                        Some(_) => {
                            let series = runs[r].texts.entry(name.to_string()).or_default();
                            let expected = step.unwrap_or_else(|| series.last().map_or(0, |p| p.0 + 1));
                            prop_assert_eq!(result.unwrap(), expected);
                            series.push((expected, value));
                        }
                    }
                }
                Op::Flush => db.flush().unwrap(),
                Op::Compact => db.compact().unwrap(),
                Op::Reopen => {
                    db.close().unwrap();
                    db = open(dir.path());
                }
                Op::CrashReopen(garbage) => {
                    drop(db);
                    tear_wal_tail(dir.path(), &garbage);
                    db = open(dir.path());
                }
            }
            check(&db, &runs)?;
        }
        let reader = Db::open_read_only(dir.path()).unwrap();
        check(&reader, &runs)?;
    }
}

/// Applies a metric write naming metrics `names` to the model, checking the
/// engine's answer: refused as a whole (unknown run, name clash) or applied
/// as a whole.
fn expect_metric_write(
    runs: &mut [ModelRun],
    r: usize,
    names: &[usize],
    points: &[(usize, Option<i64>, f64)],
    result: runlog::Result<()>,
) -> Result<(), TestCaseError> {
    let Some(model) = live(runs, r) else {
        if names.is_empty() {
            return Ok(());
        }
        prop_assert!(matches!(result, Err(Error::UnknownRun(_))), "{:?}", result);
        return Ok(());
    };
    if names
        .iter()
        .any(|&m| model.tables.contains_key(METRICS[m]) || model.texts.contains_key(METRICS[m]))
    {
        prop_assert!(
            matches!(result, Err(Error::KindConflict { .. })),
            "{:?}",
            result
        );
        return Ok(());
    }
    prop_assert!(result.is_ok(), "{:?}", result);
    let model = &mut runs[r];
    for &(m, step, value) in points {
        let series = model.metrics.entry(METRICS[m].to_string()).or_default();
        let (step, timestamp) = match step {
            Some(step) => (step, 1000 + step),
            None => (series.last().map_or(0, |p| p.0 + 1), i64::MIN),
        };
        series.push((step, timestamp, value));
    }
    Ok(())
}
