//! `runlog-server`: an MLflow-compatible tracking server over the runlog
//! engine. The router is a library, so that tests (tower `oneshot`) and
//! other binaries can mount it; `main.rs` serves it.
//!
//! Point `MLFLOW_TRACKING_URI` at it and the `mlflow` client logs into
//! runlog: experiments, runs, params, tags, metrics (with steps and
//! timestamps, non-finite values included), run search, metric history,
//! and artifacts through the `mlflow-artifacts` proxy routes.
//!
//! At `/` it serves the web view (runs, charts, logs and artifacts), a
//! page built from `web/` and embedded in the binary, which reads the
//! JSON under `/runlog/api/`.

mod artifacts;
mod error;
mod experiments;
mod metrics;
mod request;
mod runs;
mod search;
mod view;
mod view_api;
mod wire;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use runlog::Db;

pub use error::{ApiError, ApiResult};

/// Bytes a JSON request may hold (a log-batch of 1,000 metrics takes
/// about 100 KB); artifact uploads stream and are not capped by it.
pub const MAX_REQUEST_BYTES: usize = 16 << 20;
/// MLflow's longest key (metric, param, tag), in characters.
pub const MAX_KEY_CHARS: usize = 250;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub db: Arc<Db>,
    /// The bearer token requests must carry, if any.
    pub token: Option<Arc<str>>,
}

/// The server's routes over `db`, requiring `token` as a bearer token if
/// given. Creates the experiment `Default` if the database has none.
pub fn router(db: Arc<Db>, token: Option<String>) -> runlog::Result<Router> {
    if db.find_experiment(wire::DEFAULT_EXPERIMENT).is_none() {
        db.create_experiment(wire::DEFAULT_EXPERIMENT)?;
    }
    let state = AppState {
        db,
        token: token.map(Arc::from),
    };
    let api = "/api/2.0/mlflow";
    let routes = Router::new()
        .route(
            &format!("{api}/experiments/create"),
            post(experiments::create),
        )
        .route(&format!("{api}/experiments/get"), get(experiments::get))
        .route(
            &format!("{api}/experiments/get-by-name"),
            get(experiments::get_by_name),
        )
        .route(
            &format!("{api}/experiments/search"),
            get(experiments::search).post(experiments::search),
        )
        .route(
            &format!("{api}/experiments/update"),
            post(experiments::update),
        )
        .route(
            &format!("{api}/experiments/delete"),
            post(experiments::delete),
        )
        .route(
            &format!("{api}/experiments/restore"),
            post(experiments::restore),
        )
        .route(
            &format!("{api}/experiments/set-experiment-tag"),
            post(experiments::set_tag),
        )
        .route(
            &format!("{api}/experiments/delete-experiment-tag"),
            post(experiments::delete_tag),
        )
        .route(&format!("{api}/runs/create"), post(runs::create))
        .route(&format!("{api}/runs/get"), get(runs::get))
        .route(&format!("{api}/runs/update"), post(runs::update))
        .route(&format!("{api}/runs/delete"), post(runs::delete))
        .route(&format!("{api}/runs/restore"), post(runs::restore))
        .route(&format!("{api}/runs/log-metric"), post(runs::log_metric))
        .route(&format!("{api}/runs/log-parameter"), post(runs::log_param))
        .route(&format!("{api}/runs/set-tag"), post(runs::set_tag))
        .route(&format!("{api}/runs/delete-tag"), post(runs::delete_tag))
        .route(&format!("{api}/runs/log-batch"), post(runs::log_batch))
        .route(&format!("{api}/runs/search"), post(search::search))
        .route(
            &format!("{api}/metrics/get-history"),
            get(metrics::get_history),
        )
        .route(
            &format!("{api}/metrics/get-history-bulk-interval"),
            get(metrics::get_history_bulk_interval),
        )
        // MLflow 3's client asks for logged models when it lists a run's
        // artifacts under a path; runlog keeps none, so the list is empty.
        .route(
            &format!("{api}/logged-models/search"),
            post(no_logged_models),
        )
        .route(
            "/api/3.0/mlflow/logged-models/search",
            post(no_logged_models),
        )
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES));
    let artifacts = Router::new()
        .route("/api/2.0/mlflow-artifacts/artifacts", get(artifacts::list))
        .route(
            "/api/2.0/mlflow-artifacts/artifacts/{*path}",
            get(artifacts::download)
                .put(artifacts::upload)
                .delete(artifacts::delete),
        )
        .layer(DefaultBodyLimit::disable());
    let view_api = Router::new()
        .route("/runlog/api/experiments", get(view_api::experiments))
        .route("/runlog/api/runs", get(view_api::runs))
        .route("/runlog/api/runs/{run}", get(view_api::run))
        .route("/runlog/api/runs/{run}/history", get(view_api::history))
        .route("/runlog/api/runs/{run}/logs", get(view_api::logs))
        .route("/runlog/api/runs/{run}/texts", get(view_api::texts));
    Ok(routes
        .merge(artifacts)
        .merge(view_api)
        .route_layer(middleware::from_fn_with_state(state.clone(), authorize))
        .route("/", get(view::index))
        .route("/app.js", get(view::script))
        .route("/app.css", get(view::style))
        .route("/health", get(|| async { "OK" }))
        .route("/version", get(|| async { env!("CARGO_PKG_VERSION") }))
        .fallback(|| async { ApiError::not_found("no such endpoint").into_response() })
        .with_state(state))
}

/// The logged models of a search: none (runlog keeps no logged models).
async fn no_logged_models() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({"models": []}))
}

/// Refuses a request without the bearer token, touching nothing.
async fn authorize(State(app): State<AppState>, request: Request, next: Next) -> Response {
    if let Some(token) = &app.token {
        let given = request
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if given != Some(token.as_ref()) {
            return ApiError::unauthenticated().into_response();
        }
    }
    next.run(request).await
}

/// Runs an engine call on the blocking pool (it may fsync or wait).
pub(crate) async fn blocking<T: Send + 'static>(
    app: AppState,
    call: impl FnOnce(&Db) -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(move || call(&app.db))
        .await
        .map_err(|e| ApiError::internal(format!("a handler task failed: {e}")))?
}

/// Where a page starts: a page token is the offset of its first item.
pub(crate) fn page_offset(token: &str) -> ApiResult<usize> {
    if token.is_empty() {
        return Ok(0);
    }
    token
        .parse()
        .map_err(|_| ApiError::invalid(format!("bad page_token {token:?}")))
}

/// MLflow's key rules: non-empty, at most 250 characters.
pub(crate) fn check_key(what: &str, key: &str) -> ApiResult<()> {
    if key.is_empty() {
        return Err(ApiError::invalid(format!("a {what} key must not be empty")));
    }
    let chars = key.chars().count();
    if chars > MAX_KEY_CHARS {
        return Err(ApiError::invalid(format!(
            "{what} key of {chars} characters: the limit is {MAX_KEY_CHARS}"
        )));
    }
    Ok(())
}

/// MLflow's value limits (6,000 characters for params, 8,000 for tags).
pub(crate) fn check_value(what: &str, key: &str, value: &str, limit: usize) -> ApiResult<()> {
    let chars = value.chars().count();
    if chars > limit {
        return Err(ApiError::invalid(format!(
            "{what} {key:?}: a value of {chars} characters; the limit is {limit}"
        )));
    }
    Ok(())
}
