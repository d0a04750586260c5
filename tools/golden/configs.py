"""Random configurations per framework, drawn from one seeded generator.

Every draw below is part of the recorded experiment: changing the order or the number of
``rng`` calls changes every later configuration, so the committed files could no longer be
reproduced (``tests/test_tools_golden.py`` replays the draws against them).
"""
from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator

import numpy as np

from .calls import describe
from .schema import Config, Item, base_cfg, cfg_key, effective_kernel

Rng = np.random.Generator
Pairs = list[list[int]]
ONNX_AUTO_PAD = {"SAME_UPPER": "same", "SAME_LOWER": "same_lower", "VALID": "valid"}


def draw_rank(rng: Rng) -> int:
    return int(rng.choice([1, 2, 3], p=[0.4, 0.35, 0.25]))


def per_axis(rng: Rng, rank: int, lo: int, hi: int, same_p: float = 0.5) -> list[int]:
    """Random ints in [lo, hi] per axis; often identical across axes (as users write them)."""
    if rng.random() < same_p:
        v = int(rng.integers(lo, hi + 1))
        return [v] * rank
    return [int(v) for v in rng.integers(lo, hi + 1, size=rank)]


def draw_sizes(rng: Rng, rank: int, edge: bool) -> list[int]:
    if edge:
        return per_axis(rng, rank, 1, 4, 0.4)
    return per_axis(rng, rank, 1, {1: 12, 2: 12, 3: 8}[rank], 0.5)


def edge_kernel(rng: Rng, n: list[int], pads: list[int], d: list[int]) -> list[int]:
    """A kernel whose effective size is close to the padded input (fits exactly, off by one)."""
    k = []
    for a in range(len(n)):
        target = n[a] + pads[a] + int(rng.integers(-1, 2))
        kk = max(1, (target - 1) // d[a] + 1)
        k.append(int(min(kk, 7)))
    return k


def draw_pairs(rng: Rng, rank: int, lo: int, hi: int, neg_p: float) -> Pairs:
    """[before, after] per axis in [0, hi], each negative (down to lo) with probability neg_p."""
    out = []
    for _ in range(rank):
        a, b = (int(v) for v in rng.integers(max(lo, 0), hi + 1, size=2))
        if rng.random() < neg_p:
            a = int(rng.integers(lo, 0))
        if rng.random() < neg_p:
            b = int(rng.integers(lo, 0))
        out.append([a, b])
    return out


def pair_totals(pad: object, rank: int) -> list[int]:
    """before + after per axis of explicit pads; 0 for a padding mode."""
    if isinstance(pad, list):
        return [a + b for a, b in pad]
    return [0] * rank


def _draw_frame(rng: Rng, conv: float, conv_transpose: float,
                max_pool: float) -> tuple[str, int, bool, list[int]]:
    """The op (by cumulative probabilities), rank, whether the config is an edge case (kernel
    close to the input) and the input sizes."""
    r = rng.random()
    op = ("conv" if r < conv else "conv_transpose" if r < conv_transpose
          else "max_pool" if r < max_pool else "avg_pool")
    rank = draw_rank(rng)
    edge = bool(rng.random() < 0.25)
    return op, rank, edge, draw_sizes(rng, rank, edge)


# --------------------------------------------------------------------------------------------
# TensorFlow / Keras 3
# --------------------------------------------------------------------------------------------

def _tf_conv_stride_dilation(rng: Rng, rank: int) -> tuple[list[int], list[int]]:
    m = rng.random()
    if m < 0.5:
        return per_axis(rng, rank, 1, 4), [1] * rank
    if m < 0.85:
        return [1] * rank, per_axis(rng, rank, 1, 3)
    return per_axis(rng, rank, 1, 4, 0.3), per_axis(rng, rank, 1, 3, 0.3)


def _tf_conv(rng: Rng, op: str, rank: int, edge: bool, n: list[int]) -> Config:
    s, d = _tf_conv_stride_dilation(rng, rank)
    pr = rng.random()
    causal_p = (0.2 if rank == 1 else 0.06) if op == "conv" else 0.04
    pad = "causal" if pr < causal_p else ("valid" if pr < (1 + causal_p) / 2 else "same")
    if rng.random() < 0.02:
        pad = "full" if rng.random() < 0.5 else "same_lower"  # not Keras modes
    k = edge_kernel(rng, n, [0] * rank, d) if edge else per_axis(rng, rank, 1, 6)
    op_pad = None
    if op == "conv_transpose" and rng.random() < 0.5:
        op_pad = [int(rng.integers(0, ss + 1)) for ss in s]
    return base_cfg(op, n, k, s, d, pad, output_padding=op_pad)


def _tf_pool(rng: Rng, op: str, rank: int, edge: bool, n: list[int]) -> Config:
    k = edge_kernel(rng, n, [0] * rank, [1] * rank) if edge else per_axis(rng, rank, 1, 6)
    s = per_axis(rng, rank, 1, 4)
    pr = rng.random()
    pad = "causal" if pr < 0.06 else ("valid" if pr < 0.53 else "same")
    cfg = base_cfg(op, n, k, s, [1] * rank, pad)
    if op == "avg_pool":
        cfg["_divisors"] = ["exclude_pad", "include_pad", "kernel"]
    return cfg


def gen_tensorflow_cfgs(rng: Rng) -> Iterator[Config]:
    while True:
        op, rank, edge, n = _draw_frame(rng, 0.33, 0.55, 0.78)
        conv = op in ("conv", "conv_transpose")
        yield (_tf_conv if conv else _tf_pool)(rng, op, rank, edge, n)


# --------------------------------------------------------------------------------------------
# JAX
# --------------------------------------------------------------------------------------------

def _jax_conv_transpose(rng: Rng, pr: float, n: list[int], s: list[int],
                        d: list[int]) -> Config:
    rank = len(n)
    k = per_axis(rng, rank, 1, 6)
    pad: str | dict[str, Pairs]
    if pr < 0.27:
        pad = "same"
    elif pr < 0.54:
        pad = "valid"
    elif pr < 0.6:
        pad = ["same_lower", "full", "causal"][int(rng.integers(0, 3))]
    else:
        pad = {"raw": [[int(rng.integers(-2, ee + 2)), int(rng.integers(-2, ee + 2))]
                       for ee in effective_kernel(k, d)]}
    cfg = base_cfg("conv_transpose", n, k, s, d, pad)
    cfg["_flip"] = True
    return cfg


def _jax_forward(rng: Rng, op: str, pr: float, edge: bool, n: list[int], s: list[int],
                 d: list[int]) -> Config:
    rank = len(n)
    pad: str | Pairs
    if pr < 0.2:
        pad = "valid"
    elif pr < 0.4:
        pad = "same"
    elif pr < 0.55:
        pad = "same_lower"
    elif pr < 0.58:
        pad = "full" if rng.random() < 0.5 else "causal"  # not lax padding types
    else:
        pad = draw_pairs(rng, rank, -3, 4, 0.2)
    k = edge_kernel(rng, n, pair_totals(pad, rank), d) if edge else per_axis(rng, rank, 1, 6)
    cfg = base_cfg(op, n, k, s, d, pad)
    if op == "avg_pool":
        cfg["_divisors"] = ["sum"]
    return cfg


def gen_jax_cfgs(rng: Rng) -> Iterator[Config]:
    while True:
        op, rank, edge, n = _draw_frame(rng, 0.35, 0.6, 0.8)
        s = per_axis(rng, rank, 1, 4)
        d = per_axis(rng, rank, 1, 3) if rng.random() < 0.4 else [1] * rank
        pr = rng.random()
        if op == "conv_transpose":
            yield _jax_conv_transpose(rng, pr, n, s, d)
        else:
            yield _jax_forward(rng, op, pr, edge, n, s, d)


# --------------------------------------------------------------------------------------------
# ONNX Runtime
# --------------------------------------------------------------------------------------------

def onnx_pads_attr(pairs: Pairs) -> list[int]:
    """ONNX's pads attribute lists all begins, then all ends."""
    return [p[0] for p in pairs] + [p[1] for p in pairs]


def _onnx_padding(rng: Rng, rank: int, attrs: dict[str, object]) -> str | Pairs | dict[str, object]:
    """The recorded padding; sets the node's pads / auto_pad attributes in attrs."""
    pr = rng.random()
    if pr < 0.5:
        pads = draw_pairs(rng, rank, -2, 4, 0.04)
        attrs["pads"] = onnx_pads_attr(pads)
        return pads
    if pr < 0.55:
        return [[0, 0]] * rank  # pads attribute omitted
    if pr < 0.96:
        ap = "SAME_UPPER" if pr < 0.72 else "SAME_LOWER" if pr < 0.86 else "VALID"
        attrs["auto_pad"] = ap
        return ONNX_AUTO_PAD[ap]
    # invalid: pads together with auto_pad
    ap = ["SAME_UPPER", "SAME_LOWER", "VALID"][int(rng.integers(0, 3))]
    pads = draw_pairs(rng, rank, 0, 2, 0.0)
    attrs["auto_pad"] = ap
    attrs["pads"] = onnx_pads_attr(pads)
    return {"auto_pad": ONNX_AUTO_PAD[ap], "pads": pads}


def _onnx_conv_transpose(rng: Rng, cfg: Config, attrs: dict[str, object]) -> None:
    """Optional output_padding and output_shape attributes."""
    s, d = cfg["stride"], cfg["dilation"]
    if rng.random() < 0.5:
        cfg["output_padding"] = [int(rng.integers(0, max(ss, dd) + 1)) for ss, dd in zip(s, d)]
        attrs["output_padding"] = cfg["output_padding"]
    if rng.random() < 0.2:
        e = effective_kernel(cfg["kernel"], d)
        cfg["output_size"] = [max(1, (nn - 1) * ss + ee + int(rng.integers(-3, ss + 1)))
                              for nn, ss, ee in zip(cfg["input"], s, e)]
        attrs["output_shape"] = cfg["output_size"]


def _onnx_pool(rng: Rng, cfg: Config, attrs: dict[str, object]) -> None:
    """ceil_mode / count_include_pad attributes (each sometimes omitted) and divisor hints."""
    cfg["ceil_mode"] = bool(rng.random() < 0.4)
    if cfg["ceil_mode"]:
        attrs["ceil_mode"] = 1
    elif rng.random() < 0.3:
        attrs["ceil_mode"] = 0
    if cfg["op"] == "avg_pool":
        cr = rng.random()
        if cr < 0.7:
            cfg["count_include_pad"] = bool(cr >= 0.35)
            attrs["count_include_pad"] = int(cr >= 0.35)
        cfg["_divisors"] = (["include_pad", "kernel", "exclude_pad"] if cfg["count_include_pad"]
                            else ["exclude_pad", "include_pad", "kernel"])
    if isinstance(cfg["padding"], list):
        cfg["_pad_decl"] = [p[1] for p in cfg["padding"]]
    elif cfg["padding"] == "valid":
        cfg["_pad_decl"] = [0] * len(cfg["input"])  # windows may overhang the end, but no pads


def _onnx_cfg(rng: Rng, op: str, edge: bool, n: list[int], s: list[int],
              d: list[int]) -> Config:
    rank = len(n)
    attrs: dict[str, object] = {}
    pad = _onnx_padding(rng, rank, attrs)
    if op == "max_pool" and rng.random() < 0.04:
        attrs["storage_order"] = 0  # harmless, exercises attribute parsing
    k = edge_kernel(rng, n, pair_totals(pad, rank), d) if edge else per_axis(rng, rank, 1, 6)
    cfg = base_cfg(op, n, k, s, d, pad)
    if op == "conv_transpose":
        _onnx_conv_transpose(rng, cfg, attrs)
    elif op != "conv":
        _onnx_pool(rng, cfg, attrs)
    if any(v != 1 for v in d) or rng.random() < 0.5:
        attrs["dilations"] = d
    if any(v != 1 for v in s) or rng.random() < 0.5:
        attrs["strides"] = s
    cfg["_attrs"] = attrs
    return cfg


def gen_onnx_cfgs(rng: Rng) -> Iterator[Config]:
    while True:
        op, rank, edge, n = _draw_frame(rng, 0.3, 0.55, 0.8)
        s = per_axis(rng, rank, 1, 4)
        d = per_axis(rng, rank, 1, 3) if (op != "avg_pool" or rng.random() < 0.5) \
            and rng.random() < 0.35 else [1] * rank
        yield _onnx_cfg(rng, op, edge, n, s, d)


# --------------------------------------------------------------------------------------------
# The items of one framework's file
# --------------------------------------------------------------------------------------------

GENERATORS: dict[str, Callable[[Rng], Iterator[Config]]] = {
    "tensorflow": gen_tensorflow_cfgs, "jax": gen_jax_cfgs, "onnx": gen_onnx_cfgs}


def framework_seed(fw: str, seed: int) -> int:
    """The seed of one framework's draws (the command line's seed mixed with its name)."""
    return (seed * 1000003 + zlib.crc32(fw.encode())) % (2 ** 32)


def draw_items(fw: str, count: int, seed: int) -> list[Item]:
    """count distinct configurations of fw, each with its data seed and symbolic flag."""
    rng = np.random.default_rng(framework_seed(fw, seed))
    gen = GENERATORS[fw](rng)
    seen = set()
    items: list[Item] = []
    while len(items) < count:
        cfg = next(gen)
        key = cfg_key(cfg)
        if key in seen:
            continue
        seen.add(key)
        do_sym = fw == "tensorflow" and bool(rng.random() < 0.3)
        cfg["call"] = describe(fw, cfg)
        items.append(Item(cfg, int(rng.integers(0, 2 ** 31)), do_sym))
    return items
