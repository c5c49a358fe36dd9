//! `/api/2.0/mlflow/metrics/get-history`: a metric's points in step order,
//! all at once or paged by `max_results` and `page_token`.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::request::Req;
use crate::wire::{lenient_i64, run_id, value_json};
use crate::{AppState, blocking};

#[derive(Deserialize)]
pub struct History {
    #[serde(default)]
    run_id: String,
    #[serde(default)]
    run_uuid: String,
    #[serde(default)]
    metric_key: String,
    #[serde(default, deserialize_with = "lenient_i64")]
    max_results: Option<i64>,
    #[serde(default)]
    page_token: String,
}

/// `metrics/get-history`.
pub async fn get_history(
    State(app): State<AppState>,
    Req(req): Req<History>,
) -> ApiResult<Json<Value>> {
    let run = run_id(&req.run_id, &req.run_uuid)?;
    if req.metric_key.is_empty() {
        return Err(ApiError::invalid(
            "missing value for required parameter 'metric_key'",
        ));
    }
    let offset = crate::page_offset(&req.page_token)?;
    let limit = match req.max_results {
        Some(n) if n <= 0 => {
            return Err(ApiError::invalid(format!(
                "max_results {n} must be positive"
            )));
        }
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
        None => usize::MAX,
    };
    let key = req.metric_key.clone();
    let points = blocking(app, move |db| {
        db.run(run)?;
        match db.history(run, &key, ..) {
            Ok(points) => Ok(Some(points)),
            // MLflow answers an unknown metric with an empty history.
            Err(runlog::Error::UnknownSeries { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    })
    .await?;
    let Some(points) = points else {
        return Ok(Json(json!({"metrics": []})));
    };
    let end = offset.saturating_add(limit).min(points.len());
    let metrics: Vec<Value> = (offset.min(end)..end)
        .map(|i| {
            json!({
                "key": req.metric_key, "value": value_json(points.values[i]),
                "timestamp": points.timestamps[i], "step": points.steps[i],
            })
        })
        .collect();
    let mut out = json!({"metrics": metrics});
    if end < points.len() {
        out["next_page_token"] = json!(end.to_string());
    }
    Ok(Json(out))
}
