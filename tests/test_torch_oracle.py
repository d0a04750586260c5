"""Differential tests: convgeom's PyTorch dialect against live PyTorch.

Every test draws thousands of configurations from a seeded ``random.Random`` (valid and
invalid ones), runs the real PyTorch op on a tiny tensor and convgeom on the same parameters,
and requires

* accept/reject agreement: convgeom raises ``GeometryError`` exactly when PyTorch raises
  (``RuntimeError``, ``ValueError`` or ``TypeError``);
* the full output shape ``(N, C, *spatial)`` when both accept;
* for a subset of accepted configurations, PyTorch's output *values* against a direct
  computation that uses convgeom's per-side ``pad_before``/``pad_after`` (so a wrong split of
  an odd total is caught even when the shape is right).

A failure message lists each mismatching configuration as a dict (``op``, ``seed``, ``i`` and
the parameters), so it reproduces with the op's ``_check_*`` helper. Run with ``-s`` to see
the per-op count table printed by ``test_summary_counts``.
"""

from __future__ import annotations

import random
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

import convgeom  # noqa: E402
from _torch_ops import (  # noqa: E402
    ADAPTIVE_AVG,
    ADAPTIVE_MAX,
    AVGPOOL,
    CONV,
    CONV_MODULE,
    CONVT,
    CONVT_MODULE,
    MAXPOOL,
)
from convgeom import GeometryError  # noqa: E402

SEED = 20240613
TORCH_ERRORS = (RuntimeError, ValueError, TypeError)

# Number of configurations each op must have checked (the summary test enforces these).
TARGETS = {
    "conv": 5000,
    "conv_module": 1500,
    "conv_explicit": 1500,
    "conv_transpose": 4000,
    "conv_transpose_output_size": 1500,
    "max_pool": 4000,
    "avg_pool": 4000,
    "unfold": 1500,
    "adaptive_avg_pool": 800,
    "adaptive_max_pool": 800,
    "interpolate": 1500,
    "conv_transpose_small": 1500,
    "forward_small": 1200,
}
COUNTS: Counter[str] = Counter()
VALUE_CHECKS: Counter[str] = Counter()
ACCEPTED: Counter[str] = Counter()


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Any:
    """Tiny tensors: one intra-op thread is ~50x faster than the default pool."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


# ----------------------------------------------------------------------------------------
# running both sides
# ----------------------------------------------------------------------------------------
class Outcome:
    """What one side did: ``shape`` (accepted) or ``error`` (rejected)."""

    __slots__ = ("shape", "error", "value")

    def __init__(self, shape: tuple[int, ...] | None = None, error: str | None = None, value: Any = None):
        self.shape = shape
        self.error = error
        self.value = value

    @property
    def ok(self) -> bool:
        return self.error is None

    def __repr__(self) -> str:
        return f"shape {self.shape}" if self.ok else f"error {self.error}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:160] if text else ''}"


def run_torch(fn: Callable[[], Any]) -> Outcome:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            y = fn()
    except TORCH_ERRORS as exc:
        return Outcome(error=_first_line(exc))
    return Outcome(shape=tuple(y.shape), value=y)


def run_cg(fn: Callable[[], Any]) -> Outcome:
    """convgeom side; any exception other than GeometryError is reported as a crash."""
    try:
        r = fn()
    except GeometryError as exc:
        return Outcome(error=_first_line(exc))
    except Exception as exc:  # noqa: BLE001 - a crash is a finding, not a test error
        return Outcome(error="CRASH " + _first_line(exc), value="crash")
    return Outcome(shape=(), value=r)


class Checker:
    """Collects mismatches of one op; ``finish`` fails the test listing them by class."""

    def __init__(self, op: str) -> None:
        self.op = op
        self.mismatches: dict[str, list[str]] = defaultdict(list)
        self.n = 0

    def compare(self, cfg: dict[str, Any], t: Outcome, c: Outcome, shape: Callable[[Any], tuple[int, ...]]) -> bool:
        """Accept/reject and shape agreement. Returns True when both accepted with equal shapes."""
        self.n += 1
        if c.value == "crash":
            self.add("convgeom raised a non-GeometryError", cfg, t, c)
            return False
        if t.ok != c.ok:
            self.add("torch accepts, convgeom rejects" if t.ok else "torch rejects, convgeom accepts", cfg, t, c)
            return False
        if not t.ok:
            return False
        ACCEPTED[self.op] += 1
        expected = shape(c.value)
        if expected != t.shape:
            self.add("output shape differs", cfg, t, Outcome(shape=expected))
            return False
        return True

    def add(self, kind: str, cfg: dict[str, Any], t: Outcome | str, c: Outcome | str) -> None:
        self.mismatches[kind].append(f"{cfg}\n        torch: {t}\n        convgeom: {c}")

    def value_mismatch(self, cfg: dict[str, Any], what: str) -> None:
        self.mismatches["values differ from a direct computation with convgeom's geometry"].append(
            f"{cfg}\n        {what}"
        )

    def finish(self) -> None:
        COUNTS[self.op] += self.n
        if self.mismatches:
            lines = [f"{self.op}: {sum(map(len, self.mismatches.values()))} mismatches in {self.n} configs"]
            for kind, items in self.mismatches.items():
                lines.append(f"  [{kind}] x{len(items)}, e.g.:")
                lines.extend("    " + item for item in items[:4])
            pytest.fail("\n".join(lines), pytrace=False)


# ----------------------------------------------------------------------------------------
# random parameters
# ----------------------------------------------------------------------------------------
def run_oracle(op: str, seed: int, generate: Callable[[random.Random], dict[str, Any]],
               check: Callable[[dict[str, Any], Checker, torch.Generator, int], None]) -> None:
    """``TARGETS[op]`` configurations drawn by ``generate`` from ``random.Random(SEED + seed)``,
    each checked (with its index, also stored as ``cfg["i"]``) against live torch."""
    rng, gen, chk = random.Random(SEED + seed), torch.Generator().manual_seed(SEED), Checker(op)
    for i in range(TARGETS[op]):
        cfg = generate(rng)
        cfg["i"] = i
        check(cfg, chk, gen, i)
    chk.finish()


def pick(rng: random.Random, lo: int, hi: int, junk: tuple[int, ...] = (), p_junk: float = 0.0) -> int:
    if junk and rng.random() < p_junk:
        return rng.choice(junk)
    return rng.randint(lo, hi)


def form(rng: random.Random, values: list[int], nd: int) -> int | tuple[int, ...]:
    """Pass per-axis values as an int when they agree (half the time), else a tuple."""
    if len(set(values)) == 1 and rng.random() < 0.5:
        return values[0]
    return tuple(values)


def per_axis(rng: random.Random, nd: int, lo: int, hi: int, junk: tuple[int, ...] = (), p_junk: float = 0.0,
             p_same: float = 0.5) -> list[int]:
    """One value per axis; with probability ``p_same`` all axes share one value."""
    if rng.random() < p_same:
        return [pick(rng, lo, hi, junk, p_junk)] * nd
    return [pick(rng, lo, hi, junk, p_junk / nd) for _ in range(nd)]


def sizes(rng: random.Random, nd: int, hi: int = 12) -> list[int]:
    top = {1: hi, 2: min(hi, 10), 3: min(hi, 7)}[nd]
    return [rng.randint(1, top) for _ in range(nd)]


def input_form(n: list[int]) -> int | tuple[int, ...]:
    return n[0] if len(n) == 1 else tuple(n)


def torch_pad_order(pairs: list[tuple[int, int]]) -> tuple[int, ...]:
    """(before, after) per axis, first axis first -> F.pad order (last axis first)."""
    return tuple(v for b, a in reversed(pairs) for v in (b, a))


def close(a: Any, b: Any) -> bool:
    return a.shape == b.shape and bool(torch.allclose(a, b, rtol=1e-9, atol=1e-9))


DT = torch.float64


def randn(gen: torch.Generator, *shape: int) -> Any:
    return torch.randn(*shape, generator=gen, dtype=DT)


# ----------------------------------------------------------------------------------------
# conv: functional F.conv*d (int / per-axis / 'same' / 'valid' padding, dilation, groups)
# ----------------------------------------------------------------------------------------
def gen_conv(rng: random.Random) -> dict[str, Any]:
    nd = rng.randint(1, 3)
    n = sizes(rng, nd)
    k = per_axis(rng, nd, 1, 5, (0,), 0.03)
    u = rng.random()
    if u < 0.25:
        padding: Any = "same"
    elif u < 0.35:
        padding = "valid"
    else:
        padding = form(rng, per_axis(rng, nd, 0, 3, (-1,), 0.05), nd)
    s = per_axis(rng, nd, 1, 3, (0, -1), 0.04, p_same=0.7)
    if padding == "same" and rng.random() < 0.7:
        s = [1] * nd
    d = per_axis(rng, nd, 1, 3, (0, -1), 0.04, p_same=0.7)
    g = rng.choice((1, 1, 1, 2, 3)) if rng.random() > 0.03 else rng.choice((0, -1))
    cpg, opg = rng.randint(1, 2), rng.randint(1, 2)
    return dict(op="conv", nd=nd, n=n, k=k, k_arg=form(rng, k, nd), stride=form(rng, s, nd), padding=padding,
                dilation=form(rng, d, nd), groups=g, in_ch=max(g, 1) * cpg, out_ch=max(g, 1) * opg)


def _check_conv(cfg: dict[str, Any], chk: Checker, gen: torch.Generator, values: bool) -> None:
    nd, g = cfg["nd"], cfg["groups"]
    x = randn(gen, 1, cfg["in_ch"], *cfg["n"])
    w = randn(gen, cfg["out_ch"], cfg["in_ch"] // g if g > 0 else cfg["in_ch"], *cfg["k"])
    t = run_torch(lambda: CONV[nd](x, w, None, cfg["stride"], cfg["padding"], cfg["dilation"], g))
    c = run_cg(lambda: convgeom.conv(input_form(cfg["n"]), cfg["k_arg"], cfg["stride"],
                                     cfg["padding"], cfg["dilation"], g,
                                     in_channels=cfg["in_ch"], out_channels=cfg["out_ch"]))
    if chk.compare(cfg, t, c, lambda r: (1, cfg["out_ch"], *r.output)) and values:
        r = c.value
        ref = CONV[nd](F.pad(x, r.torch_pad), w, None, cfg["stride"], 0, cfg["dilation"], g)
        VALUE_CHECKS[chk.op] += 1
        if not close(t.value, ref):
            chk.value_mismatch(cfg, f"F.pad(x, {r.torch_pad}) then padding 0 differs from torch's padding")


def test_conv_functional() -> None:
    run_oracle("conv", 1, gen_conv,
               lambda cfg, chk, gen, i: _check_conv(cfg, chk, gen, values=i % 3 == 0))


# ----------------------------------------------------------------------------------------
# conv: nn.Conv*d modules (padding_mode, groups vs channels, constructor checks)
# ----------------------------------------------------------------------------------------
MODES = ("zeros", "reflect", "replicate", "circular")


def gen_conv_module(rng: random.Random) -> dict[str, Any]:
    nd = rng.randint(1, 3)
    n = sizes(rng, nd, 8)
    k = form(rng, per_axis(rng, nd, 1, 5, (0, -1), 0.03), nd)
    u = rng.random()
    if u < 0.25:
        padding: Any = "same"
    elif u < 0.33:
        padding = "valid"
    else:
        padding = form(rng, per_axis(rng, nd, 0, 5, (-1,), 0.05), nd)
    s = per_axis(rng, nd, 1, 3, (0,), 0.02, p_same=0.7)
    if padding == "same" and rng.random() < 0.7:
        s = [1] * nd
    d = per_axis(rng, nd, 1, 3, (0,), 0.02, p_same=0.7)
    g = rng.choice((1, 1, 2, 3)) if rng.random() > 0.03 else 0
    if g > 0 and rng.random() < 0.8:
        in_ch, out_ch = g * rng.randint(1, 2), g * rng.randint(1, 2)
    else:
        in_ch, out_ch = rng.randint(1, 4), rng.randint(1, 4)
    return dict(op="conv_module", nd=nd, n=n, k=k, stride=form(rng, s, nd), padding=padding,
                dilation=form(rng, d, nd), groups=g, in_ch=in_ch, out_ch=out_ch,
                padding_mode=rng.choice(MODES))


def _check_conv_module(cfg: dict[str, Any], chk: Checker, gen: torch.Generator, values: bool) -> None:
    nd = cfg["nd"]
    x = randn(gen, 1, cfg["in_ch"], *cfg["n"])
    holder: dict[str, Any] = {}

    def call() -> Any:
        m = CONV_MODULE[nd](cfg["in_ch"], cfg["out_ch"], cfg["k"], cfg["stride"], cfg["padding"], cfg["dilation"],
                            cfg["groups"], bias=False, padding_mode=cfg["padding_mode"], dtype=DT)
        holder["m"] = m
        with torch.no_grad():
            return m(x)

    t = run_torch(call)
    c = run_cg(lambda: convgeom.conv(input_form(cfg["n"]), cfg["k"], cfg["stride"], cfg["padding"], cfg["dilation"],
                                     cfg["groups"], padding_mode=cfg["padding_mode"],
                                     in_channels=cfg["in_ch"], out_channels=cfg["out_ch"]))
    if chk.compare(cfg, t, c, lambda r: (1, cfg["out_ch"], *r.output)) and values:
        r, m = c.value, holder["m"]
        mode = "constant" if cfg["padding_mode"] == "zeros" else cfg["padding_mode"]
        with torch.no_grad():
            ref = CONV[nd](F.pad(x, r.torch_pad, mode=mode), m.weight, None, m.stride, 0, m.dilation, m.groups)
        VALUE_CHECKS[chk.op] += 1
        if not close(t.value, ref):
            chk.value_mismatch(cfg, f"F.pad(x, {r.torch_pad}, mode={mode!r}) then padding 0 differs from the module")


def test_conv_modules_padding_mode() -> None:
    run_oracle("conv_module", 2, gen_conv_module,
               lambda cfg, chk, gen, i: _check_conv_module(cfg, chk, gen, values=i % 2 == 0))


# ----------------------------------------------------------------------------------------
# conv: explicit (before, after) pairs == F.pad(x, pads, mode) then a padding-0 convolution
# ----------------------------------------------------------------------------------------
def gen_conv_explicit(rng: random.Random) -> dict[str, Any]:
    nd = rng.randint(1, 3)
    n = sizes(rng, nd, 8)
    k = per_axis(rng, nd, 1, 5)
    pairs = [(pick(rng, 0, 4, (-1, -2), 0.03), pick(rng, 0, 4, (-1, -2), 0.03)) for _ in range(nd)]
    s = per_axis(rng, nd, 1, 3, p_same=0.7)
    d = per_axis(rng, nd, 1, 3, p_same=0.7)
    return dict(op="conv_explicit", nd=nd, n=n, k=k, k_arg=form(rng, k, nd), stride=form(rng, s, nd), pairs=pairs,
                dilation=form(rng, d, nd), padding_mode=rng.choice(MODES))


def _check_conv_explicit(cfg: dict[str, Any], chk: Checker, gen: torch.Generator) -> None:
    nd = cfg["nd"]
    x = randn(gen, 1, 1, *cfg["n"])
    w = randn(gen, 1, 1, *cfg["k"])
    mode = "constant" if cfg["padding_mode"] == "zeros" else cfg["padding_mode"]
    pads = torch_pad_order(cfg["pairs"])
    t = run_torch(lambda: CONV[nd](F.pad(x, pads, mode=mode), w, None, cfg["stride"], 0, cfg["dilation"]))
    c = run_cg(lambda: convgeom.conv(input_form(cfg["n"]), cfg["k_arg"], cfg["stride"],
                                     tuple(cfg["pairs"]), cfg["dilation"], padding_mode=cfg["padding_mode"]))
    if chk.compare(cfg, t, c, lambda r: (1, 1, *r.output)):
        VALUE_CHECKS[chk.op] += 1
        if c.value.torch_pad != pads:
            chk.value_mismatch(cfg, f"torch_pad {c.value.torch_pad} != the F.pad tuple {pads}")


def test_conv_explicit_pairs() -> None:
    run_oracle("conv_explicit", 3, gen_conv_explicit,
               lambda cfg, chk, gen, i: _check_conv_explicit(cfg, chk, gen))


# ----------------------------------------------------------------------------------------
# conv_transpose: functional (output_padding, dilation, groups); values = cropped full output
# ----------------------------------------------------------------------------------------
def gen_conv_transpose(rng: random.Random) -> dict[str, Any]:
    nd = rng.randint(1, 3)
    n = sizes(rng, nd, 8)
    k = per_axis(rng, nd, 1, 5, (0,), 0.03)
    s = per_axis(rng, nd, 1, 3, (0, -1), 0.04, p_same=0.6)
    d = per_axis(rng, nd, 1, 3, (0, -1), 0.04, p_same=0.6)
    padding: Any = form(rng, per_axis(rng, nd, 0, 4, (-1,), 0.05), nd)
    if rng.random() < 0.03:
        padding = rng.choice(("same", "valid"))
    if rng.random() < 0.2:
        op: Any = None
    elif rng.random() < 0.75:  # mostly below max(stride, dilation)
        op = form(rng, [rng.randint(0, max(si, di, 1) - 1) for si, di in zip(s, d)], nd)
    else:
        op = form(rng, per_axis(rng, nd, 0, 3, (-1,), 0.1), nd)
    g = rng.choice((1, 1, 1, 2))
    return dict(op="conv_transpose", nd=nd, n=n, k=k, k_arg=form(rng, k, nd), stride=form(rng, s, nd), padding=padding,
                output_padding=op, dilation=form(rng, d, nd), groups=g,
                in_ch=g * rng.randint(1, 2), out_ch=g * rng.randint(1, 2))


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    old = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def default_threads(c: Outcome) -> AbstractContextManager[None]:
    """Where convgeom sees an output of 0 (an empty tensor, or "Output size is too small"), run
    torch with more than one thread as convgeom assumes: with one thread a 1x1 transposed conv at
    stride 1 takes the native kernel (``use_mkldnn`` in ``Convolution.cpp``)."""
    zero = "Output size is too small" in (c.error or "") or (c.ok and 0 in c.value.output)
    return torch_threads(2) if zero else nullcontext()


def _check_conv_transpose(cfg: dict[str, Any], chk: Checker, gen: torch.Generator, values: bool) -> None:
    """Accept/reject and shape in float32 (torch's default dtype: an output of 0 is an empty
    tensor where float32 runs oneDNN, an error in float64); values in float64."""
    nd, g = cfg["nd"], cfg["groups"]
    x = randn(gen, 1, cfg["in_ch"], *cfg["n"])
    w = randn(gen, cfg["in_ch"], cfg["out_ch"] // g, *cfg["k"])
    op = 0 if cfg["output_padding"] is None else cfg["output_padding"]
    c = run_cg(lambda: convgeom.conv_transpose(input_form(cfg["n"]), cfg["k_arg"],
                                               cfg["stride"], cfg["padding"], cfg["output_padding"],
                                               cfg["dilation"], groups=g))
    # dilation 0 (junk): oneDNN accepts it with a kernel of 1, where it changes nothing; convgeom
    # refuses it as the native kernel does ("dilation should be greater than zero"), so those
    # configurations are decided in float64
    dilation = cfg["dilation"] if isinstance(cfg["dilation"], tuple) else (cfg["dilation"],)
    dtype = torch.float32 if min(dilation) > 0 else DT
    with default_threads(c):
        t = run_torch(lambda: CONVT[nd](x.to(dtype), w.to(dtype), None, cfg["stride"], cfg["padding"], op, g,
                                        cfg["dilation"]))
    if chk.compare(cfg, t, c, lambda r: (1, cfg["out_ch"], *r.output)) and values and 0 not in c.value.output:
        r = c.value
        got = CONVT[nd](x, w, None, cfg["stride"], cfg["padding"], op, g, cfg["dilation"])
        full = CONVT[nd](x, w, None, cfg["stride"], 0, 0, g, cfg["dilation"])
        # crop pad_before from the start and pad_after from the end (negative: zero cells added)
        ref = F.pad(full, tuple(-v for v in r.torch_pad))
        VALUE_CHECKS[chk.op] += 1
        if not close(got, ref):
            chk.value_mismatch(cfg, f"full output cropped by {r.pad} differs from torch's output")


def test_conv_transpose_functional() -> None:
    run_oracle("conv_transpose", 4, gen_conv_transpose,
               lambda cfg, chk, gen, i: _check_conv_transpose(cfg, chk, gen, values=i % 3 == 0))


# ----------------------------------------------------------------------------------------
# conv_transpose: nn.ConvTranspose*d(...)(x, output_size=...)
# ----------------------------------------------------------------------------------------
def gen_conv_transpose_output_size(rng: random.Random) -> dict[str, Any]:
    nd = rng.randint(1, 3)
    n = sizes(rng, nd, 7)
    k = per_axis(rng, nd, 1, 5)
    s = per_axis(rng, nd, 1, 4, p_same=0.6)
    d = per_axis(rng, nd, 1, 3, p_same=0.6)
    p = per_axis(rng, nd, 0, 3, p_same=0.7)
    lo = [(ni - 1) * si - 2 * pi + di * (ki - 1) + 1 for ni, si, pi, di, ki in zip(n, s, p, d, k)]
    if rng.random() < 0.6:
        want = [m + rng.randint(0, si - 1) for m, si in zip(lo, s)]
    else:
        want = [m + rng.randint(-2, si + 1) for m, si in zip(lo, s)]
    u = rng.random()
    layout = "spatial" if u < 0.75 else ("with_batch_channel" if u < 0.95 else "wrong_length")
    g = rng.choice((1, 1, 2))
    return dict(op="conv_transpose_output_size", nd=nd, n=n, k=form(rng, k, nd), stride=form(rng, s, nd),
                padding=form(rng, p, nd), dilation=form(rng, d, nd), output_size=want, layout=layout,
                groups=g, in_ch=g, out_ch=g * rng.randint(1, 2))


def _check_conv_transpose_output_size(cfg: dict[str, Any], chk: Checker, gen: torch.Generator,
                                      values: bool = True) -> None:
    nd = cfg["nd"]
    x = randn(gen, 1, cfg["in_ch"], *cfg["n"])
    want = list(cfg["output_size"])
    if cfg["layout"] == "with_batch_channel":
        torch_size, cg_size = [1, cfg["out_ch"], *want], want
    elif cfg["layout"] == "wrong_length":
        torch_size = cg_size = [*want, want[-1]]
    else:
        torch_size = cg_size = want

    holder: dict[str, Any] = {}

    def call(dtype: Any) -> Any:
        m = CONVT_MODULE[nd](cfg["in_ch"], cfg["out_ch"], cfg["k"], cfg["stride"], cfg["padding"], 0, cfg["groups"],
                             bias=False, dilation=cfg["dilation"], dtype=dtype)
        holder["m"] = m
        with torch.no_grad():
            return m(x.to(dtype), output_size=torch_size)

    c = run_cg(lambda: convgeom.conv_transpose(input_form(cfg["n"]), cfg["k"], cfg["stride"], cfg["padding"],
                                               dilation=cfg["dilation"], output_size=cg_size, groups=cfg["groups"]))
    with default_threads(c):  # accept/reject in float32, as in _check_conv_transpose
        t = run_torch(lambda: call(torch.float32))
    if chk.compare(cfg, t, c, lambda r: (1, cfg["out_ch"], *r.output)) and values and 0 not in c.value.output:
        r, got, m = c.value, call(DT), holder["m"]
        with torch.no_grad():
            full = CONVT[nd](x, m.weight, None, m.stride, 0, 0, m.groups, m.dilation)
        VALUE_CHECKS[chk.op] += 1
        if not close(got, F.pad(full, tuple(-v for v in r.torch_pad))):
            chk.value_mismatch(cfg, f"full output cropped by {r.pad} differs from torch's output")


def test_conv_transpose_output_size() -> None:
    run_oracle("conv_transpose_output_size", 5, gen_conv_transpose_output_size,
               lambda cfg, chk, gen, i: _check_conv_transpose_output_size(cfg, chk, gen, values=i % 3 == 0))


# ----------------------------------------------------------------------------------------
# conv_transpose whose output is 0 or less on some axis: an empty tensor or an error
# ----------------------------------------------------------------------------------------
def gen_conv_transpose_small(rng: random.Random) -> dict[str, Any]:
    """Configurations with an output of -2..1 on at least one axis (most of them 0): 1-3 spatial
    dims, output_padding below stride or only below dilation, groups 1-3, now and then an input
    past oneDNN's N*C*H*W > 20480 threshold."""
    while True:
        nd = rng.randint(1, 3)
        n = sizes(rng, nd, 6)
        k = per_axis(rng, nd, 1, 5, p_same=0.4)
        s = per_axis(rng, nd, 1, 3, p_same=0.5)
        d = per_axis(rng, nd, 1, 2, p_same=0.6)
        op = [rng.randint(0, max(si, di) - 1) for si, di in zip(s, d)]
        p = per_axis(rng, nd, 0, 5, p_same=0.3)
        if rng.random() < 0.04:  # a big input: 1-d 21000, 2-d 150x150, 3-d 150x150x1
            n = {1: [21000], 2: [150, 150], 3: [150, 150, 1]}[nd]
            p = [(ni - 1) * si // 2 + 1 for ni, si in zip(n, s)]
        out = [(ni - 1) * si - 2 * pi + di * (ki - 1) + oi + 1 for ni, si, pi, di, ki, oi in zip(n, s, p, d, k, op)]
        if -2 <= min(out) <= 1:
            g = rng.choice((1, 1, 2, 3))
            return dict(op="conv_transpose_small", nd=nd, n=n, k=k, stride=s, padding=p, output_padding=op,
                        dilation=d, groups=g, out=out)


FLOAT64_EMPTY: list[dict[str, Any]] = []


def _check_conv_transpose_small(cfg: dict[str, Any], chk: Checker) -> None:
    nd, g = cfg["nd"], cfg["groups"]
    args = (cfg["stride"], cfg["padding"], cfg["output_padding"], g, cfg["dilation"])

    def call(dtype: Any) -> Any:
        return CONVT[nd](torch.zeros(1, g, *cfg["n"], dtype=dtype), torch.zeros(g, 1, *cfg["k"], dtype=dtype),
                         None, *args)

    t = run_torch(lambda: call(torch.float32))
    c = run_cg(lambda: convgeom.conv_transpose(tuple(cfg["n"]), tuple(cfg["k"]), tuple(cfg["stride"]),
                                               tuple(cfg["padding"]), tuple(cfg["output_padding"]),
                                               tuple(cfg["dilation"]), groups=g))
    chk.compare(cfg, t, c, lambda r: (1, g, *r.output))
    if min(cfg["out"]) <= 0 and run_torch(lambda: call(DT)).ok:
        FLOAT64_EMPTY.append(cfg)


def test_conv_transpose_empty_output() -> None:
    """An output of 0 is an empty tensor exactly where PyTorch 2.13 (CPU) runs oneDNN, and
    "Output size is too small" where it runs the native slow_conv_transpose kernel; a negative
    output always raises. convgeom models float32 (torch's default dtype), batch 1, as many
    channels as groups and PyTorch's default thread pool (more than one thread); float64 never
    runs oneDNN, so there every output <= 0 raises (what convgeom's note says)."""
    with torch_threads(2):
        run_oracle("conv_transpose_small", 12, gen_conv_transpose_small,
                   lambda cfg, chk, gen, i: _check_conv_transpose_small(cfg, chk))
    assert ACCEPTED["conv_transpose_small"] > 300, "the grid must reach PyTorch's empty outputs"
    assert not FLOAT64_EMPTY, f"float64 gave an empty tensor: {FLOAT64_EMPTY[:3]}"


def gen_forward_small(rng: random.Random) -> dict[str, Any]:
    """conv / max_pool / avg_pool / unfold with an output of -1..1 on some axis, in float32 or
    float64, batch 1, 2 or 16, groups 1-2 (conv)."""
    while True:
        op = rng.choice(("conv", "max_pool", "avg_pool", "unfold"))
        nd = 2 if op == "unfold" else rng.randint(1, 3)
        n, k = sizes(rng, nd, 5), per_axis(rng, nd, 1, 6, p_same=0.4)
        s, d = per_axis(rng, nd, 1, 3), [1] * nd if op == "avg_pool" else per_axis(rng, nd, 1, 2)
        p = [rng.randint(0, ki // 2) for ki in k]
        out = [(ni + 2 * pi - di * (ki - 1) - 1) // si + 1 for ni, pi, di, ki, si in zip(n, p, d, k, s)]
        if -1 <= min(out) <= 1:
            return dict(op=op, nd=nd, n=n, k=k, stride=s, padding=p, dilation=d, ceil_mode=rng.random() < 0.5,
                        batch=rng.choice((1, 2, 16)), channels=rng.randint(1, 2),
                        groups=rng.choice((1, 2)) if op == "conv" else 1, float32=rng.random() < 0.5)


def _check_forward_small(cfg: dict[str, Any], chk: Checker) -> None:
    op, nd, g, batch = cfg["op"], cfg["nd"], cfg["groups"], cfg["batch"]
    n, k, s, p, d = (tuple(cfg[key]) for key in ("n", "k", "stride", "padding", "dilation"))
    ceil = cfg["ceil_mode"]
    x = torch.zeros(batch, cfg["channels"] * g, *n, dtype=torch.float32 if cfg["float32"] else DT)
    if op == "conv":
        w = torch.zeros(cfg["channels"] * g, cfg["channels"], *k, dtype=x.dtype)
        t = run_torch(lambda: CONV[nd](x, w, None, s, p, d, g))
        c = run_cg(lambda: convgeom.conv(n, k, s, p, d, g))
    elif op == "max_pool":
        t = run_torch(lambda: MAXPOOL[nd](x, k, s, p, d, ceil))
        c = run_cg(lambda: convgeom.max_pool(n, k, s, p, d, ceil))
    elif op == "avg_pool":
        t = run_torch(lambda: AVGPOOL[nd](x, k, s, p, ceil))
        c = run_cg(lambda: convgeom.avg_pool(n, k, s, p, ceil))
    else:
        t = run_torch(lambda: F.unfold(x, k, d, p, s))
        c = run_cg(lambda: convgeom.unfold(n, k, s, p, d))
    if t.ok and t.shape is not None and 0 in t.shape:
        chk.add("torch returned an empty tensor", cfg, t, c)
    channels = x.shape[1] * (k[0] * k[1] if op == "unfold" else 1)
    chk.compare(cfg, t, c, lambda r: (batch, channels, r.output[0] * r.output[1]) if op == "unfold"
                else (batch, channels, *r.output))


def test_forward_ops_never_return_empty() -> None:
    """conv, max/avg pooling and unfold have no backend-dependent empty output: a window that
    does not fit raises in float32 and float64, batch 1, 2 and 16, more than one thread (conv:
    ``check_shape_forward`` runs before any backend is chosen; pools and unfold check their own
    shapes), as convgeom says."""
    with torch_threads(2):
        run_oracle("forward_small", 13, gen_forward_small, lambda cfg, chk, gen, i: _check_forward_small(cfg, chk))


# ----------------------------------------------------------------------------------------
# pooling: a direct NumPy computation from convgeom's windows and pads
# ----------------------------------------------------------------------------------------
def _axis_windows(ax: convgeom.AxisGeometry) -> list[tuple[list[int], int]]:
    """Per output window: the in-bounds taps and PyTorch's count_include_pad pool size
    (``end = min(start + k, n + pad_after)``, ``pool_size = end - start``)."""
    out = []
    for i in range(ax.output):
        start = i * ax.stride - ax.pad_before
        taps = [start + j * ax.dilation for j in range(ax.kernel)]
        inside = [t for t in taps if 0 <= t < ax.input]
        end = min(start + ax.effective_kernel, ax.input + ax.pad_after)
        out.append((inside, end - start))
    return out


def _reduce_axis(a: np.ndarray, axis: int, windows: list[list[int]], kind: str) -> np.ndarray:
    parts = []
    for inside in windows:
        if inside:
            taken = np.take(a, inside, axis=axis)
            parts.append(taken.max(axis=axis) if kind == "max" else taken.sum(axis=axis))
        else:
            shape = list(a.shape)
            del shape[axis]
            parts.append(np.full(shape, -np.inf if kind == "max" else 0.0))
    return np.stack(parts, axis=axis)


def pool_reference(x: np.ndarray, r: convgeom.LayerGeometry, kind: str, cip: bool = True,
                   divisor: int | None = None) -> np.ndarray:
    """Max or average pooling of ``x`` (N, C, *spatial) over convgeom's windows.

    Average divisor (``aten/src/ATen/native/cpu/AvgPoolKernel.cpp``): ``divisor_override``;
    else the product of per-axis pool sizes (pads counted, ceil overhang not) when
    count_include_pad, else the product of in-bounds counts."""
    y = x
    per_axis_div = []
    for axis, ax in enumerate(r.axes):
        wins = _axis_windows(ax)
        y = _reduce_axis(y, axis + 2, [w for w, _ in wins], kind)
        per_axis_div.append(np.array([size if cip else len(w) for w, size in wins], dtype=float))
    if kind == "avg":
        if divisor is not None:
            y = y / divisor
        else:
            div = per_axis_div[0]
            for v in per_axis_div[1:]:
                div = np.multiply.outer(div, v)
            y = y / div
    return y


def pool_padding(rng: random.Random, k: list[int]) -> list[int]:
    """Mostly within PyTorch's ``p <= k // 2`` limit, sometimes over it or negative."""
    if rng.random() < 0.03:
        return [-1] * len(k)
    if rng.random() < 0.2:
        return per_axis(rng, len(k), 0, 3, p_same=0.7)
    return [rng.randint(0, max(ki, 0) // 2) for ki in k]


def gen_pool(rng: random.Random, op: str) -> dict[str, Any]:
    nd = rng.randint(1, 3)
    n = sizes(rng, nd)
    k = per_axis(rng, nd, 1, 5, (0, -1), 0.03)
    s: Any = None if rng.random() < 0.3 else form(rng, per_axis(rng, nd, 1, 4, (0, -1), 0.04, p_same=0.7), nd)
    p = form(rng, pool_padding(rng, k), nd)
    cfg: dict[str, Any] = dict(op=op, nd=nd, n=n, k=form(rng, k, nd), stride=s, padding=p,
                               ceil_mode=rng.random() < 0.5)
    if op == "max_pool":
        cfg["dilation"] = form(rng, per_axis(rng, nd, 1, 3, (0, -1), 0.04, p_same=0.7), nd)
    else:
        cfg["count_include_pad"] = rng.random() < 0.5
        p_div = 0.3 if nd > 1 else 0.03  # F.avg_pool1d has no divisor_override
        cfg["divisor"] = pick(rng, 1, 5, (0, -1, -2), 0.1) if rng.random() < p_div else None
    return cfg


def _check_max_pool(cfg: dict[str, Any], chk: Checker, gen: torch.Generator, values: bool) -> None:
    nd = cfg["nd"]
    x = randn(gen, 1, 2, *cfg["n"])
    t = run_torch(lambda: MAXPOOL[nd](x, cfg["k"], cfg["stride"], cfg["padding"], cfg["dilation"], cfg["ceil_mode"]))
    c = run_cg(lambda: convgeom.max_pool(input_form(cfg["n"]), cfg["k"], cfg["stride"], cfg["padding"],
                                         cfg["dilation"], cfg["ceil_mode"]))
    if chk.compare(cfg, t, c, lambda r: (1, 2, *r.output)) and values:
        VALUE_CHECKS[chk.op] += 1
        ref = pool_reference(x.numpy(), c.value, "max")
        if not np.array_equal(t.value.numpy(), ref):
            chk.value_mismatch(cfg, f"max over convgeom's windows (pads {c.value.pad}) differs from torch")


def _check_avg_pool(cfg: dict[str, Any], chk: Checker, gen: torch.Generator, values: bool) -> None:
    nd = cfg["nd"]
    x = randn(gen, 1, 2, *cfg["n"])
    kw: dict[str, Any] = {} if cfg["divisor"] is None else {"divisor_override": cfg["divisor"]}
    t = run_torch(lambda: AVGPOOL[nd](x, cfg["k"], cfg["stride"], cfg["padding"], cfg["ceil_mode"],
                                      cfg["count_include_pad"], **kw))
    c = run_cg(lambda: convgeom.avg_pool(input_form(cfg["n"]), cfg["k"], cfg["stride"], cfg["padding"],
                                         cfg["ceil_mode"], cfg["count_include_pad"], cfg["divisor"]))
    if chk.compare(cfg, t, c, lambda r: (1, 2, *r.output)) and values:
        r = c.value
        VALUE_CHECKS[chk.op] += 1
        ref = pool_reference(x.numpy(), r, "avg", bool(r.count_include_pad), r.divisor)
        if not np.allclose(t.value.numpy(), ref, rtol=1e-9, atol=1e-12):
            chk.value_mismatch(cfg, f"average over convgeom's windows (pads {r.pad}) differs from torch")


def test_max_pool() -> None:
    run_oracle("max_pool", 6, lambda rng: gen_pool(rng, "max_pool"),
               lambda cfg, chk, gen, i: _check_max_pool(cfg, chk, gen, values=i % 2 == 0))


def test_avg_pool() -> None:
    run_oracle("avg_pool", 7, lambda rng: gen_pool(rng, "avg_pool"),
               lambda cfg, chk, gen, i: _check_avg_pool(cfg, chk, gen, values=i % 2 == 0))


# ----------------------------------------------------------------------------------------
# unfold (nn.Unfold / F.unfold)
# ----------------------------------------------------------------------------------------
def gen_unfold(rng: random.Random) -> dict[str, Any]:
    n = sizes(rng, 2)
    return dict(op="unfold", nd=2, n=n, k=form(rng, per_axis(rng, 2, 1, 5, (0, -1), 0.03), 2),
                stride=form(rng, per_axis(rng, 2, 1, 4, (0, -1), 0.03), 2),
                padding=form(rng, per_axis(rng, 2, 0, 4, (-1,), 0.03), 2),
                dilation=form(rng, per_axis(rng, 2, 1, 3, (0, -1), 0.03), 2), channels=rng.randint(1, 2))


def _check_unfold(cfg: dict[str, Any], chk: Checker, gen: torch.Generator, values: bool) -> None:
    x = randn(gen, 1, cfg["channels"], *cfg["n"])
    t = run_torch(lambda: torch.nn.Unfold(cfg["k"], cfg["dilation"], cfg["padding"], cfg["stride"])(x))
    c = run_cg(lambda: convgeom.unfold(tuple(cfg["n"]), cfg["k"], cfg["stride"], cfg["padding"], cfg["dilation"]))

    def shape(r: convgeom.LayerGeometry) -> tuple[int, ...]:
        return (1, cfg["channels"] * r.kernel[0] * r.kernel[1], r.output[0] * r.output[1])

    if chk.compare(cfg, t, c, shape) and values:
        r = c.value
        ref = F.unfold(F.pad(x, r.torch_pad), cfg["k"], cfg["dilation"], 0, cfg["stride"])
        VALUE_CHECKS[chk.op] += 1
        if not close(t.value, ref):
            chk.value_mismatch(cfg, f"F.pad(x, {r.torch_pad}) then unfold(padding=0) differs")


def test_unfold() -> None:
    run_oracle("unfold", 8, gen_unfold,
               lambda cfg, chk, gen, i: _check_unfold(cfg, chk, gen, values=i % 3 == 0))


@pytest.mark.parametrize("nd", [1, 3])
def test_unfold_is_two_dimensional(nd: int) -> None:
    with pytest.raises(GeometryError):
        convgeom.unfold((5,) * nd, 2)


# ----------------------------------------------------------------------------------------
# adaptive pooling: windows against what torch pools
# ----------------------------------------------------------------------------------------
def gen_adaptive(rng: random.Random, op: str) -> dict[str, Any]:
    nd = rng.randint(1, 3)
    n = sizes(rng, nd)
    out: list[int | None] = []
    for _ in range(nd):
        u = rng.random()
        out.append(None if u < 0.08 else -1 if u < 0.11 else 0 if u < 0.15 else rng.randint(1, 13))
    size: Any = out[0] if nd == 1 and out[0] is not None and rng.random() < 0.5 else tuple(out)
    if nd > 1 and len(set(out)) == 1 and out[0] is not None and rng.random() < 0.5:
        size = out[0]
    if rng.random() < 0.01:
        size = None  # junk: torch raises TypeError
    return dict(op=op, nd=nd, n=n, output_size=size)


def _adaptive_reference(x: np.ndarray, g: convgeom.AdaptivePoolGeometry, kind: str) -> np.ndarray:
    y = x
    for axis, wins in enumerate(g.windows):
        parts = []
        for a, b in wins:
            taken = np.take(y, list(range(a, b)), axis=axis + 2)
            parts.append(taken.max(axis=axis + 2) if kind == "max" else taken.mean(axis=axis + 2))
        y = np.stack(parts, axis=axis + 2)
    return y


def _check_adaptive(cfg: dict[str, Any], chk: Checker, gen: torch.Generator) -> None:
    nd, kind = cfg["nd"], "max" if cfg["op"] == "adaptive_max_pool" else "avg"
    x = randn(gen, 1, 2, *cfg["n"])
    fn = (ADAPTIVE_MAX if kind == "max" else ADAPTIVE_AVG)[nd]
    cg_fn = convgeom.adaptive_max_pool if kind == "max" else convgeom.adaptive_avg_pool
    t = run_torch(lambda: fn(x, cfg["output_size"]))
    c = run_cg(lambda: cg_fn(input_form(cfg["n"]), cfg["output_size"]))
    if not chk.compare(cfg, t, c, lambda g: (1, 2, *g.output)):
        return
    g = c.value
    if 0 in g.output:
        return
    VALUE_CHECKS[chk.op] += 1
    if not np.allclose(t.value.numpy(), _adaptive_reference(x.numpy(), g, kind), rtol=1e-12, atol=1e-12):
        chk.value_mismatch(cfg, f"pooling over convgeom's windows {g.windows} differs")
    if kind == "max":
        # on an increasing ramp the argmax is each window's last cell; on a decreasing one, its first
        strides = np.cumprod([1, *reversed(cfg["n"][1:])])[::-1]
        ramp = torch.arange(int(np.prod(cfg["n"])), dtype=DT).reshape(1, 1, *cfg["n"])
        for sign, pick_end in ((1, True), (-1, False)):
            _, idx = fn(sign * ramp, cfg["output_size"], return_indices=True)
            expected = np.zeros(g.output, dtype=np.int64)
            for axis, wins in enumerate(g.windows):
                pos = np.array([b - 1 if pick_end else a for a, b in wins])
                shape = [1] * nd
                shape[axis] = len(wins)
                expected = expected + strides[axis] * pos.reshape(shape)
            if not np.array_equal(idx.numpy()[0, 0], expected):
                chk.value_mismatch(cfg, f"argmax indices on a ramp disagree with windows {g.windows}")


@pytest.mark.parametrize("op", ["adaptive_avg_pool", "adaptive_max_pool"])
def test_adaptive_pool_windows(op: str) -> None:
    run_oracle(op, 9 + (op == "adaptive_max_pool"), lambda rng: gen_adaptive(rng, op),
               lambda cfg, chk, gen, i: _check_adaptive(cfg, chk, gen))


# ----------------------------------------------------------------------------------------
# F.interpolate nearest / nearest-exact: sizes, and source indices on a ramp
# ----------------------------------------------------------------------------------------
def gen_interpolate(rng: random.Random) -> dict[str, Any]:
    nd = rng.randint(1, 3)
    n = sizes(rng, nd, 10 if nd < 3 else 6)
    mode = rng.choice(("nearest", "nearest-exact"))
    size: Any = None
    scale: Any = None
    u = rng.random()
    if u < 0.5:
        vals = per_axis(rng, nd, 1, 16 if nd < 3 else 9, (0, -1), 0.04)
        size = form(rng, vals, nd)
    elif u < 0.97:
        def one() -> float:
            v = rng.random()
            if v < 0.3:
                return float(rng.randint(1, 3))
            if v < 0.6:
                return rng.choice((0.5, 1.5, 2.5, 0.25, 0.75, 1.25, 1 / 3, 2 / 3, 0.1, 0.2, 0.7, 1.1, 1.9))
            if v < 0.98:
                return round(rng.uniform(0.05, 3.0), rng.choice((1, 2, 3)))
            return rng.choice((0.0, -1.0, 0.01))  # junk: output size 0 or negative
        if rng.random() < 0.5:
            scale = one()
        else:
            scale = tuple(one() for _ in range(nd))
    elif rng.random() < 0.5:
        size, scale = n, 2.0  # both given: rejected
    return dict(op="interpolate", nd=nd, n=n, mode=mode, size=size, scale_factor=scale)


def _check_interpolate(cfg: dict[str, Any], chk: Checker) -> None:
    nd, n = cfg["nd"], cfg["n"]
    x = torch.zeros(1, 1, *n, dtype=DT)
    t = run_torch(lambda: F.interpolate(x, size=cfg["size"], scale_factor=cfg["scale_factor"], mode=cfg["mode"]))
    c = run_cg(lambda: convgeom.interpolate(input_form(n), cfg["size"], cfg["scale_factor"], cfg["mode"]))
    if not chk.compare(cfg, t, c, lambda g: (1, 1, *g.output)):
        return
    g = c.value
    VALUE_CHECKS[chk.op] += 1
    for axis in range(nd):
        shape = [1] * nd
        shape[axis] = n[axis]
        ramp = torch.arange(n[axis], dtype=DT).reshape(1, 1, *shape).expand(1, 1, *n)
        y = F.interpolate(ramp, size=cfg["size"], scale_factor=cfg["scale_factor"], mode=cfg["mode"])
        got = tuple(int(v) for v in y.movedim(axis + 2, -1).reshape(-1, g.output[axis])[0].tolist())
        want = g.source_indices(axis)
        if got != want:
            chk.value_mismatch(cfg, f"axis {axis}: torch reads source indices {got}, convgeom says {want}")
            break


def test_interpolate_nearest() -> None:
    run_oracle("interpolate", 11, gen_interpolate, lambda cfg, chk, gen, i: _check_interpolate(cfg, chk))


# ----------------------------------------------------------------------------------------
# parameter forms: length-1 tuples, padding-string spelling, scalar types, int64 limits
# (convgeom always gets the full spatial input as a tuple, as the tensor fixes it)
# ----------------------------------------------------------------------------------------
X1, X2, X3 = (torch.zeros(1, 1, 6, dtype=DT), torch.zeros(1, 1, 6, 6, dtype=DT), torch.zeros(1, 1, 6, 6, 6, dtype=DT))
W1, W2, W3 = (torch.zeros(1, 1, 3, dtype=DT), torch.zeros(1, 1, 3, 3, dtype=DT), torch.zeros(1, 1, 3, 3, 3, dtype=DT))
FORMS: list[tuple[str, Callable[[], Any], Callable[[], Any]]] = [
    # PyTorch expands a length-1 list to every spatial dim (expand_param_if_needed / _pair of a 1-tuple)
    ("conv2d stride=(2,)", lambda: F.conv2d(X2, W2, stride=(2,)), lambda: convgeom.conv((6, 6), (3, 3), (2,))),
    ("conv2d padding=(1,)", lambda: F.conv2d(X2, W2, padding=(1,)), lambda: convgeom.conv((6, 6), (3, 3), 1, (1,))),
    ("conv2d dilation=(2,)", lambda: F.conv2d(X2, W2, dilation=(2,)),
     lambda: convgeom.conv((6, 6), (3, 3), 1, 0, (2,))),
    ("conv3d padding=(1,)", lambda: F.conv3d(X3, W3, padding=(1,)), lambda: convgeom.conv((6, 6, 6), 3, 1, (1,))),
    ("conv_transpose2d stride=(2,) output_padding=(1,)",
     lambda: F.conv_transpose2d(X2, W2, stride=(2,), output_padding=(1,)),
     lambda: convgeom.conv_transpose((6, 6), (3, 3), (2,), 0, (1,))),
    ("max_pool2d kernel=(2,)", lambda: F.max_pool2d(X2, (2,)), lambda: convgeom.max_pool((6, 6), (2,))),
    ("max_pool2d kernel=3 padding=(1,)", lambda: F.max_pool2d(X2, 3, 1, (1,)),
     lambda: convgeom.max_pool((6, 6), 3, 1, (1,))),
    ("max_pool3d stride=(1,)", lambda: F.max_pool3d(X3, 2, (1,)), lambda: convgeom.max_pool((6, 6, 6), 2, (1,))),
    ("avg_pool2d kernel=(2,)", lambda: F.avg_pool2d(X2, (2,)), lambda: convgeom.avg_pool((6, 6), (2,))),
    ("avg_pool3d kernel=(2,)", lambda: F.avg_pool3d(X3, (2,)), lambda: convgeom.avg_pool((6, 6, 6), (2,))),
    ("max_pool1d stride=[] (default)", lambda: F.max_pool1d(X1, 2, []), lambda: convgeom.max_pool((6,), 2, [])),
    ("avg_pool1d kernel=(2, 2)", lambda: F.avg_pool1d(X1, (2, 2)), lambda: convgeom.avg_pool((6,), (2, 2))),
    ("unfold kernel=(2,)", lambda: F.unfold(X2, (2,)), lambda: convgeom.unfold((6, 6), (2,))),
    # padding strings are case- and space-sensitive in PyTorch
    ("conv1d padding='SAME'", lambda: F.conv1d(X1, W1, padding="SAME"), lambda: convgeom.conv((6,), 3, 1, "SAME")),
    ("conv1d padding=' same'", lambda: F.conv1d(X1, W1, padding=" same"), lambda: convgeom.conv((6,), 3, 1, " same")),
    ("conv1d padding='Valid'", lambda: F.conv1d(X1, W1, padding="Valid"), lambda: convgeom.conv((6,), 3, 1, "Valid")),
    # scalar types
    ("adaptive_avg_pool1d output_size=1.5", lambda: F.adaptive_avg_pool1d(X1, 1.5),  # type: ignore[arg-type]
     lambda: convgeom.adaptive_avg_pool((6,), 1.5)),  # type: ignore[arg-type]
    ("adaptive_max_pool2d output_size=2.0", lambda: F.adaptive_max_pool2d(X2, 2.0),  # type: ignore[arg-type]
     lambda: convgeom.adaptive_max_pool((6, 6), 2.0)),  # type: ignore[arg-type]
    ("adaptive_avg_pool2d output_size=True", lambda: F.adaptive_avg_pool2d(X2, True),
     lambda: convgeom.adaptive_avg_pool((6, 6), True)),
    ("adaptive_avg_pool2d output_size=(None, 3)", lambda: F.adaptive_avg_pool2d(X2, (None, 3)),
     lambda: convgeom.adaptive_avg_pool((6, 6), (None, 3))),
    ("interpolate size=2.0", lambda: F.interpolate(X1, size=2.0), lambda: convgeom.interpolate((6,), 2.0)),
    ("interpolate scale_factor=2 (int)", lambda: F.interpolate(X1, scale_factor=2),
     lambda: convgeom.interpolate((6,), scale_factor=2)),
    ("interpolate 1-d scale_factor=(2.0, 2.0)", lambda: F.interpolate(X1, scale_factor=(2.0, 2.0)),
     lambda: convgeom.interpolate((6,), scale_factor=(2.0, 2.0))),
    ("interpolate 1-d size=(3, 4)", lambda: F.interpolate(X1, size=(3, 4)), lambda: convgeom.interpolate((6,), (3, 4))),
    # sizes are int64 in PyTorch
    ("interpolate scale_factor=1e300", lambda: F.interpolate(X1, scale_factor=1e300),
     lambda: convgeom.interpolate((6,), scale_factor=1e300)),
    ("interpolate scale_factor=inf", lambda: F.interpolate(X1, scale_factor=float("inf")),
     lambda: convgeom.interpolate((6,), scale_factor=float("inf"))),
]


@pytest.mark.parametrize("name,torch_call,cg_call", FORMS, ids=[f[0] for f in FORMS])
def test_parameter_forms(name: str, torch_call: Callable[[], Any], cg_call: Callable[[], Any]) -> None:
    t, c = run_torch(torch_call), run_cg(cg_call)
    assert c.value != "crash", f"{name}: convgeom raised a non-GeometryError: {c}"
    assert t.ok == c.ok, f"{name}: torch {t}; convgeom {c}"
    if t.ok:
        assert t.shape is not None and tuple(t.shape[2:]) == tuple(c.value.output), f"{name}: torch {t}; convgeom {c.value.output}"


# ----------------------------------------------------------------------------------------
# summary (keep last: pytest runs a module's tests in file order)
# ----------------------------------------------------------------------------------------
def test_summary_counts() -> None:
    missing = [op for op in TARGETS if op not in COUNTS]
    if missing:
        pytest.skip(f"run the whole module to get the summary (not run: {', '.join(missing)})")
    print("\nconvgeom vs live torch " + torch.__version__ + ": configs checked per op")
    for op in TARGETS:
        print(f"  {op:28s} {COUNTS[op]:6d} configs ({ACCEPTED[op]:5d} accepted by both, "
              f"{VALUE_CHECKS[op]:5d} value checks)")
    short = {op: COUNTS[op] for op in TARGETS if COUNTS[op] < TARGETS[op]}
    assert not short, f"fewer configs than targeted: {short}"
    for op in ("conv", "conv_transpose", "max_pool", "avg_pool"):
        assert COUNTS[op] >= 2000
        # the generators must exercise both sides of accept/reject
        assert 0.2 * COUNTS[op] < ACCEPTED[op] < 0.95 * COUNTS[op], (op, ACCEPTED[op], COUNTS[op])
