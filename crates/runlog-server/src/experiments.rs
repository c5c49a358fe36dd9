//! `/api/2.0/mlflow/experiments/*`.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::request::Req;
use crate::wire::{experiment_id, experiment_json, find_experiment, lenient_i64};
use crate::{AppState, blocking, check_key};

/// A key and a value, as MLflow sends tags.
#[derive(Debug, Default, Deserialize)]
pub struct KeyValue {
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub value: String,
}

#[derive(Deserialize)]
pub struct Create {
    #[serde(default)]
    name: String,
    #[serde(default)]
    tags: Vec<KeyValue>,
}

/// `experiments/create`.
pub async fn create(State(app): State<AppState>, Req(req): Req<Create>) -> ApiResult<Json<Value>> {
    if req.name.is_empty() {
        return Err(ApiError::invalid(
            "missing value for required parameter 'name'",
        ));
    }
    for tag in &req.tags {
        check_key("tag", &tag.key)?;
    }
    let id = blocking(app, move |db| {
        let id = db.create_experiment(&req.name)?;
        for tag in &req.tags {
            db.set_experiment_tag(id, &tag.key, &tag.value)?;
        }
        Ok(experiment_id(&db.experiment(id)?))
    })
    .await?;
    Ok(Json(json!({"experiment_id": id})))
}

#[derive(Deserialize)]
pub struct ById {
    #[serde(default)]
    experiment_id: String,
}

/// `experiments/get`.
pub async fn get(State(app): State<AppState>, Req(req): Req<ById>) -> ApiResult<Json<Value>> {
    let experiment = find_experiment(&app.db, &req.experiment_id)?;
    Ok(Json(json!({"experiment": experiment_json(&experiment)})))
}

#[derive(Deserialize)]
pub struct ByName {
    #[serde(default)]
    experiment_name: String,
}

/// `experiments/get-by-name`.
pub async fn get_by_name(
    State(app): State<AppState>,
    Req(req): Req<ByName>,
) -> ApiResult<Json<Value>> {
    let found = app
        .db
        .find_experiment(&req.experiment_name)
        .and_then(|id| app.db.experiment(id).ok())
        .ok_or_else(|| {
            ApiError::not_found(format!("no experiment named {:?}", req.experiment_name))
        })?;
    Ok(Json(json!({"experiment": experiment_json(&found)})))
}

#[derive(Deserialize)]
pub struct Search {
    #[serde(default, deserialize_with = "lenient_i64")]
    max_results: Option<i64>,
    #[serde(default)]
    page_token: String,
    #[serde(default)]
    view_type: Value,
    #[serde(default)]
    filter: String,
}

/// `experiments/search`: by view type (active, deleted, all), a name
/// filter (`name = '...'` or `name LIKE '...'`), paged.
pub async fn search(State(app): State<AppState>, Req(req): Req<Search>) -> ApiResult<Json<Value>> {
    let view = match &req.view_type {
        Value::String(s) => s.as_str(),
        Value::Number(n) if n.as_u64() == Some(2) => "DELETED_ONLY",
        Value::Number(n) if n.as_u64() == Some(3) => "ALL",
        _ => "ACTIVE_ONLY",
    };
    let name_filter = crate::search::NameFilter::parse(&req.filter)?;
    let mut found: Vec<_> = app
        .db
        .list_experiments()
        .into_iter()
        .filter(|e| match view {
            "DELETED_ONLY" | "2" => e.deleted,
            "ALL" | "3" => true,
            _ => !e.deleted,
        })
        .filter(|e| name_filter.accepts(&e.name))
        .collect();
    found.sort_by_key(|e| std::cmp::Reverse(e.created_ms));
    let offset = crate::page_offset(&req.page_token)?;
    let limit = usize::try_from(req.max_results.unwrap_or(1000).clamp(1, 50_000)).unwrap_or(1000);
    let page: Vec<Value> = found
        .iter()
        .skip(offset)
        .take(limit)
        .map(experiment_json)
        .collect();
    let mut out = json!({"experiments": page});
    if offset + limit < found.len() {
        out["next_page_token"] = json!((offset + limit).to_string());
    }
    Ok(Json(out))
}

#[derive(Deserialize)]
pub struct Update {
    #[serde(default)]
    experiment_id: String,
    #[serde(default)]
    new_name: String,
}

/// `experiments/update` (rename).
pub async fn update(State(app): State<AppState>, Req(req): Req<Update>) -> ApiResult<Json<Value>> {
    let experiment = find_experiment(&app.db, &req.experiment_id)?;
    if req.new_name.is_empty() {
        return Err(ApiError::invalid(
            "missing value for required parameter 'new_name'",
        ));
    }
    blocking(app, move |db| {
        Ok(db.rename_experiment(experiment.id, &req.new_name)?)
    })
    .await?;
    Ok(Json(json!({})))
}

/// `experiments/delete`.
pub async fn delete(State(app): State<AppState>, Req(req): Req<ById>) -> ApiResult<Json<Value>> {
    set_deleted(app, &req.experiment_id, true).await
}

/// `experiments/restore`.
pub async fn restore(State(app): State<AppState>, Req(req): Req<ById>) -> ApiResult<Json<Value>> {
    set_deleted(app, &req.experiment_id, false).await
}

async fn set_deleted(app: AppState, id: &str, deleted: bool) -> ApiResult<Json<Value>> {
    let experiment = find_experiment(&app.db, id)?;
    if experiment.name == crate::wire::DEFAULT_EXPERIMENT && deleted {
        return Err(ApiError::invalid(
            "the Default experiment cannot be deleted",
        ));
    }
    blocking(app, move |db| {
        Ok(db.set_experiment_deleted(experiment.id, deleted)?)
    })
    .await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
pub struct SetTag {
    #[serde(default)]
    experiment_id: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    value: String,
}

/// `experiments/set-experiment-tag`.
pub async fn set_tag(State(app): State<AppState>, Req(req): Req<SetTag>) -> ApiResult<Json<Value>> {
    let experiment = find_experiment(&app.db, &req.experiment_id)?;
    check_key("tag", &req.key)?;
    blocking(app, move |db| {
        Ok(db.set_experiment_tag(experiment.id, &req.key, &req.value)?)
    })
    .await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
pub struct DeleteTag {
    #[serde(default)]
    experiment_id: String,
    #[serde(default)]
    key: String,
}

/// `experiments/delete-experiment-tag`: a tag the experiment does not have
/// is `RESOURCE_DOES_NOT_EXIST`, as in MLflow.
pub async fn delete_tag(
    State(app): State<AppState>,
    Req(req): Req<DeleteTag>,
) -> ApiResult<Json<Value>> {
    let experiment = find_experiment(&app.db, &req.experiment_id)?;
    if !experiment.tags.contains_key(&req.key) {
        return Err(ApiError::not_found(format!(
            "experiment {} has no tag {:?}",
            req.experiment_id, req.key
        )));
    }
    blocking(app, move |db| {
        Ok(db.delete_experiment_tag(experiment.id, &req.key)?)
    })
    .await?;
    Ok(Json(json!({})))
}
