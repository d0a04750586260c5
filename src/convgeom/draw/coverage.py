"""Coverage heat maps: how many windows read each input cell (for a transposed convolution: how
many input cells write each output cell), with the unread lines and gaps marked.

Counts come from the engine's per-axis ``coverage()``; a cell's count is the product of its
axes' counts (windows are boxes, so an n-D window covers a cell exactly when each axis's
window covers its coordinate), which the scene keeps as the per-axis lines: O(n) for n x n. Above :data:`~convgeom.draw.scene.MAX_CELLS` cells the grid keeps
only the counts and renderers draw it as an image, up to
:data:`~convgeom.draw.scene.MAX_HEAT_CELLS`.
"""

from __future__ import annotations

import math

from ..errors import GeometryError
from ..geometry import LayerGeometry
from .build import check_drawable, grouped, layer_title, shape_text
from .scene import MAX_CELLS, MAX_HEAT_CELLS, Cell, Grid, Heat, Scene, axis_names

_LINE_WORDS = {"rows": "rows", "cols": "cols", "depth": "slices"}


def coverage_scene(result: LayerGeometry) -> Scene:
    """The coverage heat map of ``result`` (padding drawn around the input, not counted)."""
    check_drawable(result)
    transposed = result.op == "conv_transpose"
    # the shape comes from the sizes alone, so the caps below refuse before any line is built
    shape = result.output if transposed else tuple(
        a.input + max(a.pad_before, 0) + max(a.pad_after, 0) for a in result.axes)
    size = math.prod(shape)
    if size > MAX_HEAT_CELLS:
        raise GeometryError(
            f"a coverage heat map of {shape_text(shape)} has {size:,} cells, more than the cap of {MAX_HEAT_CELLS:,}",
            fix="draw a smaller input: coverage repeats with the stride, so a few periods show all of it",
        )
    if size > MAX_CELLS and result.ndim == 3:
        raise GeometryError(
            f"a 3-D coverage heat map of {shape_text(shape)} has {size:,} cells, more than the cap of {MAX_CELLS:,}",
            fix="draw fewer slices, or a 2-D layer with the same rows and cols",
        )
    per_axis, offsets = _coverage_lines(result, shape)
    unread = tuple(tuple(i + off for i in a.unread()) for a, off in zip(result.axes, offsets))
    gaps = tuple(tuple(i + off for i in a.gaps()) for a, off in zip(result.axes, offsets))
    maximum = math.prod(max(line, default=0) for line in per_axis)
    heat = Heat(tuple(tuple(line) for line in per_axis), max(maximum, 0), unread, gaps)
    role = "output" if transposed else "input"
    cells: tuple[Cell, ...] = ()
    if size <= MAX_CELLS:
        cells = tuple(_cells(shape, per_axis, role))
    what = "output" if transposed else "input"
    title = (f"coverage of the {what} {shape_text(result.output if transposed else result.input)}: "
             + ("input cells writing each output cell" if transposed else "windows reading each input cell"))
    labels = _labels(result, heat, transposed)
    grid = Grid(what, title, shape, cells, heat)
    meanings = (("heat", "input cells writing the cell: light few, dark many"),) if transposed else ()
    return Scene("coverage", f"{layer_title(result)}: coverage", result.ndim, (grid,), tuple(labels),
                 meanings=meanings)


def _coverage_lines(result: LayerGeometry, shape: tuple[int, ...]) -> tuple[list[list[int]], list[int]]:
    """Per axis, the coverage of each grid line (-1 on padding) and where the input starts."""
    if result.op == "conv_transpose":
        return [list(a.coverage()) for a in result.axes], [0] * result.ndim
    offsets = [max(a.pad_before, 0) for a in result.axes]
    per_axis = []
    for a, off, n in zip(result.axes, offsets, shape):
        line = [-1] * n
        for i, c in enumerate(a.coverage()):
            line[i + off] = c
        per_axis.append(line)
    return per_axis, offsets


def _cells(shape: tuple[int, ...], per_axis: list[list[int]], role: str) -> list[Cell]:
    import itertools

    return [Cell(pos, "pad" if any(line[g] < 0 for line, g in zip(per_axis, pos)) else role,
                 fill="zeros" if any(line[g] < 0 for line, g in zip(per_axis, pos)) else "")
            for pos in itertools.product(*(range(n) for n in shape))]


def _lines(values: tuple[int, ...]) -> str:
    return ", ".join(map(str, values[:12])) + (", ..." if len(values) > 12 else "")


def _labels(result: LayerGeometry, heat: Heat, transposed: bool) -> list[str]:
    names = axis_names(result.ndim)
    lines = ["the most-covered cell is " + ("written by" if transposed else "read by") + f" {heat.maximum} "
             + ("input cell(s)" if transposed else "window(s)")]
    for name, unread, gaps in zip(names, heat.unread, heat.gaps):
        word = _LINE_WORDS.get(name, name)
        if unread:
            line = f"{word} never " + ("written" if transposed else "read") + f" ({len(unread)}): {_lines(unread)}"
            if gaps:  # say which are gaps between windows and which lie outside every window
                outside = len(unread) - len(gaps)
                line += (f"; {len(gaps)} between windows (stride > window, or dilation holes)"
                         + (f", {outside} outside every window" if outside else ""))
            lines.append(line)
    if transposed:
        uneven = [min(a.coverage()) != max(a.coverage()) for a in result.axes]
        if any(uneven):
            lines += grouped(result.ndim, ["uneven overlap: checkerboard risk (Odena et al. 2016)" if u else
                                           "even overlap" for u in uneven])
    return lines
