"""Type stubs of the compiled core, ``runlog._runlog``. Users call it
through :mod:`runlog` (``runlog.open``, ``Store``, ``Run``)."""

from os import PathLike
from typing import Any

import numpy as np
import numpy.typing as npt

__version__: str

class Error(Exception):
    """The base of every error runlog raises."""

class LockedError(Error):
    """Another process holds the database open for writing."""

class ReadOnlyError(Error):
    """A write through a store opened read-only."""

class ClosedError(Error):
    """A call on a store after close()."""

class ForkError(Error):
    """A write through a store that the parent process opened, from a forked child."""

class NotFoundError(Error):
    """No such run, metric, table, text series, log stream or artifact."""

class ExistsError(Error):
    """A run of that name exists, or a param is already set to another value."""

class InvalidError(Error):
    """A name, path, value or option breaks a rule."""

class LimitError(Error):
    """A limit would be passed: a count, a size or the step range."""

class KindError(Error):
    """A name already holds another kind of series."""

class CorruptError(Error):
    """A file of the database is damaged; the message names the file and offset."""

class StorageError(Error):
    """The operating system or the storage failed."""

History = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]

class Store:
    """An open runlog database."""

    def __init__(
        self, path: str | PathLike[str], read_only: bool = False, durability: str = "group"
    ) -> None: ...
    @property
    def path(self) -> str: ...
    @property
    def read_only(self) -> bool: ...
    @property
    def closed(self) -> bool: ...
    def close(self) -> None: ...
    def flush(self) -> None: ...
    def sync(self) -> None: ...
    def refresh(self) -> None: ...
    def create_run(self, experiment: str, name: str, start_ms: int | None = None) -> int: ...
    def set_param(self, run: int, key: str, value: str) -> None: ...
    def set_tag(self, run: int, key: str, value: str) -> None: ...
    def set_status(self, run: int, status: str, end_ms: int | None = None) -> None: ...
    def delete_run(self, run: int) -> None: ...
    def run_info(self, run: int) -> dict[str, Any]: ...
    def find_run(self, experiment: str, name: str) -> int | None: ...
    def experiments(self) -> dict[str, int]: ...
    def runs(
        self,
        experiment: str | None = None,
        status: str | None = None,
        tag: tuple[str, str] | None = None,
    ) -> list[dict[str, Any]]: ...
    def log(
        self,
        run: int,
        name: str,
        value: float,
        step: int | None = None,
        timestamp: int | None = None,
    ) -> int: ...
    def log_str(
        self,
        run: int,
        name: str,
        value: str,
        step: int | None = None,
        timestamp: int | None = None,
    ) -> int: ...
    def log_list(self, run: int, name: str, values: npt.NDArray[np.float64]) -> tuple[int, int]: ...
    def log_many(
        self,
        run: int,
        names: list[str],
        values: npt.NDArray[np.float64],
        step: int,
        timestamp: int | None = None,
    ) -> None: ...
    def log_columns(
        self,
        run: int,
        name: str,
        steps: npt.NDArray[np.int64],
        timestamps: npt.NDArray[np.int64],
        values: npt.NDArray[np.float64],
    ) -> None: ...
    def log_row(
        self,
        run: int,
        table: str,
        numbers: list[tuple[str, float]],
        texts: list[tuple[str, str]],
    ) -> int: ...
    def log_table(
        self, run: int, table: str, columns: list[tuple[str, npt.NDArray[np.float64]]]
    ) -> tuple[int, int]: ...
    def append_log(self, run: int, stream: str, text: str) -> int: ...
    def put_artifact(
        self,
        run: int,
        path: str,
        data: bytes,
        media_type: str | None = None,
        step: int | None = None,
    ) -> dict[str, Any]: ...
    def put_artifact_file(
        self, run: int, path: str, file: str | PathLike[str], media_type: str | None = None
    ) -> dict[str, Any]: ...
    def log_image(self, run: int, key: str, step: int, data: bytes) -> dict[str, Any]: ...
    def delete_artifact(self, run: int, path: str) -> None: ...
    def metric_names(self, run: int) -> list[str]: ...
    def table_names(self, run: int) -> list[str]: ...
    def text_series(self, run: int) -> list[str]: ...
    def history(
        self, run: int, name: str, start: int | None = None, end: int | None = None
    ) -> History: ...
    def get_metrics(self, run: int) -> dict[str, npt.NDArray[np.float64]]: ...
    def latest(self, run: int, name: str) -> tuple[int, int, float]: ...
    def stats(self, run: int, name: str) -> dict[str, Any]: ...
    def downsample(self, run: int, name: str, buckets: int) -> list[dict[str, Any]]: ...
    def text_history(self, run: int, name: str) -> list[tuple[int, int, str]]: ...
    def text_latest(self, run: int, name: str) -> tuple[int, int, str]: ...
    def table(self, run: int, name: str) -> dict[str, Any]: ...
    def log_streams(self, run: int) -> list[dict[str, Any]]: ...
    def log_lines(
        self, run: int, stream: str, start: int = 0, limit: int | None = None
    ) -> tuple[int, list[str], str | None]: ...
    def artifacts(self, run: int, prefix: str = "") -> list[dict[str, Any]]: ...
    def images(self, run: int, key: str) -> list[dict[str, Any]]: ...
    def read_artifact(self, run: int, path: str) -> bytes: ...
