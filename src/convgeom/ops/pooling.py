"""Max, average and adaptive pooling on NumPy arrays, matching ``torch.nn.functional``;
windows, pads and output sizes come from the geometry engine.

Pooling over a box is separable: the box maximum (sum) is the maximum (sum) along one axis of
the maxima (sums) along the others, so each axis is reduced in turn with ``k`` strided slices.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional, Union

import numpy as np

from .. import geometry as _geometry
from ..errors import GeometryError
from ..geometry import AdaptivePoolGeometry, LayerGeometry
from ..params import IntOrTuple, PaddingArg
from ._common import Array, as_float_array, channels_last_out, spatial_input

Reducer = np.ufunc


def _window_reduce(
    x: Array, axis: int, kernel: int, stride: int, dilation: int, pad_before: int, output: int,
    fill: float, ufunc: Reducer,
) -> Array:
    """Reduce windows along one axis: ``out[i] = ufunc over j of xpad[i*s + j*d]`` where
    ``xpad[p] = x[p - pad_before]`` inside the input and ``fill`` outside (any overhang)."""
    n = x.shape[axis]
    need = (output - 1) * stride + (kernel - 1) * dilation + 1
    before, after = pad_before, need - pad_before - n
    if before != 0 or after != 0:
        shape = list(x.shape)
        shape[axis] = need
        padded = np.full(shape, fill, dtype=x.dtype)
        src = [slice(None)] * x.ndim
        dst = [slice(None)] * x.ndim
        lo, hi = max(0, -before), n - max(0, -after)
        src[axis] = slice(lo, max(lo, hi))
        dst[axis] = slice(max(0, before), max(0, before) + max(0, hi - lo))
        padded[tuple(dst)] = x[tuple(src)]
        x = padded
    out: Optional[Array] = None
    for j in range(kernel):
        index = [slice(None)] * x.ndim
        index[axis] = slice(j * dilation, j * dilation + (output - 1) * stride + 1, stride)
        view = x[tuple(index)]
        if out is None:
            out = view.copy()
        else:
            ufunc(out, view, out=out)
    assert out is not None
    return out


def _pool_input(x: Any, channels_last: bool, op: str) -> Array:
    xa = as_float_array(x, "x")
    return spatial_input(xa, channels_last, op)


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
) -> Array:
    """Max pooling: ``out[i] = max_j xpad[i*s + j*d]``, padding (and any ceil-mode overhang)
    never wins (it is ``-inf``); NaN propagates. ``stride`` defaults to the kernel. Geometry,
    limits and ceil mode are the engine's (:func:`convgeom.max_pool`)."""
    xcf = _pool_input(x, channels_last, "max_pool")
    geo = _geometry.max_pool(
        tuple(xcf.shape[2:]), kernel, stride, padding, dilation, ceil_mode, framework=framework
    )
    return channels_last_out(max_pool_with_geometry(xcf, geo), channels_last)


def max_pool_with_geometry(x: Array, geo: LayerGeometry) -> Array:
    """:func:`max_pool` of a channels-first array with a precomputed geometry."""
    out = x
    for axis, a in enumerate(geo.axes):
        out = _window_reduce(out, axis + 2, a.kernel, a.stride, a.dilation, a.pad_before, a.output,
                             -np.inf, np.maximum)
    return np.ascontiguousarray(out)


def _avg_divisors(geo: LayerGeometry) -> list[Array]:
    """Per-axis divisor vectors, PyTorch ``AvgPoolKernel.cpp``: ``start = i*s - p``,
    ``end = min(start + k, n + p_after)``, ``pool_size = end - start``; clamp to ``[0, n)`` for
    the in-bounds count. ``count_include_pad`` divides by ``pool_size``, else by the count."""
    include = bool(geo.count_include_pad)
    vectors = []
    for a in geo.axes:
        i = np.arange(a.output)
        start = i * a.stride - a.pad_before
        end = np.minimum(start + a.effective_kernel, a.input + a.pad_after)
        pool_size = end - start
        count = np.minimum(end, a.input) - np.maximum(start, 0)
        vectors.append((pool_size if include else count).astype(np.float64))
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
    framework: str = "torch",
    channels_last: bool = False,
) -> Array:
    """Average pooling: window sum divided by ``divisor`` (PyTorch's ``divisor_override``) or,
    per axis, by ``pool_size = min(start + k, n + p) - start`` (``count_include_pad``, PyTorch's
    default) or by the in-bounds count (TensorFlow/Keras 'SAME', ONNX default).
    ``count_include_pad=None`` takes the framework's default."""
    xcf = _pool_input(x, channels_last, "avg_pool")
    geo = _geometry.avg_pool(
        tuple(xcf.shape[2:]), kernel, stride, padding, ceil_mode, count_include_pad, divisor, framework=framework
    )
    return channels_last_out(avg_pool_with_geometry(xcf, geo), channels_last)


def avg_pool_with_geometry(x: Array, geo: LayerGeometry) -> Array:
    """:func:`avg_pool` of a channels-first array with a precomputed geometry."""
    out = x
    for axis, a in enumerate(geo.axes):
        out = _window_reduce(out, axis + 2, a.kernel, a.stride, a.dilation, a.pad_before, a.output, 0.0, np.add)
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


def _adaptive(x: Array, geo: AdaptivePoolGeometry, ufunc: Reducer, average: bool) -> Array:
    out = x
    for axis, windows in enumerate(geo.windows):
        ax = axis + 2
        shape = list(out.shape)
        shape[ax] = len(windows)
        reduced = np.empty(shape, dtype=x.dtype)
        for i, (lo, hi) in enumerate(windows):
            src = [slice(None)] * out.ndim
            src[ax] = slice(lo, hi)
            dst = [slice(None)] * out.ndim
            dst[ax] = slice(i, i + 1)
            reduced[tuple(dst)] = ufunc.reduce(out[tuple(src)], axis=ax, keepdims=True)
            if average:
                reduced[tuple(dst)] /= hi - lo
        out = reduced
    return out


def _adaptive_input(x: Any, output_size: OutputSize, channels_last: bool, op: str) -> tuple[Array, Any]:
    xcf = _pool_input(x, channels_last, op)
    nd = xcf.ndim - 2
    if isinstance(output_size, (tuple, list)) and len(output_size) != nd:
        raise GeometryError(
            f"output_size has {len(output_size)} entries but the input has {nd} spatial axes",
            fix=f"give one output size per spatial axis ({nd}), or a single int",
        )
    sizes = output_size if isinstance(output_size, (tuple, list)) else (output_size,) * nd
    return xcf, tuple(sizes)


def adaptive_avg_pool(x: Any, output_size: OutputSize, *, channels_last: bool = False) -> Array:
    """Adaptive average pooling: window ``i`` of each axis is ``[floor(i*n/o), ceil((i+1)*n/o))``
    (:func:`convgeom.adaptive_avg_pool`), averaged over its cells; ``None`` keeps an axis."""
    xcf, sizes = _adaptive_input(x, output_size, channels_last, "adaptive_avg_pool")
    geo = _geometry.adaptive_avg_pool(tuple(xcf.shape[2:]), sizes)
    return channels_last_out(_adaptive(xcf, geo, np.add, True), channels_last)


def adaptive_max_pool(x: Any, output_size: OutputSize, *, channels_last: bool = False) -> Array:
    """Adaptive max pooling over the windows of :func:`convgeom.adaptive_max_pool`; NaN propagates."""
    xcf, sizes = _adaptive_input(x, output_size, channels_last, "adaptive_max_pool")
    geo = _geometry.adaptive_max_pool(tuple(xcf.shape[2:]), sizes)
    return channels_last_out(_adaptive(xcf, geo, np.maximum, False), channels_last)
