//! Progress bars and spinners on standard error, drawn only on a terminal
//! (indicatif hides them when standard error is piped or redirected).

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// A bar over `total` units of `unit` (points, bytes, runs...).
pub fn bar(total: u64, unit: &str) -> ProgressBar {
    let template = if unit == "bytes" {
        "{msg} {bar:40} {binary_bytes}/{binary_total_bytes}  {binary_bytes_per_sec}  eta {eta}"
            .to_string()
    } else {
        format!("{{msg}} {{bar:40}} {{human_pos}}/{{human_len}} {unit}  {{per_sec}}  eta {{eta}}")
    };
    ProgressBar::new(total)
        .with_style(ProgressStyle::with_template(&template).expect("a valid template"))
}

/// A spinner with a message, for work of unknown length.
pub fn spinner(message: impl Into<String>) -> ProgressBar {
    let spinner = ProgressBar::new_spinner().with_message(message.into());
    spinner.enable_steady_tick(Duration::from_millis(100));
    spinner
}
