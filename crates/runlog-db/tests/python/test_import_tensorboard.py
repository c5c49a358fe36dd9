"""`runlog-db import-tensorboard` over event files written by the real
tensorboardX: every scalar comes back as the float32 it was logged as,
NaN and infinities included; hparams become params; images and
histograms are reported as skipped; a cut file is refused with its
offset, or kept up to the cut when asked."""

import math
import os
import shutil
import struct
import subprocess
import time

import numpy as np
from tensorboardX import SummaryWriter

import runlog

BIN = os.environ.get("RUNLOG_DB_BIN", "target/debug/runlog-db")
RUNS = {"baseline": 0, "wide/lr-0.1": 1}
STEPS = 200


def cli(*args):
    return subprocess.run([BIN, *map(str, args)], capture_output=True, text=True)


def as_f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def write_logs(logdir):
    """Two runs of scalars (one nested two folders deep) with an image and
    a histogram each, and a run of hparams; what each scalar was."""
    logged = {}
    for name, seed in RUNS.items():
        writer = SummaryWriter(str(logdir / name))
        rng = np.random.default_rng(seed)
        values = {"loss": [], "acc": []}
        for step in range(STEPS):
            for tag, points in values.items():
                v = float(rng.normal()) * 10 ** float(rng.integers(-8, 8))
                if tag == "loss" and step in (50, 51, 52):
                    v = [math.nan, math.inf, -math.inf][step - 50]
                writer.add_scalar(tag, v, step)
                points.append((step, v))
        writer.add_image("sample", np.zeros((3, 4, 4)), 0)
        writer.add_histogram("weights", rng.normal(size=100), 0)
        writer.close()
        logged[name] = values
    hparams = SummaryWriter(str(logdir / "hp"))
    hparams.add_hparams({"lr": 0.1, "optimizer": "adam", "layers": 4}, {"score": 0.5}, name=".")
    hparams.close()
    return logged


def same(got, want):
    """Equal as float32, NaN equal to NaN."""
    want = as_f32(want)
    return (math.isnan(got) and math.isnan(want)) or got == want


def test_scalars_come_back_as_logged(tmp_path):
    started_ms = time.time() * 1000
    logged = write_logs(tmp_path / "logs")
    done = cli("import-tensorboard", tmp_path / "db", tmp_path / "logs", "--experiment", "tb")
    assert done.returncode == 0, done.stderr
    assert "skipped values that are not scalars: 2 histogram, 2 image" in done.stderr
    with runlog.open(tmp_path / "db", read_only=True) as store:
        runs = {r["name"]: r for r in store.runs(experiment="tb")}
        assert set(runs) == {*RUNS, "hp"}
        for name, metrics in logged.items():
            run = store.get_run(runs[name]["id"])
            for tag, points in metrics.items():
                steps, stamps, values = run.get_history(tag)
                assert list(steps) == [s for s, _ in points]
                assert all(same(g, w) for g, (_, w) in zip(values, points, strict=True))
                assert started_ms - 1000 <= stamps[0] <= stamps[-1] <= time.time() * 1000
        hp = store.get_run(runs["hp"]["id"])
        assert hp.params == {"lr": "0.1", "optimizer": "adam", "layers": "4"}
        assert hp.get_history("score").values.tolist() == [0.5]

    again = cli("import-tensorboard", tmp_path / "db", tmp_path / "logs", "--experiment", "tb")
    assert again.returncode != 0 and "imported before" in again.stderr
    skip = cli(
        "import-tensorboard",
        tmp_path / "db",
        tmp_path / "logs",
        "--experiment",
        "tb",
        "--existing",
        "skip",
    )
    assert skip.returncode == 0 and "3 skipped" in skip.stderr


def test_a_cut_file_is_refused_with_its_offset_or_kept_up_to_the_cut(tmp_path):
    logged = write_logs(tmp_path / "logs")
    shutil.rmtree(tmp_path / "logs" / "hp")
    shutil.rmtree(tmp_path / "logs" / "wide")
    (events,) = (tmp_path / "logs" / "baseline").iterdir()
    size = events.stat().st_size
    with open(events, "r+b") as f:
        f.truncate(size - 7)

    refused = cli("import-tensorboard", tmp_path / "db", tmp_path / "logs")
    assert refused.returncode != 0
    assert str(events) in refused.stderr and "offset" in refused.stderr
    assert not (tmp_path / "db").exists() or not runlog.open(tmp_path / "db", read_only=True).runs()

    kept = cli("import-tensorboard", tmp_path / "db", tmp_path / "logs", "--tolerate-corrupt-tail")
    assert kept.returncode == 0, kept.stderr
    assert "kept the" in kept.stderr and str(events) in kept.stderr
    with runlog.open(tmp_path / "db", read_only=True) as store:
        (run,) = store.runs()
        history = store.get_run(run["id"]).get_history("loss")
        # The cut hit the last record (the histogram's); every scalar is there.
        assert len(history.steps) == len(logged["baseline"]["loss"])
