//! What every reader of a segment checks first: the header, the trailer,
//! where the footer lies, and (version 3 on) the footer's block table.

use std::ops::Range;
use std::path::Path;

use crate::error::Corruption;
use crate::format::footer_blocks::BlockTable;
use crate::format::header::{self, HEADER_LEN, HeaderError};
use crate::format::trailer::{TRAILER_LEN, Trailer};
use crate::format::{FORMAT_VERSION, METADATA_VERSION, OLDEST_READABLE_VERSION};
use crate::{Error, Result};

/// A segment's checked frame around its footer.
#[derive(Debug)]
pub(crate) struct Envelope {
    /// The format version.
    pub version: u32,
    /// Where the footer lies in the file.
    pub footer: Range<usize>,
    /// The CRC of the whole footer.
    pub footer_crc: u32,
    /// The CRCs of the footer's blocks (`None` before version 3).
    pub blocks: Option<BlockTable>,
}

impl Envelope {
    /// Checks the header, the trailer and the footer's bounds in `bytes`
    /// (the file at `path`), and reads the block table; the footer itself
    /// is not read.
    pub(crate) fn open(path: &Path, bytes: &[u8]) -> Result<Envelope> {
        let len = bytes.len();
        if len < HEADER_LEN + TRAILER_LEN {
            return Err(corrupt(path, 0, Corruption::TooShort { len: len as u64 }));
        }
        let version = match header::check(bytes) {
            Ok(version) => version,
            Err(HeaderError::Corrupt(kind)) => return Err(corrupt(path, 0, kind)),
            Err(HeaderError::UnsupportedVersion(found)) => {
                return Err(Error::UnsupportedVersion {
                    file: path.to_path_buf(),
                    found,
                    oldest: OLDEST_READABLE_VERSION,
                    newest: FORMAT_VERSION,
                });
            }
        };
        let trailer_at = len - TRAILER_LEN;
        let mut trailer_bytes = [0u8; TRAILER_LEN];
        trailer_bytes.copy_from_slice(&bytes[trailer_at..]);
        // The header was a segment's: no trailer magic at the end means a
        // cut or overwritten end, not another kind of file.
        let trailer = Trailer::decode(&trailer_bytes)
            .map_err(|kind| match kind {
                Corruption::BadMagic => Corruption::MissingTrailer { len: len as u64 },
                other => other,
            })
            .map_err(|kind| corrupt(path, trailer_at as u64, kind))?;
        let footer_end = trailer
            .footer_offset
            .checked_add(trailer.footer_len)
            .filter(|&end| trailer.footer_offset >= HEADER_LEN as u64 && end <= trailer_at as u64);
        let outside = || {
            corrupt(
                path,
                trailer_at as u64,
                Corruption::Structure("footer does not end where the trailer starts"),
            )
        };
        let footer_end = footer_end.ok_or_else(outside)? as usize;
        let blocks = if version >= METADATA_VERSION {
            let table = BlockTable::decode(&bytes[footer_end..trailer_at], trailer.footer_len)
                .map_err(|(at, kind)| corrupt(path, footer_end as u64 + at, kind))?;
            Some(table)
        } else if footer_end != trailer_at {
            return Err(outside());
        } else {
            None
        };
        Ok(Envelope {
            version,
            footer: trailer.footer_offset as usize..footer_end,
            footer_crc: trailer.footer_crc,
            blocks,
        })
    }
}

/// A `Corrupt` error naming `path` and `offset`.
pub(crate) fn corrupt(path: &Path, offset: u64, kind: Corruption) -> Error {
    Error::Corrupt {
        file: path.to_path_buf(),
        offset,
        kind,
    }
}
