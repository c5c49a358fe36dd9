//! MLflow's JSON, as its Python client (3.x) speaks it: snake_case fields,
//! int64 as numbers (strings accepted), enums by name, non-finite metric
//! values as "NaN", "Infinity" and "-Infinity", unknown fields ignored.

use runlog::{Db, Experiment, ExperimentId, RunId, RunInfo, RunStatus};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};

/// The experiment every MLflow server has from the start, with id "0".
pub const DEFAULT_EXPERIMENT: &str = "Default";

/// The lifecycle tag a soft-deleted run carries (MLflow's delete-run is
/// undone by restore-run; the engine keeps the run).
pub const DELETED_TAG: &str = "runlog.mlflow.deleted";

/// An experiment's MLflow id: "0" for Default, else the engine id + 1.
pub fn experiment_id(experiment: &Experiment) -> String {
    mlflow_id(experiment.id, &experiment.name)
}

fn mlflow_id(id: ExperimentId, name: &str) -> String {
    if name == DEFAULT_EXPERIMENT {
        "0".into()
    } else {
        (id.0 + 1).to_string()
    }
}

/// The experiment an MLflow id names.
pub fn find_experiment(db: &Db, id: &str) -> ApiResult<Experiment> {
    let missing = || ApiError::not_found(format!("no experiment with id {id:?}"));
    let engine = if id == "0" {
        db.find_experiment(DEFAULT_EXPERIMENT).ok_or_else(missing)?
    } else {
        let n: u64 = id.parse().map_err(|_| missing())?;
        ExperimentId(n.checked_sub(1).ok_or_else(missing)?)
    };
    db.experiment(engine).map_err(|_| missing())
}

/// The MLflow id of the experiment named `name`: a lookup by name, for
/// every row of a run list (`Db::experiment` would count its runs).
pub fn experiment_id_of(db: &Db, name: &str) -> String {
    db.find_experiment(name)
        .map_or_else(|| "0".into(), |id| mlflow_id(id, name))
}

/// An experiment as MLflow returns it.
pub fn experiment_json(experiment: &Experiment) -> Value {
    let id = experiment_id(experiment);
    json!({
        "experiment_id": id,
        "name": experiment.name,
        "artifact_location": format!("mlflow-artifacts:/{id}"),
        "lifecycle_stage": if experiment.deleted { "deleted" } else { "active" },
        "creation_time": experiment.created_ms,
        "last_update_time": experiment.created_ms,
        "tags": key_values(&experiment.tags),
    })
}

/// A map as MLflow's `[{"key", "value"}]`.
pub fn key_values(map: &std::collections::BTreeMap<String, String>) -> Vec<Value> {
    map.iter()
        .map(|(k, v)| json!({"key": k, "value": v}))
        .collect()
}

/// A run id from MLflow's `run_id` (or the older `run_uuid`).
pub fn run_id(run_id: &str, run_uuid: &str) -> ApiResult<RunId> {
    let text = if run_id.is_empty() { run_uuid } else { run_id };
    if text.is_empty() {
        return Err(ApiError::invalid("missing run_id"));
    }
    text.parse::<u64>()
        .map(RunId)
        .map_err(|_| ApiError::not_found(format!("no run with id {text:?}")))
}

/// MLflow's status name of a runlog status.
pub fn status_name(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Running => "RUNNING",
        RunStatus::Completed => "FINISHED",
        RunStatus::Failed => "FAILED",
        RunStatus::Killed => "KILLED",
    }
}

/// The runlog status of an MLflow status name.
pub fn status_of(name: &str) -> ApiResult<RunStatus> {
    match name {
        "RUNNING" | "SCHEDULED" => Ok(RunStatus::Running),
        "FINISHED" => Ok(RunStatus::Completed),
        "FAILED" => Ok(RunStatus::Failed),
        "KILLED" => Ok(RunStatus::Killed),
        other => Err(ApiError::invalid(format!("unknown run status {other:?}"))),
    }
}

/// A run's info as MLflow returns it.
pub fn run_info_json(db: &Db, info: &RunInfo) -> Value {
    let experiment = experiment_id_of(db, &info.experiment);
    let deleted = info.tags.contains_key(DELETED_TAG);
    json!({
        "run_id": info.id.0.to_string(),
        "run_uuid": info.id.0.to_string(),
        "run_name": info.name,
        "experiment_id": experiment,
        "user_id": info.tags.get("mlflow.user").cloned().unwrap_or_default(),
        "status": status_name(info.status),
        "start_time": info.start_ms,
        "end_time": info.end_ms,
        "artifact_uri": format!("mlflow-artifacts:/{experiment}/{}/artifacts", info.id.0),
        "lifecycle_stage": if deleted { "deleted" } else { "active" },
    })
}

/// A run as MLflow returns it: info, latest metrics, params, tags.
pub fn run_json(db: &Db, run: RunId) -> ApiResult<Value> {
    let info = db.run(run)?;
    let mut metrics = Vec::new();
    for name in db.metric_names(run)? {
        let latest = db.latest(run, &name)?;
        metrics.push(json!({
            "key": name, "value": value_json(latest.value),
            "timestamp": latest.timestamp_ms, "step": latest.step,
        }));
    }
    let tags: std::collections::BTreeMap<String, String> = info
        .tags
        .iter()
        .filter(|(k, _)| k.as_str() != DELETED_TAG)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(json!({
        "info": run_info_json(db, &info),
        "data": {"metrics": metrics, "params": key_values(&info.params), "tags": key_values(&tags)},
        "inputs": {},
    }))
}

/// A metric value: a number, or MLflow's spelling of a non-finite one.
pub fn value_json(value: f64) -> Value {
    match non_finite_name(value) {
        Some(name) => json!(name),
        None => json!(value),
    }
}

/// A metric value that serializes as [`value_json`] spells it, without
/// building a JSON tree (for answers of many values).
pub struct Float(pub f64);

impl Serialize for Float {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match non_finite_name(self.0) {
            Some(name) => s.serialize_str(name),
            None => s.serialize_f64(self.0),
        }
    }
}

/// MLflow's spelling of a non-finite value; `None` for a finite one.
fn non_finite_name(value: f64) -> Option<&'static str> {
    if value.is_nan() {
        Some("NaN")
    } else if value == f64::INFINITY {
        Some("Infinity")
    } else if value == f64::NEG_INFINITY {
        Some("-Infinity")
    } else {
        None
    }
}

/// A metric value from JSON.
pub fn value_of(key: &str, value: &Value) -> ApiResult<f64> {
    match value {
        Value::Number(n) => n
            .as_f64()
            .ok_or_else(|| ApiError::invalid(format!("metric {key:?}: value {n} is out of range"))),
        Value::String(s) => match s.as_str() {
            "NaN" => Ok(f64::NAN),
            "Infinity" | "inf" => Ok(f64::INFINITY),
            "-Infinity" | "-inf" => Ok(f64::NEG_INFINITY),
            other => other.parse().map_err(|_| {
                ApiError::invalid(format!("metric {key:?}: value {other:?} is not a number"))
            }),
        },
        other => Err(ApiError::invalid(format!(
            "metric {key:?}: value {other} is not a number"
        ))),
    }
}

/// An int64 field: a JSON number or a string of digits (proto JSON allows
/// both), absent as None.
pub fn lenient_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom(format!("{n} is not a 64-bit integer"))),
        Some(Value::String(s)) => s
            .parse()
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("{s:?} is not a 64-bit integer"))),
        Some(other) => Err(serde::de::Error::custom(format!(
            "{other} is not an integer"
        ))),
    }
}
