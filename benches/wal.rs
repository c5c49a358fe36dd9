//! WAL throughput: appends per durability mode and payload size, batched
//! appends against a raw sequential write of the same bytes, and replay.
//!
//! `cargo bench -p runlog-benches --bench wal`

use std::fs::File;
use std::hint::black_box;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use runlog_wal::{Durability, FsStorage, Lsn, RECORD_HEADER_LEN, RecoveryMode, Wal, WalReader};
use tempfile::TempDir;

const MODES: [(&str, Durability); 3] = [
    ("sync", Durability::Sync),
    (
        "group",
        Durability::Group {
            interval: Duration::from_millis(10),
        },
    ),
    ("buffered", Durability::Buffered),
];

fn scratch() -> TempDir {
    // On the project's own disk, not a tmpfs.
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("scratch dir")
}

fn open(dir: &Path, durability: Durability) -> Wal {
    Wal::builder(dir.join("wal"))
        .durability(durability)
        .open()
        .expect("open")
}

/// One `append` call per record, then one `sync`.
fn append_per_call(c: &mut Criterion) {
    let mut group = c.benchmark_group("wal_append");
    group.sample_size(10);
    for size in [32usize, 1024, 64 << 10] {
        let payload = vec![0x5Au8; size];
        for (name, durability) in MODES {
            // Enough records for ~4 MiB per iteration; under Sync every
            // record waits for its own fsync, so fewer.
            let count = match durability {
                Durability::Sync => 256,
                _ => ((4 << 20) / size).max(64),
            };
            group.throughput(Throughput::ElementsAndBytes {
                elements: count as u64,
                bytes: (count * size) as u64,
            });
            group.bench_function(format!("{name}/{size}B"), |b| {
                b.iter_batched(
                    || {
                        let dir = scratch();
                        let wal = open(dir.path(), durability);
                        (dir, wal)
                    },
                    |(dir, wal)| {
                        for _ in 0..count {
                            black_box(wal.append(&payload).expect("append"));
                        }
                        wal.sync().expect("sync");
                        (dir, wal)
                    },
                    BatchSize::PerIteration,
                );
            });
        }
    }
    group.finish();
}

const BATCH_TOTAL: usize = 32 << 20;
const BATCH_RECORD: usize = 1024;
const RECORDS_PER_BATCH: usize = 256;

/// 32 MiB of 1 KiB records appended in batches of 256 under `Group`, then
/// synced, against writing the same framed bytes with plain `write` calls of
/// 1 MiB and one `fdatasync`: the ceiling the disk allows.
fn batch_against_raw_write(c: &mut Criterion) {
    let mut group = c.benchmark_group("wal_batch_vs_raw_write");
    group.sample_size(10);
    let records = BATCH_TOTAL / BATCH_RECORD;
    let framed = records * (BATCH_RECORD + RECORD_HEADER_LEN);
    group.throughput(Throughput::Bytes(framed as u64));
    let batch: Vec<Vec<u8>> = (0..RECORDS_PER_BATCH)
        .map(|i| vec![i as u8; BATCH_RECORD])
        .collect();
    group.bench_function("wal_group_append_batch", |b| {
        b.iter_batched(
            || {
                let dir = scratch();
                let wal = open(
                    dir.path(),
                    Durability::Group {
                        interval: Duration::from_millis(10),
                    },
                );
                (dir, wal)
            },
            |(dir, wal)| {
                for _ in 0..records / RECORDS_PER_BATCH {
                    wal.append_batch(&batch).expect("append");
                }
                wal.sync().expect("sync");
                (dir, wal)
            },
            BatchSize::PerIteration,
        );
    });
    let chunk = vec![0xA5u8; 1 << 20];
    group.bench_function("raw_sequential_write", |b| {
        b.iter_batched(
            scratch,
            |dir| {
                let mut file = File::create(dir.path().join("raw")).expect("create");
                let mut left = framed;
                while left > 0 {
                    let n = left.min(chunk.len());
                    file.write_all(&chunk[..n]).expect("write");
                    left -= n;
                }
                file.sync_data().expect("fdatasync");
                dir
            },
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

/// Reading back a 64 MiB log with every CRC checked.
fn replay(c: &mut Criterion) {
    let mut group = c.benchmark_group("wal_replay");
    group.sample_size(10);
    for size in [32usize, 1024] {
        let dir = scratch();
        let wal = open(dir.path(), Durability::Buffered);
        let payload = vec![0x3Cu8; size];
        let records = (64 << 20) / (size + RECORD_HEADER_LEN);
        let batch = vec![&payload[..]; 1024];
        for _ in 0..records / 1024 {
            wal.append_batch(&batch).expect("append");
        }
        wal.close().expect("close");
        let bytes = (records / 1024 * 1024 * (size + RECORD_HEADER_LEN)) as u64;
        group.throughput(Throughput::ElementsAndBytes {
            elements: (records / 1024 * 1024) as u64,
            bytes,
        });
        group.bench_function(format!("{size}B_records"), |b| {
            b.iter(|| {
                let reader = WalReader::open(
                    Arc::new(FsStorage),
                    &dir.path().join("wal"),
                    RecoveryMode::Strict,
                    Lsn(0),
                )
                .expect("open");
                let mut total = 0usize;
                for record in reader {
                    total += record.expect("intact").payload.len();
                }
                black_box(total)
            });
        });
    }
    group.finish();
}

criterion_group!(benches, append_per_call, batch_against_raw_write, replay);
criterion_main!(benches);
