//! The manifest: which segment files make up the database, up to which WAL
//! record their points reach, and where the catalog is. One small file,
//! replaced atomically (write `MANIFEST.tmp`, fsync, rename, fsync the
//! directory), so every open sees one consistent state. The catalog itself
//! is in the catalog file (`catalog_file`), which flushes append to.
//!
//! ```text
//! manifest := "RUNLOGMF" version:u32 body_len:u64 body crc:u32   crc of body
//! body     := flushed_lsn:u64 next_segment:u64                  version 5
//!             segment_count:u32 (file_no:u64 level:u32)*            oldest first
//!             catalog_file:u64 catalog_len:u64 catalog_base_len:u64
//! ```
//!
//! Versions 1 to 4 held the whole catalog in the body instead (read by
//! `legacy`); `docs/design.md` describes every field of every version.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use runlog_wal::Storage;

use crate::catalog::Catalog;
use crate::catalog_file::{self, CatalogRef};
use crate::wire::{DecodeError, Decoder, Encoder};
use crate::{Error, Result};

mod legacy;

/// The manifest's file name in the database directory.
pub(crate) const MANIFEST: &str = "MANIFEST";
/// The manifest format version this build writes (it reads 1 to 4 as
/// well: version 2 adds the staged flag to a run's flags byte, version 3
/// the contents section, version 4 the experiments, and version 5 moves
/// the catalog to its own file).
pub(crate) const MANIFEST_VERSION: u32 = 5;
/// The oldest manifest version this build reads.
pub(crate) const OLDEST_MANIFEST_VERSION: u32 = 1;
const MAGIC: &[u8; 8] = b"RUNLOGMF";

/// A segment file in the manifest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SegmentEntry {
    pub file_no: u64,
    pub level: u32,
}

/// What a manifest says, with the catalog it points at read.
#[derive(Clone, Debug, Default)]
pub(crate) struct Manifest {
    /// Every WAL record up to this LSN is reflected in the segments.
    pub flushed_lsn: u64,
    pub next_segment: u64,
    pub segments: Vec<SegmentEntry>,
    pub catalog: Catalog,
    /// Where the catalog was read from; `None` if the manifest held it
    /// (version 4 or older) or there is no manifest.
    pub catalog_ref: Option<CatalogRef>,
    /// The catalog file's format version (0 without a catalog file).
    pub catalog_version: u32,
}

/// What this build writes into a manifest.
#[derive(Clone, Debug)]
pub(crate) struct ManifestHead {
    pub flushed_lsn: u64,
    pub next_segment: u64,
    pub segments: Vec<SegmentEntry>,
    pub catalog: CatalogRef,
}

impl ManifestHead {
    fn encode(&self) -> Vec<u8> {
        let mut e = Encoder::default();
        e.u64(self.flushed_lsn);
        e.u64(self.next_segment);
        e.len(self.segments.len());
        for s in &self.segments {
            e.u64(s.file_no);
            e.u32(s.level);
        }
        e.u64(self.catalog.file_no);
        e.u64(self.catalog.len);
        e.u64(self.catalog.base_len);
        e.bytes
    }

    fn decode(body: &[u8]) -> Result<ManifestHead, DecodeError> {
        let mut d = Decoder::new(body);
        let flushed_lsn = d.u64()?;
        let next_segment = d.u64()?;
        let segments = decode_segments(&mut d)?;
        let at = d.position();
        let catalog = CatalogRef {
            file_no: d.u64()?,
            len: d.u64()?,
            base_len: d.u64()?,
        };
        if catalog.base_len > catalog.len {
            return Err((
                at,
                format!(
                    "catalog base of {} bytes is longer than its {} bytes",
                    catalog.base_len, catalog.len
                ),
            ));
        }
        if !d.is_done() {
            return Err((d.position(), "bytes after the catalog reference".into()));
        }
        Ok(ManifestHead {
            flushed_lsn,
            next_segment,
            segments,
            catalog,
        })
    }

    /// Replaces the manifest in `dir` atomically and durably.
    pub(crate) fn write(&self, storage: &dyn Storage, dir: &Path) -> Result<()> {
        let body = self.encode();
        let mut bytes = Vec::with_capacity(body.len() + 24);
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&MANIFEST_VERSION.to_le_bytes());
        bytes.extend_from_slice(&(body.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&body);
        bytes.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
        let temp = dir.join("MANIFEST.tmp");
        let path = dir.join(MANIFEST);
        storage
            .create(&temp)
            .and_then(|file| file.append(&bytes).and_then(|()| file.sync()))
            .map_err(|e| Error::io("write", &temp, e))?;
        storage
            .rename(&temp, &path)
            .map_err(|e| Error::io("rename into place", &path, e))?;
        storage
            .sync_dir(dir)
            .map_err(|e| Error::io("fsync directory", dir, e))
    }
}

/// Reads `segment_count:u32 (file_no:u64 level:u32)*`.
pub(crate) fn decode_segments(d: &mut Decoder<'_>) -> Result<Vec<SegmentEntry>, DecodeError> {
    (0..d.len(12)?)
        .map(|_| {
            Ok(SegmentEntry {
                file_no: d.u64()?,
                level: d.u32()?,
            })
        })
        .collect()
}

/// A MANIFEST as stored: this build's head, which names the catalog file,
/// or an older manifest that holds the catalog itself.
#[derive(Debug)]
pub(crate) enum StoredManifest {
    Head(ManifestHead),
    Legacy(Box<Manifest>),
}

impl StoredManifest {
    /// Reads and checks the manifest in `dir`, without the catalog file;
    /// `None` if there is none (a new database).
    pub(crate) fn read(storage: &dyn Storage, dir: &Path) -> Result<Option<StoredManifest>> {
        let path = dir.join(MANIFEST);
        let read = storage.open_read(&path).and_then(|mut file| {
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes).map(|_| bytes)
        });
        let bytes = match read {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("read", &path, e)),
        };
        let corrupt = |offset: usize, reason: String| Error::Corrupt {
            file: path.clone(),
            offset: offset as u64,
            reason,
        };
        let mut d = Decoder::new(&bytes);
        let header = (|| Ok::<_, DecodeError>((d.u64()?, d.u32()?, d.u64()?)))()
            .map_err(|(at, reason)| corrupt(at, reason))?;
        let (magic, version, body_len) = header;
        if magic.to_le_bytes() != *MAGIC {
            return Err(corrupt(0, "not a runlog manifest (bad magic bytes)".into()));
        }
        let body_start = 20usize;
        let body_end = body_start
            .checked_add(usize::try_from(body_len).unwrap_or(usize::MAX))
            .filter(|&end| end.checked_add(4) == Some(bytes.len()))
            .ok_or_else(|| corrupt(12, format!("body length {body_len} does not fit the file")))?;
        let body = &bytes[body_start..body_end];
        let mut crc = [0u8; 4];
        crc.copy_from_slice(&bytes[body_end..]);
        let (expected, got) = (u32::from_le_bytes(crc), crc32fast::hash(body));
        if expected != got {
            return Err(corrupt(
                body_end,
                format!("checksum mismatch: stored {expected:#010x}, computed {got:#010x}"),
            ));
        }
        if !(OLDEST_MANIFEST_VERSION..=MANIFEST_VERSION).contains(&version) {
            return Err(Error::UnsupportedVersion {
                file: path,
                found: version,
                supported: MANIFEST_VERSION,
            });
        }
        if version < MANIFEST_VERSION {
            return legacy::decode(body, version)
                .map(|manifest| Some(StoredManifest::Legacy(Box::new(manifest))))
                .map_err(|(at, reason)| corrupt(body_start + at, reason));
        }
        ManifestHead::decode(body)
            .map(|head| Some(StoredManifest::Head(head)))
            .map_err(|(at, reason)| corrupt(body_start + at, reason))
    }

    /// The flushed LSN and the live segments: what tells one manifest from
    /// the next.
    pub(crate) fn listed(&self) -> (u64, &[SegmentEntry]) {
        match self {
            StoredManifest::Head(head) => (head.flushed_lsn, &head.segments),
            StoredManifest::Legacy(manifest) => (manifest.flushed_lsn, &manifest.segments),
        }
    }

    /// Bytes of the catalog file it names (0 for a legacy manifest).
    pub(crate) fn catalog_bytes(&self) -> u64 {
        match self {
            StoredManifest::Head(head) => head.catalog.len,
            StoredManifest::Legacy(_) => 0,
        }
    }
}

impl Manifest {
    /// Reads the manifest in `dir` and the catalog it names; `None` if there
    /// is none (a new database).
    pub(crate) fn read(storage: &dyn Storage, dir: &Path) -> Result<Option<Manifest>> {
        let head = match StoredManifest::read(storage, dir)? {
            None => return Ok(None),
            Some(StoredManifest::Legacy(manifest)) => return Ok(Some(*manifest)),
            Some(StoredManifest::Head(head)) => head,
        };
        let (catalog, catalog_version) = catalog_file::read(storage, dir, &head.catalog)?;
        Ok(Some(Manifest {
            flushed_lsn: head.flushed_lsn,
            next_segment: head.next_segment,
            segments: head.segments,
            catalog,
            catalog_ref: Some(head.catalog),
            catalog_version,
        }))
    }
}

/// Makes creations, renames and deletions in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io("fsync directory", dir, e))
}

/// The folder of a database's segment files.
pub(crate) const SEGMENTS_DIR: &str = "segments";

/// The path of segment file `file_no`.
pub(crate) fn segment_path(dir: &Path, file_no: u64) -> PathBuf {
    dir.join(SEGMENTS_DIR).join(format!("{file_no:016}.seg"))
}
