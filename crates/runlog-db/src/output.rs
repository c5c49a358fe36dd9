//! Printing: aligned text tables by default, JSON with `--json`.

use serde_json::{Value, json};

/// A text table: a header row and data rows, columns padded to align.
#[derive(Debug, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column names.
    pub fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (as many cells as the header).
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The table as aligned text, one line per row.
    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let line = |cells: &[String]| {
            let padded: Vec<String> = cells
                .iter()
                .zip(&widths)
                .map(|(cell, &width)| format!("{cell:<width$}"))
                .collect();
            padded.join("  ").trim_end().to_string()
        };
        let mut out = line(&self.header);
        for row in &self.rows {
            out.push('\n');
            out.push_str(&line(row));
        }
        out
    }
}

/// A float as text that parses back to the same bits: the shortest
/// round-trip form, `inf`, `-inf`, `NaN`, and a NaN with another payload as
/// `NaN:0x<16 hex digits>` (see `transfer::parse_value`).
pub fn num(value: f64) -> String {
    if value.is_nan() {
        if value.to_bits() == f64::NAN.to_bits() {
            "NaN".into()
        } else {
            format!("NaN:{:#018x}", value.to_bits())
        }
    } else if value.is_infinite() {
        if value > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        }
    } else {
        format!("{value}")
    }
}

/// A float for JSON: a number, or the strings `"NaN"`, `"inf"`, `"-inf"`
/// (JSON has no such numbers).
pub fn json_num(value: f64) -> Value {
    if value.is_finite() {
        json!(value)
    } else {
        json!(num(value))
    }
}

/// Milliseconds since the epoch as `YYYY-MM-DD HH:MM:SS` UTC.
pub fn time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_numbers_print_as_people_read_them() {
        assert_eq!(time(0), "1970-01-01 00:00:00");
        assert_eq!(time(1_700_000_000_000), "2023-11-14 22:13:20");
        assert_eq!(num(0.1), "0.1");
        assert_eq!(num(f64::NEG_INFINITY), "-inf");
        assert_eq!(json_num(f64::NAN), json!("NaN"));
        let mut table = Table::new(&["a", "long"]);
        table.row(vec!["xyz".into(), "1".into()]);
        assert_eq!(table.render(), "a    long\nxyz  1");
    }
}
