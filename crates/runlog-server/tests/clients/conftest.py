"""Starts runlog-server on a free loopback port for each test module, and
points the real clients at it: the mlflow client, and a headless Chromium
driven through WebDriver for the web view."""

import os
import subprocess
from pathlib import Path

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


def point_mlflow_at(url):
    """Makes the mlflow client of this process log to `url`."""
    os.environ["MLFLOW_TRACKING_URI"] = url
    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    import mlflow

    mlflow.set_tracking_uri(url)


def stop(process):
    process.terminate()
    assert process.wait(timeout=30) == 0, "the server shuts down cleanly on SIGTERM"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The server's URL; the server runs until the module's tests end."""
    binary = os.environ.get("RUNLOG_SERVER_BIN", "target/debug/runlog-server")
    db = tmp_path_factory.mktemp("server") / "db"
    process, url = start(binary, db)
    point_mlflow_at(url)
    yield {"url": url, "db": db, "process": process}
    stop(process)


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium through its chromedriver (no download:
    the paths are given, so Selenium Manager stays offline)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1440,1000"):
        options.add_argument(flag)
    service = Service(executable_path=os.environ.get("CHROMEDRIVER_BIN", "/usr/bin/chromedriver"))
    driver = webdriver.Chrome(options=options, service=service)
    yield driver
    driver.quit()


@pytest.fixture(scope="session")
def screenshots():
    """Where tests save screenshots (kept as CI artifacts)."""
    folder = Path(os.environ.get("RUNLOG_SCREENSHOTS", "target/browser-screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder
