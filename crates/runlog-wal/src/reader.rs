//! Reading a log back: every intact record, in LSN order, from a given LSN.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;

use crate::error::Corruption;
use crate::file_cursor::FileCursor;
use crate::header::{self, HEADER_LEN, HeaderError};
use crate::names::{self, LogFile};
use crate::record::{self, RECORD_HEADER_LEN};
use crate::{Error, Lsn, RecoveryMode, Result};
use runlog_storage::Storage;

/// A record read back from the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Its log sequence number.
    pub lsn: Lsn,
    /// The bytes appended, shared with the buffer the file was read into.
    pub payload: Bytes,
    /// The file it was read from (for messages about its payload).
    pub file: Arc<Path>,
    /// Where its frame starts in that file; the payload starts
    /// [`crate::RECORD_HEADER_LEN`] bytes later.
    pub offset: u64,
}

/// How the readable part of the log ends.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Tail {
    /// The log ends with an intact record (or a file header).
    #[default]
    Clean,
    /// The last file is torn or damaged from `offset` on. Under
    /// [`RecoveryMode::TolerateCorruptTail`] the records before it are read
    /// and a writer cuts the file there.
    Corrupt {
        /// The last file.
        file: PathBuf,
        /// Where the damage starts.
        offset: u64,
        /// What is wrong.
        kind: Corruption,
    },
}

/// Streams the intact records of a log directory in LSN order.
///
/// The reader never writes: a second process may read a log while its writer
/// appends (use [`RecoveryMode::TolerateCorruptTail`] there, since the record
/// being written looks torn). It stops at the first error it returns.
#[derive(Debug)]
pub struct WalReader {
    storage: Arc<dyn Storage>,
    mode: RecoveryMode,
    from: Lsn,
    files: Vec<LogFile>,
    next_file: usize,
    current: Option<OpenFile>,
    /// The LSN the next record must carry, once known.
    expected: Option<Lsn>,
    tail: Tail,
    finished: bool,
}

#[derive(Debug)]
struct OpenFile {
    path: PathBuf,
    /// The same path, shared by the records read from the file.
    shared_path: Arc<Path>,
    is_last: bool,
    cursor: FileCursor,
}

impl WalReader {
    /// Reads the log in `dir`, returning the records with LSN `from` or later.
    ///
    /// Files that hold only records below `from` are not read at all.
    pub fn open(
        storage: Arc<dyn Storage>,
        dir: &Path,
        mode: RecoveryMode,
        from: Lsn,
    ) -> Result<WalReader> {
        let files = names::list(storage.as_ref(), dir)?;
        Ok(WalReader {
            storage,
            mode,
            from,
            files,
            next_file: 0,
            current: None,
            expected: None,
            tail: Tail::Clean,
            finished: false,
        })
    }

    /// How the log ended; meaningful once the iterator returned `None`.
    pub fn tail(&self) -> &Tail {
        &self.tail
    }

    /// The LSN a record appended after the last intact one would get;
    /// meaningful once the iterator returned `None`.
    pub fn next_lsn(&self) -> Lsn {
        self.expected
            .or_else(|| self.files.last().map(|f| f.first_lsn))
            .unwrap_or(Lsn::FIRST)
    }

    /// The last file and the length of its intact part, if the log has files.
    pub(crate) fn last_file(&self) -> Option<(&LogFile, u64)> {
        let last = self.files.last()?;
        let intact = match (&self.tail, &self.current) {
            (Tail::Corrupt { offset, .. }, _) => *offset,
            (Tail::Clean, Some(open)) => open.cursor.offset(),
            (Tail::Clean, None) => HEADER_LEN as u64,
        };
        Some((last, intact))
    }

    /// Every file but the last one.
    pub(crate) fn older_files(&self) -> impl Iterator<Item = &LogFile> {
        let older = self.files.len().saturating_sub(1);
        self.files[..older].iter()
    }

    /// Opens file `index`, checking its place in the sequence and its header.
    fn open_file(&mut self, index: usize) -> Result<(), Option<Error>> {
        let file = self.files[index].clone();
        let is_last = index + 1 == self.files.len();
        if let Some(expected) = self.expected
            && file.first_lsn != expected
        {
            let kind = Corruption::OutOfSequence {
                expected,
                found: file.first_lsn,
            };
            // A gap between files is never a torn tail.
            return Err(Some(self.fail(&file.path, 0, kind)));
        }
        let read_error = |e| Some(Error::io("read", &file.path, e));
        let source = self.storage.open_read(&file.path).map_err(read_error)?;
        let mut cursor = FileCursor::new(source);
        let header_damage = match header::decode(cursor.fill(HEADER_LEN).map_err(read_error)?) {
            Ok(first_lsn) if first_lsn == file.first_lsn => None,
            Ok(header_lsn) => Some(Corruption::NameMismatch {
                name: file.first_lsn,
                header: header_lsn,
            }),
            Err(HeaderError::Corrupt(kind)) => Some(kind),
            Err(HeaderError::UnsupportedVersion(found)) => {
                self.finished = true;
                return Err(Some(Error::UnsupportedVersion {
                    file: file.path,
                    found,
                    supported: header::FORMAT_VERSION,
                }));
            }
        };
        if let Some(kind) = header_damage {
            // A damaged header before intact records is no torn tail either.
            let kind = after_damage(&mut cursor, file.first_lsn, kind);
            return Err(self.tolerate_or_fail(is_last, &file.path, 0, kind));
        }
        cursor.take(HEADER_LEN);
        self.expected = Some(file.first_lsn);
        self.current = Some(OpenFile {
            shared_path: Arc::from(file.path.as_path()),
            path: file.path,
            is_last,
            cursor,
        });
        Ok(())
    }

    /// Ends the iteration at damage found in `path` at `offset`: a tolerated
    /// tail (returns `None`) or an error.
    fn tolerate_or_fail(
        &mut self,
        is_last: bool,
        path: &Path,
        offset: u64,
        kind: Corruption,
    ) -> Option<Error> {
        let torn = !matches!(kind, Corruption::FollowedByIntactRecord { .. });
        if is_last && torn && self.mode == RecoveryMode::TolerateCorruptTail {
            self.finished = true;
            self.tail = Tail::Corrupt {
                file: path.to_path_buf(),
                offset,
                kind,
            };
            None
        } else {
            Some(self.fail(path, offset, kind))
        }
    }

    /// Ends the iteration with a corruption error.
    fn fail(&mut self, path: &Path, offset: u64, kind: Corruption) -> Error {
        self.finished = true;
        Error::Corrupt {
            file: path.to_path_buf(),
            offset,
            kind,
        }
    }
}

/// `kind`, or, when an intact record with an LSN of at least `min_lsn`
/// follows the damage at the cursor, the damage that this makes it:
/// corruption, not a torn tail.
fn after_damage(cursor: &mut FileCursor, min_lsn: Lsn, kind: Corruption) -> Corruption {
    let offset = cursor.offset();
    let Ok(rest) = cursor.fill(usize::MAX) else {
        return kind;
    };
    match record::find_intact_after(rest, min_lsn) {
        Some((at, next_lsn)) => Corruption::FollowedByIntactRecord {
            damage: Box::new(kind),
            next_lsn,
            next_offset: offset + at as u64,
        },
        None => kind,
    }
}

impl Iterator for WalReader {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Result<Record>> {
        loop {
            if self.finished {
                return None;
            }
            let Some(open) = &mut self.current else {
                let index = self.next_file;
                if index == self.files.len() {
                    self.finished = true;
                    return None;
                }
                self.next_file += 1;
                let only_older = self
                    .files
                    .get(index + 1)
                    .is_some_and(|next| next.first_lsn <= self.from);
                if only_older {
                    self.expected = None;
                    continue;
                }
                match self.open_file(index) {
                    Ok(()) => continue,
                    Err(error) => return error.map(Err),
                }
            };
            let frame_len = match open.cursor.fill(RECORD_HEADER_LEN) {
                Ok([]) => {
                    // The last file stays open so that `last_file` knows its length.
                    if open.is_last {
                        self.finished = true;
                    } else {
                        self.current = None;
                    }
                    continue;
                }
                Ok(header) => Ok(record::frame_len(header).unwrap_or(RECORD_HEADER_LEN)),
                Err(e) => Err(e),
            };
            let frame = match frame_len.and_then(|len| open.cursor.fill(len)) {
                Ok(frame) => frame,
                Err(e) => {
                    self.finished = true;
                    return Some(Err(Error::io("read", &open.path, e)));
                }
            };
            let expected = self.expected.unwrap_or(Lsn::FIRST);
            let decoded = record::decode(frame).and_then(|frame| {
                if frame.lsn == expected {
                    Ok(frame)
                } else {
                    Err(Corruption::LsnMismatch {
                        expected,
                        found: frame.lsn,
                    })
                }
            });
            match decoded {
                Ok(frame) => {
                    let offset = open.cursor.offset();
                    let bytes = open.cursor.take(frame.payload.end);
                    self.expected = Some(frame.lsn.next());
                    if frame.lsn >= self.from {
                        return Some(Ok(Record {
                            lsn: frame.lsn,
                            payload: bytes.slice(frame.payload),
                            file: Arc::clone(&open.shared_path),
                            offset,
                        }));
                    }
                }
                Err(kind) => {
                    let (is_last, path, offset) =
                        (open.is_last, open.path.clone(), open.cursor.offset());
                    let kind = if is_last {
                        // A torn tail has nothing intact after it.
                        after_damage(&mut open.cursor, expected.next(), kind)
                    } else {
                        kind
                    };
                    return self.tolerate_or_fail(is_last, &path, offset, kind).map(Err);
                }
            }
        }
    }
}
