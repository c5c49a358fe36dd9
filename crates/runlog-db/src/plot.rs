//! `plot`: an SVG line chart of metrics of a run, or of one metric across
//! runs, by step or by time. Large series are reduced to the minimum and
//! maximum of each of 1,000 windows, so peaks survive.

use std::path::Path;

use plotters::prelude::*;

use crate::query::{open, resolve_run};

/// Points kept per series before reducing.
const MAX_POINTS: usize = 2000;

/// What goes on the x axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum XAxis {
    /// The step.
    Step,
    /// The timestamp, in seconds since the first point.
    Time,
}

/// One line of the chart.
struct Line {
    label: String,
    points: Vec<(f64, f64)>,
}

/// Keeps a series' shape in at most ~`MAX_POINTS` points: the min and max
/// of each window, in x order. Non-finite values are left out.
fn reduce(points: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    let finite: Vec<(f64, f64)> = points.into_iter().filter(|p| p.1.is_finite()).collect();
    if finite.len() <= MAX_POINTS {
        return finite;
    }
    let window = finite.len().div_ceil(MAX_POINTS / 2);
    let mut out = Vec::with_capacity(MAX_POINTS);
    for chunk in finite.chunks(window) {
        let min = chunk.iter().min_by(|a, b| a.1.total_cmp(&b.1)).copied();
        let max = chunk.iter().max_by(|a, b| a.1.total_cmp(&b.1)).copied();
        if let (Some(min), Some(max)) = (min, max) {
            let (first, second) = if min.0 <= max.0 {
                (min, max)
            } else {
                (max, min)
            };
            out.push(first);
            if second != first {
                out.push(second);
            }
        }
    }
    out
}

/// Draws the chart into `output` (SVG).
pub fn run(
    dir: &Path,
    run: &str,
    metrics: &[String],
    runs: &[String],
    x: XAxis,
    output: &Path,
) -> Result<(), String> {
    let db = open(dir)?;
    let main = resolve_run(&db, run)?;
    let mut series: Vec<(runlog::RunId, String)> =
        metrics.iter().map(|m| (main, m.clone())).collect();
    if !runs.is_empty() {
        let [metric] = metrics else {
            return Err("--runs compares one metric: give exactly one METRIC".into());
        };
        for other in runs {
            series.push((resolve_run(&db, other)?, metric.clone()));
        }
    }
    let mut lines = Vec::new();
    for (run, metric) in series {
        let history = db.history(run, &metric, ..).map_err(|e| e.to_string())?;
        let start = history.timestamps.first().copied().unwrap_or(0);
        let points = (0..history.len())
            .map(|i| {
                let x = match x {
                    XAxis::Step => history.steps[i] as f64,
                    XAxis::Time => (history.timestamps[i] - start) as f64 / 1000.0,
                };
                (x, history.values[i])
            })
            .collect();
        let name = db.run(run).map_err(|e| e.to_string())?.name;
        lines.push(Line {
            label: if runs.is_empty() {
                metric
            } else {
                format!("{name}: {metric}")
            },
            points: reduce(points),
        });
    }
    draw(&lines, x, output).map_err(|e| format!("cannot draw {}: {e}", output.display()))
}

fn draw(lines: &[Line], x: XAxis, output: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let all = lines.iter().flat_map(|l| l.points.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(px, py) in all {
        x0 = x0.min(px);
        x1 = x1.max(px);
        y0 = y0.min(py);
        y1 = y1.max(py);
    }
    if x0 > x1 {
        return Err("no finite points to draw".into());
    }
    let pad = ((y1 - y0) * 0.05).max(1e-12);
    let root = SVGBackend::new(output, (1000, 600)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(x0..x1.max(x0 + 1.0), (y0 - pad)..(y1 + pad))?;
    chart
        .configure_mesh()
        .x_desc(match x {
            XAxis::Step => "step",
            XAxis::Time => "seconds",
        })
        .draw()?;
    for (index, line) in lines.iter().enumerate() {
        let color = Palette99::pick(index).to_rgba();
        chart
            .draw_series(LineSeries::new(
                line.points.iter().copied(),
                color.stroke_width(2),
            ))?
            .label(line.label.clone())
            .legend(move |(lx, ly)| PathElement::new(vec![(lx, ly), (lx + 20, ly)], color));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
