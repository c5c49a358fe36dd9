//! Writing runs read from another tracker (MLflow, TensorBoard): all of
//! them as staged runs, published at once when the import ends, so that a
//! crash leaves none visible (the next writer deletes them). Each run is
//! keyed by its id in its source, kept as a tag: a run imported before is
//! refused, skipped or replaced as `--existing` says, never doubled.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use runlog::{Db, RunId, RunStatus};

use crate::transfer::OnExisting;

/// A run read from a source, ready to write.
#[derive(Debug, Default)]
pub struct SourceRun {
    /// Its experiment.
    pub experiment: String,
    /// Its id in the source (kept as the source's key tag).
    pub source_id: String,
    /// Its name there (the id is used when it is empty).
    pub name: String,
    /// Its status, if the source says.
    pub status: Option<RunStatus>,
    /// Its start and end, ms since the epoch.
    pub start_ms: Option<i64>,
    /// Its end, ms since the epoch.
    pub end_ms: Option<i64>,
    /// Its params.
    pub params: Vec<(String, String)>,
    /// Its tags.
    pub tags: Vec<(String, String)>,
    /// Metric name -> points `(step, timestamp, value)` in logged order.
    pub metrics: BTreeMap<String, Vec<(i64, i64, f64)>>,
    /// Its artifact files: the path in the run, and where the file is.
    pub artifacts: Vec<(String, PathBuf)>,
}

/// Where runs come from.
pub struct Source {
    /// The source's name, for messages ("MLflow").
    pub name: &'static str,
    /// The tag that keeps a run's source id.
    pub key_tag: &'static str,
}

/// Writes `runs` into the database at `dir` and says what it did.
pub fn write(
    dir: &Path,
    runs: Vec<SourceRun>,
    source: &Source,
    existing: OnExisting,
) -> Result<(), String> {
    let db = crate::query::open_writer(Db::builder(dir))?;
    let e = |e: runlog::Error| e.to_string();
    let imported: BTreeMap<String, (RunId, String)> = db
        .runs(&runlog::RunFilter::default())
        .into_iter()
        .filter_map(|r| {
            let id = r.info.tags.get(source.key_tag)?.clone();
            Some((id, (r.info.id, r.info.name.clone())))
        })
        .collect();
    let again: Vec<&str> = runs
        .iter()
        .filter(|r| imported.contains_key(&r.source_id))
        .map(|r| r.source_id.as_str())
        .collect();
    if existing == OnExisting::Refuse && !again.is_empty() {
        return Err(format!(
            "{} {} runs were imported before ({}{}): run again with --existing skip or --existing replace; nothing imported",
            again.len(),
            source.name,
            again.iter().take(5).copied().collect::<Vec<_>>().join(", "),
            if again.len() > 5 { ", ..." } else { "" }
        ));
    }
    let total: usize = runs
        .iter()
        .flat_map(|r| r.metrics.values())
        .map(Vec::len)
        .sum();
    let progress = crate::progress::bar(total as u64, "points").with_message("importing");
    let (mut staged, mut replaces, mut skipped, mut artifacts) = (Vec::new(), Vec::new(), 0, 0);
    let mut taken = HashSet::new();
    for run in &runs {
        let before = imported.get(&run.source_id);
        if before.is_some() && existing == OnExisting::Skip {
            skipped += 1;
            continue;
        }
        let base = if run.name.is_empty() {
            run.source_id.clone()
        } else {
            run.name.clone()
        };
        let name = match before {
            // A replacement takes the name of the run it replaces.
            Some((old, name)) => {
                replaces.push(*old);
                name.clone()
            }
            None if db.find_run(&run.experiment, &base).is_none()
                && !taken.contains(&(run.experiment.clone(), base.clone())) =>
            {
                base
            }
            None => {
                let short: String = run.source_id.chars().take(8).collect();
                format!("{base}-{short}")
            }
        };
        taken.insert((run.experiment.clone(), name.clone()));
        let id = db
            .create_staged_run(&run.experiment, &name, run.start_ms)
            .map_err(e)?;
        staged.push(id);
        db.set_tag(id, source.key_tag, &run.source_id).map_err(e)?;
        for (key, value) in &run.params {
            db.set_param(id, key, value).map_err(e)?;
        }
        for (key, value) in &run.tags {
            db.set_tag(id, key, value).map_err(e)?;
        }
        for (key, points) in &run.metrics {
            for chunk in points.chunks(50_000) {
                let batch: Vec<_> = chunk
                    .iter()
                    .map(|&(s, t, v)| (key.as_str(), s, t, v))
                    .collect();
                db.log_batch(id, &batch).map_err(e)?;
                progress.inc(chunk.len() as u64);
            }
        }
        for (path, file) in &run.artifacts {
            let mut bytes = fs::File::open(file).map_err(|e| format!("{}: {e}", file.display()))?;
            db.put_artifact_from(id, path, &mut bytes, None)
                .map_err(|error| format!("{}: {error}; nothing imported", file.display()))?;
            artifacts += 1;
        }
        if let Some(status) = run.status {
            db.set_status_at(id, status, run.end_ms).map_err(e)?;
        }
    }
    db.publish_runs(&staged, &replaces).map_err(e)?;
    progress.finish_and_clear();
    db.close().map_err(e)?;
    eprintln!(
        "imported {} runs ({} replaced, {skipped} skipped as imported before), {total} points read, {artifacts} artifacts",
        staged.len(),
        replaces.len()
    );
    Ok(())
}
