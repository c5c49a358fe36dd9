"""The web view's speed in a real headless Chromium (not a test): time to
the first chart of a run whose one metric holds `--points` points, and
time to the run list of an experiment of `--runs` runs, each measured
from the navigation's start to the page's own performance mark, over
`--repeat` fresh loads; plus what the server answers for them.

    target/bench-venv/bin/python crates/runlog-server/bench/view_page.py \
        [--points 1000000] [--runs 10000] [--repeat 5]

Needs a release build of runlog-server, the runlog wheel and selenium in
that venv (scripts/python-bench makes it), and Debian's chromium and
chromedriver (scripts/browser-env).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
import urllib.request

import numpy as np
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

import runlog

MARK = "return performance.getEntriesByName(arguments[0]).map((e) => e.startTime)[0] ?? null;"


def fill(db: str, points: int, runs: int) -> int:
    """One run with a metric of `points` points; `runs` runs of 3 metrics."""
    with runlog.open(db) as store:
        long = store.start_run("long", "one-metric")
        steps = np.arange(points, dtype=np.int64)
        values = np.sin(steps / 5000.0) + np.random.default_rng(0).normal(0, 0.1, points)
        long.log_points("loss", steps, values, timestamps=1_700_000_000_000 + steps * 10)
        long.complete()
        rng = np.random.default_rng(1)
        for i in range(runs):
            run = store.start_run("many", f"run-{i:05}", params={"lr": 10.0 ** -rng.integers(2, 5)})
            for name in ("loss", "acc", "lr"):
                run.log_points(name, np.arange(10), rng.random(10))
            run.complete()
        return long.id


def browser() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1440,1000"):
        options.add_argument(flag)
    service = Service(executable_path=os.environ.get("CHROMEDRIVER_BIN", "/usr/bin/chromedriver"))
    return webdriver.Chrome(options=options, service=service)


def page_times(driver, url: str, mark: str, repeat: int) -> list[float]:
    """Milliseconds from navigation start to `mark`, `repeat` fresh loads."""
    times = []
    for _ in range(repeat):
        driver.get("about:blank")
        driver.get(url)
        found = WebDriverWait(driver, 60, poll_frequency=0.05).until(
            lambda d: d.execute_script(MARK, mark)
        )
        times.append(found)
    return times


def answer(url: str, repeat: int) -> tuple[float, int]:
    """The server's median answer time (ms) for `url`, and its size."""
    times, size = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        with urllib.request.urlopen(url) as response:
            size = len(response.read())
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times), size


def spread(times: list[float]) -> str:
    return f"{statistics.median(times):,.0f} ms ({min(times):,.0f}-{max(times):,.0f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    binary = os.path.join(os.path.abspath(root), "target", "release", "runlog-server")
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "db")
        started = time.perf_counter()
        long = fill(db, args.points, args.runs)
        print(f"filled in {time.perf_counter() - started:.0f} s", flush=True)
        server = subprocess.Popen(
            [binary, db, "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        url = server.stdout.readline().split()[3]
        driver = browser()
        try:
            chart = page_times(driver, f"{url}/#/run/{long}", "runlog:chart", args.repeat)
            listed = page_times(driver, f"{url}/#/experiment/many", "runlog:run-list", args.repeat)
            history = answer(f"{url}/runlog/api/runs/{long}/history?name=loss&buckets=1000", 9)
            rows = answer(f"{url}/runlog/api/runs?experiment=many", 9)
        finally:
            driver.quit()
            server.terminate()
            server.wait(timeout=30)
    print(
        f"\n# The web view in headless Chromium, {time.strftime('%F')}, {args.repeat} loads each\n"
    )
    print("| page | navigation to drawn, median (min-max) | server's answer | JSON |")
    print("|---|---|---|---|")
    print(
        f"| run page, first chart of {args.points:,} points | {spread(chart)} "
        f"| {history[0]:.1f} ms (1,000 buckets) | {history[1] / 1024:,.0f} KiB |"
    )
    print(
        f"| run list of {args.runs:,} runs | {spread(listed)} "
        f"| {rows[0]:.1f} ms | {rows[1] / 2**20:,.1f} MiB |"
    )


if __name__ == "__main__":
    main()
