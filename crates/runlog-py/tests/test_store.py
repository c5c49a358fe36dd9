"""The store across threads and processes: the lock, fork, closing,
exit, live readers, and the GIL released during engine calls."""

import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import runlog


def python(code, *args, **kwargs):
    """Runs Python code in a child interpreter."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        **kwargs,
    )


def test_a_second_writer_process_gets_locked_error(tmp_path):
    with runlog.open(tmp_path / "db"):
        child = python(
            """
            import sys, runlog
            try:
                runlog.open(sys.argv[1])
            except runlog.LockedError as e:
                print("locked:", e)
            """,
            tmp_path / "db",
        )
    assert child.stdout.startswith("locked:"), child.stderr
    assert "locked by another writer" in child.stdout


def test_closed_stores_refuse_calls_and_close_twice_is_fine(tmp_path):
    store = runlog.open(tmp_path / "db")
    run = store.start_run("e", "r")
    store.close()
    store.close()
    assert store.closed
    with pytest.raises(runlog.ClosedError):
        run.log("loss", 1.0)


def test_read_only_stores_refuse_writes(tmp_path):
    runlog.open(tmp_path / "db").close()
    with runlog.open(tmp_path / "db", read_only=True) as reader:
        with pytest.raises(runlog.ReadOnlyError):
            reader.start_run("e", "r")


def test_bad_options_are_refused(tmp_path):
    with pytest.raises(runlog.InvalidError, match="durability"):
        runlog.open(tmp_path / "db", durability="fast")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_cannot_write_through_its_parents_store(store):
    run = store.start_run("e", "r")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            run.log("loss", 1.0)
            message = "wrote"
        except runlog.ForkError as error:
            message = f"refused: {error}"
        os.write(write, message.encode())
        os._exit(0)
    os.close(write)
    said = os.read(read, 4096).decode()
    os.waitpid(pid, 0)
    assert said.startswith("refused:") and "fork" in said
    run.log("loss", 2.0)
    assert run.get_metrics(as_lists=True)["loss"] == [2.0]


def test_a_script_that_never_closes_loses_nothing(tmp_path):
    child = python(
        """
        import sys, runlog
        store = runlog.open(sys.argv[1], durability="buffered")
        run = store.start_run("e", "r")
        run.log_list("loss", [float(i) for i in range(100_000)])
        run.log("last", 42.0)
        """,
        tmp_path / "db",
    )
    assert child.returncode == 0, child.stderr
    with runlog.open(tmp_path / "db", read_only=True) as reader:
        run = reader.get_run(experiment="e", name="r")
        assert len(run.get_history("loss").values) == 100_000
        assert run.latest("last") == 42.0


def test_many_threads_log_through_one_store(store):
    run = store.start_run("e", "threads")

    def work(index):
        for step in range(2000):
            run.log(f"t{index}", float(step), step=step)
            run.log("shared", float(index))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    metrics = run.get_metrics()
    for index in range(8):
        np.testing.assert_array_equal(metrics[f"t{index}"], np.arange(2000, dtype=float))
    assert len(metrics["shared"]) == 16_000
    assert run.get_history("shared").steps.tolist() == list(range(16_000))


def test_other_threads_run_while_an_engine_call_works(tmp_path):
    """The GIL is released during an engine call: a counting thread makes
    progress while one long call (a sync-durability write of 5M points)
    runs. With the GIL held, it could not move at all during the call."""
    with runlog.open(tmp_path / "db", durability="sync") as store:
        run = store.start_run("e", "r")
        values = np.random.default_rng(1).random(5_000_000)
        count = [0]
        stop = threading.Event()

        def counter():
            while not stop.is_set():
                count[0] += 1

        thread = threading.Thread(target=counter)
        thread.start()
        try:
            while count[0] == 0:
                pass
            before = count[0]
            run.log_list("big", values)
            during = count[0] - before
        finally:
            stop.set()
            thread.join()
        assert during > 0


def test_a_reader_process_follows_a_writer_process_live(tmp_path):
    db = tmp_path / "db"
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                """
                import sys, runlog
                store = runlog.open(sys.argv[1], durability="sync")
                run = store.start_run("e", "live")
                print("started", flush=True)
                for step in range(200):
                    run.log("loss", 1.0 / (step + 1))
                    print("acked", step, flush=True)
                sys.stdin.readline()
                """
            ),
            str(db),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout.readline().strip() == "started"
        with runlog.open(db, read_only=True) as reader:
            seen = 0
            for line in writer.stdout:
                acked = int(line.split()[1])
                if acked % 50 == 49:
                    reader.refresh()
                    run = reader.get_run(experiment="e", name="live")
                    values = run.get_history("loss").values
                    assert len(values) >= acked + 1
                    assert values[acked] == 1.0 / (acked + 1)
                    seen += 1
                if acked == 199:
                    break
            assert seen == 4
    finally:
        writer.stdin.close()
        writer.wait(timeout=60)
