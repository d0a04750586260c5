"""``conv`` and ``conv_transpose`` on NumPy arrays, matching ``torch.nn.functional.conv*d`` /
``conv_transpose*d``; sizes and per-side pads come from the geometry engine.

Kernels (all take ``(N, C, *spatial)`` after the engine has fixed the geometry):

* pointwise (``k = 1``, no padding): one matrix product ``W @ x`` per group;
* depthwise (one input channel per group): per block of channels, a small im2col and a
  batched matrix-vector product;
* general: im2col on the flat phase grid (:mod:`._flat`, contiguous row copies) and one
  matrix product ``W (C_out/g, C_in/g * prod(k)) @ cols`` per group and chunk; chunks keep the
  buffer under ``max_buffer_bytes``; with one tap group (stride 1, say), the row axis's taps
  move from the im2col into the product's rows (:func:`_gemm_row_taps`; in 1-D the kernel's
  taps are split into virtual rows);
* transposed: the gradient formulation, ``cols = W^T @ x`` per group and chunk, then col2im as
  ``prod(k)`` shifted adds into the flat phase grid of the output.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any, Optional

from .. import geometry as _geometry
from ..errors import GeometryError
from ..geometry import LayerGeometry
from ..params import IntOrTuple, PaddingArg
from . import _parallel
from ._common import (
    DEFAULT_MAX_BUFFER_BYTES,
    DEFAULT_MAX_OUTPUT_BYTES,
    Array,
    as_float_array,
    channels_last_out,
    check_array_size,
    check_buffer_limit,
    check_count,
    check_extent,
    check_output_limit,
    chunk_length,
    real_array,
    spatial_input,
)
from ._flat import (
    FlatLayout,
    TapGroup,
    chunk_views,
    make_layout,
    phase_copies,
    plan_chunks,
    scatter_phases,
    strided,
)
from ._numpy import np
from .padding import pad_channels_first

# Preferred size of one chunk's buffer: large enough for efficient matrix products, small
# enough to stay near the caches. Tuned with benchmarks/bench_ops.py.
_PREFERRED_COLS_BYTES = 1 * 2**20
# ... and when BLAS runs its own threads on every product: fewer, larger products.
_PREFERRED_BLAS_THREADS_BYTES = 16 * 2**20
# Per-group products below this many multiply-adds run one group per worker thread.
_SMALL_PRODUCT = 2_000_000
# One input channel per group and at most this many outputs per group: the depthwise kernel,
# which handles up to this many channels per NumPy call.
_DEPTHWISE_MAX_MULTIPLIER = 4
_DEPTHWISE_BLOCK = 8
# Buffers of one chunk of the row-tap kernel (:func:`_gemm_row_taps`); tuned with
# benchmarks/bench_ops_alternatives.py.
_PREFERRED_ROW_TAPS_BYTES = 2 * 2**20


def _check_groups(groups: object) -> int:
    return check_count(groups, "groups", "1")


def _check_weight(x: Array, w: Array, groups: int, transposed: bool) -> tuple[int, int]:
    """Validate the weight against the input; return ``(C_in, C_out)``."""
    nd = x.ndim - 2
    channels = x.shape[1]
    layout = "(C_in, C_out/groups, *kernel)" if transposed else "(C_out, C_in/groups, *kernel)"
    if w.ndim != nd + 2:
        raise GeometryError(
            f"weight has shape {tuple(w.shape)} ({w.ndim} axes) but the input has {nd} spatial axes",
            fix=f"give the weight as {layout} with {nd} kernel axes",
        )
    if any(k < 1 for k in w.shape[2:]):
        raise GeometryError(f"weight has an empty kernel axis: shape {tuple(w.shape)}", fix="use kernel sizes >= 1")
    if channels % groups:
        raise GeometryError(
            f"input channels ({channels}) are not divisible by groups={groups}",
            "in_channels must be divisible by groups",
            f"use groups that divides {channels}",
        )
    if transposed:
        if w.shape[0] != channels:
            raise GeometryError(
                f"Given transposed=1, weight of size {list(w.shape)}, expected input{list(x.shape)} to have "
                f"{w.shape[0]} channels, but got {channels} channels instead",
                "conv_transpose weight is (C_in, C_out/groups, *kernel)",
                f"use a weight with {channels} rows, or an input with {w.shape[0]} channels",
            )
        return channels, w.shape[1] * groups
    if w.shape[1] * groups != channels:
        raise GeometryError(
            f"Given groups={groups}, weight of size {list(w.shape)}, expected input{list(x.shape)} to have "
            f"{w.shape[1] * groups} channels, but got {channels} channels instead",
            "conv weight is (C_out, C_in/groups, *kernel)",
            f"use a weight of shape ({w.shape[0]}, {channels // groups}, ...) for groups={groups}",
        )
    if w.shape[0] % groups:
        raise GeometryError(
            f"output channels ({w.shape[0]}) are not divisible by groups={groups}",
            "out_channels must be divisible by groups",
            f"use groups that divides {w.shape[0]}",
        )
    return channels, w.shape[0]


def _check_bias(bias: object, out_channels: int, dtype: np.dtype[Any]) -> Optional[Array]:
    """``bias`` (any real dtype) as ``dtype``, one value per output channel."""
    if bias is None:
        return None
    b = real_array(bias, "bias")
    if b.shape != (out_channels,):
        raise GeometryError(
            f"bias has shape {tuple(b.shape)}, expected ({out_channels},)", fix="give one bias per output channel"
        )
    return b.astype(dtype, copy=False)


Engine = Callable[[tuple[int, ...], tuple[int, ...], int, int, int], LayerGeometry]
Kernel = Callable[[Array, Array, LayerGeometry, int, int], Array]
Copy = Callable[[Array, Array], None]  # np.copyto, or _parallel.copy (in threads)


def _run(
    op: str, x: Any, weight: Any, bias: Any, groups: object, channels_last: object, max_buffer_bytes: object,
    max_output_bytes: object, engine: Engine, kernel: Kernel,
) -> Array:
    """Checks in the order that allocates nothing big before the geometry: ``x`` (float32/64)
    channels-first, the weight (any real dtype, shapes only), groups, bias, limits, then
    ``engine(input sizes, kernel sizes, groups, C_in, C_out)``, the output's size; only then the
    weight is cast to ``x``'s dtype and ``kernel(x, w, geometry, max_buffer_bytes, cap)`` runs."""
    xcf = spatial_input(as_float_array(x, "x"), channels_last, op)
    w = real_array(weight, "weight")
    g = _check_groups(groups)
    c_in, c_out = _check_weight(xcf, w, g, transposed=op == "conv_transpose")
    b = _check_bias(bias, c_out, xcf.dtype)
    limit = check_buffer_limit(max_buffer_bytes)
    geo = engine(tuple(xcf.shape[2:]), tuple(w.shape[2:]), g, c_in, c_out)
    cap = check_output_limit(max_output_bytes)
    check_extent(geo)
    check_array_size("the output", (xcf.shape[0], c_out) + tuple(max(o, 0) for o in geo.output), xcf.itemsize, cap)
    out = kernel(xcf, w.astype(xcf.dtype, copy=False), geo, limit, cap)
    return channels_last_out(_add_bias(out, b), bool(channels_last))


def _add_bias(out: Array, bias: Optional[Array]) -> Array:
    if bias is not None:
        out += bias.reshape((1, -1) + (1,) * (out.ndim - 2))
    return out


# ------------------------------------------------------------------------------------------
def conv(
    x: Any,
    weight: Any,
    bias: Any = None,
    stride: IntOrTuple = 1,
    padding: PaddingArg = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
    padding_mode: str = "zeros",
    framework: str = "torch",
    *,
    channels_last: bool = False,
    max_buffer_bytes: int = DEFAULT_MAX_BUFFER_BYTES,
    max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
) -> Array:
    """N-d convolution (cross-correlation, as every framework computes it):
    ``out[n, o, i] = bias[o] + sum_{c, j} w[o, c, j] * xpad[n, g*C_in/g + c, i*s + j*d]``.

    ``x`` is ``(N, C_in, *spatial)`` (``(N, *spatial, C_in)`` with ``channels_last``; the output
    follows the same layout), ``weight`` ``(C_out, C_in/groups, *kernel)``. ``padding`` is
    anything :func:`convgeom.conv` takes in ``framework``'s dialect ('same', 'valid', 'causal',
    ints, ``(before, after)`` pairs); ``padding_mode`` is PyTorch's (zeros, reflect, replicate,
    circular). float32 or float64 in, the same dtype out (weight and bias of any real dtype are
    cast to it). The geometry, the output's size (``max_output_bytes``) and every buffer's are
    checked before anything is allocated.
    """
    def engine(sizes: tuple[int, ...], kernel: tuple[int, ...], g: int, c_in: int, c_out: int) -> LayerGeometry:
        return _geometry.conv(sizes, kernel, stride, padding, dilation, g, framework=framework,
                              padding_mode=padding_mode, in_channels=c_in, out_channels=c_out)

    return _run("conv", x, weight, bias, groups, channels_last, max_buffer_bytes, max_output_bytes, engine,
                conv_with_geometry)


def conv_with_geometry(
    x: Array, w: Array, geo: LayerGeometry, max_buffer_bytes: int = DEFAULT_MAX_BUFFER_BYTES,
    max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
) -> Array:
    """Convolve channels-first ``x`` with the pads, strides and output sizes of ``geo`` (no bias);
    the padded copy (non-zero padding modes) and the phase grid are checked against
    ``max_output_bytes`` before they are allocated."""
    batch = x.shape[0]
    groups = geo.groups
    c_out = w.shape[0]
    outputs = geo.output
    # No input channels: every output is an empty sum, 0 (torch 2.13 returns a tensor with 0
    # channels instead of C_out).
    if batch == 0 or c_out == 0 or x.shape[1] == 0 or min(outputs) <= 0:
        return np.zeros((batch, c_out) + tuple(max(o, 0) for o in outputs), dtype=x.dtype)
    pads = geo.pad
    data = x.nbytes + batch * c_out * math.prod(outputs) * x.itemsize  # working arrays may take twice this
    if geo.padding_mode != "zeros":
        x = pad_channels_first(x, pads, geo.padding_mode, 0, max_output_bytes, data)
        pads = tuple((0, 0) for _ in pads)
    stride, dilation, kernel = geo.stride, geo.dilation, geo.kernel
    if all(k == 1 for k in kernel) and all(p == (0, 0) for p in pads):
        return _pointwise(x, w, stride, outputs, groups)
    padded = tuple(n + b + a for n, (b, a) in zip(x.shape[2:], pads))
    layout = make_layout(kernel, stride, dilation, outputs)
    check_array_size("the phase grid of the padded input", (layout.phase_count, x.shape[1], batch * layout.cells),
                     x.itemsize, max_output_bytes, data)
    before = tuple(b for b, _ in pads)
    if w.shape[1] == 1 and w.shape[0] // groups <= _DEPTHWISE_MAX_MULTIPLIER:
        return _depthwise_taps(x, w, layout, stride, before, padded, outputs, groups, max_buffer_bytes)
    phases = scatter_phases(x, layout, stride, before, padded)
    row_taps = _row_tap_group(layout, w)
    if row_taps is not None:
        grp, w_rows = row_taps
        columns = _row_tap_columns(w_rows, grp, groups, phases.itemsize, max_buffer_bytes, _parallel.num_threads())
        if columns:
            return _gemm_row_taps(phases, w_rows, layout, grp, batch, outputs, groups, columns)
    return _gemm_flat(phases, w, layout, batch, outputs, groups, max_buffer_bytes)


def _pointwise(x: Array, w: Array, stride: tuple[int, ...], outputs: tuple[int, ...], groups: int) -> Array:
    """``k = 1``: ``out[n] = W @ x[n, :, ::s]`` per group, one matrix product."""
    batch, channels = x.shape[:2]
    if any(s != 1 for s in stride):
        x = x[(slice(None), slice(None)) + tuple(slice(0, (o - 1) * s + 1, s) for o, s in zip(outputs, stride))]
    xs = np.ascontiguousarray(x).reshape(batch, groups, channels // groups, -1)
    wm = w.reshape(groups, w.shape[0] // groups, w.shape[1])
    out = np.empty((batch, groups, w.shape[0] // groups, xs.shape[-1]), dtype=x.dtype)

    def task(lo: int, hi: int) -> None:
        np.matmul(wm, xs[lo:hi], out=out[lo:hi])

    with _parallel.single_threaded_blas() as own_threads:
        if own_threads:
            _parallel.run_split(task, batch, pieces=batch)
        else:
            task(0, batch)
    return out.reshape((batch, w.shape[0]) + outputs)


def _gemm_flat(
    phases: Array,
    w: Array,
    layout: FlatLayout,
    batch: int,
    outputs: tuple[int, ...],
    groups: int,
    max_buffer_bytes: int,
) -> Array:
    """im2col of contiguous flat slices + one matrix product per group and chunk; each chunk's
    product lands in a small scratch array and is copied into the result."""
    c_out, c_per = w.shape[:2]
    out_per = c_out // groups
    k_rows = c_per * math.prod(w.shape[2:])
    wm = _tap_matrix(w, layout, groups)
    result = np.empty((batch, c_out) + outputs, dtype=phases.dtype)
    valid = (batch - 1) * layout.cells + layout.span(outputs)
    im2col = _flat_im2col(phases, layout, groups, c_per, k_rows)
    column_bytes = groups * k_rows * phases.itemsize
    with _parallel.single_threaded_blas() as own_threads:
        preferred = _PREFERRED_COLS_BYTES if own_threads or _parallel.blas_threads() == 1 else _PREFERRED_BLAS_THREADS_BYTES
        # every worker holds one buffer: together they stay within max_buffer_bytes
        workers = min(_parallel.num_threads(), max(1, max_buffer_bytes // column_bytes)) if own_threads else 1
        max_columns = chunk_length(column_bytes, valid, max_buffer_bytes // workers, preferred)
        chunks = plan_chunks(layout, batch, outputs, max_columns)
        longest = max(c.length for c in chunks)
        copy: Copy = np.copyto if own_threads else _parallel.copy
        split_groups = not own_threads and groups >= 2 and out_per * k_rows * longest < _SMALL_PRODUCT

        def make_worker() -> Callable[[int], None]:
            buffer = np.empty(groups * k_rows * longest, dtype=phases.dtype)
            scratch_buffer = np.empty(c_out * longest, dtype=phases.dtype)

            def work(index: int) -> None:
                chunk = chunks[index]
                size = chunk.length
                cols = im2col(buffer[: groups * k_rows * size], chunk.start, size, copy)
                scratch = scratch_buffer[: c_out * size].reshape(groups, out_per, size)
                if split_groups:
                    _parallel.run_split(_grouped_product(wm, cols, scratch), groups)
                else:
                    np.matmul(wm, cols, out=scratch)
                out_src, out_dst = chunk_views(scratch.reshape(c_out, size), result, layout, chunk)
                copy(out_dst, out_src)

            return work

        _parallel.run_workers(len(chunks), make_worker, threads=workers)
    return result


def _tap_matrix(w: Array, layout: FlatLayout, groups: int) -> Array:
    """The weight as ``(groups, C_out/g, C_in/g * prod(k))``, its columns in the order of the
    im2col rows: tap group by tap group, then input channel, then the group's taps."""
    c_out, c_per = w.shape[:2]
    return np.concatenate(
        [w[(slice(None), slice(None)) + np.ix_(*grp.taps)].reshape(groups, c_out // groups, c_per * grp.size)
         for grp in layout.groups],
        axis=2,
    )


def _flat_im2col(phases: Array, layout: FlatLayout, groups: int, c_per: int,
                 k_rows: int) -> Callable[[Array, int, int, Copy], Array]:
    """``im2col(buffer, start, size, copy)``: flat columns ``start .. start + size`` of every tap
    of ``phases`` copied into ``buffer`` and returned as ``(groups, k_rows, size)`` (rows in
    :func:`_tap_matrix`'s order), one strided ``copy`` per tap group."""
    total = phases.shape[-1]
    flat_phases = phases.reshape(-1)
    # per tap group: its first element in the phases, its first buffer row, its tap grid
    plans = []
    row = 0
    for grp in layout.groups:
        inner = tuple(math.prod(grp.counts[a + 1:]) for a in range(len(grp.counts)))
        plans.append((grp.phase * phases.shape[1] * total + grp.offset, row, grp.counts, grp.steps, grp.size, inner))
        row += c_per * grp.size

    def im2col(buffer: Array, start: int, size: int, copy: Copy) -> Array:
        for base, first_row, counts, steps, tap_count, inner in plans:
            shape = (groups, c_per) + counts + (size,)
            src = strided(flat_phases, base + start, shape, (c_per * total, total) + steps + (1,))
            dst = strided(buffer, first_row * size, shape,
                          (k_rows * size, tap_count * size) + tuple(i * size for i in inner) + (1,))
            copy(dst, src)
        return buffer.reshape(groups, k_rows, size)

    return im2col


def _row_tap_group(layout: FlatLayout, w: Array) -> Optional[tuple[TapGroup, Array]]:
    """The tap group and weight for :func:`_gemm_row_taps`, or None when it does not apply (not
    one tap group). With fewer than 2 taps on the row axis (1-D, or a ``1 x k`` kernel) the last
    axis's ``k = a * b`` taps are split into ``a`` virtual rows of ``b`` (``a`` the largest
    divisor up to ``sqrt(k)``; tap ``u*b + v`` is ``u`` rows of ``b`` steps plus ``v``); a prime
    ``k`` gives None."""
    if len(layout.groups) != 1:
        return None
    grp = layout.groups[0]
    if len(grp.counts) >= 2 and grp.counts[-2] >= 2:
        return grp, w
    k, step = grp.counts[-1], grp.steps[-1]
    rows = max((a for a in range(2, math.isqrt(k) + 1) if k % a == 0), default=0)
    if not rows:
        return None
    # one tap group: every axis's taps are 0..k-1 (stride 1 in phase terms)
    cols = k // rows
    virtual = TapGroup(grp.phase, grp.offset, grp.counts[:-1] + (rows, cols), grp.steps[:-1] + (cols * step, step),
                       grp.taps[:-1] + (tuple(range(rows)), tuple(range(cols))))
    return virtual, w.reshape(w.shape[:-1] + (rows, cols))


def _row_tap_columns(w: Array, grp: TapGroup, groups: int, item: int, max_buffer_bytes: int, workers: int) -> int:
    """Output columns per chunk of :func:`_gemm_row_taps` (``w`` and ``grp`` from
    :func:`_row_tap_group`), or 0 when buffers for a chunk at least as long as the ``k_h - 1``
    rows it adds do not fit in ``max_buffer_bytes`` for every worker."""
    row_taps = grp.counts[-2]
    extra = (row_taps - 1) * grp.steps[-2]
    column_bytes = (w.shape[1] * grp.size * groups // row_taps + (row_taps + 1) * w.shape[0]) * item
    columns = min(max_buffer_bytes // workers, _PREFERRED_ROW_TAPS_BYTES) // column_bytes - extra
    return columns if columns >= extra else 0


def _gemm_row_taps(
    phases: Array,
    w: Array,
    layout: FlatLayout,
    grp: TapGroup,
    batch: int,
    outputs: tuple[int, ...],
    groups: int,
    columns: int,
) -> Array:
    """One tap group ``grp`` (with ``w`` from :func:`_row_tap_group`): the taps of the row axis
    (the group's second last, ``k_h`` of them) go into the rows of the product instead of the
    im2col. Per chunk, ``H`` is the im2col of the other taps (``C_in/g * prod(k) / k_h`` rows)
    over the chunk and ``k_h - 1`` more grid rows, ``Y = W' @ H`` with ``W'``
    ``(k_h * C_out/g, C_in/g * prod(k) / k_h)`` per group, and the output is the sum of the
    ``k_h`` row blocks of ``Y``, each shifted by its tap's row: a third of the copies of the
    flat im2col for 3x3 kernels, and a squarer product (``benchmarks/bench_ops_alternatives.py``).

    Long because the per-thread worker is a closure over the chunk plan, its buffers and the
    sizes computed here; the weight layout and the shifted sum are apart
    (:func:`_row_tap_matrix`, :func:`_sum_shifted`)."""
    c_out, c_per = w.shape[:2]
    out_per = c_out // groups
    row = len(grp.counts) - 2
    row_taps = grp.counts[row]
    shifts = [t * grp.steps[row] for t in range(row_taps)]
    extra = shifts[-1]
    k_counts = grp.counts[:row] + grp.counts[row + 1:]
    k_steps = grp.steps[:row] + grp.steps[row + 1:]
    k_rows = c_per * math.prod(k_counts)
    wm = _row_tap_matrix(w, grp, groups)
    total = phases.shape[-1]
    flat_phases = phases.reshape(-1)
    base = grp.phase * phases.shape[1] * total + grp.offset
    result = np.empty((batch, c_out) + outputs, dtype=phases.dtype)
    chunks = plan_chunks(layout, batch, outputs, columns)
    longest = max(c.length for c in chunks)
    with _parallel.single_threaded_blas() as own_threads:

        def make_worker() -> Callable[[int], None]:
            h_buffer = np.empty(groups * k_rows * (longest + extra), dtype=phases.dtype)
            y_buffer = np.empty(row_taps * c_out * (longest + extra), dtype=phases.dtype)
            sum_buffer = np.empty(c_out * longest, dtype=phases.dtype)

            def work(index: int) -> None:
                chunk = chunks[index]
                size = chunk.length
                width = size + extra
                shape = (groups, c_per) + k_counts + (width,)
                h = h_buffer[: groups * k_rows * width].reshape(shape)
                np.copyto(h, strided(flat_phases, base + chunk.start, shape, (c_per * total, total) + k_steps + (1,)))
                y = y_buffer[: row_taps * c_out * width].reshape(groups, row_taps * out_per, width)
                np.matmul(wm, h.reshape(groups, k_rows, width), out=y)
                total_sum = sum_buffer[: c_out * size].reshape(groups, out_per, size)
                _sum_shifted(y.reshape(groups, row_taps, out_per, width), shifts, size, total_sum)
                out_src, out_dst = chunk_views(total_sum.reshape(c_out, size), result, layout, chunk)
                np.copyto(out_dst, out_src)

            return work

        _parallel.run_workers(len(chunks), make_worker, threads=_parallel.num_threads() if own_threads else 1)
    return result


def _row_tap_matrix(w: Array, grp: TapGroup, groups: int) -> Array:
    """``W'`` of :func:`_gemm_row_taps`: per group, rows (row tap, output channel), columns
    (input channel, the other taps)."""
    c_out, c_per = w.shape[:2]
    row = len(grp.counts) - 2
    taps = w[(slice(None), slice(None)) + np.ix_(*grp.taps)].reshape((groups, c_out // groups, c_per) + grp.counts)
    return np.ascontiguousarray(np.moveaxis(taps, 3 + row, 1)).reshape(
        groups, grp.counts[row] * (c_out // groups), c_per * math.prod(grp.counts) // grp.counts[row])


def _sum_shifted(blocks: Array, shifts: list[int], size: int, out: Array) -> None:
    """``out = sum_t blocks[:, t, :, shifts[t] : shifts[t] + size]`` (at least two ``t``)."""
    np.add(blocks[:, 0, :, :size], blocks[:, 1, :, shifts[1]:shifts[1] + size], out=out)
    for t in range(2, len(shifts)):
        np.add(out, blocks[:, t, :, shifts[t]:shifts[t] + size], out=out)


def _depthwise_taps(
    x: Array,
    w: Array,
    layout: FlatLayout,
    stride: tuple[int, ...],
    pad_before: tuple[int, ...],
    padded: tuple[int, ...],
    outputs: tuple[int, ...],
    groups: int,
    max_buffer_bytes: int,
) -> Array:
    """One input channel per group: ``out[o] = w[o] @ cols(o // m)``, the ``prod(k) x l`` im2col
    of that channel alone, for a block of channels at a time (a batched matrix-vector product).

    Each thread takes blocks of channels: it copies them into the flat phase layout, then per run
    of columns copies the taps (one strided copy per tap group) and multiplies; runs are sized so
    the buffer stays near the cache, and blocks so that each NumPy call has real work (threads
    contend for the GIL between calls).

    Long because the per-thread worker is a closure over the block and run sizes computed here;
    the tap copies are apart (:func:`_channel_im2col`)."""
    batch = x.shape[0]
    mult = w.shape[0] // groups
    valid = (batch - 1) * layout.cells + layout.span(outputs)
    taps = math.prod(w.shape[2:])
    wm = _tap_matrix(w, layout, groups)
    result = np.empty((batch, w.shape[0]) + outputs, dtype=x.dtype)
    threads = _parallel.num_threads()
    block = max(1, min(_DEPTHWISE_BLOCK, groups // (4 * threads), max_buffer_bytes // (threads * taps * x.itemsize)))
    workers = max(1, min(threads, max_buffer_bytes // (block * taps * x.itemsize)))
    # each worker's im2col buffer: block * taps * run values, all of them within max_buffer_bytes
    run = chunk_length(block * taps * x.itemsize, valid, max_buffer_bytes // workers, _PREFERRED_COLS_BYTES)
    copies = phase_copies(tuple(x.shape[2:]), layout, stride, pad_before, padded)

    def make_worker() -> Callable[[int], None]:
        rows = np.empty((block, mult, valid), dtype=x.dtype)
        buffer = np.empty(block * taps * run, dtype=x.dtype)
        reuse: dict[int, Array] = {}

        def work(index: int) -> None:
            g0, g1 = index * block, min(groups, (index + 1) * block)
            count = g1 - g0
            source = scatter_phases(x[:, g0:g1], layout, stride, pad_before, padded, parallel=False,
                                    out=reuse.get(count), copies=copies)
            reuse[count] = source
            for start in range(0, valid, run):
                size = min(run, valid - start)
                cols = _channel_im2col(source, layout, start, size, buffer[: count * taps * size])
                np.matmul(wm[g0:g1], cols, out=rows[:count, :, start:start + size])
            view = strided(rows.reshape(-1), 0, (count * mult, batch) + outputs, (valid, layout.cells) + layout.pitch)
            np.copyto(np.swapaxes(result[:, g0 * mult:g1 * mult], 0, 1), view)

        return work

    with _parallel.single_threaded_blas() as own_threads:
        _parallel.run_workers(-(-groups // block), make_worker, threads=workers if own_threads else 1)
    return result


def _channel_im2col(source: Array, layout: FlatLayout, start: int, size: int, buffer: Array) -> Array:
    """Flat columns ``start .. start + size`` of every tap of each channel of ``source``
    (phases, channels, cells) copied into ``buffer``, as ``(channels, taps, size)``, one strided
    copy per tap group."""
    count, cells = source.shape[1], source.shape[2]
    taps = sum(grp.size for grp in layout.groups)
    flat = source.reshape(-1)
    first = 0
    for grp in layout.groups:
        shape = (count,) + grp.counts + (size,)
        inner = tuple(math.prod(grp.counts[a + 1:]) * size for a in range(len(grp.counts)))
        src = strided(flat, grp.phase * count * cells + grp.offset + start, shape, (cells,) + grp.steps + (1,))
        np.copyto(strided(buffer, first * size, shape, (taps * size,) + inner + (1,)), src)
        first += grp.size
    return buffer.reshape(count, taps, size)


def _grouped_product(wm: Array, cols: Array, out: Array) -> Callable[[int, int], None]:
    """Task computing ``out[g] = wm[g] @ cols[g]`` for groups ``lo..hi-1``."""

    def task(lo: int, hi: int) -> None:
        np.matmul(wm[lo:hi], cols[lo:hi], out=out[lo:hi])

    return task


# ------------------------------------------------------------------------------------------
def conv_transpose(
    x: Any,
    weight: Any,
    bias: Any = None,
    stride: IntOrTuple = 1,
    padding: PaddingArg = 0,
    output_padding: Optional[IntOrTuple] = None,
    groups: int = 1,
    dilation: IntOrTuple = 1,
    framework: str = "torch",
    *,
    output_size: Optional[IntOrTuple] = None,
    channels_last: bool = False,
    max_buffer_bytes: int = DEFAULT_MAX_BUFFER_BYTES,
    max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
) -> Array:
    """N-d transposed convolution (the gradient of :func:`conv` with respect to its input):
    input ``i`` and tap ``j`` add ``x[n, c, i] * w[c, o, j]`` to full-output cell ``i*s + j*d``;
    the result is the full output ``(n-1)*s + d*(k-1) + 1`` cropped by the engine's
    ``(pad_before, pad_after)`` (PyTorch: ``p`` and ``p - output_padding``).

    ``weight`` is ``(C_in, C_out/groups, *kernel)`` as in PyTorch. ``output_padding=None`` is
    the framework default (0 in PyTorch); ``output_size`` is PyTorch's ``output_size=``. Sizes
    are checked as in :func:`conv` before anything is allocated.
    """
    def engine(sizes: tuple[int, ...], kernel: tuple[int, ...], g: int, c_in: int, c_out: int) -> LayerGeometry:
        return _geometry.conv_transpose(sizes, kernel, stride, padding, output_padding, dilation,
                                        output_size=output_size, groups=g, framework=framework)

    return _run("conv_transpose", x, weight, bias, groups, channels_last, max_buffer_bytes, max_output_bytes,
                engine, conv_transpose_with_geometry)


def conv_transpose_with_geometry(
    x: Array, w: Array, geo: LayerGeometry, max_buffer_bytes: int = DEFAULT_MAX_BUFFER_BYTES,
    max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
) -> Array:
    """Transposed convolution of channels-first ``x`` with the crop and sizes of ``geo`` (no bias):
    per chunk of flat input columns, ``cols = W^T @ x`` per group, then col2im
    (:func:`_col2im_add`) into the phases of the full output, cropped by :func:`_gather_crop`.

    Only the phases (output residues mod the stride) that some tap writes are stored; with a
    stride larger than the kernel's reach the others are zeros of the output."""
    batch, c_in = x.shape[:2]
    groups = geo.groups
    in_per = c_in // groups
    out_per = w.shape[1]
    c_out = out_per * groups
    outputs = geo.output
    if batch == 0 or c_out == 0 or c_in == 0 or min(outputs) <= 0:
        return np.zeros((batch, c_out) + tuple(max(o, 0) for o in outputs), dtype=x.dtype)
    sizes = tuple(x.shape[2:])
    layout, lo = _transposed_layout(geo, sizes)
    cells = layout.cells
    total = batch * cells
    item = x.itemsize
    check_array_size("the phase grids of the input and output", (layout.phase_count * c_out + c_in, total), item,
                     max_output_bytes, x.nbytes + batch * c_out * math.prod(outputs) * item)
    # the input on the flat grid: x[n, c, i] at n*cells + sum i_a * pitch_a
    xin = np.zeros((c_in, total), dtype=x.dtype)
    dst = strided(xin.reshape(-1), 0, (c_in, batch) + sizes, (total, cells) + layout.pitch)
    np.copyto(dst, np.swapaxes(x, 0, 1))
    valid = (batch - 1) * cells + layout.span(sizes)
    ktaps = math.prod(geo.kernel)
    wt = np.concatenate(
        [np.moveaxis(
            w.reshape((groups, in_per, out_per) + geo.kernel)[(slice(None),) * 3 + np.ix_(*grp.taps)], 1, -1
        ).reshape(groups, out_per * grp.size, in_per) for grp in layout.groups],
        axis=1,
    )
    outph = np.zeros((layout.phase_count, c_out, total), dtype=x.dtype)
    out4 = outph.reshape(layout.phase_count, groups, out_per, total)
    xin3 = xin.reshape(groups, in_per, total)
    preferred = _PREFERRED_COLS_BYTES if _parallel.blas_threads() == 1 else _PREFERRED_BLAS_THREADS_BYTES
    length = chunk_length(groups * out_per * ktaps * item, valid, max_buffer_bytes, preferred)
    buffer = np.empty(groups * out_per * ktaps * length, dtype=x.dtype)
    for start in range(0, valid, length):
        size = min(length, valid - start)
        cols = buffer[: groups * out_per * ktaps * size].reshape(groups, out_per * ktaps, size)
        np.matmul(wt, xin3[:, :, start:start + size], out=cols)
        _col2im_add(cols, out4, layout, start)
    first = tuple(a.pad_before - low for a, low in zip(geo.axes, lo))
    return _gather_crop(outph, layout, batch, c_out, geo.stride, first, outputs)


def _transposed_layout(geo: LayerGeometry, sizes: tuple[int, ...]) -> tuple[FlatLayout, tuple[int, ...]]:
    """The phase layout of the full output ``p = i*s + j*d`` (``(n-1)*s + d*(k-1) + 1`` per
    axis), extended to cover the crop window, and where that extension starts (``lo <= 0``)."""
    stride, dilation, kernel = geo.stride, geo.dilation, geo.kernel
    full = tuple((n - 1) * s + (k - 1) * d + 1 for n, s, k, d in zip(sizes, stride, kernel, dilation))
    lo = tuple(min(0, a.pad_before) for a in geo.axes)
    hi = tuple(max(f, a.pad_before + a.output) for f, a in zip(full, geo.axes))
    layout = make_layout(
        kernel, stride, dilation, sizes, shift=tuple(-v for v in lo),
        min_grid=tuple(-(-(h - low) // s) for h, low, s in zip(hi, lo, stride)),
    )
    return layout, lo


def _col2im_add(cols: Array, out4: Array, layout: FlatLayout, start: int) -> None:
    """Add each tap's rows of ``cols`` (groups, C_out/g * taps, size), for flat input columns
    ``start ..``, into ``out4`` (phases, groups, C_out/g, cells) at the tap's shift."""
    groups, size = cols.shape[0], cols.shape[2]
    out_per = out4.shape[2]
    row = 0
    for grp in layout.groups:
        block = cols[:, row:row + out_per * grp.size].reshape((groups, out_per) + grp.counts + (size,))
        for t in np.ndindex(*grp.counts):
            offset = start + grp.offset + sum(ti * st for ti, st in zip(t, grp.steps))
            target = out4[grp.phase, :, :, offset:offset + size]
            np.add(target, block[(slice(None), slice(None)) + t], out=target)
        row += out_per * grp.size


def _gather_crop(
    outph: Array,
    layout: FlatLayout,
    batch: int,
    c_out: int,
    stride: tuple[int, ...],
    first: tuple[int, ...],
    outputs: tuple[int, ...],
) -> Array:
    """Output cell ``t`` of each axis is extended cell ``first + t`` = phase ``(first+t) % s``,
    grid cell ``(first+t) // s``; one strided copy per stored phase (the cells of phases no tap
    writes are 0)."""
    every_phase = all(len(used) == s for used, s in zip(layout.residues, stride))
    out = (np.empty if every_phase else np.zeros)((batch, c_out) + outputs, dtype=outph.dtype)
    cells = layout.cells
    pitch = layout.pitch
    for residues in itertools.product(*layout.residues):
        t0 = tuple((r - f) % s for r, f, s in zip(residues, first, stride))
        counts = tuple(max(0, -(-(o - t) // s)) for o, t, s in zip(outputs, t0, stride))
        if min(counts) == 0:
            continue
        u0 = tuple((f + t) // s for f, t, s in zip(first, t0, stride))
        offset = layout.phase_index(tuple(residues)) * c_out * batch * cells + sum(u * p for u, p in zip(u0, pitch))
        src = strided(outph.reshape(-1), offset, (c_out, batch) + counts, (batch * cells, cells) + pitch)
        dst = out[(slice(None), slice(None)) + tuple(slice(t, None, s) for t, s in zip(t0, stride))]
        np.copyto(dst, np.swapaxes(src, 0, 1))
    return out
