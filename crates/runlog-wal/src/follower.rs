//! Following a log while its writer appends: each intact record once, in
//! LSN order, from a chosen LSN on, without reading again what was read.
//!
//! A follower keeps the file it reads open and remembers the offset after
//! the last record it handed out, so a poll costs a read of the new bytes
//! only. The open file stays readable after the writer deletes it (a
//! flush truncating the log), so records are lost to a follower only if a
//! whole later file is written and deleted between two polls; it then says
//! which LSNs it could not read ([`Followed::Removed`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;

use crate::error::Corruption;
use crate::header::{self, HEADER_LEN, HeaderError};
use crate::names::{self, LogFile};
use crate::reader::Record;
use crate::record::{self, RECORD_HEADER_LEN};
use crate::{Error, Lsn, Result};
use runlog_storage::{ReadAt, Storage};

/// The bytes one read asks for at least.
const READ_AHEAD: usize = 64 << 10;

/// What one [`WalFollower::poll`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Followed {
    /// The next record.
    Record(Record),
    /// Nothing new yet: the writer has not appended (or not finished
    /// appending) the next record.
    Idle,
    /// Records `from..=to` were deleted (flushed and truncated) before the
    /// follower could read them; following goes on after them.
    Removed {
        /// The first LSN not read.
        from: Lsn,
        /// The last LSN not read.
        to: Lsn,
    },
}

/// Follows a log directory from one LSN on (see the module docs).
#[derive(Debug)]
pub struct WalFollower {
    storage: Arc<dyn Storage>,
    dir: PathBuf,
    next: Lsn,
    file: Option<OpenFile>,
}

#[derive(Debug)]
struct OpenFile {
    first_lsn: Lsn,
    path: PathBuf,
    /// The same path, shared by the records read from the file.
    shared_path: Arc<Path>,
    reader: Box<dyn ReadAt>,
    /// The offset after the last record taken from this file.
    offset: u64,
    /// Bytes read ahead: `buffer[0]` is at file offset `buffer_at`.
    buffer: Vec<u8>,
    buffer_at: u64,
}

impl OpenFile {
    /// At most `len` bytes from `offset` on: fewer where the file ends.
    fn bytes_at(&mut self, offset: u64, len: usize) -> std::io::Result<&[u8]> {
        let covered = offset >= self.buffer_at
            && offset + len as u64 <= self.buffer_at + self.buffer.len() as u64;
        if !covered {
            self.buffer.resize(len.max(READ_AHEAD), 0);
            let read = self.reader.read_at(&mut self.buffer, offset)?;
            self.buffer.truncate(read);
            self.buffer_at = offset;
        }
        let start = (offset - self.buffer_at) as usize;
        let end = (start + len).min(self.buffer.len());
        Ok(&self.buffer[start..end])
    }

    /// Forgets bytes read ahead: the end of a file may still be being
    /// written, so what was read there must be read again next time.
    fn forget(&mut self) {
        self.buffer.clear();
    }
}

/// What the bytes at a file's read offset hold.
enum Next {
    Frame {
        lsn: Lsn,
        len: usize,
        payload: Bytes,
    },
    /// Too few bytes, or bytes that do not (yet) form a record.
    Unfinished(Corruption),
}

impl WalFollower {
    /// A follower of the log in `dir` whose first record handed out is
    /// `from` (usually one past what the caller has already seen).
    ///
    /// The file holding `from` is opened at once, if it exists, so that a
    /// flush deleting it before the first poll cannot take its records.
    pub fn new(storage: Arc<dyn Storage>, dir: &Path, from: Lsn) -> WalFollower {
        let mut follower = WalFollower {
            storage,
            dir: dir.to_path_buf(),
            next: from,
            file: None,
        };
        let holds_from = names::list(follower.storage.as_ref(), dir)
            .is_ok_and(|files| files.iter().any(|f| f.first_lsn <= from));
        if holds_from {
            // A failure here is met again, and reported, by the first poll.
            let _ = follower.open_next();
        }
        follower
    }

    /// The LSN of the next record this follower will hand out.
    pub fn next_lsn(&self) -> Lsn {
        self.next
    }

    /// The next record, if the writer has appended it.
    pub fn poll(&mut self) -> Result<Followed> {
        loop {
            if self.file.is_none() {
                match self.open_next()? {
                    Some(Followed::Idle) => {}
                    Some(other) => return Ok(other),
                    None => continue,
                }
                if self.file.is_none() {
                    return Ok(Followed::Idle);
                }
            }
            let file = self.file.as_mut().expect("opened above");
            let offset = file.offset;
            let next = match read_next(file) {
                Ok(next) => next,
                // Storage that cannot read a deleted file (unlike an open
                // descriptor): look for the record in the files left.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    self.file = None;
                    continue;
                }
                Err(e) => return Err(Error::io("read", &file.path, e)),
            };
            match next {
                Next::Frame { lsn, len, .. } if lsn < self.next => {
                    // Before the first record asked for: pass over it.
                    file.offset += len as u64;
                }
                Next::Frame { lsn, len, payload } if lsn == self.next => {
                    file.offset += len as u64;
                    self.next = lsn.next();
                    return Ok(Followed::Record(Record {
                        lsn,
                        payload,
                        file: Arc::clone(&file.shared_path),
                        offset,
                    }));
                }
                Next::Frame { lsn, .. } => {
                    return Err(Error::Corrupt {
                        file: file.path.clone(),
                        offset,
                        kind: Corruption::LsnMismatch {
                            expected: self.next,
                            found: lsn,
                        },
                    });
                }
                Next::Unfinished(kind) => {
                    file.forget();
                    // The writer moved on to a new file: this one ends here.
                    let files = names::list(self.storage.as_ref(), &self.dir)?;
                    let moved_on = file.first_lsn != self.next;
                    if moved_on && files.iter().any(|f| f.first_lsn == self.next) {
                        self.file = None;
                        continue;
                    }
                    if files.iter().any(|f| f.first_lsn > self.next) {
                        // A later file exists, yet this one stops short of
                        // the record it needs: damage, not a write under way.
                        return Err(Error::Corrupt {
                            file: file.path.clone(),
                            offset,
                            kind,
                        });
                    }
                    return Ok(Followed::Idle);
                }
            }
        }
    }

    /// Opens the file that holds the next record. `Some(Idle)` when there is
    /// none yet (or its header is not yet written), `Some(Removed)` when the
    /// files holding it are gone, `None` when a file was opened.
    fn open_next(&mut self) -> Result<Option<Followed>> {
        let files = match names::list(self.storage.as_ref(), &self.dir) {
            Ok(files) => files,
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Some(Followed::Idle));
            }
            Err(e) => return Err(e),
        };
        let Some(holder) = files.iter().rev().find(|f| f.first_lsn <= self.next) else {
            return Ok(Some(match files.first() {
                Some(first) => {
                    let from = self.next;
                    self.next = first.first_lsn;
                    Followed::Removed {
                        from,
                        to: Lsn(first.first_lsn.0 - 1),
                    }
                }
                None => Followed::Idle,
            }));
        };
        let LogFile { first_lsn, path } = holder.clone();
        let reader = match self.storage.open_read_at(&path) {
            Ok(reader) => reader,
            // Deleted between the listing and the open: list again.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("open", &path, e)),
        };
        let mut file = OpenFile {
            first_lsn,
            shared_path: Arc::from(path.as_path()),
            path,
            reader,
            offset: HEADER_LEN as u64,
            buffer: Vec::new(),
            buffer_at: 0,
        };
        let path = file.path.clone();
        let head = file
            .bytes_at(0, HEADER_LEN)
            .map_err(|e| Error::io("read", &path, e))?;
        if head.len() < HEADER_LEN {
            return Ok(Some(Followed::Idle)); // just created
        }
        match header::decode(head) {
            Ok(lsn) if lsn == first_lsn => {}
            Ok(header) => {
                return Err(Error::Corrupt {
                    file: path,
                    offset: 0,
                    kind: Corruption::NameMismatch {
                        name: first_lsn,
                        header,
                    },
                });
            }
            Err(HeaderError::Corrupt(kind)) => {
                return Err(Error::Corrupt {
                    file: path,
                    offset: 0,
                    kind,
                });
            }
            Err(HeaderError::UnsupportedVersion(found)) => {
                return Err(Error::UnsupportedVersion {
                    file: path,
                    found,
                    supported: header::FORMAT_VERSION,
                });
            }
        }
        self.file = Some(file);
        Ok(None)
    }
}

/// Decodes the record at `file`'s offset, without taking it.
fn read_next(file: &mut OpenFile) -> std::io::Result<Next> {
    let offset = file.offset;
    let head = file.bytes_at(offset, RECORD_HEADER_LEN)?;
    let Some(len) = record::frame_len(head) else {
        return Ok(Next::Unfinished(match head.len() {
            n if n < RECORD_HEADER_LEN => Corruption::Truncated {
                needed: RECORD_HEADER_LEN as u64,
                available: n as u64,
            },
            _ => Corruption::LengthOutOfRange {
                len: u64::from(header::u32_at(head, 4)),
            },
        }));
    };
    let frame = file.bytes_at(offset, len)?;
    Ok(match record::decode(frame) {
        Ok(decoded) => Next::Frame {
            lsn: decoded.lsn,
            len,
            payload: Bytes::copy_from_slice(&frame[decoded.payload]),
        },
        Err(kind) => Next::Unfinished(kind),
    })
}
