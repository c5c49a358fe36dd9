//! What artifacts and text logs cost: artifact put and get against a plain
//! file copy of the same bytes (side by side, in turns, best of 3), text
//! log appends per second under `Group` durability, and the bytes a
//! flushed log takes against its raw size.
//!
//! `cargo run --release -p runlog-benches --bin run-contents [-- MIB]`

use std::fs::File;
use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

use runlog::{Db, Durability};

/// `len` bytes of xorshift noise: what a checkpoint of floats looks like
/// to a compressor.
fn noise(len: usize) -> Vec<u8> {
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// `len` bytes of JSON lines, as an evaluation dump looks.
fn json_lines(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 100);
    let mut i = 0u64;
    while out.len() < len {
        let line = format!(
            "{{\"id\": {i}, \"label\": \"class-{}\", \"score\": {:.6}}}\n",
            i % 10,
            (i as f64 * 0.37).sin().abs()
        );
        out.extend_from_slice(line.as_bytes());
        i += 1;
    }
    out.truncate(len);
    out
}

fn mib_per_s(bytes: usize, time: Duration) -> f64 {
    bytes as f64 / (1 << 20) as f64 / time.as_secs_f64()
}

/// The fastest of three runs of `f`.
fn best(mut f: impl FnMut() -> Duration) -> Duration {
    (0..3).map(|_| f()).min().expect("three runs")
}

/// A plain copy: read the file, write a new one, fsync it.
fn copy_file(from: &Path, to: &Path) -> io::Result<()> {
    let mut source = File::open(from)?;
    let mut target = File::create(to)?;
    io::copy(&mut source, &mut target)?;
    target.sync_all()
}

fn artifacts(dir: &Path, mib: usize) -> runlog::Result<()> {
    println!("## Artifacts: {mib} MiB, put from a file and read back\n");
    println!(
        "| content | runlog put | plain copy + fsync | runlog get (hash checked) | plain read | stored bytes / raw |"
    );
    println!("|---|---|---|---|---|---|");
    for (name, bytes) in [
        ("noise (a checkpoint)", noise(mib << 20)),
        ("JSON lines", json_lines(mib << 20)),
    ] {
        let source = dir.join("source.bin");
        std::fs::write(&source, &bytes).expect("write the source");
        let mut put = Duration::MAX;
        let mut copy = Duration::MAX;
        let mut get = Duration::MAX;
        let mut read = Duration::MAX;
        let mut stored = 0;
        for round in 0..3 {
            // A fresh database each time, so that no put finds its blob.
            let db_dir = dir.join(format!("db-{name}-{round}"));
            let db = Db::builder(&db_dir).durability(Durability::Sync).open()?;
            let run = db.create_run("bench", "artifacts")?;
            let started = Instant::now();
            let mut file = File::open(&source).expect("open the source");
            db.put_artifact_from(run, "model/ckpt.bin", &mut file, None)?;
            put = put.min(started.elapsed());
            let started = Instant::now();
            copy_file(&source, &dir.join("copy.bin")).expect("copy");
            copy = copy.min(started.elapsed());
            let started = Instant::now();
            let mut reader = db.open_artifact(run, "model/ckpt.bin")?;
            io::copy(&mut reader, &mut io::sink()).expect("read the artifact");
            get = get.min(started.elapsed());
            let started = Instant::now();
            io::copy(&mut File::open(&source).expect("open"), &mut io::sink()).expect("read");
            read = read.min(started.elapsed());
            stored = runlog::inspect::storage_stats(&db_dir)?.blob_bytes;
            db.close()?;
            std::fs::remove_dir_all(&db_dir).expect("clean up");
        }
        println!(
            "| {name} | {:.0} MiB/s | {:.0} MiB/s | {:.0} MiB/s | {:.0} MiB/s | {:.3} |",
            mib_per_s(bytes.len(), put),
            mib_per_s(bytes.len(), copy),
            mib_per_s(bytes.len(), get),
            mib_per_s(bytes.len(), read),
            stored as f64 / bytes.len() as f64
        );
    }
    println!();
    Ok(())
}

fn logs(dir: &Path) -> runlog::Result<()> {
    const LINES: usize = 1_000_000;
    println!("## Text logs: {LINES} lines, `Group` durability (10 ms)\n");
    println!(
        "| appends | lines/s | MiB/s | bytes written | bytes stored after flush | stored / raw |"
    );
    println!("|---|---|---|---|---|---|");
    for per_append in [1usize, 100] {
        let db_dir = dir.join(format!("logs-{per_append}"));
        let time = best(|| {
            let _ = std::fs::remove_dir_all(&db_dir);
            let db = Db::builder(&db_dir).open().expect("open");
            let run = db.create_run("bench", "logs").expect("run");
            let mut text = String::new();
            let started = Instant::now();
            for i in 0..LINES {
                text.push_str(&format!(
                    "2026-12-06T01:00:{:02}.{:03}Z INFO step {i} loss {:.5} lr 3.0e-4 throughput {} samples/s\n",
                    (i / 1000) % 60,
                    i % 1000,
                    1.0 / (1.0 + i as f64 / 1e4),
                    900 + i % 200
                ));
                if (i + 1) % per_append == 0 {
                    db.append_log(run, "stdout", &text).expect("append");
                    text.clear();
                }
            }
            db.sync().expect("sync");
            let time = started.elapsed();
            db.close().expect("close");
            time
        });
        let db = Db::open(&db_dir)?;
        let run = db.find_run("bench", "logs").expect("the run");
        db.flush()?;
        let info = db.log_streams(run)?.remove(0);
        let label = if per_append == 1 {
            "one line each".to_string()
        } else {
            format!("{per_append} lines each")
        };
        println!(
            "| {label} | {:.0} | {:.1} | {} | {} | {:.3} |",
            LINES as f64 / time.as_secs_f64(),
            mib_per_s(info.bytes as usize, time),
            info.bytes,
            info.stored_bytes,
            info.stored_bytes as f64 / info.bytes as f64
        );
        let mut check = db.log_lines(run, "stdout", 500_000, 1)?;
        assert!(
            check
                .lines
                .pop()
                .is_some_and(|l| l.contains("step 500000 "))
        );
        db.close()?;
    }
    Ok(())
}

fn main() -> runlog::Result<()> {
    let mib: usize = std::env::args()
        .nth(1)
        .map_or(256, |n| n.parse().expect("MIB is a number"));
    let dir = tempfile::tempdir().expect("a temporary directory");
    artifacts(dir.path(), mib)?;
    logs(dir.path())
}
