//! Printing: readable tables and numbers by default, exact spellings with
//! `--exact` and in JSON, times in one format with their zone, and a closed
//! pipe that ends a command quietly.

use std::fmt;
use std::io::{self, BufWriter, IsTerminal, Stdout, Write};
use std::sync::OnceLock;

use comfy_table::{CellAlignment, ContentArrangement, LineStyle, Table as Grid, TableStyle};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use runlog::float_text;
use serde::Serialize;

/// What a command failed with.
#[derive(Debug)]
pub enum CliError {
    /// A message for the user.
    Message(String),
    /// Whoever read the output went away (`| head`): end quietly.
    BrokenPipe,
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Message(message) => f.write_str(message),
            CliError::BrokenPipe => f.write_str("broken pipe"),
        }
    }
}

impl From<String> for CliError {
    fn from(message: String) -> CliError {
        CliError::Message(message)
    }
}

impl From<&str> for CliError {
    fn from(message: &str) -> CliError {
        CliError::Message(message.to_string())
    }
}

impl From<runlog::Error> for CliError {
    fn from(error: runlog::Error) -> CliError {
        CliError::Message(error.to_string())
    }
}

impl From<io::Error> for CliError {
    /// Errors writing standard output: a closed pipe, or a real failure.
    fn from(error: io::Error) -> CliError {
        if error.kind() == io::ErrorKind::BrokenPipe {
            CliError::BrokenPipe
        } else {
            CliError::Message(format!("cannot write the output: {error}"))
        }
    }
}

/// What every command returns.
pub type CliResult<T = ()> = Result<T, CliError>;

/// How values print, from the global flags.
#[derive(Clone, Copy, Debug, Default)]
pub struct Style {
    /// Floats in their exact round-trip spelling.
    pub exact: bool,
    /// Times in UTC rather than the local zone.
    pub utc: bool,
}

static STYLE: OnceLock<Style> = OnceLock::new();

/// Sets the style once, from the command line.
pub fn set_style(style: Style) {
    let _ = STYLE.set(style);
}

fn style() -> Style {
    STYLE.get().copied().unwrap_or_default()
}

/// Buffered standard output; every write reports a closed pipe as
/// [`CliError::BrokenPipe`].
pub struct Out(BufWriter<Stdout>);

impl Out {
    /// Standard output.
    pub fn new() -> Out {
        Out(BufWriter::new(io::stdout()))
    }

    /// Writes one line.
    pub fn line(&mut self, text: impl fmt::Display) -> CliResult {
        writeln!(self.0, "{text}")?;
        Ok(())
    }

    /// Writes `value` as one line of JSON.
    pub fn json(&mut self, value: &impl Serialize) -> CliResult {
        serde_json::to_writer(&mut self.0, value)
            .map_err(|e| io::Error::from(e.io_error_kind().unwrap_or(io::ErrorKind::Other)))?;
        writeln!(self.0)?;
        Ok(())
    }

    /// Writes out what is buffered (before waiting, in `tail`).
    pub fn flush(&mut self) -> CliResult {
        self.0.flush()?;
        Ok(())
    }
}

/// A float exactly: the round-trip spelling (`runlog::float_text`).
pub fn exact(value: f64) -> String {
    float_text::exact(value)
}

/// A float as a person reads it: about 6 significant digits, exponent form
/// for very large or small magnitudes (`1.85055e-12`), never wider than a
/// dozen characters; exact under `--exact`.
pub fn num(value: f64) -> String {
    if style().exact || !value.is_finite() {
        return exact(value);
    }
    let magnitude = value.abs();
    if value == 0.0 || (1e-4..1e6).contains(&magnitude) {
        let digits_before = if value == 0.0 {
            1
        } else {
            magnitude.log10().floor() as i32 + 1
        };
        let decimals = (6 - digits_before).clamp(0, 10) as usize;
        trim_zeros(&format!("{value:.decimals$}"))
    } else {
        let text = format!("{value:.5e}");
        match text.split_once('e') {
            Some((mantissa, exponent)) => format!("{}e{exponent}", trim_zeros(mantissa)),
            None => text,
        }
    }
}

fn trim_zeros(text: &str) -> String {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text.to_string()
    }
}

fn zone() -> TimeZone {
    if style().utc {
        TimeZone::UTC
    } else {
        TimeZone::system()
    }
}

/// Milliseconds since the epoch as `YYYY-MM-DD HH:MM:SS.mmm ZONE`, in the
/// local zone (UTC under `--utc`).
pub fn time(ms: i64) -> String {
    match Timestamp::from_millisecond(ms) {
        Ok(at) => at
            .to_zoned_datetime(zone())
            .strftime("%Y-%m-%d %H:%M:%S%.3f %Z")
            .to_string(),
        Err(_) => format!("{ms} ms"),
    }
}

/// A length of time, as `3d 4h`, `2h 05m`, `4m 10s` or `1.25 s`.
pub fn duration(ms: i64) -> String {
    let negative = ms < 0;
    let ms = ms.unsigned_abs();
    let text = match ms {
        0..60_000 => format!("{:.2} s", ms as f64 / 1000.0),
        60_000..3_600_000 => format!("{}m {:02}s", ms / 60_000, ms / 1000 % 60),
        3_600_000..86_400_000 => format!("{}h {:02}m", ms / 3_600_000, ms / 60_000 % 60),
        _ => format!("{}d {}h", ms / 86_400_000, ms / 3_600_000 % 24),
    };
    if negative { format!("-{text}") } else { text }
}

/// How a column lines up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    /// Text, to the left.
    Left,
    /// Numbers, to the right.
    Right,
}

/// A text table: a header, then rows; numbers right-aligned.
pub struct Table {
    grid: Grid,
    aligns: Vec<Align>,
}

impl Table {
    /// A table with these columns.
    pub fn new(columns: &[(&str, Align)]) -> Table {
        let mut grid = Grid::new();
        // A line under the header and nothing else, as psql and duckdb print.
        grid.load_style(
            TableStyle::new().header_separator(LineStyle::none().fill('─').junction('─')),
        )
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(columns.iter().map(|(name, _)| *name));
        let aligns: Vec<Align> = columns.iter().map(|(_, align)| *align).collect();
        for (index, align) in aligns.iter().enumerate() {
            if *align == Align::Right
                && let Some(column) = grid.column_mut(index)
            {
                column.set_cell_alignment(CellAlignment::Right);
            }
        }
        if !io::stdout().is_terminal() {
            grid.force_no_tty();
        }
        Table { grid, aligns }
    }

    /// Adds a row (as many cells as columns).
    pub fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.aligns.len());
        self.grid.add_row(cells);
    }

    /// Prints the table.
    pub fn print(&self, out: &mut Out) -> CliResult {
        out.line(&self.grid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_people_read_them() {
        assert_eq!(num(0.1), "0.1");
        assert_eq!(num(1.8505508292410153e-12), "1.85055e-12");
        assert_eq!(num(f64::MAX), "1.79769e308");
        assert_eq!(num(-f64::MAX), "-1.79769e308");
        assert_eq!(num(123456.789), "123457");
        assert_eq!(num(2.0), "2");
        assert_eq!(num(0.000123456789), "0.000123457");
        assert_eq!(num(-0.0), "-0");
        assert_eq!(num(f64::NEG_INFINITY), "-inf");
        assert_eq!(num(f64::NAN), "NaN");
        assert!(num(5e-324).len() <= 12, "{}", num(5e-324));
    }

    #[test]
    fn durations_pick_their_unit() {
        assert_eq!(duration(1250), "1.25 s");
        assert_eq!(duration(250_000), "4m 10s");
        assert_eq!(duration(7_500_000), "2h 05m");
        assert_eq!(duration(3 * 86_400_000 + 4 * 3_600_000), "3d 4h");
    }

    #[test]
    fn times_carry_their_zone() {
        set_style(Style {
            exact: false,
            utc: true,
        });
        assert_eq!(time(1_700_000_000_123), "2023-11-14 22:13:20.123 UTC");
    }
}
