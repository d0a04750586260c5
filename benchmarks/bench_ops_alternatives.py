"""Kernels tried for convgeom.ops.conv and not adopted, timed against the shipped one and torch.

    python benchmarks/bench_ops_alternatives.py            # every experiment, a table each
    python benchmarks/bench_ops_alternatives.py --only split,depthwise

Each experiment runs its variants and torch alternately in one process, in an order that
rotates every round (medians over ``--repeats`` rounds), after checking every variant against
torch (relative error < 1e-5); the *floor* variants time a part of a kernel only and are not
checked.
The variants reuse convgeom's own flat phase layout (``convgeom.ops._flat``):

* ``split``: the shipped row-tap kernel for stride-1 layers (the taps of the row axis go into
  the rows of the product instead of the im2col: ``Y = W' (k_h*C_out x C_in*prod(k)/k_h) @ H``,
  ``H`` the im2col of the other taps over the chunk plus ``k_h - 1`` rows, the output the sum
  of ``k_h`` shifted row blocks of ``Y``) against the full im2col it replaced, and at other
  chunk sizes.
* ``accumulate``: the row-tap kernel's im2col ``H``, and ``k_h`` products on zero-copy column-offset views
  of it accumulated by BLAS itself (``beta = 1``), through OpenBLAS's ``cblas_sgemm`` called
  with ctypes (NumPy's ``matmul`` has no ``beta``).
* ``depthwise``: one BLAS ``saxpy`` per tap and channel (``out += w_t * shifted input``, one
  fused pass per tap) against the shipped im2col + matrix-vector kernel, and a floor for the
  im2col formulation: its matrix-vector products alone, on an im2col built untimed.

torch allocates its output on every call; on this machine glibc hands large freed blocks back
to the OS, so a call can spend milliseconds in page faults. Running with
``MALLOC_MMAP_THRESHOLD_=4000000000 MALLOC_TRIM_THRESHOLD_=8000000000`` in the environment
keeps freed memory in the process and takes that out of both sides' timings.
"""

from __future__ import annotations

import argparse
import ctypes
import functools
import importlib
import itertools
import math
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from convgeom.ops import _parallel
from convgeom.ops._common import DEFAULT_MAX_BUFFER_BYTES, chunk_length
from convgeom.ops._flat import FlatLayout, chunk_views, make_layout, plan_chunks, scatter_phases, strided
from convgeom.ops.convolution import conv

conv_module: Any = importlib.import_module("convgeom.ops.convolution")

Kernel = Callable[[Any, Any, int], Any]  # (x, w, padding) -> result
ROW_MAJOR, NO_TRANS = 101, 111

SHAPES = {
    "ResNet 3x3, 64->64, 56x56, batch 8": ((8, 64, 56, 56), (64, 64, 3, 3), 1),
    "3-D 3x3x3, 16->32, 32x64x64, batch 1": ((1, 16, 32, 64, 64), (32, 16, 3, 3, 3), 1),
    "1-D k9, 64->64, length 16000, batch 8": ((8, 64, 16000), (64, 64, 9), 4),
    "depthwise 3x3, 128 ch, 56x56, batch 8": ((8, 128, 56, 56), (128, 1, 3, 3), 1),
}


def _phases(x: Any, w: Any, padding: int) -> tuple[Any, FlatLayout, tuple[int, ...]]:
    """Stride 1, dilation 1: the zero-padded input in the flat layout, the layout, the output sizes."""
    nd = x.ndim - 2
    outputs = tuple(n + 2 * padding - k + 1 for n, k in zip(x.shape[2:], w.shape[2:]))
    layout = make_layout(tuple(w.shape[2:]), (1,) * nd, (1,) * nd, outputs)
    padded = tuple(n + 2 * padding for n in x.shape[2:])
    return scatter_phases(x, layout, (1,) * nd, (padding,) * nd, padded), layout, outputs


def _row_split(w: Any, layout: FlatLayout) -> tuple[list[int], Any, tuple[int, ...], tuple[int, ...]]:
    """The row axis (``nd - 2``; the only axis in 1-D is not split) goes into the product's rows:
    its taps' flat offsets, the weight as ``(row taps, C_out, C_in * other taps)`` and the other
    axes' tap counts and flat steps (the im2col's)."""
    grp = layout.groups[0]
    row = len(grp.counts) - 2
    c_out, c_per = w.shape[:2]
    offsets = [i * grp.steps[row] for i in range(grp.counts[row])]
    others = tuple(a for a in range(len(grp.counts)) if a != row)
    per_row = np.ascontiguousarray(np.moveaxis(w, 2 + row, 0)).reshape(len(offsets), c_out, -1)
    return offsets, per_row, tuple(grp.counts[a] for a in others), tuple(grp.steps[a] for a in others)


def full_im2col(x: Any, w: Any, padding: int) -> Any:
    """The flat im2col kernel (every tap in the im2col), which stride-1 layers used before the
    row-tap kernel."""
    phases, layout, outputs = _phases(x, w, padding)
    return conv_module._gemm_flat(phases, w, layout, x.shape[0], outputs, 1, DEFAULT_MAX_BUFFER_BYTES)


def row_taps_with_chunk(x: Any, w: Any, padding: int, chunk_bytes: int) -> Any:
    """The shipped kernel with another preferred chunk size."""
    saved = conv_module._PREFERRED_ROW_TAPS_BYTES
    conv_module._PREFERRED_ROW_TAPS_BYTES = chunk_bytes
    try:
        return shipped(x, w, padding)
    finally:
        conv_module._PREFERRED_ROW_TAPS_BYTES = saved


def _openblas_function(names: tuple[str, ...], argtypes: list[Any]) -> Any:
    """The first of ``names`` in the OpenBLAS library NumPy loaded (64-bit integers), or None."""
    _parallel.blas_threads()  # makes sure NumPy's BLAS is loaded
    with open("/proc/self/maps") as maps:
        paths = sorted({line.split()[-1] for line in maps if "openblas" in line.lower() and ".so" in line})
    for path in paths:
        lib = ctypes.CDLL(path)
        for name in names:
            if hasattr(lib, name):
                fn = getattr(lib, name)
                fn.argtypes, fn.restype = argtypes, None
                return fn
    return None


_I64, _PTR, _F32, _ENUM = ctypes.c_int64, ctypes.c_void_p, ctypes.c_float, ctypes.c_int


def _openblas_sgemm() -> Any:
    return _openblas_function(("scipy_cblas_sgemm64_", "cblas_sgemm64_"),
                              [_ENUM, _ENUM, _ENUM, _I64, _I64, _I64, _F32, _PTR, _I64, _PTR, _I64, _F32, _PTR, _I64])


def _openblas_saxpy() -> Any:
    return _openblas_function(("scipy_cblas_saxpy64_", "cblas_saxpy64_"), [_I64, _F32, _PTR, _I64, _PTR, _I64])


def accumulated_products(x: Any, w: Any, padding: int, chunk_bytes: int, sgemm: Any) -> Any:
    """``accumulate``: ``out += W_t @ H[:, offset_t:]`` per row tap ``t``, BLAS ``beta = 1``."""
    phases, layout, outputs = _phases(x, w, padding)
    offsets, per_row, k_counts, k_steps = _row_split(w, layout)
    c_out, k = per_row.shape[1:]
    weights = list(per_row)
    item = x.itemsize

    def step(h: Any, _y: Any, acc: Any, size: int) -> None:
        for t, (wt, offset) in enumerate(zip(weights, offsets)):
            sgemm(ROW_MAJOR, NO_TRANS, NO_TRANS, c_out, size, k, 1.0, wt.ctypes.data, k,
                  h.ctypes.data + offset * item, h.shape[1], 1.0 if t else 0.0, acc.ctypes.data, size)

    return _run_chunks(phases, layout, x.shape[0], outputs, c_out, k_counts, k_steps, 0, max(offsets), chunk_bytes,
                       step)


def _run_chunks(phases: Any, layout: FlatLayout, batch: int, outputs: tuple[int, ...], c_out: int,
                k_counts: tuple[int, ...], k_steps: tuple[int, ...], y_rows: int, extra: int, chunk_bytes: int,
                step: Callable[[Any, Any, Any, int], None]) -> Any:
    """Per chunk: copy the im2col of the taps ``k_counts`` (flat ``k_steps``) over the chunk and
    ``extra`` more columns, ``step``
    fills ``acc`` ``(C_out, size)``, which is copied into the result. Chunks run on convgeom's
    worker threads with single-threaded BLAS, as the shipped kernels do."""
    grp = layout.groups[0]
    total = phases.shape[-1]
    flat = phases.reshape(-1)
    c_per = phases.shape[1]
    k_rows = c_per * math.prod(k_counts)
    valid = (batch - 1) * layout.cells + layout.span(outputs)
    column_bytes = (k_rows + y_rows + c_out) * phases.itemsize
    columns = chunk_length(column_bytes, valid, 2**28, chunk_bytes)
    chunks = plan_chunks(layout, batch, outputs, max(columns - extra, 1))
    longest = max(c.length for c in chunks) + extra
    result = np.empty((batch, c_out) + outputs, dtype=phases.dtype)
    with _parallel.single_threaded_blas() as own_threads:

        def make_worker() -> Callable[[int], None]:
            h_buffer = np.empty(k_rows * longest, phases.dtype)
            y_buffer = np.empty(max(y_rows, 1) * longest, phases.dtype)
            acc_buffer = np.empty(c_out * longest, phases.dtype)

            def work(index: int) -> None:
                chunk = chunks[index]
                size, width = chunk.length, chunk.length + extra
                shape = (c_per,) + k_counts + (width,)
                h = h_buffer[: k_rows * width].reshape(shape)
                np.copyto(h, strided(flat, grp.phase * phases.shape[1] * total + grp.offset + chunk.start, shape,
                                     (total,) + k_steps + (1,)))
                acc = acc_buffer[: c_out * size].reshape(c_out, size)
                step(h.reshape(k_rows, width), y_buffer[: y_rows * width].reshape(y_rows, width), acc, size)
                src, dst = chunk_views(acc, result, layout, chunk)
                np.copyto(dst, src)

            return work

        _parallel.run_workers(len(chunks), make_worker, threads=_parallel.num_threads() if own_threads else 1)
    return result


def depthwise_saxpy(x: Any, w: Any, padding: int, saxpy: Any) -> Any:
    """``depthwise``: per channel, ``out += w_t * input shifted by tap t`` with BLAS ``saxpy``."""
    phases, layout, outputs = _phases(x, w, padding)
    grp = layout.groups[0]
    channels = x.shape[1]
    total = phases.shape[-1]
    valid = (x.shape[0] - 1) * layout.cells + layout.span(outputs)
    taps = [sum(i * s for i, s in zip(t, grp.steps)) for t in itertools.product(*(range(c) for c in grp.counts))]
    weights = w.reshape(channels, len(taps)).astype(np.float64)
    acc = np.zeros((channels, valid), dtype=x.dtype)
    item = x.itemsize

    def task(lo: int, hi: int) -> None:
        for c in range(lo, hi):
            dst = acc.ctypes.data + c * valid * item
            for t, offset in enumerate(taps):
                saxpy(valid, weights[c, t], phases.ctypes.data + (c * total + offset) * item, 1, dst, 1)

    with _parallel.single_threaded_blas():
        _parallel.run_split(task, channels)
    src = strided(acc.reshape(-1), 0, (channels, x.shape[0]) + outputs, (valid, layout.cells) + layout.pitch)
    return np.ascontiguousarray(np.swapaxes(src, 0, 1))


class DepthwiseProductsOnly:
    """A floor for any im2col formulation of the depthwise layer: only its matrix-vector
    products (``(1 x 9) @ (9 x l)`` per channel, on both threads), on an im2col built at the
    first call and reused untimed afterwards; no padding copy, no im2col copy, and the result
    is a view of the products' output (no output copy)."""

    floor = True

    def __init__(self) -> None:
        self.prepared: dict[str, Any] = {}

    def prepare(self, x: Any, w: Any, padding: int) -> dict[str, Any]:
        phases, layout, outputs = _phases(x, w, padding)
        grp = layout.groups[0]
        valid = (x.shape[0] - 1) * layout.cells + layout.span(outputs)
        shape = (x.shape[1],) + grp.counts + (valid,)
        cols = strided(phases.reshape(-1), grp.offset, shape, (phases.shape[2],) + grp.steps + (1,))
        return {"cols": np.ascontiguousarray(cols).reshape(x.shape[1], -1, valid), "layout": layout,
                "outputs": outputs, "valid": valid, "out": np.empty((x.shape[1], 1, valid), dtype=x.dtype)}

    def __call__(self, x: Any, w: Any, padding: int) -> Any:
        if not self.prepared:
            self.prepared = self.prepare(x, w, padding)
        p = self.prepared
        cols, out, wm = p["cols"], p["out"], w.reshape(x.shape[1], 1, -1)

        def task(lo: int, hi: int) -> None:
            np.matmul(wm[lo:hi], cols[lo:hi], out=out[lo:hi])

        with _parallel.single_threaded_blas():
            _parallel.run_split(task, x.shape[1])
        view = strided(out.reshape(-1), 0, (x.shape[1], x.shape[0]) + p["outputs"],
                       (p["valid"], p["layout"].cells) + p["layout"].pitch)
        return np.swapaxes(view, 0, 1)


class ProductsOnly:
    """A floor for the full-im2col formulation of a dense layer, not a result: only its matrix
    products ``W (C_out x C_in*prod(k)) @ cols``, in pieces of 1 MiB of columns on both threads,
    every piece multiplying the same cache-resident block of the im2col (so no copy and no
    memory traffic for the operand is timed). Its output is not the convolution."""

    floor = True

    def __init__(self) -> None:
        self.prepared: dict[str, Any] = {}

    def __call__(self, x: Any, w: Any, padding: int) -> Any:
        wm = w.reshape(w.shape[0], -1)
        if not self.prepared:
            phases, layout, outputs = _phases(x, w, padding)
            valid = (x.shape[0] - 1) * layout.cells + layout.span(outputs)
            width = max(1, 2**20 // (wm.shape[1] * x.itemsize))
            self.prepared = {"pieces": -(-valid // width), "width": width,
                             "cols": [np.ones((wm.shape[1], width), dtype=x.dtype) for _ in range(2)],
                             "out": np.empty((w.shape[0], width * -(-valid // width)), dtype=x.dtype)}
        p = self.prepared
        width, out = p["width"], p["out"]

        def task(lo: int, hi: int) -> None:
            cols = p["cols"][lo % 2]
            for i in range(lo, hi):
                np.matmul(wm, cols, out=out[:, i * width:(i + 1) * width])

        with _parallel.single_threaded_blas():
            _parallel.run_split(task, p["pieces"], pieces=2)
        return out


def shipped(x: Any, w: Any, padding: int) -> Any:
    """convgeom.ops.conv as released (padding 1; depthwise when the weight has one input channel)."""
    return conv(x, w, padding=padding, groups=x.shape[1] if w.shape[1] == 1 else 1)


def experiments() -> dict[str, tuple[str, dict[str, Kernel]]]:
    found: dict[str, tuple[str, dict[str, Kernel]]] = {}
    for name in ("ResNet 3x3, 64->64, 56x56, batch 8", "3-D 3x3x3, 16->32, 32x64x64, batch 1",
                 "1-D k9, 64->64, length 16000, batch 8"):
        found[f"split:{name}"] = (name, {
            "shipped (row taps, 2 MiB chunks)": shipped,
            "full im2col": full_im2col,
            "row taps, 1 MiB chunks": lambda x, w, p: row_taps_with_chunk(x, w, p, 2**20),
            "row taps, 4 MiB chunks": lambda x, w, p: row_taps_with_chunk(x, w, p, 2**22),
            "floor: the full im2col's products alone, operand in cache": ProductsOnly(),
        })
    sgemm = _openblas_sgemm()
    for name in ("ResNet 3x3, 64->64, 56x56, batch 8", "3-D 3x3x3, 16->32, 32x64x64, batch 1"):
        if sgemm is None:
            break
        found[f"accumulate:{name}"] = (name, {
            "shipped": shipped,
            "accumulate, 1 MiB chunks": lambda x, w, p: accumulated_products(x, w, p, 2**20, sgemm),
            "accumulate, 2 MiB chunks": lambda x, w, p: accumulated_products(x, w, p, 2**21, sgemm),
        })
    saxpy = _openblas_saxpy()
    if saxpy is not None:
        name = "depthwise 3x3, 128 ch, 56x56, batch 8"
        found[f"depthwise:{name}"] = (name, {
            "shipped (im2col + gemv)": shipped,
            "saxpy per tap": lambda x, w, p: depthwise_saxpy(x, w, p, saxpy),
            "floor: the products alone (im2col prebuilt)": DepthwiseProductsOnly(),
        })
    return found


def run_experiment(key: str, shape_name: str, variants: dict[str, Kernel], repeats: int) -> bool:
    """Check every variant against torch, time them alternately, print a table; False on a mismatch."""
    import torch
    import torch.nn.functional as F

    x_shape, w_shape, padding = SHAPES[shape_name]
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape, dtype=np.float32)
    w = rng.standard_normal(w_shape, dtype=np.float32)
    fn = {3: F.conv1d, 4: F.conv2d, 5: F.conv3d}[x.ndim]
    xt, wt = torch.from_numpy(x), torch.from_numpy(w)
    groups = x.shape[1] if w.shape[1] == 1 else 1

    def run_torch() -> Any:
        with torch.no_grad():
            return fn(xt, wt, None, 1, padding, 1, groups)

    ref = run_torch().numpy()
    for label, kernel in variants.items():
        if getattr(kernel, "floor", False):
            kernel(x, w, padding)  # warm-up; a floor computes no convolution to check
            continue
        err = float(np.abs(kernel(x, w, padding) - ref).max() / np.abs(ref).max())
        if not err < 1e-5:
            print(f"{key}: {label} disagrees with torch (relative error {err:.1e})", file=sys.stderr)
            return False
    times: dict[str, list[float]] = {"torch": [], **{label: [] for label in variants}}
    runs: list[tuple[str, Callable[[], Any]]] = [("torch", run_torch)] + [
        (label, functools.partial(kernel, x, w, padding)) for label, kernel in variants.items()
    ]
    # the order rotates every round: whoever runs first can pay for the memory the last one freed
    for round_index in range(repeats):
        shift = round_index % len(runs)
        for label, run in runs[shift:] + runs[:shift]:
            t = time.perf_counter()
            run()
            times[label].append(time.perf_counter() - t)
    base = float(np.median(times[next(iter(variants))]))
    torch_ms = float(np.median(times["torch"]))
    print(f"\n{key.split(':')[0]}: {shape_name} ({repeats} rounds, {_parallel.num_threads()} threads)\n")
    print("| variant | median ms | vs shipped | vs torch |\n|---|---:|---:|---:|")
    for label, samples in times.items():
        med = float(np.median(samples))
        print(f"| {label} | {med * 1e3:.1f} | {med / base:.2f} | {med / torch_ms:.2f} |")
    sys.stdout.flush()
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=11, help="rounds per experiment (default 11)")
    parser.add_argument("--only", default="", help="comma list of experiments: split, accumulate, depthwise")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(_parallel.num_threads())
    wanted = set(filter(None, args.only.split(",")))
    for key, (shape_name, variants) in experiments().items():
        if (not wanted or key.split(":")[0] in wanted) and not run_experiment(key, shape_name, variants, args.repeats):
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
