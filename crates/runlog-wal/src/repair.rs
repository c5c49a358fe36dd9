//! Explicit repair of a damaged log: each damaged stretch that intact
//! records follow is replaced by filler records carrying the LSNs it held,
//! so the log reads again in sequence and every intact record after the
//! damage is kept. What was dropped is returned, never hidden. Opening a
//! log never repairs; only [`repair`] does, when a person asks for it.

use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::Corruption;
use crate::header::{self, HEADER_LEN};
use crate::names;
use crate::reader::WalReader;
use crate::record;
use crate::{Error, Lsn, RecoveryMode, Result};
use runlog_storage::Storage;

/// The most damaged stretches one repair replaces before giving up.
const MAX_REPAIRS: usize = 10_000;

/// One damaged stretch that [`repair`] replaced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dropped {
    /// The file.
    pub file: PathBuf,
    /// Where the damage started.
    pub offset: u64,
    /// How many bytes were replaced.
    pub bytes: u64,
    /// The LSNs whose records were lost (now filler records).
    pub lsns: RangeInclusive<Lsn>,
    /// What was wrong there.
    pub kind: Corruption,
}

/// Repairs the log in `dir`: every damaged stretch followed by an intact
/// record in the same file (or, in an older file, by the next file) is
/// replaced by one `filler` record per LSN it held, each file rewritten
/// through a temporary file, synced and renamed. A torn tail of the last
/// file is left for the writer to cut, as opening does. Damage that no
/// intact record follows in an older file cuts the rest of that file.
pub fn repair(storage: Arc<dyn Storage>, dir: &Path, filler: &[u8]) -> Result<Vec<Dropped>> {
    let mut dropped = Vec::new();
    for _ in 0..MAX_REPAIRS {
        match next_damage(&storage, dir)? {
            None => return Ok(dropped),
            Some(damage) => dropped.push(replace(&storage, dir, damage, filler)?),
        }
    }
    Err(Error::io(
        "repair",
        dir,
        std::io::Error::other(format!("more than {MAX_REPAIRS} damaged stretches")),
    ))
}

/// A damaged stretch: `file` from `offset` to `end`, where the record with
/// LSN `resume` (or the end of the file) takes over; `first_lost` is the
/// first LSN it held.
struct Damage {
    file: PathBuf,
    offset: u64,
    end: Option<u64>,
    first_lost: Lsn,
    resume: Lsn,
    kind: Corruption,
}

/// Reads the log until the first damage that repair may replace.
fn next_damage(storage: &Arc<dyn Storage>, dir: &Path) -> Result<Option<Damage>> {
    let files = names::list(storage.as_ref(), dir)?;
    let mut reader = WalReader::open(
        Arc::clone(storage),
        dir,
        RecoveryMode::TolerateCorruptTail,
        Lsn::FIRST,
    )?;
    let mut last_read: Option<Lsn> = None;
    for record in &mut reader {
        let (file, offset, kind) = match record {
            Ok(record) => {
                last_read = Some(record.lsn);
                continue;
            }
            Err(Error::Corrupt { file, offset, kind }) => (file, offset, kind),
            Err(other) => return Err(other),
        };
        let index = files.iter().position(|f| f.path == file);
        let first_lsn = index.map_or(Lsn::FIRST, |i| files[i].first_lsn);
        let first_lost = match last_read {
            Some(lsn) if offset > 0 && lsn >= first_lsn => lsn.next(),
            _ => first_lsn,
        };
        let (end, resume) = match &kind {
            Corruption::FollowedByIntactRecord {
                next_lsn,
                next_offset,
                ..
            } => (Some(*next_offset), *next_lsn),
            // Damage in an older file: an intact record after it in the
            // file takes over, or else the next file.
            _ => match intact_after(storage, &file, offset, first_lost)? {
                Some((at, lsn)) => (Some(at), lsn),
                None => match index.and_then(|i| files.get(i + 1)) {
                    Some(next) if next.first_lsn > first_lost => (None, next.first_lsn),
                    _ => return Err(Error::Corrupt { file, offset, kind }),
                },
            },
        };
        return Ok(Some(Damage {
            file,
            offset,
            end,
            first_lost,
            resume,
            kind,
        }));
    }
    Ok(None)
}

/// The first intact record in `file` after the damage at `offset`, with
/// an LSN after `first_lost`: its offset and LSN.
fn intact_after(
    storage: &Arc<dyn Storage>,
    file: &Path,
    offset: u64,
    first_lost: Lsn,
) -> Result<Option<(u64, Lsn)>> {
    let bytes = read_file(storage, file)?;
    let from = (offset as usize).min(bytes.len());
    Ok(record::find_intact_after(&bytes[from..], first_lost.next())
        .map(|(at, lsn)| (offset + at as u64, lsn)))
}

fn read_file(storage: &Arc<dyn Storage>, file: &Path) -> Result<Vec<u8>> {
    let read_error = |e| Error::io("read", file, e);
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(
        &mut storage.open_read(file).map_err(read_error)?,
        &mut bytes,
    )
    .map_err(read_error)?;
    Ok(bytes)
}

/// Rewrites the damaged file with filler records in place of the damage.
fn replace(
    storage: &Arc<dyn Storage>,
    dir: &Path,
    damage: Damage,
    filler: &[u8],
) -> Result<Dropped> {
    let read_error = |e| Error::io("read", &damage.file, e);
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(
        &mut storage.open_read(&damage.file).map_err(read_error)?,
        &mut bytes,
    )
    .map_err(read_error)?;
    let offset = damage.offset as usize;
    let end = damage.end.map_or(bytes.len(), |end| end as usize);
    let mut repaired = Vec::with_capacity(bytes.len());
    if offset == 0 {
        // The header itself was damaged: write it anew from the name.
        repaired.extend_from_slice(&header::encode(damage.first_lost));
    } else {
        repaired.extend_from_slice(&bytes[..offset]);
    }
    let mut lsn = damage.first_lost;
    while lsn < damage.resume {
        record::encode_into(&mut repaired, lsn, filler);
        lsn = lsn.next();
    }
    repaired.extend_from_slice(&bytes[end..]);
    let temp = damage.file.with_extension("log.repair");
    let write_error = |e| Error::io("write", &temp, e);
    let file = storage.create(&temp).map_err(write_error)?;
    file.append(&repaired).map_err(write_error)?;
    file.sync().map_err(write_error)?;
    storage
        .rename(&temp, &damage.file)
        .map_err(|e| Error::io("rename into place", &damage.file, e))?;
    storage
        .sync_dir(dir)
        .map_err(|e| Error::io("fsync directory", dir, e))?;
    let replaced_from = if offset == 0 { HEADER_LEN } else { offset };
    Ok(Dropped {
        file: damage.file,
        offset: damage.offset,
        bytes: end.saturating_sub(replaced_from) as u64,
        lsns: damage.first_lost..=Lsn(damage.resume.0 - 1),
        kind: damage.kind,
    })
}
