"""Turning what Python code logs into what the engine stores, with clear
errors for what it cannot store."""

from __future__ import annotations

import operator
from typing import Any

import numpy as np


def scalar(name: str, value: Any) -> float | str:
    """A value to log: a float, or a str for a text series.

    Accepts float, int, bool, numpy scalars, 0-d arrays and anything with
    ``.item()`` (a 0-d tensor); refuses the rest with ``TypeError``.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return scalar(name, value.item())
    item = getattr(value, "item", None)
    if callable(item):
        return scalar(name, item())
    raise TypeError(
        f"{name!r}: cannot log a {type(value).__name__}; give a number, a bool, a str "
        "or a 0-d array or tensor"
    )


def _integer(value: Any, rule: str) -> int | None:
    """None, or an integer (anything with ``__index__``); else TypeError."""
    if value is None:
        return None
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{rule}, not {value!r}") from None


def step(value: Any) -> int | None:
    """A step: None, or an integer (a float step, NaN included, is refused)."""
    return _integer(value, "step must be an integer")


def timestamp(value: Any) -> int | None:
    """A timestamp in ms since the Unix epoch: None or an integer."""
    return _integer(value, "timestamp must be an integer number of ms since the epoch")


def float_array(name: str, values: Any) -> np.ndarray:
    """A 1-d float64 array from a list or any numeric numpy array, converted
    by numpy in one pass (no Python loop per element)."""
    array = np.asarray(values)
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"{name!r}: values must be numbers or bools, not an array of dtype {array.dtype}"
        )
    if array.ndim != 1:
        raise ValueError(f"{name!r}: values must be one-dimensional, not of shape {array.shape}")
    return np.ascontiguousarray(array, dtype=np.float64)


def is_text_array(values: Any) -> bool:
    """Whether a column holds strings."""
    array = np.asarray(values)
    return array.dtype.kind in "US" or (
        array.dtype.kind == "O" and any(isinstance(v, str) for v in array.ravel())
    )
