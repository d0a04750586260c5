"""pad_before inference: which per-axis start padding reproduces the framework's output values.

For every axis and every candidate pad_before the 1-D reference output is computed; candidates
whose 1-D result is proportional to the matching fibre of the framework output survive, and
the surviving combinations are checked exactly (allclose) against the whole output. The
unique match is then re-verified with the N-D reference implementation. Nothing here uses an
output-size formula.
"""
from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from numpy.typing import ArrayLike

from .data import Data
from .reference import FloatArray, ref_conv, ref_conv_transpose, ref_pool
from .schema import Config, Extras, Result, effective_kernel

RTOL = 1e-4
MAX_COMBOS = 200000  # more surviving combinations than this: "too many candidates"

Combo = tuple[int, ...]
Candidates = list[dict[int, FloatArray]]  # per axis: pad_before -> 1-D output


def nanify(y: ArrayLike) -> FloatArray:
    """float64 copy with -inf and the lowest floats (empty max windows) as NaN."""
    y = np.asarray(y, np.float64)
    return np.where(np.isneginf(y) | (y < -1e30), np.nan, y)


def output_scale(y: FloatArray) -> float:
    """Largest magnitude of y (at least 1e-6): the absolute tolerance is relative to it."""
    scale = float(np.nanmax(np.abs(y))) if np.any(~np.isnan(y)) else 1.0
    return max(scale, 1e-6)


def close(a: FloatArray, b: FloatArray, scale: float) -> bool:
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=RTOL, atol=RTOL * scale + 1e-12,
                                                   equal_nan=True))


def fibre(y: FloatArray, ax: int) -> FloatArray:
    """A 1-D fibre of y along ax through the entry of largest magnitude (fewest NaNs)."""
    m = np.moveaxis(y, ax, 0).reshape(y.shape[ax], -1)
    nn = np.isnan(m).sum(axis=0)
    mag = np.nan_to_num(np.abs(m)).sum(axis=0)
    best = np.lexsort((-mag, nn))[0]
    return m[:, best]


def proportional(f: FloatArray, v: FloatArray, scale: float) -> bool:
    """Whether the reference fibre f is c * v for some c (NaNs in the same places)."""
    if np.any(np.isnan(f) != np.isnan(v)):
        return False
    ok = ~np.isnan(v)
    f, v = f[ok], v[ok]
    if f.size == 0:
        return True
    tol = RTOL * scale + 1e-12
    vz = np.abs(v) <= tol
    fz = np.abs(f) <= 1e-12
    if np.all(vz):
        return True  # cannot tell (other factors may be zero)
    if np.any(fz & ~vz):
        return False
    if f.size == 1:
        return True
    c = float(np.dot(f, v) / np.dot(f, f)) if np.dot(f, f) > 0 else 0.0
    return bool(np.allclose(c * f, v, rtol=RTOL * 10, atol=tol * 10))


def matching_combos(y: ArrayLike, cands: Candidates) -> list[Combo] | None:
    """The pad_before combinations whose outer-product reference equals y (None: too many)."""
    y = nanify(y)
    scale = output_scale(y)
    surv = []
    for ax in range(y.ndim):
        v = fibre(y, ax)
        surv.append([pb for pb, f in cands[ax].items() if proportional(f, v, scale)])
    total = int(np.prod([len(sv) for sv in surv])) if surv else 0
    if total == 0:
        return []
    if total > MAX_COMBOS:
        return None
    matches = []
    for combo in itertools.product(*surv):
        ref = cands[0][combo[0]]
        for ax in range(1, y.ndim):
            ref = np.multiply.outer(ref, cands[ax][combo[ax]])
        if close(y, nanify(ref), scale):
            matches.append(combo)
    return matches


def common_combos(ys: Sequence[ArrayLike], cands: Sequence[Candidates]) -> list[Combo] | None:
    """Combinations matching every (output, candidates) run, sorted; None if all had too many."""
    common: set[Combo] | None = None
    for y, c in zip(ys, cands):
        matches = matching_combos(y, c)
        if matches is None:
            continue
        common = set(matches) if common is None else (common & set(matches))
    return None if common is None else sorted(common)


def agreed_pads(matches: Sequence[Combo]) -> list[int | None]:
    """pad_before per axis where every match agrees, None where they differ."""
    return [m if all(c[ax] == m for c in matches) else None
            for ax, m in enumerate(matches[0])]


@dataclass(frozen=True)
class Geometry:
    """Sizes of one run: input n, kernel k, stride s, dilation d, observed output o."""

    n: list[int]
    k: list[int]
    s: list[int]
    d: list[int]
    o: list[int]

    @cached_property
    def e(self) -> list[int]:
        return effective_kernel(self.k, self.d)

    @cached_property
    def full_length(self) -> list[int]:
        """Length of the full (uncropped) transposed-conv output, (n-1)*s + e."""
        return [(n - 1) * s + e for n, s, e in zip(self.n, self.s, self.e)]

    def forward_pad_after(self, a: int, pb: int) -> int:
        """End padding a forward window needs: max(0, (o-1)*s + e - n - pad_before)."""
        return max(0, (self.o[a] - 1) * self.s[a] + self.e[a] - self.n[a] - pb)

    def pad_after_min(self, op: str, a: int, pb: int) -> int:
        """Transposed conv: the crop at the end of the full output (negative = extra zeros);
        forward ops: the end padding the last window needs."""
        if op == "conv_transpose":
            return self.full_length[a] - self.o[a] - pb
        return self.forward_pad_after(a, pb)

    def forward_pads(self) -> list[range]:
        return [range(-self.n[a], (self.o[a] - 1) * self.s[a] + self.e[a] + 1)
                for a in range(len(self.n))]


@dataclass(frozen=True)
class Hypothesis:
    """One rule by which the framework may have computed its output, over a pad_before range."""

    pads: list[range]  # candidate pad_before per axis
    axis_output: Callable[[Data, int, int], FloatArray]  # (data, axis, pad_before) -> 1-D
    output: Callable[[Data, list[int]], FloatArray]  # (data, pad_before per axis) -> N-D
    found: Extras = field(default_factory=dict)  # recorded when this rule matches

    def candidates(self, data: Data) -> Candidates:
        return [{p: self.axis_output(data, a, p) for p in rng} for a, rng in enumerate(self.pads)]


def _conv(cfg: Config, g: Geometry) -> list[Hypothesis]:
    s, d, o = g.s, g.d, g.o
    return [Hypothesis(
        g.forward_pads(),
        lambda data, a, p: ref_conv(data.ax[a], data.aw[a], [s[a]], [d[a]], [p], [o[a]]),
        lambda data, p: ref_conv(data.x64, data.w64, s, d, p, o))]


def _conv_transpose(cfg: Config, g: Geometry) -> list[Hypothesis]:
    # The kernel orientation is a property of the framework: TF (gradient of conv) and ONNX
    # ConvTranspose scatter x[i]*w[j] to i*s + j*d; jax.lax.conv_transpose with
    # transpose_kernel=False correlates the dilated input with w, i.e. the flipped kernel.
    # The framework's own orientation is tried first: with few contributing taps both
    # orientations can match at different offsets.
    s, d, o = g.s, g.d, g.o
    pads = [range(-o[a], g.full_length[a] + 1) for a in range(len(o))]
    pref = bool(cfg.get("_flip", False))

    def hypothesis(flip: bool) -> Hypothesis:
        return Hypothesis(
            pads,
            lambda data, a, p: ref_conv_transpose(data.ax[a], data.aw[a], [s[a]], [d[a]], [p],
                                                  [o[a]], flip),
            lambda data, p: ref_conv_transpose(data.x64, data.w64, s, d, p, o, flip),
            {} if flip == pref else {"unexpected_kernel_orientation": True})
    return [hypothesis(pref), hypothesis(not pref)]


def _pool(cfg: Config, g: Geometry) -> list[Hypothesis]:
    k, s, d, o = g.k, g.s, g.d, g.o
    pad_decl = cfg.get("_pad_decl")  # declared end padding (explicit pads), if any

    def pa_for(a: int, p: int) -> int:
        return pad_decl[a] if pad_decl is not None else g.forward_pad_after(a, p)

    if cfg["op"] == "max_pool":
        return [Hypothesis(
            g.forward_pads(),
            lambda data, a, p: ref_pool(data.ax[a], [k[a]], [s[a]], [d[a]], [p], [o[a]], "max"),
            lambda data, p: ref_pool(data.x64, k, s, d, p, o, "max"))]

    def hypothesis(div: str) -> Hypothesis:
        return Hypothesis(
            g.forward_pads(),
            lambda data, a, p: ref_pool(data.ax[a], [k[a]], [s[a]], [d[a]], [p], [o[a]], "avg",
                                        div, [pa_for(a, p)]),
            lambda data, p: ref_pool(data.x64, k, s, d, p, o, "avg", div,
                                     [pa_for(a, p[a]) for a in range(len(p))]),
            {"divisor": div})
    return [hypothesis(div) for div in cfg["_divisors"]]


HYPOTHESES: dict[str, Callable[[Config, Geometry], list[Hypothesis]]] = {
    "conv": _conv, "conv_transpose": _conv_transpose, "max_pool": _pool, "avg_pool": _pool}


def has_garbage(op: str, y: ArrayLike) -> bool:
    """The seeded data keep |y| far below 1e6: more, or a NaN, means the kernel returned garbage.

    For pools -inf / the lowest float (empty max window) and NaN (0/0 average) are legitimate.
    """
    if op in ("conv", "conv_transpose"):
        y = np.asarray(y)
        return bool((~np.isfinite(y)).any() or np.abs(y).max() > 1e6)
    yn = nanify(y)
    return bool(np.isposinf(yn).any() or np.nan_to_num(np.abs(yn)).max() > 1e6)


def _search(hypotheses: Sequence[Hypothesis], ys: Sequence[ArrayLike],
            datas: Sequence[Data]) -> tuple[Hypothesis, list[Combo] | None]:
    """The first hypothesis that matches (or has too many candidates), with its matches."""
    for h in hypotheses:
        matches = common_combos(ys, [h.candidates(data) for data in datas])
        if matches is None or matches:
            return h, matches
    return hypotheses[-1], []


def _verify(cfg: Config, h: Hypothesis, combo: Combo, ys: Sequence[ArrayLike],
            datas: Sequence[Data]) -> None:
    """Independent N-D check of one matching combination on every data set."""
    for yv, data in zip(ys, datas):
        yy = nanify(yv)
        if not close(yy, nanify(h.output(data, list(combo))), output_scale(yy)):
            raise AssertionError(f"N-D verification failed for {cfg}")


def _unknown(res: Result, why: str | None = None) -> Result:
    res["pad_before"] = None
    res["pad_after_min"] = None
    if why is not None:
        res["inference"] = why
    return res


def infer_result(cfg: Config, ys: Sequence[FloatArray], datas: Sequence[Data]) -> Result:
    """The success part of a record from the framework outputs (spatial dims only).

    ys/datas: one output per data set (max pooling is run on increasing and decreasing data).
    """
    o = list(ys[0].shape)
    if any(yy.shape != ys[0].shape for yy in ys):
        raise RuntimeError(f"output shape depends on the data?! {[yy.shape for yy in ys]}")
    res: Result = {"output": o}
    if ys[0].size == 0:
        return _unknown(res)
    if any(has_garbage(cfg["op"], yy) for yy in ys):
        return _unknown(res, "framework output contains garbage values (NaN or |y| > 1e6; "
                             "uninitialised memory?)")
    g = Geometry(cfg["input"], cfg["kernel"], cfg["stride"], cfg["dilation"], o)
    h, matches = _search(HYPOTHESES[cfg["op"]](cfg, g), ys, datas)
    if not matches:
        _unknown(res, "too many candidates" if matches is None
                 else "no candidate matched the framework output")
        if cfg["op"] == "avg_pool":
            res["divisor"] = None
        return res
    _verify(cfg, h, matches[0], ys, datas)
    pb = agreed_pads(matches)
    res["pad_before"] = pb
    res["pad_after_min"] = [None if p is None else g.pad_after_min(cfg["op"], a, p)
                            for a, p in enumerate(pb)]
    if any(p is None for p in pb):
        res["ambiguous_axes"] = [a for a, p in enumerate(pb) if p is None]
    res.update(h.found)
    return res
