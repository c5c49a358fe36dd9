"""Starts runlog-server on a free loopback port for each test module, and
points the real mlflow client at it."""

import os
import subprocess

import pytest


def start(binary, db):
    """Starts the server on a free port; returns the process and its URL."""
    process = subprocess.Popen(
        [binary, str(db), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    line = process.stdout.readline()
    assert line.startswith("runlog-server listening on "), line
    return process, line.split()[3]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The server's URL; the server runs until the module's tests end."""
    binary = os.environ.get("RUNLOG_SERVER_BIN", "target/debug/runlog-server")
    db = tmp_path_factory.mktemp("server") / "db"
    process, url = start(binary, db)
    os.environ["MLFLOW_TRACKING_URI"] = url
    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    import mlflow

    mlflow.set_tracking_uri(url)
    yield {"url": url, "db": db, "process": process}
    process.terminate()
    assert process.wait(timeout=30) == 0, "the server shuts down cleanly on SIGTERM"
