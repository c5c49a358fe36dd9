//! The standard training-run workload, generated deterministically.
//!
//! One run logs 10 metrics at every step `s = 0..n` (the sparse ones only at
//! every 1000th step). Each point is `(step, timestamp_ms, value)` with
//! `timestamp_ms = 1_700_000_000_000 + 100 * s + jitter`, jitter uniform in
//! `0..=5` and shared by every metric logged at that step. Values marked f32
//! are computed in f64, rounded to f32 and widened back, as a logger receives
//! them from `tensor.item()`. The same seed always gives the same points.

use std::f64::consts::PI;

/// The ten metrics of the standard run, in the order they are logged at a step.
pub const METRICS: [&str; 10] = [
    "loss",
    "val_loss",
    "acc",
    "val_acc",
    "lr",
    "grad_norm",
    "throughput",
    "gpu_util",
    "mem_mb",
    "epoch",
];

/// Steps of a standard run unless a benchmark says otherwise.
pub const DEFAULT_STEPS: u64 = 100_000;

/// Sparse metrics log only at every this many steps.
pub const SPARSE_EVERY: u64 = 1000;

const BASE_TIMESTAMP_MS: i64 = 1_700_000_000_000;

/// One metric's points, in step order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Series {
    /// The metric's name (one of [`METRICS`]).
    pub name: &'static str,
    /// Steps, ascending.
    pub steps: Vec<i64>,
    /// Timestamps in milliseconds.
    pub timestamps: Vec<i64>,
    /// Values.
    pub values: Vec<f64>,
}

impl Series {
    /// Number of points.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// Whether the series has no points.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
}

/// A standard run of `steps` steps whose random parts follow `seed`.
#[derive(Clone, Copy, Debug)]
pub struct Run {
    /// Number of steps (`N`).
    pub steps: u64,
    /// Seed of the noise and the timestamp jitter.
    pub seed: u64,
}

impl Run {
    /// The standard single run: `N` = 100,000, seed 0.
    pub fn standard() -> Run {
        Run {
            steps: DEFAULT_STEPS,
            seed: 0,
        }
    }

    /// Calls `log(metric_index, step, timestamp_ms, value)` for every point in
    /// the order a training loop logs them: step by step, metrics in
    /// [`METRICS`] order.
    pub fn for_each_point(&self, mut log: impl FnMut(usize, i64, i64, f64)) {
        let mut rng = Rng::new(self.seed);
        let n = self.steps as f64;
        for s in 0..self.steps {
            let step = s as i64;
            let timestamp = BASE_TIMESTAMP_MS + 100 * step + rng.below(6) as i64;
            let x = s as f64;
            let sparse = s % SPARSE_EVERY == 0;
            let sigmoid = 1.0 / (1.0 + (-(x - 30_000.0) / 8_000.0).exp());
            let values: [Option<f64>; 10] = [
                Some(f32_of(2.5 * (-x / 20_000.0).exp() + 0.05 * rng.gauss())),
                sparse.then(|| f32_of(2.6 * (-x / 20_000.0).exp() + 0.03 * rng.gauss())),
                Some(f32_of(sigmoid + 0.01 * rng.gauss())),
                sparse.then(|| f32_of(sigmoid + 0.005 * rng.gauss())),
                Some(3e-4 * 0.5 * (1.0 + (PI * x / n).cos())),
                Some(f32_of((0.3 * rng.gauss()).exp())),
                Some(f32_of(1000.0 + 20.0 * rng.gauss())),
                Some((90.0 + 5.0 * rng.gauss()).round().clamp(0.0, 100.0)),
                Some((12_000 + s / 100) as f64),
                Some((s / 1000) as f64),
            ];
            for (metric, value) in values.into_iter().enumerate() {
                if let Some(value) = value {
                    log(metric, step, timestamp, value);
                }
            }
        }
    }

    /// Every metric's points, one [`Series`] per entry of [`METRICS`].
    pub fn series(&self) -> Vec<Series> {
        let mut series: Vec<Series> = METRICS
            .iter()
            .map(|&name| Series {
                name,
                ..Series::default()
            })
            .collect();
        self.for_each_point(|metric, step, timestamp, value| {
            let s = &mut series[metric];
            s.steps.push(step);
            s.timestamps.push(timestamp);
            s.values.push(value);
        });
        series
    }

    /// The number of points the run logs.
    pub fn point_count(&self) -> u64 {
        let sparse_points = self.steps.div_ceil(SPARSE_EVERY);
        8 * self.steps + 2 * sparse_points
    }
}

/// The run id of run `index` in the many-runs variant: `run-00000`, ...
pub fn run_id(index: usize) -> String {
    format!("run-{index:05}")
}

/// The experiment of run `index` in the many-runs variant: `exp-0` ... `exp-9`.
pub fn experiment_id(index: usize) -> String {
    format!("exp-{}", index % 10)
}

/// Rounds to f32 and widens back, as `tensor.item()` of a float32 tensor does.
fn f32_of(value: f64) -> f64 {
    f64::from(value as f32)
}

/// SplitMix64 with Box-Muller normals: small, fast, deterministic.
#[derive(Clone, Debug)]
struct Rng {
    state: u64,
    spare_normal: Option<f64>,
}

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng {
            state: seed ^ 0x5DEE_CE66_D1CE_4E5B,
            spare_normal: None,
        }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Uniform in (0, 1].
    fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal.
    fn gauss(&mut self) -> f64 {
        if let Some(spare) = self.spare_normal.take() {
            return spare;
        }
        let radius = (-2.0 * self.unit().ln()).sqrt();
        let angle = 2.0 * PI * self.unit();
        self.spare_normal = Some(radius * angle.sin());
        radius * angle.cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_run_follows_the_workload_definition() {
        let run = Run {
            steps: 3000,
            seed: 7,
        };
        let series = run.series();
        assert_eq!(series.len(), 10);
        let total: usize = series.iter().map(Series::len).sum();
        assert_eq!(total as u64, run.point_count());
        let val_loss = &series[1];
        assert_eq!(val_loss.steps, [0, 1000, 2000]);
        for s in &series {
            for (i, &ts) in s.timestamps.iter().enumerate() {
                let jitter = ts - BASE_TIMESTAMP_MS - 100 * s.steps[i];
                assert!((0..=5).contains(&jitter), "{} jitter {jitter}", s.name);
            }
        }
        for f32_metric in [0, 1, 2, 3, 5, 6] {
            for &v in &series[f32_metric].values {
                assert_eq!(f64::from(v as f32).to_bits(), v.to_bits());
            }
        }
        assert!(
            series[7]
                .values
                .iter()
                .all(|v| (0.0..=100.0).contains(v) && v.fract() == 0.0)
        );
        assert_eq!(series[8].values[2999], 12_029.0);
        assert_eq!(series[9].values[2999], 2.0);
        assert_eq!(series[4].values[0], 3e-4);
    }

    #[test]
    fn the_same_seed_gives_the_same_points_and_another_seed_does_not() {
        let a = Run {
            steps: 500,
            seed: 1,
        }
        .series();
        let b = Run {
            steps: 500,
            seed: 1,
        }
        .series();
        let c = Run {
            steps: 500,
            seed: 2,
        }
        .series();
        assert_eq!(a, b);
        assert_ne!(a[0].values, c[0].values);
    }
}
