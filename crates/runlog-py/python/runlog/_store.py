"""The Azure ML-style face: a store of runs, and runs that log and read."""

from __future__ import annotations

import atexit
import io
import os
import time
import traceback
import uuid
import weakref
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import numpy as np

from runlog import _runlog, _values


class History(NamedTuple):
    """A metric's points in step order, as numpy arrays."""

    steps: np.ndarray
    timestamps: np.ndarray
    values: np.ndarray


class RunSummary(dict):
    """One row of a run list: the run's metadata (``id``, ``experiment``,
    ``name``, ``status``, ``start_ms``, ``end_ms``, ``params``, ``tags``),
    ``metrics`` (name -> count, first, last, min, max, ...) and ``texts``
    (text series -> latest value). Keys read as attributes too."""

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None


class RunList(list):
    """Run summaries, with :meth:`to_pandas`."""

    def to_pandas(self):
        """One row per run: its metadata, params as ``params.<key>``, tags as
        ``tags.<key>``, and ``<metric>.last/min/max/count``. Needs pandas."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("RunList.to_pandas needs pandas: pip install pandas") from None
        rows = []
        for run in self:
            row = {k: run[k] for k in ("id", "experiment", "name", "status", "start_ms", "end_ms")}
            row.update({f"params.{k}": v for k, v in run["params"].items()})
            row.update({f"tags.{k}": v for k, v in run["tags"].items()})
            for metric, stats in run["metrics"].items():
                for field in ("last", "min", "max", "count"):
                    row[f"{metric}.{field}"] = stats[field]
            rows.append(row)
        return pd.DataFrame(rows)


_open_stores: weakref.WeakSet[Store] = weakref.WeakSet()


@atexit.register
def _close_open_stores() -> None:
    """Closes every store still open at exit, so that nothing logged is lost."""
    for store in list(_open_stores):
        try:
            store.close()
        except _runlog.Error:
            pass


class Store:
    """An open runlog database. Use :func:`runlog.open` to get one.

    Thread-safe: many threads may log through one store. A store is a
    context manager that closes on exit.
    """

    def __init__(self, path, read_only: bool = False, durability: str = "group"):
        self._store = _runlog.Store(os.fspath(path), read_only, durability)
        _open_stores.add(self)

    def __repr__(self) -> str:
        state = "closed" if self.closed else ("read-only" if self.read_only else "open")
        return f"<runlog.Store {str(self.path)!r} {state}>"

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def path(self) -> str:
        """The database directory."""
        return str(self._store.path)

    @property
    def read_only(self) -> bool:
        """Whether the store was opened read-only."""
        return self._store.read_only

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._store.closed

    def close(self) -> None:
        """Make everything logged durable and close the database."""
        self._store.close()

    def flush(self) -> None:
        """Write what is in memory to segment files now."""
        self._store.flush()

    def sync(self) -> None:
        """Make every logged call durable (one fsync)."""
        self._store.sync()

    def refresh(self) -> None:
        """For a read-only store: see what the writer logged since."""
        self._store.refresh()

    def start_run(
        self,
        experiment: str,
        name: str | None = None,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> Run:
        """Create a run (named ``run-<time>-<random>`` if ``name`` is None)
        with its params and tags; use it as a context manager to complete
        it, or fail it on an exception."""
        if name is None:
            name = f"run-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        run = Run(self, self._store.create_run(experiment, name))
        if params:
            run.log_params(params)
        if tags:
            run.set_tags(tags)
        return run

    def get_run(
        self, run_id: int | None = None, *, experiment: str | None = None, name: str | None = None
    ) -> Run:
        """A run, by id or by experiment and name."""
        if run_id is None:
            if experiment is None or name is None:
                raise TypeError("give a run id, or an experiment and a name")
            found = self._store.find_run(experiment, name)
            if found is None:
                raise _runlog.NotFoundError(f"experiment {experiment!r} has no run named {name!r}")
            run_id = found
        self._store.run_info(run_id)  # raises NotFoundError for an unknown id
        return Run(self, run_id)

    def runs(
        self,
        experiment: str | None = None,
        status: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> RunList:
        """Run summaries with last/min/max/count per metric, answered from
        memory; filtered by experiment, status and tags (all must match)."""
        tags = dict(tags or {})
        first = next(iter(tags.items()), None)
        found = self._store.runs(experiment, status, first)
        return RunList(
            RunSummary(r) for r in found if all(r["tags"].get(k) == v for k, v in tags.items())
        )

    def experiments(self) -> dict[str, int]:
        """Experiment names and their run counts."""
        return dict(self._store.experiments())

    def compare(self, name: str, runs: Iterable[Run | int]) -> dict[int, History]:
        """Metric ``name`` of several runs: run id -> its history (empty for
        a run without it)."""
        out = {}
        for run in runs:
            run_id = run.id if isinstance(run, Run) else int(run)
            try:
                out[run_id] = History(*self._store.history(run_id, name))
            except _runlog.NotFoundError:
                empty = np.empty(0, dtype=np.int64)
                out[run_id] = History(empty, empty.copy(), np.empty(0, dtype=np.float64))
        return out


class Run:
    """One run: log to it, read it back. A context manager: completed on a
    normal exit; failed on an exception, whose traceback is appended to
    the run's ``stderr`` log."""

    def __init__(self, store: Store, run_id: int):
        self._owner = store
        self._store = store._store
        self.id = run_id
        self._log = store._store.log

    def __repr__(self) -> str:
        info = self.info
        return f"<runlog.Run {info['id']} {info['experiment']}/{info['name']} {info['status']}>"

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            self.complete()
        else:
            text = "".join(traceback.format_exception(exc_type, exc, tb))
            self.append_log("stderr", text)
            self.fail()
        return False

    # --- what the run is ---

    @property
    def store(self) -> Store:
        """The store the run is in."""
        return self._owner

    @property
    def info(self) -> dict[str, Any]:
        """Its metadata: id, experiment, name, status, times, params, tags."""
        return self._store.run_info(self.id)

    @property
    def name(self) -> str:
        """Its name."""
        return self.info["name"]

    @property
    def experiment(self) -> str:
        """Its experiment."""
        return self.info["experiment"]

    @property
    def params(self) -> dict[str, str]:
        """Its params."""
        return self.info["params"]

    @property
    def tags(self) -> dict[str, str]:
        """Its tags."""
        return self.info["tags"]

    # --- logging ---

    def log(
        self, name: str, value: Any, step: int | None = None, timestamp: int | None = None
    ) -> int:
        """Log one value of metric ``name``: a float, int, bool, numpy
        scalar or 0-d tensor (with ``.item()``), or a str (a text series).
        ``step`` defaults to the one after the metric's last (0 first),
        ``timestamp`` (ms since the epoch) to now. Returns the step."""
        # The common case of a training loop, without conversions.
        if (
            type(value) is float
            and (step is None or type(step) is int)
            and (timestamp is None or type(timestamp) is int)
        ):
            return self._log(self.id, name, value, step, timestamp)
        value = _values.scalar(name, value)
        step, timestamp = _values.step(step), _values.timestamp(timestamp)
        if isinstance(value, str):
            return self._store.log_str(self.id, name, value, step, timestamp)
        return self._store.log(self.id, name, value, step, timestamp)

    def log_list(self, name: str, values: Any) -> range:
        """Log a list or a 1-d numpy array (any numeric dtype) of values at
        consecutive steps, reading the buffer directly; returns the steps."""
        start, end = self._store.log_list(self.id, name, _values.float_array(name, values))
        return range(start, end)

    def log_points(self, name: str, steps: Any, values: Any, timestamps: Any = None) -> None:
        """Log whole columns of metric ``name`` (explicit steps, values, and
        timestamps in ms or now) as one atomic write, from numpy arrays or
        lists, without a Python loop per point."""
        values = _values.float_array(name, values)
        steps = np.ascontiguousarray(steps, dtype=np.int64)
        if timestamps is None:
            timestamps = np.full(len(values), int(time.time() * 1000), dtype=np.int64)
        timestamps = np.ascontiguousarray(timestamps, dtype=np.int64)
        self._store.log_columns(self.id, name, steps, timestamps, values)

    def log_metrics(
        self, metrics: Mapping[str, Any], step: int, timestamp: int | None = None
    ) -> None:
        """Log several numeric metrics at one step, as one atomic write."""
        names = list(metrics)
        values = np.array([_values.scalar(n, metrics[n]) for n in names], dtype=np.float64)
        self._store.log_many(
            self.id, names, values, _values.step(step), _values.timestamp(timestamp)
        )

    def log_row(self, name: str, **cols: Any) -> int:
        """Log one row of table ``name``: numbers and strings by column.
        Returns the row index."""
        numbers, texts = [], []
        for column, value in cols.items():
            value = _values.scalar(f"{name}/{column}", value)
            (texts if isinstance(value, str) else numbers).append((column, value))
        return self._store.log_row(self.id, name, numbers, texts)

    def log_table(self, name: str, columns: Mapping[str, Any]) -> range:
        """Log whole columns of table ``name`` (arrays or lists of one
        length) as rows after its last; returns the rows."""
        if any(_values.is_text_array(v) for v in columns.values()):
            lengths = {len(v) for v in columns.values()}
            if len(lengths) > 1:
                raise ValueError(f"{name!r}: columns of different lengths {sorted(lengths)}")
            rows = [
                self.log_row(name, **dict(zip(columns, cells))) for cells in zip(*columns.values())
            ]
            return range(rows[0], rows[-1] + 1) if rows else range(0)
        arrays = [(c, _values.float_array(f"{name}/{c}", v)) for c, v in columns.items()]
        start, end = self._store.log_table(self.id, name, arrays)
        return range(start, end)

    def log_image(
        self,
        name: str,
        path: str | os.PathLike | None = None,
        plot: Any = None,
        step: int | None = None,
    ) -> dict[str, Any]:
        """Log an image of image series ``name``: a file at ``path``, or a
        matplotlib figure ``plot`` (saved as PNG, no display needed). The
        step defaults to the one after the series' last."""
        if (path is None) == (plot is None):
            raise TypeError("give either path or plot")
        if plot is not None:
            buffer = io.BytesIO()
            plot.savefig(buffer, format="png")
            data = buffer.getvalue()
        else:
            with open(path, "rb") as file:
                data = file.read()
        step = _values.step(step)
        if step is None:
            images = self._store.images(self.id, name)
            step = images[-1]["step"] + 1 if images else 0
        return self._store.log_image(self.id, name, step, data)

    def log_text(self, path: str, text: str) -> dict[str, Any]:
        """Store ``text`` as a text artifact at ``path``."""
        return self._store.put_artifact(self.id, path, text.encode(), None, None)

    def upload_file(self, name: str, path: str | os.PathLike) -> dict[str, Any]:
        """Store the file at ``path`` as artifact ``name``, streamed in
        bounded memory whatever its size."""
        return self._store.put_artifact_file(self.id, name, os.fspath(path), None)

    def put_artifact(self, path: str, data: bytes, media_type: str | None = None) -> dict[str, Any]:
        """Store bytes as artifact ``path``."""
        return self._store.put_artifact(self.id, path, bytes(data), media_type, None)

    def append_log(self, stream: str, text: str) -> int:
        """Append text to text log ``stream`` (``stdout``, ``node-3/stderr``);
        returns the stream's length in bytes."""
        return self._store.append_log(self.id, stream, text)

    def log_param(self, key: str, value: Any) -> None:
        """Set a param (as its ``str``); params are write-once."""
        self._store.set_param(self.id, key, str(value))

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Set params (each as its ``str``)."""
        for key, value in params.items():
            self.log_param(key, value)

    def set_tag(self, key: str, value: Any) -> None:
        """Set a tag (as its ``str``)."""
        self._store.set_tag(self.id, key, str(value))

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Set tags (each as its ``str``)."""
        for key, value in tags.items():
            self.set_tag(key, value)

    def complete(self) -> None:
        """Mark the run completed."""
        self._store.set_status(self.id, "completed")

    def fail(self) -> None:
        """Mark the run failed."""
        self._store.set_status(self.id, "failed")

    def kill(self) -> None:
        """Mark the run killed."""
        self._store.set_status(self.id, "killed")

    # --- reading ---

    def get_metrics(self, as_lists: bool = False) -> dict[str, Any]:
        """Every metric's values in recorded order (table columns as
        ``TABLE/COLUMN``; text series as lists of str), as numpy arrays, or
        lists with ``as_lists=True``."""
        metrics: dict[str, Any] = dict(self._store.get_metrics(self.id))
        if as_lists:
            metrics = {k: v.tolist() for k, v in metrics.items()}
        for series in self._store.text_series(self.id):
            metrics[series] = [p[2] for p in self._store.text_history(self.id, series)]
        return metrics

    def get_history(self, name: str, start: int | None = None, end: int | None = None) -> History:
        """A metric's (or ``TABLE/COLUMN``'s) steps, timestamps and values
        with steps in ``start..=end``, as numpy arrays handed over without
        a copy."""
        return History(*self._store.history(self.id, name, start, end))

    def get_text(self, name: str) -> list[tuple[int, int, str]]:
        """A text series' (step, timestamp, value) points in step order."""
        return self._store.text_history(self.id, name)

    def latest(self, name: str) -> Any:
        """The latest value of a metric or text series (highest step)."""
        try:
            return self._store.latest(self.id, name)[2]
        except _runlog.NotFoundError:
            return self._store.text_latest(self.id, name)[2]

    def stats(self, name: str) -> dict[str, Any]:
        """A metric's last, min, max, count, first and steps."""
        return self._store.stats(self.id, name)

    def table(self, name: str) -> dict[str, Any]:
        """A table: ``rows`` and its columns (numbers and strings) aligned
        by row, None where a row left a column out."""
        found = self._store.table(self.id, name)
        return {"rows": found["rows"], **found["columns"], **found["text_columns"]}

    def log_streams(self) -> list[dict[str, Any]]:
        """The run's text logs: name, bytes, lines, bytes stored."""
        return self._store.log_streams(self.id)

    def read_log(self, stream: str, start: int = 0, limit: int | None = None) -> list[str]:
        """Lines of text log ``stream`` from line ``start`` (0-based), the
        text after the last newline included as a last line."""
        _, lines, rest = self._store.log_lines(self.id, stream, start, limit)
        if rest is not None and (limit is None or len(lines) < limit):
            lines.append(rest)
        return lines

    def artifacts(self, prefix: str = "") -> list[dict[str, Any]]:
        """The run's artifacts at or under ``prefix``: path, size, media
        type, hash, time, step."""
        return self._store.artifacts(self.id, prefix)

    def read_artifact(self, path: str) -> bytes:
        """An artifact's content (its hash checked)."""
        return self._store.read_artifact(self.id, path)

    def images(self, name: str) -> list[dict[str, Any]]:
        """Image series ``name``, by step."""
        return self._store.images(self.id, name)
