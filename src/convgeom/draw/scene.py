"""The scene: everything a picture shows, computed once from the engine's geometry (and, for
values, from the NumPy ops' step-by-step trace). Renderers (SVG, PNG/GIF, terminal) draw a
:class:`Scene` and compute no geometry of their own.

A scene holds grids of cells, each cell with its *role* (``input``, ``pad``, ``overhang``,
``output``, ``kernel``) and its coordinates in its own grid (input and padding cells in padded
coordinates, 0-based), and a :class:`Sweep`: the window of every output position (the taps it
reads, dilation holes left out) and the cell it computes. Frames of an animation are the
sweep's positions in row-major order.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, NamedTuple, Optional

from ..errors import GeometryError

Pos = tuple[int, ...]

ROLES: tuple[str, ...] = ("input", "pad", "overhang", "output", "kernel")

MAX_CELLS = 65_536
"""Most cells one SVG or PNG picture draws (all grids together), e.g. a 256 x 256 input."""

MAX_FRAMES = 1_024
"""Most frames of one animated GIF (one per output position), e.g. a 32 x 32 output."""

MAX_HEAT_CELLS = 4_096 * 4_096
"""Largest coverage heat map (drawn as an image above :data:`MAX_CELLS` cells)."""

MAX_TERMINAL_CELLS = 4_096
"""Most cells a terminal picture prints, and at most :data:`MAX_TERMINAL_WIDTH` per row."""

MAX_TERMINAL_WIDTH = 64
"""Most cells in one row of a terminal picture."""

COPY_MODES: tuple[str, ...] = ("reflect", "replicate", "circular")

AXIS_NAMES: dict[int, tuple[str, ...]] = {1: ("cols",), 2: ("rows", "cols"), 3: ("depth", "rows", "cols")}


def axis_names(ndim: int) -> tuple[str, ...]:
    return AXIS_NAMES.get(ndim, tuple(f"axis {a}" for a in range(ndim)))


def pos_text(pos: Pos) -> str:
    """``data-pos``: ``"r,c"`` in 2-D, ``"c"`` in 1-D."""
    if len(pos) == 2:
        return f"{pos[0]},{pos[1]}"
    return ",".join(map(str, pos))


class Cell(NamedTuple):
    """One grid cell. ``text`` is its value (if drawn), ``note`` a smaller second line (where a
    copied padding cell comes from, a divisor, a count); ``fill`` says what a padding cell holds
    (``zeros``, ``constant``, ``reflect``, ``replicate``, ``circular``, ``inserted``, ``crop``,
    ``ignored`` for pooling padding that never counts);
    ``source`` is the position (same grid) of the cell a copy-mode padding cell repeats."""

    pos: Pos
    role: str
    text: str = ""
    note: str = ""
    fill: str = ""
    source: Optional[Pos] = None

    @property
    def style(self) -> str:
        """The palette key of the cell when nothing is highlighted."""
        if self.role == "pad":
            if self.fill in COPY_MODES:
                return "pad-copy"
            return {"constant": "pad-constant", "inserted": "pad-inserted", "crop": "pad-crop"}.get(self.fill, "pad")
        return self.role


@dataclass(frozen=True)
class Heat:
    """Coverage counts of a grid. Windows are boxes, so a cell's count is the product of its
    axes' counts: ``lines[a][g]`` is the count of grid line ``g`` on axis ``a`` (``-1`` where
    nothing is counted, e.g. padding). Also the largest count and per axis the grid lines no
    window reads (``unread``) and those of them lying between read lines (``gaps``)."""

    lines: tuple[tuple[int, ...], ...]
    maximum: int
    unread: tuple[tuple[int, ...], ...]
    gaps: tuple[tuple[int, ...], ...]

    def count(self, pos: Pos) -> int:
        """The count of one cell (``-1``: not counted)."""
        value = 1
        for line, g in zip(self.lines, pos):
            if line[g] < 0:
                return -1
            value *= line[g]
        return value

    def rows(self) -> Iterator[tuple[int, ...]]:
        """Counts row by row (one row in 1-D; 2-D only), row-major."""
        if len(self.lines) == 1:
            yield self.lines[0]
            return
        rows, cols = self.lines
        made: dict[int, tuple[int, ...]] = {}  # rows with one factor are equal: built once
        for factor in rows:
            if factor not in made:
                made[factor] = tuple(-1 if factor < 0 or c < 0 else factor * c for c in cols)
            yield made[factor]


@dataclass(frozen=True)
class Grid:
    """A rectangular grid of cells (``shape`` per axis). ``cells`` lists every drawn cell in
    row-major order; a heat map larger than :data:`MAX_CELLS` keeps only ``heat``. ``marks`` are
    per-axis positions (grid coordinates, possibly fractional) of points drawn on the grid: the
    centres of neighbouring receptive fields."""

    name: str
    title: str
    shape: Pos
    cells: tuple[Cell, ...]
    heat: Optional[Heat] = None
    marks: tuple[tuple[Fraction, ...], ...] = ()

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def cell_map(self) -> dict[Pos, Cell]:
        return {c.pos: c for c in self.cells}


@dataclass(frozen=True)
class Frame:
    """One highlighted position: the cells of ``grid`` the window reads (``window``), per axis the
    window's extent ``span`` (first and last tap: its outline, holes included), and the cell
    ``target`` of grid ``target_grid`` it belongs to; ``mirror`` cells of other grids (the
    unpadded image of a pipeline) show the same window."""

    index: int
    position: Pos
    grid: str
    window: tuple[Pos, ...]
    span: tuple[tuple[int, int], ...]
    target_grid: str
    target: Pos
    caption: str
    mirror: tuple[tuple[str, tuple[Pos, ...]], ...] = ()


@dataclass(frozen=True)
class Sweep:
    """The windows of a layer: position ``p`` (``shape`` per axis, row-major) reads the cells
    ``product(taps[a][p[a]])`` of grid ``grid`` and belongs to cell ``p + target_offset`` of
    grid ``target``. ``mirrors`` name other grids that show the same window shifted by an
    offset (cells outside them are left out)."""

    grid: str
    target: str
    shape: Pos
    taps: tuple[tuple[tuple[int, ...], ...], ...]
    target_offset: Pos
    noun: str = "output"
    captions: tuple[str, ...] = ()
    mirrors: tuple[tuple[str, Pos, Pos], ...] = ()
    template: str = "{noun} ({pos}) reads {grid} {where}"
    #: added to grid coordinates in captions (e.g. to name model-input cells, not grid cells)
    shift: Pos = ()

    @property
    def count(self) -> int:
        return math.prod(self.shape)

    def positions(self) -> Iterator[Pos]:
        """Every position in row-major order (the frames of an animation)."""
        return itertools.product(*(range(n) for n in self.shape))

    def check(self, position: Pos) -> Pos:
        if len(position) != len(self.shape) or any(not 0 <= p < n for p, n in zip(position, self.shape)):
            shape = " x ".join(map(str, self.shape))
            raise GeometryError(
                f"step {pos_text(position)} is outside the {shape} {self.noun} positions",
                fix=f"give --step as {len(self.shape)} comma-separated indices, each 0 <= i < its size",
            )
        return position

    def frame(self, position: Pos) -> Frame:
        """The window of one position."""
        self.check(position)
        per_axis = [self.taps[a][p] for a, p in enumerate(position)]
        window = tuple(itertools.product(*per_axis))
        index = 0
        for p, n in zip(position, self.shape):
            index = index * n + p
        caption = self.captions[index] if self.captions else self._caption(position, per_axis)
        mirror = []
        for name, offset, shape in self.mirrors:
            cells = tuple(
                tuple(v + o for v, o in zip(cell, offset)) for cell in window
                if all(0 <= v + o < n for v, o, n in zip(cell, offset, shape))
            )
            mirror.append((name, cells))
        return Frame(
            index, position, self.grid, window, tuple((t[0], t[-1]) for t in per_axis), self.target,
            tuple(p + o for p, o in zip(position, self.target_offset)), caption, tuple(mirror),
        )

    def _caption(self, position: Pos, per_axis: list[tuple[int, ...]]) -> str:
        names = axis_names(len(position))
        if self.shift:
            per_axis = [tuple(v + s for v in t) for t, s in zip(per_axis, self.shift)]
        where = ", ".join(
            f"{name} {t[0]}" if len(t) == 1 else
            f"{name} {t[0]}..{t[-1]}" + (f" every {t[1] - t[0]}" if t[1] - t[0] != 1 else "")
            for name, t in zip(names, per_axis)
        )
        return self.template.format(noun=self.noun, pos=pos_text(position), grid=self.grid, where=where)


@dataclass(frozen=True)
class Arrow:
    """A copied padding cell: from ``start`` (the input cell) to ``end`` (the pad cell) of ``grid``."""

    grid: str
    start: Pos
    end: Pos


@dataclass(frozen=True)
class Scene:
    """A picture: grids, the windows sweeping them, labels (what is input and output, the formula
    with numbers) and legend entries (palette keys present)."""

    kind: str
    title: str
    ndim: int
    grids: tuple[Grid, ...]
    labels: tuple[str, ...] = ()
    sweep: Optional[Sweep] = None
    step: Optional[Pos] = None
    arrows: tuple[Arrow, ...] = ()
    #: legend wording that differs from the palette's (palette key, meaning)
    meanings: tuple[tuple[str, str], ...] = ()

    def meaning(self, key: str) -> str:
        """What a palette key means in this picture."""
        from .palette import STYLES

        return dict(self.meanings).get(key, STYLES[key].meaning)

    def grid(self, name: str) -> Grid:
        for g in self.grids:
            if g.name == name:
                return g
        raise KeyError(name)

    @property
    def cell_count(self) -> int:
        return sum(len(g.cells) for g in self.grids)

    def still(self) -> Optional[Frame]:
        """The frame a still picture highlights: ``step`` (default the first position)."""
        if self.sweep is None or self.sweep.count == 0:
            return None
        return self.sweep.frame(self.step if self.step is not None else (0,) * len(self.sweep.shape))

    def frames(self) -> Iterator[Frame]:
        """One frame per position, row-major (checked against :data:`MAX_FRAMES`)."""
        if self.sweep is None or self.sweep.count == 0:
            raise GeometryError(f"a {self.kind} picture has no windows to animate", fix="write .svg or .png instead")
        check_frames(self.sweep.count)
        return (self.sweep.frame(p) for p in self.sweep.positions())

    def legend(self) -> tuple[str, ...]:
        """Palette keys to explain, in a fixed order, for what this scene shows."""
        keys: list[str] = []
        for g in self.grids:
            heat = g.heat is not None
            for c in g.cells:
                if c.style not in keys and not (heat and c.role != "pad"):
                    keys.append(c.style)
            if heat:
                keys.append("heat")
                if any(g.heat.unread):  # type: ignore[union-attr]
                    keys.append("unread")
        if self.sweep is not None and self.sweep.count:
            roles = {c.role for c in self.grid(self.sweep.grid).cells}
            keys += ["window-output" if roles == {"output", "pad"} or roles == {"output"} else "window",
                     "focus-input" if self.sweep.target == "input" else "focus", "outline"]
        if self.arrows:
            keys.append("arrow")
        if any(g.marks for g in self.grids):
            keys.append("stride-mark")
        return tuple(keys)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: grids with every cell, the highlighted frame, labels."""
        frame = self.still()
        return {
            "kind": self.kind,
            "title": self.title,
            "ndim": self.ndim,
            "labels": list(self.labels),
            "grids": [
                {
                    "name": g.name, "title": g.title, "shape": list(g.shape),
                    "cells": [{"pos": list(c.pos), "role": c.role, "text": c.text, "note": c.note, "fill": c.fill,
                               "source": None if c.source is None else list(c.source)} for c in g.cells],
                    "heat": None if g.heat is None else {
                        "maximum": g.heat.maximum, "unread": [list(u) for u in g.heat.unread],
                        "gaps": [list(u) for u in g.heat.gaps],
                    },
                }
                for g in self.grids
            ],
            "positions": None if self.sweep is None else list(self.sweep.shape),
            "frame": None if frame is None else {
                "position": list(frame.position), "window": [list(p) for p in frame.window],
                "grid": frame.grid, "target_grid": frame.target_grid, "target": list(frame.target),
                "caption": frame.caption,
            },
        }


def check_cells(cells: int, what: str) -> None:
    """Refuse a picture of more than :data:`MAX_CELLS` cells before building it."""
    if cells > MAX_CELLS:
        raise GeometryError(
            f"the picture of {what} would have {cells:,} cells, more than the cap of {MAX_CELLS:,}",
            fix="draw a smaller input (the geometry is the same at any size), or draw the coverage heat map",
        )


def check_frames(frames: int) -> None:
    if frames > MAX_FRAMES:
        raise GeometryError(
            f"an animation would have {frames:,} frames (one per position), more than the cap of {MAX_FRAMES:,}",
            fix="animate a smaller input, or draw one position with --step i,j",
        )
