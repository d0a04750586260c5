"""How the ops' differential tests compare an output with the framework's: relative error
(max |diff| / max |reference|) below 1e-9 in float64 and 1e-5 in float32, same dtype and shape;
and the reference pads they share where no framework is installed to ask (TensorFlow's 'SAME')."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

TOL = {np.float64: 1e-9, np.float32: 1e-5}


def rel_err(ours: np.ndarray, ref: np.ndarray) -> float:
    scale = float(np.abs(ref).max(initial=0.0))
    return float(np.abs(ours.astype(np.float64) - ref.astype(np.float64)).max(initial=0.0)) / max(scale, 1e-30)


def rel_err_with_infinities(ours: np.ndarray, ref: np.ndarray) -> float:
    """:func:`rel_err` where equal infinities (max-pool windows that read only padding) count
    as equal and the scale is taken over the other finite reference values."""
    same = ours == ref
    a = np.where(same, 0.0, ours.astype(np.float64))
    b = np.where(same, 0.0, ref.astype(np.float64))
    scale = float(np.abs(np.where(np.isfinite(b), b, 0.0)).max(initial=0.0))
    return float(np.abs(a - b).max(initial=0.0)) / max(scale, 1e-30)


def check(ours: np.ndarray, ref: np.ndarray, dtype: type,
          err: Callable[[np.ndarray, np.ndarray], float] = rel_err) -> None:
    assert ours.dtype == np.dtype(dtype)
    assert ours.shape == ref.shape
    assert err(ours, ref) < TOL[dtype]


def tf_same_pads(n: int, k: int, s: int, d: int = 1) -> tuple[int, int]:
    """TensorFlow 'SAME' (``kernel_shape_util.cc``), written out here independently of the engine:
    ``total = max(0, (ceil(n / s) - 1) * s + d*(k-1) + 1 - n)``, the smaller half before."""
    e = d * (k - 1) + 1
    out = -(-n // s)
    total = max(0, (out - 1) * s + e - n)
    return total // 2, total - total // 2
