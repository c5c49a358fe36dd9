"""runlog: an embedded time-series store for machine-learning run metrics.

Open a store, start a run, log::

    import runlog

    with runlog.open("runs") as store:
        with store.start_run("mnist", params={"lr": 3e-4}) as run:
            for step in range(1000):
                run.log("loss", 1.0 / (step + 1))
        print(run.get_metrics()["loss"][-1])

Every error is a subclass of :class:`runlog.Error`. A store left open is
closed (everything logged made durable) when the interpreter exits.
``runlog.mlflow`` offers MLflow's module-level calls over the same engine.
"""

from __future__ import annotations

from runlog._runlog import (
    ClosedError,
    CorruptError,
    Error,
    ExistsError,
    ForkError,
    InvalidError,
    KindError,
    LimitError,
    LockedError,
    NotFoundError,
    ReadOnlyError,
    StorageError,
    __version__,
)
from runlog._store import History, Run, RunList, RunSummary, Store

__all__ = [
    "ClosedError",
    "CorruptError",
    "Error",
    "ExistsError",
    "ForkError",
    "History",
    "InvalidError",
    "KindError",
    "LimitError",
    "LockedError",
    "NotFoundError",
    "ReadOnlyError",
    "Run",
    "RunList",
    "RunSummary",
    "StorageError",
    "Store",
    "__version__",
    "open",
]


def open(path, read_only: bool = False, durability: str = "group") -> Store:
    """Open (or create) the runlog database in directory ``path``.

    ``read_only=True`` opens a database that another process is writing,
    without a lock; call :meth:`Store.refresh` to see what it logged since.
    ``durability`` is ``"group"`` (the default: an fsync every 10 ms, so a
    crash loses at most the last 10 ms), ``"sync"`` (every call returns
    once it is on disk) or ``"buffered"`` (on disk at ``flush``, ``close``
    or exit).
    """
    return Store(path, read_only=read_only, durability=durability)
