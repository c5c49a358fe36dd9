//! `import-tensorboard`: scalars from TensorBoard event files.
//!
//! Every folder under LOGDIR that holds event files (`*.tfevents.*`)
//! becomes a run named by its path under LOGDIR (LOGDIR's own name for
//! files directly in it), its files read in name order (their names start
//! with their creation time). Records are TFRecord frames whose masked
//! CRC32Cs are checked ([`tfrecord`]); events are decoded with prost
//! ([`proto`]).
//!
//! - A scalar is a summary value's `simple_value`, or a float or double
//!   tensor of one element (as TensorFlow 2 and `torch.utils.tensorboard`
//!   write them): a point at the event's step and `wall_time` in ms.
//!   Values are float32 in that format, and come over exactly.
//! - The hparams plugin's session start becomes the run's params.
//! - Other values (images, histograms, audio, text, other tensors) are
//!   counted by kind and reported as skipped.
//! - A damaged or cut record stops the import with the file and the
//!   offset, writing nothing; with `--tolerate-corrupt-tail` the records
//!   before it are kept (as TensorBoard does), and the cut is reported.
//!
//! Runs are keyed by `<experiment>/<path under LOGDIR>` (the tag
//! `tensorboard.run`), so importing a logdir again refuses, skips or
//! replaces them; they appear all at once when the import ends.

mod proto;
mod tfrecord;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use prost::Message;
use runlog::RunStatus;

use crate::import_runs::{self, Source, SourceRun};
use crate::transfer::OnExisting;
use proto::event::What;
use proto::summary_value::Kind;
use tfrecord::Records;

/// What one import read, for its report.
#[derive(Default)]
struct Tally {
    files: usize,
    records: usize,
    /// Kind -> values that were not scalars.
    skipped: BTreeMap<&'static str, usize>,
    /// Files cut at damage, with `--tolerate-corrupt-tail`.
    cut: Vec<String>,
}

/// Imports the event files under `logdir` into the database at `dir`.
pub fn import(
    dir: &Path,
    logdir: &Path,
    experiment: Option<String>,
    tolerate_corrupt_tail: bool,
    existing: OnExisting,
) -> Result<(), String> {
    let folder_name = |path: &Path| {
        std::fs::canonicalize(path)
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "tensorboard".into())
    };
    if !logdir.is_dir() {
        return Err(format!("{}: not a folder of event files", logdir.display()));
    }
    let experiment = experiment.unwrap_or_else(|| folder_name(logdir));
    let mut tally = Tally::default();
    let mut runs = Vec::new();
    for (relative, files) in event_files(logdir)? {
        let name = if relative.is_empty() {
            folder_name(logdir)
        } else {
            relative.clone()
        };
        let mut run = SourceRun {
            source_id: format!("{experiment}/{relative}"),
            experiment: experiment.clone(),
            name,
            status: Some(RunStatus::Completed),
            ..SourceRun::default()
        };
        for file in files {
            read_file(&file, &mut run, &mut tally, tolerate_corrupt_tail)?;
        }
        runs.push(run);
    }
    if runs.is_empty() {
        return Err(format!(
            "{}: no event files (*.tfevents.*) under it; nothing imported",
            logdir.display()
        ));
    }
    let source = Source {
        name: "TensorBoard",
        key_tag: "tensorboard.run",
    };
    import_runs::write(dir, runs, &source, existing)?;
    let skipped: Vec<String> = tally
        .skipped
        .iter()
        .map(|(kind, n)| format!("{n} {kind}"))
        .collect();
    eprintln!(
        "read {} event files, {} records{}",
        tally.files,
        tally.records,
        if skipped.is_empty() {
            String::new()
        } else {
            format!(
                "; skipped values that are not scalars: {}",
                skipped.join(", ")
            )
        }
    );
    for cut in &tally.cut {
        eprintln!("runlog-db: {cut}");
    }
    Ok(())
}

/// The folders under `logdir` that hold event files: each one's path under
/// `logdir` (`/`-separated, empty for `logdir` itself) and its files in
/// name order.
fn event_files(logdir: &Path) -> Result<BTreeMap<String, Vec<PathBuf>>, String> {
    let mut folders: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for entry in walkdir::WalkDir::new(logdir).sort_by_file_name() {
        let entry = entry.map_err(|e| format!("{}: {e}", logdir.display()))?;
        let is_events = entry.file_name().to_string_lossy().contains(".tfevents.");
        if !entry.file_type().is_file() || !is_events {
            continue;
        }
        let folder = entry.path().parent().expect("a file has a folder");
        let relative = folder.strip_prefix(logdir).expect("under the logdir");
        let parts: Option<Vec<&str>> = relative.iter().map(|p| p.to_str()).collect();
        let relative = parts
            .ok_or_else(|| format!("{}: the name is not UTF-8", folder.display()))?
            .join("/");
        folders
            .entry(relative)
            .or_default()
            .push(entry.path().to_path_buf());
    }
    Ok(folders)
}

/// Adds the scalars and hyperparameters of one event file to `run`.
fn read_file(
    path: &Path,
    run: &mut SourceRun,
    tally: &mut Tally,
    tolerate: bool,
) -> Result<(), String> {
    let io = |e: std::io::Error| format!("{}: {e}", path.display());
    let mut records = Records::new(BufReader::new(File::open(path).map_err(io)?));
    tally.files += 1;
    let mut kept = 0;
    while let Some(record) = records.next_record().map_err(io)? {
        let data = match record {
            Ok(data) => data,
            Err(damage) if tolerate => {
                tally.cut.push(format!(
                    "{}: damaged at offset {} ({}); kept the {kept} records before it, as --tolerate-corrupt-tail asks",
                    path.display(),
                    damage.offset,
                    damage.what
                ));
                return Ok(());
            }
            Err(damage) => {
                return Err(format!(
                    "{}: damaged at offset {} ({}) after {kept} intact records; nothing imported (--tolerate-corrupt-tail keeps the records before it)",
                    path.display(),
                    damage.offset,
                    damage.what
                ));
            }
        };
        let event = proto::Event::decode(&data[..]).map_err(|e| {
            format!(
                "{}: the record at offset {} is not an event ({e}); nothing imported",
                path.display(),
                records.offset_of_last()
            )
        })?;
        kept += 1;
        tally.records += 1;
        add_event(event, run, tally);
    }
    Ok(())
}

/// The points and params of one event.
fn add_event(event: proto::Event, run: &mut SourceRun, tally: &mut Tally) {
    let Some(What::Summary(summary)) = event.what else {
        return;
    };
    let timestamp = (event.wall_time * 1000.0).round() as i64;
    run.start_ms = Some(run.start_ms.map_or(timestamp, |s| s.min(timestamp)));
    run.end_ms = Some(run.end_ms.map_or(timestamp, |e| e.max(timestamp)));
    for value in summary.value {
        let plugin = value
            .metadata
            .as_ref()
            .and_then(|m| m.plugin_data.as_ref())
            .map(|p| p.plugin_name.as_str())
            .unwrap_or("");
        if plugin == "hparams" {
            add_hparams(&value, run);
            continue;
        }
        let scalar = match &value.kind {
            Some(Kind::SimpleValue(v)) => Ok(f64::from(*v)),
            Some(Kind::Tensor(tensor)) => scalar_of(tensor).ok_or(if plugin.is_empty() {
                "tensor"
            } else {
                plugin_kind(plugin)
            }),
            Some(Kind::Image(_)) => Err("image"),
            Some(Kind::Histo(_) | Kind::ObsoleteOldStyleHistogram(_)) => Err("histogram"),
            Some(Kind::Audio(_)) => Err("audio"),
            None => Err("empty"),
        };
        match scalar {
            Ok(v) => run
                .metrics
                .entry(value.tag)
                .or_default()
                .push((event.step, timestamp, v)),
            Err(kind) => *tally.skipped.entry(kind).or_default() += 1,
        }
    }
}

/// How a skipped plugin value is reported.
fn plugin_kind(plugin: &str) -> &'static str {
    match plugin {
        "text" => "text",
        "images" => "image",
        "histograms" | "distributions" => "histogram",
        "audio" => "audio",
        "pr_curves" => "pr_curve",
        "mesh" => "mesh",
        _ => "other",
    }
}

/// A one-element float or double tensor's value.
fn scalar_of(tensor: &proto::TensorProto) -> Option<f64> {
    let elements: i64 = tensor
        .tensor_shape
        .as_ref()
        .map_or(1, |s| s.dim.iter().map(|d| d.size).product());
    if elements != 1 {
        return None;
    }
    let content = &tensor.tensor_content;
    match tensor.dtype {
        proto::DT_FLOAT => tensor.float_val.first().map(|&v| f64::from(v)).or_else(|| {
            let bytes: [u8; 4] = content.get(..4)?.try_into().ok()?;
            Some(f64::from(f32::from_le_bytes(bytes)))
        }),
        proto::DT_DOUBLE => tensor.double_val.first().copied().or_else(|| {
            let bytes: [u8; 8] = content.get(..8)?.try_into().ok()?;
            Some(f64::from_le_bytes(bytes))
        }),
        _ => None,
    }
}

/// The hyperparameters of an hparams session start, as params (numbers in
/// their shortest exact spelling).
fn add_hparams(value: &proto::SummaryValue, run: &mut SourceRun) {
    let Some(content) = value
        .metadata
        .as_ref()
        .and_then(|m| m.plugin_data.as_ref())
        .map(|p| &p.content)
    else {
        return;
    };
    let Ok(data) = proto::HParamsPluginData::decode(&content[..]) else {
        return;
    };
    let Some(proto::hparams_plugin_data::Data::SessionStartInfo(start)) = data.data else {
        return;
    };
    for (key, value) in start.hparams {
        use proto::hparam_value::Kind as V;
        let text = match value.kind {
            Some(V::Number(n)) => n.to_string(),
            Some(V::Text(s)) => s,
            Some(V::Bool(b)) => b.to_string(),
            Some(V::Null(_)) | None => continue,
        };
        run.params.retain(|(k, _)| *k != key);
        run.params.push((key, text));
    }
}
