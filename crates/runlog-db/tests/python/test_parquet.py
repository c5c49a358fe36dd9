"""`runlog-db export --format parquet` read by the real DuckDB, and
`import --format parquet` back: DuckDB's max/min/last per (run, metric)
equal runlog's own stats, every value's bits come back, a round trip
export -> import -> export gives the same rows, and an incremental
export adds files without touching the old ones."""

import math
import os
import struct
import subprocess
import time

import duckdb
import numpy as np

import runlog

BIN = os.environ.get("RUNLOG_DB_BIN", "target/debug/runlog-db")
EXPERIMENTS = ["plain", "a/b = c 100%", "ünïcode"]
SPECIAL = [math.nan, math.inf, -math.inf, -0.0, 0.0, 5e-324, 1.7976931348623157e308]


def cli(*args):
    return subprocess.run([BIN, *map(str, args)], capture_output=True, text=True)


def bits(x):
    return struct.pack("<d", x)


def fill(path, points=5_000):
    """Runs in three experiments (one with characters that Hive escapes),
    each with two noisy metrics holding every special value, a text
    series and a table of numbers and texts."""
    rng = np.random.default_rng(7)
    with runlog.open(path) as store:
        for e, experiment in enumerate(EXPERIMENTS):
            for r in range(2):
                run = store.start_run(
                    experiment, f"run-{r}", params={"lr": 10.0**-r}, tags={"e": e}
                )
                for metric in ("loss", "acc"):
                    values = rng.normal(size=points) * 10.0 ** rng.integers(-30, 30, size=points)
                    values[: len(SPECIAL)] = SPECIAL
                    steps = np.arange(points, dtype=np.int64) * 3 + r
                    stamps = 1_700_000_000_000 + steps * 7
                    run.log_points(metric, steps, values, stamps)
                run.log("phase", "warmup", step=0, timestamp=1_700_000_000_000)
                run.log("phase", "train", step=10, timestamp=1_700_000_000_070)
                run.log_row("eval", accuracy=0.5, split="val")
                run.log_row("eval", accuracy=-0.0, split="test", extra=math.nan)
                if r == 0:
                    run.complete()


def test_duckdb_reads_the_export_and_agrees_with_runlog(tmp_path):
    db, lake = tmp_path / "db", tmp_path / "lake"
    fill(db)
    done = cli("export", db, "--format", "parquet", "-o", lake)
    assert done.returncode == 0, done.stderr
    assert "exported 60000 points, 12 text points, 30 table cells and 6 runs" in done.stderr
    assert (lake / "points" / "experiment=a%2Fb %3D c 100%25").is_dir()

    con = duckdb.connect()
    points = f"read_parquet('{lake}/points/**/*.parquet')"
    stats = con.sql(
        f"""select experiment, run_name, metric, count(*),
                   min(value) filter (where not isnan(value)),
                   max(value) filter (where not isnan(value)),
                   arg_max(value, step)
            from {points} group by all"""
    ).fetchall()
    assert len(stats) == 12
    with runlog.open(db, read_only=True) as store:
        for experiment, name, metric, count, low, high, last in stats:
            want = store.get_run(experiment=experiment, name=name).stats(metric)
            assert (count, bits(low), bits(high)) == (
                want["count"],
                bits(want["min"]),
                bits(want["max"]),
            )
            assert bits(last) == bits(want["last"])
        for experiment, name, metric in con.sql(
            f"select distinct experiment, run_name, metric from {points}"
        ).fetchall():
            rows = con.sql(
                f"""select step, timestamp_ms, value from {points}
                    where experiment = $1 and run_name = $2 and metric = $3 order by step""",
                params=[experiment, name, metric],
            ).fetchall()
            steps, stamps, values = store.get_run(experiment=experiment, name=name).get_history(
                metric
            )
            assert [s for s, _, _ in rows] == steps.tolist()
            assert [t for _, t, _ in rows] == stamps.tolist()
            assert [bits(v) for _, _, v in rows] == [bits(v) for v in values]

    runs = con.sql(
        f"""select experiment, run_name, status, params['lr'], tags['e'], len(metrics)
            from read_parquet('{lake}/runs/**/*.parquet') order by all"""
    ).fetchall()
    assert runs[0] == ("a/b = c 100%", "run-0", "completed", "1.0", "1", 2)
    assert len(runs) == 6 and {r[2] for r in runs} == {"completed", "running"}
    texts = con.sql(
        f"select value from read_parquet('{lake}/texts/**/*.parquet') order by step limit 1"
    ).fetchall()
    assert texts == [("warmup",)]
    cells = con.sql(
        f"""select "column", number, text from read_parquet('{lake}/cells/**/*.parquet')
            where experiment = 'plain' and run_name = 'run-1' and "row" = 1 order by "column" """
    ).fetchall()
    assert [(c, t) for c, _, t in cells] == [("accuracy", None), ("extra", None), ("split", "test")]
    assert bits(cells[0][1]) == bits(-0.0) and math.isnan(cells[1][1])


def rows_of(con, lake, table):
    """Every row of a table but the ids that a database gives, as bytes
    where floats are, sorted."""
    rows = con.sql(
        f"select * exclude (run_id) from read_parquet('{lake}/{table}/**/*.parquet', "
        "hive_partitioning=false)"
    ).fetchall()
    return sorted(tuple(bits(v) if isinstance(v, float) else repr(v) for v in row) for row in rows)


def test_export_import_export_gives_the_same_rows(tmp_path):
    fill(tmp_path / "db")
    assert (
        cli("export", tmp_path / "db", "--format", "parquet", "-o", tmp_path / "one").returncode
        == 0
    )
    done = cli("import", tmp_path / "db2", "--format", "parquet", tmp_path / "one")
    assert done.returncode == 0, done.stderr
    assert "imported 6 runs" in done.stderr
    assert (
        cli("export", tmp_path / "db2", "--format", "parquet", "-o", tmp_path / "two").returncode
        == 0
    )
    con = duckdb.connect()
    for table in ("points", "texts", "cells"):
        one, two = rows_of(con, tmp_path / "one", table), rows_of(con, tmp_path / "two", table)
        assert one == two and one, table
    runs = (
        "select * exclude (run_id, exported_ms) "
        "from read_parquet('{}/runs/**/*.parquet') order by all"
    )
    assert (
        con.sql(runs.format(tmp_path / "one")).fetchall()
        == con.sql(runs.format(tmp_path / "two")).fetchall()
    )

    again = cli("import", tmp_path / "db2", "--format", "parquet", tmp_path / "one")
    assert again.returncode != 0 and "exist already" in again.stderr


def test_an_incremental_export_adds_files_and_never_rewrites_the_old(tmp_path):
    db, lake = tmp_path / "db", tmp_path / "lake"
    with runlog.open(db) as store:
        run = store.start_run("e", "live")
        run.log_points("loss", [0, 1, 2], [1.0, 2.0, 3.0])
    assert cli("export", db, "--format", "parquet", "-o", lake).returncode == 0
    old = {p: p.read_bytes() for p in lake.rglob("*.parquet")}
    (record,) = [line for line in (lake / "exports.jsonl").read_text().splitlines()]
    refused = cli("export", db, "--format", "parquet", "-o", lake)
    assert refused.returncode != 0 and "--since" in refused.stderr

    time.sleep(0.01)
    with runlog.open(db) as store:
        store.get_run(experiment="e", name="live").log_points("loss", [3, 4], [4.0, 5.0])
    since = int(record.split('"until_ms":')[1].split(",")[0])
    done = cli("export", db, "--format", "parquet", "-o", lake, "--since", since)
    assert done.returncode == 0, done.stderr
    assert "exported 2 points" in done.stderr
    assert {p: p.read_bytes() for p in old} == old
    con = duckdb.connect()
    steps = con.sql(
        f"select step from read_parquet('{lake}/points/**/*.parquet') order by step"
    ).fetchall()
    assert steps == [(s,) for s in range(5)]

    done = cli("import", tmp_path / "db2", "--format", "parquet", lake)
    assert done.returncode == 0, done.stderr
    with runlog.open(tmp_path / "db2", read_only=True) as store:
        history = store.get_run(experiment="e", name="live").get_history("loss")
        assert history.values.tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]


def test_a_damaged_or_foreign_file_is_named_and_nothing_is_imported(tmp_path):
    fill(tmp_path / "db", points=100)
    lake = tmp_path / "lake"
    assert cli("export", tmp_path / "db", "--format", "parquet", "-o", lake).returncode == 0
    victim = sorted((lake / "points").rglob("*.parquet"))[-1]
    data = victim.read_bytes()
    middle = len(data) // 2
    flipped = data[:middle] + bytes([data[middle] ^ 0x10]) + data[middle + 1 :]
    cases = [
        ("is damaged", lambda: victim.write_bytes(flipped)),  # one bit, anywhere
        ("is damaged", lambda: victim.write_bytes(data[:middle])),  # a copy cut short
        ("is missing", victim.unlink),
        ("in none of the exports", lambda: (victim.parent / "extra.parquet").write_bytes(data)),
    ]
    for expected, damage in cases:
        damage()
        done = cli("import", tmp_path / "db2", "--format", "parquet", lake)
        assert done.returncode != 0
        assert expected in done.stderr and "nothing imported" in done.stderr, done.stderr
        assert not (tmp_path / "db2").exists()
        victim.write_bytes(data)
        (victim.parent / "extra.parquet").unlink(missing_ok=True)
    assert cli("import", tmp_path / "db2", "--format", "parquet", lake).returncode == 0
