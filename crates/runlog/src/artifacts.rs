//! Artifacts: files of a run under run-relative paths, stored as
//! content-addressed blobs (see `blobs`), with text files and image
//! series on top.
//!
//! A put streams its source into a blob (bounded memory, any size up to
//! [`crate::Limits::artifact_bytes`]), which is durable in place before the
//! WAL record naming it is appended: after any crash an acknowledged
//! artifact is whole, an unacknowledged one absent.

use std::io::Read;

use crate::artifact_path::{normalize_artifact_path, normalize_prefix};
use crate::blobs::{BlobReader, WriteError};
use crate::catalog::RunEntry;
use crate::contents::Artifact;
use crate::db::Db;
use crate::error::Error;
use crate::limits::{check_count, check_name};
use crate::ops::Op;
use crate::{Result, RunId};

/// The media type of a file whose kind is unknown.
const OCTET_STREAM: &str = "application/octet-stream";

impl Db {
    /// Puts `bytes` as artifact `path` of `run` (replacing one at that
    /// path), its media type guessed from the path's extension.
    pub fn put_artifact(&self, run: RunId, path: &str, bytes: &[u8]) -> Result<Artifact> {
        self.put_artifact_from(run, path, &mut &bytes[..], None)
    }

    /// Puts what `source` yields as artifact `path` of `run`, streaming it
    /// in bounded memory whatever its size. `media_type` defaults to a
    /// guess from the path's extension.
    pub fn put_artifact_from(
        &self,
        run: RunId,
        path: &str,
        source: &mut dyn Read,
        media_type: Option<&str>,
    ) -> Result<Artifact> {
        self.put_artifact_at_step(run, path, None, source, media_type)
    }

    /// Like [`Db::put_artifact_from`], with the step of an image series
    /// (as [`Db::log_image`] sets it), for tools that copy artifacts.
    pub fn put_artifact_at_step(
        &self,
        run: RunId,
        path: &str,
        step: Option<i64>,
        source: &mut dyn Read,
        media_type: Option<&str>,
    ) -> Result<Artifact> {
        let media_type = media_type.map_or_else(|| guess_media_type(path), str::to_string);
        self.put(run, path, source, media_type, step)
    }

    /// Puts `text` as a UTF-8 text artifact at `path` (MLflow's `log_text`).
    pub fn log_text(&self, run: RunId, path: &str, text: &str) -> Result<Artifact> {
        let media_type = match guess_media_type(path) {
            guessed if guessed == OCTET_STREAM => "text/plain".to_string(),
            guessed => guessed,
        };
        self.put(run, path, &mut text.as_bytes(), media_type, None)
    }

    /// Logs an image of image series `key` at `step`, stored as artifact
    /// `images/<key>/step-<step>.<ext>`; the media type and extension come
    /// from the image's own bytes (PNG, JPEG, GIF, WebP, ...).
    pub fn log_image(&self, run: RunId, key: &str, step: i64, bytes: &[u8]) -> Result<Artifact> {
        check_name("image key", key)?;
        let (media_type, extension) = match infer::get(bytes) {
            Some(kind) => (kind.mime_type().to_string(), kind.extension()),
            None => (OCTET_STREAM.to_string(), "bin"),
        };
        let path = format!("images/{key}/step-{step}.{extension}");
        self.put(run, &path, &mut &bytes[..], media_type, Some(step))
    }

    /// The images of image series `key`, by step.
    pub fn images(&self, run: RunId, key: &str) -> Result<Vec<Artifact>> {
        let mut images: Vec<Artifact> = self
            .artifacts(run, &format!("images/{key}"))?
            .into_iter()
            .filter(|a| a.step.is_some())
            .collect();
        images.sort_by_key(|a| a.step);
        Ok(images)
    }

    /// The artifacts of `run` whose path is `prefix` or lies under it (all
    /// of them for an empty prefix), by path.
    pub fn artifacts(&self, run: RunId, prefix: &str) -> Result<Vec<Artifact>> {
        let prefix = normalize_prefix(prefix)?;
        let state = self.shared.state.read();
        let entry = state.catalog.run(run).ok_or(Error::UnknownRun(run))?;
        let under = |path: &str| {
            prefix.is_empty()
                || path == prefix
                || (path.starts_with(&prefix) && path.as_bytes()[prefix.len()] == b'/')
        };
        Ok(entry
            .artifacts
            .range(prefix.clone()..)
            .take_while(|(path, _)| path.starts_with(&prefix))
            .filter(|(path, _)| under(path))
            .map(|(_, a)| a.clone())
            .collect())
    }

    /// Artifact `path` of `run`.
    pub fn artifact(&self, run: RunId, path: &str) -> Result<Artifact> {
        let path = normalize_artifact_path(path)?;
        let state = self.shared.state.read();
        let entry = state.catalog.run(run).ok_or(Error::UnknownRun(run))?;
        entry
            .artifacts
            .get(&path)
            .cloned()
            .ok_or_else(|| unknown_artifact(run, &path))
    }

    /// Opens artifact `path` of `run` for reading. The reader checks the
    /// content's hash at the end and fails with an `InvalidData` error
    /// (holding [`Error::Corrupt`]) if the file was damaged.
    pub fn open_artifact(&self, run: RunId, path: &str) -> Result<BlobReader> {
        let artifact = self.artifact(run, path)?;
        self.shared.blobs.open(&artifact.hash)
    }

    /// The whole content of artifact `path` of `run`, checked.
    pub fn read_artifact(&self, run: RunId, path: &str) -> Result<Vec<u8>> {
        let artifact = self.artifact(run, path)?;
        self.shared.blobs.read_all(&artifact.hash)
    }

    /// Deletes artifact `path` of `run`; its blob is freed once nothing
    /// references it.
    pub fn delete_artifact(&self, run: RunId, path: &str) -> Result<()> {
        let path = normalize_artifact_path(path)?;
        self.write(|catalog, _| {
            let entry = catalog.run(run).ok_or(Error::UnknownRun(run))?;
            if !entry.artifacts.contains_key(&path) {
                return Err(unknown_artifact(run, &path));
            }
            Ok((
                vec![Op::DeleteArtifact {
                    run,
                    path: path.clone(),
                }],
                (),
            ))
        })
    }

    fn put(
        &self,
        run: RunId,
        path: &str,
        source: &mut dyn Read,
        media_type: String,
        step: Option<i64>,
    ) -> Result<Artifact> {
        self.shared.check_writable()?;
        let path = normalize_artifact_path(path)?;
        check_name("media type", &media_type)?;
        let limits = self.shared.options.limits;
        // Refused before any byte is read, and checked again at the write.
        let room = |entry: &RunEntry| {
            let count = entry.artifacts.len() + usize::from(!entry.artifacts.contains_key(&path));
            check_count(
                run,
                "artifacts per run",
                count,
                limits.artifacts_per_run,
                &path,
            )
        };
        {
            let state = self.shared.state.read();
            room(state.catalog.run(run).ok_or(Error::UnknownRun(run))?)?;
        }
        let written = self
            .shared
            .blobs
            .write(source, limits.artifact_bytes)
            .map_err(|error| match error {
                WriteError::TooLarge => Error::TooLarge {
                    run,
                    what: "artifact",
                    name: path.clone(),
                    limit: limits.artifact_bytes,
                },
                WriteError::Source(source) => Error::ArtifactSource {
                    run,
                    path: path.clone(),
                    source,
                },
                WriteError::Store(error) => error,
            })?;
        // The blob stays pinned (safe from collection) until `written` is
        // dropped, after the record naming it is applied.
        self.write(|catalog, now| {
            room(catalog.run(run).ok_or(Error::UnknownRun(run))?)?;
            let artifact = Artifact {
                path: path.clone(),
                size: written.size,
                media_type: media_type.clone(),
                hash: written.hash,
                time_ms: now,
                step,
            };
            Ok((
                vec![Op::PutArtifact {
                    run,
                    artifact: artifact.clone(),
                }],
                artifact,
            ))
        })
    }
}

/// The media type that `path`'s extension suggests.
fn guess_media_type(path: &str) -> String {
    mime_guess::from_path(path)
        .first()
        .map_or_else(|| OCTET_STREAM.to_string(), |m| m.essence_str().to_string())
}

fn unknown_artifact(run: RunId, path: &str) -> Error {
    Error::UnknownSeries {
        run,
        what: "artifact",
        name: path.to_string(),
    }
}
