"""Sizes are checked before anything is allocated, and bad arrays get one line naming the argument.

Every op asks the geometry engine first: a kernel larger than the (padded) input or an output
over ``max_output_bytes`` raises ``GeometryError`` while the op has allocated next to nothing
(``tracemalloc``, which sees NumPy's allocations). Absurd geometries whose output is small (a
stride and a padding of 10**9 in JAX's dialect, a 10**9 kernel in TensorFlow 'SAME') run in
memory proportional to the output, and give what torch gives on an equivalent small
configuration. NaN is a value, not an error.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

import _compare  # noqa: E402  (tests/_compare.py)
from convgeom import GeometryError, ops  # noqa: E402

X5 = np.arange(1.0, 6.0).reshape(1, 1, 5)
X55 = np.arange(25.0).reshape(1, 1, 5, 5)


def peak_bytes(call: Callable[[], Any]) -> tuple[int, Any]:
    """Peak memory allocated while ``call`` runs (a second time: the first imports the modules
    it needs), and what it returned or raised."""
    try:
        call()
    except Exception:  # noqa: BLE001, S110 - the traced run below reports it
        pass
    tracemalloc.start()
    try:
        try:
            outcome: Any = call()
        except Exception as exc:  # noqa: BLE001 - returned for the test to inspect
            outcome = exc
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, outcome


BIG_KERNEL = np.ones((1, 1, 2000, 2000), dtype=np.float32)  # 16 MB, 32 MB as float64


@pytest.mark.parametrize(
    "name, call, message",
    [
        ("conv", lambda: ops.conv(X55, BIG_KERNEL), "Kernel size can't be greater"),
        ("conv jax", lambda: ops.conv(X55, BIG_KERNEL, framework="onnx"), "Invalid input shape"),
        ("trace_conv", lambda: ops.trace_conv(X55, BIG_KERNEL), "Kernel size can't be greater"),
        ("max_pool", lambda: ops.max_pool(X55, 2000), "Output size is too small"),
        ("avg_pool", lambda: ops.avg_pool(X55, 2000), "Output size is too small"),
        ("trace_max_pool", lambda: ops.trace_max_pool(X55, 20000), "Output size is too small"),
        ("trace_avg_pool", lambda: ops.trace_avg_pool(X55, 20000), "Output size is too small"),
    ],
)
def test_kernel_larger_than_input_is_refused_before_allocating(name: str, call: Callable[[], Any],
                                                                message: str) -> None:
    """Before, conv and trace_conv cast the 2000x2000 weight to the input's dtype (32 MB) first."""
    peak, outcome = peak_bytes(call)
    assert isinstance(outcome, GeometryError), outcome
    assert message in str(outcome) and "\n" not in str(outcome)
    assert peak < 2**20, f"{name} allocated {peak} bytes before refusing"


W3 = np.ones((1, 1, 3))
WIDE_BATCH, WIDE_WEIGHT = np.ones((10**5, 1, 5)), np.ones((10**5, 1, 3))  # made here, not in the traced call


@pytest.mark.parametrize(
    "call",
    [
        lambda cap: ops.pad(X5, 10**9, max_output_bytes=cap),
        lambda cap: ops.pad(X5, 10**12, "replicate", max_output_bytes=cap),
        lambda cap: ops.pad(np.ones((1, 1) + (1,) * 40), 1, max_output_bytes=cap),
        lambda cap: ops.conv(X5, W3, padding=10**9, max_output_bytes=cap),
        lambda cap: ops.conv(X5, W3, stride=10**9, padding=10**9, padding_mode="replicate", max_output_bytes=cap),
        lambda cap: ops.conv(WIDE_BATCH, WIDE_WEIGHT, max_output_bytes=cap),
        lambda cap: ops.conv_transpose(X5, W3, stride=10**9, max_output_bytes=cap),
        lambda cap: ops.conv_transpose(X5, W3, dilation=10**9, max_output_bytes=cap),
        lambda cap: ops.max_pool(X5, 1, 1, ((10**9, 10**9),), framework="jax", max_output_bytes=cap),
        lambda cap: ops.avg_pool(X5, 1, 1, ((10**9, 10**9),), framework="jax", max_output_bytes=cap),
        lambda cap: ops.adaptive_avg_pool(X5, 10**9, max_output_bytes=cap),
        lambda cap: ops.adaptive_max_pool(X5, 10**12, max_output_bytes=cap),
    ],
)
def test_huge_outputs_are_refused_in_one_line(call: Callable[[int], Any]) -> None:
    """Before: MemoryError, NumPy's 'Maximum allowed dimension exceeded', or minutes of work."""
    peak, outcome = peak_bytes(lambda: call(ops.DEFAULT_MAX_OUTPUT_BYTES))
    assert isinstance(outcome, GeometryError), outcome
    assert "max_output_bytes=4294967296 (4 GiB)" in str(outcome) and "\n" not in str(outcome)
    assert peak < 2**20


@pytest.mark.parametrize(
    "call, nbytes",
    [
        (lambda cap: ops.pad(X5, 2, max_output_bytes=cap), 9 * 8),
        (lambda cap: ops.conv(X5, W3, padding=1, max_output_bytes=cap), 5 * 8),
        (lambda cap: ops.conv_transpose(X5, W3, stride=2, max_output_bytes=cap), 11 * 8),
        (lambda cap: ops.max_pool(X5, 2, max_output_bytes=cap), 2 * 8),
        (lambda cap: ops.avg_pool(X5, 2, max_output_bytes=cap), 2 * 8),
        (lambda cap: ops.adaptive_avg_pool(X5, 3, max_output_bytes=cap), 3 * 8),
        (lambda cap: ops.adaptive_max_pool(X5, 4, max_output_bytes=cap), 4 * 8),
    ],
)
def test_output_cap_is_exact(call: Callable[[int], Any], nbytes: int) -> None:
    assert call(nbytes).nbytes == nbytes
    with pytest.raises(GeometryError, match=f"more than max_output_bytes={nbytes - 1}"):
        call(nbytes - 1)
    for bad in (0, -5, 2.5, True, "1024", None):
        with pytest.raises(GeometryError, match="max_output_bytes must be a positive integer"):
            call(bad)


def test_huge_padding_and_stride_run_in_output_sized_memory() -> None:
    """JAX's dialect takes any padding: stride and padding 10**9 give 3 windows, computed without
    a 16 GB padded copy; the windows read what they read with padding and stride 10 (every
    window a stride apart, the input between the first two), which torch computes on F.pad."""
    x = np.random.default_rng(0).standard_normal((2, 3, 5))
    for big, small in ((10**9, 10), (10**15, 7)):
        peak, ours = peak_bytes(lambda b=big: ops.max_pool(x, 2, b, ((b, b),), framework="jax"))
        padded = F.pad(torch.from_numpy(x), (small, small), value=-np.inf)
        _compare.check(ours, F.max_pool1d(padded, 2, small).numpy(), np.float64, _compare.rel_err_with_infinities)
        assert peak < 2**20
        _, ours = peak_bytes(lambda b=big: ops.avg_pool(x, 2, b, ((b, b),), framework="jax"))
        _compare.check(ours, F.avg_pool1d(F.pad(torch.from_numpy(x), (small, small)), 2, small).numpy(), np.float64)


def test_huge_kernel_in_same_padding_runs_in_output_sized_memory() -> None:
    """A 10**9 kernel in TensorFlow's 'SAME' over 5 cells is one window holding the whole input
    (pads excluded): the input's mean and max, as torch's adaptive pools give. Before, the pool
    allocated a 10**9-cell padded copy (8 GB)."""
    x = np.random.default_rng(1).standard_normal((2, 3, 5))
    xt = torch.from_numpy(x)
    peak, ours = peak_bytes(lambda: ops.avg_pool(x, 10**9, padding="same", framework="tensorflow"))
    _compare.check(ours, F.adaptive_avg_pool1d(xt, 1).numpy(), np.float64)
    assert peak < 2**20
    peak, ours = peak_bytes(lambda: ops.max_pool(x, 10**9, padding="same", framework="tensorflow"))
    _compare.check(ours, F.adaptive_max_pool1d(xt, 1).numpy(), np.float64)
    assert peak < 2**20


def test_conv_transpose_with_a_large_stride_stores_only_its_phases() -> None:
    """Stride 10**5 with a 3-tap kernel: the output is 4*10**5 + 3 cells, 3 of every 10**5 written.
    Before, a phase grid for all 10**5 residues (and a Python loop over them)."""
    x = np.random.default_rng(2).standard_normal((1, 2, 5))
    w = np.random.default_rng(3).standard_normal((2, 3, 3))
    peak, ours = peak_bytes(lambda: ops.conv_transpose(x, w, stride=10**5))
    ref = F.conv_transpose1d(torch.from_numpy(x), torch.from_numpy(w), stride=10**5).numpy()
    _compare.check(ours, ref, np.float64)
    assert peak < 2 * ours.nbytes + 2**20


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nan_is_a_value(dtype: type) -> None:
    """NaN propagates as in torch; it is never an error."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((1, 2, 6, 6)).astype(dtype)
    x[0, 1, 2, 3] = np.nan
    w = rng.standard_normal((3, 2, 3, 3)).astype(dtype)
    xt, wt = torch.from_numpy(x), torch.from_numpy(w)
    pairs = [
        (ops.conv(x, w, padding=1), F.conv2d(xt, wt, padding=1)),
        (ops.conv_transpose(x, np.ascontiguousarray(w.transpose(1, 0, 2, 3))),
         F.conv_transpose2d(xt, torch.from_numpy(np.ascontiguousarray(w.transpose(1, 0, 2, 3))))),
        (ops.avg_pool(x, 3, 1, 1), F.avg_pool2d(xt, 3, 1, 1)),
        (ops.max_pool(x, 3, 1, 1), F.max_pool2d(xt, 3, 1, 1)),
        (ops.pad(x, 1, "reflect"), F.pad(xt, (1, 1, 1, 1), mode="reflect")),
    ]
    for ours, ref in pairs:
        np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref.numpy()))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: ops.conv(np.zeros((1, 1, 5), dtype=object), W3), "x has dtype object"),
        (lambda: ops.conv(np.zeros((1, 1, 5), dtype=complex), W3), "x has dtype complex128"),
        (lambda: ops.conv(np.array([[["a"]]]), W3), "x has dtype <U1"),
        (lambda: ops.conv(None, W3), "x must be an array of numbers, got None"),
        (lambda: ops.conv([[[1, 2], [1]]], W3), "x is not a rectangular array"),
        (lambda: ops.conv(np.zeros((1, 5)), W3), r"conv input x has shape \(1, 5\)"),
        (lambda: ops.conv(np.zeros((1, 1, 5), dtype=np.int32), W3), "x has dtype int32; the ops compute in float32"),
        (lambda: ops.conv(X5, None), "weight must be an array of numbers, got None"),
        (lambda: ops.conv(X5, np.ones((1, 1, 3), dtype=complex)), "weight has dtype complex128"),
        (lambda: ops.conv(X5, "abc"), "weight must be an array of numbers"),
        (lambda: ops.conv(X5, np.ones((1, 3))), "weight has shape"),
        (lambda: ops.conv(X5, np.ones((1, 2, 3))), r"weight of size \[1, 2, 3\], expected input\[1, 1, 5\] to have 2"),
        (lambda: ops.conv(np.ones((1, 4, 5)), np.ones((4, 1, 3)), groups=2), "weight of size"),
        (lambda: ops.conv_transpose(np.ones((1, 2, 5)), np.ones((3, 1, 3))), "weight of size"),
        (lambda: ops.conv(X5, W3, bias="a"), "bias must be an array of numbers"),
        (lambda: ops.conv(X5, W3, bias=np.ones(1, dtype=complex)), "bias has dtype complex128"),
        (lambda: ops.conv(X5, W3, bias=np.ones((1, 1))), r"bias has shape \(1, 1\)"),
        (lambda: ops.conv(X5, W3, channels_last="yes"), "channels_last must be True or False"),
        (lambda: ops.conv(X5, W3, max_buffer_bytes=True), "max_buffer_bytes must be a positive integer"),
        (lambda: ops.max_pool(np.ones((1, 1, 5), dtype=bool), 2), "x has dtype bool"),
        (lambda: ops.avg_pool(np.ones(5), 2), r"avg_pool input x has shape \(5,\)"),
        (lambda: ops.adaptive_max_pool(np.ones((1, 1, 5), dtype=np.float16), 2), "x has dtype float16"),
        (lambda: ops.pad(np.ones((1, 1, 5), dtype="timedelta64[s]"), 1), "x has dtype timedelta64"),
        (lambda: ops.trace_conv(X5, np.ones((1, 1, 3), dtype=object)), "weight has dtype object"),
        (lambda: ops.trace_max_pool(np.ones((5, 5)), 2), r"x has shape \(5, 5\)"),
        (lambda: ops.trace_avg_pool(X5, 2, max_cells=0), "max_cells must be a positive integer"),
    ],
)
def test_bad_arrays_get_one_line_naming_the_argument(call: Callable[[], Any], message: str) -> None:
    with pytest.raises(GeometryError, match=message) as info:
        call()
    assert "\n" not in str(info.value)


def test_weights_and_bias_of_any_real_dtype_are_cast_to_the_input_dtype() -> None:
    x = np.random.default_rng(5).standard_normal((1, 2, 6)).astype(np.float32)
    w = np.arange(12).reshape(3, 2, 2)
    b = np.array([1, 0, 1], dtype=bool)
    ours = ops.conv(x, w, b)
    ref = F.conv1d(torch.from_numpy(x), torch.from_numpy(w.astype(np.float32)), torch.tensor([1.0, 0.0, 1.0]))
    _compare.check(ours, ref.numpy(), np.float32)
