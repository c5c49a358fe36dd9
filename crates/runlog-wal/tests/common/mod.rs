//! Helpers shared by the WAL integration tests.

#![allow(dead_code, reason = "each test file uses a different part")]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use runlog_wal::{
    Durability, Lsn, MemStorage, Record, RecoveryMode, Result, Storage, Wal, WalReader,
};

/// The directory every in-memory log lives in.
pub const DIR: &str = "/db/wal";

/// A writer over `storage` with small files, so tests cross file boundaries.
pub fn open(storage: &MemStorage, durability: Durability) -> Result<Wal> {
    Wal::builder(DIR)
        .storage(Arc::new(storage.clone()))
        .durability(durability)
        .segment_size(4096)
        .open()
}

/// Every record of the log in `storage`, read without changing anything.
pub fn read_all(storage: &MemStorage, mode: RecoveryMode) -> Result<Vec<Record>> {
    WalReader::open(Arc::new(storage.clone()), Path::new(DIR), mode, Lsn(0))?.collect()
}

/// The log files in `storage`, by name, with their bytes.
pub fn files(storage: &MemStorage) -> Vec<(PathBuf, Vec<u8>)> {
    let mut names = storage.list_dir(Path::new(DIR)).unwrap();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let path = Path::new(DIR).join(name);
            let bytes = storage.contents(&path).unwrap();
            (path, bytes)
        })
        .collect()
}

/// The LSN a log file's name gives its first record.
pub fn first_lsn(path: &Path) -> u64 {
    let name = path.file_stem().and_then(|s| s.to_str()).unwrap();
    name.parse().unwrap()
}

/// A fresh storage holding exactly `files`, all durable.
pub fn storage_with(files: &[(PathBuf, Vec<u8>)]) -> MemStorage {
    let storage = MemStorage::new();
    storage.create_dir_all(Path::new(DIR)).unwrap();
    for (path, bytes) in files {
        let file = storage.create(path).unwrap();
        file.append(bytes).unwrap();
        file.sync().unwrap();
    }
    storage.sync_dir(Path::new(DIR)).unwrap();
    storage
}

/// The payload the tests append as record `lsn`: its length and bytes follow
/// from the LSN, so any record read back can be checked on its own.
pub fn payload_for(lsn: Lsn, max_len: usize) -> Vec<u8> {
    let mut x = lsn.0.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    let len = (x % (max_len as u64 + 1)) as usize;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Checks that `records` are consecutive and each carries `payload_for` its
/// LSN; returns the last LSN (or `Lsn(0)`).
pub fn check_exact_prefix(records: &[Record], max_len: usize) -> Lsn {
    for pair in records.windows(2) {
        assert_eq!(pair[1].lsn, pair[0].lsn.next(), "records are consecutive");
    }
    for record in records {
        assert_eq!(
            record.payload[..],
            payload_for(record.lsn, max_len)[..],
            "payload of record {}",
            record.lsn
        );
    }
    records.last().map_or(Lsn(0), |r| r.lsn)
}
