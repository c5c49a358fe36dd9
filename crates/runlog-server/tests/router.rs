//! The router without a socket (tower `oneshot`): junk gets a 4xx with
//! MLflow's error JSON, never a 5xx; limits; auth; artifact paths.

mod common;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{app, call};
use runlog::Db;
use serde_json::{Value, json};
use tower::ServiceExt;

async fn new_run(app: &Router) -> String {
    let (status, body) = call(
        app,
        "POST",
        "/api/2.0/mlflow/runs/create",
        r#"{"experiment_id": "0"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["run"]["info"]["run_id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn junk_gets_a_4xx_with_mlflows_error_json() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), None);
    let run = new_run(&app).await;
    let cases = [
        ("POST", "/api/2.0/mlflow/runs/log-batch", "{not json"),
        ("POST", "/api/2.0/mlflow/runs/log-batch", r#"{"run_id": 5}"#),
        (
            "POST",
            "/api/2.0/mlflow/runs/log-metric",
            &format!(r#"{{"run_id": "{run}", "key": "m", "value": "lots"}}"#),
        ),
        (
            "POST",
            "/api/2.0/mlflow/runs/log-metric",
            &format!(r#"{{"run_id": "{run}", "key": "m", "value": 1, "step": 1e999}}"#),
        ),
        (
            "POST",
            "/api/2.0/mlflow/runs/log-metric",
            &format!(r#"{{"run_id": "{run}", "key": "", "value": 1}}"#),
        ),
        (
            "POST",
            "/api/2.0/mlflow/runs/search",
            r#"{"filter": "metrics.loss <"}"#,
        ),
        (
            "POST",
            "/api/2.0/mlflow/runs/search",
            r#"{"filter": "bogus.x = 1"}"#,
        ),
        (
            "POST",
            "/api/2.0/mlflow/runs/search",
            r#"{"filter": "params.lr = 'unclosed"}"#,
        ),
        (
            "POST",
            "/api/2.0/mlflow/runs/update",
            &format!(r#"{{"run_id": "{run}", "status": "SLEEPING"}}"#),
        ),
        (
            "GET",
            "/api/2.0/mlflow/metrics/get-history?run_id=0&metric_key=m&max_results=-1",
            "",
        ),
        (
            "GET",
            "/api/2.0/mlflow/metrics/get-history?run_id=0&metric_key=m&page_token=zz",
            "",
        ),
        (
            "PUT",
            "/api/2.0/mlflow-artifacts/artifacts/0/0/artifacts/../../etc/passwd",
            "x",
        ),
        (
            "PUT",
            "/api/2.0/mlflow-artifacts/artifacts/0/0/artifacts//abs",
            "x",
        ),
        (
            "PUT",
            "/api/2.0/mlflow-artifacts/artifacts/0/0/elsewhere/x",
            "x",
        ),
    ];
    for (method, uri, body) in cases {
        let (status, answer) = call(&app, method, uri, body).await;
        assert!(
            status.is_client_error(),
            "{method} {uri} {body}: {status} {answer}"
        );
        assert!(
            answer["error_code"].is_string() && answer["message"].is_string(),
            "{uri}: {answer}"
        );
    }
    let (status, answer) = call(&app, "GET", "/api/2.0/mlflow/runs/get?run_id=12345", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(answer["error_code"], "RESOURCE_DOES_NOT_EXIST");
    let (status, _) = call(&app, "GET", "/api/2.0/mlflow/nothing-here", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn log_batch_keeps_mlflows_limits_and_writes_nothing_over_them() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), None);
    let run = new_run(&app).await;
    let metrics: Vec<Value> = (0..1001)
        .map(|i| json!({"key": "m", "value": 1.0, "timestamp": 1, "step": i}))
        .collect();
    let body = json!({"run_id": run, "metrics": metrics}).to_string();
    let (status, answer) = call(&app, "POST", "/api/2.0/mlflow/runs/log-batch", &body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["error_code"], "INVALID_PARAMETER_VALUE");
    let long = "k".repeat(251);
    let body = json!({"run_id": run, "params": [{"key": long, "value": "1"}]}).to_string();
    let (status, _) = call(&app, "POST", "/api/2.0/mlflow/runs/log-batch", &body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let body =
        json!({"run_id": run, "tags": [{"key": "t", "value": "v".repeat(8001)}]}).to_string();
    let (status, _) = call(&app, "POST", "/api/2.0/mlflow/runs/log-batch", &body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, got) = call(
        &app,
        "GET",
        &format!("/api/2.0/mlflow/runs/get?run_id={run}"),
        "",
    )
    .await;
    assert_eq!(got["run"]["data"]["metrics"], json!([]));
    assert_eq!(got["run"]["data"]["params"], json!([]));
    // Within the limits, with non-finite values as MLflow spells them.
    let body = json!({"run_id": run, "metrics": [
        {"key": "m", "value": "NaN", "timestamp": 5, "step": 0},
        {"key": "m", "value": "-Infinity", "timestamp": "6", "step": "1"},
        {"key": "m", "value": -0.0, "timestamp": 7, "step": 2},
    ]})
    .to_string();
    let (status, answer) = call(&app, "POST", "/api/2.0/mlflow/runs/log-batch", &body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (_, history) = call(
        &app,
        "GET",
        &format!("/api/2.0/mlflow/metrics/get-history?run_id={run}&metric_key=m&max_results=2"),
        "",
    )
    .await;
    assert_eq!(history["metrics"][0]["value"], "NaN");
    assert_eq!(history["metrics"][1]["value"], "-Infinity");
    let token = history["next_page_token"].as_str().expect("a next page");
    let (_, rest) = call(
        &app,
        "GET",
        &format!(
            "/api/2.0/mlflow/metrics/get-history?run_id={run}&metric_key=m&max_results=2&page_token={token}"
        ),
        "",
    )
    .await;
    assert_eq!(rest["metrics"].as_array().map(Vec::len), Some(1), "{rest}");
    assert_eq!(
        rest["metrics"][0]["value"].as_f64().map(f64::to_bits),
        Some((-0.0f64).to_bits())
    );
    assert!(rest.get("next_page_token").is_none());
}

#[tokio::test]
async fn without_the_token_nothing_is_touched() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), Some("s3cret"));
    let (status, answer) = call(
        &app,
        "POST",
        "/api/2.0/mlflow/experiments/create",
        r#"{"name": "x"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer["error_code"], "UNAUTHENTICATED");
    let request = Request::builder()
        .method("POST")
        .uri("/api/2.0/mlflow/experiments/create")
        .header("authorization", "Bearer s3cret")
        .body(Body::from(r#"{"name": "x"}"#))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let (status, _) = call(&app, "GET", "/health", "").await;
    assert_eq!(status, StatusCode::OK, "health needs no token");
    drop(app);
    let db = Db::open_read_only(dir.path()).unwrap();
    let names: Vec<String> = db.list_experiments().into_iter().map(|e| e.name).collect();
    assert_eq!(names, ["Default", "x"], "only the authorized create wrote");
}

#[tokio::test]
async fn experiments_round_trip_and_default_is_there_from_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), None);
    let (_, default) = call(
        &app,
        "GET",
        "/api/2.0/mlflow/experiments/get?experiment_id=0",
        "",
    )
    .await;
    assert_eq!(default["experiment"]["name"], "Default");
    let (_, created) = call(
        &app,
        "POST",
        "/api/2.0/mlflow/experiments/create",
        r#"{"name": "vision", "tags": [{"key": "k", "value": "v"}]}"#,
    )
    .await;
    let id = created["experiment_id"].as_str().unwrap().to_string();
    let (status, _) = call(
        &app,
        "POST",
        "/api/2.0/mlflow/experiments/create",
        r#"{"name": "vision"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, got) = call(
        &app,
        "GET",
        "/api/2.0/mlflow/experiments/get-by-name?experiment_name=vision",
        "",
    )
    .await;
    assert_eq!(got["experiment"]["experiment_id"], id.as_str());
    assert_eq!(
        got["experiment"]["tags"],
        json!([{"key": "k", "value": "v"}])
    );
    call(
        &app,
        "POST",
        "/api/2.0/mlflow/experiments/update",
        &json!({"experiment_id": id, "new_name": "vision-2"}).to_string(),
    )
    .await;
    call(
        &app,
        "POST",
        "/api/2.0/mlflow/experiments/delete",
        &json!({"experiment_id": id}).to_string(),
    )
    .await;
    let (_, active) = call(&app, "POST", "/api/2.0/mlflow/experiments/search", "{}").await;
    assert_eq!(active["experiments"].as_array().unwrap().len(), 1);
    let (_, deleted) = call(
        &app,
        "POST",
        "/api/2.0/mlflow/experiments/search",
        r#"{"view_type": "DELETED_ONLY"}"#,
    )
    .await;
    assert_eq!(deleted["experiments"][0]["name"], "vision-2");
    let (status, _) = call(
        &app,
        "POST",
        "/api/2.0/mlflow/runs/create",
        &json!({"experiment_id": id}).to_string(),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a deleted experiment takes no runs"
    );
}

#[tokio::test]
async fn experiment_tags_are_deleted_and_a_missing_one_is_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), None);
    let (_, created) = call(
        &app,
        "POST",
        "/api/2.0/mlflow/experiments/create",
        r#"{"name": "e", "tags": [{"key": "a", "value": "1"}, {"key": "b", "value": "2"}]}"#,
    )
    .await;
    let id = created["experiment_id"].as_str().unwrap().to_string();
    let delete = |key: &str| json!({"experiment_id": id, "key": key}).to_string();
    let uri = "/api/2.0/mlflow/experiments/delete-experiment-tag";
    let (status, _) = call(&app, "POST", uri, &delete("a")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, answer) = call(&app, "POST", uri, &delete("a")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    let (_, got) = call(
        &app,
        "GET",
        &format!("/api/2.0/mlflow/experiments/get?experiment_id={id}"),
        "",
    )
    .await;
    assert_eq!(
        got["experiment"]["tags"],
        json!([{"key": "b", "value": "2"}])
    );
}

#[tokio::test]
async fn bulk_interval_samples_each_run_and_keeps_its_ends() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), None);
    let (long, short) = (new_run(&app).await, new_run(&app).await);
    for (run, steps) in [(&long, 0..5_000i64), (&short, 0..40)] {
        for chunk in steps.collect::<Vec<_>>().chunks(1000) {
            let metrics: Vec<Value> = chunk
                .iter()
                .map(|&s| json!({"key": "loss", "value": s as f64 * 0.5, "timestamp": 1000 + s, "step": s}))
                .collect();
            let body = json!({"run_id": run, "metrics": metrics}).to_string();
            let (status, answer) =
                call(&app, "POST", "/api/2.0/mlflow/runs/log-batch", &body).await;
            assert_eq!(status, StatusCode::OK, "{answer}");
        }
    }
    let base = "/api/2.0/mlflow/metrics/get-history-bulk-interval?metric_key=loss";
    let (status, answer) = call(
        &app,
        "GET",
        &format!("{base}&run_ids={long}&run_ids={short}&max_results=100"),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let points = answer["metrics"].as_array().unwrap();
    let of = |run: &str| -> Vec<i64> {
        points
            .iter()
            .filter(|p| p["run_id"] == run)
            .map(|p| p["step"].as_i64().unwrap())
            .collect()
    };
    let (long_steps, short_steps) = (of(&long), of(&short));
    assert!(
        long_steps.len() <= 104 && long_steps.len() >= 100,
        "{}",
        long_steps.len()
    );
    assert_eq!((long_steps[0], *long_steps.last().unwrap()), (0, 4_999));
    assert!(
        long_steps.contains(&39),
        "the short run's last step is sampled"
    );
    assert!(short_steps.len() <= 40 && short_steps.contains(&39));
    for p in points {
        let step = p["step"].as_i64().unwrap();
        assert_eq!(p["value"].as_f64().unwrap(), step as f64 * 0.5);
        assert_eq!(p["timestamp"].as_i64().unwrap(), 1000 + step);
    }
    // A window: every step inside it, at most max_results (+ the ends).
    let (_, window) = call(
        &app,
        "GET",
        &format!("{base}&run_ids={long}&start_step=100&end_step=120&max_results=2500"),
        "",
    )
    .await;
    let steps: Vec<i64> = window["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["step"].as_i64().unwrap())
        .collect();
    assert_eq!(steps, (100..=120).collect::<Vec<_>>());
    for bad in [
        format!("{base}&run_ids={long}&start_step=5"),
        format!("{base}&run_ids={long}&start_step=9&end_step=5"),
        format!("{base}&run_ids={long}&max_results=2501"),
        format!("{base}&run_ids={long}&max_results=0"),
        base.to_string(),
        format!("{base}&run_ids=999"),
    ] {
        let (status, answer) = call(&app, "GET", &bad, "").await;
        assert!(status.is_client_error(), "{bad}: {status} {answer}");
    }
    let many: String = (0..101).map(|i| format!("&run_ids={i}")).collect();
    let (status, _) = call(&app, "GET", &format!("{base}{many}"), "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// Routes that take a body or a query, for the junk property.
const ROUTES: [(&str, &str); 14] = [
    ("POST", "/api/2.0/mlflow/experiments/create"),
    ("POST", "/api/2.0/mlflow/experiments/search"),
    ("POST", "/api/2.0/mlflow/experiments/update"),
    ("POST", "/api/2.0/mlflow/runs/create"),
    ("POST", "/api/2.0/mlflow/runs/update"),
    ("POST", "/api/2.0/mlflow/runs/log-metric"),
    ("POST", "/api/2.0/mlflow/runs/log-batch"),
    ("POST", "/api/2.0/mlflow/runs/search"),
    ("POST", "/api/2.0/mlflow/runs/set-tag"),
    ("GET", "/api/2.0/mlflow/metrics/get-history"),
    ("GET", "/api/2.0/mlflow/metrics/get-history-bulk-interval"),
    ("POST", "/api/2.0/mlflow/experiments/delete-experiment-tag"),
    ("GET", "/api/2.0/mlflow/runs/get"),
    ("PUT", "/api/2.0/mlflow-artifacts/artifacts/0/0/artifacts/x"),
];

fn junk() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    prop_oneof![
        any::<Vec<u8>>().prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        // JSON-shaped: the fields the routes read, with values of any type.
        (
            prop::sample::select(vec![
                "run_id",
                "experiment_id",
                "key",
                "value",
                "step",
                "timestamp",
                "metrics",
                "filter",
                "order_by",
                "max_results",
                "page_token",
                "name",
                "status",
                "run_ids",
                "metric_key",
                "start_step",
                "end_step"
            ]),
            prop_oneof![
                Just("null".to_string()),
                Just("1e999".to_string()),
                Just("-9223372036854775809".to_string()),
                Just("[{\"key\": 1}]".to_string()),
                Just("{\"a\": []}".to_string()),
                "\"[a-z%_' ]{0,12}\"".prop_map(String::from),
                any::<i64>().prop_map(|n| n.to_string()),
            ],
        )
            .prop_map(|(k, v)| format!("{{\"{k}\": {v}, \"run_id\": \"0\"}}")),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

    #[test]
    fn junk_never_gets_a_5xx(route in 0..ROUTES.len(), body in junk()) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let app = app(dir.path(), None);
        let (method, path) = ROUTES[route];
        let uri = if method == "GET" {
            format!("{path}?{}", body.replace(['{', '}', '"', ':', ','], "&"))
        } else {
            path.to_string()
        };
        let request = Request::builder().method(method).uri(uri.as_str()).body(Body::from(body.clone()));
        let Ok(request) = request else { return Ok(()) }; // not a URI at all
        let status = runtime.block_on(async { app.clone().oneshot(request).await.unwrap().status() });
        proptest::prop_assert!(!status.is_server_error(), "{} {}: {}", method, uri, status);
    }
}
