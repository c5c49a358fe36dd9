"""runlog from Python against the trackers Python users pick today, on the
standard workload (one run, 10 metrics, N steps; ../shared/workload.md),
side by side in one run on one machine.

Each store runs in its own child process (so its peak RSS is its own), in
turns: ingest through close, bytes on disk per point, the ordered history
of one metric into numpy, the latest value of every metric. A store whose
package is not installed is reported as such. Per-call ingest of the slow
stores is timed on a prefix of the points and said so.

    target/bench-venv/bin/python crates/runlog-py/bench/compare.py [N]

(`scripts/python-bench [N]` makes that venv, pinned, and runs this.)
"""

from __future__ import annotations

import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

METRICS = [
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
]


def workload(n: int) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """metric -> (steps, timestamps, values), deterministic."""
    rng = np.random.default_rng(0)
    s = np.arange(n, dtype=np.int64)
    ts = 1_700_000_000_000 + 100 * s + rng.integers(0, 6, n)
    f32 = lambda x: x.astype(np.float32).astype(np.float64)  # noqa: E731
    sparse = s % 1000 == 0
    values = {
        "loss": (s, f32(2.5 * np.exp(-s / 20000) + 0.05 * rng.standard_normal(n))),
        "val_loss": (
            s[sparse],
            f32(2.6 * np.exp(-s[sparse] / 20000) + 0.03 * rng.standard_normal(sparse.sum())),
        ),
        "acc": (s, f32(1 / (1 + np.exp(-(s - 30000) / 8000)) + 0.01 * rng.standard_normal(n))),
        "val_acc": (
            s[sparse],
            f32(
                1 / (1 + np.exp(-(s[sparse] - 30000) / 8000))
                + 0.005 * rng.standard_normal(sparse.sum())
            ),
        ),
        "lr": (s, 3e-4 * 0.5 * (1 + np.cos(math.pi * s / n))),
        "grad_norm": (s, f32(np.exp(0.3 * rng.standard_normal(n)))),
        "throughput": (s, f32(1000 + 20 * rng.standard_normal(n))),
        "gpu_util": (s, np.clip(np.round(90 + 5 * rng.standard_normal(n)), 0, 100)),
        "mem_mb": (s, (12000 + s // 100).astype(np.float64)),
        "epoch": (s, (s // 1000).astype(np.float64)),
    }
    return {m: (st, ts[st], v) for m, (st, v) in values.items()}


def per_step(data):
    """(step, timestamp, {metric: value}) in step order, as a loop logs."""
    n = len(data["loss"][0])
    rows = [dict() for _ in range(n)]
    for metric, (steps, _, values) in data.items():
        for step, value in zip(steps.tolist(), values.tolist()):
            rows[step][metric] = value
    stamps = data["loss"][1].tolist()
    return [(i, stamps[i], rows[i]) for i in range(n)]


def disk_bytes(path: str) -> int:
    total = 0
    for folder, _, files in os.walk(path):
        for file in files:
            try:
                total += os.path.getsize(os.path.join(folder, file))
            except OSError:
                pass
    return total


# --- the stores: each returns (ingest seconds, points ingested, read results) ---


def runlog_store(data, path, batched):
    import runlog

    started = time.perf_counter()
    store = runlog.open(path)
    run = store.start_run("bench", "run")
    points = 0
    if batched:
        for metric, (steps, stamps, values) in data.items():
            run.log_points(metric, steps, values, stamps)
            points += len(values)
    else:
        log = run.log
        for step, stamp, row in per_step(data):
            for metric, value in row.items():
                log(metric, value, step, stamp)
            points += len(row)
    # Through a flush into compressed segments, as the Rust benches count it.
    store.flush()
    store.close()
    ingest = time.perf_counter() - started
    store = runlog.open(path, read_only=True)
    run = store.get_run(experiment="bench", name="run")
    started = time.perf_counter()
    history = run.get_history("loss").values
    history_s = time.perf_counter() - started
    started = time.perf_counter()
    latest = [run.latest(m) for m in METRICS]
    latest_s = time.perf_counter() - started
    assert len(history) == len(data["loss"][2]) and len(latest) == 10
    return ingest, points, history_s, latest_s, len(history)


def mlflow_store(data, path, batched, limit):
    import mlflow
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{path}/mlflow.db"
    os.makedirs(path, exist_ok=True)
    client = MlflowClient(uri)
    started = time.perf_counter()
    experiment = client.create_experiment("bench", artifact_location=f"{path}/artifacts")
    run_id = client.create_run(experiment).info.run_id
    points = 0
    if batched:
        batch = []
        for step, stamp, row in per_step(data):
            for metric, value in row.items():
                batch.append(Metric(metric, value, stamp, step))
            if len(batch) >= 990:
                client.log_batch(run_id, metrics=batch)
                points += len(batch)
                batch = []
            if points >= limit:
                break
        if batch:
            client.log_batch(run_id, metrics=batch)
            points += len(batch)
    else:
        for step, stamp, row in per_step(data):
            for metric, value in row.items():
                client.log_metric(run_id, metric, value, stamp, step)
                points += 1
            if points >= limit:
                break
    client.set_terminated(run_id)
    ingest = time.perf_counter() - started
    started = time.perf_counter()
    history = np.array([m.value for m in client.get_metric_history(run_id, "loss")])
    history_s = time.perf_counter() - started
    started = time.perf_counter()
    latest = client.get_run(run_id).data.metrics
    latest_s = time.perf_counter() - started
    del mlflow, latest
    return ingest, points, history_s, latest_s, len(history)


def tensorboardx_store(data, path, limit):
    from tensorboardX import SummaryWriter

    started = time.perf_counter()
    writer = SummaryWriter(path)
    points = 0
    for step, stamp, row in per_step(data):
        for metric, value in row.items():
            writer.add_scalar(metric, value, step, walltime=stamp / 1000)
            points += 1
        if points >= limit:
            break
    writer.close()
    return time.perf_counter() - started, points, None, None, 0


def aim_store(data, path, limit):
    import aim

    started = time.perf_counter()
    run = aim.Run(repo=path, experiment="bench")
    points = 0
    for step, _, row in per_step(data):
        for metric, value in row.items():
            run.track(value, name=metric, step=step)
            points += 1
        if points >= limit:
            break
    run.close()
    # Reading a run back after close needs Aim's indexer (`aim up`); the
    # SDK alone returned no metric here, so reads are not measured.
    return time.perf_counter() - started, points, None, None, 0


def trackio_store(data, path, limit):
    os.environ["TRACKIO_DIR"] = path
    import trackio

    started = time.perf_counter()
    trackio.init(project="bench", name="run")
    points = 0
    for step, _, row in per_step(data):
        trackio.log(row, step=step)
        points += len(row)
        if points >= limit:
            break
    trackio.finish()
    return time.perf_counter() - started, points, None, None, 0


STORES = {
    "runlog, run.log per point": lambda d, p, n: runlog_store(d, p, batched=False),
    "runlog, numpy columns": lambda d, p, n: runlog_store(d, p, batched=True),
    "MLflow (SQLite), log_metric per point": lambda d, p, n: mlflow_store(d, p, False, 5_000),
    "MLflow (SQLite), log_batch": lambda d, p, n: mlflow_store(d, p, True, 100_000),
    "tensorboardX, add_scalar": lambda d, p, n: tensorboardx_store(d, p, 10**9),
    "Aim, run.track": lambda d, p, n: aim_store(d, p, 100_000),
    "trackio, log per step": lambda d, p, n: trackio_store(d, p, 100_000),
}


def child(name: str, n: int, path: str) -> None:
    data = workload(n)
    try:
        ingest, points, history_s, latest_s, history_len = STORES[name](data, path, n)
    except ImportError as missing:
        print(json.dumps({"missing": str(missing)}))
        return
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(
        json.dumps(
            {
                "points": points,
                "ingest_s": ingest,
                "bytes": disk_bytes(path),
                "history_s": history_s,
                "history_len": history_len,
                "latest_s": latest_s,
                "peak_rss": peak,
            }
        )
    )


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    total = sum(len(v[2]) for v in workload(n).values())
    print(f"# Python side by side: one run, N = {n} ({total} points), {time.strftime('%F')}\n")
    print(
        "| store | points ingested | ingest points/s | bytes/point | history of `loss` "
        "into numpy (points/s) | latest of 10 metrics | peak RSS |"
    )
    print("|---|---|---|---|---|---|---|")
    for name in STORES:
        with tempfile.TemporaryDirectory() as path:
            result = subprocess.run(
                [sys.executable, __file__, "--child", name, str(n), path],
                capture_output=True,
                text=True,
                timeout=3600,
            )
            if result.returncode != 0:
                last = (result.stderr.strip().splitlines() or ["?"])[-1]
                print(f"| {name} | failed: {last[:120]} | | | | | |")
                continue
            r = json.loads(result.stdout.strip().splitlines()[-1])
            if "missing" in r:
                print(f"| {name} | not installed ({r['missing']}) | | | | | |")
                continue
            history = f"{r['history_len'] / r['history_s']:,.0f}" if r["history_s"] else "no reader"
            latest = f"{r['latest_s'] * 1e6:,.0f} us" if r["latest_s"] is not None else "-"
            print(
                f"| {name} | {r['points']:,} | {r['points'] / r['ingest_s']:,.0f} | "
                f"{r['bytes'] / r['points']:.2f} | {history} | {latest} | "
                f"{r['peak_rss'] / 2**20:.0f} MiB |"
            )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        main()
