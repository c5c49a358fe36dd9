//! `tail`: follow a live run, printing points as the writer logs them.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use serde_json::json;

use crate::output::{json_num, num};
use crate::query::{open, resolve_run};

/// How often the database is re-read.
const POLL: Duration = Duration::from_millis(200);

/// Prints every point of the run's metrics (or of `metrics`) as it appears,
/// until interrupted (Ctrl-C).
pub fn run(dir: &Path, run: &str, metrics: &[String], json: bool) -> Result<(), String> {
    let db = open(dir)?;
    let id = resolve_run(&db, run)?;
    let mut printed: BTreeMap<String, i64> = BTreeMap::new();
    let stdout = std::io::stdout();
    loop {
        let names = if metrics.is_empty() {
            db.metric_names(id).map_err(|e| e.to_string())?
        } else {
            metrics.to_vec()
        };
        let mut out = stdout.lock();
        for name in names {
            let after = printed
                .get(&name)
                .map_or(i64::MIN, |&last| last.saturating_add(1));
            let Ok(points) = db.history(id, &name, after..) else {
                continue; // not logged yet
            };
            for i in 0..points.len() {
                let line = if json {
                    json!({
                        "metric": name, "step": points.steps[i],
                        "timestamp_ms": points.timestamps[i], "value": json_num(points.values[i]),
                    })
                    .to_string()
                } else {
                    format!("{name}  {}  {}", points.steps[i], num(points.values[i]))
                };
                if writeln!(out, "{line}").is_err() {
                    return Ok(()); // the reader went away
                }
            }
            if let Some(&last) = points.steps.last() {
                printed.insert(name, last);
            }
        }
        if out.flush().is_err() {
            return Ok(());
        }
        drop(out);
        std::thread::sleep(POLL);
        db.refresh().map_err(|e| e.to_string())?;
    }
}
