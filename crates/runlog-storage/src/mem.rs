//! An in-memory [`Storage`] that models what survives a crash.
//!
//! Every file has a *live* image (what reads see now) and a *durable* image
//! (what the last `sync` made durable). Creations and deletions of files are
//! durable only after `sync_dir`; until then a crash keeps a random prefix of
//! them, in the order they were made (metadata journaled in order, as ext4,
//! XFS and btrfs do). [`MemStorage::crash`] builds the storage a machine would
//! find after losing power: each file's durable bytes plus a random prefix of
//! the unsynced ones, sometimes with a hole of zeros in that prefix (sectors
//! written out of order). Writes and fsyncs can be made to fail on demand.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::{FileBytes, ReadAt, Storage, StorageFile};

/// In-memory files with a live and a durable image, and fault injection.
///
/// Clones share the same files.
#[derive(Clone, Debug, Default)]
pub struct MemStorage {
    fs: Arc<Mutex<MemFs>>,
}

#[derive(Debug, Default)]
struct MemFs {
    dirs: BTreeSet<PathBuf>,
    files: BTreeMap<PathBuf, FileImage>,
    /// Creations and deletions not yet made durable, oldest first.
    unsynced_dir_ops: Vec<DirOp>,
    writes_before_failure: Option<u64>,
    syncs_before_failure: Option<u64>,
    sync_latency: Duration,
    write_calls: u64,
    sync_calls: u64,
}

#[derive(Clone, Debug, Default)]
struct FileImage {
    live: Vec<u8>,
    durable: Vec<u8>,
    /// Whether `live` was cut or recreated since the last sync, so that
    /// `durable` may no longer be a prefix of it.
    rewritten_since_sync: bool,
    /// How many of `durable`'s first bytes `live` still holds as they
    /// were synced: a cut to a length keeps the bytes below it, a
    /// recreation none. Only read while `rewritten_since_sync`.
    untouched: usize,
}

#[derive(Debug)]
enum DirOp {
    Create(PathBuf),
    Remove(PathBuf, FileImage),
    /// A rename of `from` (whose image it was) over `to` (and what `to`
    /// held before, if anything).
    Rename {
        from: PathBuf,
        to: PathBuf,
        moved: FileImage,
        replaced: Option<FileImage>,
    },
}

impl DirOp {
    fn path(&self) -> &Path {
        match self {
            DirOp::Create(path) | DirOp::Remove(path, _) => path,
            DirOp::Rename { to, .. } => to,
        }
    }
}

/// Counts of the calls made to a [`MemStorage`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemStats {
    /// Calls to [`StorageFile::append`].
    pub writes: u64,
    /// Calls to [`StorageFile::sync`] and [`Storage::sync_dir`].
    pub syncs: u64,
}

impl MemStorage {
    /// An empty storage.
    pub fn new() -> MemStorage {
        MemStorage::default()
    }

    /// Lets `n` more appends succeed, then fails the next one after writing
    /// only half of its bytes. The fault fires once.
    pub fn fail_write_after(&self, n: u64) {
        self.fs.lock().writes_before_failure = Some(n);
    }

    /// Lets `n` more fsyncs (file or directory) succeed, then fails the next
    /// one without making anything durable. The fault fires once.
    pub fn fail_sync_after(&self, n: u64) {
        self.fs.lock().syncs_before_failure = Some(n);
    }

    /// Makes every file fsync take `latency`, as a disk would (default: none).
    pub fn set_sync_latency(&self, latency: Duration) {
        self.fs.lock().sync_latency = latency;
    }

    /// How many writes and syncs were made so far.
    pub fn stats(&self) -> MemStats {
        let fs = self.fs.lock();
        MemStats {
            writes: fs.write_calls,
            syncs: fs.sync_calls,
        }
    }

    /// What a read of the file at `path` sees now: every byte written,
    /// synced or not.
    pub fn contents(&self, path: &Path) -> io::Result<Vec<u8>> {
        Ok(self.fs.lock().image(path)?.live.clone())
    }

    /// The files as a power cut at this instant could leave them, chosen by
    /// `seed`: durable bytes kept, unsynced bytes dropped or torn, unsynced
    /// creations and deletions kept up to a random point.
    pub fn crash(&self, seed: u64) -> MemStorage {
        let mut rng = SplitMix64(seed);
        let fs = self.fs.lock();
        let mut files = fs.files.clone();
        let kept_ops = rng.below(fs.unsynced_dir_ops.len() as u64 + 1) as usize;
        for op in fs.unsynced_dir_ops[kept_ops..].iter().rev() {
            match op {
                DirOp::Create(path) => {
                    files.remove(path);
                }
                DirOp::Remove(path, image) => {
                    files.insert(path.clone(), image.clone());
                }
                DirOp::Rename {
                    from,
                    to,
                    moved,
                    replaced,
                } => {
                    files.remove(to);
                    files.insert(from.clone(), moved.clone());
                    if let Some(replaced) = replaced {
                        files.insert(to.clone(), replaced.clone());
                    }
                }
            }
        }
        let files = files
            .into_iter()
            .map(|(path, image)| {
                let survived = image.after_crash(&mut rng);
                (
                    path,
                    FileImage {
                        live: survived.clone(),
                        durable: survived,
                        rewritten_since_sync: false,
                        untouched: 0,
                    },
                )
            })
            .collect();
        MemStorage {
            fs: Arc::new(Mutex::new(MemFs {
                dirs: fs.dirs.clone(),
                files,
                ..MemFs::default()
            })),
        }
    }

    fn file(&self, path: &Path) -> Arc<dyn StorageFile> {
        Arc::new(MemFile {
            fs: Arc::clone(&self.fs),
            path: path.to_path_buf(),
        })
    }
}

impl FileImage {
    fn after_crash(&self, rng: &mut SplitMix64) -> Vec<u8> {
        if self.rewritten_since_sync {
            // The cut or rewrite may or may not have reached the disk;
            // synced bytes it did not reach are kept either way.
            return if rng.below(2) == 0 {
                self.durable.clone()
            } else {
                torn_prefix(&self.live, self.untouched, rng)
            };
        }
        torn_prefix(&self.live, self.durable.len(), rng)
    }
}

/// `bytes[..durable]` intact, then a random prefix of the rest, in which a
/// random range is sometimes zeroed.
fn torn_prefix(bytes: &[u8], durable: usize, rng: &mut SplitMix64) -> Vec<u8> {
    let pending = (bytes.len() - durable) as u64;
    let keep = durable + rng.below(pending + 1) as usize;
    let mut out = bytes[..keep].to_vec();
    if keep > durable && rng.below(3) == 0 {
        let start = durable + rng.below((keep - durable) as u64) as usize;
        let end = start + 1 + rng.below((keep - start) as u64) as usize;
        out[start..end].fill(0);
    }
    out
}

impl MemFs {
    fn injected_fault(counter: &mut Option<u64>) -> bool {
        match counter {
            Some(0) => {
                *counter = None;
                true
            }
            Some(n) => {
                *n -= 1;
                false
            }
            None => false,
        }
    }

    fn sync_fault(&mut self) -> io::Result<()> {
        self.sync_calls += 1;
        if MemFs::injected_fault(&mut self.syncs_before_failure) {
            return Err(io::Error::other("injected fsync failure"));
        }
        Ok(())
    }

    fn image(&mut self, path: &Path) -> io::Result<&mut FileImage> {
        self.files.get_mut(path).ok_or_else(|| not_found(path))
    }
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("no such file: {}", path.display()),
    )
}

impl Storage for MemStorage {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        self.fs.lock().dirs.insert(dir.to_path_buf());
        Ok(())
    }

    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>> {
        let fs = self.fs.lock();
        if !fs.dirs.contains(dir) {
            return Err(not_found(dir));
        }
        Ok(fs
            .files
            .keys()
            .filter(|path| path.parent() == Some(dir))
            .filter_map(|path| path.file_name()?.to_str().map(str::to_owned))
            .collect())
    }

    fn open_read(&self, path: &Path) -> io::Result<Box<dyn Read + Send>> {
        Ok(Box::new(io::Cursor::new(self.contents(path)?)))
    }

    fn open_read_at(&self, path: &Path) -> io::Result<Box<dyn ReadAt>> {
        self.fs.lock().image(path)?;
        Ok(Box::new(MemFile {
            fs: Arc::clone(&self.fs),
            path: path.to_path_buf(),
        }))
    }

    fn map_immutable(&self, path: &Path) -> io::Result<FileBytes> {
        self.contents(path).map(FileBytes::from)
    }

    fn create(&self, path: &Path) -> io::Result<Arc<dyn StorageFile>> {
        let mut fs = self.fs.lock();
        match fs.files.get_mut(path) {
            Some(image) => {
                image.live.clear();
                image.rewritten_since_sync = true;
                image.untouched = 0;
            }
            None => {
                fs.files.insert(path.to_path_buf(), FileImage::default());
                fs.unsynced_dir_ops.push(DirOp::Create(path.to_path_buf()));
            }
        }
        drop(fs);
        Ok(self.file(path))
    }

    fn open_append(&self, path: &Path) -> io::Result<Arc<dyn StorageFile>> {
        self.fs.lock().image(path)?;
        Ok(self.file(path))
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        let mut fs = self.fs.lock();
        let image = fs.files.remove(path).ok_or_else(|| not_found(path))?;
        fs.unsynced_dir_ops
            .push(DirOp::Remove(path.to_path_buf(), image));
        Ok(())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut fs = self.fs.lock();
        let moved = fs.files.remove(from).ok_or_else(|| not_found(from))?;
        let replaced = fs.files.insert(to.to_path_buf(), moved.clone());
        fs.unsynced_dir_ops.push(DirOp::Rename {
            from: from.to_path_buf(),
            to: to.to_path_buf(),
            moved,
            replaced,
        });
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut fs = self.fs.lock();
        fs.sync_fault()?;
        fs.unsynced_dir_ops
            .retain(|op| op.path().parent() != Some(dir));
        Ok(())
    }
}

/// A handle on one in-memory file.
#[derive(Debug)]
struct MemFile {
    fs: Arc<Mutex<MemFs>>,
    path: PathBuf,
}

impl ReadAt for MemFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let mut fs = self.fs.lock();
        let live = &fs.image(&self.path)?.live;
        let start = usize::try_from(offset).map_or(live.len(), |o| o.min(live.len()));
        let n = buf.len().min(live.len() - start);
        buf[..n].copy_from_slice(&live[start..start + n]);
        Ok(n)
    }
}

impl StorageFile for MemFile {
    fn append(&self, buf: &[u8]) -> io::Result<()> {
        let mut fs = self.fs.lock();
        fs.write_calls += 1;
        let fail = MemFs::injected_fault(&mut fs.writes_before_failure);
        let image = fs.image(&self.path)?;
        if fail {
            image.live.extend_from_slice(&buf[..buf.len() / 2]);
            return Err(io::Error::other("injected write failure"));
        }
        image.live.extend_from_slice(buf);
        Ok(())
    }

    fn sync(&self) -> io::Result<()> {
        let latency = self.fs.lock().sync_latency;
        if !latency.is_zero() {
            // Outside the lock, so other handles keep working meanwhile.
            std::thread::sleep(latency);
        }
        let mut fs = self.fs.lock();
        fs.sync_fault()?;
        let image = fs.image(&self.path)?;
        if image.rewritten_since_sync {
            image.durable.clone_from(&image.live);
            image.rewritten_since_sync = false;
        } else {
            let synced = image.durable.len();
            let FileImage { live, durable, .. } = image;
            durable.extend_from_slice(&live[synced..]);
        }
        Ok(())
    }

    fn truncate(&self, len: u64) -> io::Result<()> {
        let mut fs = self.fs.lock();
        let image = fs.image(&self.path)?;
        let len = usize::try_from(len).map_err(io::Error::other)?;
        image.live.resize(len, 0);
        image.untouched = if image.rewritten_since_sync {
            image.untouched.min(len)
        } else {
            image.durable.len().min(len)
        };
        image.rewritten_since_sync = true;
        Ok(())
    }
}

/// A tiny deterministic generator, so crashes replay from their seed.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crash_keeps_synced_bytes_and_drops_unsynced_creations() {
        let storage = MemStorage::new();
        let dir = Path::new("/db");
        storage.create_dir_all(dir).unwrap();
        let kept = storage.create(&dir.join("a")).unwrap();
        kept.append(b"durable").unwrap();
        kept.sync().unwrap();
        storage.sync_dir(dir).unwrap();
        kept.append(b" pending").unwrap();
        storage.create(&dir.join("b")).unwrap();
        for seed in 0..64 {
            let after = storage.crash(seed);
            let a = after.contents(&dir.join("a")).unwrap();
            assert!(a.starts_with(b"durable"), "seed {seed}: {a:?}");
            assert!(a.len() <= b"durable pending".len());
        }
        let outcomes: BTreeSet<bool> = (0..64)
            .map(|seed| storage.crash(seed).contents(&dir.join("b")).is_ok())
            .collect();
        assert_eq!(
            outcomes.len(),
            2,
            "an unsynced creation may or may not survive"
        );
    }

    #[test]
    fn injected_faults_fire_once_at_the_chosen_call() {
        let storage = MemStorage::new();
        let dir = Path::new("/db");
        storage.create_dir_all(dir).unwrap();
        let file = storage.create(&dir.join("a")).unwrap();
        storage.fail_write_after(1);
        file.append(b"ok").unwrap();
        assert!(file.append(b"half").is_err());
        file.append(b"!").unwrap();
        assert_eq!(storage.contents(&dir.join("a")).unwrap(), b"okha!");
        storage.fail_sync_after(0);
        assert!(file.sync().is_err());
        file.sync().unwrap();
    }
}
