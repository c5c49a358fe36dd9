//! `repair`: what a person runs on a database that refuses to open because
//! of damage, never run implicitly. It drops damaged WAL records that
//! intact ones follow (each replaced by an empty write call with the same
//! LSN, so every intact record after it is kept), rebuilds a lost or
//! damaged MANIFEST (`manifest_rebuild`), starts a lost WAL again, and says
//! what it dropped and what it could not do.

use std::path::Path;
use std::sync::Arc;

use runlog_wal::{Dropped, FsStorage, Lsn, Wal};

use crate::db::{catalog_files, has_wal_files, segment_files};
use crate::identity::{self, Found};
use crate::manifest::{self, MANIFEST, StoredManifest};
use crate::manifest_rebuild;
use crate::ops::Record;
use crate::{Error, Result, lock};

/// What [`repair`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RepairReport {
    /// The damaged WAL stretches dropped: file, offset, bytes and the LSNs
    /// of the write calls lost.
    pub wal_dropped: Vec<Dropped>,
    /// What it found and left as it was, and why.
    pub notes: Vec<String>,
}

/// Repairs the database in `dir` (see the module docs). Takes the writer
/// lock, so it never runs beside a writer; refuses a directory that is not
/// a database.
pub fn repair(dir: &Path) -> Result<RepairReport> {
    if identity::inspect(dir)? == Found::Empty {
        return Err(Error::NotADatabase {
            dir: dir.to_path_buf(),
            found: "nothing".into(),
        });
    }
    let _lock = lock::acquire(dir)?;
    let mut report = RepairReport::default();
    let wal_dir = dir.join("wal");
    if wal_dir.is_dir() {
        let mut filler = Vec::new();
        Record::default().encode_into(&mut filler);
        report.wal_dropped = runlog_wal::repair(Arc::new(FsStorage), &wal_dir, &filler)?;
    }
    match StoredManifest::read(&FsStorage, dir) {
        Ok(Some(_)) => {}
        Ok(None) => {
            if !segment_files(&FsStorage, dir)?.is_empty()
                || !catalog_files(&FsStorage, dir)?.is_empty()
            {
                report.notes.push(
                    "the MANIFEST is missing: rebuilding it from the segment and catalog files"
                        .into(),
                );
                report.notes.extend(manifest_rebuild::rebuild(dir)?);
            }
        }
        Err(damage @ Error::Corrupt { .. }) => {
            let path = dir.join(MANIFEST);
            let aside = dir.join("MANIFEST.damaged");
            std::fs::rename(&path, &aside).map_err(|e| Error::io("rename aside", &path, e))?;
            manifest::sync_dir(dir)?;
            report.notes.push(format!(
                "the MANIFEST is damaged ({damage}): renamed it {}, and rebuilding it from the segment and catalog files",
                aside.display()
            ));
            report.notes.extend(manifest_rebuild::rebuild(dir)?);
        }
        Err(other) => return Err(other),
    }
    if let Some(manifest) = StoredManifest::read(&FsStorage, dir)?
        && !has_wal_files(&FsStorage, dir)?
    {
        // Start the WAL again right after the manifest.
        let next = Lsn(manifest.listed().0 + 1);
        Wal::builder(&wal_dir)
            .replay_and_open(next, |_| {})?
            .close()?;
        report.notes.push(format!(
            "the WAL was missing: started it again at record {next}; write calls made after the last flush, if any, are lost"
        ));
    }
    Ok(report)
}
