//! The body of the `wal_replay` fuzz target, shared with the stable test
//! that replays the checked-in seeds (`tests/fuzz_seeds.rs`).
//!
//! Arbitrary bytes as the only file of a WAL: reading it in either recovery
//! mode, and opening a writer on it, must never panic, and in tolerant mode
//! the records read must be consecutive from LSN 1.

use std::path::Path;
use std::sync::Arc;

use runlog_wal::{Lsn, MemStorage, RecoveryMode, Storage, Wal, WalReader};

/// Runs one input.
pub fn run(data: &[u8]) {
    let dir = Path::new("/wal");
    let storage = MemStorage::new();
    storage.create_dir_all(dir).expect("in-memory dir");
    let file = storage
        .create(&dir.join("00000000000000000001.log"))
        .expect("in-memory file");
    file.append(data).expect("in-memory append");
    for mode in [RecoveryMode::Strict, RecoveryMode::TolerateCorruptTail] {
        let Ok(reader) = WalReader::open(Arc::new(storage.clone()), dir, mode, Lsn(0)) else {
            continue;
        };
        let mut expected = Lsn::FIRST;
        for record in reader {
            let Ok(record) = record else { break };
            assert_eq!(record.lsn, expected, "records are consecutive");
            expected = expected.next();
        }
    }
    if let Ok(wal) = Wal::builder(dir).storage(Arc::new(storage)).open() {
        let lsn = wal
            .append(b"after recovery")
            .expect("append after recovery");
        assert_eq!(wal.next_lsn(), lsn.next());
    }
}
