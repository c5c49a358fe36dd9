//! `runlog-server DIR [--host 127.0.0.1] [--port 5000] [--token T]`: an
//! MLflow-compatible tracking server over the runlog database in DIR.
//! Loopback unless told otherwise; shuts down gracefully on SIGINT and
//! SIGTERM (in-flight requests finish, the database is closed). Every
//! write is durable before its answer (`Durability::Sync`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;

/// An MLflow-compatible tracking server over a runlog database.
#[derive(Debug, Parser)]
#[command(
    name = "runlog-server",
    version,
    after_help = "Example:\n  runlog-server /data/runs --port 5000\n  MLFLOW_TRACKING_URI=http://127.0.0.1:5000 python train.py"
)]
struct Cli {
    /// The database directory (created if missing).
    dir: PathBuf,
    /// The address to listen on (loopback by default).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// The port (0 picks a free one; the address is printed).
    #[arg(long, default_value_t = 5000)]
    port: u16,
    /// Require this bearer token (the mlflow client sends
    /// MLFLOW_TRACKING_TOKEN); also read from RUNLOG_SERVER_TOKEN.
    #[arg(long, env = "RUNLOG_SERVER_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let terminated = async {
        match terminate.as_mut() {
            Some(signal) => {
                signal.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = interrupt => {},
        () = terminated => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    // Sync: an HTTP 200 means the write is on disk (concurrent requests
    // share their fsyncs).
    let opened = runlog::Db::builder(&cli.dir)
        .durability(runlog::Durability::Sync)
        .open();
    let db = match opened {
        Ok(db) => Arc::new(db),
        Err(e) => {
            eprintln!("runlog-server: {e}");
            return ExitCode::FAILURE;
        }
    };
    let app = match runlog_server::router(Arc::clone(&db), cli.token) {
        Ok(app) => app,
        Err(e) => {
            eprintln!("runlog-server: {e}");
            return ExitCode::FAILURE;
        }
    };
    let address = format!("{}:{}", cli.host, cli.port);
    let listener = match tokio::net::TcpListener::bind(&address).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("runlog-server: cannot listen on {address}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let bound: SocketAddr = listener
        .local_addr()
        .expect("a bound socket has an address");
    println!(
        "runlog-server listening on http://{bound} (database {})",
        cli.dir.display()
    );
    println!("open http://{bound}/ in a browser for runs, charts, logs and artifacts");
    let app = app.layer(axum::middleware::from_fn(log_request));
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await;
    if let Err(e) = served {
        eprintln!("runlog-server: {e}");
        return ExitCode::FAILURE;
    }
    // Every handler is done: the last reference closes the database.
    match Arc::try_unwrap(db) {
        Ok(db) => match db.close() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("runlog-server: closing the database: {e}");
                ExitCode::FAILURE
            }
        },
        Err(db) => match db.sync() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("runlog-server: syncing the database: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

/// Logs each request's method, path, status and time.
async fn log_request(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let (method, path) = (request.method().clone(), request.uri().path().to_string());
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    tracing::info!(%method, path, status = response.status().as_u16(), micros = started.elapsed().as_micros() as u64, "request");
    response
}
