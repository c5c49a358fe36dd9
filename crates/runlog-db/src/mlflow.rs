//! `import-mlflow`: runs from either store MLflow writes, exactly as MLflow
//! stored them.
//!
//! - The SQLite database (`mlflow.db`): tables `experiments`, `runs`,
//!   `metrics` (key, value, timestamp, run_uuid, step, is_nan), `params`,
//!   `tags`. `is_nan = 1` becomes NaN. MLflow's SQL store already turned
//!   infinities into the largest finite doubles and `-0.0` into `0.0` when
//!   it stored them; those values are imported as stored, not guessed back.
//! - The file store (`mlruns/<experiment>/<run>/metrics/<key>` with lines
//!   `timestamp value step`, keys with `/` as nested folders, `params/`,
//!   `tags/`, `meta.yaml`): values are parsed from their text, so NaN, inf
//!   and `-0.0` come over bit for bit.
//!
//! A run's artifacts come over as runlog artifacts under the same paths:
//! the file store's `<run>/artifacts/` folder, or the local folder that a
//! SQLite run's `artifact_uri` names (relative to the database file, as
//! MLflow resolves `./mlruns`). Artifacts at remote URIs (`s3://`,
//! `mlflow-artifacts:`) cannot be read from here, and are counted and
//! named, not silently dropped.
//!
//! Deleted experiments and runs are skipped. A run keeps its MLflow name
//! when that name is free in its experiment, else it is named
//! `<name>-<first 8 characters of the run id>`; the MLflow run id is kept as
//! the tag `mlflow.run_id` either way, and keys the run: importing the same
//! MLflow run again is refused, skipped or replaces it (`--existing`).
//! The runs appear all at once when the import ends, or not at all.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use runlog::RunStatus;

use crate::import_runs::{self, Source, SourceRun};
use crate::transfer::OnExisting;

/// A run read from MLflow.
#[derive(Debug, Default)]
struct MlflowRun {
    experiment: String,
    run_id: String,
    name: String,
    /// MLflow's status, as written there (checked before anything is
    /// written).
    status: Option<String>,
    start_ms: Option<i64>,
    end_ms: Option<i64>,
    params: Vec<(String, String)>,
    tags: Vec<(String, String)>,
    /// Metric key -> points `(step, timestamp, value)` in logged order.
    metrics: BTreeMap<String, Vec<(i64, i64, f64)>>,
    /// Where its artifacts are.
    artifacts: Artifacts,
}

/// Where an MLflow run's artifacts are.
#[derive(Debug, Default)]
enum Artifacts {
    /// None recorded.
    #[default]
    None,
    /// A local folder.
    Folder(PathBuf),
    /// A URI this import cannot read.
    Remote(String),
}

/// MLflow's `RunStatus` names (SQL store) and numbers (file store).
fn status(text: &str) -> Option<RunStatus> {
    match text.trim() {
        "FINISHED" | "3" => Some(RunStatus::Completed),
        "FAILED" | "4" => Some(RunStatus::Failed),
        "KILLED" | "5" => Some(RunStatus::Killed),
        "RUNNING" | "SCHEDULED" | "1" | "2" => Some(RunStatus::Running),
        _ => None,
    }
}

/// Brings the runs in `source` (an `mlflow.db` file or an `mlruns` folder)
/// into the database at `dir`.
pub fn import(dir: &Path, source: &Path, existing: OnExisting) -> Result<(), String> {
    let runs = if source.is_file() {
        read_sqlite(source)?
    } else if source.is_dir() {
        read_file_store(source)?
    } else {
        return Err(format!(
            "{} is neither an MLflow database nor an mlruns folder",
            source.display()
        ));
    };
    check_statuses(&runs)?;
    write(dir, runs, existing)
}

fn read_sqlite(path: &Path) -> Result<Vec<MlflowRun>, String> {
    let sql = |e: rusqlite::Error| format!("{}: {e}", path.display());
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(sql)?;
    let mut runs: BTreeMap<String, MlflowRun> = BTreeMap::new();
    let mut statement = conn
        .prepare(
            "SELECT r.run_uuid, r.name, r.status, r.start_time, r.end_time, e.name, r.artifact_uri \
             FROM runs r JOIN experiments e ON r.experiment_id = e.experiment_id \
             WHERE r.lifecycle_stage = 'active' AND e.lifecycle_stage = 'active'",
        )
        .map_err(sql)?;
    let rows = statement
        .query_map([], |row| {
            Ok(MlflowRun {
                run_id: row.get(0)?,
                name: row.get::<_, Option<String>>(1)?.unwrap_or_default(),
                status: row.get::<_, Option<String>>(2)?,
                start_ms: row.get(3)?,
                end_ms: row.get(4)?,
                experiment: row.get(5)?,
                artifacts: artifacts_at(path, row.get::<_, Option<String>>(6)?),
                ..MlflowRun::default()
            })
        })
        .map_err(sql)?;
    for run in rows {
        let run = run.map_err(sql)?;
        runs.insert(run.run_id.clone(), run);
    }
    for (table, is_param) in [("params", true), ("tags", false)] {
        let mut statement = conn
            .prepare(&format!(
                "SELECT run_uuid, key, value FROM {table} ORDER BY rowid"
            ))
            .map_err(sql)?;
        let rows = statement
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, Option<String>>(2)?,
                ))
            })
            .map_err(sql)?;
        for row in rows {
            let (run, key, value) = row.map_err(sql)?;
            if let Some(run) = runs.get_mut(&run) {
                let list = if is_param {
                    &mut run.params
                } else {
                    &mut run.tags
                };
                list.push((key, value.unwrap_or_default()));
            }
        }
    }
    let mut statement = conn
        .prepare("SELECT run_uuid, key, value, timestamp, step, is_nan FROM metrics ORDER BY rowid")
        .map_err(sql)?;
    let rows = statement
        .query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, f64>(2)?,
                row.get::<_, i64>(3)?,
                row.get::<_, Option<i64>>(4)?.unwrap_or(0),
                row.get::<_, Option<bool>>(5)?.unwrap_or(false),
            ))
        })
        .map_err(sql)?;
    for row in rows {
        let (run, key, value, timestamp, step, is_nan) = row.map_err(sql)?;
        if let Some(run) = runs.get_mut(&run) {
            let value = if is_nan { f64::NAN } else { value };
            run.metrics
                .entry(key)
                .or_default()
                .push((step, timestamp, value));
        }
    }
    Ok(runs.into_values().collect())
}

/// Where a SQLite run's `artifact_uri` points: a local folder (relative
/// paths resolved from the database file's folder), or a remote URI.
fn artifacts_at(database: &Path, uri: Option<String>) -> Artifacts {
    let Some(uri) = uri.filter(|u| !u.is_empty()) else {
        return Artifacts::None;
    };
    let local = match uri.strip_prefix("file://") {
        Some(path) => Some(path.to_string()),
        None if !uri.contains("://") && !uri.contains(":/") => Some(uri.clone()),
        None => None,
    };
    match local {
        Some(path) => {
            let path = Path::new(&path);
            let base = database.parent().unwrap_or(Path::new("."));
            Artifacts::Folder(if path.is_absolute() {
                path.to_path_buf()
            } else {
                base.join(path)
            })
        }
        None => Artifacts::Remote(uri),
    }
}

/// The files under `folder`, each with its `/`-separated path in it,
/// sorted; none if the folder does not exist.
fn artifact_files(folder: &Path) -> Result<Vec<(String, PathBuf)>, String> {
    if !folder.is_dir() {
        return Ok(Vec::new());
    }
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(folder).sort_by_file_name() {
        let entry = entry.map_err(|e| format!("{}: {e}", folder.display()))?;
        if !entry.file_type().is_file() {
            continue;
        }
        let relative = entry.path().strip_prefix(folder).expect("under the folder");
        let parts: Option<Vec<&str>> = relative.iter().map(|p| p.to_str()).collect();
        let path = parts
            .ok_or_else(|| {
                format!(
                    "{}: the name is not UTF-8; nothing imported",
                    entry.path().display()
                )
            })?
            .join("/");
        files.push((path, entry.path().to_path_buf()));
    }
    Ok(files)
}

/// The top-level `key: value` entries of an MLflow `meta.yaml`, each value
/// as its text (numbers and booleans as YAML spells them).
fn meta(path: &Path) -> Result<BTreeMap<String, String>, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let document: BTreeMap<String, serde_norway::Value> =
        serde_norway::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(document
        .into_iter()
        .filter_map(|(key, value)| {
            let text = match value {
                serde_norway::Value::String(s) => s,
                serde_norway::Value::Number(n) => n.to_string(),
                serde_norway::Value::Bool(b) => b.to_string(),
                _ => return None,
            };
            Some((key, text))
        })
        .collect())
}

/// Every file under `dir`, with its path relative to `dir` joined by `/`
/// (MLflow stores a key `a/b` as the folder `a` holding the file `b`).
fn keyed_files(dir: &Path) -> Result<Vec<(String, std::path::PathBuf)>, String> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(dir).min_depth(1).sort_by_file_name() {
        let entry = entry.map_err(|e| format!("{}: {e}", dir.display()))?;
        if !entry.file_type().is_file() {
            continue;
        }
        let relative = entry.path().strip_prefix(dir).unwrap_or(entry.path());
        let key: Vec<&str> = relative
            .components()
            .map(|c| {
                c.as_os_str().to_str().ok_or_else(|| {
                    format!("{}: the file name is not UTF-8", entry.path().display())
                })
            })
            .collect::<Result<_, _>>()?;
        out.push((key.join("/"), entry.into_path()));
    }
    Ok(out)
}

fn parse_number(text: &str) -> Option<f64> {
    match text.to_ascii_lowercase().as_str() {
        "nan" => Some(f64::NAN),
        "inf" | "infinity" => Some(f64::INFINITY),
        "-inf" | "-infinity" => Some(f64::NEG_INFINITY),
        _ => text.parse().ok(),
    }
}

/// Folders MLflow keeps beside experiments and runs, which hold none.
const NOT_RUNS: [&str; 5] = [".trash", "models", "tags", "datasets", "traces"];

/// The folders in `dir` that hold a `meta.yaml` (experiments in `mlruns`,
/// runs in an experiment), sorted; any other folder is named on standard
/// error as skipped, never dropped silently.
fn folders_with_meta(dir: &Path) -> Result<Vec<std::path::PathBuf>, String> {
    let mut folders = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
        if !path.is_dir() {
            continue;
        }
        if path.join("meta.yaml").is_file() {
            folders.push(path);
        } else if !path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| NOT_RUNS.contains(&n))
        {
            eprintln!(
                "runlog-db: skipped {}: it holds no meta.yaml",
                path.display()
            );
        }
    }
    folders.sort();
    Ok(folders)
}

/// A folder's name, which must be UTF-8 (a name is never guessed at).
fn folder_name(dir: &Path) -> Result<String, String> {
    dir.file_name()
        .and_then(|n| n.to_str())
        .map(str::to_string)
        .ok_or_else(|| {
            format!(
                "{}: the folder name is not UTF-8; nothing imported",
                dir.display()
            )
        })
}

/// Refuses, before anything is written, a run whose status MLflow does not
/// define (rather than guessing `running`).
fn check_statuses(runs: &[MlflowRun]) -> Result<(), String> {
    for run in runs {
        if let Some(text) = &run.status
            && status(text).is_none()
        {
            return Err(format!(
                "MLflow run {}: unknown status {text:?}; nothing imported",
                run.run_id
            ));
        }
    }
    Ok(())
}

/// Whether a `meta.yaml` marks its experiment or run deleted.
fn is_deleted(meta: &BTreeMap<String, String>) -> bool {
    meta.get("lifecycle_stage").is_some_and(|s| s == "deleted")
}

fn read_file_store(root: &Path) -> Result<Vec<MlflowRun>, String> {
    let mut runs = Vec::new();
    for experiment_dir in folders_with_meta(root)? {
        let experiment = meta(&experiment_dir.join("meta.yaml"))?;
        if is_deleted(&experiment) {
            continue;
        }
        let experiment_name = match experiment.get("name") {
            Some(name) => name.clone(),
            None => folder_name(&experiment_dir)?,
        };
        for run_dir in folders_with_meta(&experiment_dir)? {
            let run_meta = meta(&run_dir.join("meta.yaml"))?;
            if is_deleted(&run_meta) {
                continue;
            }
            let run_id = match run_meta.get("run_id").or(run_meta.get("run_uuid")) {
                Some(id) => id.clone(),
                None => folder_name(&run_dir)?,
            };
            let meta_path = run_dir.join("meta.yaml");
            let time = |key: &str| -> Result<Option<i64>, String> {
                run_meta
                    .get(key)
                    .map(|v| {
                        v.parse::<i64>().map_err(|_| {
                            format!(
                                "{}: {key} {v:?} is not a time in ms; nothing imported",
                                meta_path.display()
                            )
                        })
                    })
                    .transpose()
            };
            let mut run = MlflowRun {
                artifacts: Artifacts::Folder(run_dir.join("artifacts")),
                experiment: experiment_name.clone(),
                name: run_meta.get("run_name").cloned().unwrap_or_default(),
                status: run_meta.get("status").cloned(),
                start_ms: time("start_time")?,
                end_ms: time("end_time")?,
                run_id,
                ..MlflowRun::default()
            };
            for (folder, is_param) in [("params", true), ("tags", false)] {
                for (key, file) in keyed_files(&run_dir.join(folder))? {
                    let value = fs::read_to_string(&file)
                        .map_err(|e| format!("{}: {e}", file.display()))?;
                    let list = if is_param {
                        &mut run.params
                    } else {
                        &mut run.tags
                    };
                    list.push((key, value));
                }
            }
            if run.name.is_empty()
                && let Some((_, name)) = run.tags.iter().find(|(k, _)| k == "mlflow.runName")
            {
                run.name = name.clone();
            }
            for (key, file) in keyed_files(&run_dir.join("metrics"))? {
                let text =
                    fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
                let points = run.metrics.entry(key).or_default();
                for (index, line) in text
                    .lines()
                    .enumerate()
                    .filter(|(_, l)| !l.trim().is_empty())
                {
                    let fields: Vec<&str> = line.split_whitespace().collect();
                    let bad = || {
                        format!(
                            "{}: line {}: expected `timestamp value step`",
                            file.display(),
                            index + 1
                        )
                    };
                    let timestamp = fields
                        .first()
                        .and_then(|t| t.parse().ok())
                        .ok_or_else(bad)?;
                    let value = fields
                        .get(1)
                        .and_then(|v| parse_number(v))
                        .ok_or_else(bad)?;
                    let step = match fields.get(2) {
                        Some(step) => step.parse().map_err(|_| bad())?,
                        None => 0,
                    };
                    points.push((step, timestamp, value));
                }
            }
            runs.push(run);
        }
    }
    Ok(runs)
}

/// Writes the runs through [`import_runs::write`], keyed by their MLflow
/// run id (the tag `mlflow.run_id`), and names the runs whose artifacts
/// are at remote URIs.
fn write(dir: &Path, runs: Vec<MlflowRun>, existing: OnExisting) -> Result<(), String> {
    let mut remote = Vec::new();
    let mut ready = Vec::with_capacity(runs.len());
    for run in runs {
        let artifacts = match &run.artifacts {
            Artifacts::Folder(folder) => artifact_files(folder)?,
            Artifacts::Remote(uri) => {
                remote.push(format!("{} ({uri})", run.run_id));
                Vec::new()
            }
            Artifacts::None => Vec::new(),
        };
        ready.push(SourceRun {
            status: run.status.as_deref().and_then(status),
            experiment: run.experiment,
            source_id: run.run_id,
            name: run.name,
            start_ms: run.start_ms,
            end_ms: run.end_ms,
            params: run.params,
            tags: run.tags,
            metrics: run.metrics,
            artifacts,
        });
    }
    let source = Source {
        name: "MLflow",
        key_tag: "mlflow.run_id",
    };
    import_runs::write(dir, ready, &source, existing)?;
    if !remote.is_empty() {
        eprintln!(
            "runlog-db: the artifacts of {} runs are at remote URIs and were not imported: {}{}",
            remote.len(),
            remote
                .iter()
                .take(5)
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
            if remote.len() > 5 { ", ..." } else { "" }
        );
    }
    Ok(())
}
