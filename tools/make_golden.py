#!/usr/bin/env python3
"""Golden-vector generator: records what the REAL TensorFlow/Keras 3, JAX and ONNX Runtime do.

Usage::

    python tools/make_golden.py [--framework tensorflow|jax|onnx|all] [--count N]
                                [--seed S] [--out tests/golden] [--no-ops] [--jobs J]

Deterministic for a given seed and library versions (the committed files were made with the
defaults: --count 2400 --seed 20240521).  Set GOLDEN_VERBOSE=1 to print every record.

Requirements (install into a separate virtualenv, NOT into the project environment)::

    python -m venv /tmp/goldenvenv
    /tmp/goldenvenv/bin/pip install tensorflow-cpu keras jax jaxlib onnx onnxruntime numpy

Versions used for the committed files (any recent version should run; the exact versions are
recorded in the "meta" object of every output file)::

    tensorflow-cpu 2.21.0, keras 3.15.1, jax/jaxlib 0.10.2 (newest on the mirror used),
    onnx 1.23.2, onnxruntime 1.31.1 (opset 21), numpy 2.4.6, Python 3.11.7.

Run time on 2 idle cores: onnx ~20 s, tensorflow ~1.5 min, jax ~2 min (XLA compiles every
config).  Every framework runs in worker subprocesses (this file re-executed with --worker):
TensorFlow and XLA kill the process (SIGFPE, abort) on some configs; such a config is recorded
as {"error": "Crash: process killed by signal ..."} and the worker is restarted.  TensorFlow is
run twice per config, with oneDNN on (the recorded result) and off ("onednn_off" where the two
differ).

Output files (compact JSON; "records" holds one record per line)::

    tests/golden/tensorflow.json   Keras 3 layers on the TensorFlow backend, eager layer(x)
    tests/golden/jax.json          jax.lax.conv_general_dilated / conv_transpose / reduce_window
    tests/golden/onnx.json         onnxruntime InferenceSession, one tiny model per config
    tests/golden/tensorflow_ops.json  numeric NHWC cases (tf.nn.conv2d / max_pool2d / avg_pool2d)

Record schema (one JSON object per record)::

    {"op": "conv"|"conv_transpose"|"max_pool"|"avg_pool",
     "input": [n1, ...], "kernel": [...], "stride": [...], "dilation": [...],
     "padding": "valid"|"same"|"same_lower"|"causal"|"full"|[[before, after], ...]
                | {"raw": [[lo, hi], ...]}                  (jax conv_transpose raw lax pads)
                | {"auto_pad": "...", "pads": [[b, a], ...]} (onnx: both given -> invalid),
     "output_padding": [...] | null, "output_size": [...] | null,
     "ceil_mode": bool, "count_include_pad": bool | null,
     "call": "<what was executed>",
     "result": {"output": [...], "pad_before": [...], "pad_after_min": [...], ...}
             | {"error": "ExceptionType: first line of message"}}

How ``pad_before`` is obtained: the op is run on seeded random data (and random weights). The
data is a rank-1 (separable) tensor  x = a_1 (x) a_2 (x) ...  and the weights likewise, so the
framework's output is the outer product of 1-D results.  For every axis and every candidate
pad_before a direct NumPy 1-D implementation is evaluated; candidates whose 1-D result is
proportional to the corresponding fibre of the framework output survive, and the surviving
combinations are checked exactly (allclose) against the whole framework output.  The unique
match is then re-verified with a direct N-D NumPy loop implementation.  Nothing is computed from
an output-size formula.  Max pooling is run twice, on strictly increasing and on strictly
decreasing positive factors (a window's max is then its last / first in-input tap), because
the max of random data pins down a window's position only weakly.  An axis whose pad_before
is not identifiable from the values (e.g. a max-pool window covering the whole input for
several offsets, or an all-zero conv output) gets null (listed in result.ambiguous_axes); an
empty output gets pad_before null; if no candidate reproduces the values, result.inference
says so.  Average pools also record which divisor rule reproduced the values
(result.divisor).  Extra per-record keys: "symbolic"/"symbolic_disagrees" and "onednn_off"
(tensorflow), "shape_inference" (onnx, where onnx.shape_inference disagrees with ORT).

For conv_transpose, pad_before is the crop at the start of the full transposed output
(length (n-1)*s + d*(k-1) + 1): output index y corresponds to full index y + pad_before.
pad_after_min = full_length - o - pad_before (negative = extra zeros at the end).
For forward ops pad_after_min = max(0, (o-1)*s + e - n - pad_before).
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import zlib

import numpy as np

FRAMEWORKS = ("tensorflow", "jax", "onnx")
ONNX_OPSET = 21
RTOL = 1e-4
VERBOSE = os.environ.get("GOLDEN_VERBOSE") == "1"


# --------------------------------------------------------------------------------------------
# Direct NumPy reference implementations (N-D, single channel, batch 1)
# --------------------------------------------------------------------------------------------

def _taps(o, s, pb, j, d):
    return np.arange(o) * s - pb + j * d


def ref_conv(x, w, s, d, pb, o):
    """Cross-correlation: y[i] = sum_j w[j] * x[i*s - pb + j*d] (zero outside)."""
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    y = np.zeros(o)
    if y.size == 0:
        return y
    for j in itertools.product(*[range(kk) for kk in w.shape]):
        idx, mask = [], None
        for ax in range(x.ndim):
            t = _taps(o[ax], s[ax], pb[ax], j[ax], d[ax])
            m = (t >= 0) & (t < x.shape[ax])
            idx.append(np.clip(t, 0, x.shape[ax] - 1))
            shp = [1] * x.ndim
            shp[ax] = o[ax]
            m = m.reshape(shp)
            mask = m if mask is None else (mask & m)
        y += w[j] * np.where(mask, x[np.ix_(*idx)], 0.0)
    return y


def ref_conv_transpose(x, w, s, d, pb, o, flip=False):
    """Full transposed conv full[i*s + j*d] += x[i]*w[j]; output y[t] = full[t + pb]."""
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    if flip:
        w = w[tuple(slice(None, None, -1) for _ in range(w.ndim))]
    L = [(x.shape[a] - 1) * s[a] + d[a] * (w.shape[a] - 1) + 1 for a in range(x.ndim)]
    full = np.zeros(L)
    for j in itertools.product(*[range(kk) for kk in w.shape]):
        pos = [np.arange(x.shape[a]) * s[a] + j[a] * d[a] for a in range(x.ndim)]
        full[np.ix_(*pos)] += w[j] * x
    y = np.zeros(o)
    if y.size == 0:
        return y
    idx, mask = [], None
    for ax in range(x.ndim):
        t = np.arange(o[ax]) + pb[ax]
        m = (t >= 0) & (t < L[ax])
        idx.append(np.clip(t, 0, L[ax] - 1))
        shp = [1] * x.ndim
        shp[ax] = o[ax]
        m = m.reshape(shp)
        mask = m if mask is None else (mask & m)
    return np.where(mask, full[np.ix_(*idx)], 0.0)


def _axis_counts(n, k, s, d, pb, o, lo, hi):
    """Per output index: number of taps whose position lies in [lo, hi)."""
    cnt = np.zeros(o)
    for j in range(k):
        t = _taps(o, s, pb, j, d)
        cnt += (t >= lo) & (t < hi)
    return cnt


def ref_pool(x, k, s, d, pb, o, mode, divisor="exclude_pad", pa_decl=None):
    """mode 'max' (pads ignored; a window with no input tap gives NaN) or 'avg'.

    divisor: 'exclude_pad' (in-input taps), 'include_pad' (taps inside [-pb, n + pa_decl)),
    'kernel' (prod(k)), 'sum' (no division).
    """
    x = np.asarray(x, np.float64)
    y = np.zeros(o)
    if y.size == 0:
        return y
    acc = np.full(o, -np.inf) if mode == "max" else np.zeros(o)
    for j in itertools.product(*[range(kk) for kk in k]):
        idx, mask = [], None
        for ax in range(x.ndim):
            t = _taps(o[ax], s[ax], pb[ax], j[ax], d[ax])
            m = (t >= 0) & (t < x.shape[ax])
            idx.append(np.clip(t, 0, x.shape[ax] - 1))
            shp = [1] * x.ndim
            shp[ax] = o[ax]
            mask = m.reshape(shp) if mask is None else (mask & m.reshape(shp))
        vals = x[np.ix_(*idx)]
        if mode == "max":
            acc = np.maximum(acc, np.where(mask, vals, -np.inf))
        else:
            acc = acc + np.where(mask, vals, 0.0)
    if mode == "max":
        return np.where(np.isneginf(acc), np.nan, acc)
    if divisor == "sum":
        return acc
    div = np.ones(o)
    for ax in range(x.ndim):
        n = x.shape[ax]
        if divisor == "exclude_pad":
            c = _axis_counts(n, k[ax], s[ax], d[ax], pb[ax], o[ax], 0, n)
        elif divisor == "include_pad":
            c = _axis_counts(n, k[ax], s[ax], d[ax], pb[ax], o[ax], -pb[ax], n + pa_decl[ax])
        elif divisor == "kernel":
            c = np.full(o[ax], float(k[ax]))
        else:
            raise ValueError(divisor)
        shp = [1] * x.ndim
        shp[ax] = o[ax]
        div = div * c.reshape(shp)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(div > 0, acc / np.where(div > 0, div, 1), np.nan)


# --------------------------------------------------------------------------------------------
# pad_before inference
# --------------------------------------------------------------------------------------------

def _nanify(y):
    y = np.asarray(y, np.float64)
    return np.where(np.isneginf(y) | (y < -1e30), np.nan, y)


def _close(a, b, scale):
    return a.shape == b.shape and np.allclose(a, b, rtol=RTOL, atol=RTOL * scale + 1e-12,
                                              equal_nan=True)


def _fibre(y, ax):
    """A 1-D fibre of y along ax through the entry of largest magnitude (fewest NaNs)."""
    m = np.moveaxis(y, ax, 0).reshape(y.shape[ax], -1)
    nn = np.isnan(m).sum(axis=0)
    mag = np.nan_to_num(np.abs(m)).sum(axis=0)
    best = np.lexsort((-mag, nn))[0]
    return m[:, best]


def _proportional(f, v, scale):
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


def infer_pads(y, cands):
    """y: framework output (N-D). cands: per axis, dict pb -> 1-D candidate vector.

    Returns (pb list with None for unidentifiable axes, matching combos) or (None, []) if no
    combination matches.
    """
    y = _nanify(y)
    rank = y.ndim
    scale = float(np.nanmax(np.abs(y))) if np.any(~np.isnan(y)) else 1.0
    scale = max(scale, 1e-6)
    surv = []
    for ax in range(rank):
        v = _fibre(y, ax)
        surv.append([pb for pb, f in cands[ax].items() if _proportional(f, v, scale)])
    matches = []
    total = int(np.prod([len(sv) for sv in surv])) if surv else 0
    if total == 0:
        return None, []
    if total > 200000:
        return None, ["too-many"]
    for combo in itertools.product(*surv):
        ref = cands[0][combo[0]]
        for ax in range(1, rank):
            ref = np.multiply.outer(ref, cands[ax][combo[ax]])
        if _close(y, _nanify(ref), scale):
            matches.append(combo)
    return _summarise(matches)


def _summarise(matches):
    if not matches:
        return None, []
    if matches == ["too-many"]:
        return None, matches
    pb = [m if all(c[ax] == m for c in matches) else None
          for ax, m in enumerate(matches[0])]
    return pb, matches


def _rank1(factors):
    t = np.asarray(factors[0], np.float64)
    for f in factors[1:]:
        t = np.multiply.outer(t, np.asarray(f, np.float64))
    return t


class Data:
    """Seeded separable random data for one config."""

    def __init__(self, seed, n, k, signed_w=True, kind="random", dtype=np.float32):
        rng = np.random.default_rng(seed)
        self.ax = [rng.uniform(0.5, 1.5, size=nn).astype(dtype).astype(np.float64) for nn in n]
        if kind in ("inc", "dec"):
            # strictly monotonic positive factors: the max of a window is its last ('inc') or
            # first ('dec') in-input tap, which pins down the window position exactly
            self.ax = []
            for nn in n:
                a = 1.0 + np.arange(nn) + rng.uniform(0.0, 0.5, size=nn)
                a = a / nn
                self.ax.append((a if kind == "inc" else a[::-1].copy())
                               .astype(dtype).astype(np.float64))
        if signed_w:
            self.aw = []
            for kk in k:
                u = rng.uniform(0.3, 1.0, size=kk) * rng.choice([-1.0, 1.0], size=kk)
                self.aw.append(u.astype(dtype).astype(np.float64))
        else:
            self.aw = [rng.uniform(0.5, 1.5, size=kk).astype(dtype).astype(np.float64)
                       for kk in k]
        self.x = _rank1(self.ax).astype(dtype)
        self.w = _rank1(self.aw).astype(dtype) if k else None
        # the framework sees the dtype-rounded tensor; keep the factors consistent with it
        self.x64 = self.x.astype(np.float64)
        self.w64 = self.w.astype(np.float64) if self.w is not None else None


def _infer_multi(ys, cand_fns, rank):
    """Intersect the matching pad combos over several (output, data) runs."""
    common = None
    for y, mk in zip(ys, cand_fns):
        _, matches = infer_pads(y, mk())
        if matches == ["too-many"]:
            continue
        ms = set(matches)
        common = ms if common is None else (common & ms)
    if common is None:
        return None, ["too-many"]
    return _summarise(sorted(common))


def infer_result(cfg, ys, datas):
    """Build the success part of a record from the framework outputs (spatial dims only).

    ys/datas: one output per data set (max pooling is run on increasing and decreasing data).
    """
    op = cfg["op"]
    n, k, s, d = cfg["input"], cfg["kernel"], cfg["stride"], cfg["dilation"]
    y = ys[0]
    o = list(y.shape)
    res = {"output": o}
    e = [dd * (kk - 1) + 1 for kk, dd in zip(k, d)]
    if any(yy.shape != y.shape for yy in ys):
        raise RuntimeError(f"output shape depends on the data?! {[yy.shape for yy in ys]}")
    if y.size == 0:
        res["pad_before"] = None
        res["pad_after_min"] = None
        return res
    rank = len(n)
    extra = {}
    for yy in ys:
        if op in ("conv", "conv_transpose"):
            bad = (~np.isfinite(yy)).any() or np.abs(yy).max() > 1e6
        else:  # pools: -inf / lowest float (empty max window) and NaN (0/0 average) are legit
            yn = _nanify(yy)
            bad = np.isposinf(yn).any() or np.nan_to_num(np.abs(yn)).max() > 1e6
        if bad:  # the seeded data keep |y| far below 1e6: the kernel returned garbage
            res["pad_before"] = None
            res["pad_after_min"] = None
            res["inference"] = ("framework output contains garbage values (NaN or |y| > 1e6; "
                                "uninitialised memory?)")
            return res
    fwd_range = [range(-n[a], (o[a] - 1) * s[a] + e[a] + 1) for a in range(rank)]
    if op == "conv":
        def mk(data):
            return lambda: [{p: ref_conv(data.ax[a], data.aw[a], [s[a]], [d[a]], [p], [o[a]])
                             for p in fwd_range[a]} for a in range(rank)]
        pb, matches = _infer_multi(ys, [mk(dt) for dt in datas], rank)

        def verify(p, data):
            return ref_conv(data.x64, data.w64, s, d, p, o)
    elif op == "conv_transpose":
        L = [(n[a] - 1) * s[a] + e[a] for a in range(rank)]
        # The kernel orientation is a property of the framework: TF (gradient of conv) and
        # ONNX ConvTranspose scatter x[i]*w[j] to i*s + j*d; jax.lax.conv_transpose with
        # transpose_kernel=False correlates the dilated input with w, i.e. the flipped kernel.
        # Only the framework's own orientation is tried first: with few contributing taps
        # both orientations can match at different offsets.
        pref = bool(cfg.get("_flip", False))
        pb, matches, flip = None, [], pref
        for flip in (pref, not pref):
            def mk(data, fl=flip):
                return lambda: [{p: ref_conv_transpose(data.ax[a], data.aw[a], [s[a]], [d[a]],
                                                       [p], [o[a]], fl)
                                 for p in range(-o[a], L[a] + 1)} for a in range(rank)]
            pb, matches = _infer_multi(ys, [mk(dt) for dt in datas], rank)
            if matches:
                break
        if matches and flip != pref:
            extra["unexpected_kernel_orientation"] = True

        def verify(p, data, fl=flip):
            return ref_conv_transpose(data.x64, data.w64, s, d, p, o, fl)
    else:
        mode = "max" if op == "max_pool" else "avg"
        pad_decl = cfg.get("_pad_decl")  # declared after-padding (explicit pads) if any

        def pa_for(a, p):
            if pad_decl is not None:
                return pad_decl[a]
            return max(0, (o[a] - 1) * s[a] + e[a] - n[a] - p)

        divisors = ["max"] if mode == "max" else cfg["_divisors"]
        pb, matches = None, []
        for div in divisors:
            def mk(data, div=div):
                return lambda: [{p: ref_pool(data.ax[a], [k[a]], [s[a]], [d[a]], [p], [o[a]],
                                             mode, div, [pa_for(a, p)])
                                 for p in fwd_range[a]} for a in range(rank)]
            pb, matches = _infer_multi(ys, [mk(dt) for dt in datas], rank)
            if matches:
                if mode == "avg":
                    extra["divisor"] = div
                break

        def verify(p, data):
            if mode == "max":
                return ref_pool(data.x64, k, s, d, p, o, "max")
            div = extra.get("divisor")
            return ref_pool(data.x64, k, s, d, p, o, "avg", div,
                            [pa_for(a, p[a]) for a in range(rank)])

    if not matches or matches == ["too-many"]:
        res["pad_before"] = None
        res["pad_after_min"] = None
        res["inference"] = "no candidate matched the framework output" if not matches \
            else "too many candidates"
        if op == "avg_pool":
            res["divisor"] = None
        return res
    # independent N-D check of one matching combination on every data set
    for yv, data in zip(ys, datas):
        yy = _nanify(yv)
        scale = max(float(np.nanmax(np.abs(yy))) if np.any(~np.isnan(yy)) else 1.0, 1e-6)
        if not _close(yy, _nanify(verify(list(matches[0]), data)), scale):
            raise AssertionError(f"N-D verification failed for {cfg}")
    res["pad_before"] = pb
    if op == "conv_transpose":
        L = [(n[a] - 1) * s[a] + e[a] for a in range(rank)]
        res["pad_after_min"] = [None if pb[a] is None else L[a] - o[a] - pb[a]
                                for a in range(rank)]
    else:
        res["pad_after_min"] = [None if pb[a] is None
                                else max(0, (o[a] - 1) * s[a] + e[a] - n[a] - pb[a])
                                for a in range(rank)]
    if any(p is None for p in pb):
        res["ambiguous_axes"] = [a for a in range(rank) if pb[a] is None]
    res.update(extra)
    return res


def make_datas(cfg, seed, dtype=np.float32):
    """The data sets a config is run on (weights come from the first)."""
    conv = cfg["op"] in ("conv", "conv_transpose")
    k = cfg["kernel"] if conv else []
    if cfg["op"] == "max_pool":
        return [Data(seed, cfg["input"], k, kind="inc", dtype=dtype),
                Data(seed + 1, cfg["input"], k, kind="dec", dtype=dtype)]
    return [Data(seed, cfg["input"], k, signed_w=conv, dtype=dtype)]


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_FNODE = re.compile(r"^\{\{function_node [^}]*\}\}\s*")


def f32list(a):
    """float32 array -> nested lists of the shortest decimals that round-trip to float32."""
    a = np.asarray(a, np.float32)
    flat = [float(np.format_float_positional(v, unique=True, trim="-")) for v in a.ravel()]
    return np.array(flat, dtype=np.float64).reshape(a.shape).tolist()


def err_str(e):
    msg = _ANSI.sub("", str(e)).strip()
    lines = [ln.strip() for ln in msg.splitlines() if ln.strip()]
    first = lines[0] if lines else ""
    if first.startswith("Exception encountered when calling") and len(lines) > 1:
        # Keras wraps backend errors; keep the backend's own first line
        first = lines[1]
    first = _FNODE.sub("", first)
    if len(first) > 400:
        first = first[:400] + "..."
    return f"{type(e).__name__}: {first}"


# --------------------------------------------------------------------------------------------
# Config drawing helpers
# --------------------------------------------------------------------------------------------

def draw_rank(rng):
    return int(rng.choice([1, 2, 3], p=[0.4, 0.35, 0.25]))


def per_axis(rng, rank, lo, hi, same_p=0.5):
    """Random ints in [lo, hi] per axis; often identical across axes (as users write them)."""
    if rng.random() < same_p:
        v = int(rng.integers(lo, hi + 1))
        return [v] * rank
    return [int(v) for v in rng.integers(lo, hi + 1, size=rank)]


def draw_sizes(rng, rank, edge):
    hi = {1: 12, 2: 12, 3: 8}[rank]
    if edge:
        return per_axis(rng, rank, 1, 4, 0.4)
    return per_axis(rng, rank, 1, hi, 0.5)


def cfg_key(cfg):
    return json.dumps({k: v for k, v in cfg.items() if not k.startswith("_") and k != "call"},
                      sort_keys=True)


def base_cfg(op, n, k, s, d, padding, output_padding=None, output_size=None, ceil_mode=False,
             count_include_pad=None):
    return {"op": op, "input": list(n), "kernel": list(k), "stride": list(s),
            "dilation": list(d), "padding": padding, "output_padding": output_padding,
            "output_size": output_size, "ceil_mode": bool(ceil_mode),
            "count_include_pad": count_include_pad}


def edge_kernel(rng, n, pads, d):
    """A kernel whose effective size is close to the padded input (fits exactly, off by one)."""
    k = []
    for a in range(len(n)):
        target = n[a] + pads[a] + int(rng.integers(-1, 2))
        kk = max(1, (target - 1) // d[a] + 1)
        k.append(int(min(kk, 7)))
    return k


# --------------------------------------------------------------------------------------------
# TensorFlow / Keras 3
# --------------------------------------------------------------------------------------------

def gen_tensorflow_cfgs(rng):
    while True:
        r = rng.random()
        op = ("conv" if r < 0.33 else "conv_transpose" if r < 0.55
              else "max_pool" if r < 0.78 else "avg_pool")
        rank = draw_rank(rng)
        edge = rng.random() < 0.25
        n = draw_sizes(rng, rank, edge)
        if op in ("conv", "conv_transpose"):
            m = rng.random()
            if m < 0.5:
                s, d = per_axis(rng, rank, 1, 4), [1] * rank
            elif m < 0.85:
                s, d = [1] * rank, per_axis(rng, rank, 1, 3)
            else:
                s, d = per_axis(rng, rank, 1, 4, 0.3), per_axis(rng, rank, 1, 3, 0.3)
            pr = rng.random()
            if op == "conv":
                causal_p = 0.2 if rank == 1 else 0.06
            else:
                causal_p = 0.04
            pad = "causal" if pr < causal_p else ("valid" if pr < (1 + causal_p) / 2 else "same")
            if rng.random() < 0.02:
                pad = "full" if rng.random() < 0.5 else "same_lower"  # not Keras modes
            if edge:
                k = edge_kernel(rng, n, [0] * rank, d)
            else:
                k = per_axis(rng, rank, 1, 6)
            op_pad = None
            if op == "conv_transpose" and rng.random() < 0.5:
                op_pad = [int(rng.integers(0, ss + 1)) for ss in s]
            cfg = base_cfg(op, n, k, s, d, pad, output_padding=op_pad)
        else:
            k = edge_kernel(rng, n, [0] * rank, [1] * rank) if edge else per_axis(rng, rank, 1, 6)
            s = per_axis(rng, rank, 1, 4)
            pr = rng.random()
            pad = "causal" if pr < 0.06 else ("valid" if pr < 0.53 else "same")
            cfg = base_cfg(op, n, k, s, [1] * rank, pad)
            if op == "avg_pool":
                cfg["_divisors"] = ["exclude_pad", "include_pad", "kernel"]
        yield cfg


class TFRunner:
    name = "tensorflow"

    def __init__(self, onednn="1"):
        os.environ["KERAS_BACKEND"] = "tensorflow"
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        # Runs inside a worker subprocess (see TFDual): oneDNN on or off.
        os.environ["TF_ENABLE_ONEDNN_OPTS"] = onednn
        import tensorflow as tf
        tf.get_logger().setLevel("ERROR")
        try:
            tf.config.threading.set_intra_op_parallelism_threads(1)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:
            pass
        import keras
        if keras.backend.backend() != "tensorflow":
            raise SystemExit("KERAS_BACKEND must be tensorflow (import keras after setting it)")
        self.tf, self.keras = tf, keras
        self.versions = {"tensorflow": tf.__version__, "keras": keras.__version__,
                         "numpy": np.__version__, "python": sys.version.split()[0],
                         "TF_ENABLE_ONEDNN_OPTS": os.environ["TF_ENABLE_ONEDNN_OPTS"]}
        self.n_sym = 0

    def _layer(self, cfg):
        keras = self.keras
        rank = len(cfg["input"])
        op, pad = cfg["op"], cfg["padding"]
        k, s, d = tuple(cfg["kernel"]), tuple(cfg["stride"]), tuple(cfg["dilation"])
        desc = tf_desc(cfg)
        if op == "conv":
            cls = getattr(keras.layers, f"Conv{rank}D")

            def mk():
                return cls(1, k, strides=s, padding=pad, dilation_rate=d, use_bias=False)
        elif op == "conv_transpose":
            cls = getattr(keras.layers, f"Conv{rank}DTranspose")
            opd = None if cfg["output_padding"] is None else tuple(cfg["output_padding"])

            def mk():
                return cls(1, k, strides=s, padding=pad, output_padding=opd, dilation_rate=d,
                           use_bias=False)
        else:
            nm = "MaxPooling" if op == "max_pool" else "AveragePooling"
            cls = getattr(keras.layers, f"{nm}{rank}D")

            def mk():
                return cls(pool_size=k, strides=s, padding=pad)
        return mk, desc

    def run(self, cfg, seed, do_symbolic):
        n = cfg["input"]
        conv = cfg["op"] in ("conv", "conv_transpose")
        datas = make_datas(cfg, seed)
        mk, desc = self._layer(cfg)
        cfg["call"] = desc
        try:
            layer = mk()
            if conv:
                layer.build((1, *n, 1))
                layer.set_weights([datas[0].w.reshape((*cfg["kernel"], 1, 1))
                                   .astype(np.float32)])
            ys = []
            for dt in datas:
                y = np.asarray(layer(dt.x.reshape((1, *n, 1)).astype(np.float32)))
                ys.append(y.reshape(y.shape[1:-1]))
            result = infer_result(cfg, ys, datas)
        except AssertionError:
            raise
        except Exception as e:  # noqa: BLE001 - we record whatever the framework raises
            result = {"error": err_str(e)}
        sym = None
        if do_symbolic:
            try:
                layer2 = mk()
                out = layer2(self.keras.Input(shape=(*n, 1), batch_size=1))
                sym = {"output": [None if v is None else int(v) for v in out.shape[1:-1]]}
            except Exception as e:  # noqa: BLE001
                sym = {"error": err_str(e)}
            return result, {"sym": sym}
        return result, {}

    def numeric_ops(self, rng, count):
        """Small NHWC numeric cases for a NumPy reference-ops test."""
        tf = self.tf
        cases = []
        kinds = (["conv2d"] * 24 + ["conv2d_dilated"] * 8 + ["max_pool2d"] * 18
                 + ["avg_pool2d"] * 18)
        while len(cases) < count:
            kind = kinds[len(cases) % len(kinds)]
            h, w_ = (int(v) for v in rng.integers(1, 8, size=2))
            pad = "SAME" if rng.random() < 0.5 else "VALID"
            if kind.startswith("conv2d"):
                cin, cout = (int(v) for v in rng.integers(1, 3, size=2))
                kh, kw = (int(v) for v in rng.integers(1, 5, size=2))
                if kind == "conv2d_dilated":
                    st, dil = [1, 1], [int(v) for v in rng.integers(1, 4, size=2)]
                    if dil == [1, 1]:
                        dil = [2, 1]
                else:
                    st, dil = [int(v) for v in rng.integers(1, 4, size=2)], [1, 1]
                if pad == "VALID" and ((kh - 1) * dil[0] + 1 > h or (kw - 1) * dil[1] + 1 > w_):
                    continue  # empty output: nothing to compare numerically
                x = np.round(rng.uniform(-1, 1, size=(1, h, w_, cin)), 3).astype(np.float32)
                f = np.round(rng.uniform(-1, 1, size=(kh, kw, cin, cout)), 3).astype(np.float32)
                try:
                    y = tf.nn.conv2d(x, f, strides=[1, *st, 1], padding=pad,
                                     dilations=[1, *dil, 1]).numpy()
                except Exception:  # noqa: BLE001
                    continue
                if y.size == 0:
                    continue
                case = {"op": "conv2d", "padding": pad, "strides": st, "dilations": dil,
                        "input": f32list(x), "filter": f32list(f),
                        "call": f"tf.nn.conv2d(x{list(x.shape)}, filter{list(f.shape)}, "
                                f"strides=[1,{st[0]},{st[1]},1], padding={pad!r}, "
                                f"dilations=[1,{dil[0]},{dil[1]},1])"}
            else:
                c = int(rng.integers(1, 3))
                kh, kw = (int(v) for v in rng.integers(1, 5, size=2))
                st = [int(v) for v in rng.integers(1, 4, size=2)]
                if pad == "VALID" and (kh > h or kw > w_):
                    continue  # empty output (oneDNN max pool even crashes the process)
                x = np.round(rng.uniform(-1, 1, size=(1, h, w_, c)), 3).astype(np.float32)
                fn = tf.nn.max_pool2d if kind == "max_pool2d" else tf.nn.avg_pool2d
                try:
                    y = fn(x, ksize=[kh, kw], strides=st, padding=pad).numpy()
                except Exception:  # noqa: BLE001
                    continue
                if y.size == 0:
                    continue
                case = {"op": kind, "padding": pad, "ksize": [kh, kw], "strides": st,
                        "input": f32list(x),
                        "call": f"tf.nn.{kind}(x{list(x.shape)}, ksize=[{kh},{kw}], "
                                f"strides=[{st[0]},{st[1]}], padding={pad!r})"}
            case["output_shape"] = list(y.shape)
            case["output"] = f32list(y)
            cases.append(case)
        return cases


def tf_desc(cfg):
    """Human description of the Keras call made for cfg (no TensorFlow import needed)."""
    rank = len(cfg["input"])
    op, pad = cfg["op"], cfg["padding"]
    k, s, d = tuple(cfg["kernel"]), tuple(cfg["stride"]), tuple(cfg["dilation"])
    if op == "conv":
        desc = (f"keras.layers.Conv{rank}D(1, {k}, strides={s}, padding={pad!r}, "
                f"dilation_rate={d}, use_bias=False)")
    elif op == "conv_transpose":
        opd = None if cfg["output_padding"] is None else tuple(cfg["output_padding"])
        desc = (f"keras.layers.Conv{rank}DTranspose(1, {k}, strides={s}, padding={pad!r}, "
                f"output_padding={opd}, dilation_rate={d}, use_bias=False)")
    else:
        nm = "MaxPooling" if op == "max_pool" else "AveragePooling"
        desc = f"keras.layers.{nm}{rank}D(pool_size={k}, strides={s}, padding={pad!r})"
    n = cfg["input"]
    return f"{desc}(x[1,{','.join(map(str, n))},1]) eager, KERAS_BACKEND=tensorflow"


def worker_main(spec):
    """Subprocess body: one JSON request per stdin line, one JSON reply per stdout line."""
    fw, _, variant = spec.partition(":")
    if fw == "tensorflow":
        runner = TFRunner(variant or "1")
    elif fw == "jax":
        runner = JaxRunner()
    else:
        runner = OnnxRunner()
    print(json.dumps({"versions": runner.versions}), flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        if req.get("cmd") == "ops":
            cases = runner.numeric_ops(np.random.default_rng(req["seed"]), req["count"])
            print(json.dumps({"cases": cases}), flush=True)
            continue
        try:
            result, extras = runner.run(req["cfg"], req["seed"], req["sym"])
            out = {"result": result, "extras": extras}
        except AssertionError as e:
            out = {"fatal": str(e)}
        print(json.dumps(out), flush=True)


_LOGPREFIX = re.compile(r"^[EFWI]\d{4} [\d:.]+\s+\d+ [^\]]*\]\s*")
_FATAL = re.compile(r"Check failed|RET_CHECK|INTERNAL:|Fatal Python error|FATAL")


class Worker:
    """A framework worker process; restarted when the framework kills it (SIGFPE, abort).

    After the first crash a spare process is kept importing in the background, so that a
    restart does not wait for the framework import.
    """

    def __init__(self, spec):
        self.spec, self.proc, self.versions, self.restarts = spec, None, None, 0
        self.errlog, self.spare, self._errpos = None, None, 0

    def _spawn(self):
        # PYTHONHASHSEED: error messages print Python sets (Keras: "one of {'same', 'valid'}")
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONHASHSEED="0")
        if self.spec.startswith("tensorflow"):
            env.update(KERAS_BACKEND="tensorflow",
                       TF_ENABLE_ONEDNN_OPTS=self.spec.partition(":")[2] or "1")
        errlog = tempfile.TemporaryFile("w+")
        proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--worker", self.spec],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errlog, env=env,
            text=True, bufsize=1)
        return proc, errlog

    def _start(self):
        if self.spare is not None:
            (self.proc, self.errlog), self.spare = self.spare, None
        else:
            self.proc, self.errlog = self._spawn()
        if self.restarts:
            self.spare = self._spawn()
        line = self.proc.stdout.readline()
        if not line:
            self.errlog.seek(0)
            raise RuntimeError(f"worker {self.spec} failed to start:\n{self.errlog.read()[-3000:]}")
        self.versions = json.loads(line)["versions"]

    def send(self, req):
        if self.proc is None:
            self._start()
        self.errlog.seek(0, 2)
        self._errpos = self.errlog.tell()
        try:
            self.proc.stdin.write(json.dumps(req) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass

    def recv(self):
        line = self.proc.stdout.readline()
        if line:
            return json.loads(line)
        rc = self.proc.wait()
        self.proc = None
        self.restarts += 1
        how = (f"process killed by signal {signal.Signals(-rc).name}" if rc < 0
               else f"process exited with status {rc}")
        self.errlog.seek(self._errpos)
        for ln in self.errlog.read().splitlines():
            ln = _LOGPREFIX.sub("", ln.strip())
            if _FATAL.search(ln):
                ln = re.sub(r'"([A-Za-z_]+)\.\d+"', r'"\1"', ln)  # HLO instruction ids
                how += f" ({ln[:300]})"
                break
        self.errlog.close()
        return {"crash": how}

    def close(self):
        for proc in (self.proc, self.spare[0] if self.spare else None):
            if proc is not None:
                proc.stdin.close()
                proc.wait()
        self.proc = self.spare = None


def _reply(x):
    if "fatal" in x:
        raise AssertionError(x["fatal"])
    if "result" in x:
        return x["result"], x.get("extras", {})
    return {"error": f"Crash: {x['crash']}"}, {}


class Isolated:
    """Runs configs in crash-isolated worker processes (JAX, ONNX Runtime), `jobs` at a time."""

    def __init__(self, fw, jobs=2):
        self.name = fw
        self.workers = [Worker(fw) for _ in range(max(1, jobs))]
        self.describe = {"jax": jax_desc, "onnx": onnx_desc}[fw]

    @property
    def versions(self):
        return self.workers[0].versions

    @property
    def crashes(self):
        return sum(w.restarts for w in self.workers)

    def run_many(self, items):
        """items: (cfg, seed, do_symbolic); yields (result, extras) in order."""
        for i in range(0, len(items), len(self.workers)):
            batch = items[i:i + len(self.workers)]
            for w, (cfg, seed, sym) in zip(self.workers, batch):
                cfg["call"] = self.describe(cfg)
                w.send({"cfg": cfg, "seed": seed, "sym": sym})
            for w, _ in zip(self.workers, batch):
                yield _reply(w.recv())

    def close(self):
        for w in self.workers:
            w.close()


def _differs(a, b):
    if ("error" in a) != ("error" in b):
        return True
    if "error" in a:
        return False
    return any(a.get(key) != b.get(key) for key in ("output", "pad_before", "divisor"))


class TFDual:
    """Runs every config with oneDNN ON (primary: the default of the x86-64 PyPI wheel) and
    OFF (portable Eigen kernels) in two crash-isolated worker processes, in parallel."""

    name = "tensorflow"

    def __init__(self, jobs=2):
        self.on, self.off = Worker("tensorflow:1"), Worker("tensorflow:0")
        self.n_sym_disagree = 0
        self.n_onednn_differs = 0
        self.versions = None

    def run_many(self, items):
        for cfg, seed, sym in items:
            yield self.run(cfg, seed, sym)

    def run(self, cfg, seed, do_symbolic):
        cfg["call"] = tf_desc(cfg)
        req = {"cfg": cfg, "seed": seed, "sym": do_symbolic}
        self.on.send(req)
        self.off.send(req)
        a, b = self.on.recv(), self.off.recv()
        if self.versions is None and self.on.versions:
            self.versions = dict(self.on.versions, TF_ENABLE_ONEDNN_OPTS="1 (records); 0 for "
                                 "the 'onednn_off' fields")
        (res_a, ext_a), (res_b, _) = _reply(a), _reply(b)
        extras = {}
        sym = ext_a.get("sym")
        if do_symbolic and sym is not None:
            extras["symbolic"] = sym
            eager_ok, sym_ok = "error" not in res_a, "error" not in sym
            if eager_ok != sym_ok or (eager_ok and sym["output"] != res_a["output"]):
                self.n_sym_disagree += 1
                extras["symbolic_disagrees"] = True
        if _differs(res_a, res_b):
            self.n_onednn_differs += 1
            extras["onednn_off"] = res_b
        return res_a, extras

    def numeric_ops(self, seed, count):
        self.on.send({"cmd": "ops", "seed": seed, "count": count})
        reply = self.on.recv()
        if "cases" not in reply:
            raise RuntimeError(f"numeric ops failed: {reply}")
        return reply["cases"]

    @property
    def crashes(self):
        return {"onednn_on": self.on.restarts, "onednn_off": self.off.restarts}

    def close(self):
        self.on.close()
        self.off.close()


# --------------------------------------------------------------------------------------------
# JAX
# --------------------------------------------------------------------------------------------

def _pairs(rng, rank, lo, hi, neg_p):
    out = []
    for _ in range(rank):
        a, b = (int(v) for v in rng.integers(max(lo, 0), hi + 1, size=2))
        if rng.random() < neg_p:
            a = int(rng.integers(lo, 0))
        if rng.random() < neg_p:
            b = int(rng.integers(lo, 0))
        out.append([a, b])
    return out


def gen_jax_cfgs(rng):
    while True:
        r = rng.random()
        op = ("conv" if r < 0.35 else "conv_transpose" if r < 0.6
              else "max_pool" if r < 0.8 else "avg_pool")
        rank = draw_rank(rng)
        edge = rng.random() < 0.25
        n = draw_sizes(rng, rank, edge)
        s = per_axis(rng, rank, 1, 4)
        d = per_axis(rng, rank, 1, 3) if rng.random() < 0.4 else [1] * rank
        pr = rng.random()
        if op == "conv_transpose":
            k = per_axis(rng, rank, 1, 6)
            if pr < 0.27:
                pad = "same"
            elif pr < 0.54:
                pad = "valid"
            elif pr < 0.6:
                pad = ["same_lower", "full", "causal"][int(rng.integers(0, 3))]
            else:
                e = [dd * (kk - 1) + 1 for kk, dd in zip(k, d)]
                pad = {"raw": [[int(rng.integers(-2, ee + 2)), int(rng.integers(-2, ee + 2))]
                               for ee in e]}
            cfg = base_cfg(op, n, k, s, d, pad)
            cfg["_flip"] = True
        else:
            if pr < 0.2:
                pad = "valid"
            elif pr < 0.4:
                pad = "same"
            elif pr < 0.55:
                pad = "same_lower"
            elif pr < 0.58:
                pad = "full" if rng.random() < 0.5 else "causal"  # not lax padding types
            else:
                pad = _pairs(rng, rank, -3, 4, 0.2)
            if edge:
                tot = [0] * rank if isinstance(pad, str) else [a + b for a, b in pad]
                k = edge_kernel(rng, n, tot, d)
            else:
                k = per_axis(rng, rank, 1, 6)
            cfg = base_cfg(op, n, k, s, d, pad)
            if op == "avg_pool":
                cfg["_divisors"] = ["sum"]
        yield cfg


def _jax_padding(pad):
    if isinstance(pad, str):
        return pad.upper()
    if isinstance(pad, dict):
        return [tuple(p) for p in pad["raw"]]
    return [tuple(p) for p in pad]


def jax_desc(cfg):
    """Human description of the lax call made for cfg (no JAX import needed)."""
    n, k, s, d = cfg["input"], cfg["kernel"], cfg["stride"], cfg["dilation"]
    rank = len(n)
    sp = "DHW"[3 - rank:]
    dn = ("NC" + sp, "OI" + sp, "NC" + sp)
    jpad = _jax_padding(cfg["padding"])
    xs = f"x[1,1,{','.join(map(str, n))}]"
    ws = f"w[1,1,{','.join(map(str, k))}]"
    if cfg["op"] == "conv":
        return (f"jax.lax.conv_general_dilated({xs}, {ws}, window_strides={tuple(s)}, "
                f"padding={jpad!r}, rhs_dilation={tuple(d)}, dimension_numbers={dn})")
    if cfg["op"] == "conv_transpose":
        return (f"jax.lax.conv_transpose({xs}, {ws}, strides={tuple(s)}, padding={jpad!r}, "
                f"rhs_dilation={tuple(d)}, dimension_numbers={dn})")
    cs = "-inf, lax.max" if cfg["op"] == "max_pool" else "0.0, lax.add"
    wpad = jpad if isinstance(jpad, str) else [(0, 0), (0, 0)] + jpad
    return (f"jax.lax.reduce_window({xs}, {cs}, window_dimensions={(1, 1, *k)}, "
            f"window_strides={(1, 1, *s)}, padding={wpad!r}, window_dilation={(1, 1, *d)})")


class JaxRunner:
    name = "jax"

    def __init__(self):
        os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                              "intra_op_parallelism_threads=1")
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
        import jax
        jax.config.update("jax_enable_x64", True)
        jax.config.update("jax_platforms", "cpu")
        import jaxlib
        from jax import lax
        self.jax, self.lax = jax, lax
        self.versions = {"jax": jax.__version__, "jaxlib": jaxlib.__version__,
                         "numpy": np.__version__, "python": sys.version.split()[0]}

    def run(self, cfg, seed, do_symbolic):
        jax, lax = self.jax, self.lax
        n, k, s, d = cfg["input"], cfg["kernel"], cfg["stride"], cfg["dilation"]
        rank = len(n)
        op = cfg["op"]
        datas = make_datas(cfg, seed, dtype=np.float64)
        pad = cfg["padding"]
        sp = "DHW"[3 - rank:]
        dn = ("NC" + sp, "OI" + sp, "NC" + sp)
        jpad = _jax_padding(pad)

        def call(x):
            if op == "conv":
                w = datas[0].w.reshape((1, 1, *k))
                return lax.conv_general_dilated(x, w, window_strides=tuple(s), padding=jpad,
                                                rhs_dilation=tuple(d), dimension_numbers=dn)
            elif op == "conv_transpose":
                w = datas[0].w.reshape((1, 1, *k))
                return lax.conv_transpose(x, w, strides=tuple(s), padding=jpad,
                                          rhs_dilation=tuple(d), dimension_numbers=dn)
            else:
                if op == "max_pool":
                    init, comp = -np.inf, lax.max
                else:
                    init, comp = 0.0, lax.add
                wpad = jpad if isinstance(jpad, str) else [(0, 0), (0, 0)] + jpad
                return lax.reduce_window(x, init, comp, (1, 1, *k), (1, 1, *s), wpad,
                                         window_dilation=(1, 1, *d))

        try:
            ys = []
            for dt in datas:
                y = np.asarray(jax.block_until_ready(call(dt.x.reshape((1, 1, *n)))))
                ys.append(y.reshape(y.shape[2:]))
            result = infer_result(cfg, ys, datas)
        except AssertionError:
            raise
        except Exception as e:  # noqa: BLE001
            result = {"error": err_str(e)}
        return result, {}


# --------------------------------------------------------------------------------------------
# ONNX Runtime
# --------------------------------------------------------------------------------------------

AUTO_TO_SCHEMA = {"SAME_UPPER": "same", "SAME_LOWER": "same_lower", "VALID": "valid"}


def gen_onnx_cfgs(rng):
    while True:
        r = rng.random()
        op = ("conv" if r < 0.3 else "conv_transpose" if r < 0.55
              else "max_pool" if r < 0.8 else "avg_pool")
        rank = draw_rank(rng)
        edge = rng.random() < 0.25
        n = draw_sizes(rng, rank, edge)
        s = per_axis(rng, rank, 1, 4)
        d = per_axis(rng, rank, 1, 3) if (op != "avg_pool" or rng.random() < 0.5) \
            and rng.random() < 0.35 else [1] * rank
        pr = rng.random()
        attrs = {}
        if pr < 0.5:
            pads = _pairs(rng, rank, -2, 4, 0.04)
            pad = pads
            attrs["pads"] = [p[0] for p in pads] + [p[1] for p in pads]
        elif pr < 0.55:
            pad = [[0, 0]] * rank  # pads attribute omitted
        elif pr < 0.72:
            pad, attrs["auto_pad"] = "same", "SAME_UPPER"
        elif pr < 0.86:
            pad, attrs["auto_pad"] = "same_lower", "SAME_LOWER"
        elif pr < 0.96:
            pad, attrs["auto_pad"] = "valid", "VALID"
        else:  # invalid: pads together with auto_pad
            ap = ["SAME_UPPER", "SAME_LOWER", "VALID"][int(rng.integers(0, 3))]
            pads = _pairs(rng, rank, 0, 2, 0.0)
            attrs["auto_pad"] = ap
            attrs["pads"] = [p[0] for p in pads] + [p[1] for p in pads]
            pad = {"auto_pad": AUTO_TO_SCHEMA[ap], "pads": pads}
        if op == "max_pool" and rng.random() < 0.04:
            attrs["storage_order"] = 0  # harmless, exercises attribute parsing
        if edge:
            tot = [0] * rank if not isinstance(pad, list) else [a + b for a, b in pad]
            k = edge_kernel(rng, n, tot, d)
        else:
            k = per_axis(rng, rank, 1, 6)
        if op == "conv":
            cfg = base_cfg(op, n, k, s, d, pad)
        elif op == "conv_transpose":
            op_pad = None
            if rng.random() < 0.5:
                op_pad = [int(rng.integers(0, max(ss, dd) + 1)) for ss, dd in zip(s, d)]
                attrs["output_padding"] = op_pad
            out_size = None
            if rng.random() < 0.2:
                e = [dd * (kk - 1) + 1 for kk, dd in zip(k, d)]
                out_size = [max(1, (nn - 1) * ss + ee + int(rng.integers(-3, ss + 1)))
                            for nn, ss, ee in zip(n, s, e)]
                attrs["output_shape"] = out_size
            cfg = base_cfg(op, n, k, s, d, pad, output_padding=op_pad, output_size=out_size)
        else:
            ceil = rng.random() < 0.4
            if ceil:
                attrs["ceil_mode"] = 1
            elif rng.random() < 0.3:
                attrs["ceil_mode"] = 0
            cip = None
            if op == "avg_pool":
                cr = rng.random()
                if cr < 0.35:
                    cip = False
                    attrs["count_include_pad"] = 0
                elif cr < 0.7:
                    cip = True
                    attrs["count_include_pad"] = 1
            cfg = base_cfg(op, n, k, s, d, pad, ceil_mode=ceil, count_include_pad=cip)
            if op == "avg_pool":
                cfg["_divisors"] = ["exclude_pad", "include_pad", "kernel"]
                if cip:
                    cfg["_divisors"] = ["include_pad", "kernel", "exclude_pad"]
            if isinstance(pad, list):
                cfg["_pad_decl"] = [p[1] for p in pad]
            elif pad == "valid":
                cfg["_pad_decl"] = [0] * rank  # windows may overhang the end, but no pads
        if any(v != 1 for v in d) or rng.random() < 0.5:
            attrs["dilations"] = d
        if any(v != 1 for v in s) or rng.random() < 0.5:
            attrs["strides"] = s
        cfg["_attrs"] = attrs
        yield cfg


ONNX_OPTYPE = {"conv": "Conv", "conv_transpose": "ConvTranspose", "max_pool": "MaxPool",
               "avg_pool": "AveragePool"}


def onnx_desc(cfg):
    """Human description of the ONNX node executed for cfg."""
    attrs = dict(cfg["_attrs"], kernel_shape=list(cfg["kernel"]))
    order = ["kernel_shape", "strides", "dilations", "pads", "auto_pad", "output_padding",
             "output_shape", "ceil_mode", "count_include_pad", "storage_order"]
    attr_s = ", ".join(f"{a}={attrs[a]!r}" for a in order if a in attrs)
    return (f"onnxruntime {ONNX_OPTYPE[cfg['op']]}(opset {ONNX_OPSET}; X[1,1,"
            f"{','.join(map(str, cfg['input']))}]; {attr_s})")


class OnnxRunner:
    name = "onnx"

    def __init__(self):
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        import onnx
        import onnxruntime as ort
        from onnx import TensorProto, helper
        self.onnx, self.ort, self.helper, self.TP = onnx, ort, helper, TensorProto
        ort.set_default_logger_severity(4)
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        so.log_severity_level = 4
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        self.so = so
        self.versions = {"onnx": onnx.__version__, "onnxruntime": ort.__version__,
                         "opset": ONNX_OPSET, "numpy": np.__version__,
                         "python": sys.version.split()[0]}

    def build(self, cfg, data):
        helper, TP = self.helper, self.TP
        n, k = cfg["input"], cfg["kernel"]
        op = cfg["op"]
        attrs = dict(cfg["_attrs"])
        attrs["kernel_shape"] = list(k)
        inputs = ["X"]
        inits = []
        if op in ("conv", "conv_transpose"):
            inputs.append("W")
            w = data.w.reshape((1, 1, *k)).astype(np.float32)
            inits.append(helper.make_tensor("W", TP.FLOAT, w.shape, w.ravel().tolist()))
        node = helper.make_node(ONNX_OPTYPE[op], inputs, ["Y"], **attrs)
        graph = helper.make_graph(
            [node], "g", [helper.make_tensor_value_info("X", TP.FLOAT, [1, 1, *n])],
            [helper.make_tensor_value_info("Y", TP.FLOAT, None)], initializer=inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", ONNX_OPSET)])
        model.ir_version = 10
        return model

    def shape_inference(self, model):
        try:
            m2 = self.onnx.shape_inference.infer_shapes(model, strict_mode=True)
            for vi in m2.graph.output:
                if vi.name == "Y":
                    dims = vi.type.tensor_type.shape.dim
                    if not vi.type.tensor_type.HasField("shape"):
                        return {"output": None}
                    return {"output": [dd.dim_value if dd.HasField("dim_value") else None
                                       for dd in dims][2:]}
            return {"output": None}
        except Exception as e:  # noqa: BLE001
            return {"error": err_str(e)}

    def run(self, cfg, seed, do_symbolic):
        datas = make_datas(cfg, seed)
        model = self.build(cfg, datas[0])
        try:
            sess = self.ort.InferenceSession(model.SerializeToString(), self.so,
                                             providers=["CPUExecutionProvider"])
            ys = []
            for dt in datas:
                x = dt.x.reshape((1, 1, *cfg["input"])).astype(np.float32)
                y = sess.run(None, {"X": x})[0]
                ys.append(y.reshape(y.shape[2:]))
            result = infer_result(cfg, ys, datas)
        except AssertionError:
            raise
        except Exception as e:  # noqa: BLE001
            result = {"error": err_str(e)}
        si = self.shape_inference(model)
        ort_out = result.get("output")
        si_out = si.get("output")
        disagree = ("error" in si) != ("error" in result) or \
            ("error" not in si and "error" not in result and si_out != ort_out)
        if disagree:
            return result, {"shape_inference": si}
        return result, {}


# --------------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------------

GENERATORS = {"tensorflow": gen_tensorflow_cfgs, "jax": gen_jax_cfgs, "onnx": gen_onnx_cfgs}
RUNNERS = {"tensorflow": TFDual, "jax": lambda jobs: Isolated("jax", jobs),
           "onnx": lambda jobs: Isolated("onnx", jobs)}

NOTES = {
    "tensorflow": [
        "Keras 3 layers on the TensorFlow backend, channels_last, batch 1, 1 channel, "
        "executed eagerly: layer(x) on a real float32 tensor (use_bias=False).",
        "'symbolic' (subset) = the same layer called on keras.Input(shape=(*n, 1), batch_size=1);"
        " present only on records where it was run.",
        "Every config is run twice, in two crash-isolated worker processes: with oneDNN ON "
        "(TF_ENABLE_ONEDNN_OPTS=1, the default of the x86-64 PyPI wheel) -> 'result', and with "
        "oneDNN OFF (portable Eigen kernels, e.g. other CPUs or TF_ENABLE_ONEDNN_OPTS=0) -> "
        "'onednn_off', present only where the two differ (error vs success, output, "
        "pad_before or divisor). Known differences: a VALID max pool with an empty output "
        "kills the process with SIGFPE (oneDNN, recorded as 'Crash: ...') or raises "
        "AbortedError, where Eigen returns an empty tensor; 3-D SAME ops whose total padding "
        "(o-1)*s+e-n is negative (e < s) get a NEGATIVE pad_before floor(total/2) under Eigen "
        "(windows shifted right by one), 0 under oneDNN; Keras Conv*DTranspose with "
        "dilation > 1 works under oneDNN but raises under Eigen; a few oneDNN Conv3D SAME "
        "outputs are numerically wrong (garbage in some positions, varying between runs; "
        "no pad_before reproduces them, see result.inference; Eigen is correct there).",
        "avg_pool 'divisor' names the divisor rule that reproduced the values: exclude_pad = "
        "number of in-input taps; include_pad = taps inside the padded region; kernel = prod(k).",
    ],
    "jax": [
        "jax.lax with jax_enable_x64, CPU. padding strings are lowercased ('SAME_LOWER' -> "
        "'same_lower').",
        "conv_transpose explicit padding is recorded as {'raw': [[lo, hi], ...]}: the RAW pads "
        "that jax.lax.conv_transpose applies to the stride-dilated input (lax semantics), NOT "
        "PyTorch-style padding. pad_before is still the crop at the start of the full "
        "transposed output.",
        "jax.lax.conv_transpose uses transpose_kernel=False, i.e. it correlates the dilated "
        "input with the un-flipped kernel, which is the PyTorch/ONNX transposed conv with a "
        "flipped kernel; pad_before is inferred with that orientation (a record would carry "
        "result.unexpected_kernel_orientation=true if only the other one matched).",
        "avg_pool = reduce_window(lax.add, init 0.0): the output is the window SUM "
        "(divisor 'sum'); count_include_pad is null. No ceil mode in JAX.",
        "Configs run in a crash-isolated worker process; 'Crash: process killed by signal "
        "SIGABRT (...)' records an XLA compiler abort (not a Python exception): e.g. "
        "reduce_window with a size-1 window and net-negative padding.",
    ],
    "onnx": [
        f"onnxruntime CPUExecutionProvider, opset {ONNX_OPSET}, one model per config, "
        "graph optimizations disabled, 1 thread.",
        "auto_pad SAME_UPPER -> 'same', SAME_LOWER -> 'same_lower', VALID -> 'valid'; "
        "NOTSET -> explicit [[begin, end], ...] per axis (the ONNX pads attribute lists all "
        "begins then all ends). Records whose call says no pads attribute used the default "
        "(zeros).",
        "padding {'auto_pad': ..., 'pads': ...} = both attributes given (invalid per spec).",
        "output_size = ConvTranspose output_shape attribute (spatial dims).",
        "'shape_inference' (present only where it disagrees with onnxruntime) = the result of "
        "onnx.shape_inference.infer_shapes(strict_mode=True) for the output.",
        "count_include_pad null = attribute omitted (ONNX default 0). ceil_mode false includes "
        "the omitted attribute.",
        "max_pool is run on increasing and on decreasing data; avg_pool 'divisor' names the "
        "divisor rule that reproduced the values (exclude_pad = in-input taps, include_pad = "
        "taps inside [-pad_begin, n + pad_end), kernel = prod(k)).",
    ],
}


def clean_record(cfg, result):
    rec = {k: v for k, v in cfg.items() if not k.startswith("_")}
    rec["result"] = result
    return rec


def write_json(path, meta, records):
    with open(path, "w") as f:
        f.write('{"meta": ' + json.dumps(meta, separators=(",", ":"), sort_keys=True)
                + ',\n"records": [\n')
        f.write(",\n".join(json.dumps(r, separators=(",", ":")) for r in records))
        f.write("\n]}\n")


def generate(fw, count, seed, out_dir, ops=True, jobs=2):
    t0 = time.time()
    runner = RUNNERS[fw](jobs)
    fw_seed = (seed * 1000003 + zlib.crc32(fw.encode())) % (2 ** 32)
    rng = np.random.default_rng(fw_seed)
    gen = GENERATORS[fw](rng)
    seen = set()
    items = []
    while len(items) < count:
        cfg = next(gen)
        key = cfg_key(cfg)
        if key in seen:
            continue
        seen.add(key)
        do_sym = fw == "tensorflow" and rng.random() < 0.3
        items.append((cfg, int(rng.integers(0, 2 ** 31)), do_sym))
    records = []
    n_err = 0
    for (cfg, _, _), (result, extras) in zip(items, runner.run_many(items)):
        if "error" in result:
            n_err += 1
        rec = clean_record(cfg, result)
        rec.update(extras)
        records.append(rec)
        if VERBOSE:
            print(f"\n{len(records)}: {cfg_key(cfg)} -> {result}", file=sys.stderr, flush=True)
        if len(records) % 50 == 0 or len(records) == count:
            print(f"\r[{fw}] {len(records)}/{count} ({n_err} rejected, "
                  f"{time.time() - t0:.0f}s)", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    ops_counts = {}
    for r in records:
        ops_counts.setdefault(r["op"], [0, 0])[0 if "error" not in r["result"] else 1] += 1
    meta = {"framework": fw, "versions": runner.versions, "seed": seed, "count": count,
            "n_valid": count - n_err, "n_rejected": n_err,
            "per_op_valid_rejected": ops_counts,
            "generator": "tools/make_golden.py", "notes": NOTES[fw]}
    if fw == "tensorflow":
        meta["symbolic_disagreements"] = runner.n_sym_disagree
        meta["onednn_off_differs"] = runner.n_onednn_differs

    if fw == "onnx":
        meta["opset"] = ONNX_OPSET
        meta["shape_inference_disagreements"] = sum("shape_inference" in r for r in records)
    meta["worker_crashes"] = runner.crashes
    os.makedirs(out_dir, exist_ok=True)
    write_json(os.path.join(out_dir, f"{fw}.json"), meta, records)
    if fw == "tensorflow" and ops:
        cases = runner.numeric_ops(fw_seed + 1, 72)
        ometa = {"framework": "tensorflow", "versions": runner.versions, "seed": seed,
                 "layout": "NHWC input, HWIO filter; outputs are TF's float32 results",
                 "generator": "tools/make_golden.py"}
        write_json(os.path.join(out_dir, "tensorflow_ops.json"), ometa, cases)
    runner.close()
    dt = time.time() - t0
    print(f"[{fw}] wrote {count} records ({count - n_err} valid, {n_err} rejected) "
          f"in {dt:.1f}s", file=sys.stderr)
    return dt


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--framework", default="all", choices=[*FRAMEWORKS, "all"])
    ap.add_argument("--count", type=int, default=2400)
    ap.add_argument("--seed", type=int, default=20240521)
    ap.add_argument("--out", default=os.path.join("tests", "golden"))
    ap.add_argument("--no-ops", action="store_true",
                    help="do not (re)write tensorflow_ops.json")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                    help="worker processes for jax/onnx (tensorflow always uses two: oneDNN "
                         "on and off)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker is not None:
        return worker_main(args.worker)
    fws = FRAMEWORKS if args.framework == "all" else (args.framework,)
    for fw in fws:
        generate(fw, args.count, args.seed, args.out, ops=not args.no_ops, jobs=args.jobs)


if __name__ == "__main__":
    main()
