"""Where everything of a :class:`~convgeom.draw.scene.Scene` goes on the page, in pixels: the
one layout the SVG and the PNG/GIF renderers both draw, so they show the same picture.

Grids of 2-D scenes stand side by side (input, kernel, output), 1-D and 3-D grids one under
the other (a 3-D grid is a row of 2-D depth slices). The caption of the highlighted window
sits above the grids; under them, the labels (formulas with numbers) and the legend. A frame changes only the
highlighted cells, the window outline and the caption (:func:`highlight`), so an animation
draws the page once and each frame on top of it.
"""

from __future__ import annotations

import functools
import math
import textwrap
from dataclasses import dataclass
from typing import NamedTuple, Optional, Union

from .palette import HEAT_RAMP, INK, heat_colour, heat_text, lit_style
from .scene import Arrow as ArrowSpec
from .scene import Cell, Frame, Grid, Heat, Pos, Scene, pos_text

MARGIN = 20
WIDTH_BUDGET = 1180
"""Grids shrink their cells to fit this many pixels side by side (labels may be wider)."""
GIF_WIDTH_BUDGET = 720
"""The same for animations (viewed small; a frame stores the box its window changed, so smaller cells pay)."""
MIN_TEXT = 10
"""No text is smaller than this many pixels."""
TITLE_SIZE = 16
GRID_TITLE_SIZE = 13
LABEL_SIZE = 12
GAP = 44
SLICE_GAP = 12
LINE = 18
MAX_DOTS = 4_096
IMAGE_SIDE = 1_024
"""A heat map drawn as an image is at most this many pixels on its longer side (1 px per cell above)."""


def text_width(text: str, size: float) -> float:
    """Estimated width of ``text`` in a sans-serif font (0.6 em per character: wide enough for
    digits and most letters, so nothing overlaps)."""
    return 0.6 * size * len(text)


class Rect(NamedTuple):
    """A cell (``role``/``pos`` set) or a decoration; ``colour`` overrides the style's fill
    (heat maps)."""

    x: float
    y: float
    w: float
    h: float
    style: str
    role: str = ""
    pos: str = ""
    fill: str = ""
    klass: str = ""
    text: str = ""
    text_size: float = 0.0
    note: str = ""
    note_size: float = 0.0
    colour: str = ""
    text_colour: str = ""


class Label(NamedTuple):
    x: float
    y: float
    text: str
    size: float = LABEL_SIZE
    anchor: str = "start"
    bold: bool = False
    colour: str = INK


class Arrow(NamedTuple):
    """A quadratic curve from (x1, y1) to (x2, y2) through control point (cx, cy), arrowhead at the end."""

    x1: float
    y1: float
    x2: float
    y2: float
    cx: float
    cy: float
    style: str = "arrow"


class Dot(NamedTuple):
    x: float
    y: float
    r: float
    style: str = "stride-mark"


@dataclass(frozen=True)
class Image:
    """A heat map too large for one rectangle per cell: ``rows`` x ``cols`` cells of ``px`` x
    ``py`` pixels each, counts from ``heat``."""

    x: float
    y: float
    rows: int
    cols: int
    px: int
    py: int
    heat: Heat
    role: str = "input"


Item = Union[Rect, Label, Arrow, Dot, Image]


@dataclass(frozen=True)
class GridLayout:
    """One grid placed on the page: cell ``pos`` has its top-left corner at :meth:`corner`."""

    name: str
    shape: Pos
    x: float
    y: float
    cell: float
    title: Label
    cells: tuple[Rect, ...]
    extras: tuple[Item, ...] = ()
    below: float = 0.0
    """Room under the grid taken by arrows."""

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @functools.cached_property
    def index(self) -> dict[str, Rect]:
        """Cells by their ``data-pos`` text."""
        return {r.pos: r for r in self.cells}

    def corner(self, pos: Pos) -> tuple[float, float]:
        c = self.cell
        if len(pos) == 2:
            return self.x + pos[1] * c, self.y + pos[0] * c
        if len(pos) == 1:
            return self.x + pos[0] * c, self.y
        width = self.shape[2] * c + SLICE_GAP
        return self.x + pos[0] * width + pos[2] * c, self.y + pos[1] * c

    def centre(self, pos: tuple[float, ...]) -> tuple[float, float]:
        """Centre of a (possibly fractional) position."""
        lower = tuple(math.floor(v) for v in pos)
        x, y = self.corner(lower)
        fx = pos[-1] - lower[-1]
        fy = (pos[-2] - lower[-2]) if self.ndim >= 2 else 0.0
        return x + (0.5 + fx) * self.cell, y + (0.5 + fy) * self.cell

    @property
    def width(self) -> float:
        return _grid_size(self.shape, self.cell)[0]

    @property
    def height(self) -> float:
        return _grid_size(self.shape, self.cell)[1]


@dataclass(frozen=True)
class Layout:
    width: float
    height: float
    title: Label
    grids: tuple[GridLayout, ...]
    labels: tuple[Label, ...]
    legend: tuple[Item, ...]
    caption: Label

    def grid(self, name: str) -> GridLayout:
        for g in self.grids:
            if g.name == name:
                return g
        raise KeyError(name)


def _grid_size(shape: Pos, cell: float) -> tuple[float, float]:
    if len(shape) == 1:
        return shape[0] * cell, cell
    if len(shape) == 2:
        return shape[1] * cell, shape[0] * cell
    return shape[0] * (shape[2] * cell + SLICE_GAP) - SLICE_GAP, shape[1] * cell


def _cell_size(scene: Scene, budget: float) -> float:
    """The largest cell (at most 40 px with numbers, 30 px without) that fits the width budget."""
    texts = any(c.text or c.note for g in scene.grids for c in g.cells)
    base = 40 if texts else 30
    if scene.ndim == 2:
        fit = (budget - GAP * (len(scene.grids) - 1)) / max(1, sum(g.shape[1] for g in scene.grids))
    elif scene.ndim == 1:
        fit = budget / max(1, max(g.shape[0] for g in scene.grids))
    else:  # depth slices side by side, SLICE_GAP apart
        fit = min((budget - SLICE_GAP * (g.shape[0] - 1)) / (g.shape[0] * g.shape[2]) for g in scene.grids)
    smallest = 1 if any(g.heat is not None and not g.cells for g in scene.grids) else 3  # heat images: 1 px a cell
    return float(max(smallest, min(base, math.floor(fit))))


def _fit(text: str, cell: float, size: float) -> float:
    """The font size (>= MIN_TEXT) at which ``text`` fits the cell, or 0 to leave it out."""
    while size >= MIN_TEXT:
        if text_width(text, size) <= cell - 4:
            return size
        size -= 1
    return 0.0


def _cell_rect(g: Grid, cell: float, x: float, y: float, c: Cell, heat_count: Optional[int],
               maximum: int) -> Rect:
    text, note = c.text, c.note
    colour = text_colour = ""
    style = c.style
    if heat_count is not None:
        if heat_count == 0:
            style = "unread"
        colour = heat_colour(heat_count, maximum) if heat_count > 0 else ""
        text_colour = heat_text(heat_count, maximum)
        text = str(heat_count)
    size = _fit(text, cell, min(13.0, cell * 0.36)) if text else 0.0
    note_size = _fit(note, cell, 10.0 if text else min(12.0, cell * 0.32)) if note else 0.0
    if text and note and cell < 34:
        note_size = 0.0
    return Rect(x, y, cell, cell, style, c.role, pos_text(c.pos), c.fill, "", text if size else "", size,
                note if note_size else "", note_size, colour, text_colour)


def _place_grid(g: Grid, x: float, y: float, cell: float, copies: list[ArrowSpec]) -> GridLayout:
    title = Label(x, y - 8, g.title, GRID_TITLE_SIZE, bold=True)
    probe = GridLayout(g.name, g.shape, x, y, cell, title, ())
    heat = g.heat
    maximum = heat.maximum if heat is not None else 0
    rects = []
    for c in g.cells:
        cx, cy = probe.corner(c.pos)
        if heat is None and not c.text and not c.note:  # most cells: no text to fit (kept fast: 50 ms budget)
            rects.append(Rect(cx, cy, cell, cell, c.style, c.role, pos_text(c.pos), c.fill))
            continue
        count = heat.count(c.pos) if heat is not None and c.role != "pad" else None
        rects.append(_cell_rect(g, cell, cx, cy, c, count, maximum))
    extras: list[Item] = []
    if heat is not None and not g.cells:
        rows, cols = (1, g.shape[0]) if len(g.shape) == 1 else (g.shape[0], g.shape[1])
        role = "output" if g.name == "output" else "input"
        extras.append(Image(x, y, rows, cols, int(cell), int(cell) if len(g.shape) > 1 else 16,
                            heat, role))
    if heat is not None:
        extras.extend(_unread_marks(probe, heat.unread))
    extras.extend(_marks(probe, g))
    below = 0.0
    for a in copies:
        x1, y1 = probe.centre(tuple(float(v) for v in a.start))
        x2, y2 = probe.centre(tuple(float(v) for v in a.end))
        # arcs under the row, deeper for longer jumps, so arrows cross neither values nor titles
        bend = min(5 * cell, max(cell * 0.8, abs(x2 - x1) * 0.3))
        extras.append(Arrow(x1, y1 + cell * 0.5, x2, y2 + cell * 0.5, (x1 + x2) / 2, max(y1, y2) + cell * 0.5 + bend))
        below = max(below, bend / 2 + 6)
    if len(g.shape) == 3:
        for d in range(g.shape[0]):
            sx, _ = probe.corner((d, 0, 0))
            extras.append(Label(sx, y + g.shape[1] * cell + 13, f"depth {d}", MIN_TEXT))
    return GridLayout(g.name, g.shape, x, y, cell, title, tuple(rects), tuple(extras), below)


def _unread_marks(g: GridLayout, unread: tuple[tuple[int, ...], ...]) -> list[Item]:
    """A short bar beside each unread row and above each unread column."""
    marks: list[Item] = []
    if g.ndim > 2:
        return marks
    c = g.cell
    for axis, lines in enumerate(unread):
        for line in lines:
            if g.ndim == 1 or axis == 1:
                x = g.x + line * c
                marks.append(Rect(x, g.y - 5, c, 3, "unread", klass="unread-mark"))
            else:
                y = g.y + line * c
                marks.append(Rect(g.x - 5, y, 3, c, "unread", klass="unread-mark"))
    return marks


def _marks(g: GridLayout, grid: Grid) -> list[Item]:
    if not grid.marks:
        return []
    count = math.prod(len(m) for m in grid.marks)
    if count > MAX_DOTS:
        return []
    import itertools

    r = max(1.5, min(4.0, g.cell * 0.15))
    dots: list[Item] = []
    for pos in itertools.product(*grid.marks):
        x, y = g.centre(tuple(float(v) for v in pos))
        dots.append(Dot(x, y, r))
    return dots


def wrap(line: str, columns: int) -> list[str]:
    """A long label in lines of at most ``columns`` characters, broken after its "; " clauses
    first (a formula stays on one line), then between words."""
    if len(line) <= columns:
        return [line]
    clauses = [c + ";" for c in line.split("; ")]
    clauses[-1] = clauses[-1][:-1]
    out: list[str] = []
    for clause in clauses:
        if out and len(out[-1]) + 1 + len(clause) <= columns:
            out[-1] += " " + clause
        else:
            out.extend(textwrap.wrap(clause, columns, break_on_hyphens=False) or [""])
    return out


def layout(scene: Scene, budget: float = WIDTH_BUDGET) -> Layout:
    """Place every grid, label and legend entry of ``scene`` (no highlight: see :func:`highlight`);
    cells shrink to fit ``budget`` pixels."""
    cell = _cell_size(scene, budget)
    # the caption of the highlighted window sits under the title, close to the grids: an
    # animation redraws it with the window, and a GIF stores only the box that changed
    caption = Label(MARGIN, MARGIN + TITLE_SIZE + 24, "", LABEL_SIZE + 1)
    top = MARGIN + TITLE_SIZE + (24 if scene.sweep is not None else 0) + 16 + GRID_TITLE_SIZE + 8
    placed: list[GridLayout] = []
    x, y = float(MARGIN + 8), float(top)
    for g in scene.grids:
        w, h = _grid_size(g.shape, cell)
        placed.append(_place_grid(g, x, y, cell, [a for a in scene.arrows if a.grid == g.name]))
        if scene.ndim == 2:
            x += max(w, text_width(g.title, GRID_TITLE_SIZE)) + GAP
        else:
            y += h + placed[-1].below + GRID_TITLE_SIZE + 8 + (38 if scene.ndim == 3 else 24)
    bottom = max(gl.y + gl.height + gl.below for gl in placed) + (14 if scene.ndim == 3 else 0)
    width = max([gl.x + max(gl.width, text_width(gl.title.text, GRID_TITLE_SIZE)) for gl in placed]
                + [MARGIN + text_width(scene.title, TITLE_SIZE)])
    if scene.sweep is not None and scene.sweep.captions:
        width = max(width, MARGIN + max(text_width(c, caption.size) for c in scene.sweep.captions))
    y = bottom + 30
    labels = []
    columns = int(max(width - MARGIN, 760) / text_width("x", LABEL_SIZE))
    for line in scene.labels:
        for i, part in enumerate(wrap(line, columns)):
            indent = 24 if i else 0
            labels.append(Label(MARGIN + indent, y, part, LABEL_SIZE))
            width = max(width, MARGIN + indent + text_width(part, LABEL_SIZE))
            y += LINE
    legend, y = _legend(scene, y + 6, max(width, 600.0))
    title = Label(MARGIN, MARGIN + TITLE_SIZE, scene.title, TITLE_SIZE, bold=True)
    return Layout(math.ceil(width + MARGIN), math.ceil(y + MARGIN - 6), title, tuple(placed), tuple(labels),
                  tuple(legend), caption)


def _legend(scene: Scene, y: float, width: float) -> tuple[list[Item], float]:
    items: list[Item] = []
    x = float(MARGIN)
    for key in scene.legend():
        meaning = scene.meaning(key)
        span = 18 + 6 + text_width(meaning, LABEL_SIZE) + 18
        if x + span > width and x > MARGIN:
            x, y = float(MARGIN), y + LINE + 6
        if key == "outline":
            items.append(Rect(x, y, 18, 18, "outline", klass="legend"))
        elif key == "arrow":
            items.append(Arrow(x, y + 9, x + 18, y + 9, x + 9, y + 9))
        elif key == "stride-mark":
            items.append(Dot(x + 9, y + 9, 3.5))
        elif key == "heat":
            steps = len(HEAT_RAMP)
            for i, colour in enumerate(HEAT_RAMP):
                items.append(Rect(x + i * 6, y, 6, 18, "input", klass="legend", colour=colour))
            x += steps * 6 - 18
        else:
            items.append(Rect(x, y, 18, 18, key, klass="legend"))
        items.append(Label(x + 24, y + 14, meaning, LABEL_SIZE))
        x += span
    return items, y + 18 + 8




@dataclass(frozen=True)
class Highlight:
    """What one frame draws over the page: restyled cells, the window outline(s), the caption."""

    cells: dict[tuple[str, str], Rect]
    outlines: tuple[Rect, ...]
    caption: Label


def highlight(page: Layout, frame: Optional[Frame]) -> Highlight:
    """The cells of ``frame``'s window and target restyled, the window's outline (its first to
    last tap on every axis: dilation holes show inside it) and the caption."""
    if frame is None:
        return Highlight({}, (), page.caption)
    cells: dict[tuple[str, str], Rect] = {}
    grid = page.grid(frame.grid)
    for pos in frame.window:
        key = pos_text(pos)
        if key in grid.index:
            r = grid.index[key]
            cells[(grid.name, key)] = _restyle(r, lit_style("window", r.role), "window")
    for name, positions in frame.mirror:
        mg = page.grid(name)
        for pos in positions:
            key = pos_text(pos)
            if key in mg.index:
                cells[(name, key)] = _restyle(mg.index[key], lit_style("window", "input"), "window")
    target = page.grid(frame.target_grid)
    key = pos_text(frame.target)
    if key in target.index:
        r = target.index[key]
        cells[(target.name, key)] = _restyle(r, lit_style("focus", r.role), "focus")
    outlines = _outlines(grid, frame)
    caption = Label(page.caption.x, page.caption.y, frame.caption, page.caption.size)
    return Highlight(cells, outlines, caption)


def _restyle(r: Rect, style: str, klass: str) -> Rect:
    return Rect(r.x, r.y, r.w, r.h, style, r.role, r.pos, r.fill, klass, r.text, r.text_size, r.note, r.note_size)


def _outlines(grid: GridLayout, frame: Frame) -> tuple[Rect, ...]:
    lo = tuple(a for a, _ in frame.span)
    hi = tuple(b for _, b in frame.span)
    if grid.ndim < 3:
        x0, y0 = grid.corner(lo)
        x1, y1 = grid.corner(hi)
        return (Rect(x0, y0, x1 - x0 + grid.cell, y1 - y0 + grid.cell, "outline", klass="outline"),)
    depths = sorted({p[0] for p in frame.window})
    out = []
    for d in depths:
        x0, y0 = grid.corner((d,) + lo[1:])
        x1, y1 = grid.corner((d,) + hi[1:])
        out.append(Rect(x0, y0, x1 - x0 + grid.cell, y1 - y0 + grid.cell, "outline", klass="outline"))
    return tuple(out)
