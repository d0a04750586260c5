"""Max, average and adaptive pooling on NumPy arrays, matching ``torch.nn.functional``;
windows, pads and output sizes come from the geometry engine.

Pooling over a box is separable: the box maximum (sum) is the maximum (sum) along one axis of
the maxima (sums) along the others, so each axis is reduced in turn, with one strided slice per
tap that reads the input (no padded copy: padding never counts). Output sizes are checked
against ``max_output_bytes`` before anything is allocated.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Optional, Union

from .. import geometry as _geometry
from ..errors import GeometryError
from ..geometry import AdaptivePoolGeometry, AxisGeometry, LayerGeometry
from ..params import IntOrTuple, PaddingArg
from ._common import (
    DEFAULT_MAX_OUTPUT_BYTES,
    MAX_EXTENT,
    Array,
    as_float_array,
    channels_last_out,
    check_array_size,
    check_extent,
    check_output_limit,
    spatial_input,
)
from ._numpy import np

Reducer = np.ufunc


def _along(ndim: int, axis: int, index: slice) -> tuple[slice, ...]:
    key = [slice(None)] * ndim
    key[axis] = index
    return tuple(key)


def _window_reduce(x: Array, axis: int, a: AxisGeometry, fill: float, ufunc: Reducer, n: int) -> Array:
    """Reduce windows along one axis: ``out[i] = ufunc over j of x[i*s + j*d - p]`` over the taps
    that land on the first ``n`` input cells; ``fill`` where a window reads none (padding and
    any ceil-mode overhang never count). No padded copy; the loop runs over whichever is fewest
    of the taps that read the input (one strided slice each: every ordinary pool), the windows
    (one reduction each: a kernel of 10**9 in 'SAME' padding) or the input cells (each added to
    the strided run of windows that read it: a huge kernel and padding over a few cells)."""
    k, s, d, p, o = a.kernel, a.stride, a.dilation, a.pad_before, a.output
    shape = list(x.shape)
    shape[axis] = o
    # taps that read the input for some window: 0 <= i*s + j*d - p < n for some 0 <= i < o
    first, last = max(0, -((p - (o - 1) * s) // -d)), min(k - 1, (p + n - 1) // d)
    if o <= 0 or last < first:
        return np.full(shape, fill, dtype=x.dtype)
    fewest = min(last - first + 1, o, n)
    if fewest == last - first + 1:
        return _reduce_by_tap(x, axis, a, fill, ufunc, n, range(first, last + 1), shape)
    out = np.full(shape, fill, dtype=x.dtype)
    if fewest == o:
        for i in range(o):
            start = i * s - p
            j_lo, j_hi = max(0, -(start // d)), min(k - 1, (n - 1 - start) // d)
            if j_hi >= j_lo:
                cells = x[_along(x.ndim, axis, slice(start + j_lo * d, start + j_hi * d + 1, d))]
                out[_along(x.ndim, axis, slice(i, i + 1))] = ufunc.reduce(cells, axis=axis, keepdims=True)
        return out
    # cell c is tap j of window i when i*s = c + p - j*d: i*s = c + p (mod d), one residue
    # class of i mod d/g (g = gcd(s, d)), within (c + p - k*d) / s < i <= (c + p) / s
    g = math.gcd(s, d)
    step = d // g
    inverse = pow(s // g, -1, step) if step > 1 else 0
    for c in range(n):
        if (c + p) % g:
            continue
        residue = ((c + p) // g % step) * inverse % step if step > 1 else 0
        lo, hi = max(0, -((c + p - (k - 1) * d) // -s)), min(o - 1, (c + p) // s)
        i0 = lo + (residue - lo) % step
        if i0 <= hi:
            target = out[_along(x.ndim, axis, slice(i0, hi + 1, step))]
            ufunc(target, x[_along(x.ndim, axis, slice(c, c + 1))], out=target)
    return out


def _reduce_by_tap(
    x: Array, axis: int, a: AxisGeometry, fill: float, ufunc: Reducer, n: int, taps: range, shape: list[int],
) -> Array:
    """:func:`_window_reduce` one tap at a time: tap ``j`` reads ``x[i*s + j*d - p]`` for the
    windows ``i`` where that lands in the input, a strided slice; a tap that every window reads
    inside the input goes first and is copied instead of combined with the fill."""
    s, d, p, o = a.stride, a.dilation, a.pad_before, a.output
    runs = []  # (first window, last window, first input cell) per tap
    for j in taps:
        offset = j * d - p
        i_lo, i_hi = max(0, -(offset // s)), min(o - 1, (n - 1 - offset) // s)
        if i_hi >= i_lo:
            runs.append((i_lo, i_hi, i_lo * s + offset))
    runs.sort(key=lambda r: r[1] - r[0] != o - 1)
    result: Optional[Array] = None
    for i_lo, i_hi, cell in runs:
        view = x[_along(x.ndim, axis, slice(cell, cell + (i_hi - i_lo) * s + 1, s))]
        if result is None and i_hi - i_lo == o - 1:
            result = view.copy()
            continue
        if result is None:
            result = np.full(shape, fill, dtype=x.dtype)
        target = result[_along(x.ndim, axis, slice(i_lo, i_hi + 1))]
        ufunc(target, view, out=target)
    return result if result is not None else np.full(shape, fill, dtype=x.dtype)


def _pool_input(x: Any, channels_last: object, op: str) -> Array:
    xa = as_float_array(x, "x")
    return spatial_input(xa, channels_last, op)


def _check_pool_output(x: Array, geo: LayerGeometry, max_output_bytes: object) -> None:
    """Refuse an output over the cap (and coordinates past int64's safe range) before allocating."""
    check_extent(geo)
    check_array_size("the output", x.shape[:2] + tuple(max(o, 0) for o in geo.output), x.itemsize,
                     check_output_limit(max_output_bytes))


def _reduce_axes(x: Array, geo: LayerGeometry, fill: float, ufunc: Reducer, crop: bool) -> Array:
    """Every axis in turn, those that shrink first (so no intermediate outgrows input and output).
    ``crop``: a negative ``pad_after`` removes input cells (average pooling reads the padded
    input ``[-p, n + p_after)``, ONNX Runtime's ``hend = min(hend, n + pads_end)``; its MaxPool
    reads every input cell a tap lands on)."""
    out = x
    for axis in sorted(range(geo.ndim), key=lambda i: geo.axes[i].output - geo.axes[i].input):
        a = geo.axes[axis]
        out = _window_reduce(out, axis + 2, a, fill, ufunc, a.input + min(0, a.pad_after) if crop else a.input)
    return out


def max_pool(
    x: Any,
    kernel: IntOrTuple,
    stride: Optional[IntOrTuple] = None,
    padding: PaddingArg = 0,
    dilation: IntOrTuple = 1,
    ceil_mode: bool = False,
    *,
    framework: str = "torch",
    channels_last: bool = False,
    max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
) -> Array:
    """Max pooling: ``out[i] = max_j xpad[i*s + j*d]``, padding (and any ceil-mode overhang)
    never wins (it is ``-inf``); NaN propagates. ``stride`` defaults to the kernel. Geometry,
    limits and ceil mode are the engine's (:func:`convgeom.max_pool`); an output over
    ``max_output_bytes`` is refused before anything is allocated."""
    xcf = _pool_input(x, channels_last, "max_pool")
    geo = _geometry.max_pool(
        tuple(xcf.shape[2:]), kernel, stride, padding, dilation, ceil_mode, framework=framework
    )
    _check_pool_output(xcf, geo, max_output_bytes)
    return channels_last_out(max_pool_with_geometry(xcf, geo), bool(channels_last))


def max_pool_with_geometry(x: Array, geo: LayerGeometry) -> Array:
    """:func:`max_pool` of a channels-first array with a precomputed geometry."""
    return np.ascontiguousarray(_reduce_axes(x, geo, -np.inf, np.maximum, crop=False))


def _avg_divisors(geo: LayerGeometry) -> list[Array]:
    """Per-axis divisor vectors: the taps of window ``i`` (``start = i*s - p``, tap ``j`` at
    ``start + j*d``) that lie before ``n + p_after`` (``count_include_pad``: padding counts, a
    ceil-mode overhang does not) or inside the input and before ``n + p_after`` (otherwise: a
    negative ``p_after``, from ONNX 'SAME_*' with a kernel smaller than the stride, crops). With ``d = 1`` this is
    PyTorch's ``AvgPoolKernel.cpp`` (``pool_size = min(start + k, n + p_after) - start``, or the
    clamped count); with ``d > 1`` ONNX Runtime's ``AveragePool`` (opset 19, ``pool_functors.h``:
    ``hend = min(start + k*d, n + p_after)``, ``1 + (hend - start - 1) / d`` taps, else the taps
    in the input). A window that reads only padding has no taps in the input: its divisor is 1,
    so it averages to 0, as in ONNX Runtime (the only framework whose limits allow one)."""
    include = bool(geo.count_include_pad)
    vectors = []
    for a in geo.axes:
        start = np.arange(a.output, dtype=np.int64) * a.stride - a.pad_before
        end = a.input + min(0, a.pad_after)
        lo, hi = (start, a.input + a.pad_after) if include else (np.zeros_like(start), end)
        # taps j with lo <= start + j*d < hi, within 0..k-1
        j_lo = np.maximum(-((start - lo) // a.dilation), 0)
        j_hi = np.minimum((hi - 1 - start) // a.dilation, a.kernel - 1)
        vectors.append(np.maximum(j_hi - j_lo + 1, 1).astype(np.float64))
    return vectors


def avg_pool(
    x: Any,
    kernel: IntOrTuple,
    stride: Optional[IntOrTuple] = None,
    padding: PaddingArg = 0,
    ceil_mode: bool = False,
    count_include_pad: Optional[bool] = None,
    divisor: Optional[int] = None,
    *,
    dilation: IntOrTuple = 1,
    framework: str = "torch",
    channels_last: bool = False,
    max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
) -> Array:
    """Average pooling: window sum divided by ``divisor`` (PyTorch's ``divisor_override``) or,
    per axis, by the window's taps before ``n + p_after`` (``count_include_pad``, PyTorch's
    default; ``min(start + k, n + p) - start`` without dilation) or by its taps inside the input
    (TensorFlow/Keras 'SAME', ONNX default): :func:`_avg_divisors`. ``count_include_pad=None``
    takes the framework's default. ``dilation`` is ONNX AveragePool's (opset 19; PyTorch and
    Keras have none, so the engine refuses it there)."""
    xcf = _pool_input(x, channels_last, "avg_pool")
    geo = _geometry.avg_pool(
        tuple(xcf.shape[2:]), kernel, stride, padding, ceil_mode, count_include_pad, divisor,
        dilation=dilation, framework=framework,
    )
    _check_pool_output(xcf, geo, max_output_bytes)
    return channels_last_out(avg_pool_with_geometry(xcf, geo), bool(channels_last))


def avg_pool_with_geometry(x: Array, geo: LayerGeometry) -> Array:
    """:func:`avg_pool` of a channels-first array with a precomputed geometry."""
    out = _reduce_axes(x, geo, 0.0, np.add, crop=True)
    if geo.divisor is not None:
        out /= geo.divisor
        return np.ascontiguousarray(out)
    divisors = np.ones((1, 1) + geo.output, dtype=np.float64)
    for axis, vec in enumerate(_avg_divisors(geo)):
        shape = [1] * out.ndim
        shape[axis + 2] = vec.size
        divisors = divisors * vec.reshape(shape)
    out /= divisors.astype(out.dtype)
    return np.ascontiguousarray(out)


# ----- adaptive pooling ---------------------------------------------------------------------
OutputSize = Union[int, Sequence[Optional[int]]]


def _adaptive_bounds(n: int, o: int) -> tuple[Array, Array]:
    """Window ``i``: ``[floor(i*n/o), ceil((i+1)*n/o))`` (:func:`convgeom.arithmetic.adaptive_window`,
    PyTorch ``AdaptivePooling.h``), for every ``i`` at once; with ``n = q*o + r`` the products
    stay below ``o**2`` (int64)."""
    q, r = divmod(n, o)
    i = np.arange(o, dtype=np.int64)
    return i * q + (i * r) // o, (i + 1) * q - ((-(i + 1) * r) // o)


def _adaptive_axis(x: Array, axis: int, o: int, ufunc: Reducer, average: bool) -> Array:
    """One axis of adaptive pooling: per window when there are fewer windows than cells in the
    longest one, else per offset ``t`` in the windows (``lo + t``, all windows at once)."""
    shape = list(x.shape)
    shape[axis] = o
    if o == 0:
        return np.empty(shape, dtype=x.dtype)
    lo, hi = _adaptive_bounds(x.shape[axis], o)
    longest = int((hi - lo).max())
    if o <= longest:
        out = np.empty(shape, dtype=x.dtype)
        for i in range(o):
            cells = x[_along(x.ndim, axis, slice(int(lo[i]), int(hi[i])))]
            out[_along(x.ndim, axis, slice(i, i + 1))] = ufunc.reduce(cells, axis=axis, keepdims=True)
    else:
        out = np.take(x, lo, axis=axis)
        for t in range(1, longest):
            inside = lo + t < hi
            # outside its window a cell repeats the window's last one: harmless for max
            cells = np.take(x, np.minimum(lo + t, hi - 1), axis=axis)
            where = inside.reshape([-1 if a == axis else 1 for a in range(x.ndim)])
            ufunc(out, cells, out=out, where=True if ufunc is np.maximum else where)
    if average:
        out /= (hi - lo).astype(out.dtype).reshape([-1 if a == axis else 1 for a in range(x.ndim)])
    return out


def _adaptive(x: Array, geo: AdaptivePoolGeometry, ufunc: Reducer, average: bool) -> Array:
    out = x
    for axis in sorted(range(len(geo.output)), key=lambda i: geo.output[i] - geo.input[i]):
        out = _adaptive_axis(out, axis + 2, geo.output[axis], ufunc, average)
    return out


def _adaptive_input(
    x: Any, output_size: OutputSize, channels_last: object, op: str
) -> tuple[Array, tuple[Optional[int], ...]]:
    xcf = _pool_input(x, channels_last, op)
    nd = xcf.ndim - 2
    if isinstance(output_size, (tuple, list)) and len(output_size) != nd:
        raise GeometryError(
            f"output_size has {len(output_size)} entries but the input has {nd} spatial axes",
            fix=f"give one output size per spatial axis ({nd}), or a single int",
        )
    sizes = output_size if isinstance(output_size, (tuple, list)) else (output_size,) * nd
    return xcf, tuple(sizes)


def _adaptive_run(
    x: Any, output_size: OutputSize, channels_last: object, max_output_bytes: object, op: str,
    ufunc: Reducer, average: bool,
) -> Array:
    xcf, sizes = _adaptive_input(x, output_size, channels_last, op)
    engine = _geometry.adaptive_avg_pool if average else _geometry.adaptive_max_pool
    geo = engine(tuple(xcf.shape[2:]), sizes)
    limit = check_output_limit(max_output_bytes)
    check_array_size("the output", xcf.shape[:2] + geo.output, xcf.itemsize, limit)
    for axis, (n, o) in enumerate(zip(geo.input, geo.output)):
        if o * max(n, o) >= MAX_EXTENT:
            raise GeometryError(f"adaptive pooling of {n} cells to {o} on axis {axis} is past the ops' cap "
                                f"(input * output < 2**62)", fix="use a smaller output size", axis=axis)
    return channels_last_out(_adaptive(xcf, geo, ufunc, average), bool(channels_last))


def adaptive_avg_pool(
    x: Any, output_size: OutputSize, *, channels_last: bool = False, max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
) -> Array:
    """Adaptive average pooling: window ``i`` of each axis is ``[floor(i*n/o), ceil((i+1)*n/o))``
    (:func:`convgeom.adaptive_avg_pool`), averaged over its cells; ``None`` keeps an axis."""
    return _adaptive_run(x, output_size, channels_last, max_output_bytes, "adaptive_avg_pool", np.add, True)


def adaptive_max_pool(
    x: Any, output_size: OutputSize, *, channels_last: bool = False, max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
) -> Array:
    """Adaptive max pooling over the windows of :func:`convgeom.adaptive_max_pool`; NaN propagates."""
    return _adaptive_run(x, output_size, channels_last, max_output_bytes, "adaptive_max_pool", np.maximum, False)
