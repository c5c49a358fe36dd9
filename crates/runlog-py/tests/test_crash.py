"""kill -9 of a Python writer at random times: every point it saw
acknowledged under sync durability is there after each kill."""

import random
import signal
import subprocess
import sys
import textwrap
import time

import runlog

WRITER = textwrap.dedent(
    """
    import sys, runlog
    store = runlog.open(sys.argv[1], durability="sync")
    try:
        run = store.start_run("crash", "run")
    except runlog.ExistsError:
        run = store.get_run(experiment="crash", name="run")
    metrics = run.get_metrics()
    step = len(metrics["loss"]) if "loss" in metrics else 0
    # A kill between the two writes of a step: add the line it missed.
    lines = len(run.read_log("stdout")) if run.log_streams() else 0
    if lines < step:
        run.append_log("stdout", f"step {step - 1}\\n")
    while True:
        run.log("loss", float(step), step=step)
        run.append_log("stdout", f"step {step}\\n")
        print(step, flush=True)
        step += 1
    """
)


def test_acknowledged_points_survive_sigkill(tmp_path):
    db = tmp_path / "db"
    rng = random.Random(7)
    acked = -1
    for kill in range(20):
        child = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(db)], stdout=subprocess.PIPE, text=True
        )
        deadline = time.monotonic() + rng.uniform(0.05, 0.6)
        # Read what it acknowledges until the moment to kill comes.
        for line in child.stdout:
            acked = max(acked, int(line))
            if time.monotonic() >= deadline:
                break
        child.send_signal(signal.SIGKILL)
        child.wait()
        assert child.returncode == -signal.SIGKILL, f"kill {kill}: the writer ended by itself"
        with runlog.open(db, read_only=True) as reader:
            run = reader.get_run(experiment="crash", name="run")
            values = run.get_history("loss").values.tolist()
            assert values == [float(s) for s in range(len(values))], f"kill {kill}"
            assert len(values) > acked, f"kill {kill}: step {acked} was acknowledged"
            lines = run.read_log("stdout")
            assert lines == [f"step {s}" for s in range(len(lines))], f"kill {kill}"
            assert len(lines) >= acked, f"kill {kill}"
    assert acked > 0
