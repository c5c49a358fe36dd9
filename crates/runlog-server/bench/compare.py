"""runlog-server against the real MLflow tracking server (SQLite store),
side by side in one run, driven by the same mlflow client code.

    target/bench-venv/bin/python crates/runlog-server/bench/compare.py \
        [--seconds 10] [--history 1000000] [--runs 10000]

Needs `mlflow` (the full package, for `mlflow server`) in that venv and a
release build of runlog-server (`cargo build --release -p runlog-server`).
Each load phase runs for `--seconds`; the others do a fixed amount of
work, set up by 8 client threads (setting up is not measured):

- log_batch throughput (points/s) and p50/p99 latency, 1 and 32 client
  processes, 100 points a batch (the standard workload's metrics);
- get-history of one metric of `--history` points, through the mlflow
  client and as raw HTTP pages (the server's share, JSON decoded by the
  standard library);
- search_runs over `--runs` runs (a filter on a metric);
- the server's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"

from mlflow import MlflowClient
from mlflow.entities import Metric

SETUP_THREADS = 8


def wait_healthy(url: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def peak_rss(pid: int) -> int:
    """Peak RSS in bytes of a process and its children (VmHWM)."""
    total = 0
    for proc in [pid, *children(pid)]:
        try:
            for line in open(f"/proc/{proc}/status"):
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def children(pid: int) -> list[int]:
    out = []
    try:
        for child in open(f"/proc/{pid}/task/{pid}/children").read().split():
            out.append(int(child))
            out.extend(children(int(child)))
    except OSError:
        pass
    return out


def batches(url: str, run: str, seconds: float, ready, go, out) -> None:
    """One client process: once every client is ready, log_batch of 100
    points for `seconds`; puts the latency of each call on `out`."""
    client = MlflowClient(url)
    latencies = []
    batch = 0
    ready.wait()
    go.wait()
    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        metrics = [
            Metric(f"m{j % 10}", float(j), 1_700_000_000_000 + batch, batch * 10 + j // 10)
            for j in range(100)
        ]
        started = time.perf_counter()
        client.log_batch(run, metrics=metrics)
        latencies.append(time.perf_counter() - started)
        batch += 1
    out.put(latencies)


def load(url: str, clients: int, seconds: float) -> tuple[float, float, float]:
    """`clients` client processes (not threads, so that the client's GIL
    does not serialize them) logging together for `seconds`."""
    client = MlflowClient(url)
    experiment = client.create_experiment(f"load-{clients}-{time.time_ns()}")
    runs = [client.create_run(experiment).info.run_id for _ in range(clients)]
    ctx = multiprocessing.get_context("spawn")
    ready, go, out = ctx.Barrier(clients + 1), ctx.Event(), ctx.Queue()
    workers = [
        ctx.Process(target=batches, args=(url, run, seconds, ready, go, out)) for run in runs
    ]
    for w in workers:
        w.start()
    ready.wait()  # every client has imported mlflow
    started = time.monotonic()
    go.set()
    per_client = [out.get() for _ in workers]
    elapsed = time.monotonic() - started
    for w in workers:
        w.join()
    all_latencies = sorted(x for per in per_client for x in per)
    points = len(all_latencies) * 100
    p50 = statistics.median(all_latencies)
    p99 = all_latencies[int(0.99 * (len(all_latencies) - 1))]
    return points / elapsed, p50, p99


def history(url: str, points: int) -> tuple[float, float]:
    """Seconds to read a `points`-long metric: through the mlflow client,
    and as raw HTTP pages of 25,000 (the client's page size)."""
    client = MlflowClient(url)
    run = client.create_run(client.create_experiment(f"history-{time.time_ns()}")).info.run_id

    def log(start: int) -> None:
        MlflowClient(url).log_batch(
            run,
            metrics=[
                Metric("loss", float(i), 1_700_000_000_000 + i, i)
                for i in range(start, min(start + 1000, points))
            ],
        )

    with ThreadPoolExecutor(SETUP_THREADS) as pool:
        list(pool.map(log, range(0, points, 1000)))
    started = time.perf_counter()
    got = client.get_metric_history(run, "loss")
    through_client = time.perf_counter() - started
    assert len(got) == points, len(got)
    started = time.perf_counter()
    count, token = 0, ""
    while True:
        query = {"run_id": run, "metric_key": "loss", "max_results": 25_000}
        if token:
            query["page_token"] = token
        address = f"{url}/api/2.0/mlflow/metrics/get-history?{urllib.parse.urlencode(query)}"
        with urllib.request.urlopen(address, timeout=600) as response:
            page = json.load(response)
        count += len(page.get("metrics", []))
        token = page.get("next_page_token", "")
        if not token:
            break
    raw = time.perf_counter() - started
    assert count == points, count
    return through_client, raw


def search(url: str, runs: int) -> float:
    client = MlflowClient(url)
    experiment = client.create_experiment(f"search-{time.time_ns()}")

    def make(i: int) -> None:
        mine = MlflowClient(url)
        run = mine.create_run(experiment).info.run_id
        mine.log_batch(run, metrics=[Metric("loss", i / runs, 1, 0)])

    with ThreadPoolExecutor(SETUP_THREADS) as pool:
        list(pool.map(make, range(runs)))
    started = time.perf_counter()
    found = client.search_runs([experiment], filter_string="metrics.loss < 0.5", max_results=runs)
    elapsed = time.perf_counter() - started
    assert len(found) == runs // 2, len(found)
    return elapsed


def measure(name: str, command: list[str], url: str, args: argparse.Namespace) -> dict:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_healthy(url)
        one = load(url, 1, args.seconds)
        many = load(url, 32, args.seconds)
        hist = history(url, args.history)
        found = search(url, args.runs)
        rss = peak_rss(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=60)
    return {"name": name, "one": one, "many": many, "history": hist, "search": found, "rss": rss}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10, help="length of a load phase")
    parser.add_argument("--history", type=int, default=1_000_000, help="points of the history")
    parser.add_argument("--runs", type=int, default=10_000, help="runs to search over")
    args = parser.parse_args()
    root = os.path.dirname(
        os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    )
    binary = os.path.join(root, "target", "release", "runlog-server")
    with tempfile.TemporaryDirectory() as tmp:
        results = [
            measure(
                "runlog-server",
                [binary, f"{tmp}/runlog", "--port", "5101"],
                "http://127.0.0.1:5101",
                args,
            ),
            measure(
                "mlflow server (SQLite)",
                [
                    sys.executable,
                    "-m",
                    "mlflow",
                    "server",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    "5102",
                    "--backend-store-uri",
                    f"sqlite:///{tmp}/mlflow.db",
                    "--artifacts-destination",
                    f"{tmp}/artifacts",
                    "--workers",
                    "4",
                ],
                "http://127.0.0.1:5102",
                args,
            ),
        ]
    print(
        f"# Tracking servers side by side, {time.strftime('%F')}, "
        f"{args.seconds:.0f} s per load phase\n"
    )
    print(
        "| server | log_batch, 1 client (points/s) | p50 / p99 "
        "| log_batch, 32 clients (points/s) | p50 / p99 "
        f"| get-history of {args.history:,} points (client / raw HTTP) "
        f"| search_runs over {args.runs:,} runs | peak RSS |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        (one, p50a, p99a), (many, p50b, p99b) = r["one"], r["many"]
        print(
            f"| {r['name']} | {one:,.0f} | {p50a * 1e3:.2f} / {p99a * 1e3:.2f} ms | {many:,.0f} | "
            f"{p50b * 1e3:.2f} / {p99b * 1e3:.2f} ms | "
            f"{r['history'][0] * 1e3:,.0f} / {r['history'][1] * 1e3:,.0f} ms | "
            f"{r['search'] * 1e3:,.0f} ms | {r['rss'] / 2**20:,.0f} MiB |"
        )


if __name__ == "__main__":
    main()
