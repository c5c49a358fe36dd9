//! What the router tests share: a router over a fresh database, and one
//! request through it.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use runlog::Db;
use serde_json::Value;
use tower::ServiceExt;

/// The router over the database in `dir`, opened for writing.
#[allow(dead_code)] // view_api.rs keeps its own handle on the database
pub fn app(dir: &std::path::Path, token: Option<&str>) -> Router {
    let db = Arc::new(Db::open(dir).unwrap());
    runlog_server::router(db, token.map(String::from)).unwrap()
}

/// One request; its status and its body as JSON (or as a JSON string
/// when it is not JSON).
pub async fn call(app: &Router, method: &str, uri: &str, body: &str) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let value = serde_json::from_slice(&bytes)
        .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, value)
}
