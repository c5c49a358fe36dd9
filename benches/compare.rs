//! runlog against SQLite, the tuned embedded baseline, on the standard
//! workload (`shared/workload.md`), measured in one run on one machine.
//!
//! `cargo run --release -p runlog-benches --bin compare` (full size: one run
//! of N = 100,000 steps and 1,000 runs of N = 1,000);
//! `--quick` shrinks both for a smoke test.
//!
//! SQLite: table `(run, metric, step, ts, value)` with an index on
//! `(run, metric, step)`, WAL journal mode, `synchronous = NORMAL`, inserts
//! in transactions of 1,000 rows through one prepared statement. runlog:
//! `log_batch` per 100 steps (about 800 points), `Durability::Group`. Both
//! end ingest with a sync to disk (SQLite: a `wal_checkpoint(FULL)` after
//! the last commit; runlog: `flush` and `close`), so the figures compare
//! data at rest on disk.
//!
//! The stores take turns to ingest the workload, [`INGEST_RUNS`] times each
//! into a fresh directory, and each store's fastest run counts (the first
//! run in a process also pays for faulting in fresh memory). Reads are
//! timed in [`ROUNDS`] rounds, each a sample of about [`SAMPLE`] of runlog
//! and then one of SQLite, and each store's fastest sample counts: the
//! machine's speed drifts, and this way both stores meet the same moments.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use runlog::{Db, Durability, RunFilter, RunId};
use runlog_workload::{METRICS, Run, experiment_id, run_id};

/// What one store did, for one table row each.
#[derive(Debug, Default)]
struct Figures {
    ingest_points_per_s: f64,
    bytes_per_point: f64,
    history_points_per_s: f64,
    /// Every metric's full history of one run, in one go (`get_metrics`).
    all_histories_points_per_s: f64,
    /// runlog: after a full compaction (SQLite: the same store, timed again
    /// alongside).
    compacted_history_points_per_s: f64,
    /// runlog only: the full compaction's time (SQLite: none).
    compaction_s: f64,
    latest_all_us: f64,
    run_list_ms: f64,
}

/// A point of the workload: (metric index, step, timestamp, value).
type WorkloadPoint = (usize, i64, i64, f64);

/// A run to load: experiment, run name, its points in log order.
type LoadedRun = (String, String, Vec<WorkloadPoint>);

/// The points of run `index`: (metric, step, ts, value), in log order.
fn points(steps: u64, seed: u64) -> Vec<WorkloadPoint> {
    let mut out = Vec::new();
    Run { steps, seed }.for_each_point(|m, s, t, v| out.push((m, s, t, v)));
    out
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| {
                    let path = e.path();
                    if path.is_dir() {
                        dir_bytes(&path)
                    } else {
                        e.metadata().map_or(0, |m| m.len())
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

/// Times each store ingests the workload, alternating between the stores;
/// the fastest of each counts.
const INGEST_RUNS: usize = 3;

/// Rounds of timing per read: each round times a sample of runlog and then
/// one of SQLite, so that both meet the same moments of a machine whose
/// speed drifts; the fastest sample of each counts.
const ROUNDS: usize = 5;

/// How long one timing sample lasts (at least one call).
const SAMPLE: Duration = Duration::from_millis(20);

/// How many calls of `f` take about [`SAMPLE`] (one call made to tell).
fn calls_per_sample(f: &mut impl FnMut()) -> u32 {
    let start = Instant::now();
    f();
    let once = start.elapsed().max(Duration::from_nanos(1));
    (SAMPLE.as_nanos() / once.as_nanos()).clamp(1, 1_000_000) as u32
}

/// The time per call of `calls` calls of `f`.
fn sample(calls: u32, f: &mut impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..calls {
        f();
    }
    start.elapsed() / calls
}

/// Time per call of `a` (runlog) and of `b` (SQLite), timed in `rounds`
/// interleaved rounds; the fastest sample of each counts.
fn interleaved(rounds: usize, mut a: impl FnMut(), mut b: impl FnMut()) -> (Duration, Duration) {
    let (calls_a, calls_b) = (calls_per_sample(&mut a), calls_per_sample(&mut b));
    let (mut best_a, mut best_b) = (Duration::MAX, Duration::MAX);
    for _ in 0..rounds {
        best_a = best_a.min(sample(calls_a, &mut a));
        best_b = best_b.min(sample(calls_b, &mut b));
    }
    (best_a, best_b)
}

/// A fresh directory for ingest run `run` under `dir`, removing the
/// previous run's.
fn fresh_store(dir: &Path, run: usize) -> PathBuf {
    if run > 0 {
        std::fs::remove_dir_all(dir.join(format!("run-{}", run - 1)))
            .expect("remove the previous run's store");
    }
    let path = dir.join(format!("run-{run}"));
    std::fs::create_dir_all(&path).expect("store directory");
    path
}

/// Loads `runs` into a new runlog database in `dir`, through close.
fn runlog_ingest(dir: &Path, runs: &[LoadedRun]) -> Duration {
    let start = Instant::now();
    let db = Db::builder(dir)
        .durability(Durability::Group {
            interval: Duration::from_millis(10),
        })
        .open()
        .expect("open");
    let mut batch = Vec::new();
    for (experiment, name, points) in runs {
        let run = db.create_run(experiment, name).expect("run");
        // Batches of 100 steps (about 800 points), as SQLite gets
        // transactions of 1,000 rows.
        for step in points.chunk_by(|a, b| a.1 / 100 == b.1 / 100) {
            batch.clear();
            batch.extend(step.iter().map(|&(m, s, t, v)| (METRICS[m], s, t, v)));
            db.log_batch(run, &batch).expect("log");
        }
    }
    db.flush().expect("flush");
    db.close().expect("close");
    start.elapsed()
}

/// Loads `runs` into a new SQLite database in `dir`, through a checkpoint.
fn sqlite_ingest(dir: &Path, runs: &[LoadedRun]) -> Duration {
    let start = Instant::now();
    let mut conn = rusqlite::Connection::open(dir.join("metrics.db")).expect("open");
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
         CREATE TABLE points (run TEXT NOT NULL, metric TEXT NOT NULL, step INTEGER NOT NULL,
                              ts INTEGER NOT NULL, value REAL);
         CREATE INDEX points_by_series ON points (run, metric, step);",
    )
    .expect("schema");
    let rows: Vec<(&str, &str, i64, i64, f64)> = runs
        .iter()
        .flat_map(|(_, name, points)| {
            points
                .iter()
                .map(move |&(m, s, t, v)| (name.as_str(), METRICS[m], s, t, v))
        })
        .collect();
    for chunk in rows.chunks(1000) {
        let tx = conn.transaction().expect("begin");
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO points (run, metric, step, ts, value) VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .expect("prepare");
            for &(run, metric, step, ts, value) in chunk {
                insert
                    .execute(rusqlite::params![run, metric, step, ts, value])
                    .expect("insert");
            }
        }
        tx.commit().expect("commit");
    }
    conn.execute_batch("PRAGMA wal_checkpoint(FULL);")
        .expect("checkpoint");
    drop(conn);
    start.elapsed()
}

/// The reads timed on runlog: of run 0 (`first`).
struct RunlogReads {
    db: Db,
    first: RunId,
}

impl RunlogReads {
    fn history(&self) -> usize {
        self.db
            .history(self.first, "loss", ..)
            .expect("history")
            .len()
    }

    fn all_histories(&self) -> usize {
        METRICS
            .iter()
            .map(|metric| {
                self.db
                    .history(self.first, metric, ..)
                    .expect("history")
                    .len()
            })
            .sum()
    }

    fn latest_of_all_metrics(&self) {
        for metric in METRICS {
            black_box(self.db.latest(self.first, metric).expect("latest"));
        }
    }

    fn run_list(&self) -> usize {
        self.db.runs(&RunFilter::default()).len()
    }
}

/// The same reads on SQLite.
struct SqliteReads {
    conn: rusqlite::Connection,
    first: String,
}

impl SqliteReads {
    /// Runs `sql` for the first run (`?1`), decoding every row into a
    /// vector as runlog's reads do; returns the row count.
    fn collect_rows<T>(
        &self,
        sql: &str,
        decode: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> usize {
        let mut statement = self.conn.prepare_cached(sql).expect("prepare");
        let rows = statement.query_map([&self.first], decode).expect("query");
        rows.map(|r| r.expect("row")).collect::<Vec<_>>().len()
    }

    fn history(&self) -> usize {
        self.collect_rows(
            "SELECT step, ts, value FROM points WHERE run = ?1 AND metric = 'loss' ORDER BY step",
            |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, Option<f64>>(2)?,
                ))
            },
        )
    }

    fn all_histories(&self) -> usize {
        self.collect_rows(
            "SELECT metric, step, ts, value FROM points WHERE run = ?1 ORDER BY metric, step",
            |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, i64>(2)?,
                    row.get::<_, Option<f64>>(3)?,
                ))
            },
        )
    }

    fn latest_of_all_metrics(&self) {
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT value FROM points WHERE run = ?1 AND metric = ?2 ORDER BY step DESC, rowid DESC LIMIT 1",
            )
            .expect("prepare");
        for metric in METRICS {
            let value: Option<f64> = statement
                .query_row([self.first.as_str(), metric], |row| row.get(0))
                .expect("latest");
            black_box(value);
        }
    }

    fn run_list(&self) -> usize {
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT p.run, p.metric, COUNT(*), MIN(p.value), MAX(p.value),
                        (SELECT value FROM points l WHERE l.run = p.run AND l.metric = p.metric
                         ORDER BY step DESC, rowid DESC LIMIT 1)
                 FROM points p GROUP BY p.run, p.metric",
            )
            .expect("prepare");
        let rows = statement
            .query_map([], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(2)?))
            })
            .expect("query");
        rows.count()
    }
}

/// Both stores' figures on `runs`: ingests alternate between the stores,
/// reads are timed in interleaved rounds.
fn measure(
    runlog_dir: &Path,
    sqlite_dir: &Path,
    runs: &[LoadedRun],
    ingest_runs: usize,
    rounds: usize,
) -> (Figures, Figures) {
    let total = runs.iter().map(|r| r.2.len()).sum::<usize>() as f64;
    let (mut ingest_a, mut ingest_b) = (Duration::MAX, Duration::MAX);
    let (mut dir_a, mut dir_b) = (PathBuf::new(), PathBuf::new());
    for run in 0..ingest_runs {
        dir_a = fresh_store(runlog_dir, run);
        ingest_a = ingest_a.min(runlog_ingest(&dir_a, runs));
        dir_b = fresh_store(sqlite_dir, run);
        ingest_b = ingest_b.min(sqlite_ingest(&dir_b, runs));
    }
    let runlog = RunlogReads {
        db: Db::open(&dir_a).expect("open"),
        first: RunId(0),
    };
    let sqlite = SqliteReads {
        conn: rusqlite::Connection::open(dir_b.join("metrics.db")).expect("open"),
        first: runs[0].1.clone(),
    };
    let history_len = runlog.history();
    assert_eq!(
        history_len,
        sqlite.history(),
        "both stores hold the same points"
    );
    assert_eq!(runlog.run_list(), runs.len());
    let time_history = || {
        interleaved(
            rounds,
            || {
                black_box(runlog.history());
            },
            || {
                black_box(sqlite.history());
            },
        )
    };
    let history = time_history();
    let all_points = runlog.all_histories();
    assert_eq!(
        all_points,
        sqlite.all_histories(),
        "both stores hold the same run"
    );
    let all_histories = interleaved(
        rounds,
        || {
            black_box(runlog.all_histories());
        },
        || {
            black_box(sqlite.all_histories());
        },
    );
    let latest = interleaved(
        rounds,
        || runlog.latest_of_all_metrics(),
        || sqlite.latest_of_all_metrics(),
    );
    let list = interleaved(
        rounds,
        || {
            black_box(runlog.run_list());
        },
        || {
            black_box(sqlite.run_list());
        },
    );
    let compaction_start = Instant::now();
    runlog.db.compact().expect("compact");
    let compaction = compaction_start.elapsed();
    let compacted = time_history();
    let figures =
        |ingest: Duration, dir: &Path, pick: fn((Duration, Duration)) -> Duration| Figures {
            ingest_points_per_s: total / ingest.as_secs_f64(),
            bytes_per_point: dir_bytes(dir) as f64 / total,
            history_points_per_s: history_len as f64 / pick(history).as_secs_f64(),
            all_histories_points_per_s: all_points as f64 / pick(all_histories).as_secs_f64(),
            compacted_history_points_per_s: history_len as f64 / pick(compacted).as_secs_f64(),
            compaction_s: 0.0,
            latest_all_us: pick(latest).as_secs_f64() * 1e6,
            run_list_ms: pick(list).as_secs_f64() * 1e3,
        };
    let runlog_figures = Figures {
        compaction_s: compaction.as_secs_f64(),
        ..figures(ingest_a, &dir_a, |pair| pair.0)
    };
    (runlog_figures, figures(ingest_b, &dir_b, |pair| pair.1))
}

/// A table row: its label, how to read it off the figures, which way is
/// better.
type Row = (&'static str, fn(&Figures) -> f64, Better);

/// How a measure compares: more is better, or less time, or fewer bytes.
#[derive(Clone, Copy)]
enum Better {
    Higher,
    LessTime,
    FewerBytes,
}

fn print_table(title: &str, points: usize, runlog: &Figures, sqlite: &Figures) {
    println!("\n### {title} ({points} points)\n");
    println!("| measure | runlog | SQLite | runlog / SQLite |");
    println!("|---|---|---|---|");
    let rows: [Row; 7] = [
        (
            "ingest, points/s (higher is better)",
            |f| f.ingest_points_per_s,
            Better::Higher,
        ),
        (
            "bytes on disk per point (lower is better)",
            |f| f.bytes_per_point,
            Better::FewerBytes,
        ),
        (
            "history of one metric, points/s (higher is better)",
            |f| f.history_points_per_s,
            Better::Higher,
        ),
        (
            "history of every metric of a run, points/s (higher is better)",
            |f| f.all_histories_points_per_s,
            Better::Higher,
        ),
        (
            "history of one metric after a full compaction, points/s",
            |f| f.compacted_history_points_per_s,
            Better::Higher,
        ),
        (
            "latest of all 10 metrics of a run, us (lower is better)",
            |f| f.latest_all_us,
            Better::LessTime,
        ),
        (
            "run-list summaries of all runs, ms (lower is better)",
            |f| f.run_list_ms,
            Better::LessTime,
        ),
    ];
    for (name, measure, better) in rows {
        let (a, b) = (measure(runlog), measure(sqlite));
        let comparison = match better {
            Better::Higher => format!("{}x", fmt_ratio(a / b)),
            Better::LessTime => format!("{}x faster", fmt_ratio(b / a)),
            Better::FewerBytes => format!("{}x smaller", fmt_ratio(b / a)),
        };
        println!("| {name} | {} | {} | {comparison} |", fmt(a), fmt(b));
    }
    println!(
        "\nrunlog's full compaction before the last history row (not part of ingest): {:.2} s.",
        runlog.compaction_s
    );
}

/// A ratio for a table cell: one decimal, none from 1,000.
fn fmt_ratio(r: f64) -> String {
    if r >= 1000.0 {
        format!("{r:.0}")
    } else {
        format!("{r:.1}")
    }
}

/// `v` for a table cell: millions with two decimals, whole numbers from
/// 100, and otherwise three significant digits (so a time far below the
/// unit still shows, as 0.000312).
fn fmt(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2} M", v / 1e6)
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 1.0 || v <= 0.0 {
        format!("{v:.3}")
    } else {
        let decimals = 2 - v.log10().floor() as i32;
        format!("{v:.*}", decimals as usize)
    }
}

/// The physical ceilings on this machine: a raw sequential write (and
/// fsync) of `bytes`, and a memory copy of 24 bytes per point for `points`.
fn ceilings(dir: &Path, bytes: usize, points: usize, rounds: usize) -> (f64, f64) {
    use std::io::Write;
    let data = vec![0x5Au8; bytes.max(1)];
    let write_raw = || {
        let mut file = std::fs::File::create(dir.join("raw")).expect("create");
        file.write_all(&data).expect("write");
        file.sync_data().expect("fsync");
    };
    let decoded = vec![1u8; points * 24];
    let mut copy = vec![0u8; points * 24];
    let copy_points = || {
        copy.copy_from_slice(&decoded);
        black_box(&copy);
    };
    let (write, memcpy) = interleaved(rounds, write_raw, copy_points);
    (
        bytes as f64 / write.as_secs_f64(),
        points as f64 / memcpy.as_secs_f64(),
    )
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (single_steps, many_runs, many_steps, ingest_runs, rounds) = if quick {
        (2_000, 20, 100, 1, 1)
    } else {
        (100_000, 1_000, 1_000, INGEST_RUNS, ROUNDS)
    };
    println!(
        "## runlog vs SQLite, one run of `compare`{}",
        if quick { " (--quick)" } else { "" }
    );
    println!(
        "\nDurability: both stores fsync at the end of ingest (runlog `Group` + flush + close; SQLite WAL mode, synchronous=NORMAL, checkpoint FULL)."
    );
    println!(
        "Timing: the stores take turns to ingest, {ingest_runs} time(s) each into a fresh directory, the fastest run counts; \
         reads are timed in {rounds} rounds of a {} ms sample of runlog then one of SQLite, the fastest sample of each counts.",
        SAMPLE.as_millis()
    );
    let workloads = [
        (
            format!("single run, N = {single_steps}"),
            vec![(experiment_id(0), run_id(0), points(single_steps, 0))],
        ),
        (
            format!("many runs, R = {many_runs}, N = {many_steps}"),
            (0..many_runs)
                .map(|i| (experiment_id(i), run_id(i), points(many_steps, i as u64)))
                .collect(),
        ),
    ];
    for (title, runs) in workloads {
        let total: usize = runs.iter().map(|r| r.2.len()).sum();
        let a = tempfile::tempdir().expect("dir");
        let b = tempfile::tempdir().expect("dir");
        let (runlog, sqlite) = measure(a.path(), b.path(), &runs, ingest_runs, rounds);
        print_table(&title, total, &runlog, &sqlite);
        let stored = (runlog.bytes_per_point * total as f64) as usize;
        let (write, copy) = ceilings(a.path(), stored, runs[0].2.len() / METRICS.len(), rounds);
        println!(
            "Ceilings: writing runlog's {stored} bytes sequentially with one fsync runs at {:.0} MB/s \
             ({:.1} M points/s of ingest at {:.2} bytes/point); copying decoded points (24 bytes each) \
             in memory runs at {:.0} M points/s.",
            write / 1e6,
            write / runlog.bytes_per_point / 1e6,
            runlog.bytes_per_point,
            copy / 1e6
        );
    }
}
