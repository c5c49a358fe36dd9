//! The identity file `RUNLOG` at a database's root: what tells a runlog
//! database from any other directory, and its format version. A writer
//! creates a database only in a new or empty directory; it refuses any
//! other directory without an identity file, so it never deletes or
//! changes files it did not make.
//!
//! ```text
//! RUNLOG := "runlog database\n" "format-version " version "\n"
//! version := decimal digits (1 for this build)
//! ```
//!
//! Databases made before the identity file existed (a root holding only
//! `MANIFEST`, `MANIFEST.tmp`, `RUNLOG.tmp`, `LOCK`, `wal/` and
//! `segments/`, with a
//! `MANIFEST` or a `wal/`) are recognised, and a writer adds the file.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::manifest::sync_dir;
use crate::{Error, Result};

/// The identity file's name.
pub(crate) const IDENTITY: &str = "RUNLOG";

/// The database format version this build writes and reads.
pub const DATABASE_FORMAT_VERSION: u32 = 1;

const FIRST_LINE: &str = "runlog database\n";
const VERSION_PREFIX: &str = "format-version ";

/// The names a database root holds.
const KNOWN: [&str; 8] = [
    IDENTITY,
    "RUNLOG.tmp",
    "MANIFEST",
    "MANIFEST.tmp",
    "LOCK",
    "wal",
    "segments",
    "catalog",
];

/// What a directory turned out to hold.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Found {
    /// A database with its identity file.
    Database,
    /// A database made before identity files.
    Legacy,
    /// A new or empty directory.
    Empty,
}

/// What `dir` holds; an error for a directory that is not a runlog
/// database, or one of a newer format.
pub(crate) fn inspect(dir: &Path) -> Result<Found> {
    let path = dir.join(IDENTITY);
    match fs::read(&path) {
        Ok(bytes) => return check(&path, &bytes).map(|()| Found::Database),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io("read", &path, e)),
    }
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Found::Empty),
        Err(e) => return Err(Error::io("list", dir, e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("list", dir, e))?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    let foreign: Vec<&String> = names
        .iter()
        .filter(|n| !KNOWN.contains(&n.as_str()))
        .collect();
    let has = |name: &str| names.iter().any(|n| n == name);
    let segments_empty = is_empty_dir(&dir.join("segments"))?;
    if foreign.is_empty() && (has("MANIFEST") || has("wal")) {
        return Ok(Found::Legacy);
    }
    if foreign.is_empty() && segments_empty {
        return Ok(Found::Empty); // nothing, or what a failed first open left
    }
    let mut shown: Vec<String> = foreign.iter().take(5).map(|n| (*n).clone()).collect();
    if !segments_empty && !has("MANIFEST") && !has("wal") {
        shown.push("segments/ with files but no MANIFEST or wal/".into());
    }
    if foreign.len() > 5 {
        shown.push(format!("{} more", foreign.len() - 5));
    }
    Err(Error::NotADatabase {
        dir: dir.to_path_buf(),
        found: shown.join(", "),
    })
}

fn is_empty_dir(dir: &Path) -> Result<bool> {
    match fs::read_dir(dir) {
        Ok(mut entries) => Ok(entries.next().is_none()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(Error::io("list", dir, e)),
    }
}

/// Checks an identity file's bytes.
fn check(path: &Path, bytes: &[u8]) -> Result<()> {
    let corrupt = |offset: usize, reason: &str| Error::Corrupt {
        file: path.to_path_buf(),
        offset: offset as u64,
        reason: reason.to_string(),
    };
    let rest = bytes.strip_prefix(FIRST_LINE.as_bytes()).ok_or_else(|| {
        corrupt(
            0,
            "not a runlog identity file (its first line is not \"runlog database\")",
        )
    })?;
    let version = rest
        .strip_prefix(VERSION_PREFIX.as_bytes())
        .and_then(|v| v.strip_suffix(b"\n"))
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(|v| v.parse::<u32>().ok())
        .ok_or_else(|| {
            corrupt(
                FIRST_LINE.len(),
                "expected \"format-version N\" on the second line",
            )
        })?;
    if version != DATABASE_FORMAT_VERSION {
        return Err(Error::UnsupportedVersion {
            file: path.to_path_buf(),
            found: version,
            supported: DATABASE_FORMAT_VERSION,
        });
    }
    Ok(())
}

/// Writes the identity file durably (temporary file, fsync, rename, fsync
/// of the directory).
pub(crate) fn write(dir: &Path) -> Result<()> {
    let temp: PathBuf = dir.join("RUNLOG.tmp");
    let mut file = File::create(&temp).map_err(|e| Error::io("create", &temp, e))?;
    writeln!(
        file,
        "{FIRST_LINE}{VERSION_PREFIX}{DATABASE_FORMAT_VERSION}"
    )
    .and_then(|()| file.sync_all())
    .map_err(|e| Error::io("write", &temp, e))?;
    let path = dir.join(IDENTITY);
    fs::rename(&temp, &path).map_err(|e| Error::io("rename into place", &path, e))?;
    sync_dir(dir)
}
