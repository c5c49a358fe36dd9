//! Any database prints: runs with odd names, extreme steps and any float
//! (NaN payloads, infinities, subnormals, ±f64::MAX) go through every
//! command, as text and as JSON, without a panic and with a clean exit.

mod common;

use common::runlog_db;
use proptest::prelude::*;
use runlog::{Db, Durability};

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => any::<f64>(),
        1 => Just(f64::MAX),
        1 => Just(-f64::MAX),
        1 => Just(f64::NAN),
        1 => Just(-0.0),
        1 => Just(5e-324),
    ]
}

fn step() -> impl Strategy<Value = i64> {
    prop_oneof![4 => -1000i64..1000, 1 => Just(i64::MAX), 1 => Just(i64::MIN), 1 => any::<i64>()]
}

/// A run: experiment and name (`/` and spaces allowed), and its metrics.
type RunSpec = (String, String, Vec<(String, Vec<(i64, i64, f64)>)>);

fn run_spec() -> impl Strategy<Value = RunSpec> {
    (
        "[a-z/ ]{1,8}",
        "[a-zé_ -]{1,8}",
        prop::collection::vec(
            (
                "[a-z_]{1,6}",
                prop::collection::vec((step(), any::<i64>(), value()), 1..20),
            ),
            1..4,
        ),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(6))]

    #[test]
    fn every_command_prints_any_database(runs in prop::collection::vec(run_spec(), 1..4)) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::builder(dir.path()).durability(Durability::Buffered).open().unwrap();
        let mut ids = Vec::new();
        for (experiment, name, metrics) in &runs {
            let Ok(run) = db.create_run(experiment.trim(), name) else { continue };
            db.set_param(run, "lr", "3e-4").unwrap();
            // Contents with odd names and text: a log without a final
            // newline, a text series, a string cell, an artifact.
            db.append_log(run, name, &format!("{experiment}\n\t{name} ✓")).unwrap();
            db.log_str_at(run, &format!("{name} text"), i64::MIN, 0, experiment).unwrap();
            db.log_row_cells(run, "tbl", &[("c", runlog::Cell::Text(name)), ("n", runlog::Cell::Number(f64::NAN))]).unwrap();
            db.put_artifact(run, &format!("{}/f", name.trim().replace(' ', "_")), experiment.as_bytes()).ok();
            for (metric, points) in metrics {
                let batch: Vec<_> = points.iter().map(|&(s, t, v)| (metric.as_str(), s, t, v)).collect();
                db.log_batch(run, &batch).unwrap();
            }
            ids.push((run, metrics[0].0.clone()));
        }
        db.close().unwrap();
        let path = dir.path().to_str().unwrap();
        let out = dir.path().join("out");
        let out = out.to_str().unwrap();
        for (run, metric) in &ids {
            let run = run.to_string();
            let commands: Vec<Vec<&str>> = vec![
                vec!["runs", path, "--metric", metric],
                vec!["experiments", path],
                vec!["metrics", path, &run],
                vec!["history", path, &run, metric],
                vec!["history", path, &run, metric, "--buckets", "3"],
                vec!["latest", path, &run],
                vec!["params", path, &run],
                vec!["stats", path],
                vec!["artifacts", path, &run],
                vec!["logs", path, &run],
                vec!["tables", path, &run],
                vec!["tables", path, &run, "tbl"],
                vec!["wal", path],
                vec!["verify", path],
            ];
            for mut args in commands {
                for json in [false, true] {
                    if json {
                        args.push("--json");
                    }
                    let output = runlog_db(&args);
                    let stderr = String::from_utf8_lossy(&output.stderr);
                    prop_assert!(output.status.success(), "{:?}: {}", args, stderr);
                    prop_assert!(!stderr.contains("panicked"), "{:?}: {}", args, stderr);
                    if json {
                        for line in String::from_utf8(output.stdout).unwrap().lines() {
                            prop_assert!(serde_json::from_str::<serde_json::Value>(line).is_ok(), "{:?}: {}", args, line);
                        }
                    }
                }
            }
            for extra in [&["-o", &format!("{out}.svg")][..], &["--log-y", "--smooth", "0.6", "-o", &format!("{out}.png")]] {
                let mut args = vec!["plot", path, &run, metric];
                args.extend(extra);
                let output = runlog_db(&args);
                let stderr = String::from_utf8_lossy(&output.stderr);
                // A metric with nothing drawable still gives a chart that says so.
                prop_assert!(output.status.success(), "{:?}: {}", args, stderr);
            }
        }
    }
}
