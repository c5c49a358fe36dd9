//! `runlog-db`: look into a runlog database, including one a training job
//! is writing right now. Every check and dump is a function of the `runlog`
//! library (`runlog::inspect`); this binary only parses arguments and
//! prints. Databases are opened read-only unless the command writes.

mod demo;
mod mlflow;
mod output;
mod plot;
mod query;
mod storage;
mod tail;
mod transfer;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Look into a runlog database, including one a training job is writing.
#[derive(Debug, Parser)]
#[command(
    name = "runlog-db",
    version,
    after_help = "Examples:\n  runlog-db demo                          create ./runlog-demo and list its runs\n  runlog-db runs runlog-demo --metric loss\n  runlog-db metrics runlog-demo exp-0/run-00000\n  runlog-db history runlog-demo 0 loss --buckets 20\n  runlog-db verify runlog-demo"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Create a demo database following the standard workload, then list its runs.
    #[command(after_help = "Example:\n  runlog-db demo /tmp/demo")]
    Demo {
        /// Where to create it (reused if it already holds the demo).
        #[arg(default_value = "runlog-demo")]
        dir: PathBuf,
        /// Steps per run.
        #[arg(long, default_value_t = 20_000)]
        steps: u64,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// List runs with status, times and last/min/max of a metric.
    #[command(
        after_help = "Example:\n  runlog-db runs runlog-demo --experiment exp-1 --status completed --metric acc"
    )]
    Runs {
        /// The database directory.
        dir: PathBuf,
        /// Only runs of this experiment.
        #[arg(long)]
        experiment: Option<String>,
        /// Only runs with this status (running, completed, failed, killed).
        #[arg(long)]
        status: Option<String>,
        /// Only runs with this tag, as key=value.
        #[arg(long)]
        tag: Option<String>,
        /// The metric whose last/min/max to show.
        #[arg(long, default_value = "loss")]
        metric: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Every metric of a run with count, first/last step, last/min/max.
    #[command(after_help = "Example:\n  runlog-db metrics runlog-demo exp-0/run-00000")]
    Metrics {
        /// The database directory.
        dir: PathBuf,
        /// The run: its id, experiment/name, or a name unique in the database.
        run: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// A metric's points in step order, or downsampled buckets.
    #[command(
        after_help = "Examples:\n  runlog-db history runlog-demo 0 loss --from 100 --to 200\n  runlog-db history runlog-demo 0 loss --buckets 50 --json"
    )]
    History {
        /// The database directory.
        dir: PathBuf,
        /// The run.
        run: String,
        /// The metric.
        metric: String,
        /// First step.
        #[arg(long)]
        from: Option<i64>,
        /// Last step.
        #[arg(long)]
        to: Option<i64>,
        /// Print at most this many points.
        #[arg(long)]
        limit: Option<usize>,
        /// Downsample into this many step buckets (first/last/min/max each).
        #[arg(long)]
        buckets: Option<usize>,
        /// Print JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// The latest value of one metric, or of every metric of a run.
    Latest {
        /// The database directory.
        dir: PathBuf,
        /// The run.
        run: String,
        /// The metric (all metrics if left out).
        metric: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// A run's params.
    Params {
        /// The database directory.
        dir: PathBuf,
        /// The run.
        run: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// A run's tags.
    Tags {
        /// The database directory.
        dir: PathBuf,
        /// The run.
        run: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Files, bytes, points, bytes per point overall and per codec, WAL size.
    Stats {
        /// The database directory.
        dir: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Check every CRC of every WAL record and segment chunk, the manifest,
    /// and that statistics match the data; exit non-zero on any problem.
    Verify {
        /// The database directory.
        dir: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Dump WAL records: LSN, size, and a summary of each op.
    Wal {
        /// The database directory.
        dir: PathBuf,
        /// First LSN to show.
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// Print JSON lines instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Merge every segment into one now (opens the database for writing).
    Compact {
        /// The database directory.
        dir: PathBuf,
    },
    /// Draw metrics of a run, or one metric across runs, as an SVG line chart.
    #[command(
        after_help = "Examples:\n  runlog-db plot runlog-demo 0 loss val_loss -o loss.svg\n  runlog-db plot runlog-demo 0 loss --runs 1,2 --x time -o compare.svg"
    )]
    Plot {
        /// The database directory.
        dir: PathBuf,
        /// The run.
        run: String,
        /// The metrics to draw.
        #[arg(required = true)]
        metrics: Vec<String>,
        /// Other runs to draw the (one) metric of, comma-separated.
        #[arg(long, value_delimiter = ',')]
        runs: Vec<String>,
        /// The x axis.
        #[arg(long, value_enum, default_value = "step")]
        x: plot::XAxis,
        /// The SVG file to write.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Bring MLflow runs over, from its SQLite database or its mlruns folder.
    #[command(
        name = "import-mlflow",
        after_help = "Examples:\n  runlog-db import-mlflow /data/runs mlflow.db\n  runlog-db import-mlflow /data/runs ./mlruns"
    )]
    ImportMlflow {
        /// The database directory (created if missing).
        dir: PathBuf,
        /// An `mlflow.db` SQLite file or an `mlruns` folder.
        source: PathBuf,
    },
    /// Follow a live run: print new points as the writer logs them, until Ctrl-C.
    #[command(after_help = "Example:\n  runlog-db tail /data/runs exp/run-7 loss acc")]
    Tail {
        /// The database directory.
        dir: PathBuf,
        /// The run.
        run: String,
        /// The metrics to follow (all if none).
        metrics: Vec<String>,
        /// Print JSON lines.
        #[arg(long)]
        json: bool,
    },
    /// Write points as CSV or JSON lines (run, experiment, metric, step,
    /// timestamp_ms, value), floats exact.
    #[command(
        after_help = "Example:\n  runlog-db export runlog-demo --run exp-0/run-00000 --format csv -o run0.csv"
    )]
    Export {
        /// The database directory.
        dir: PathBuf,
        /// Only this run.
        #[arg(long)]
        run: Option<String>,
        /// The file format.
        #[arg(long, value_enum)]
        format: transfer::Format,
        /// The file to write.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Read points written by `export` (or any file with its columns); a bad
    /// line is reported with its number and nothing is written.
    #[command(after_help = "Example:\n  runlog-db import /data/runs --format jsonl points.jsonl")]
    Import {
        /// The database directory (created if missing).
        dir: PathBuf,
        /// The file format.
        #[arg(long, value_enum)]
        format: transfer::Format,
        /// The file to read.
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo { dir, steps, json } => demo::run(&dir, steps, json),
        Command::Runs {
            dir,
            experiment,
            status,
            tag,
            metric,
            json,
        } => query::runs(&dir, experiment, status, tag, &metric, json),
        Command::Metrics { dir, run, json } => query::metrics(&dir, &run, json),
        Command::History {
            dir,
            run,
            metric,
            from,
            to,
            limit,
            buckets,
            json,
        } => query::history(&dir, &run, &metric, from, to, limit, buckets, json),
        Command::Latest {
            dir,
            run,
            metric,
            json,
        } => query::latest(&dir, &run, metric.as_deref(), json),
        Command::Params { dir, run, json } => query::key_values(&dir, &run, "param", json),
        Command::Tags { dir, run, json } => query::key_values(&dir, &run, "tag", json),
        Command::Stats { dir, json } => storage::stats(&dir, json),
        Command::Verify { dir, json } => storage::verify(&dir, json),
        Command::Wal { dir, from, json } => storage::wal(&dir, from, json),
        Command::Compact { dir } => storage::compact(&dir),
        Command::Plot {
            dir,
            run,
            metrics,
            runs,
            x,
            output,
        } => plot::run(&dir, &run, &metrics, &runs, x, &output),
        Command::ImportMlflow { dir, source } => mlflow::import(&dir, &source),
        Command::Tail {
            dir,
            run,
            metrics,
            json,
        } => tail::run(&dir, &run, &metrics, json),
        Command::Export {
            dir,
            run,
            format,
            output,
        } => transfer::export(&dir, run.as_deref(), format, &output),
        Command::Import { dir, format, file } => transfer::import(&dir, format, &file),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("runlog-db: {message}");
            ExitCode::FAILURE
        }
    }
}
