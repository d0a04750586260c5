"""Seeded separable (rank-1) data and weights a configuration is run on.

x = a_1 (x) a_2 (x) ... so that the framework's output is the outer product of 1-D results,
which lets the pad inference test every axis on its own.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .reference import FloatArray
from .schema import Config

DType = type[np.floating[Any]]


def rank1(factors: Sequence[FloatArray]) -> FloatArray:
    """Outer product a_1 (x) a_2 (x) ... of the per-axis factors."""
    t = np.asarray(factors[0], np.float64)
    for f in factors[1:]:
        t = np.multiply.outer(t, np.asarray(f, np.float64))
    return t


def _rounded(a: NDArray[np.float64], dtype: DType) -> FloatArray:
    """a as the framework will see it (rounded to dtype), kept in float64."""
    return a.astype(dtype).astype(np.float64)


def _monotonic(rng: np.random.Generator, nn: int, kind: str, dtype: DType) -> FloatArray:
    # strictly monotonic positive factors: the max of a window is its last ('inc') or first
    # ('dec') in-input tap, which pins down the window position exactly
    a = 1.0 + np.arange(nn) + rng.uniform(0.0, 0.5, size=nn)
    a = a / nn
    return _rounded(a if kind == "inc" else a[::-1].copy(), dtype)


def _weight_factor(rng: np.random.Generator, kk: int, signed: bool, dtype: DType) -> FloatArray:
    if signed:
        return _rounded(rng.uniform(0.3, 1.0, size=kk) * rng.choice([-1.0, 1.0], size=kk), dtype)
    return _rounded(rng.uniform(0.5, 1.5, size=kk), dtype)


@dataclass(frozen=True)
class Data:
    """Per-axis factors (ax: data, aw: weights) and the tensors the framework is given."""

    ax: list[FloatArray]
    aw: list[FloatArray]
    x: NDArray[np.floating[Any]]  # in the framework's dtype
    w: NDArray[np.floating[Any]] | None  # None for pools

    @property
    def x64(self) -> FloatArray:
        return self.x.astype(np.float64)

    @property
    def w64(self) -> FloatArray:
        if self.w is None:
            raise ValueError("this data set has no weights (a pool)")
        return self.w.astype(np.float64)


def make_data(seed: int, n: Sequence[int], k: Sequence[int], signed_w: bool = True,
              kind: str = "random", dtype: DType = np.float32) -> Data:
    """kind 'random' (uniform in [0.5, 1.5)), 'inc' or 'dec' (monotonic, for max pools)."""
    rng = np.random.default_rng(seed)
    # drawn even where replaced below: the committed files were made with this sequence of draws
    ax = [_rounded(rng.uniform(0.5, 1.5, size=nn), dtype) for nn in n]
    if kind in ("inc", "dec"):
        ax = [_monotonic(rng, nn, kind, dtype) for nn in n]
    aw = [_weight_factor(rng, kk, signed_w, dtype) for kk in k]
    # the framework sees the dtype-rounded tensor; x64/w64 are consistent with it
    return Data(ax, aw, rank1(ax).astype(dtype), rank1(aw).astype(dtype) if k else None)


def make_datas(cfg: Config, seed: int, dtype: DType = np.float32) -> list[Data]:
    """The data sets a config is run on (weights come from the first)."""
    conv = cfg["op"] in ("conv", "conv_transpose")
    k = cfg["kernel"] if conv else []
    if cfg["op"] == "max_pool":
        return [make_data(seed, cfg["input"], k, kind="inc", dtype=dtype),
                make_data(seed + 1, cfg["input"], k, kind="dec", dtype=dtype)]
    return [make_data(seed, cfg["input"], k, signed_w=conv, dtype=dtype)]
