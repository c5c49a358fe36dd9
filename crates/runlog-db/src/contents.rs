//! Commands about what a run holds besides metrics: artifacts, text logs
//! and tables.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::Duration;

use runlog::Db;
use serde_json::json;

use crate::output::{Align, CliError, CliResult, Out, Table, num, time};
use crate::query::{open, open_writer};
use crate::run_arg::RunArg;

/// How often `logs --follow` looks for new lines.
const POLL: Duration = Duration::from_millis(200);
/// Lines read from a log at a time.
const LINES_PER_READ: usize = 10_000;

/// `artifacts`: a run's artifacts under a prefix.
pub fn list_artifacts(dir: &Path, run: &RunArg, prefix: &str, json: bool) -> CliResult {
    let db = open(dir)?;
    let id = run.resolve(&db)?;
    let artifacts = db.artifacts(id, prefix)?;
    let mut out = Out::new();
    if json {
        return out.json(&artifacts);
    }
    let mut table = Table::new(&[
        ("path", Align::Left),
        ("bytes", Align::Right),
        ("media type", Align::Left),
        ("step", Align::Right),
        ("time", Align::Left),
        ("blake3", Align::Left),
    ]);
    for a in &artifacts {
        table.row(vec![
            a.path.clone(),
            a.size.to_string(),
            a.media_type.clone(),
            a.step.map_or_else(|| "-".into(), |s| s.to_string()),
            time(a.time_ms),
            a.hash.to_string()[..16].to_string(),
        ]);
    }
    table.print(&mut out)?;
    let bytes: u64 = artifacts.iter().map(|a| a.size).sum();
    out.line(format!("{} artifacts, {bytes} bytes", artifacts.len()))
}

/// `artifact`: an artifact's content, to a file or to standard output,
/// streamed and checked against its hash.
pub fn get_artifact(dir: &Path, run: &RunArg, path: &str, output: Option<&Path>) -> CliResult {
    let db = open(dir)?;
    let id = run.resolve(&db)?;
    let mut reader = db.open_artifact(id, path)?;
    let copied = match output {
        Some(file) => {
            // Written beside the target and renamed, so a damaged artifact
            // leaves no partial file under the name asked for.
            let temp = file.with_extension("runlog-partial");
            let mut out = BufWriter::new(
                File::create(&temp).map_err(|e| format!("create {}: {e}", temp.display()))?,
            );
            let copied = io::copy(&mut reader, &mut out).and_then(|n| out.flush().map(|()| n));
            match copied {
                Ok(_) => std::fs::rename(&temp, file)
                    .map_err(|e| format!("rename into {}: {e}", file.display())),
                Err(e) => {
                    let _ = std::fs::remove_file(&temp);
                    Err(e.to_string())
                }
            }
        }
        None => {
            let mut out = io::stdout().lock();
            match io::copy(&mut reader, &mut out).and_then(|_| out.flush()) {
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                    return Err(CliError::BrokenPipe);
                }
                other => other.map_err(|e| e.to_string()),
            }
        }
    };
    Ok(copied?)
}

/// `put-artifact`: stores a file as an artifact of a run.
pub fn put_artifact(
    dir: &Path,
    run: &RunArg,
    path: &str,
    file: &Path,
    media_type: Option<&str>,
) -> CliResult {
    let db = open_writer(Db::builder(dir))?;
    let id = run.resolve(&db)?;
    let mut source = File::open(file).map_err(|e| format!("open {}: {e}", file.display()))?;
    let artifact = db.put_artifact_from(id, path, &mut source, media_type)?;
    db.close()?;
    Out::new().line(format!(
        "stored {} ({} bytes, {}, blake3 {})",
        artifact.path, artifact.size, artifact.media_type, artifact.hash
    ))
}

/// What `logs` reads.
#[derive(Debug)]
pub struct LogsQuery {
    /// The stream; none lists the streams.
    pub stream: Option<String>,
    /// The first line to print (0-based).
    pub from: u64,
    /// Keep printing lines as the writer appends them.
    pub follow: bool,
    /// One JSON object per line.
    pub json: bool,
}

/// `logs`: a run's text-log streams, or one stream's lines.
pub fn logs(dir: &Path, run: &RunArg, query: LogsQuery) -> CliResult {
    let db = open(dir)?;
    let id = run.resolve(&db)?;
    let mut out = Out::new();
    let Some(stream) = query.stream else {
        let streams = db.log_streams(id)?;
        if query.json {
            return out.json(&streams);
        }
        let mut table = Table::new(&[
            ("stream", Align::Left),
            ("lines", Align::Right),
            ("bytes", Align::Right),
            ("stored", Align::Right),
        ]);
        for s in &streams {
            table.row(vec![
                s.name.clone(),
                s.lines.to_string(),
                s.bytes.to_string(),
                s.stored_bytes.to_string(),
            ]);
        }
        return table.print(&mut out);
    };
    let mut next = query.from;
    // A line still being written is printed only once it is whole, when
    // following; otherwise the stream's end is printed as it is.
    loop {
        let read = db.log_lines(id, &stream, next, LINES_PER_READ)?;
        for (i, line) in read.lines.iter().enumerate() {
            print_line(&mut out, read.first_line + i as u64, line, query.json)?;
        }
        next = read.next_line();
        if read.lines.len() == LINES_PER_READ {
            continue;
        }
        if !query.follow {
            if let Some(rest) = &read.unterminated {
                print_line(&mut out, next, rest, query.json)?;
            }
            return out.flush();
        }
        out.flush()?;
        std::thread::sleep(POLL);
        db.refresh()?;
    }
}

fn print_line(out: &mut Out, number: u64, text: &str, json: bool) -> CliResult {
    if json {
        out.json(&json!({"line": number, "text": text}))
    } else {
        out.line(text)
    }
}

/// `tables`: a run's tables, or one table's rows.
pub fn tables(dir: &Path, run: &RunArg, table: Option<&str>, json: bool) -> CliResult {
    let db = open(dir)?;
    let id = run.resolve(&db)?;
    let mut out = Out::new();
    let Some(name) = table else {
        let mut rows = Vec::new();
        for name in db.table_names(id)? {
            let t = db.table(id, &name)?;
            let mut columns: Vec<String> = t.columns.iter().map(|c| c.0.clone()).collect();
            columns.extend(t.text_columns.iter().map(|c| c.0.clone()));
            rows.push((name, t.rows, columns));
        }
        if json {
            let rows: Vec<_> = rows
                .iter()
                .map(|(name, n, columns)| json!({"table": name, "rows": n, "columns": columns}))
                .collect();
            return out.json(&rows);
        }
        let mut list = Table::new(&[
            ("table", Align::Left),
            ("rows", Align::Right),
            ("columns", Align::Left),
        ]);
        for (name, n, columns) in rows {
            list.row(vec![name, n.to_string(), columns.join(", ")]);
        }
        return list.print(&mut out);
    };
    let t = db.table(id, name)?;
    let mut headers = vec![("row".to_string(), Align::Right)];
    headers.extend(t.columns.iter().map(|c| (c.0.clone(), Align::Right)));
    headers.extend(t.text_columns.iter().map(|c| (c.0.clone(), Align::Left)));
    if json {
        for row in 0..t.rows as usize {
            let mut cells = serde_json::Map::new();
            cells.insert("row".into(), json!(row));
            for (column, values) in &t.columns {
                if let Some(v) = values[row] {
                    cells.insert(column.clone(), crate::query::json_num(v));
                }
            }
            for (column, values) in &t.text_columns {
                if let Some(v) = &values[row] {
                    cells.insert(column.clone(), json!(v));
                }
            }
            out.json(&cells)?;
        }
        return Ok(());
    }
    let columns: Vec<(&str, Align)> = headers.iter().map(|(h, a)| (h.as_str(), *a)).collect();
    let mut printed = Table::new(&columns);
    for row in 0..t.rows as usize {
        let mut cells = vec![row.to_string()];
        cells.extend(
            t.columns
                .iter()
                .map(|(_, values)| values[row].map_or_else(|| "-".into(), num)),
        );
        cells.extend(
            t.text_columns
                .iter()
                .map(|(_, values)| values[row].clone().unwrap_or_else(|| "-".into())),
        );
        printed.row(cells);
    }
    printed.print(&mut out)
}
