//! Names and limits: what the engine accepts, checked before anything is
//! written.

use crate::{Error, Result, RunId};

/// The longest name accepted, in bytes (metric, table, column, experiment,
/// run, param and tag names).
pub const MAX_NAME_BYTES: usize = 255;

/// Caps on what one run may hold; every one is an option with a sane default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Metrics (and tables) per run. Default 10,000.
    pub metrics_per_run: usize,
    /// Columns per table. Default 1,000.
    pub columns_per_table: usize,
    /// Params per run. Default 1,000.
    pub params_per_run: usize,
    /// Tags per run. Default 1,000.
    pub tags_per_run: usize,
    /// Bytes per param or tag value. Default 65,536.
    pub value_bytes: usize,
    /// Bytes per artifact. Default 1 TiB: a checkpoint of any size that
    /// fits a disk, while a runaway stream is still stopped.
    pub artifact_bytes: u64,
    /// Artifacts per run. Default 100,000.
    pub artifacts_per_run: usize,
    /// Text-log streams per run. Default 10,000.
    pub log_streams_per_run: usize,
    /// Bytes per text-log append or text-series value. Default 16 MiB (a
    /// WAL record holds at most 256 MiB).
    pub text_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            metrics_per_run: 10_000,
            columns_per_table: 1_000,
            params_per_run: 1_000,
            tags_per_run: 1_000,
            value_bytes: 65_536,
            artifact_bytes: 1 << 40,
            artifacts_per_run: 100_000,
            log_streams_per_run: 10_000,
            text_bytes: 16 << 20,
        }
    }
}

/// Checks a name: non-empty, at most [`MAX_NAME_BYTES`] bytes of UTF-8 (a
/// `&str` already is), no control characters. `what` names it in the error
/// ("metric name", ...).
pub fn check_name(what: &'static str, name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        Some("names must not be empty".to_string())
    } else if name.len() > MAX_NAME_BYTES {
        Some(format!(
            "{} bytes, the limit is {MAX_NAME_BYTES}",
            name.len()
        ))
    } else {
        name.chars()
            .find(|c| c.is_control())
            .map(|c| format!("control character {c:?} is not allowed"))
    };
    match reason {
        Some(reason) => Err(Error::InvalidName {
            what,
            name: name.to_string(),
            reason,
        }),
        None => Ok(()),
    }
}

/// Checks that adding `name` keeps a count at or below `limit`.
pub(crate) fn check_count(
    run: RunId,
    what: &'static str,
    count_after: usize,
    limit: usize,
    name: &str,
) -> Result<()> {
    if count_after > limit {
        return Err(Error::LimitExceeded {
            run,
            what,
            limit,
            name: name.to_string(),
        });
    }
    Ok(())
}

/// Checks a param or tag value's length.
pub(crate) fn check_value(what: &'static str, key: &str, value: &str, limit: usize) -> Result<()> {
    if value.len() > limit {
        return Err(Error::ValueTooLong {
            what,
            key: key.to_string(),
            len: value.len(),
            limit,
        });
    }
    Ok(())
}
