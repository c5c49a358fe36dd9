//! The `mlflow-artifacts` proxy routes, over runlog's artifact store. A
//! run's `artifact_uri` is `mlflow-artifacts:/<experiment>/<run>/artifacts`,
//! so the client's paths are `<experiment>/<run>/artifacts/<path>`.
//! Uploads and downloads stream in bounded memory.

use std::io::Read;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use runlog::RunId;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio_stream::StreamExt;

use crate::error::{ApiError, ApiResult};
use crate::{AppState, blocking};

/// Chunks in flight between the socket and the engine.
const CHANNEL_CHUNKS: usize = 16;

/// A run and an artifact path (empty for the run's root) from a client
/// path `<experiment>/<run>/artifacts[/<path>]`.
fn locate(path: &str) -> ApiResult<(RunId, String)> {
    let bad = || {
        ApiError::invalid(format!(
            "artifact path {path:?} is not <experiment>/<run>/artifacts/<path>"
        ))
    };
    let mut parts = path.trim_matches('/').splitn(4, '/');
    let (_experiment, run, root) = (
        parts.next().ok_or_else(bad)?,
        parts.next().ok_or_else(bad)?,
        parts.next(),
    );
    if root != Some("artifacts") {
        return Err(bad());
    }
    let run = run
        .parse::<u64>()
        .map(RunId)
        .map_err(|_| ApiError::not_found(format!("no run with id {run:?}")))?;
    let rest = parts.next().unwrap_or("");
    Ok((run, rest.to_string()))
}

/// What the engine reads an upload from: chunks passed over a channel.
struct ChannelReader {
    chunks: std::sync::mpsc::Receiver<Result<Bytes, String>>,
    current: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.chunks.recv() {
                Ok(Ok(chunk)) => self.current = chunk,
                Ok(Err(e)) => return Err(std::io::Error::other(e)),
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current = self.current.slice(n..);
        Ok(n)
    }
}

/// `PUT .../artifacts/<path>`: stores the body as the artifact.
pub async fn upload(
    State(app): State<AppState>,
    Path(path): Path<String>,
    body: Body,
) -> ApiResult<Json<Value>> {
    let (run, artifact) = locate(&path)?;
    if artifact.is_empty() {
        return Err(ApiError::invalid(
            "an upload needs a file path under artifacts/",
        ));
    }
    let (send, receive) = std::sync::mpsc::sync_channel(CHANNEL_CHUNKS);
    let db = app.db.clone();
    let store = tokio::task::spawn_blocking(move || {
        let mut reader = ChannelReader {
            chunks: receive,
            current: Bytes::new(),
        };
        db.put_artifact_from(run, &artifact, &mut reader, None)
    });
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| e.to_string());
        let failed = chunk.is_err();
        let sent = send.clone();
        // A full channel blocks: hand it to the blocking pool.
        let delivered = tokio::task::spawn_blocking(move || sent.send(chunk).is_ok())
            .await
            .unwrap_or(false);
        if failed || !delivered {
            break;
        }
    }
    drop(send);
    store
        .await
        .map_err(|e| ApiError::internal(format!("the upload task failed: {e}")))??;
    Ok(Json(json!({})))
}

/// `GET .../artifacts/<path>`: the artifact, streamed and checked.
pub async fn download(
    State(app): State<AppState>,
    Path(path): Path<String>,
) -> ApiResult<Response> {
    let (run, artifact) = locate(&path)?;
    let entry = app.db.artifact(run, &artifact)?;
    let mut reader = app.db.open_artifact(run, &artifact)?;
    let (send, receive) =
        tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(CHANNEL_CHUNKS);
    tokio::task::spawn_blocking(move || {
        let mut buffer = vec![0u8; 256 << 10];
        loop {
            match reader.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => {
                    if send
                        .blocking_send(Ok(Bytes::copy_from_slice(&buffer[..n])))
                        .is_err()
                    {
                        break;
                    }
                }
                Err(e) => {
                    // A damaged blob ends the body with an error: the
                    // client sees a broken transfer, never bad bytes.
                    let _ = send.blocking_send(Err(e));
                    break;
                }
            }
        }
    });
    let body = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(receive));
    Ok((
        [
            (header::CONTENT_TYPE, entry.media_type),
            (header::CONTENT_LENGTH, entry.size.to_string()),
        ],
        body,
    )
        .into_response())
}

/// `DELETE .../artifacts/<path>`.
pub async fn delete(
    State(app): State<AppState>,
    Path(path): Path<String>,
) -> ApiResult<Json<Value>> {
    let (run, artifact) = locate(&path)?;
    blocking(app, move |db| Ok(db.delete_artifact(run, &artifact)?)).await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
pub struct List {
    #[serde(default)]
    path: String,
}

/// `GET .../artifacts?path=<experiment>/<run>/artifacts[/<dir>]`: the
/// files and folders directly under a folder.
pub async fn list(
    State(app): State<AppState>,
    Query(query): Query<List>,
) -> ApiResult<Json<Value>> {
    let (run, folder) = locate(&query.path)?;
    let all = app.db.artifacts(run, &folder)?;
    let prefix = if folder.is_empty() {
        String::new()
    } else {
        format!("{folder}/")
    };
    let mut files: Vec<Value> = Vec::new();
    let mut folders = std::collections::BTreeSet::new();
    for a in &all {
        let Some(rest) = a.path.strip_prefix(&prefix) else {
            continue; // the folder itself is a file
        };
        match rest.split_once('/') {
            Some((dir, _)) => {
                folders.insert(dir.to_string());
            }
            None => files.push(json!({"path": rest, "is_dir": false, "file_size": a.size})),
        }
    }
    for dir in folders {
        files.push(json!({"path": dir, "is_dir": true}));
    }
    Ok(Json(json!({"files": files})))
}
