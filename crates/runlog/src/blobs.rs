//! The blob store: content-addressed files under `blobs/`, holding artifacts
//! and the sealed chunks of text streams. A blob is named by the BLAKE3
//! hash of its content, so the same bytes logged twice are stored once.
//!
//! ```text
//! blobs/<first 2 hex digits>/<64 hex digits>.blob
//! blob    := "RUNLOGBL" version:u32 codec:u8 zero:u8{3} raw_len:u64
//!            stored_len:u64 hash:[u8; 32] payload_crc:u32
//!            header_crc:u32                                  crc of bytes 0..68
//!            payload                                         stored_len bytes
//! codec   := 0 stored as is | 1 one zstd frame
//! ```
//!
//! The header is covered by its CRC, the stored payload by `payload_crc`,
//! and the content by its hash (checked after decompression); a read
//! checks all three by the time it reaches the end. `docs/format-blob.md` draws the layout.
//!
//! Crash rule: a blob is written to a temporary file, fsynced, and renamed
//! to its name (the directory fsynced) before the WAL record that names it
//! is appended. Blobs that no run references are deleted on the next
//! writer open, and after the manifest that records their release.

use std::collections::HashMap;
use std::fmt;
use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Take, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::manifest::sync_dir;
use crate::{Error, Result};

/// The blob format version this build writes and reads.
pub const BLOB_FORMAT_VERSION: u32 = 1;
const MAGIC: &[u8; 8] = b"RUNLOGBL";
/// Header bytes before the payload.
pub(crate) const HEADER_LEN: u64 = 72;
/// Bytes read from a source at a time (and tried for compression).
const BLOCK: usize = 1 << 20;
/// Compression is kept only if it saves at least a tenth of the bytes.
const WORTH_KEEPING: f64 = 0.9;
const ZSTD_LEVEL: i32 = 3;
const SUFFIX: &str = ".blob";
const TEMP_PREFIX: &str = "tmp-";
const TEMP_SUFFIX: &str = ".blobtmp";

/// The BLAKE3 hash of a blob's content, which names it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobHash(pub [u8; 32]);

impl fmt::Display for BlobHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for BlobHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlobHash({self})")
    }
}

impl FromStr for BlobHash {
    type Err = String;

    /// Parses 64 lowercase or uppercase hex digits.
    fn from_str(s: &str) -> Result<BlobHash, String> {
        let bytes = s.as_bytes();
        if bytes.len() != 64 {
            return Err(format!(
                "a blob hash has 64 hex digits, not {}",
                bytes.len()
            ));
        }
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            let text = std::str::from_utf8(pair).map_err(|_| "not hex".to_string())?;
            out[i] = u8::from_str_radix(text, 16).map_err(|_| format!("{text:?} is not hex"))?;
        }
        Ok(BlobHash(out))
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for BlobHash {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// How a blob's payload is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Codec {
    Raw,
    Zstd,
}

impl Codec {
    fn code(self) -> u8 {
        match self {
            Codec::Raw => 0,
            Codec::Zstd => 1,
        }
    }
}

/// A blob just written, pinned against collection until dropped (the
/// writer drops it once the WAL record naming the blob is applied).
#[derive(Debug)]
pub(crate) struct Written<'a> {
    pub hash: BlobHash,
    /// Content bytes.
    pub size: u64,
    store: &'a BlobStore,
}

impl Drop for Written<'_> {
    fn drop(&mut self) {
        let mut pinned = self.store.pinned.lock();
        if let Some(count) = pinned.get_mut(&self.hash) {
            *count -= 1;
            if *count == 0 {
                pinned.remove(&self.hash);
            }
        }
    }
}

/// What writing a blob can end in besides success.
#[derive(Debug)]
pub(crate) enum WriteError {
    /// The source held more than the limit; nothing was kept.
    TooLarge,
    /// Reading the source failed; nothing was kept.
    Source(io::Error),
    /// The store failed.
    Store(Error),
}

impl From<Error> for WriteError {
    fn from(error: Error) -> WriteError {
        WriteError::Store(error)
    }
}

/// The blob directory of one database.
#[derive(Debug)]
pub(crate) struct BlobStore {
    dir: PathBuf,
    /// Blobs being put: never collected, however few references they have.
    pinned: Mutex<HashMap<BlobHash, usize>>,
}

static NEXT_TEMP: AtomicU64 = AtomicU64::new(0);

impl BlobStore {
    /// The store in `db_dir/blobs` (created on the first write).
    pub(crate) fn new(db_dir: &Path) -> BlobStore {
        BlobStore {
            dir: db_dir.join("blobs"),
            pinned: Mutex::new(HashMap::new()),
        }
    }

    /// The file of blob `hash`.
    pub(crate) fn path(&self, hash: &BlobHash) -> PathBuf {
        let name = hash.to_string();
        self.dir.join(&name[..2]).join(name + SUFFIX)
    }

    /// Streams `source` into a new blob (or finds it already stored), in
    /// memory bounded by one block whatever its size, refusing more than
    /// `max_bytes`. The blob is durable and in place when this returns.
    pub(crate) fn write(
        &self,
        source: &mut dyn Read,
        max_bytes: u64,
    ) -> Result<Written<'_>, WriteError> {
        fs::create_dir_all(&self.dir).map_err(|e| Error::io("create", &self.dir, e))?;
        let temp = self.dir.join(format!(
            "{TEMP_PREFIX}{}-{}{TEMP_SUFFIX}",
            std::process::id(),
            NEXT_TEMP.fetch_add(1, Ordering::Relaxed)
        ));
        let result = self.write_temp(&temp, source, max_bytes);
        let (hash, size) = match result {
            Ok(done) => done,
            Err(error) => {
                let _ = fs::remove_file(&temp);
                return Err(error);
            }
        };
        *self.pinned.lock().entry(hash).or_default() += 1;
        let written = Written {
            hash,
            size,
            store: self,
        };
        let path = self.path(&hash);
        if path.exists() {
            fs::remove_file(&temp).map_err(|e| Error::io("delete", &temp, e))?;
            return Ok(written);
        }
        let parent = path.parent().expect("a blob path has a parent");
        if !parent.exists() {
            fs::create_dir_all(parent).map_err(|e| Error::io("create", parent, e))?;
            sync_dir(&self.dir)?;
        }
        fs::rename(&temp, &path).map_err(|e| Error::io("rename into place", &path, e))?;
        sync_dir(parent)?;
        sync_dir(&self.dir)?;
        Ok(written)
    }

    /// Stores bytes held in memory, with no limit.
    pub(crate) fn write_bytes(&self, bytes: &[u8]) -> Result<Written<'_>> {
        self.write(&mut &bytes[..], u64::MAX)
            .map_err(|error| match error {
                WriteError::Store(error) => error,
                WriteError::Source(e) => Error::io("write a blob in", &self.dir, e),
                WriteError::TooLarge => Error::io(
                    "write a blob in",
                    &self.dir,
                    io::Error::other("more than u64::MAX bytes"),
                ),
            })
    }

    /// Writes the temporary file; returns the content's hash and size.
    fn write_temp(
        &self,
        temp: &Path,
        source: &mut dyn Read,
        max_bytes: u64,
    ) -> Result<(BlobHash, u64), WriteError> {
        let io_error = |e| WriteError::Store(Error::io("write", temp, e));
        let mut file = File::create(temp).map_err(|e| Error::io("create", temp, e))?;
        file.write_all(&[0u8; HEADER_LEN as usize])
            .map_err(io_error)?;
        let mut hasher = blake3::Hasher::new();
        let mut size = 0u64;
        let mut block = vec![0u8; BLOCK];
        let mut filled = fill(source, &mut block).map_err(WriteError::Source)?;
        let codec = choose_codec(&block[..filled]);
        let out = CrcWriter::new(BufWriter::with_capacity(BLOCK, &mut file));
        let mut sink = Sink::new(out, codec).map_err(io_error)?;
        while filled > 0 {
            size += filled as u64;
            if size > max_bytes {
                return Err(WriteError::TooLarge);
            }
            hasher.update(&block[..filled]);
            sink.write_all(&block[..filled]).map_err(io_error)?;
            filled = fill(source, &mut block).map_err(WriteError::Source)?;
        }
        let payload_crc = sink.finish().map_err(io_error)?;
        let stored_len = file.stream_position().map_err(io_error)? - HEADER_LEN;
        let hash = BlobHash(*hasher.finalize().as_bytes());
        let header = header(codec, size, stored_len, &hash, payload_crc);
        file.seek(SeekFrom::Start(0)).map_err(io_error)?;
        file.write_all(&header).map_err(io_error)?;
        file.sync_all().map_err(io_error)?;
        Ok((hash, size))
    }

    /// Opens blob `hash` for reading; the reader checks the content hash
    /// when it reaches the end and fails with [`Error::Corrupt`] inside an
    /// `io::Error` of kind `InvalidData` if it does not match.
    pub(crate) fn open(&self, hash: &BlobHash) -> Result<BlobReader> {
        let path = self.path(hash);
        let mut file = File::open(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Error::MissingFile {
                file: path.clone(),
                why: format!("the catalog names blob {hash}"),
            },
            _ => Error::io("open", &path, e),
        })?;
        let file_len = file
            .metadata()
            .map_err(|e| Error::io("read the size of", &path, e))?
            .len();
        let mut bytes = [0u8; HEADER_LEN as usize];
        let corrupt = |offset: u64, reason: String| Error::Corrupt {
            file: path.clone(),
            offset,
            reason,
        };
        file.read_exact(&mut bytes).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => {
                corrupt(0, format!("{file_len} bytes, shorter than a blob header"))
            }
            _ => Error::io("read", &path, e),
        })?;
        let header = parse_header(&bytes).map_err(|(at, why)| corrupt(at, why))?;
        if header.hash != *hash {
            return Err(corrupt(
                32,
                format!("the header names blob {}", header.hash),
            ));
        }
        if HEADER_LEN.checked_add(header.stored_len) != Some(file_len) {
            return Err(corrupt(
                file_len.min(HEADER_LEN + header.stored_len),
                format!(
                    "the header promises {} payload bytes, the file holds {}",
                    header.stored_len,
                    file_len.saturating_sub(HEADER_LEN)
                ),
            ));
        }
        let payload =
            CrcReader::new(BufReader::with_capacity(256 << 10, file).take(header.stored_len));
        let source = match header.codec {
            Codec::Raw => Source::Raw(payload),
            Codec::Zstd => Source::Zstd(Box::new(
                zstd::stream::read::Decoder::with_buffer(payload)
                    .map_err(|e| Error::io("start decompressing", &path, e))?
                    .single_frame(),
            )),
        };
        Ok(BlobReader {
            path,
            source,
            hasher: blake3::Hasher::new(),
            seen: 0,
            raw_len: header.raw_len,
            hash: *hash,
            payload_crc: header.payload_crc,
            checked: false,
        })
    }

    /// The whole content of blob `hash`, checked.
    pub(crate) fn read_all(&self, hash: &BlobHash) -> Result<Vec<u8>> {
        let mut reader = self.open(hash)?;
        let mut out = Vec::with_capacity(usize::try_from(reader.raw_len).unwrap_or(0));
        let path = reader.path.clone();
        reader
            .read_to_end(&mut out)
            .map_err(|e| engine_error(e, &path))?;
        Ok(out)
    }

    /// Reads blob `hash` through and checks it; returns its file's size.
    pub(crate) fn verify(&self, hash: &BlobHash) -> Result<u64> {
        let mut reader = self.open(hash)?;
        let path = reader.path.clone();
        io::copy(&mut reader, &mut io::sink()).map_err(|e| engine_error(e, &path))?;
        fs::metadata(&path)
            .map(|m| m.len())
            .map_err(|e| Error::io("read the size of", &path, e))
    }

    /// The size of blob `hash`'s file, if it exists.
    pub(crate) fn stored_len(&self, hash: &BlobHash) -> Option<u64> {
        fs::metadata(self.path(hash)).ok().map(|m| m.len())
    }

    /// Deletes blob `hash` unless it is being put; `still_unused` is asked
    /// while puts are held off, so a blob taken again meanwhile stays.
    pub(crate) fn remove_if(
        &self,
        hash: &BlobHash,
        still_unused: impl FnOnce() -> bool,
    ) -> Result<()> {
        let pinned = self.pinned.lock();
        if pinned.contains_key(hash) || !still_unused() {
            return Ok(());
        }
        let path = self.path(hash);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io("delete", &path, e)),
        }
    }

    /// Deletes temporary files that a put cut short left, and every blob
    /// for which `referenced` says no: only files named as this store
    /// names them. Returns how many blobs it deleted.
    pub(crate) fn collect(&self, referenced: impl Fn(&BlobHash) -> bool) -> Result<usize> {
        let mut deleted = 0;
        for (path, hash) in self.files()? {
            let orphan = match hash {
                Some(hash) => !referenced(&hash),
                None => true,
            };
            if orphan {
                fs::remove_file(&path).map_err(|e| Error::io("delete orphan", &path, e))?;
                deleted += usize::from(hash.is_some());
            }
        }
        Ok(deleted)
    }

    /// Every file of the store's naming: blobs with their hash, temporary
    /// files with none.
    pub(crate) fn files(&self) -> Result<Vec<(PathBuf, Option<BlobHash>)>> {
        let mut out = Vec::new();
        for entry in list(&self.dir)? {
            let name = entry.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.starts_with(TEMP_PREFIX) && name.ends_with(TEMP_SUFFIX) {
                out.push((entry.clone(), None));
            } else if name.len() == 2 && entry.is_dir() {
                for file in list(&entry)? {
                    let hash = file
                        .file_name()
                        .and_then(|n| n.to_str())
                        .and_then(|n| n.strip_suffix(SUFFIX))
                        .filter(|hex| hex.starts_with(name))
                        .and_then(|hex| hex.parse::<BlobHash>().ok());
                    if let Some(hash) = hash {
                        out.push((file, Some(hash)));
                    }
                }
            }
        }
        Ok(out)
    }
}

/// The entries of `dir`, none if it does not exist.
fn list(dir: &Path) -> Result<Vec<PathBuf>> {
    match fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.map(|e| e.path()).map_err(|e| Error::io("list", dir, e)))
            .collect(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(Error::io("list", dir, e)),
    }
}

/// The engine error inside an `io::Error` a [`BlobReader`] returned.
pub(crate) fn engine_error(error: io::Error, path: &Path) -> Error {
    if error.get_ref().is_some_and(|inner| inner.is::<Error>()) {
        let inner = error.into_inner().expect("checked above");
        return *inner.downcast::<Error>().expect("checked above");
    }
    Error::io("read", path, error)
}

/// Reads until `block` is full or the source ends; returns the bytes read.
fn fill(source: &mut dyn Read, block: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < block.len() {
        match source.read(&mut block[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// zstd if it shrinks the first block by a tenth or more (text, JSON,
/// logs), else as is (PNG, JPEG, checkpoints of random-looking floats).
fn choose_codec(first_block: &[u8]) -> Codec {
    if first_block.len() < 64 {
        return Codec::Raw;
    }
    match zstd::bulk::compress(first_block, ZSTD_LEVEL) {
        Ok(small) if (small.len() as f64) <= WORTH_KEEPING * first_block.len() as f64 => {
            Codec::Zstd
        }
        _ => Codec::Raw,
    }
}

/// Where payload bytes go: the file, through zstd or not.
enum Sink<W: Write> {
    Raw(W),
    Zstd(zstd::stream::write::Encoder<'static, W>),
}

impl<W: Write> Sink<W> {
    fn new(out: W, codec: Codec) -> io::Result<Sink<W>> {
        Ok(match codec {
            Codec::Raw => Sink::Raw(out),
            Codec::Zstd => Sink::Zstd(zstd::stream::write::Encoder::new(out, ZSTD_LEVEL)?),
        })
    }

    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Sink::Raw(out) => out.write_all(bytes),
            Sink::Zstd(out) => out.write_all(bytes),
        }
    }
}

impl<W: Write> Sink<CrcWriter<W>> {
    /// Flushes everything; returns the CRC of the bytes written.
    fn finish(self) -> io::Result<u32> {
        let mut out = match self {
            Sink::Raw(out) => out,
            Sink::Zstd(out) => out.finish()?,
        };
        out.inner.flush()?;
        Ok(out.crc.finalize())
    }
}

/// A writer that keeps the CRC of what passes through it.
struct CrcWriter<W> {
    inner: W,
    crc: crc32fast::Hasher,
}

impl<W: Write> CrcWriter<W> {
    fn new(inner: W) -> CrcWriter<W> {
        CrcWriter {
            inner,
            crc: crc32fast::Hasher::new(),
        }
    }
}

impl<W: Write> Write for CrcWriter<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(bytes)?;
        self.crc.update(&bytes[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A buffered reader that keeps the CRC of what is read through it.
struct CrcReader<R> {
    inner: R,
    crc: crc32fast::Hasher,
}

impl<R: io::BufRead> CrcReader<R> {
    fn new(inner: R) -> CrcReader<R> {
        CrcReader {
            inner,
            crc: crc32fast::Hasher::new(),
        }
    }

    /// Reads the rest, and returns the CRC of everything.
    fn finish(&mut self) -> io::Result<u32> {
        io::copy(self, &mut io::sink())?;
        Ok(self.crc.clone().finalize())
    }
}

impl<R: io::BufRead> Read for CrcReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.crc.update(&buf[..n]);
        Ok(n)
    }
}

impl<R: io::BufRead> io::BufRead for CrcReader<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        if let Ok(bytes) = self.inner.fill_buf() {
            self.crc.update(&bytes[..amount.min(bytes.len())]);
        }
        self.inner.consume(amount);
    }
}

fn header(
    codec: Codec,
    raw_len: u64,
    stored_len: u64,
    hash: &BlobHash,
    payload_crc: u32,
) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(HEADER_LEN as usize);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&BLOB_FORMAT_VERSION.to_le_bytes());
    bytes.extend_from_slice(&[codec.code(), 0, 0, 0]);
    bytes.extend_from_slice(&raw_len.to_le_bytes());
    bytes.extend_from_slice(&stored_len.to_le_bytes());
    bytes.extend_from_slice(&hash.0);
    bytes.extend_from_slice(&payload_crc.to_le_bytes());
    let crc = crc32fast::hash(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
    bytes
}

struct Header {
    codec: Codec,
    raw_len: u64,
    stored_len: u64,
    hash: BlobHash,
    payload_crc: u32,
}

fn parse_header(bytes: &[u8; HEADER_LEN as usize]) -> Result<Header, (u64, String)> {
    if &bytes[..8] != MAGIC {
        return Err((0, "not a runlog blob (bad magic bytes)".into()));
    }
    let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
    let stored_crc = u32::from_le_bytes(bytes[68..72].try_into().expect("4 bytes"));
    let crc = crc32fast::hash(&bytes[..68]);
    if crc != stored_crc {
        return Err((
            68,
            format!("header checksum mismatch: stored {stored_crc:#010x}, computed {crc:#010x}"),
        ));
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
    if version != BLOB_FORMAT_VERSION {
        return Err((
            8,
            format!("blob format version {version}; this build reads {BLOB_FORMAT_VERSION}"),
        ));
    }
    let codec = match bytes[12] {
        0 => Codec::Raw,
        1 => Codec::Zstd,
        other => return Err((12, format!("unknown codec {other}"))),
    };
    let mut hash = [0u8; 32];
    hash.copy_from_slice(&bytes[32..64]);
    Ok(Header {
        codec,
        raw_len: word(16),
        stored_len: word(24),
        hash: BlobHash(hash),
        payload_crc: u32::from_le_bytes(bytes[64..68].try_into().expect("4 bytes")),
    })
}

type Payload = CrcReader<Take<BufReader<File>>>;

enum Source {
    Raw(Payload),
    Zstd(Box<zstd::stream::read::Decoder<'static, Payload>>),
}

/// A blob's content as a stream, checked against its hash at the end.
pub struct BlobReader {
    path: PathBuf,
    source: Source,
    hasher: blake3::Hasher,
    seen: u64,
    raw_len: u64,
    hash: BlobHash,
    payload_crc: u32,
    checked: bool,
}

impl fmt::Debug for BlobReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlobReader")
            .field("path", &self.path)
            .field("seen", &self.seen)
            .field("len", &self.raw_len)
            .finish()
    }
}

impl BlobReader {
    /// The content's length in bytes.
    pub fn len(&self) -> u64 {
        self.raw_len
    }

    /// Whether the content is empty.
    pub fn is_empty(&self) -> bool {
        self.raw_len == 0
    }

    fn corrupt(&self, reason: String) -> io::Error {
        io::Error::new(
            io::ErrorKind::InvalidData,
            Error::Corrupt {
                file: self.path.clone(),
                offset: HEADER_LEN,
                reason,
            },
        )
    }
}

impl Read for BlobReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() || self.checked {
            return Ok(0);
        }
        let n = match &mut self.source {
            Source::Raw(r) => r.read(buf),
            Source::Zstd(r) => r.read(buf),
        }
        .map_err(|e| match e.kind() {
            io::ErrorKind::Interrupted => e,
            _ => self.corrupt(format!("the payload does not decode: {e}")),
        })?;
        self.hasher.update(&buf[..n]);
        self.seen += n as u64;
        if self.seen > self.raw_len {
            return Err(self.corrupt(format!(
                "the payload holds more than the {} bytes the header promises",
                self.raw_len
            )));
        }
        if n == 0 {
            let payload = match &mut self.source {
                Source::Raw(r) => r,
                Source::Zstd(r) => r.get_mut(),
            };
            let crc = payload.finish()?;
            if crc != self.payload_crc {
                return Err(self.corrupt(format!(
                    "payload checksum mismatch: stored {:#010x}, computed {crc:#010x}",
                    self.payload_crc
                )));
            }
            if self.seen != self.raw_len {
                return Err(self.corrupt(format!(
                    "the payload ends after {} of {} bytes",
                    self.seen, self.raw_len
                )));
            }
            let got = BlobHash(*self.hasher.finalize().as_bytes());
            if got != self.hash {
                return Err(self.corrupt(format!(
                    "content hash mismatch: the content hashes to {got}"
                )));
            }
            self.checked = true;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(store: &BlobStore, bytes: &[u8]) -> (BlobHash, u64) {
        let hash = store.write(&mut &bytes[..], u64::MAX).unwrap().hash;
        (hash, store.stored_len(&hash).unwrap())
    }

    #[test]
    fn blobs_round_trip_compressing_only_what_pays() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::new(dir.path());
        let text = "step 1 loss 0.5\n".repeat(10_000).into_bytes();
        let mut noise = vec![0u8; 300_000];
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for byte in &mut noise {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *byte = x as u8;
        }
        for (bytes, compressed) in [(&text, true), (&noise, false), (&Vec::new(), false)] {
            let (hash, stored) = put(&store, bytes);
            assert_eq!(hash.0, *blake3::hash(bytes).as_bytes());
            assert_eq!(store.read_all(&hash).unwrap(), *bytes);
            assert_eq!(
                stored < bytes.len() as u64,
                compressed,
                "{} bytes stored in {stored}",
                bytes.len()
            );
            assert_eq!(store.verify(&hash).unwrap(), stored);
        }
        // The same content is stored once.
        let (again, _) = put(&store, &text);
        let blobs = store.files().unwrap();
        assert_eq!(blobs.len(), 3);
        assert!(blobs.iter().any(|(_, h)| *h == Some(again)));
    }

    #[test]
    fn a_source_over_the_limit_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::new(dir.path());
        let bytes = vec![7u8; 3 * BLOCK + 5];
        assert!(matches!(
            store.write(&mut &bytes[..], 3 * BLOCK as u64),
            Err(WriteError::TooLarge)
        ));
        assert!(store.files().unwrap().is_empty());
        assert!(store.write(&mut &bytes[..], bytes.len() as u64).is_ok());
    }

    #[test]
    fn every_damaged_byte_is_caught() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::new(dir.path());
        for content in [b"hello artifacts ".repeat(40), (0..=255u8).collect()] {
            let (hash, stored) = put(&store, &content);
            let path = store.path(&hash);
            let good = fs::read(&path).unwrap();
            for at in 0..stored as usize {
                let mut bad = good.clone();
                bad[at] ^= 0x10;
                fs::write(&path, &bad).unwrap();
                let error = store.verify(&hash).unwrap_err();
                assert!(
                    matches!(error, Error::Corrupt { ref file, .. } if *file == path),
                    "byte {at}: {error}"
                );
            }
            fs::write(&path, &good[..good.len() - 1]).unwrap();
            assert!(matches!(store.verify(&hash), Err(Error::Corrupt { .. })));
            fs::write(&path, &good).unwrap();
            assert!(store.verify(&hash).is_ok());
        }
    }

    #[test]
    fn collection_keeps_pinned_and_referenced_blobs_and_foreign_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::new(dir.path());
        let (kept, _) = put(&store, b"kept");
        let (dropped, _) = put(&store, b"dropped");
        let pinned = store.write(&mut &b"pinned"[..], 100).unwrap();
        store.remove_if(&pinned.hash, || true).unwrap();
        assert!(store.path(&pinned.hash).exists());
        fs::write(dir.path().join("blobs/notes.txt"), "mine").unwrap();
        fs::write(dir.path().join("blobs/tmp-1-2.blobtmp"), "cut short").unwrap();
        let deleted = store.collect(|h| *h == kept || *h == pinned.hash).unwrap();
        assert_eq!(deleted, 1);
        assert!(!store.path(&dropped).exists());
        assert!(store.path(&kept).exists());
        assert!(dir.path().join("blobs/notes.txt").exists());
        assert!(!dir.path().join("blobs/tmp-1-2.blobtmp").exists());
        let hash = pinned.hash;
        drop(pinned);
        store.remove_if(&hash, || true).unwrap();
        assert!(!store.path(&hash).exists());
    }
}
