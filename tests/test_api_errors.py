"""Bad input to the Python API of the geometry core: each class of failure found by hand or by
``tests/test_api_fuzz.py`` gets one test here (each failed before its fix: OverflowError,
MemoryError, ZeroDivisionError, AttributeError, a raw NumPy error, a silent wrong answer).

The rule: a result, or a one-line ``GeometryError`` (a ``ValueError``) that names the argument,
``GeometryTypeError`` (also a ``TypeError``) for a wrong type; documented caps on every size and
range; explanations and JSON cost O(1) in the sizes.
"""

from __future__ import annotations

import contextlib
import json
import signal
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import convgeom as cg
from convgeom import GeometryError
from convgeom.errors import GeometryTypeError
from convgeom.geometry import MAX_CELLS
from convgeom.params import INT64_MAX, MAX_SPATIAL_AXES
from convgeom.solve import MAX_CANDIDATES, MAX_PROFILE_SIZES


@contextlib.contextmanager
def hang_guard(seconds: float = 120.0) -> Iterator[None]:
    """Fail instead of hanging the suite when a call loops over a huge range (a guard far above
    what the call needs, not a timing assertion)."""

    def expire(signum: int, frame: Any) -> None:
        raise AssertionError(f"still running after {seconds}s: the work is not bounded")

    old = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def refused(call: Any, kind: type[Exception] = GeometryError, *words: str) -> str:
    """Run ``call``; it must raise ``kind`` with a one-line message containing ``words``."""
    with hang_guard(), pytest.raises(kind) as info:
        call()
    message = str(info.value)
    assert message and "\n" not in message, repr(message)
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
    return message


# ----------------------------------------------------------------------------------------
# explanations, JSON and derived views: O(1) in the sizes
# ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [100_000_000, 10**18, INT64_MAX])
def test_explain_lists_first_and_last_windows_and_counts_them(n: int) -> None:
    """Before: explain(conv(10**8, 3)) built a 3 GB tuple; 2**63-1 raised OverflowError."""
    with hang_guard():
        r = cg.conv(n, 3)
        text = cg.explain(r)
        json.dumps(r.to_dict())
    count = n - 2
    assert f"0, 1, 2, 3, 4, ..., {count - 2}, {count - 1} (i*1 - 0; {count} windows)" in text


def test_window_start_range_is_cheap_at_any_size() -> None:
    a = cg.max_pool(2**62, 1).axes[0]
    assert len(a.window_start_range) == 2**62 and a.window_start_range[-1] == 2**62 - 1
    assert a.window_start(10) == 10
    assert cg.conv((5, 5), 3, 2, 1).axes[0].window_starts == (-1, 1, 3)


@pytest.mark.parametrize("view", ["window_starts", "coverage", "unread", "gaps"])
def test_per_cell_views_refuse_beyond_the_cap(view: str) -> None:
    """Before: MemoryError (2**62) or OverflowError (2**63) building the per-cell tuples."""
    a = cg.max_pool(MAX_CELLS + 1, 1).axes[0]
    call = (lambda: a.window_starts) if view == "window_starts" else getattr(a, view)
    refused(call, GeometryError, str(MAX_CELLS))


def test_per_cell_views_of_transposed_conv_count_output_cells() -> None:
    """Before: explain checked input <= 4096 but walked the output: a 4096-wide input with
    stride 10**12 asked for coverage of 4e15 cells (MemoryError)."""
    r = cg.conv_transpose(4096, 3, 10**12)
    with hang_guard():
        assert "receptive-field step" in cg.explain(r)
    refused(r.axes[0].coverage, GeometryError, str(MAX_CELLS))


def test_adaptive_windows_and_source_indices_refuse_beyond_the_cap() -> None:
    g = cg.adaptive_avg_pool(5, MAX_CELLS + 1)
    refused(lambda: g.windows, GeometryError, str(MAX_CELLS))
    assert g.window(0, MAX_CELLS) == (4, 5)
    refused(lambda: cg.interpolate(5, MAX_CELLS + 1).source_indices(0), GeometryError, str(MAX_CELLS))


# ----------------------------------------------------------------------------------------
# sizes: the int64 cap
# ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("call", [
    lambda: cg.conv(10**30, 3),
    lambda: cg.conv(2**63, 3),
    lambda: cg.conv(7, 3, padding=-(2**63) - 1),
    lambda: cg.conv_transpose(5, 3, 10**30),
    lambda: cg.max_pool((7, 10**30), 2),
    lambda: cg.adaptive_avg_pool(5, 2**63),
    lambda: cg.interpolate(2**63, 3),
    lambda: cg.padding_for_output(10**30, 5, 3),
    lambda: cg.same_profile(10**30),
], ids=["conv-n", "conv-n-2**63", "padding", "convT-stride", "pool-2d", "adaptive", "interpolate", "solve",
        "profile"])
def test_sizes_beyond_int64_are_one_line_errors(call: Any) -> None:
    """Before: OverflowError / MemoryError in explain, or a silent 10**30-wide result."""
    refused(call, GeometryError, "int64")


def test_computed_sizes_beyond_int64_are_refused() -> None:
    refused(lambda: cg.conv_transpose(2**62, 3, 2**62), GeometryError, "does not fit in int64", "on axis 0")
    refused(lambda: cg.conv(5, 2**62, 1, 0, 4), GeometryError, "int64")


def test_a_huge_integer_is_named_by_its_size_not_printed() -> None:
    """int -> str of more than 4300 digits raises ValueError in Python 3.11+."""
    refused(lambda: cg.conv(10**5000, 3), GeometryError, "bit integer", "int64")


def test_too_many_axes_are_refused() -> None:
    refused(lambda: cg.conv((4,) * (MAX_SPATIAL_AXES + 1), 1, framework="jax"), GeometryError, "62")


# ----------------------------------------------------------------------------------------
# types: bools, floats, None, strings, NumPy
# ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("call,name", [
    (lambda: cg.conv(7, 3.5), "kernel"),
    (lambda: cg.conv(7, 3.0), "kernel"),
    (lambda: cg.conv(7, True), "kernel"),
    (lambda: cg.conv(True, 3), "input"),
    (lambda: cg.conv(None, 3), "input"),
    (lambda: cg.conv("7", 3), "input"),
    (lambda: cg.conv(7, 3, padding=None), "padding"),
    (lambda: cg.conv(7, 3, groups=2.0), "groups"),
    (lambda: cg.conv(7, 3, in_channels=2.5), "in_channels"),
    (lambda: cg.max_pool(7, 2, ceil_mode=1), "ceil_mode"),
    (lambda: cg.max_pool(7, 2, ceil_mode="yes"), "ceil_mode"),
    (lambda: cg.avg_pool((7, 7), 2, count_include_pad=1), "count_include_pad"),
    (lambda: cg.avg_pool((7, 7), 2, divisor=2.5), "divisor"),
    (lambda: cg.conv(7, 3, framework=3), "framework"),
    (lambda: cg.conv(7, 3, padding_mode=None), "padding_mode"),
    (lambda: cg.conv(7, 3, padding=((1, 2), 3)), "padding"),
    (lambda: cg.conv(np.array([7.0, 7.0]), 3), "input"),
    (lambda: cg.conv(np.zeros((2, 2), dtype=int), 3), "input"),
    (lambda: cg.conv(7, np.bool_(True)), "kernel"),
    (lambda: cg.interpolate(6, scale_factor="2"), "scale_factor"),
    (lambda: cg.interpolate(6, scale_factor=True), "scale_factor"),
    (lambda: cg.interpolate(6, size=3.5), "size"),
    (lambda: cg.interpolate(6, size=3, mode=None), "mode"),
    (lambda: cg.adaptive_avg_pool(6, None), "output_size"),
    (lambda: cg.explain(None), "result"),
    (lambda: cg.explain((7, 3)), "result"),
    (lambda: cg.explain_call(None, input=7, kernel=3), "op"),
    (lambda: cg.inverse_transpose(None), "forward"),
    (lambda: cg.inverse_transpose("conv"), "forward"),
    (lambda: cg.same_padding(8, 3, 2, lower=1), "lower"),
    (lambda: cg.same_profile(3, sizes=[3.5]), "sizes"),
    (lambda: cg.same_profile(3, sizes=None), "sizes"),
    (lambda: cg.search(None, 112), "input"),
    (lambda: cg.search(224, None), "output"),
    (lambda: cg.search(224, 112, kernels=[3.5]), "kernels"),
    (lambda: cg.search(224, 112, op=None), "op"),
    (lambda: cg.padding_for_output(28, None, 5), "output"),
])
def test_wrong_types_are_type_errors_naming_the_argument(call: Any, name: str) -> None:
    """Before: AttributeError (explain/inverse_transpose of None), raw NumPy ValueErrors,
    silently accepted bools, strings and float scale factors, search(None, 112) == ()."""
    message = refused(call, TypeError, name)
    with pytest.raises(GeometryError):  # one except clause catches every refusal
        call()
    assert message.startswith(name) or f" {name}" in message or f"{name} " in message


def test_wrong_type_error_is_both_type_error_and_geometry_error() -> None:
    assert issubclass(GeometryTypeError, TypeError) and issubclass(GeometryTypeError, GeometryError)


def test_integer_arrays_and_numpy_scalars_are_read_exactly() -> None:
    """Before: conv(np.array([7, 7]), 3) raised NumPy's 'truth value of an array is ambiguous'."""
    assert cg.conv(np.array([7, 7]), 3) == cg.conv((7, 7), 3)
    assert cg.conv(np.array([7, 9], dtype=np.uint16), np.array([3, 3]), np.int64(2)).output == (3, 4)
    assert cg.conv(np.array(7), np.int32(3)).output == (5,)
    assert cg.interpolate(np.array([4, 4]), scale_factor=np.array([1.5, 2.0])).output == (6, 8)


# ----------------------------------------------------------------------------------------
# the number of axes comes from input
# ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("call,counts", [
    (lambda: cg.conv(7, 3, padding=(0, 1)), ("padding has 2 values", "input has 1 spatial axis")),
    (lambda: cg.conv(7, (3, 3)), ("kernel has 2 values", "input has 1 spatial axis")),
    (lambda: cg.max_pool((7, 7), (2, 2, 2)), ("kernel has 3 values", "input has 2 spatial axes")),
    (lambda: cg.conv((7, 7), 3, 1, ((1, 1),)), ("1 (before, after) pairs", "2 spatial axes")),
    (lambda: cg.adaptive_avg_pool(7, (2, 2)), ("output_size has 2 values", "1 spatial axis")),
    (lambda: cg.interpolate((7, 7), size=(3,)), ("size has 1 value", "2 spatial axes")),
    (lambda: cg.conv((7, 7), 3, 2, framework="tensorflow", padding="same", dilation=(1,)),
     ("dilation has 1 value", "2 spatial axes")),
    (lambda: cg.padding_for_output((7, 7), (7, 7, 7), 3), ("output has 3 values", "2 spatial axes")),
])
def test_per_axis_counts_must_match_the_input(call: Any, counts: tuple[str, ...]) -> None:
    """Before: conv(7, 3, padding=(0, 1)) silently became a 2-D conv on 7x7."""
    refused(call, GeometryError, *counts)


# ----------------------------------------------------------------------------------------
# solve: same_profile, search, padding_for_output
# ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs,words", [
    (dict(kernel=0), ("kernel must be >= 1",)),
    (dict(kernel=-3), ("kernel must be >= 1",)),
    (dict(kernel=3, stride=0), ("stride must be >= 1",)),
    (dict(kernel=3, stride=-2), ("stride must be >= 1",)),
    (dict(kernel=3, dilation=0), ("dilation must be >= 1",)),
    (dict(kernel=3, sizes=range(0, 5)), ("each of sizes must be >= 1",)),
    (dict(kernel=3, sizes=range(1, 10**7)), (str(MAX_PROFILE_SIZES),)),
    (dict(kernel=3, sizes=range(1, 10**30)), (str(MAX_PROFILE_SIZES),)),
])
def test_same_profile_validates_every_parameter(kwargs: dict[str, Any], words: tuple[str, ...]) -> None:
    """Before: stride 0 -> ZeroDivisionError; kernel 0/-3, stride -2, sizes 0-5 -> nonsense;
    range(1, 10**7) -> MemoryError after 20 s."""
    refused(lambda: cg.same_profile(**kwargs), GeometryError, *words)


def test_same_profile_at_the_cap_works() -> None:
    with hang_guard():
        prof = cg.same_profile(3, 2, sizes=range(1, MAX_PROFILE_SIZES + 1))
    assert len(prof.table) == MAX_PROFILE_SIZES and prof.asymmetric_inputs[:3] == (2, 4, 6)


@pytest.mark.parametrize("kwargs,words", [
    (dict(input=224, output=112, op="bogus"), ("unknown op",)),
    (dict(input=224, output=112, framework="caffe"), ("unknown framework",)),
    (dict(input=0, output=112), ("input must be >= 1",)),
    (dict(input=224, output=-1), ("output must be >= 0",)),
    (dict(input=224, output=112, kernels=range(1, 10**30)), ("kernels", str(MAX_CANDIDATES))),
    (dict(input=224, output=112, kernels=range(1, 100), strides=range(1, 100), paddings=range(0, 100)),
     ("too large", str(MAX_CANDIDATES))),
])
def test_search_validates_every_parameter(kwargs: dict[str, Any], words: tuple[str, ...]) -> None:
    """Before: an unknown op or framework returned () (the error was swallowed with the
    framework's own rejections); range(1, 10**30) raised OverflowError."""
    refused(lambda: cg.search(**kwargs), GeometryError, *words)


@pytest.mark.parametrize("kwargs,words", [
    (dict(input=28, output=28, kernel=5, stride=0), ("stride must be >= 1",)),
    (dict(input=28, output=0, kernel=5), ("output must be >= 1",)),
    (dict(input=28, output=28, kernel=0), ("kernel must be >= 1",)),
    (dict(input=28, output=28, kernel=5, max_pad=-1), ("max_pad must be >= 0",)),
])
def test_padding_for_output_validates_every_parameter(kwargs: dict[str, Any], words: tuple[str, ...]) -> None:
    """Before: stride 0 gave 'no padding gives output' for a reason it did not name."""
    refused(lambda: cg.padding_for_output(**kwargs), GeometryError, *words)


def test_padding_for_output_with_a_huge_stride_is_bounded() -> None:
    """Before: listed every total in range(low, low + stride): a 10**15 stride never returned."""
    with hang_guard():
        r = cg.padding_for_output(10, 1, 3, stride=10**15)
    assert r.output == (1,) and r.pad == ((0, 0),)


# ----------------------------------------------------------------------------------------
# interpolate: the modes PyTorch has
# ----------------------------------------------------------------------------------------
def test_interpolate_refuses_unknown_modes_listing_them() -> None:
    """Before: mode='bogus' was accepted."""
    refused(lambda: cg.interpolate(6, size=3, mode="bogus"), GeometryError, "nearest", "bilinear", "nearest-exact")
    refused(lambda: cg.interpolate(6, size=3, mode="Nearest"), GeometryError, "unknown interpolate mode")


# ----------------------------------------------------------------------------------------
# the explanation states the rule the dialect applied
# ----------------------------------------------------------------------------------------
def test_tensorflow_pool_explanation_states_its_truncation() -> None:
    """Before: output_formula guessed 'floor' for TensorFlow's trunc((n - k + s) / s) whenever the
    two agreed on the number."""
    r = cg.max_pool(1, 2, 3, "valid", framework="tensorflow")
    assert r.axes[0].rounding == "trunc_shifted" and r.output == (0,)
    assert "trunc((1 + 2*0 - 2 + 3) / 3) = trunc(2 / 3) = 0" in cg.explain(r)


@pytest.mark.parametrize("fw,op,rounding", [
    ("torch", "conv", "floor"), ("torch", "max_pool", "floor"), ("tensorflow", "conv", "floor"),
    ("tensorflow", "avg_pool", "trunc_shifted"), ("jax", "conv", "floor_clamped"), ("jax", "max_pool", "floor_clamped"),
    ("onnx", "conv", "floor"), ("onnx", "max_pool", "trunc"),
])
def test_every_axis_records_its_rounding(fw: str, op: str, rounding: str) -> None:
    r = getattr(cg, op)((9, 9), 3, 2, "valid" if fw == "tensorflow" else 0, framework=fw)
    assert all(a.rounding == rounding for a in r.axes)
    assert cg.max_pool(9, 3, 2, 0, ceil_mode=True).axes[0].rounding == "ceil"
    assert cg.conv_transpose(9, 3, 2).axes[0].rounding == "exact"


# ----------------------------------------------------------------------------------------
# frameworks without an op refuse it
# ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("call,words", [
    (lambda: cg.adaptive_avg_pool(7, 3, framework="tensorflow"), ("not a Keras/TensorFlow operation",)),
    (lambda: cg.adaptive_max_pool(7, 3, framework="onnx"), ("not a ONNX Runtime operation",)),
    (lambda: cg.interpolate(7, 3, framework="jax"), ("not modelled for JAX lax",)),
    (lambda: cg.adaptive_avg_pool((7,) * 4, 3), ("4-d",)),
    (lambda: cg.interpolate((7,) * 4, 3), ("4-d",)),
    (lambda: cg.inverse_transpose(cg.conv(8, 3, 2, 1, framework="jax")), ("not defined for framework 'jax'",)),
    (lambda: cg.interpolate(7, 3, framework="onnx").source_indices(0), ("not modelled",)),
])
def test_ops_a_framework_lacks_are_refused(call: Any, words: tuple[str, ...]) -> None:
    refused(call, GeometryError, *words)


# ----------------------------------------------------------------------------------------
# the axis at fault: GeometryError.axis, set by the dialect (the tracers read it)
# ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("call,axis", [
    (lambda: cg.conv((5, 5), 3, 1, ((0, 0), (-3, -3))), 1),
    (lambda: cg.conv((5, 5), 3, 1, ((0, 0), (-3, -3)), framework="jax"), 1),
    (lambda: cg.conv((5, 2), 3), 1),
    (lambda: cg.conv_transpose((3, 1), 1, 1, (0, 1)), 1),
    (lambda: cg.unfold((5, 2), 3), 1),
    (lambda: cg.max_pool((5, 5, 5), 3, 1, (1, 1, 2)), 2),
    (lambda: cg.max_pool((5, 5), 3, 1, ((0, 0), (3, 0)), framework="onnx"), 1),
    (lambda: cg.max_pool((5, 1), (2, 9), 1, "valid", framework="tensorflow"), 1),
    (lambda: cg.conv_transpose((3, 2**62), 3, (1, 2**62)), 1),
    (lambda: cg.conv((5, 5), 3, (1, 0)), 1),
])
def test_per_axis_rejections_name_their_axis(call: Any, axis: int) -> None:
    """Before: Dialect.reject parsed ' on axis N' out of its own message, and messages worded
    'cells of axis N' or without an axis left GeometryError.axis unset."""
    with pytest.raises(GeometryError) as info:
        call()
    assert info.value.axis == axis and f"on axis {axis}" in info.value.problem


@pytest.mark.parametrize("call,words", [
    (lambda: cg.conv(7, 3).axes[0].window_start(5), ("i 5 is out of range", "windows run from 0 to 4")),
    (lambda: cg.conv(7, 3).axes[0].window_start(-1), ("out of range",)),
    (lambda: cg.adaptive_avg_pool((7, 7), 3).window(2, 0), ("axis 2 is out of range", "axes run from 0 to 1")),
    (lambda: cg.adaptive_avg_pool(7, 3).window(0, 3), ("i 3 is out of range",)),
    (lambda: cg.interpolate(7, 3).source_indices(1), ("axis 1 is out of range",)),
])
def test_result_methods_check_their_indices(call: Any, words: tuple[str, ...]) -> None:
    """Before: window(0, 10**6) of a 3-window pool returned a window far past the input;
    source_indices(1) of a 1-d resize raised IndexError."""
    refused(call, GeometryError, *words)
    assert cg.conv(7, 3).axes[0].window_start(4) == 4 and cg.adaptive_avg_pool(10, 3).window(0, 1) == (3, 7)
