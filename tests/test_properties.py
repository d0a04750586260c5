"""Property tests (hypothesis) of invariants that convgeom's geometry must satisfy in every
dialect: inverse shapes, 'same' promises, coverage bookkeeping, ceil mode, receptive-field
composition against brute force, and one-line GeometryErrors for junk parameters."""

from __future__ import annotations

import contextlib
import math
import signal
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

import convgeom
from convgeom import GeometryError, ReceptiveField
from convgeom.padding import same_total
from convgeom.receptive_field import compose

PROPS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FRAMEWORKS = ("torch", "tensorflow", "jax", "onnx")

sizes = st.integers(1, 40)
kernels = st.integers(1, 7)
strides = st.integers(1, 5)
dilations = st.integers(1, 4)
pads = st.integers(0, 6)


def eff(k: int, d: int) -> int:
    return d * (k - 1) + 1


@st.composite
def conv_axes(draw: Any, max_ndim: int = 3) -> tuple[list[int], ...]:
    """Per-axis (n, k, s, p, d) lists for a PyTorch conv that fits (n + 2p >= e)."""
    nd = draw(st.integers(1, max_ndim))
    n, k, s, p, d = [], [], [], [], []
    for _ in range(nd):
        ki, di = draw(kernels), draw(dilations)
        pi = draw(pads)
        ni = draw(st.integers(max(1, eff(ki, di) - 2 * pi), 40))
        n.append(ni)
        k.append(ki)
        s.append(draw(strides))
        p.append(pi)
        d.append(di)
    return n, k, s, p, d


def brute_taps(n: int, o: int, k: int, s: int, d: int, pb: int) -> list[list[int]]:
    """All taps of every window: window i reads i*s - pb + j*d."""
    return [[i * s - pb + j * d for j in range(k)] for i in range(o)]


# ----------------------------------------------------------------------------------------
# inverse shapes: conv_transpose undoes conv when output_padding = the conv's remainder
# ----------------------------------------------------------------------------------------
@PROPS
@given(conv_axes())
def test_conv_transpose_restores_conv_input(params: tuple[list[int], ...]) -> None:
    n, k, s, p, d = params
    r = convgeom.conv(tuple(n), tuple(k), tuple(s), tuple(p), tuple(d))
    rem = tuple(a.remainder for a in r.axes)
    for a, ni, ki, si, pi, di in zip(r.axes, n, k, s, p, d):
        assert a.remainder == (ni + 2 * pi - eff(ki, di)) % si
        assert 0 <= a.remainder < si
    t = convgeom.conv_transpose(r.output, tuple(k), tuple(s), tuple(p), rem, tuple(d))
    assert t.output == tuple(n)
    assert t.output_padding == rem
    # the crop of the full output is (p, p - output_padding)
    assert t.pad == tuple((pi, pi - ri) for pi, ri in zip(p, rem))


@PROPS
@given(sizes, kernels, strides, st.integers(0, 6), dilations, st.integers(0, 4))
def test_torch_conv_transpose_formula(n: int, k: int, s: int, p: int, d: int, op: int) -> None:
    try:
        t = convgeom.conv_transpose(n, k, s, p, op, d)
    except GeometryError:
        expected = (n - 1) * s - 2 * p + eff(k, d) + op
        assert not (op < s or op < d) or expected <= 0
        return
    assert op < s or op < d
    assert t.output == ((n - 1) * s - 2 * p + eff(k, d) + op,)
    # transposed coverage: every (input, tap) pair that lands inside the output is counted
    a = t.axes[0]
    inside = sum(1 for i in range(n) for j in range(k) if 0 <= i * s + j * d - p < a.output)
    assert sum(a.coverage()) == inside
    if p == 0:
        assert sum(a.coverage()) == n * k


# ----------------------------------------------------------------------------------------
# 'same'
# ----------------------------------------------------------------------------------------
@PROPS
@given(sizes, kernels, strides, dilations, st.sampled_from(("tensorflow", "jax", "onnx")))
def test_same_gives_ceil_n_over_s(n: int, k: int, s: int, d: int, fw: str) -> None:
    if (fw == "tensorflow" and s > 1 and d > 1) or (fw == "onnx" and d > 1):
        # Keras: strides > 1 with dilation > 1; ONNX Runtime: no dilation with auto_pad SAME_*
        with pytest.raises(GeometryError):
            convgeom.conv(n, k, s, "same", d, framework=fw)
        return
    r = convgeom.conv(n, k, s, "same", d, framework=fw)
    a = r.axes[0]
    assert r.output == (math.ceil(n / s),)
    if fw == "onnx" and k < s:
        # ORT does not clip pad_needed at 0: the pads may be negative (measured, see golden)
        assert a.pad_before + a.pad_after == (math.ceil(n / s) - 1) * s + k - n
        return
    assert a.pad_before + a.pad_after == same_total(n, s, eff(k, d))
    assert a.pad_after - a.pad_before in (0, 1)  # the extra cell goes after
    if fw != "tensorflow":
        lower = convgeom.conv(n, k, s, "same_lower", d, framework=fw).axes[0]
        assert (lower.pad_before, lower.pad_after) == (a.pad_after, a.pad_before)
        assert lower.output == a.output


@PROPS
@given(sizes, kernels, strides, st.sampled_from(("tensorflow", "jax", "onnx")), st.sampled_from(("max", "avg")))
def test_same_pooling_gives_ceil_n_over_s(n: int, k: int, s: int, fw: str, kind: str) -> None:
    fn = convgeom.max_pool if kind == "max" else convgeom.avg_pool
    need = (math.ceil(n / s) - 1) * s + k - n
    if fw == "onnx" and need < 0 and kind == "max":
        with pytest.raises(GeometryError):  # MaxPool: padding values must be non-negative
            fn(n, k, s, "same", framework=fw)
        return
    r = fn(n, k, s, "same", framework=fw)
    assert r.output == (math.ceil(n / s),)
    assert sum(r.pad[0]) == (need if fw == "onnx" else same_total(n, s, k))


@PROPS
@given(st.lists(st.tuples(sizes, kernels, dilations), min_size=1, max_size=3))
def test_torch_same_keeps_n(axes: list[tuple[int, int, int]]) -> None:
    n, k, d = (tuple(v) for v in zip(*axes))
    r = convgeom.conv(n, k, 1, "same", d)
    assert r.output == n
    for a in r.axes:
        assert a.pad_before + a.pad_after == a.effective_kernel - 1
        assert a.pad_after - a.pad_before in (0, 1)


@PROPS
@given(sizes, kernels, strides, dilations)
def test_torch_same_rejects_any_stride(n: int, k: int, s: int, d: int) -> None:
    assume(s > 1)
    with pytest.raises(GeometryError):
        convgeom.conv((n, n), k, (1, s), "same", d)


# ----------------------------------------------------------------------------------------
# coverage, unread, dropped, remainder
# ----------------------------------------------------------------------------------------
@st.composite
def windowed(draw: Any) -> convgeom.LayerGeometry:
    fw = draw(st.sampled_from(FRAMEWORKS))
    n, k, s, d = draw(sizes), draw(kernels), draw(strides), draw(dilations)
    if fw == "torch":
        padding: Any = draw(st.one_of(pads, st.sampled_from(("valid", "same")), st.tuples(st.tuples(pads, pads))))
    elif fw == "tensorflow":
        padding = draw(st.sampled_from(("valid", "same")))
    else:
        padding = draw(st.one_of(st.sampled_from(("valid", "same", "same_lower")), st.tuples(st.tuples(pads, pads))))
    op = draw(st.sampled_from(("conv", "max_pool")))
    try:
        if op == "conv":
            return convgeom.conv(n, k, s if padding != "same" or fw != "torch" else 1, padding, d, framework=fw)
        return convgeom.max_pool(n, k, s, padding, d if fw != "tensorflow" else 1, framework=fw)
    except GeometryError:
        assume(False)
        raise


@PROPS
@given(windowed())
def test_coverage_bookkeeping(r: convgeom.LayerGeometry) -> None:
    a = r.axes[0]
    assume(a.output > 0)
    cov = a.coverage()
    taps = brute_taps(a.input, a.output, a.kernel, a.stride, a.dilation, a.pad_before)
    inside = [t for window in taps for t in window if 0 <= t < a.input]
    assert len(cov) == a.input
    assert sum(cov) == len(inside)
    assert all(cov[i] == inside.count(i) for i in range(a.input))
    if a.pad_before == 0 and all(t < a.input for window in taps for t in window):
        assert sum(cov) == a.output * a.kernel
    fits = a.padded_input >= (a.output - 1) * a.stride + a.effective_kernel
    if a.pad_before == a.pad_after == 0 and fits:
        assert sum(cov) == a.output * a.kernel
    assert len(a.window_starts) == a.output
    assert list(a.window_starts) == [w[0] for w in taps]
    # unread, gaps, dropped
    unread = a.unread()
    assert all(cov[i] == 0 for i in unread)
    assert set(unread) == {i for i in range(a.input) if i not in set(inside)}
    assert set(a.gaps()) <= set(unread)
    if inside:
        assert all(min(inside) < g < max(inside) for g in a.gaps())
    # dropped: trailing input positions no window reads (a count of positions: at most n, even
    # when every window lies in the padding)
    last_tap = max(t for window in taps for t in window)
    assert a.dropped == min(a.input, max(0, a.input - 1 - last_tap))
    assert set(range(a.input - a.dropped, a.input)) <= set(unread)
    if a.dropped and a.input - 1 - a.dropped >= 0:
        assert cov[a.input - 1 - a.dropped] > 0  # the last tap is read
    if not a.ceil_mode and a.padded_input >= (a.output - 1) * a.stride + a.effective_kernel:
        # (ONNX Runtime pools may run the last window past the padded input: no remainder then)
        assert a.remainder == (a.padded_input - a.effective_kernel) % a.stride
        assert a.dropped == min(a.input, max(0, a.remainder - a.pad_after))


# ----------------------------------------------------------------------------------------
# pooling ceil mode
# ----------------------------------------------------------------------------------------
@PROPS
@given(st.integers(1, 30), kernels, strides, dilations, st.integers(0, 3), st.sampled_from(("torch", "onnx")),
       st.sampled_from(("max", "avg")))
def test_ceil_mode_is_floor_or_floor_plus_one(n: int, k: int, s: int, d: int, p: int, fw: str, kind: str) -> None:
    if kind == "avg":
        d = 1
    fn = convgeom.max_pool if kind == "max" else convgeom.avg_pool

    def run(ceil: bool) -> convgeom.LayerGeometry | None:
        try:
            if kind == "max":
                return fn(n, k, s, p, d, ceil, framework=fw)
            return fn(n, k, s, p, ceil, framework=fw)
        except GeometryError:
            return None

    floor, ceil = run(False), run(True)
    if floor is not None and fw == "torch":
        # p <= k // 2 keeps every floor-mode window starting before the right padding
        assert ceil is not None
        assert ceil.output[0] in (floor.output[0], floor.output[0] + 1)
    if floor is not None and ceil is not None and fw == "onnx":
        # ONNX has no p <= k/2 limit: the start-in-pad correction can also drop a floor window
        # (onnx/reference/ops/op_pool_common.py get_output_shape_explicit_padding)
        assert ceil.output[0] in (floor.output[0] - 1, floor.output[0], floor.output[0] + 1)
    if ceil is not None and fw == "torch":
        a = ceil.axes[0]
        # the last window starts inside the input or the left padding
        assert (a.output - 1) * s - a.pad_before < n
        assert a.output >= 1


# ----------------------------------------------------------------------------------------
# receptive fields: composition vs brute-force propagation of index sets
# ----------------------------------------------------------------------------------------
layer = st.tuples(
    st.sampled_from(("conv", "max_pool", "tf_same")), kernels, st.integers(1, 3), st.integers(1, 3), st.integers(0, 3)
)


@PROPS
@given(st.lists(layer, min_size=1, max_size=5), st.integers(0, 5))
def test_receptive_field_matches_brute_force(layers: list[tuple[str, int, int, int, int]], unit: int) -> None:
    n = 200
    geoms = []
    for kind, k, s, d, p in layers:
        try:
            if kind == "conv":
                r = convgeom.conv(n, k, s, p, d)
            elif kind == "max_pool":
                r = convgeom.max_pool(n, k, s, min(p, k // 2), d)
            else:
                r = convgeom.conv(n, k, s if d == 1 else 1, "same", d, framework="tensorflow")
        except GeometryError:
            assume(False)
            raise
        geoms.append(r.axes[0])
        n = r.output[0]
    assume(n > unit)
    rf = ReceptiveField()
    for a in geoms:
        rf = rf.then(a.rf_step)
    assert rf == compose([a.rf_step for a in geoms])
    # brute force: the input positions (padding included) that influence output unit `unit`
    positions = {unit}
    for a in reversed(geoms):
        positions = {u * a.stride - a.pad_before + j * a.dilation for u in positions for j in range(a.kernel)}
    assert rf.start(unit) == min(positions)
    assert rf.start(unit) + rf.size - 1 == max(positions)
    assert rf.stride == math.prod(a.stride for a in geoms)
    for a in geoms:
        assert a.rf_step.kernel == a.effective_kernel and a.rf_step.padding == a.pad_before


# ----------------------------------------------------------------------------------------
# junk parameters: either a result or a one-line GeometryError, never anything else
# ----------------------------------------------------------------------------------------
junk_int = st.one_of(
    st.integers(-3, 3), st.sampled_from((10**12, -(10**12), 2**63)), st.integers(-50, 50)
)
junk_value = st.one_of(
    junk_int,
    st.lists(junk_int, min_size=0, max_size=4).map(tuple),
    st.sampled_from((None, 1.5, "same", "valid", "causal", "full", "bogus", True, ((1, 2),), ((1, 2, 3),))),
)
OPS = {
    "conv": (convgeom.conv, ("input", "kernel", "stride", "padding", "dilation", "groups")),
    "conv_transpose": (convgeom.conv_transpose, ("input", "kernel", "stride", "padding", "output_padding", "dilation")),
    "max_pool": (convgeom.max_pool, ("input", "kernel", "stride", "padding", "dilation")),
    "avg_pool": (convgeom.avg_pool, ("input", "kernel", "stride", "padding")),
    "unfold": (convgeom.unfold, ("input", "kernel", "stride", "padding", "dilation")),
    "adaptive_avg_pool": (convgeom.adaptive_avg_pool, ("input", "output_size")),
    "adaptive_max_pool": (convgeom.adaptive_max_pool, ("input", "output_size")),
    "interpolate": (convgeom.interpolate, ("input", "size")),
}
SMALL = {"input": 5, "kernel": 2, "output_size": 2, "size": 3}


class TookTooLong(Exception):
    pass


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Fail instead of hanging when a junk parameter makes convgeom loop (main thread, POSIX)."""
    state = {"done": False}

    def expire(signum: int, frame: Any) -> None:
        if not state["done"]:
            raise TookTooLong(f"took more than {seconds}s")

    old = signal.signal(signal.SIGALRM, expire)
    # repeat: an exception raised while the interpreter runs a finaliser (__del__, weakref
    # callback) is swallowed as "unraisable", and a one-shot alarm would then never fire again
    signal.setitimer(signal.ITIMER_REAL, seconds, 0.1)
    try:
        yield
    finally:
        state["done"] = True
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


# no shrinking: a junk value that makes convgeom loop would cost the time limit per shrink step
@settings(PROPS, max_examples=600, report_multiple_bugs=False, phases=(Phase.explicit, Phase.reuse, Phase.generate))
@given(st.sampled_from(sorted(OPS)), st.data(), st.sampled_from(FRAMEWORKS))
def test_junk_parameters_raise_one_line_geometry_error(op: str, data: Any, fw: str) -> None:
    fn, names = OPS[op]
    kwargs: dict[str, Any] = {}
    for name in names:
        if data.draw(st.booleans(), label=f"junk {name}"):
            kwargs[name] = data.draw(junk_value, label=name)
        elif name in SMALL:
            kwargs[name] = SMALL[name]
    if op in ("conv", "conv_transpose", "max_pool", "avg_pool", "unfold"):
        kwargs["framework"] = fw
    try:
        with time_limit(0.25):
            fn(**kwargs)
    except GeometryError as exc:
        message = str(exc)
        assert message and "\n" not in message, repr(message)


@PROPS
@given(st.sampled_from(("conv", "max_pool", "avg_pool", "conv_transpose")), st.integers(1, 3), st.integers(1, 3))
def test_mismatched_lengths_are_geometry_errors(op: str, a: int, b: int) -> None:
    # a 1-tuple broadcasts like an int (PyTorch expands single-element lists)
    assume(a != b and b != 1)
    fn = getattr(convgeom, op)
    with pytest.raises(GeometryError) as info:
        fn((5,) * a, (2,) * b)
    assert "\n" not in str(info.value)


HUGE = (10**12, 2**63)


@pytest.mark.parametrize("huge", HUGE)
@pytest.mark.parametrize(
    "call",
    [
        lambda h: convgeom.conv(h, 3, 2, 1),
        lambda h: convgeom.conv(5, h, 1, h),
        lambda h: convgeom.conv_transpose(h, 3, h),
        lambda h: convgeom.max_pool(h, 2, 1, 1, ceil_mode=True),
        lambda h: convgeom.avg_pool(h, 3, h),
        lambda h: convgeom.unfold((h, h), 2),
        lambda h: convgeom.adaptive_avg_pool(h, 2),
        lambda h: convgeom.adaptive_avg_pool(5, h),
        lambda h: convgeom.adaptive_max_pool((5, 5), (2, h)),
        lambda h: convgeom.interpolate(h, 3),
        lambda h: convgeom.interpolate(5, h),
        lambda h: convgeom.interpolate(h, scale_factor=1e300),
    ],
    ids=["conv-n", "conv-k", "convT", "max_pool", "avg_pool", "unfold", "adaptive-n", "adaptive-o",
         "adaptive-o-2d", "interp-n", "interp-size", "interp-scale"],
)
def test_huge_parameters_are_cheap(call: Any, huge: int) -> None:
    """Huge sizes give a result or a one-line GeometryError quickly (geometry is lazy)."""
    try:
        with time_limit(0.5):
            call(huge)
    except GeometryError as exc:
        assert "\n" not in str(exc)


@PROPS
@given(
    st.sampled_from(("conv", "conv_transpose", "max_pool", "avg_pool")),
    st.sampled_from(("torch", "tensorflow", "jax", "onnx")),
    st.lists(st.integers(1, 6), min_size=1, max_size=3),
    st.integers(1, 8),
    st.integers(1, 4),
    st.sampled_from((0, 1, 3, "same", "valid")),
)
def test_error_axis_matches_message(op: str, fw: str, n: list[int], k: int, s: int, p: object) -> None:
    """Tracers locate failures through ``GeometryError.axis``: it must name the axis the
    message names."""
    import re

    try:
        getattr(convgeom, op)(tuple(n), k, s, p, framework=fw)
    except GeometryError as exc:
        named = re.search(r"on axis (\d+)", exc.problem)
        assert exc.axis == (int(named.group(1)) if named else None)
