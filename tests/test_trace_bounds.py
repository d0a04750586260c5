"""Tracing diagnostics cost O(1) in the layer's sizes: each per-axis check is closed-form, and
agrees with the brute-force loop it replaced (kept here as the reference) on every small case.

A model with one Conv of stride 10**9 used to hang ``convgeom trace`` (the dropped-input fix
looped over every after-pad up to the stride); it runs in a child process under a hang guard
(far above what the case needs: not a timing assertion)."""

from __future__ import annotations

from typing import Optional

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import convgeom
from _fuzz import run_child
from convgeom import GeometryError
from convgeom import geometry as geo
from convgeom.tracing import diagnostics as dg
from convgeom.tracing.records import Finding, LayerRecord

#: a hang detector for one `convgeom trace` run (interpreter, onnx import, trace): far above its cost
HANG_GUARD_S = 300
REC = LayerRecord(0, "layer", "conv", "Conv", 0, ((1, 1, 8),), ((1, 1, 1),))


# ---------------------------------------------------------------------------------------------
# the brute-force checks as they were (the reference)
def old_dropped(rec: LayerRecord, label: str, ax: dg._Axis, axis: int) -> Optional[Finding]:
    dropped = dg._dropped(ax)
    if dropped <= 0:
        return None
    extra = None
    for x in range(1, ax.s + 1):
        try:
            g = geo.conv(ax.n, ax.k, ax.s, ((ax.pb, ax.pa + x),), ax.d, framework="onnx")
        except GeometryError:
            continue
        if g.axes[0].dropped == 0:
            extra = x
            break
    rows = "row" if dropped == 1 else "rows"
    fix = f"crop the input to {ax.n - dropped} along {label}"
    if extra is not None:
        fix = (f"pad {extra} more at the end (padding ({ax.pb}, {ax.pa + extra}) along {label}) so every input "
               f"position is read, or {fix}")
    return Finding(
        "dropped-input", "warning", rec.name,
        f"floor division drops the last {dropped} input {rows} along {label}: input {ax.n}, kernel {ax.k}, "
        f"stride {ax.s}, dilation {ax.d}, padding ({ax.pb}, {ax.pa}) -> {ax.o} windows, the last reads up to "
        f"index {ax.n - 1 - dropped}", fix, axis)


def old_gap_missing(k: int, s: int, d: int) -> int:
    return s - len({(j * d) % s for j in range(k)})


def old_ceil(ax: dg._Axis) -> tuple[int, int]:
    start = (ax.o - 1) * ax.s - ax.pb
    inside = sum(1 for j in range(ax.k) if 0 <= start + j * ax.d < ax.n)
    target = ax.n
    while (target + ax.pb + ax.pa - ax.e) % ax.s:
        target += 1
    return inside, target


def old_contributions(k: int, s: int, d: int, pad: int) -> tuple[int, int]:
    counts = [sum(1 for j in range(k) if (y + pad - j * d) % s == 0) for y in range(s)]
    return min(counts), max(counts)


small = st.integers(1, 12)


@st.composite
def conv_axes(draw: st.DrawFn, ceil_mode: bool = False) -> dg._Axis:
    n, k, s, d = draw(st.integers(1, 40)), draw(small), draw(small), draw(st.integers(1, 4))
    pb, pa = draw(st.integers(0, 6)), draw(st.integers(0, 6))
    extra = (draw(st.integers(0, 3)), draw(st.integers(0, 3)))
    try:
        if ceil_mode:
            g = convgeom.max_pool(n + sum(extra), k, s, ((pb, pa),), d, ceil_mode=True, framework="onnx")
        else:
            g = convgeom.conv(n + sum(extra), k, s, ((pb, pa),), d, framework="onnx")
    except GeometryError:
        assume(False)
        raise
    return dg._Axis(g.axes[0], extra)


@settings(max_examples=400, deadline=None)
@given(conv_axes())
def test_dropped_input_fix_matches_the_brute_force_search(ax: dg._Axis) -> None:
    assert dg._check_dropped(REC, "H", ax, 0) == old_dropped(REC, "H", ax, 0)


@settings(max_examples=400, deadline=None)
@given(small, small, st.integers(1, 12))
def test_gap_counts_match_the_residues(k: int, s: int, d: int) -> None:
    assert s - dg._residues_read(k, s, d) == old_gap_missing(k, s, d)


@settings(max_examples=400, deadline=None)
@given(conv_axes(ceil_mode=True))
def test_ceil_window_taps_and_target_match_the_loops(ax: dg._Axis) -> None:
    start = (ax.o - 1) * ax.s - ax.pb
    target = ax.n + (-(ax.n + ax.pb + ax.pa - ax.e)) % ax.s
    assert (dg._taps_inside(start, ax.k, ax.d, ax.n), target) == old_ceil(ax)


@settings(max_examples=400, deadline=None)
@given(st.integers(1, 40), st.integers(-30, 30), st.integers(1, 6), st.integers(1, 40))
def test_taps_inside_any_start(k: int, start: int, d: int, n: int) -> None:
    assert dg._taps_inside(start, k, d, n) == sum(1 for j in range(k) if 0 <= start + j * d < n)


@settings(max_examples=400, deadline=None)
@given(small, st.integers(2, 12), st.integers(1, 6), st.integers(0, 12))
def test_checkerboard_contributions_match_the_count_per_residue(k: int, s: int, d: int, pad: int) -> None:
    assert dg.transposed_contributions(k, s, d) == old_contributions(k, s, d, pad)


# ---------------------------------------------------------------------------------------------
def _one_layer_onnx(path: str, op: str, stride: int, kernel: int) -> None:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    w = helper.make_tensor("w", TensorProto.FLOAT, [1, 1, kernel, kernel], np.ones(kernel * kernel, np.float32))
    node = helper.make_node(op, ["x", "w"], ["y"], kernel_shape=[kernel, kernel], strides=[stride, stride])
    graph = helper.make_graph([node], "g", [x], [y], [w])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)


@pytest.mark.parametrize("op, kernel, code", [("Conv", 1, "dropped-input"), ("ConvTranspose", 3, "checkerboard")])
def test_trace_of_a_huge_stride_finishes(tmp_path, op: str, kernel: int, code: str) -> None:
    pytest.importorskip("onnx")
    path = str(tmp_path / "huge_stride.onnx")
    _one_layer_onnx(path, op, 10**9, kernel)
    done = run_child(["-m", "convgeom", "trace", path], timeout=HANG_GUARD_S)
    assert done.returncode == 0, done.stderr
    assert code in done.stdout and "1000000000" in done.stdout


def test_checkerboard_from_a_dilation_sharing_a_factor_with_the_stride() -> None:
    """Kernel 2 at stride 2 is even, but dilation 2 sends every tap to the even outputs."""
    ax = convgeom.conv_transpose(4, 2, 2, dilation=2).axes[0]
    f = dg._check_checkerboard(REC, "W", ax, 0)
    assert f is not None and "dilation 2 shares the factor 2 with stride 2" in f.message
    assert "receive 0 or 2 contributions" in f.message
    assert dg._check_checkerboard(REC, "W", convgeom.conv_transpose(4, 2, 2).axes[0], 0) is None
