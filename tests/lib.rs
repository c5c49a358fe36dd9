//! What the crash tests and the child processes they kill agree on.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use runlog_wal::Lsn;

/// The largest payload the WAL crash child appends.
pub const WAL_MAX_PAYLOAD: usize = 3000;

/// The payload the WAL crash child appends as record `lsn`. Its length and
/// bytes follow from the LSN alone, so the parent can check any record it
/// reads back without being told what was written.
pub fn wal_payload(lsn: Lsn) -> Vec<u8> {
    let seed = lsn.0.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x2545_F491_4F6C_DD1D;
    noise(seed, (seed % (WAL_MAX_PAYLOAD as u64 + 1)) as usize)
}

/// `len` xorshift bytes from `seed` (not 0): incompressible, and the same
/// for the same seed.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A small deterministic generator for choices that must replay from a seed.
#[derive(Clone, Debug)]
pub struct Rng(pub u64);

impl Rng {
    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % n
    }
}

/// The metrics the engine crash child logs at every step.
pub use runlog_workload::METRICS as ENGINE_METRICS;

/// The value the engine crash child logs for `metric` at `step`: follows
/// from the two alone, NaN and -0.0 included now and then.
pub fn engine_value(metric: usize, step: i64) -> f64 {
    let mut x = (step as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (metric as u64) << 56;
    x ^= x >> 29;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    match x % 97 {
        0 => f64::NAN,
        1 => -0.0,
        r => f64::from((r as f32) / 7.0 + metric as f32),
    }
}

/// The engine crash child puts an artifact every this many steps.
pub const ARTIFACT_EVERY: i64 = 10;

/// The path of the artifact the engine crash child puts at `step`.
pub fn engine_artifact_path(step: i64) -> String {
    format!("ckpt/step-{step}.bin")
}

/// The content of the artifact the engine crash child puts at `step`:
/// text that compresses at some steps, noise that does not at others.
pub fn engine_artifact(step: i64) -> Vec<u8> {
    let len = 1000 + (step as usize * 37) % 40_000;
    if step % 20 == 0 {
        format!("checkpoint {step}\n").repeat(len / 16).into_bytes()
    } else {
        noise((step as u64) ^ 0x2545_F491_4F6C_DD1D, len)
    }
}

/// The log line (with its newline) the engine crash child appends to
/// `stdout` at `step`.
pub fn engine_log_line(step: i64) -> String {
    format!("step {step} loss {}\n", engine_value(0, step))
}

/// The value the engine crash child logs to text series `phase` at `step`.
pub fn engine_phase(step: i64) -> String {
    format!("phase-{}", step / 7)
}

/// The timestamp the engine crash child logs at `step`.
pub fn engine_timestamp(step: i64) -> i64 {
    1_700_000_000_000 + 100 * step
}

/// The iterations of a crash test (`RUNLOG_CRASH_ITERATIONS`, else
/// `default`) and a generator seeded from the clock, whose seed is printed
/// so a failure can be replayed.
pub fn crash_test_setup(name: &str, default: u64) -> (u64, Rng, u64) {
    let iterations = std::env::var("RUNLOG_CRASH_ITERATIONS")
        .ok()
        .map_or(default, |n| {
            n.parse().expect("RUNLOG_CRASH_ITERATIONS is a number")
        });
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos() as u64;
    eprintln!("{name} seed {seed}");
    (iterations, Rng(seed), seed)
}

/// Runs `child` until it is killed with SIGKILL after `delay`; returns the
/// number in the last line `acked N` it printed, if any.
pub fn run_and_kill(child: Command, delay: Duration) -> Option<u64> {
    let start = std::time::Instant::now();
    run_and_kill_when(child, || start.elapsed() >= delay)
}

/// Runs `child` and kills it with SIGKILL as soon as `now` says so (polled
/// every 100 us), to steer kills into a phase of its work; returns the
/// number in the last line `acked N` it printed, if any.
pub fn run_and_kill_when(mut child: Command, now: impl Fn() -> bool) -> Option<u64> {
    let mut child = child
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the child");
    let stdout = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut acked = None;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(n) = line.strip_prefix("acked ") {
                acked = Some(n.parse().expect("the child prints numbers"));
            }
        }
        acked
    });
    while !now() {
        std::thread::sleep(Duration::from_micros(100));
    }
    child.kill().expect("SIGKILL the child");
    let status = child.wait().expect("reap the child");
    // A child that failed (a panic, an error) before the kill must fail
    // the test, not count as a kill.
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9), // SIGKILL
        "the child ended before it was killed: {status}"
    );
    reader.join().expect("reader thread")
}
