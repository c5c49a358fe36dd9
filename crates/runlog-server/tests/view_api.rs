//! The web view's JSON (`/runlog/api`), through the router against the
//! engine that answers it: run rows are the engine's summaries, history
//! buckets keep every spike and are exact where a bucket holds one
//! point, logs followed by their cursor skip nothing, junk is a 4xx.

mod common;

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use common::call;
use proptest::prelude::*;
use runlog::{Db, RunFilter, RunId};
use serde_json::{Value, json};

/// A database with a run that logged `points` of `loss` (a spike at step
/// 777, a NaN at step 5), lines of logs, a text series and an artifact;
/// and a second, failed run.
fn setup(dir: &std::path::Path, points: i64) -> (Arc<Db>, Router, RunId) {
    let db = Arc::new(Db::open(dir).unwrap());
    let run = db.create_run("vision", "resnet").unwrap();
    db.set_param(run, "lr", "0.1").unwrap();
    let batch: Vec<(&str, i64, i64, f64)> = (0..points)
        .map(|step| {
            let value = match step {
                777 => 1e6,
                5 => f64::NAN,
                _ => 1.0 / (step + 1) as f64,
            };
            ("loss", step, 1_700_000_000_000 + step * 10, value)
        })
        .collect();
    db.log_batch(run, &batch).unwrap();
    db.append_log(run, "stdout", "one\ntwo\nthree\npartial")
        .unwrap();
    db.log_str_at(run, "phase", 0, 1_700_000_000_000, "warmup")
        .unwrap();
    db.put_artifact(run, "notes/readme.txt", b"hello").unwrap();
    let other = db.create_run("vision", "vit").unwrap();
    db.log_batch(other, &[("acc", 0, 1, 0.5)]).unwrap();
    db.fail_run(other).unwrap();
    let app = runlog_server::router(Arc::clone(&db), None).unwrap();
    (db, app, run)
}

async fn get(app: &Router, uri: &str) -> Value {
    let (status, body) = call(app, "GET", uri, "").await;
    assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    body
}

#[tokio::test]
async fn run_rows_are_the_engines_summaries() {
    let dir = tempfile::tempdir().unwrap();
    let (db, app, run) = setup(dir.path(), 2_000);
    let rows = get(&app, "/runlog/api/runs?experiment=vision").await;
    let rows = rows["runs"].as_array().unwrap();
    assert_eq!(rows.len(), db.runs(&RunFilter::default()).len());
    let id = run.0.to_string();
    let row = rows.iter().find(|r| r["id"] == id.as_str()).unwrap();
    let stats = db.stats(run, "loss").unwrap();
    assert_eq!(row["metrics"]["loss"]["last"], json!(stats.last_value));
    assert_eq!(row["metrics"]["loss"]["max"], json!(1e6));
    assert_eq!(row["metrics"]["loss"]["count"], json!(2_000));
    assert_eq!(row["params"]["lr"], "0.1");
    assert_eq!(row["status"], "running");

    let failed = get(&app, "/runlog/api/runs?status=failed").await;
    let names: Vec<&Value> = failed["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["name"])
        .collect();
    assert_eq!(names, [&json!("vit")]);

    let experiments = get(&app, "/runlog/api/experiments").await;
    assert!(
        experiments["experiments"]
            .as_array()
            .unwrap()
            .contains(&json!({"name": "vision", "runs": 2}))
    );

    let detail = get(&app, &format!("/runlog/api/runs/{}", run.0)).await;
    assert_eq!(detail["texts"], json!(["phase"]));
    assert_eq!(detail["logs"][0]["name"], "stdout");
    assert_eq!(detail["artifacts"][0]["path"], "notes/readme.txt");
    assert_eq!(detail["artifacts"][0]["size"], 5);
}

#[tokio::test]
async fn a_run_deleted_through_mlflow_leaves_the_list() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, app, run) = setup(dir.path(), 10);
    let id = run.0.to_string();
    let rows = get(&app, "/runlog/api/runs").await;
    assert!(
        rows["runs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == id.as_str())
    );
    let body = json!({"run_id": id}).to_string();
    let (status, _) = call(&app, "POST", "/api/2.0/mlflow/runs/delete", &body).await;
    assert_eq!(status, StatusCode::OK);
    let rows = get(&app, "/runlog/api/runs").await;
    assert!(
        rows["runs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["id"] != id.as_str())
    );
}

#[tokio::test]
async fn history_buckets_keep_the_spike_and_are_exact_when_zoomed_in() {
    let dir = tempfile::tempdir().unwrap();
    let (db, app, run) = setup(dir.path(), 100_000);
    let uri = format!("/runlog/api/runs/{}/history?name=loss&buckets=500", run.0);
    let whole = get(&app, &uri).await;
    let steps = whole["steps"].as_array().unwrap();
    assert!(
        steps.len() <= 500 && steps.len() >= 400,
        "{} buckets",
        steps.len()
    );
    assert!(
        whole["max"].as_array().unwrap().contains(&json!(1e6)),
        "the spike is kept"
    );
    let counted: u64 = whole["counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_u64().unwrap())
        .sum();
    assert_eq!(counted, 100_000);
    assert_eq!(steps.last().unwrap(), 99_999);

    let zoom = format!(
        "/runlog/api/runs/{}/history?name=loss&buckets=2000&start=0&end=999",
        run.0
    );
    let zoom = get(&app, &zoom).await;
    let exact = db.history(run, "loss", 0..=999).unwrap();
    assert_eq!(zoom["steps"], json!(exact.steps));
    assert_eq!(zoom["timestamps"], json!(exact.timestamps));
    assert_eq!(zoom["values"][5], "NaN");
    assert_eq!(zoom["values"][777], json!(1e6));
    assert_eq!(zoom["values"][999], json!(exact.values[999]));
}

#[tokio::test]
async fn logs_followed_by_their_cursor_skip_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (db, app, run) = setup(dir.path(), 10);
    let page = |from: u64| {
        format!(
            "/runlog/api/runs/{}/logs?stream=stdout&from={from}&max=2",
            run.0
        )
    };
    let first = get(&app, &page(0)).await;
    assert_eq!(first["lines"], json!(["one", "two"]));
    assert_eq!(first["next"], 2);
    let second = get(&app, &page(2)).await;
    assert_eq!(second["lines"], json!(["three"]));
    assert_eq!(second["unterminated"], "partial");
    db.append_log(run, "stdout", " done\nfive\n").unwrap();
    let third = get(&app, &page(3)).await;
    assert_eq!(third["lines"], json!(["partial done", "five"]));
    assert_eq!(third["unterminated"], Value::Null);
    let texts = get(
        &app,
        &format!("/runlog/api/runs/{}/texts?name=phase", run.0),
    )
    .await;
    assert_eq!(texts["texts"][0]["value"], "warmup");
}

#[tokio::test]
async fn the_page_is_public_and_its_api_asks_for_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Db::open(dir.path()).unwrap());
    let app = runlog_server::router(db, Some("s3cret".into())).unwrap();
    for (path, kind) in [("/", "<!doctype html>"), ("/app.js", ""), ("/app.css", "")] {
        let (status, body) = call(&app, "GET", path, "").await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(body.as_str().unwrap().starts_with(kind), "{path}");
    }
    let (status, _) = call(&app, "GET", "/runlog/api/runs", "").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

fn junk_query() -> impl Strategy<Value = String> {
    const KEYS: [&str; 9] = [
        "name",
        "buckets",
        "start",
        "end",
        "stream",
        "from",
        "max",
        "status",
        "experiment",
    ];
    let key = prop_oneof![
        proptest::sample::select(&KEYS[..]).prop_map(String::from),
        "[a-z]{1,3}"
    ];
    const VALUES: [&str; 6] = [
        "0",
        "-1",
        "99999999999999999999",
        "loss",
        "stdout",
        "failed",
    ];
    let value = prop_oneof![
        proptest::sample::select(&VALUES[..]).prop_map(String::from),
        "[ -~]{0,6}"
    ];
    proptest::collection::vec((key, value), 0..5)
        .prop_map(|pairs| serde_urlencoded::to_string(pairs).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Whatever the query, the answer is a 2xx or a 4xx with an error
    /// message, never a 5xx.
    #[test]
    fn junk_queries_get_a_4xx_never_a_5xx(
        endpoint in prop_oneof![Just(""), Just("/history"), Just("/logs"), Just("/texts")],
        run in prop_oneof![Just("0".to_string()), Just("1".to_string()), Just("x".to_string()), Just("18446744073709551616".to_string())],
        query in junk_query(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (_db, app, _run) = setup(dir.path(), 1_000);
        let uri = format!("/runlog/api/runs/{run}{endpoint}?{query}");
        let (status, body) = runtime.block_on(call(&app, "GET", &uri, ""));
        prop_assert!(status.is_success() || status.is_client_error(), "{uri}: {status} {body}");
        if status.is_client_error() {
            prop_assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{uri}: {body}");
        }
    }
}
