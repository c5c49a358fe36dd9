//! `plot`: line charts of a run's metrics, or of metrics across runs, one
//! panel per metric (small multiples), as SVG or PNG. Each series is read
//! in windows (bounded memory) and reduced to the minimum and maximum of
//! about 1,000 windows, so spikes survive. NaN and infinite values cannot
//! be drawn: they are left out and counted on standard error, as are
//! values <= 0 on a log axis.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use runlog::{DEFAULT_CHUNK_POINTS, Db, RunId};

use crate::output::{CliResult, duration, num, time};
use crate::query::open;
use crate::run_arg::RunArg;

/// Windows a series is reduced to.
const WINDOWS: u64 = 1000;

/// Line colours, one per run (Tableau 10).
const COLORS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// What goes on the x axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum XAxis {
    /// The step.
    Step,
    /// Time since the run's first point of the metric.
    Time,
    /// Wall-clock time.
    Wall,
}

/// How the chart is drawn.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// The x axis.
    pub x: XAxis,
    /// EMA weight, 0..1.
    pub smooth: Option<f64>,
    /// A log10 y axis.
    pub log_y: bool,
}

/// Points of a line, `(x, y)` in x order.
type Points = Vec<(f64, f64)>;

/// One run's line in a panel.
struct Line {
    label: String,
    raw: Points,
    smoothed: Points,
}

/// One metric's panel.
struct Panel {
    metric: String,
    lines: Vec<Line>,
}

/// Keeps the smallest and largest point of each window, in x order.
#[derive(Default)]
struct Reducer {
    window: u64,
    seen: u64,
    low: Option<(f64, f64)>,
    high: Option<(f64, f64)>,
    out: Vec<(f64, f64)>,
}

impl Reducer {
    fn new(count: u64) -> Reducer {
        Reducer {
            window: count.div_ceil(WINDOWS).max(1),
            ..Reducer::default()
        }
    }

    fn push(&mut self, point: (f64, f64)) {
        if self.low.is_none_or(|low| point.1 < low.1) {
            self.low = Some(point);
        }
        if self.high.is_none_or(|high| point.1 > high.1) {
            self.high = Some(point);
        }
        self.seen += 1;
        if self.seen == self.window {
            self.close_window();
        }
    }

    fn close_window(&mut self) {
        if let (Some(low), Some(high)) = (self.low.take(), self.high.take()) {
            let (first, second) = if low.0 <= high.0 {
                (low, high)
            } else {
                (high, low)
            };
            self.out.push(first);
            if second != first {
                self.out.push(second);
            }
        }
        self.seen = 0;
    }

    fn finish(mut self) -> Vec<(f64, f64)> {
        self.close_window();
        self.out
    }
}

/// Exponential moving average as TensorBoard computes it (debiased).
struct Ema {
    weight: f64,
    last: f64,
    steps: i32,
}

impl Ema {
    fn next(&mut self, value: f64) -> f64 {
        self.last = self.last * self.weight + (1.0 - self.weight) * value;
        self.steps += 1;
        let debias = 1.0 - self.weight.powi(self.steps);
        if debias > 0.0 {
            self.last / debias
        } else {
            value
        }
    }
}

/// Reads one metric of one run into a line: x per the axis, values
/// transformed for a log axis, what cannot be drawn counted in `skipped`.
fn read_line(
    db: &Db,
    run: RunId,
    metric: &str,
    options: Options,
    skipped: &mut (u64, u64),
) -> CliResult<(Points, Points)> {
    let stats = db.stats(run, metric)?;
    let mut raw = Reducer::new(stats.count);
    let mut smoothed = Reducer::new(stats.count);
    let mut ema = options.smooth.map(|weight| Ema {
        weight,
        last: 0.0,
        steps: 0,
    });
    let origin = stats.min_timestamp;
    for chunk in db.history_chunks(run, metric, .., DEFAULT_CHUNK_POINTS)? {
        let chunk = chunk?;
        for i in 0..chunk.len() {
            let value = chunk.values[i];
            if !value.is_finite() {
                skipped.0 += 1;
                continue;
            }
            let y = if options.log_y {
                if value <= 0.0 {
                    skipped.1 += 1;
                    continue;
                }
                value.log10()
            } else {
                value
            };
            let x = match options.x {
                XAxis::Step => chunk.steps[i] as f64,
                XAxis::Time => (chunk.timestamps[i] - origin) as f64,
                XAxis::Wall => chunk.timestamps[i] as f64,
            };
            raw.push((x, y));
            if let Some(ema) = &mut ema {
                smoothed.push((x, ema.next(y)));
            }
        }
    }
    Ok((raw.finish(), smoothed.finish()))
}

/// Draws the chart into `output` (SVG, or PNG by its extension).
pub fn run(
    dir: &Path,
    run: &RunArg,
    metrics: &[String],
    runs: &[String],
    options: Options,
    output: &Path,
) -> CliResult {
    if let Some(weight) = options.smooth
        && !(0.0..1.0).contains(&weight)
    {
        return Err(
            format!("--smooth {weight}: give a weight from 0 up to (not including) 1").into(),
        );
    }
    let db = open(dir)?;
    let mut ids = vec![run.resolve(&db)?];
    for other in runs {
        let other = RunArg {
            run: other.clone(),
            experiment: None,
        };
        ids.push(other.resolve(&db)?);
    }
    let mut names = Vec::new();
    for &id in &ids {
        let info = db.run(id)?;
        names.push(format!("{}/{}", info.experiment, info.name));
    }
    let mut panels = Vec::new();
    for metric in metrics {
        let mut lines = Vec::new();
        let mut skipped = (0, 0);
        for (&id, name) in ids.iter().zip(&names) {
            let (raw, smoothed) = match read_line(&db, id, metric, options, &mut skipped) {
                Ok(line) => line,
                Err(_) if ids.len() > 1 => {
                    eprintln!("runlog-db: {name} has no metric {metric:?}; left out of its panel");
                    continue;
                }
                Err(e) => return Err(e),
            };
            lines.push(Line {
                label: name.clone(),
                raw,
                smoothed,
            });
        }
        if skipped.0 > 0 {
            eprintln!(
                "runlog-db: {metric}: {} NaN or infinite values cannot be drawn; left out",
                skipped.0
            );
        }
        if skipped.1 > 0 {
            eprintln!(
                "runlog-db: {metric}: {} values <= 0 have no place on a log axis; left out",
                skipped.1
            );
        }
        panels.push(Panel {
            metric: metric.clone(),
            lines,
        });
    }
    let title = if ids.len() == 1 {
        names[0].clone()
    } else {
        format!("{} runs: {}", ids.len(), names.join(", "))
    };
    let png = output
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("png"));
    let size = figure_size(panels.len());
    // Text is laid out with an embedded font in either format.
    register_font();
    let drawn = if png {
        let root = BitMapBackend::new(output, size).into_drawing_area();
        draw(&root, &title, &panels, options)
    } else {
        let root = SVGBackend::new(output, size).into_drawing_area();
        draw(&root, &title, &panels, options)
    };
    drawn.map_err(|e| format!("cannot draw {}: {e}", output.display()).into())
}

/// Panels per row, and the picture's size.
fn layout(panels: usize) -> (usize, usize) {
    let columns = match panels {
        0 | 1 => 1,
        2 | 4 => 2,
        _ => 3,
    };
    (columns, panels.div_ceil(columns).max(1))
}

fn figure_size(panels: usize) -> (u32, u32) {
    let (columns, rows) = layout(panels);
    let width = if columns == 1 {
        1000
    } else {
        560 * columns as u32
    };
    (width, 60 + 380 * rows as u32)
}

/// Charts lay text out with an embedded font (DejaVu Sans), so that they
/// have their labels on a machine without fonts.
fn register_font() {
    let _ =
        plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular());
}

/// The smallest and largest y and x of a panel's lines.
fn bounds(panel: &Panel) -> Option<((f64, f64), (f64, f64))> {
    let points = panel
        .lines
        .iter()
        .flat_map(|l| l.raw.iter().chain(&l.smoothed));
    points.fold(None, |acc, &(x, y)| {
        let ((x0, x1), (y0, y1)) = acc.unwrap_or(((x, x), (y, y)));
        Some(((x0.min(x), x1.max(x)), (y0.min(y), y1.max(y))))
    })
}

/// The y axis for values from `lo` to `hi`: a scale that values are
/// divided by (a power of ten, where they come near `f64::MAX`), and a
/// range around the scaled values with a margin, finite, never empty, and
/// never so narrow that its ticks are subnormal.
fn y_range(lo: f64, hi: f64) -> (f64, f64, f64) {
    let scale = if lo.abs().max(hi.abs()) > 1e300 {
        1e10
    } else {
        1.0
    };
    let (lo, hi) = (lo / scale, hi / scale);
    let span = hi - lo;
    let pad = if span > 0.0 {
        span * 0.05
    } else if lo != 0.0 {
        lo.abs() * 0.1
    } else {
        1.0
    };
    let pad = pad.max(1e-300);
    (scale, lo - pad, hi + pad)
}

fn draw<B: DrawingBackend>(
    root: &DrawingArea<B, Shift>,
    title: &str,
    panels: &[Panel],
    options: Options,
) -> Result<(), Box<dyn std::error::Error>>
where
    B::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let root = root.titled(title, ("sans-serif", 22))?;
    let (columns, rows) = layout(panels.len());
    let areas = root.split_evenly((rows, columns));
    for (panel, area) in panels.iter().zip(&areas) {
        draw_panel(area, panel, options)?;
    }
    root.present()?;
    Ok(())
}

fn draw_panel<B: DrawingBackend>(
    area: &DrawingArea<B, Shift>,
    panel: &Panel,
    options: Options,
) -> Result<(), Box<dyn std::error::Error>>
where
    B::ErrorType: 'static,
{
    let Some(((x0, x1), (y0, y1))) = bounds(panel) else {
        area.titled(
            &format!("{}: nothing to draw", panel.metric),
            ("sans-serif", 16),
        )?;
        return Ok(());
    };
    let (scale, y_low, y_high) = y_range(y0, y1);
    let (x_low, x_high) = if x0 < x1 {
        (x0, x1)
    } else {
        (x0 - 1.0, x1 + 1.0)
    };
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.metric, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(36)
        .y_label_area_size(72)
        .build_cartesian_2d(x_low..x_high, y_low..y_high)?;
    let x_label = |x: &f64| match options.x {
        XAxis::Step => format!("{x:.0}"),
        XAxis::Time => duration(*x as i64),
        XAxis::Wall => time(*x as i64),
    };
    let y_label = |y: &f64| {
        let y = y * scale;
        if options.log_y {
            num(10f64.powf(y))
        } else {
            num(y)
        }
    };
    let mut y_desc = if options.log_y {
        "value (log)".to_string()
    } else {
        "value".to_string()
    };
    if scale != 1.0 {
        y_desc.push_str(" ×1e10");
    }
    chart
        .configure_mesh()
        .light_line_style(RGBColor(235, 235, 235))
        .x_labels(if options.x == XAxis::Wall { 4 } else { 8 })
        .x_label_formatter(&x_label)
        .y_label_formatter(&y_label)
        .x_desc(match options.x {
            XAxis::Step => "step",
            XAxis::Time => "time since the first point",
            XAxis::Wall => "time",
        })
        .y_desc(y_desc)
        .draw()?;
    for (index, line) in panel.lines.iter().enumerate() {
        let color = COLORS[index % COLORS.len()];
        let scaled = |points: &[(f64, f64)]| -> Vec<(f64, f64)> {
            points.iter().map(|&(x, y)| (x, y / scale)).collect()
        };
        let smoothing = options.smooth.is_some();
        let raw_style = if smoothing {
            color.mix(0.25).stroke_width(1)
        } else {
            color.stroke_width(2)
        };
        let drawn = chart.draw_series(LineSeries::new(scaled(&line.raw), raw_style))?;
        if !smoothing {
            drawn.label(line.label.clone()).legend(move |(lx, ly)| {
                PathElement::new(vec![(lx, ly), (lx + 20, ly)], color.stroke_width(2))
            });
        } else {
            chart
                .draw_series(LineSeries::new(
                    scaled(&line.smoothed),
                    color.stroke_width(2),
                ))?
                .label(line.label.clone())
                .legend(move |(lx, ly)| {
                    PathElement::new(vec![(lx, ly), (lx + 20, ly)], color.stroke_width(2))
                });
        }
    }
    if panel.lines.len() > 1 {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .position(SeriesLabelPosition::UpperRight)
            .draw()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn y_ranges_are_finite_cover_the_values_and_are_never_empty() {
        let cases = [
            (-f64::MAX, f64::MAX),
            (f64::MAX, f64::MAX),
            (-f64::MAX, -f64::MAX),
            (0.0, 0.0),
            (1e-300, 1e300),
            (5.0, 5.0),
            (-1e-320, -1e-320),
            (5e-324, 5e-324),
        ];
        for (lo, hi) in cases {
            let (scale, low, high) = y_range(lo, hi);
            assert!(
                low.is_finite() && high.is_finite(),
                "{lo} {hi}: {low} {high}"
            );
            assert!(
                (high - low).is_finite() && high - low >= 1e-300,
                "{lo} {hi}"
            );
            assert!(
                low <= lo / scale && hi / scale <= high,
                "{lo} {hi}: {low} {high}"
            );
        }
    }

    #[test]
    fn reduction_keeps_each_windows_extremes_in_x_order() {
        let mut reducer = Reducer::new(4000);
        for i in 0..4000 {
            reducer.push((i as f64, if i == 1234 { 1e9 } else { (i % 7) as f64 }));
        }
        let out = reducer.finish();
        assert!(out.len() <= 2 * WINDOWS as usize);
        assert!(out.contains(&(1234.0, 1e9)), "the spike survives");
        assert!(out.windows(2).all(|w| w[0].0 <= w[1].0));
    }
}
