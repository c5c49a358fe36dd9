//! Appends a deterministic sequence of records to a WAL until killed,
//! printing `acked N` each time every record up to LSN N is durable.
//!
//! Usage: `wal-crash-child DIR sync|group SEED`

use std::io::Write;
use std::time::Duration;

use runlog_tests::{Rng, wal_payload};
use runlog_wal::{Durability, Wal};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, dir, mode, seed] = &args[..] else {
        eprintln!("usage: wal-crash-child DIR sync|group SEED");
        std::process::exit(2);
    };
    let durability = match mode.as_str() {
        "sync" => Durability::Sync,
        "group" => Durability::Group {
            interval: Duration::from_millis(2),
        },
        other => {
            eprintln!("unknown mode {other}");
            std::process::exit(2);
        }
    };
    let mut rng = Rng(seed.parse().expect("seed is a number"));
    let wal = Wal::builder(dir)
        .durability(durability)
        .segment_size(64 << 10)
        .open()
        .unwrap_or_else(|e| panic!("open: {e}"));
    let mut out = std::io::stdout().lock();
    loop {
        let first = wal.next_lsn();
        let count = 1 + rng.below(8);
        let batch: Vec<Vec<u8>> = (0..count)
            .map(|i| wal_payload(runlog_wal::Lsn(first.0 + i)))
            .collect();
        let appended = wal.append_batch(&batch).expect("append");
        let acked = match durability {
            Durability::Sync => appended.end.prev(),
            _ if rng.below(4) == 0 => wal.sync().expect("sync"),
            _ => continue,
        };
        writeln!(out, "acked {acked}").expect("parent reads");
        out.flush().expect("parent reads");
        if rng.below(16) == 0 {
            // Keep the log short, as the engine does after a flush.
            wal.truncate_before(acked).expect("truncate");
        }
    }
}
