//! `/api/2.0/mlflow/runs/*` (search is in `search`).

use axum::Json;
use axum::extract::State;
use runlog::{Db, Error, RunStatus};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::experiments::KeyValue;
use crate::request::Req;
use crate::wire::{
    DELETED_TAG, find_experiment, lenient_i64, run_id, run_info_json, run_json, status_of, value_of,
};
use crate::{AppState, blocking, check_key, check_value};

/// MLflow's caps on one log-batch call.
const MAX_METRICS_PER_BATCH: usize = 1000;
const MAX_PARAMS_TAGS_PER_BATCH: usize = 100;
/// MLflow's caps on values.
const MAX_PARAM_VALUE: usize = 6000;
const MAX_TAG_VALUE: usize = 8000;

#[derive(Deserialize)]
pub struct Create {
    #[serde(default)]
    experiment_id: String,
    #[serde(default, deserialize_with = "lenient_i64")]
    start_time: Option<i64>,
    #[serde(default)]
    tags: Vec<KeyValue>,
    #[serde(default)]
    run_name: String,
    #[serde(default)]
    user_id: String,
}

/// `runs/create`: a run in the experiment, named as asked (a name taken
/// in the experiment gets a suffix, as MLflow run names need not be
/// unique, runlog's must).
pub async fn create(State(app): State<AppState>, Req(req): Req<Create>) -> ApiResult<Json<Value>> {
    let experiment = find_experiment(
        &app.db,
        if req.experiment_id.is_empty() {
            "0"
        } else {
            &req.experiment_id
        },
    )?;
    if experiment.deleted {
        return Err(ApiError::invalid(format!(
            "experiment {:?} is deleted",
            experiment.name
        )));
    }
    for tag in &req.tags {
        check_key("tag", &tag.key)?;
        check_value("tag", &tag.key, &tag.value, MAX_TAG_VALUE)?;
    }
    let run = blocking(app, move |db| {
        let base = match req.run_name.as_str() {
            "" => req
                .tags
                .iter()
                .find(|t| t.key == "mlflow.runName")
                .map_or_else(|| format!("run-{}", runlog_now()), |t| t.value.clone()),
            name => name.to_string(),
        };
        let mut name = base.clone();
        let start = req.start_time.unwrap_or_else(runlog_now);
        let run = loop {
            match db.create_run_at(&experiment.name, &name, start) {
                Err(Error::RunExists { .. }) => {
                    name = format!("{base}-{}", runlog_now() % 1_000_000);
                }
                other => break other?,
            }
        };
        db.set_tag(run, "mlflow.runName", &name)?;
        if !req.user_id.is_empty() {
            db.set_tag(run, "mlflow.user", &req.user_id)?;
        }
        for tag in &req.tags {
            if tag.key != "mlflow.runName" {
                db.set_tag(run, &tag.key, &tag.value)?;
            }
        }
        run_json(db, run)
    })
    .await?;
    Ok(Json(json!({"run": run})))
}

fn runlog_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[derive(Deserialize)]
pub struct ById {
    #[serde(default)]
    run_id: String,
    #[serde(default)]
    run_uuid: String,
}

/// `runs/get`.
pub async fn get(State(app): State<AppState>, Req(req): Req<ById>) -> ApiResult<Json<Value>> {
    let run = run_id(&req.run_id, &req.run_uuid)?;
    Ok(Json(json!({"run": run_json(&app.db, run)?})))
}

#[derive(Deserialize)]
pub struct Update {
    #[serde(default)]
    run_id: String,
    #[serde(default)]
    run_uuid: String,
    #[serde(default)]
    status: String,
    #[serde(default, deserialize_with = "lenient_i64")]
    end_time: Option<i64>,
    #[serde(default)]
    run_name: String,
}

/// `runs/update`: status and end time (and the name, as the tag
/// `mlflow.runName`: runlog names runs once).
pub async fn update(State(app): State<AppState>, Req(req): Req<Update>) -> ApiResult<Json<Value>> {
    let run = run_id(&req.run_id, &req.run_uuid)?;
    let status = if req.status.is_empty() {
        None
    } else {
        Some(status_of(&req.status)?)
    };
    let info = blocking(app, move |db| {
        let info = db.run(run)?;
        if let Some(status) = status {
            let end = match (status, req.end_time) {
                (RunStatus::Running, _) => None,
                (_, Some(end)) => Some(end),
                (_, None) => Some(runlog_now()),
            };
            db.set_status_at(run, status, end)?;
        }
        if !req.run_name.is_empty() && req.run_name != info.name {
            db.set_tag(run, "mlflow.runName", &req.run_name)?;
        }
        let info = db.run(run)?;
        Ok(run_info_json(db, &info))
    })
    .await?;
    Ok(Json(json!({"run_info": info})))
}

/// `runs/delete`: a soft delete, which `runs/restore` undoes.
pub async fn delete(State(app): State<AppState>, Req(req): Req<ById>) -> ApiResult<Json<Value>> {
    let run = run_id(&req.run_id, &req.run_uuid)?;
    blocking(app, move |db| Ok(db.set_tag(run, DELETED_TAG, "true")?)).await?;
    Ok(Json(json!({})))
}

/// `runs/restore`.
pub async fn restore(State(app): State<AppState>, Req(req): Req<ById>) -> ApiResult<Json<Value>> {
    let run = run_id(&req.run_id, &req.run_uuid)?;
    blocking(app, move |db| {
        db.run(run)?;
        Ok(db.delete_tag(run, DELETED_TAG)?)
    })
    .await?;
    Ok(Json(json!({})))
}

/// One metric point as MLflow sends it.
#[derive(Debug, Deserialize)]
pub struct MetricPoint {
    #[serde(default)]
    key: String,
    #[serde(default)]
    value: Value,
    #[serde(default, deserialize_with = "lenient_i64")]
    timestamp: Option<i64>,
    #[serde(default, deserialize_with = "lenient_i64")]
    step: Option<i64>,
}

impl MetricPoint {
    fn point(&self) -> ApiResult<(i64, i64, f64)> {
        check_key("metric", &self.key)?;
        let value = value_of(&self.key, &self.value)?;
        Ok((
            self.step.unwrap_or(0),
            self.timestamp.unwrap_or_else(runlog_now),
            value,
        ))
    }
}

#[derive(Deserialize)]
pub struct LogMetric {
    #[serde(default)]
    run_id: String,
    #[serde(default)]
    run_uuid: String,
    #[serde(flatten)]
    point: MetricPoint,
}

/// `runs/log-metric`.
pub async fn log_metric(
    State(app): State<AppState>,
    Req(req): Req<LogMetric>,
) -> ApiResult<Json<Value>> {
    let run = run_id(&req.run_id, &req.run_uuid)?;
    let (step, ts, value) = req.point.point()?;
    blocking(app, move |db| {
        Ok(db.log_at(run, &req.point.key, step, ts, value)?)
    })
    .await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
pub struct LogParam {
    #[serde(default)]
    run_id: String,
    #[serde(default)]
    run_uuid: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    value: String,
}

/// `runs/log-parameter`.
pub async fn log_param(
    State(app): State<AppState>,
    Req(req): Req<LogParam>,
) -> ApiResult<Json<Value>> {
    key_value(app, req, "param", MAX_PARAM_VALUE).await
}

/// `runs/set-tag`.
pub async fn set_tag(
    State(app): State<AppState>,
    Req(req): Req<LogParam>,
) -> ApiResult<Json<Value>> {
    key_value(app, req, "tag", MAX_TAG_VALUE).await
}

/// Sets a param or a tag, within MLflow's limits.
async fn key_value(
    app: AppState,
    req: LogParam,
    what: &'static str,
    limit: usize,
) -> ApiResult<Json<Value>> {
    let run = run_id(&req.run_id, &req.run_uuid)?;
    check_key(what, &req.key)?;
    check_value(what, &req.key, &req.value, limit)?;
    blocking(app, move |db| {
        let set = if what == "param" {
            Db::set_param
        } else {
            Db::set_tag
        };
        Ok(set(db, run, &req.key, &req.value)?)
    })
    .await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
pub struct DeleteTag {
    #[serde(default)]
    run_id: String,
    #[serde(default)]
    run_uuid: String,
    #[serde(default)]
    key: String,
}

/// `runs/delete-tag`.
pub async fn delete_tag(
    State(app): State<AppState>,
    Req(req): Req<DeleteTag>,
) -> ApiResult<Json<Value>> {
    let run = run_id(&req.run_id, &req.run_uuid)?;
    blocking(app, move |db| {
        if !db.run(run)?.tags.contains_key(&req.key) {
            return Err(ApiError::not_found(format!(
                "run {} has no tag {:?}",
                run.0, req.key
            )));
        }
        Ok(db.delete_tag(run, &req.key)?)
    })
    .await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
pub struct LogBatch {
    #[serde(default)]
    run_id: String,
    #[serde(default)]
    metrics: Vec<MetricPoint>,
    #[serde(default)]
    params: Vec<KeyValue>,
    #[serde(default)]
    tags: Vec<KeyValue>,
}

/// `runs/log-batch`: the metrics in one atomic write; MLflow's limits.
pub async fn log_batch(
    State(app): State<AppState>,
    Req(req): Req<LogBatch>,
) -> ApiResult<Json<Value>> {
    let run = run_id(&req.run_id, "")?;
    if req.metrics.len() > MAX_METRICS_PER_BATCH {
        return Err(ApiError::invalid(format!(
            "a batch holds at most {MAX_METRICS_PER_BATCH} metrics, this one {}",
            req.metrics.len()
        )));
    }
    if req.params.len() + req.tags.len() > MAX_PARAMS_TAGS_PER_BATCH {
        return Err(ApiError::invalid(format!(
            "a batch holds at most {MAX_PARAMS_TAGS_PER_BATCH} params and tags, this one {}",
            req.params.len() + req.tags.len()
        )));
    }
    let points = req
        .metrics
        .iter()
        .map(MetricPoint::point)
        .collect::<ApiResult<Vec<_>>>()?;
    for p in &req.params {
        check_key("param", &p.key)?;
        check_value("param", &p.key, &p.value, MAX_PARAM_VALUE)?;
    }
    for t in &req.tags {
        check_key("tag", &t.key)?;
        check_value("tag", &t.key, &t.value, MAX_TAG_VALUE)?;
    }
    blocking(app, move |db| {
        db.run(run)?;
        for p in &req.params {
            db.set_param(run, &p.key, &p.value)?;
        }
        let batch: Vec<(&str, i64, i64, f64)> = req
            .metrics
            .iter()
            .zip(&points)
            .map(|(m, &(step, ts, value))| (m.key.as_str(), step, ts, value))
            .collect();
        db.log_batch(run, &batch)?;
        for t in &req.tags {
            db.set_tag(run, &t.key, &t.value)?;
        }
        Ok(())
    })
    .await?;
    Ok(Json(json!({})))
}
