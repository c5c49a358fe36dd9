//! What a segment says of itself, in its metadata: the WAL records its
//! points come from and its compaction level. The MANIFEST is what lists
//! the live segments; this lets `repair` rebuild a lost MANIFEST from the
//! segment files alone (`rebuild`).
//!
//! ```text
//! provenance := version:u8 level:u32 first_lsn:u64 last_lsn:u64   21 bytes, version 1
//! ```
//!
//! A segment holds points of WAL records `first_lsn..=last_lsn` only, and
//! every live point of them that no other segment of that range holds. A
//! flush's segment starts right after the newest segment's range (records
//! in between produced no live points), so the segments of a database
//! cover the WAL's records without gaps; a merge's segment covers its
//! inputs' ranges, which are neighbours. Segments of format version 2 or
//! older carry no metadata, so no provenance.

use std::ops::RangeInclusive;
use std::path::Path;

use runlog_segment::SegmentReader;

use crate::{Error, Result};

/// The provenance format version this build writes and reads.
const PROVENANCE_VERSION: u8 = 1;
const PROVENANCE_LEN: usize = 21;

/// Where a segment's points come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Provenance {
    /// Its compaction level (0 for a flush).
    pub level: u32,
    /// The WAL records whose points it holds.
    pub lsns: RangeInclusive<u64>,
}

impl Provenance {
    /// The metadata bytes that a segment holds it as.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(PROVENANCE_LEN);
        bytes.push(PROVENANCE_VERSION);
        bytes.extend_from_slice(&self.level.to_le_bytes());
        bytes.extend_from_slice(&self.lsns.start().to_le_bytes());
        bytes.extend_from_slice(&self.lsns.end().to_le_bytes());
        bytes
    }

    /// Reads the provenance of the segment `reader` opened at `path`;
    /// `None` for a segment without metadata (format version 2 or older).
    pub(crate) fn of(reader: &SegmentReader, path: &Path) -> Result<Option<Provenance>> {
        let bytes = reader.metadata();
        if bytes.is_empty() {
            return Ok(None);
        }
        let at = reader.metadata_offset();
        let corrupt = |reason: String| Error::Corrupt {
            file: path.to_path_buf(),
            offset: at,
            reason,
        };
        if bytes[0] != PROVENANCE_VERSION {
            return Err(corrupt(format!(
                "segment provenance of version {}; this build reads version {PROVENANCE_VERSION}",
                bytes[0]
            )));
        }
        if bytes.len() != PROVENANCE_LEN {
            return Err(corrupt(format!(
                "segment provenance of {} bytes, not {PROVENANCE_LEN}",
                bytes.len()
            )));
        }
        let u64_at = |i: usize| u64::from_le_bytes(bytes[i..i + 8].try_into().expect("8 bytes"));
        let level = u32::from_le_bytes(bytes[1..5].try_into().expect("4 bytes"));
        let (first, last) = (u64_at(5), u64_at(13));
        if first == 0 || first > last {
            return Err(corrupt(format!(
                "segment provenance names WAL records {first} to {last}"
            )));
        }
        Ok(Some(Provenance {
            level,
            lsns: first..=last,
        }))
    }
}
