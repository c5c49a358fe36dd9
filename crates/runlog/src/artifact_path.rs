//! Artifact paths: run-relative, `/`-separated, checked before anything is
//! written, so that no artifact names a place outside its run.

use crate::{Error, Result};

/// The longest artifact path accepted, in bytes.
pub const MAX_ARTIFACT_PATH_BYTES: usize = 1024;
/// The longest segment (the part between two `/`) accepted, in bytes.
pub const MAX_ARTIFACT_SEGMENT_BYTES: usize = 255;

/// Normalizes and checks an artifact path: `.` segments are dropped;
/// `..`, a leading `/`, empty segments (`a//b`, a trailing `/`), `\`,
/// control characters (NUL among them) and over-long paths or segments
/// are refused with [`Error::InvalidArtifactPath`].
pub fn normalize_artifact_path(path: &str) -> Result<String> {
    let refuse = |reason: String| Error::InvalidArtifactPath {
        path: path.to_string(),
        reason,
    };
    if path.len() > MAX_ARTIFACT_PATH_BYTES {
        return Err(refuse(format!(
            "{} bytes, the limit is {MAX_ARTIFACT_PATH_BYTES}",
            path.len()
        )));
    }
    if path.starts_with('/') {
        return Err(refuse("absolute paths are not allowed".into()));
    }
    if let Some(c) = path.chars().find(|c| c.is_control() || *c == '\\') {
        return Err(refuse(format!("character {c:?} is not allowed")));
    }
    let mut kept = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" => return Err(refuse("empty path segment".into())),
            "." => {}
            ".." => return Err(refuse("`..` is not allowed".into())),
            s if s.len() > MAX_ARTIFACT_SEGMENT_BYTES => {
                return Err(refuse(format!(
                    "segment of {} bytes, the limit is {MAX_ARTIFACT_SEGMENT_BYTES}",
                    s.len()
                )));
            }
            s => kept.push(s),
        }
    }
    if kept.is_empty() {
        return Err(refuse("the path names no file".into()));
    }
    Ok(kept.join("/"))
}

/// Normalizes a listing prefix: empty for everything, else a path as
/// [`normalize_artifact_path`] accepts it, optionally ending in `/`.
pub(crate) fn normalize_prefix(prefix: &str) -> Result<String> {
    let trimmed = prefix.strip_suffix('/').unwrap_or(prefix);
    if trimmed.is_empty() || trimmed == "." {
        return Ok(String::new());
    }
    normalize_artifact_path(trimmed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_could_escape_are_refused() {
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../b",
            "a//b",
            "a/",
            "a\0b",
            "a\\b",
            ".",
            "./.",
            "a/\n",
        ] {
            assert!(
                matches!(
                    normalize_artifact_path(bad),
                    Err(Error::InvalidArtifactPath { .. })
                ),
                "{bad:?}"
            );
        }
        let long = "x".repeat(MAX_ARTIFACT_PATH_BYTES + 1);
        assert!(normalize_artifact_path(&long).is_err());
        let long_segment = format!("a/{}", "y".repeat(MAX_ARTIFACT_SEGMENT_BYTES + 1));
        assert!(normalize_artifact_path(&long_segment).is_err());
    }

    #[test]
    fn good_paths_are_kept_and_dots_dropped() {
        assert_eq!(
            normalize_artifact_path("model/config.json").unwrap(),
            "model/config.json"
        );
        assert_eq!(
            normalize_artifact_path("./images/./a.png").unwrap(),
            "images/a.png"
        );
        assert_eq!(
            normalize_artifact_path("ünï/cödé ✓.txt").unwrap(),
            "ünï/cödé ✓.txt"
        );
        assert_eq!(normalize_prefix("images/").unwrap(), "images");
        assert_eq!(normalize_prefix("").unwrap(), "");
    }
}
