"""The flat phase layout that the convolution kernels share.

A windowed op reads padded-input cell ``i*s + j*d`` for output ``i`` and tap ``j`` (per axis).
Writing ``j*d + shift = q*s + r`` (``0 <= r < s``) turns that into cell ``i + q`` of *phase*
``r`` (the sub-grid ``r, r+s, r+2s, ...``): every tap becomes a stride-1 shift of one phase.
Flattening the phase grid (and the batch) row-major, a tap is a constant offset
``sum_a q_a * pitch_a``, so the rows of an im2col matrix are contiguous slices of the flat
phase array and the output is computed on the flat grid, then read back with a strided view.
Positions of the flat grid that are not outputs (the ends of rows) cost a little extra work
and are never read.

Taps ``j = j0 + t*m`` with ``m = s / gcd(s, d)`` share one phase and are spaced
``d / gcd(s, d)`` cells apart, so each class of taps is one regular strided view.
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass

from . import _parallel
from ._common import Array
from ._numpy import np


@dataclass(frozen=True)
class AxisTaps:
    """Taps ``j = taps[t]`` of one axis that read phase ``residue`` at grid cell ``i + q0 + t*qstep``."""

    residue: int
    q0: int
    qstep: int
    taps: tuple[int, ...]

    @property
    def last_q(self) -> int:
        return self.q0 + (len(self.taps) - 1) * self.qstep


def axis_tap_classes(kernel: int, stride: int, dilation: int, shift: int = 0) -> tuple[AxisTaps, ...]:
    """Split taps ``0..k-1`` by phase: ``j*d + shift = q*s + r``; ``j = j0 + t*m``, ``m = s/gcd(s, d)``."""
    g = math.gcd(stride, dilation)
    m = stride // g
    classes = []
    for j0 in range(min(m, kernel)):
        v = j0 * dilation + shift
        classes.append(AxisTaps(v % stride, v // stride, dilation // g, tuple(range(j0, kernel, m))))
    return tuple(classes)


@dataclass(frozen=True)
class TapGroup:
    """One combination of per-axis tap classes: a phase and a regular grid of taps."""

    phase: int
    offset: int
    counts: tuple[int, ...]
    steps: tuple[int, ...]
    taps: tuple[tuple[int, ...], ...]

    @property
    def size(self) -> int:
        return math.prod(self.counts)


@dataclass(frozen=True)
class FlatLayout:
    """Phase grid of ``grid`` cells per axis; ``residues`` are the phases kept per axis (phase
    index = mixed radix over them); ``groups`` the tap groups."""

    grid: tuple[int, ...]
    residues: tuple[tuple[int, ...], ...]
    groups: tuple[TapGroup, ...]

    @functools.cached_property
    def pitch(self) -> tuple[int, ...]:
        """Flat distance between neighbouring cells of each axis (row-major)."""
        out = []
        acc = 1
        for size in reversed(self.grid):
            out.append(acc)
            acc *= size
        return tuple(reversed(out))

    @property
    def cells(self) -> int:
        return math.prod(self.grid)

    @property
    def phase_count(self) -> int:
        return math.prod(len(r) for r in self.residues)

    def phase_index(self, residues: tuple[int, ...]) -> int:
        index = 0
        for used, r in zip(self.residues, residues):
            index = index * len(used) + used.index(r)
        return index

    def span(self, sizes: tuple[int, ...]) -> int:
        """Flat length covering grid cells ``0..sizes-1`` on every axis."""
        return sum((n - 1) * p for n, p in zip(sizes, self.pitch)) + 1


def make_layout(
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
    positions: tuple[int, ...],
    shift: tuple[int, ...] | None = None,
    all_residues: bool = False,
    min_grid: tuple[int, ...] | None = None,
) -> FlatLayout:
    """Layout for ``positions`` outputs (conv) or inputs (transposed conv) per axis.

    The grid holds ``positions + last tap shift`` cells per axis, enough for every read (conv)
    or write (transposed conv); ``min_grid`` enlarges it (the transposed conv's crop window)."""
    shifts = shift if shift is not None else (0,) * len(kernel)
    per_axis = [axis_tap_classes(k, s, d, sh) for k, s, d, sh in zip(kernel, stride, dilation, shifts)]
    grid = tuple(n + max(c.last_q for c in classes) for n, classes in zip(positions, per_axis))
    if min_grid is not None:
        grid = tuple(max(g, m) for g, m in zip(grid, min_grid))
    residues = tuple(
        tuple(range(s)) if all_residues else tuple(sorted({c.residue for c in classes}))
        for s, classes in zip(stride, per_axis)
    )
    layout = FlatLayout(grid, residues, ())
    pitch = layout.pitch
    groups = []
    for combo in itertools.product(*per_axis):
        groups.append(
            TapGroup(
                phase=layout.phase_index(tuple(c.residue for c in combo)),
                offset=sum(c.q0 * p for c, p in zip(combo, pitch)),
                counts=tuple(len(c.taps) for c in combo),
                steps=tuple(c.qstep * p for c, p in zip(combo, pitch)),
                taps=tuple(c.taps for c in combo),
            )
        )
    return FlatLayout(grid, residues, tuple(groups))


@dataclass(frozen=True)
class PhaseCopy:
    """Where one phase's share of the input goes: input slices (spatial axes) into the flat
    phase array at ``first`` (per channel and image) with per-axis ``counts``."""

    phase: int
    source: tuple[slice, ...]
    first: int
    counts: tuple[int, ...]


def phase_copies(
    sizes: tuple[int, ...],
    layout: FlatLayout,
    stride: tuple[int, ...],
    pad_before: tuple[int, ...],
    padded: tuple[int, ...],
) -> tuple[PhaseCopy, ...]:
    """Padded cell ``p = u*s + r`` holds ``x[p - pad_before]`` when that index is inside the
    input and ``p < padded`` (a negative ``pad_before`` or a short ``padded`` crops the input)."""
    copies = []
    for residues in itertools.product(*layout.residues):
        source: list[slice] = []
        counts: list[int] = []
        first = 0
        for r, s, pb, n, p_len, grid, pch in zip(residues, stride, pad_before, sizes, padded, layout.grid,
                                                 layout.pitch):
            u_lo = max(0, -((r - pb) // s))  # ceil((pb - r) / s), at least 0
            limit = min(p_len, n + pb)  # padded cells that hold input
            u_hi = min(grid, -((r - limit) // s))  # ceil((limit - r) / s)
            count = max(0, u_hi - u_lo)
            start = u_lo * s + r - pb
            source.append(slice(start, start + (count - 1) * s + 1 if count else start, s))
            counts.append(count)
            first += u_lo * pch
        if min(counts) > 0:
            copies.append(PhaseCopy(layout.phase_index(tuple(residues)), tuple(source), first, tuple(counts)))
    return tuple(copies)


def scatter_phases(
    x: Array,
    layout: FlatLayout,
    stride: tuple[int, ...],
    pad_before: tuple[int, ...],
    padded: tuple[int, ...],
    parallel: bool = True,
    out: Array | None = None,
    copies: tuple[PhaseCopy, ...] | None = None,
) -> Array:
    """Copy ``x`` ``(N, C, *n)`` into a zeroed flat phase array ``(phases, C, N*cells)``
    (:func:`phase_copies`). ``parallel`` splits large copies over the worker threads; ``out``
    (an array from an earlier call with the same geometry, padding cells still zero) and
    ``copies`` (its plan) save the set-up when one channel at a time is scattered."""
    batch, channels = x.shape[:2]
    cells = layout.cells
    if out is None:
        out = np.zeros((layout.phase_count, channels, batch * cells), dtype=x.dtype)
    if copies is None:
        copies = phase_copies(tuple(x.shape[2:]), layout, stride, pad_before, padded)
    flat = out.reshape(-1)
    copy = _parallel.copy if parallel else np.copyto
    for pc in copies:
        dst = strided(flat, pc.phase * channels * batch * cells + pc.first, (channels, batch) + pc.counts,
                      (batch * cells, cells) + layout.pitch)
        copy(dst, np.swapaxes(x[(slice(None), slice(None)) + pc.source], 0, 1))
    return out


@dataclass(frozen=True)
class Chunk:
    """A run of flat-grid columns covering whole outputs: ``count`` images (``level == -1``,
    ``index = (first image,)``) or ``count`` entries of axis ``level`` starting at
    ``index[-1]`` with the image and outer axes fixed by ``index[:-1]``."""

    start: int
    length: int
    level: int
    index: tuple[int, ...]
    count: int


def plan_chunks(layout: FlatLayout, batch: int, outputs: tuple[int, ...], max_columns: int) -> list[Chunk]:
    """Split the outputs into chunks of at most ``max_columns`` flat columns, as coarse as possible:
    whole images if one fits, else runs along the outermost axis whose unit fits, and so on."""
    pitch = layout.pitch
    cells = layout.cells
    nd = len(outputs)
    tails = [sum((o - 1) * p for o, p in zip(outputs[a + 1:], pitch[a + 1:])) + 1 for a in range(nd)]
    span = layout.span(outputs)
    chunks: list[Chunk] = []
    if span <= max_columns:
        per = min(batch, (max_columns - span) // cells + 1)
        for n0 in range(0, batch, per):
            count = min(per, batch - n0)
            chunks.append(Chunk(n0 * cells, (count - 1) * cells + span, -1, (n0,), count))
        return chunks
    level = next(a for a in range(nd) if tails[a] <= max_columns)
    unit, tail = pitch[level], tails[level]
    per = min(outputs[level], (max_columns - tail) // unit + 1)
    for n in range(batch):
        for prefix in itertools.product(*(range(o) for o in outputs[:level])):
            base = n * cells + sum(i * p for i, p in zip(prefix, pitch))
            for r0 in range(0, outputs[level], per):
                count = min(per, outputs[level] - r0)
                chunks.append(Chunk(base + r0 * unit, (count - 1) * unit + tail, level, (n,) + prefix + (r0,), count))
    return chunks


def strided(base: Array, offset: int, shape: tuple[int, ...], strides: tuple[int, ...]) -> Array:
    """A view of contiguous ``base`` starting ``offset`` items in, with item ``strides``
    (``np.ndarray(buffer=...)``: five times cheaper than ``as_strided``, and bounds-checked)."""
    item = base.itemsize
    view: Array = np.ndarray(shape, base.dtype, base, offset * item, tuple(s * item for s in strides))
    return view


def chunk_views(scratch: Array, result: Array, layout: FlatLayout, chunk: Chunk) -> tuple[Array, Array]:
    """``(source, destination)`` to copy a chunk's outputs from contiguous ``scratch``
    ``(C, length)`` into ``result`` ``(N, C, *outputs)``; both ``(C, count, *inner outputs)``."""
    length = scratch.shape[1]
    pitch = layout.pitch
    outputs = result.shape[2:]
    if chunk.level < 0:
        n0 = chunk.index[0]
        src = strided(scratch, 0, (scratch.shape[0], chunk.count) + outputs, (length, layout.cells) + pitch)
        return src, np.swapaxes(result[n0:n0 + chunk.count], 0, 1)
    level = chunk.level
    src = strided(
        scratch, 0, (scratch.shape[0], chunk.count) + outputs[level + 1:], (length, pitch[level]) + pitch[level + 1:]
    )
    n, *prefix, r0 = chunk.index
    dst = result[(n, slice(None)) + tuple(prefix) + (slice(r0, r0 + chunk.count),)]
    return src, dst
