"""Direct NumPy reference implementations (N-D, single channel, batch 1).

Deliberately naive loops over kernel taps: the pad inference compares the frameworks' values
with these, so they must follow the definitions, not an output-size formula.
"""
from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def taps(o: int, s: int, pb: int, j: int, d: int) -> IntArray:
    """Input position of tap j of every output index: i*s - pad_before + j*d."""
    return np.arange(o) * s - pb + j * d


def gather(source: FloatArray, positions: Sequence[IntArray], fill: float) -> FloatArray:
    """source at the outer grid of per-axis positions; ``fill`` where a position is outside."""
    idx: list[IntArray] = []
    mask: NDArray[np.bool_] | None = None
    for ax, t in enumerate(positions):
        m = (t >= 0) & (t < source.shape[ax])
        idx.append(np.clip(t, 0, source.shape[ax] - 1))
        shp = [1] * source.ndim
        shp[ax] = len(t)
        m = m.reshape(shp)
        mask = m if mask is None else (mask & m)
    if mask is None:
        raise ValueError("gather needs at least one axis")
    return np.where(mask, source[np.ix_(*idx)], fill)


def _kernel_offsets(k: Sequence[int]) -> itertools.product[tuple[int, ...]]:
    return itertools.product(*[range(kk) for kk in k])


def _window_taps(shape: Sequence[int], s: Sequence[int], d: Sequence[int],
                 pb: Sequence[int], o: Sequence[int], j: Sequence[int]) -> list[IntArray]:
    return [taps(o[ax], s[ax], pb[ax], j[ax], d[ax]) for ax in range(len(shape))]


def ref_conv(x: ArrayLike, w: ArrayLike, s: Sequence[int], d: Sequence[int],
             pb: Sequence[int], o: Sequence[int]) -> FloatArray:
    """Cross-correlation: y[i] = sum_j w[j] * x[i*s - pb + j*d] (zero outside)."""
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    y = np.zeros(o)
    if y.size == 0:
        return y
    for j in _kernel_offsets(w.shape):
        y += w[j] * gather(x, _window_taps(x.shape, s, d, pb, o, j), 0.0)
    return y


def ref_conv_transpose(x: ArrayLike, w: ArrayLike, s: Sequence[int], d: Sequence[int],
                       pb: Sequence[int], o: Sequence[int], flip: bool = False) -> FloatArray:
    """Full transposed conv full[i*s + j*d] += x[i]*w[j]; output y[t] = full[t + pb]."""
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    if flip:
        w = w[tuple(slice(None, None, -1) for _ in range(w.ndim))]
    full_len = [(x.shape[a] - 1) * s[a] + d[a] * (w.shape[a] - 1) + 1 for a in range(x.ndim)]
    full = np.zeros(full_len)
    for j in _kernel_offsets(w.shape):
        pos = [np.arange(x.shape[a]) * s[a] + j[a] * d[a] for a in range(x.ndim)]
        full[np.ix_(*pos)] += w[j] * x
    y = np.zeros(o)
    if y.size == 0:
        return y
    return gather(full, [np.arange(o[ax]) + pb[ax] for ax in range(x.ndim)], 0.0)


def axis_counts(k: int, s: int, d: int, pb: int, o: int, lo: int, hi: int) -> FloatArray:
    """Per output index: number of taps whose position lies in [lo, hi)."""
    cnt = np.zeros(o)
    for j in range(k):
        t = taps(o, s, pb, j, d)
        cnt += (t >= lo) & (t < hi)
    return cnt


def _divisor_counts(divisor: str, n: int, k: int, s: int, d: int, pb: int, o: int,
                    pa_decl: int | None) -> FloatArray:
    if divisor == "exclude_pad":
        return axis_counts(k, s, d, pb, o, 0, n)
    if divisor == "include_pad":
        if pa_decl is None:
            raise ValueError("divisor 'include_pad' needs the declared end padding")
        return axis_counts(k, s, d, pb, o, -pb, n + pa_decl)
    if divisor == "kernel":
        return np.full(o, float(k))
    raise ValueError(divisor)


def _divide(acc: FloatArray, x_shape: Sequence[int], k: Sequence[int], s: Sequence[int],
            d: Sequence[int], pb: Sequence[int], o: Sequence[int], divisor: str,
            pa_decl: Sequence[int] | None) -> FloatArray:
    div = np.ones(o)
    for ax, n in enumerate(x_shape):
        c = _divisor_counts(divisor, n, k[ax], s[ax], d[ax], pb[ax], o[ax],
                            None if pa_decl is None else pa_decl[ax])
        shp = [1] * len(x_shape)
        shp[ax] = o[ax]
        div = div * c.reshape(shp)
    with np.errstate(invalid="ignore", divide="ignore"):
        out: FloatArray = np.where(div > 0, acc / np.where(div > 0, div, 1), np.nan)
    return out


def ref_pool(x: ArrayLike, k: Sequence[int], s: Sequence[int], d: Sequence[int],
             pb: Sequence[int], o: Sequence[int], mode: str, divisor: str = "exclude_pad",
             pa_decl: Sequence[int] | None = None) -> FloatArray:
    """mode 'max' (pads ignored; a window with no input tap gives NaN) or 'avg'.

    divisor: 'exclude_pad' (in-input taps), 'include_pad' (taps inside [-pb, n + pa_decl)),
    'kernel' (prod(k)), 'sum' (no division).
    """
    x = np.asarray(x, np.float64)
    y = np.zeros(o)
    if y.size == 0:
        return y
    is_max = mode == "max"
    acc = np.full(o, -np.inf) if is_max else np.zeros(o)
    for j in _kernel_offsets(k):
        vals = gather(x, _window_taps(x.shape, s, d, pb, o, j), -np.inf if is_max else 0.0)
        acc = np.maximum(acc, vals) if is_max else acc + vals
    if is_max:
        return np.where(np.isneginf(acc), np.nan, acc)
    if divisor == "sum":
        return acc
    return _divide(acc, x.shape, k, s, d, pb, o, divisor, pa_decl)
