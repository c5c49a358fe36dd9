//! `runlog-db`: look into a runlog database, including one a training job
//! is writing right now. Every check and dump is a function of the `runlog`
//! library (`runlog::inspect`); this binary only parses arguments and
//! prints. Databases are opened read-only unless the command writes.

mod contents;
mod demo;
mod import_runs;
mod mlflow;
mod output;
mod parquet_dir;
mod plot;
mod progress;
mod query;
mod run_archive;
mod run_arg;
mod storage;
mod tail;
mod tensorboard;
mod transfer;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::output::{CliError, Style};
use crate::run_arg::RunArg;

/// Look into a runlog database, including one a training job is writing.
#[derive(Debug, Parser)]
#[command(
    name = "runlog-db",
    version,
    after_help = "Examples:\n  runlog-db demo                          create ./runlog-demo and list its runs\n  runlog-db runs runlog-demo --metric loss,acc --sort loss:min\n  runlog-db metrics runlog-demo exp-0/run-00000\n  runlog-db history runlog-demo 0 loss --buckets 20\n  runlog-db plot runlog-demo 0 loss acc lr -o run0.svg\n  runlog-db verify runlog-demo"
)]
struct Cli {
    /// Print floats in their exact round-trip spelling (as JSON and export do).
    #[arg(long, global = true)]
    exact: bool,
    /// Print times in UTC instead of the local time zone.
    #[arg(long, global = true)]
    utc: bool,
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
    /// The experiments, with their run counts.
    #[command(after_help = "Example:\n  runlog-db experiments runlog-demo")]
    Experiments {
        /// The database directory.
        dir: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// List runs with status, times and last/min/max of metrics.
    #[command(
        after_help = "Examples:\n  runlog-db runs runlog-demo --experiment exp-1 --status completed --metric acc\n  runlog-db runs runlog-demo --metric loss,acc --sort loss:min --limit 5\n  runlog-db runs runlog-demo --metric acc --sort acc:max --desc"
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
        /// The metrics whose last/min/max to show, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "loss")]
        metric: Vec<String>,
        /// Sort by a metric's last (default), min or max value: METRIC[:last|min|max];
        /// runs without it come last.
        #[arg(long)]
        sort: Option<query::SortKey>,
        /// With --sort: largest first.
        #[arg(long, requires = "sort")]
        desc: bool,
        /// Show at most this many runs.
        #[arg(long)]
        limit: Option<usize>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Every metric, table column (TABLE/COLUMN) and text series of a run
    /// with count, first/last step, last/min/max.
    #[command(after_help = "Example:\n  runlog-db metrics runlog-demo exp-0/run-00000")]
    Metrics {
        /// The database directory.
        dir: PathBuf,
        #[command(flatten)]
        run: RunArg,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// A metric's points in step order, or downsampled buckets; also a
    /// table column (TABLE/COLUMN, steps are rows) or a text series.
    #[command(
        after_help = "Examples:\n  runlog-db history runlog-demo 0 loss --from 100 --to 200\n  runlog-db history runlog-demo 0 loss --buckets 50 --json"
    )]
    History {
        /// The database directory.
        dir: PathBuf,
        #[command(flatten)]
        run: RunArg,
        /// The metric, a table column as TABLE/COLUMN, or a text series.
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
        #[command(flatten)]
        run: RunArg,
        /// The metric, TABLE/COLUMN or text series (all of them if left out).
        metric: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// A run's params.
    Params {
        /// The database directory.
        dir: PathBuf,
        #[command(flatten)]
        run: RunArg,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// A run's tags.
    Tags {
        /// The database directory.
        dir: PathBuf,
        #[command(flatten)]
        run: RunArg,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Files, bytes, points (in segments and in memory/WAL), bytes per point
    /// overall and per codec, WAL size.
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
    /// Make a database that refuses to open readable again: drop damaged WAL
    /// records that intact ones follow (each becomes an empty write call),
    /// saying exactly what was dropped. Never run implicitly.
    #[command(after_help = "Example:\n  runlog-db repair /data/runs")]
    Repair {
        /// The database directory.
        dir: PathBuf,
    },
    /// Flush what is in memory and the WAL into segments, then merge every
    /// segment into one (opens the database for writing).
    Compact {
        /// The database directory.
        dir: PathBuf,
    },
    /// Draw metrics of a run, or metrics across runs, one panel per metric,
    /// as SVG or PNG (by the output's extension).
    #[command(
        after_help = "Examples:\n  runlog-db plot runlog-demo 0 loss acc lr -o run0.svg\n  runlog-db plot runlog-demo 0 loss --runs 1,2 --x time --smooth 0.9 -o compare.png\n  runlog-db plot runlog-demo 0 lr --log-y -o lr.svg"
    )]
    Plot {
        /// The database directory.
        dir: PathBuf,
        #[command(flatten)]
        run: RunArg,
        /// The metrics to draw, one panel each.
        #[arg(required = true)]
        metrics: Vec<String>,
        /// Other runs to draw beside the first, comma-separated.
        #[arg(long, value_delimiter = ',')]
        runs: Vec<String>,
        /// The x axis.
        #[arg(long, value_enum, default_value = "step")]
        x: plot::XAxis,
        /// Smooth each line with an exponential moving average of this
        /// weight (0 to 1, as TensorBoard's slider), the raw line faint behind.
        #[arg(long)]
        smooth: Option<f64>,
        /// A logarithmic y axis (values <= 0 are left out, and said so).
        #[arg(long)]
        log_y: bool,
        /// The file to write: `.svg` or `.png`.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// A run's artifacts (path, size, media type, step, time, hash), all
    /// of them or those under a prefix.
    #[command(after_help = "Example:\n  runlog-db artifacts runlog-demo 0 images/")]
    Artifacts {
        /// The database directory.
        dir: PathBuf,
        #[command(flatten)]
        run: RunArg,
        /// Only artifacts at or under this path.
        #[arg(default_value = "")]
        prefix: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Write an artifact's content to a file, or to standard output;
    /// checked against its hash as it streams.
    #[command(
        after_help = "Example:\n  runlog-db artifact runlog-demo 0 model/config.json -o config.json"
    )]
    Artifact {
        /// The database directory.
        dir: PathBuf,
        #[command(flatten)]
        run: RunArg,
        /// The artifact's path in the run.
        path: String,
        /// The file to write (standard output if left out).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Store a file as an artifact of a run (opens the database for writing).
    #[command(
        name = "put-artifact",
        after_help = "Example:\n  runlog-db put-artifact /data/runs exp/run-7 model/ckpt.pt ./ckpt.pt"
    )]
    PutArtifact {
        /// The database directory.
        dir: PathBuf,
        #[command(flatten)]
        run: RunArg,
        /// The artifact's path in the run (`model/ckpt.pt`).
        path: String,
        /// The file to store.
        file: PathBuf,
        /// Its media type (guessed from the path if left out).
        #[arg(long)]
        media_type: Option<String>,
    },
    /// A run's text logs, or the lines of one (`stdout`, `node-3/stderr`),
    /// optionally following it while the job writes.
    #[command(
        after_help = "Examples:\n  runlog-db logs /data/runs exp/run-7\n  runlog-db logs /data/runs exp/run-7 node-3/stderr --from 1000 --follow"
    )]
    Logs {
        /// The database directory.
        dir: PathBuf,
        #[command(flatten)]
        run: RunArg,
        /// The stream (all streams are listed if left out).
        stream: Option<String>,
        /// The first line to print, counted from 0.
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// Keep printing lines as the writer appends them, until Ctrl-C.
        #[arg(long, requires = "stream")]
        follow: bool,
        /// Print JSON (one object per line of the log).
        #[arg(long)]
        json: bool,
    },
    /// A run's table metrics, or the rows of one.
    #[command(after_help = "Example:\n  runlog-db tables runlog-demo 0 eval")]
    Tables {
        /// The database directory.
        dir: PathBuf,
        #[command(flatten)]
        run: RunArg,
        /// The table (all tables are listed if left out).
        table: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Write one run, whole, as a zip archive: its metadata, metrics,
    /// tables, text series, text logs and artifacts (`import-run` reads it).
    #[command(
        name = "export-run",
        after_help = "Example:\n  runlog-db export-run runlog-demo exp-0/run-00000 -o run0.zip"
    )]
    ExportRun {
        /// The database directory.
        dir: PathBuf,
        #[command(flatten)]
        run: RunArg,
        /// The archive to write.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Read a run archive made by `export-run`. The whole archive is checked
    /// first (CRCs, lines, artifact hashes): a damaged one writes nothing.
    #[command(
        name = "import-run",
        after_help = "Example:\n  runlog-db import-run /data/runs run0.zip --existing replace"
    )]
    ImportRun {
        /// The database directory (created if missing).
        dir: PathBuf,
        /// The archive.
        archive: PathBuf,
        /// What to do if the database holds a run of that experiment and
        /// name: refuse the import, skip it, or replace the run.
        #[arg(long, value_enum, default_value = "refuse")]
        existing: transfer::OnExisting,
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
        /// What to do with MLflow runs imported before (by their run id):
        /// refuse the import, skip them, or replace them.
        #[arg(long, value_enum, default_value = "refuse")]
        existing: transfer::OnExisting,
    },
    /// Bring TensorBoard runs over: the scalars of every event file under
    /// LOGDIR, a run per folder, and hparams as params.
    #[command(
        name = "import-tensorboard",
        after_help = "Examples:\n  runlog-db import-tensorboard /data/runs ./runs\n  runlog-db import-tensorboard /data/runs ./logs --experiment resnet --tolerate-corrupt-tail"
    )]
    ImportTensorboard {
        /// The database directory (created if missing).
        dir: PathBuf,
        /// The folder of event files (searched through).
        logdir: PathBuf,
        /// The experiment of the runs (default: LOGDIR's name).
        #[arg(long)]
        experiment: Option<String>,
        /// Keep the records before damage in an event file (a run killed
        /// while writing), as TensorBoard does, instead of refusing.
        #[arg(long)]
        tolerate_corrupt_tail: bool,
        /// What to do with runs imported before from the same folders:
        /// refuse the import, skip them, or replace them.
        #[arg(long, value_enum, default_value = "refuse")]
        existing: transfer::OnExisting,
    },
    /// Follow a live run: print every point as the writer logs it, in the
    /// order logged, until Ctrl-C. Waits for a run that does not exist yet.
    #[command(after_help = "Example:\n  runlog-db tail /data/runs exp/run-7 loss acc")]
    Tail {
        /// The database directory.
        dir: PathBuf,
        #[command(flatten)]
        run: RunArg,
        /// The metrics to follow (all if none).
        metrics: Vec<String>,
        /// Print JSON lines.
        #[arg(long)]
        json: bool,
    },
    /// Write points as CSV or JSON lines (run, experiment, metric, step,
    /// timestamp_ms, value), floats exact; or everything of the runs as a
    /// folder of Parquet tables (points, texts, cells, runs, partitioned
    /// by experiment: docs/parquet.md), for DuckDB, Polars, Spark or Trino.
    /// CSV holds points only, JSON lines also each run's status, times,
    /// params and tags.
    #[command(
        after_help = "Examples:\n  runlog-db export runlog-demo --run exp-0/run-00000 --format csv -o run0.csv\n  runlog-db export runlog-demo --format parquet -o lake\n  runlog-db export runlog-demo --format parquet -o lake --since 1765000000000"
    )]
    Export {
        /// The database directory.
        dir: PathBuf,
        /// Only this run.
        #[arg(long)]
        run: Option<String>,
        /// Only runs of this experiment (with --run: the run's experiment,
        /// for names that hold `/`).
        #[arg(long)]
        experiment: Option<String>,
        /// Parquet only: the points and text points logged at or after this
        /// time (ms since the epoch), added to an earlier export in the same
        /// folder without rewriting it. Each export prints the --since of
        /// the next.
        #[arg(long)]
        since: Option<i64>,
        /// The format.
        #[arg(long, value_enum)]
        format: transfer::FileFormat,
        /// The file to write (a folder for Parquet).
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Read points written by `export` (or any file with its named columns):
    /// the file is read twice, streaming; a bad line is reported with its
    /// number and nothing is written; the runs appear all at once at the
    /// end, or (after a crash) not at all.
    #[command(after_help = "Example:\n  runlog-db import /data/runs --format jsonl points.jsonl")]
    Import {
        /// The database directory (created if missing).
        dir: PathBuf,
        /// The format.
        #[arg(long, value_enum)]
        format: transfer::FileFormat,
        /// What to do with runs the database already holds (a re-run of
        /// the same import): refuse the import, skip them, or replace them.
        #[arg(long, value_enum, default_value = "refuse")]
        existing: transfer::OnExisting,
        /// The file to read (a folder for Parquet).
        file: PathBuf,
    },
}

fn run(command: Command) -> Result<(), CliError> {
    match command {
        Command::Demo { dir, steps, json } => demo::run(&dir, steps, json),
        Command::Experiments { dir, json } => query::experiments(&dir, json),
        Command::Runs {
            dir,
            experiment,
            status,
            tag,
            metric,
            sort,
            desc,
            limit,
            json,
        } => query::runs(
            &dir,
            query::RunsQuery {
                experiment,
                status,
                tag,
                metrics: metric,
                sort,
                descending: desc,
                limit,
            },
            json,
        ),
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
        } => query::history(
            &dir,
            &run,
            &metric,
            query::HistoryQuery {
                from,
                to,
                limit,
                buckets,
            },
            json,
        ),
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
        Command::Repair { dir } => storage::repair(&dir),
        Command::Plot {
            dir,
            run,
            metrics,
            runs,
            x,
            smooth,
            log_y,
            output,
        } => plot::run(
            &dir,
            &run,
            &metrics,
            &runs,
            plot::Options { x, smooth, log_y },
            &output,
        ),
        Command::Artifacts {
            dir,
            run,
            prefix,
            json,
        } => contents::list_artifacts(&dir, &run, &prefix, json),
        Command::Artifact {
            dir,
            run,
            path,
            output,
        } => contents::get_artifact(&dir, &run, &path, output.as_deref()),
        Command::PutArtifact {
            dir,
            run,
            path,
            file,
            media_type,
        } => contents::put_artifact(&dir, &run, &path, &file, media_type.as_deref()),
        Command::Logs {
            dir,
            run,
            stream,
            from,
            follow,
            json,
        } => contents::logs(
            &dir,
            &run,
            contents::LogsQuery {
                stream,
                from,
                follow,
                json,
            },
        ),
        Command::Tables {
            dir,
            run,
            table,
            json,
        } => contents::tables(&dir, &run, table.as_deref(), json),
        Command::ExportRun { dir, run, output } => run_archive::export(&dir, &run, &output),
        Command::ImportRun {
            dir,
            archive,
            existing,
        } => run_archive::import(&dir, &archive, existing),
        Command::ImportMlflow {
            dir,
            source,
            existing,
        } => Ok(mlflow::import(&dir, &source, existing)?),
        Command::ImportTensorboard {
            dir,
            logdir,
            experiment,
            tolerate_corrupt_tail,
            existing,
        } => Ok(tensorboard::import(
            &dir,
            &logdir,
            experiment,
            tolerate_corrupt_tail,
            existing,
        )?),
        Command::Tail {
            dir,
            run,
            metrics,
            json,
        } => tail::run(&dir, &run, &metrics, json),
        Command::Export {
            dir,
            run,
            experiment,
            since,
            format,
            output,
        } => {
            let db = query::open(&dir)?;
            let (run, experiment) = match run {
                Some(run) => (Some(RunArg { run, experiment }), None),
                None => (None, experiment),
            };
            let runs = transfer::select_runs(&db, run.as_ref(), experiment.as_deref())?;
            match format.lines() {
                Some(_) if since.is_some() => Err(
                    "--since is for --format parquet, whose exports.jsonl records where each export ends"
                        .into(),
                ),
                Some(lines) => transfer::export(&db, &runs, lines, &output),
                None => {
                    let selection = parquet_dir::Selection {
                        runs,
                        run: run.map(|r| r.describe()),
                        experiment,
                        since_ms: since,
                    };
                    parquet_dir::export(&db, selection, &output)
                }
            }
        }
        Command::Import {
            dir,
            format,
            existing,
            file,
        } => match format.lines() {
            Some(lines) => transfer::import(&dir, lines, &file, existing),
            None => parquet_dir::import(&dir, &file, existing),
        },
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    output::set_style(Style {
        exact: cli.exact,
        utc: cli.utc,
    });
    match run(cli.command) {
        Ok(()) | Err(CliError::BrokenPipe) => ExitCode::SUCCESS,
        Err(CliError::Message(message)) => {
            eprintln!("runlog-db: {message}");
            ExitCode::FAILURE
        }
    }
}
