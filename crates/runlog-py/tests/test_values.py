"""What can be logged, stored bit for bit, and what is refused."""

import math
import struct

import numpy as np
import pytest

import runlog


def bits(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


AWKWARD = [0.1, -0.0, math.inf, -math.inf, math.nan, 5e-324, 1.7976931348623157e308]


def test_awkward_floats_come_back_bit_for_bit(run):
    payload_nan = struct.unpack("<d", struct.pack("<Q", 0x7FF4_0000_0000_BEEF))[0]
    for value in [*AWKWARD, payload_nan]:
        run.log("one", value)
    run.log_list("many", np.array([*AWKWARD, payload_nan]))
    for name in ("one", "many"):
        got = run.get_history(name).values
        assert [bits(v) for v in got] == [bits(v) for v in [*AWKWARD, payload_nan]]


def test_bools_ints_and_numpy_scalars(run):
    values = [
        True,
        False,
        3,
        np.float32(0.5),
        np.float64(0.25),
        np.int64(7),
        np.bool_(True),
        np.array(2.5),
        np.uint8(200),
    ]
    for value in values:
        run.log("mixed", value)
    assert run.get_metrics(as_lists=True)["mixed"] == [
        1.0,
        0.0,
        3.0,
        0.5,
        0.25,
        7.0,
        1.0,
        2.5,
        200.0,
    ]


class Tensor:
    """Like a 0-d torch tensor: only .item()."""

    def __init__(self, value):
        self.value = value

    def item(self):
        return self.value


def test_tensor_likes_are_read_with_item(run):
    run.log("loss", Tensor(0.75))
    assert run.latest("loss") == 0.75


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64, np.uint16, np.bool_])
def test_numpy_arrays_of_every_numeric_dtype(run, dtype):
    values = np.arange(6).astype(dtype)
    steps = run.log_list("x", values)
    assert steps == range(0, 6)
    np.testing.assert_array_equal(run.get_history("x").values, values.astype(np.float64))


def test_a_strided_array_is_read_in_order(run):
    values = np.arange(10, dtype=np.float64)[::3]
    run.log_list("strided", values)
    assert run.get_metrics()["strided"].tolist() == [0.0, 3.0, 6.0, 9.0]


def test_strings_make_a_text_series(run):
    run.log("phase", "warmup")
    run.log("phase", "train", step=10)
    run.log("phase", "eval ✓", step=5)
    assert run.get_text("phase")[0][2] == "warmup"
    assert [p[0] for p in run.get_text("phase")] == [0, 5, 10]
    assert run.latest("phase") == "train"
    assert run.get_metrics()["phase"] == ["warmup", "eval ✓", "train"]


def test_histories_are_numpy_arrays_of_the_right_dtypes(run):
    run.log_list("loss", [3.0, 2.0, 1.0])
    history = run.get_history("loss")
    assert history.steps.dtype == np.int64
    assert history.timestamps.dtype == np.int64
    assert history.values.dtype == np.float64
    # Handed over, not copied: the arrays own the engine's buffers.
    assert history.values.flags.owndata or history.values.base is not None


@pytest.mark.parametrize(
    "bad, error",
    [
        ({"a": 1}, TypeError),
        (None, TypeError),
        ([1.0, 2.0], TypeError),
        (b"bytes", TypeError),
    ],
)
def test_unloggable_values_are_refused_and_write_nothing(run, bad, error):
    with pytest.raises(error):
        run.log("m", bad)
    assert run.get_metrics() == {}


def test_bad_steps_and_arrays_are_refused(run):
    with pytest.raises(TypeError, match="step must be an integer"):
        run.log("m", 1.0, step=math.nan)
    with pytest.raises(TypeError, match="step must be an integer"):
        run.log("m", 1.0, step=1.5)
    with pytest.raises(TypeError, match="dtype"):
        run.log_list("m", np.array(["a", "b"]))
    with pytest.raises(ValueError, match="one-dimensional"):
        run.log_list("m", np.zeros((2, 2)))
    assert run.get_metrics() == {}


def test_names_over_the_limit_are_refused(run):
    with pytest.raises(runlog.InvalidError, match="255"):
        run.log("x" * 300, 1.0)
    with pytest.raises(runlog.InvalidError):
        run.log("", 1.0)
    assert run.get_metrics() == {}


def test_whole_columns_with_explicit_steps(run):
    run.log_points("loss", np.array([5, 3, 9]), np.array([0.5, 0.3, 0.9]), [10, 20, 30])
    history = run.get_history("loss")
    assert history.steps.tolist() == [3, 5, 9]
    assert history.timestamps.tolist() == [20, 10, 30]
    with pytest.raises(runlog.InvalidError, match="as many of each"):
        run.log_points("loss", [1, 2], [0.1])
    assert len(run.get_history("loss").values) == 3
