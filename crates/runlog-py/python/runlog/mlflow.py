"""MLflow's module-level tracking calls over runlog, for scripts written
against ``mlflow``: change ``import mlflow`` to ``import runlog.mlflow as
mlflow`` and the script logs into runlog.

Where the data goes: :func:`set_tracking_uri` with a directory (or
``file:`` URI), else the ``RUNLOG_DIR`` environment variable, else
``./runlog``. Behaviour follows MLflow's: a metric logged without a step
is logged at step 0, timestamps are ms since the epoch, params and tags
are strings, run ids are strings, and experiments are named (their id is
their name; ``"Default"`` is there from the start).
"""

from __future__ import annotations

import atexit
import io
import json
import os
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import runlog
from runlog import _values
from runlog._store import Run, Store

__all__ = [
    "ActiveRun",
    "Metric",
    "MlflowClient",
    "active_run",
    "end_run",
    "get_experiment_by_name",
    "get_run",
    "get_tracking_uri",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_image",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_text",
    "search_runs",
    "set_experiment",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
]

DEFAULT_EXPERIMENT = "Default"

# MLflow's status names and runlog's.
_TO_RUNLOG = {
    "RUNNING": "running",
    "SCHEDULED": "running",
    "FINISHED": "completed",
    "FAILED": "failed",
    "KILLED": "killed",
}
_TO_MLFLOW = {"running": "RUNNING", "completed": "FINISHED", "failed": "FAILED", "killed": "KILLED"}

_lock = threading.RLock()
_state: dict[str, Any] = {"uri": None, "store": None, "experiment": DEFAULT_EXPERIMENT}
_active: list[ActiveRun] = []


def set_tracking_uri(uri: str | os.PathLike) -> None:
    """Log into the runlog database in directory ``uri`` (a path or a
    ``file:`` URI)."""
    path = os.fspath(uri)
    if path.startswith("file://"):
        path = path[len("file://") :]
    elif path.startswith("file:"):
        path = path[len("file:") :]
    with _lock:
        if _state["store"] is not None and _state["uri"] != path:
            _state["store"].close()
            _state["store"] = None
        _state["uri"] = path


def get_tracking_uri() -> str:
    """The database directory in use."""
    return _state["uri"] or os.environ.get("RUNLOG_DIR", "runlog")


def _store() -> Store:
    with _lock:
        if _state["store"] is None:
            _state["store"] = runlog.open(get_tracking_uri())
        return _state["store"]


@dataclass
class Experiment:
    """An experiment: its id is its name."""

    experiment_id: str
    name: str
    lifecycle_stage: str = "active"


def set_experiment(
    experiment_name: str | None = None, experiment_id: str | None = None
) -> Experiment:
    """Make ``experiment_name`` the experiment new runs go to."""
    name = experiment_name or experiment_id
    if not name:
        raise ValueError("give an experiment_name")
    _state["experiment"] = name
    return Experiment(name, name)


def get_experiment_by_name(name: str) -> Experiment | None:
    """The experiment named ``name``, if it has runs (or is the default)."""
    if name == DEFAULT_EXPERIMENT or name in _store().experiments():
        return Experiment(name, name)
    return None


@dataclass
class RunInfo:
    """What MLflow's ``run.info`` holds."""

    run_id: str
    run_name: str
    experiment_id: str
    status: str
    start_time: int
    end_time: int | None
    artifact_uri: str
    lifecycle_stage: str = "active"

    @property
    def run_uuid(self) -> str:
        """The run id, by its older name."""
        return self.run_id


@dataclass
class RunData:
    """What MLflow's ``run.data`` holds: latest metric values, params, tags."""

    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class MlflowRun:
    """A run as ``mlflow.get_run`` returns it."""

    info: RunInfo
    data: RunData


@dataclass
class Metric:
    """One point, as ``get_metric_history`` returns it."""

    key: str
    value: float
    timestamp: int
    step: int


def _info(store: Store, run_id: int) -> RunInfo:
    info = store._store.run_info(run_id)
    return RunInfo(
        run_id=str(run_id),
        run_name=info["name"],
        experiment_id=info["experiment"],
        status=_TO_MLFLOW[info["status"]],
        start_time=info["start_ms"],
        end_time=info["end_ms"],
        artifact_uri=f"runlog:{store.path}/{run_id}/artifacts",
    )


def _run_id(run_id: str | int) -> int:
    try:
        return int(run_id)
    except (TypeError, ValueError):
        raise runlog.NotFoundError(f"no run with id {run_id!r}") from None


class ActiveRun:
    """The run :func:`start_run` started; a context manager that ends it
    (``FINISHED``, or ``FAILED`` on an exception)."""

    def __init__(self, run: Run):
        self._run = run

    @property
    def info(self) -> RunInfo:
        """The run's info."""
        return _info(self._run.store, self._run.id)

    @property
    def data(self) -> RunData:
        """The run's latest metrics, params and tags."""
        return get_run(str(self._run.id)).data

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is not None:
            import traceback

            self._run.append_log("stderr", "".join(traceback.format_exception(exc_type, exc, tb)))
        end_run("FINISHED" if exc_type is None else "FAILED")
        return False


def start_run(
    run_id: str | None = None,
    experiment_id: str | None = None,
    run_name: str | None = None,
    nested: bool = False,
    tags: Mapping[str, Any] | None = None,
    description: str | None = None,
    **_ignored: Any,
) -> ActiveRun:
    """Start a run (or resume ``run_id``) in the current experiment."""
    with _lock:
        if _active and not nested:
            raise runlog.Error(
                f"run {_active[-1]._run.id} is already active; end it, or pass nested=True"
            )
        store = _store()
        if run_id is not None:
            run = store.get_run(_run_id(run_id))
            store._store.set_status(run.id, "running")
        else:
            experiment = experiment_id or _state["experiment"]
            run = store.start_run(experiment, run_name)
            run.set_tag("mlflow.runName", run.name)
            if _active:
                run.set_tag("mlflow.parentRunId", str(_active[-1]._run.id))
        if tags:
            run.set_tags(tags)
        if description:
            run.set_tag("mlflow.note.content", description)
        active = ActiveRun(run)
        _active.append(active)
        return active


def active_run() -> ActiveRun | None:
    """The run started last and not ended, if any."""
    return _active[-1] if _active else None


def end_run(status: str = "FINISHED") -> None:
    """End the active run with MLflow status ``status``."""
    with _lock:
        if not _active:
            return
        active = _active.pop()
        try:
            target = _TO_RUNLOG[status]
        except KeyError:
            raise ValueError(
                f"unknown run status {status!r} (one of {sorted(_TO_RUNLOG)})"
            ) from None
        active._run.store._store.set_status(active._run.id, target)


def _current(run_id: str | None = None) -> Run:
    if run_id is not None:
        return _store().get_run(_run_id(run_id))
    active = active_run()
    if active is None:
        active = start_run()
    return active._run


def log_metric(
    key: str,
    value: float,
    step: int | None = None,
    timestamp: int | None = None,
    run_id: str | None = None,
    **_ignored: Any,
) -> None:
    """Log a metric value at ``step`` (0 if left out, as MLflow does) and
    ``timestamp`` (ms; now if left out)."""
    run = _current(run_id)
    value = _values.scalar(key, value)
    if isinstance(value, str):
        raise TypeError(f"{key!r}: MLflow metrics are numbers; log text with log_text")
    run._store.log(run.id, key, value, _values.step(step) or 0, _values.timestamp(timestamp))


def log_metrics(
    metrics: Mapping[str, float],
    step: int | None = None,
    run_id: str | None = None,
    timestamp: int | None = None,
    **_ignored: Any,
) -> None:
    """Log several metrics at one step (0 if left out), as one write."""
    _current(run_id).log_metrics(metrics, step=_values.step(step) or 0, timestamp=timestamp)


def log_param(key: str, value: Any, **_ignored: Any) -> Any:
    """Set a param (its ``str``); returns the value."""
    _current().log_param(key, value)
    return value


def log_params(params: Mapping[str, Any], **_ignored: Any) -> None:
    """Set params."""
    _current().log_params(params)


def set_tag(key: str, value: Any, **_ignored: Any) -> None:
    """Set a tag."""
    _current().set_tag(key, value)


def set_tags(tags: Mapping[str, Any], **_ignored: Any) -> None:
    """Set tags."""
    _current().set_tags(tags)


def log_text(text: str, artifact_file: str, run_id: str | None = None) -> None:
    """Store ``text`` as artifact ``artifact_file``."""
    _current(run_id).log_text(artifact_file, text)


def log_dict(dictionary: Mapping[str, Any], artifact_file: str, run_id: str | None = None) -> None:
    """Store a dict as a JSON artifact."""
    _current(run_id).log_text(artifact_file, json.dumps(dictionary, indent=2))


def _png(image: Any) -> bytes:
    """PNG bytes of a PIL image, a numpy array (via PIL) or bytes."""
    if isinstance(image, (bytes, bytearray)):
        return bytes(image)
    if hasattr(image, "save") and hasattr(image, "mode"):
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return buffer.getvalue()
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("logging a numpy image needs Pillow: pip install pillow") from None
    import numpy as np

    array = np.asarray(image)
    if array.dtype.kind == "f":
        array = (np.clip(array, 0, 1) * 255).astype(np.uint8)
    return _png(Image.fromarray(array))


def log_image(
    image: Any,
    artifact_file: str | None = None,
    key: str | None = None,
    step: int | None = None,
    run_id: str | None = None,
    **_ignored: Any,
) -> None:
    """Log an image: at ``artifact_file``, or (MLflow 3) as image series
    ``key`` at ``step``."""
    run = _current(run_id)
    data = _png(image)
    if key is not None:
        run._store.log_image(run.id, key, _values.step(step) or 0, data)
    elif artifact_file is not None:
        run.put_artifact(artifact_file, data)
    else:
        raise TypeError("give artifact_file, or key (and step)")


def log_figure(figure: Any, artifact_file: str, run_id: str | None = None, **_ignored: Any) -> None:
    """Store a matplotlib figure as an image artifact (PNG, no display)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format=os.path.splitext(artifact_file)[1][1:] or "png")
    _current(run_id).put_artifact(artifact_file, buffer.getvalue())


def log_artifact(
    local_path: str | os.PathLike, artifact_path: str | None = None, run_id: str | None = None
) -> None:
    """Store a file as an artifact (under ``artifact_path``), streamed."""
    name = os.path.basename(os.fspath(local_path))
    path = f"{artifact_path.strip('/')}/{name}" if artifact_path else name
    _current(run_id).upload_file(path, local_path)


def log_artifacts(
    local_dir: str | os.PathLike, artifact_path: str | None = None, run_id: str | None = None
) -> None:
    """Store every file under a folder as artifacts."""
    root = os.fspath(local_dir)
    run = _current(run_id)
    for folder, _, files in os.walk(root):
        for file in sorted(files):
            relative = os.path.relpath(os.path.join(folder, file), root).replace(os.sep, "/")
            path = f"{artifact_path.strip('/')}/{relative}" if artifact_path else relative
            run.upload_file(path, os.path.join(folder, file))


def get_run(run_id: str) -> MlflowRun:
    """A run: its info, latest metric values, params and tags."""
    store = _store()
    run = store.get_run(_run_id(run_id))
    info = run.info
    metrics = {name: run._store.latest(run.id, name)[2] for name in run._store.metric_names(run.id)}
    return MlflowRun(_info(store, run.id), RunData(metrics, info["params"], info["tags"]))


# --- search_runs: MLflow's filter language, the part users write ---

_CLAUSE = re.compile(
    r"""\s*(?P<entity>metrics?|params?|tags?|attributes?|attr|run)\.
        (?P<key>`[^`]+`|"[^"]+"|[\w./-]+)\s*
        (?P<op>!=|>=|<=|=|<|>|\s(?:NOT\s+)?I?LIKE\s)\s*
        (?P<value>'(?:[^']|'')*'|"[^"]*"|[-+\w.]+)\s*""",
    re.IGNORECASE | re.VERBOSE,
)


def _clauses(filter_string: str) -> list[tuple[str, str, str, Any]]:
    clauses = []
    text = filter_string.strip()
    parts = re.split(r"\s+AND\s+", text, flags=re.IGNORECASE) if text else []
    for part in parts:
        found = _CLAUSE.fullmatch(part)
        if found is None:
            raise runlog.InvalidError(f"cannot read the filter clause {part!r}")
        entity = found["entity"].lower().rstrip("s")
        entity = {"attribute": "attr", "run": "attr"}.get(entity, entity)
        key = found["key"].strip('`"')
        value: Any = found["value"]
        if value[0] in "'\"":
            value = value[1:-1].replace("''", "'")
        elif entity == "metric":
            value = float(value)
        clauses.append((entity, key, found["op"].strip().upper(), value))
    return clauses


def _like(pattern: str, text: str, fold: bool) -> bool:
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, re.IGNORECASE if fold else 0) is not None


def _compare(left: Any, op: str, right: Any) -> bool:
    if left is None:
        return False
    if op.endswith("LIKE"):
        matched = _like(str(right), str(left), op.endswith("ILIKE"))
        return not matched if op.startswith("NOT") else matched
    try:
        if isinstance(right, str) and not isinstance(left, str):
            right = type(left)(right)
    except ValueError:
        return False
    return {
        "=": left == right,
        "!=": left != right,
        "<": left < right,
        "<=": left <= right,
        ">": left > right,
        ">=": left >= right,
    }[op]


def _attribute(summary: Mapping[str, Any], key: str) -> Any:
    return {
        "status": _TO_MLFLOW[summary["status"]],
        "run_name": summary["name"],
        "run_id": str(summary["id"]),
        "start_time": summary["start_ms"],
        "end_time": summary["end_ms"],
        "experiment_id": summary["experiment"],
    }.get(key)


def _value(summary: Mapping[str, Any], entity: str, key: str) -> Any:
    if entity == "metric":
        stats = summary["metrics"].get(key)
        return None if stats is None else stats["last"]
    if entity == "param":
        return summary["params"].get(key)
    if entity == "tag":
        return summary["tags"].get(key)
    return _attribute(summary, key)


def search_runs(
    experiment_ids: list[str] | None = None,
    filter_string: str = "",
    max_results: int = 100_000,
    order_by: list[str] | None = None,
    output_format: str = "pandas",
    experiment_names: list[str] | None = None,
    **_ignored: Any,
) -> Any:
    """Runs of the given experiments (all if none) that match
    ``filter_string`` (clauses on ``metrics.``, ``params.``, ``tags.`` and
    ``attributes.``, joined with AND), sorted by ``order_by`` (e.g.
    ``["metrics.loss ASC"]``); as a pandas DataFrame (``output_format
    ="pandas"``, needs pandas) or a list of runs (``"list"``)."""
    experiments = (experiment_ids or []) + (experiment_names or [])
    clauses = _clauses(filter_string)
    store = _store()
    found = [
        s
        for s in store.runs()
        if (not experiments or s["experiment"] in experiments)
        and all(_compare(_value(s, e, k), op, v) for e, k, op, v in clauses)
    ]
    for term in reversed(order_by or []):
        words = term.split()
        descending = len(words) > 1 and words[-1].upper() == "DESC"
        entity, _, key = words[0].partition(".")
        entity = {"attribute": "attr", "attributes": "attr"}.get(entity, entity.rstrip("s"))
        present = [s for s in found if _value(s, entity, key) is not None]
        absent = [s for s in found if _value(s, entity, key) is None]
        present.sort(key=lambda s, e=entity, k=key: _value(s, e, k), reverse=descending)
        found = present + absent
    if order_by is None:
        found.sort(key=lambda s: s["start_ms"], reverse=True)
    found = found[:max_results]
    if output_format == "list":
        return [get_run(str(s["id"])) for s in found]
    if output_format == "pandas":
        return runlog.RunList(found).to_pandas()
    raise ValueError(f"output_format {output_format!r}: give 'pandas' or 'list'")


class MlflowClient:
    """The parts of ``mlflow.MlflowClient`` that read runs back."""

    def __init__(self, tracking_uri: str | None = None, **_ignored: Any):
        if tracking_uri is not None:
            set_tracking_uri(tracking_uri)

    def get_run(self, run_id: str) -> MlflowRun:
        """See :func:`get_run`."""
        return get_run(run_id)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every point of a metric, in step order."""
        run = _store().get_run(_run_id(run_id))
        history = run.get_history(key)
        return [
            Metric(key, float(v), int(t), int(s))
            for s, t, v in zip(history.steps, history.timestamps, history.values)
        ]

    def log_metric(
        self,
        run_id: str,
        key: str,
        value: float,
        timestamp: int | None = None,
        step: int | None = None,
        **_ignored: Any,
    ) -> None:
        """See :func:`log_metric`."""
        log_metric(key, value, step=step, timestamp=timestamp, run_id=run_id)

    def search_runs(
        self,
        experiment_ids: list[str],
        filter_string: str = "",
        max_results: int = 1000,
        order_by: list[str] | None = None,
        **_ignored: Any,
    ) -> list[MlflowRun]:
        """See :func:`search_runs`; a list of runs."""
        return search_runs(experiment_ids, filter_string, max_results, order_by, "list")

    def set_terminated(
        self, run_id: str, status: str = "FINISHED", end_time: int | None = None
    ) -> None:
        """End a run with an MLflow status."""
        run = _store().get_run(_run_id(run_id))
        run._store.set_status(run.id, _TO_RUNLOG[status], end_time or int(time.time() * 1000))


@atexit.register
def _end_active_runs() -> None:
    """Ends runs still active at exit as FINISHED, as MLflow does (this
    runs before runlog closes its stores)."""
    while _active:
        try:
            end_run("FINISHED")
        except runlog.Error:
            break
