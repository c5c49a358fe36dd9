"""The interchange commands of runlog-db, measured (not a test):

- `export --format parquet`: throughput, the exporter's peak RSS at two
  database sizes (the memory bound), bytes per point of the Parquet points
  table against runlog's own segments (for noisy curves and for the
  standard workload), and DuckDB's max/min/last per
  (run, metric) over the export against runlog's run list answering the
  same, checked equal;
- `import-tensorboard` against TensorBoard's own `EventAccumulator`
  loading the same event files (written by tensorboardX), all scalars kept.

    target/bench-venv/bin/pip install -r crates/runlog-db/bench/requirements.txt
    cargo build --release -p runlog-db
    target/bench-venv/bin/python crates/runlog-db/bench/interchange.py \\
        [--points 100000000] [--small 10000000] [--scalars 200000]

The venv also needs the runlog wheel (scripts/python-bench installs it).
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import duckdb
import numpy as np

import runlog

ROOT = Path(__file__).resolve().parents[3]
BIN = os.environ.get("RUNLOG_DB_BIN", str(ROOT / "target/release/runlog-db"))
METRICS = ["loss", "val_loss", "acc", "val_acc", "lr", "grad_norm", "throughput", "gpu_util"]
STEPS_PER_RUN = 100_000


def size_of(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def fill(db: Path, points: int) -> None:
    """Runs of 8 metrics of 100,000 steps each, values like a training
    run's (a decaying curve with noise), until `points` are logged."""
    rng = np.random.default_rng(1)
    steps = np.arange(STEPS_PER_RUN, dtype=np.int64)
    stamps = 1_700_000_000_000 + steps * 250
    runs = math.ceil(points / (STEPS_PER_RUN * len(METRICS)))
    with runlog.open(db) as store:
        for r in range(runs):
            run = store.start_run(f"exp-{r % 4}", f"run-{r:05d}", params={"lr": 1e-3 * (r + 1)})
            for m, metric in enumerate(METRICS):
                curve = np.exp(-steps / (20_000 + 1_000 * m)) + 0.01 * rng.normal(size=len(steps))
                run.log_points(metric, steps, curve, stamps)
            run.complete()


def run_measured(*args) -> tuple[float, int, int, str]:
    """Runs runlog-db in a child: seconds, its peak RSS in bytes, the peak
    of its anonymous memory (RSS less the pages of the database's mapped
    segment files, which the kernel may drop at will; sampled every 20 ms
    from /proc), and what it said on standard error."""
    started = time.perf_counter()
    child = subprocess.Popen([BIN, *map(str, args)], stderr=subprocess.PIPE, text=True)
    anon = [0]

    def sample() -> None:
        while child.poll() is None:
            try:
                status = Path(f"/proc/{child.pid}/status").read_text()
            except OSError:
                return
            for line in status.splitlines():
                if line.startswith("RssAnon:"):
                    anon[0] = max(anon[0], int(line.split()[1]) * 1024)
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    err = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    sampler.join()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"runlog-db {' '.join(map(str, args))} failed: {err}")
    return seconds, usage.ru_maxrss * 1024, anon[0], err


def bits(x: float) -> bytes:
    return struct.pack("<d", x)


def parquet_section(work: Path, points: int, small: int) -> list[str]:
    lines = []
    rss = {}
    for label, n in (("small", small), ("large", points)):
        db, lake = work / f"db-{label}", work / f"lake-{label}"
        started = time.perf_counter()
        # In a child, so that this process stays small: a child of a large
        # process would count the parent's pages in its peak RSS until it
        # execs runlog-db.
        filler = multiprocessing.get_context("fork").Process(target=fill, args=(db, n))
        filler.start()
        filler.join()
        assert filler.exitcode == 0
        print(f"filled {n:,} points in {time.perf_counter() - started:.0f} s", flush=True)
        seconds, peak, anon, err = run_measured("export", db, "--format", "parquet", "-o", lake)
        exported = int(err.split("exported ")[1].split(" points")[0])
        rss[label] = (exported, seconds, peak, anon)
        print(err.strip().splitlines()[-1], flush=True)
    exported, seconds, _, _ = rss["large"]
    lines.append("| measure | value |")
    lines.append("|---|---|")
    lines.append(
        f"| export throughput, {exported:,} points | {exported / seconds / 1e6:.1f} M points/s "
        f"({seconds:.1f} s) |"
    )
    for label in ("small", "large"):
        n, _, peak, anon = rss[label]
        lines.append(
            f"| exporter peak RSS, {n:,} points | {peak / 2**20:.0f} MiB "
            f"({anon / 2**20:.0f} MiB anonymous) |"
        )
    db, lake = work / "db-large", work / "lake-large"
    segments, parquet = size_of(db / "segments"), size_of(lake / "points")
    lines.append(
        f"| bytes per point, these noisy float64 curves: runlog segments / Parquet points "
        f"| {segments / exported:.2f} / {parquet / exported:.2f} |"
    )
    # The standard workload (../shared/workload.md), as `runlog-db demo` logs it.
    demo, demo_lake = work / "demo", work / "demo-lake"
    subprocess.run([BIN, "demo", demo], check=True, capture_output=True)
    _, _, _, err = run_measured("export", demo, "--format", "parquet", "-o", demo_lake)
    n = int(err.split("exported ")[1].split(" points")[0])
    segments, parquet = size_of(demo / "segments"), size_of(demo_lake / "points")
    lines.append(
        f"| bytes per point, the standard workload ({n:,} points, `runlog-db demo`): "
        f"runlog segments / Parquet points | {segments / n:.2f} / {parquet / n:.2f} |"
    )

    con = duckdb.connect()
    query = f"""
        select experiment, run_name, metric, count(*),
               min(value) filter (where not isnan(value)),
               max(value) filter (where not isnan(value)),
               arg_max(value, step)
        from read_parquet('{lake}/points/**/*.parquet') group by all"""
    started = time.perf_counter()
    answer = con.sql(query).fetchall()
    duck = time.perf_counter() - started
    started = time.perf_counter()
    with runlog.open(db, read_only=True) as store:
        summaries = store.runs()
    own = time.perf_counter() - started
    want = {
        (r["experiment"], r["name"], m): (
            s["count"],
            bits(s["min"]),
            bits(s["max"]),
            bits(s["last"]),
        )
        for r in summaries
        for m, s in r["metrics"].items()
    }
    got = {(e, n, m): (c, bits(lo), bits(hi), bits(last)) for e, n, m, c, lo, hi, last in answer}
    assert got == want, "DuckDB's answer differs from runlog's"
    lines.append(
        f"| count/min/max/last per (run, metric), {len(answer):,} series: DuckDB over the export "
        f"| {duck * 1000:.0f} ms |"
    )
    lines.append(
        f"| the same from runlog (open read-only + run list) | {own * 1000:.0f} ms (equal) |"
    )
    return lines


def tensorboard_section(work: Path, scalars: int) -> list[str]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboardX import SummaryWriter

    logdir = work / "tb"
    runs, tags = 4, 5
    steps = scalars // (runs * tags)
    rng = np.random.default_rng(2)
    for r in range(runs):
        writer = SummaryWriter(str(logdir / f"run-{r}"))
        values = rng.normal(size=(steps, tags))
        for step in range(steps):
            for t in range(tags):
                writer.add_scalar(f"tag-{t}", float(values[step, t]), step)
        writer.close()
    total = runs * tags * steps
    started = time.perf_counter()
    loaded = 0
    for r in range(runs):
        acc = EventAccumulator(str(logdir / f"run-{r}"), size_guidance={"scalars": 0})
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            loaded += len(acc.Scalars(tag))
    accumulator = time.perf_counter() - started
    assert loaded == total, (loaded, total)
    seconds, _, _, err = run_measured("import-tensorboard", work / "tb-db", logdir)
    assert f"{total} points" in err, err
    event_bytes = size_of(logdir)
    return [
        "| loader | scalars/s | time |",
        "|---|---|---|",
        f"| runlog-db import-tensorboard (into a database) | {total / seconds:,.0f} | "
        f"{seconds * 1000:.0f} ms |",
        f"| EventAccumulator, all scalars kept (in memory) | {total / accumulator:,.0f} | "
        f"{accumulator * 1000:.0f} ms |",
        f"| {total:,} scalars, {runs} runs, {event_bytes / 2**20:.1f} MiB of event files | | |",
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=100_000_000)
    parser.add_argument("--small", type=int, default=10_000_000)
    parser.add_argument("--scalars", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        # Parquet first: the exporter's peak RSS is measured while this
        # process is still small.
        pq = parquet_section(work, args.points, args.small)
        tb = tensorboard_section(work, args.scalars)
    print(f"\n# Interchange, {time.strftime('%F')}\n")
    print("\n".join(pq))
    print()
    print("\n".join(tb))


if __name__ == "__main__":
    main()
