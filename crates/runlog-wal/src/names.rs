//! Log file names: the first LSN of the file, as 20 decimal digits, then `.log`.

use std::path::{Path, PathBuf};

use crate::{Error, Lsn, Result};
use runlog_storage::Storage;

const SUFFIX: &str = ".log";
const DIGITS: usize = 20;

/// The file name of the log file whose first record is `first_lsn`.
pub(crate) fn file_name(first_lsn: Lsn) -> String {
    format!("{:020}{SUFFIX}", first_lsn.0)
}

/// The first LSN named by `name`, if `name` is a log file name.
pub(crate) fn parse(name: &str) -> Option<Lsn> {
    let digits = name.strip_suffix(SUFFIX)?;
    if digits.len() != DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().map(Lsn)
}

/// A log file in the directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LogFile {
    /// The LSN its name gives.
    pub first_lsn: Lsn,
    /// Its path.
    pub path: PathBuf,
}

/// The log files in `dir`, ascending by first LSN, as `(first LSN, path)`:
/// for tools and the engine, which must not parse the names themselves.
/// Other files are ignored; a missing directory holds none.
pub fn log_files(storage: &dyn Storage, dir: &Path) -> Result<Vec<(Lsn, PathBuf)>> {
    match list(storage, dir) {
        Ok(files) => Ok(files.into_iter().map(|f| (f.first_lsn, f.path)).collect()),
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            Ok(Vec::new())
        }
        Err(e) => Err(e),
    }
}

/// The log files in `dir`, ascending by first LSN. Other files are ignored.
pub(crate) fn list(storage: &dyn Storage, dir: &Path) -> Result<Vec<LogFile>> {
    let names = storage
        .list_dir(dir)
        .map_err(|e| Error::io("list", dir, e))?;
    let mut files: Vec<LogFile> = names
        .iter()
        .filter_map(|name| {
            parse(name).map(|first_lsn| LogFile {
                first_lsn,
                path: dir.join(name),
            })
        })
        .collect();
    files.sort_by_key(|f| f.first_lsn);
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_sort_like_numbers() {
        assert_eq!(file_name(Lsn(1)), "00000000000000000001.log");
        assert_eq!(parse(&file_name(Lsn(u64::MAX))), Some(Lsn(u64::MAX)));
        assert_eq!(parse("1.log"), None);
        assert_eq!(parse("0000000000000000000a.log"), None);
        assert_eq!(parse("00000000000000000001.log.tmp"), None);
    }
}
