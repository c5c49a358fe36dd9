"""32 concurrent mlflow clients log batches while the server is killed with
SIGKILL and restarted: every batch that got an answer of 200 is there
afterwards, and the database verifies clean.

RUNLOG_LOAD_SECONDS sets how long the load runs before the kill (10 s by
default; the issue's long mode is 60)."""

import os
import signal
import subprocess
import threading
import time

from conftest import start
from mlflow import MlflowClient
from mlflow.entities import Metric

import runlog

CLIENTS = 32
# A dead server must fail a call at once, not after minutes of retries.
os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = "20"
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"


def test_acknowledged_batches_survive_sigkill_under_load(tmp_path):
    binary = os.environ.get("RUNLOG_SERVER_BIN", "target/debug/runlog-server")
    seconds = float(os.environ.get("RUNLOG_LOAD_SECONDS", "10"))
    db = tmp_path / "db"
    process, url = start(binary, db)
    client = MlflowClient(url)
    experiment = client.create_experiment("load")
    runs = [client.create_run(experiment).info.run_id for _ in range(CLIENTS)]
    acknowledged = [0] * CLIENTS
    stop = threading.Event()

    def work(index):
        mine = MlflowClient(url)
        batch = 0
        while not stop.is_set():
            metrics = [
                Metric("x", float(batch), 1_700_000_000_000 + batch, batch * 100 + i)
                for i in range(100)
            ]
            try:
                mine.log_batch(runs[index], metrics=metrics)
            except Exception:
                return  # the server is gone: this batch was not acknowledged
            batch += 1
            acknowledged[index] = batch

    threads = [threading.Thread(target=work, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    process.send_signal(signal.SIGKILL)
    process.wait()
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    assert sum(acknowledged) > CLIENTS, "the clients logged before the kill"
    # Restarted on the same database: everything acknowledged is there.
    process, url = start(binary, db)
    try:
        client = MlflowClient(url)
        for index, run_id in enumerate(runs):
            history = client.get_metric_history(run_id, "x")
            steps = [m.step for m in history]
            assert steps == list(range(len(steps))), f"run {index}: a batch is whole or absent"
            assert len(steps) >= acknowledged[index] * 100, (
                f"run {index}: {acknowledged[index]} batches acknowledged, {len(steps) // 100} kept"
            )
    finally:
        process.terminate()
        assert process.wait(timeout=30) == 0
    with runlog.open(db, read_only=True) as store:
        assert len(store.runs(experiment="load")) == CLIENTS
    verify = subprocess.run(
        [os.environ.get("RUNLOG_DB_BIN", "target/debug/runlog-db"), "verify", str(db)],
        capture_output=True,
        text=True,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
