"""Scenes of one layer, computed from the engine's :class:`~convgeom.geometry.LayerGeometry`:

* windows over the padded input (convolution, pooling, unfold), ceil-mode overhang included;
* transposed convolution as Dumoulin & Visin draw it (zeros inserted between the input cells, a
  border of ``e - 1 - crop`` zeros, a stride-1 convolution with the flipped kernel) or as a
  scatter (each input cell stamping the kernel onto the full output, then the crop);
* values (input, padding copies, products, sums, divisors) from :mod:`convgeom.ops`' trace.

Window ``i`` on an axis reads padded cells ``window_starts[i] + pad_before + j*d``; every number
here is read from the geometry result, the trace or :func:`convgeom.explain`'s formulas.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Optional

from ..errors import GeometryError
from ..explanation import explain, output_formula
from ..geometry import AxisGeometry, LayerGeometry
from .scene import (
    COPY_MODES,
    Arrow,
    Cell,
    Grid,
    Pos,
    Scene,
    Sweep,
    axis_names,
    check_cells,
    pos_text,
)

if TYPE_CHECKING:
    from ..ops.trace import OpTrace

DRAWABLE_OPS = ("conv", "conv_transpose", "max_pool", "avg_pool", "unfold")
TRANSPOSE_MODES = ("zeros-inserted", "scatter")
_OP_WORDS = {"conv": "kernel", "max_pool": "max-pool window", "avg_pool": "average-pool window",
             "unfold": "block", "conv_transpose": "kernel"}


def shape_text(shape: tuple[int, ...]) -> str:
    return " x ".join(map(str, shape))


def value_text(value: float) -> str:
    """A cell's value, short enough for the cell: integers as they are, else 3 significant digits."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if float(value).is_integer() and abs(value) < 1e6:
        return str(int(value))
    return f"{value:.3g}"


def default_data(shape: tuple[int, ...]) -> list[Any]:
    """Values for a picture with numbers when the user gives none: 1..9 repeating, row-major,
    so every cell can be told from its neighbours."""
    flat: list[Any] = [(i % 9) + 1 for i in range(math.prod(shape))]
    for n in reversed(shape[1:]):
        flat = [flat[i:i + n] for i in range(0, len(flat), n)]
    return flat


def grouped(ndim: int, lines: list[str]) -> list[str]:
    """One line per axis, or one line for all axes when they agree."""
    names = axis_names(ndim)
    if ndim == 1:
        return lines
    if len(set(lines)) == 1:
        return [("rows and cols" if ndim == 2 else "all axes") + ": " + lines[0]]
    return [f"{name}: {line}" for name, line in zip(names, lines)]


def check_drawable(result: Any) -> LayerGeometry:
    if not isinstance(result, LayerGeometry):
        raise TypeError(
            f"convgeom.draw takes a LayerGeometry (convgeom.conv, conv_transpose, max_pool, avg_pool, unfold) "
            f"or an OpTrace, got {type(result).__name__}"
        )
    if result.op not in DRAWABLE_OPS:
        raise GeometryError(f"cannot draw {result.op}", fix="draw one of " + ", ".join(DRAWABLE_OPS))
    if result.ndim > 3:
        raise GeometryError(f"cannot draw {result.ndim} spatial axes", fix="draw 1-D, 2-D or 3-D layers")
    return result


def layer_scene(result: LayerGeometry, *, trace: Optional[OpTrace] = None, step: Optional[Pos] = None,
                mode: str = "zeros-inserted") -> Scene:
    """The picture of one layer: its windows (a transposed convolution in ``mode``, zeros
    inserted or scatter), with the numbers of ``trace`` when given (then ``result`` may be None)."""
    if trace is not None:
        result = trace.geometry
    check_drawable(result)
    if result.op == "conv_transpose":
        return transposed_scene(result, mode, step)
    return window_scene(result, trace, step)


# ----- windows over the padded input --------------------------------------------------------
@dataclass(frozen=True)
class _WindowAxis:
    """One axis of the padded grid: ``length`` = n + pad_before + pad_after, ``extent`` = the grid
    drawn (past ``length`` when a ceil-mode window overhangs), taps of every window."""

    n: int
    before: int
    length: int
    extent: int
    taps: tuple[tuple[int, ...], ...]

    def roles(self) -> list[int]:
        """Per grid coordinate: 0 input, 1 padding, 2 overhang (the most outside axis wins)."""
        return [2 if g >= self.length else (0 if 0 <= g - self.before < self.n else 1) for g in range(self.extent)]


def _window_extent(a: AxisGeometry) -> int:
    """Cells of the padded grid along one axis, O(1): ``n + pad_before + pad_after``, or further
    where the last window (padded coordinates ``(o-1)*s .. (o-1)*s + e - 1``) overhangs."""
    reach = (a.output - 1) * a.stride + a.effective_kernel if a.output > 0 else 0
    return max(a.input + a.pad_before + a.pad_after, reach, 0)


def window_cells(result: LayerGeometry, *, image: bool = False) -> int:
    """Cells of :func:`window_scene`'s picture (padded grid, kernel of a conv, output, and the
    unpadded input when ``image``), from the sizes alone: checked before anything is built."""
    kernel = math.prod(result.kernel) if result.op == "conv" else 0
    return (math.prod(_window_extent(a) for a in result.axes) + math.prod(result.output) + kernel
            + (math.prod(result.input) if image else 0))


def check_window_cells(result: LayerGeometry, *, image: bool = False) -> None:
    """Refuse a window picture over :data:`~convgeom.draw.scene.MAX_CELLS` cells in O(1)."""
    check_cells(window_cells(result, image=image), f"{shape_text(result.input)} -> {shape_text(result.output)}")


def _window_axis(a: AxisGeometry) -> _WindowAxis:
    taps = tuple(
        tuple(start + a.pad_before + j * a.dilation for j in range(a.kernel)) for start in a.window_start_range
    )
    return _WindowAxis(a.input, a.pad_before, a.input + a.pad_before + a.pad_after, _window_extent(a), taps)


_ROLE_NAMES = ("input", "pad", "overhang")


def pad_fill(result: LayerGeometry) -> str:
    """What the padding holds: the conv's padding mode, zeros, or ``ignored`` (max pooling's
    ``-inf``, average pooling without ``count_include_pad``)."""
    if result.op == "conv":
        return result.padding_mode
    if result.op == "max_pool" or (result.op == "avg_pool" and not result.count_include_pad and not result.divisor):
        return "ignored"
    return "zeros"


def copy_sources(mode: str, sizes: list[tuple[int, int, int]]) -> list[list[int]]:
    """Per axis, the padded coordinate each padded cell copies in a reflect / replicate /
    circular padding (``sizes`` = (n, before, after) per axis), from :mod:`convgeom.ops.padding`."""
    from ..optional import needed

    with needed("drawing copied padding", extra="draw"):
        from ..ops.padding import _axis_indices
    return [[int(i) + before for i in _axis_indices(mode, n, before, after)] for n, before, after in sizes]


def source_arrows(grid: str, cells: list[Cell]) -> tuple[Arrow, ...]:
    """Arrows from each copied padding cell's source, in 1-D (arcs above the row); 2-D and 3-D
    pictures name the source in the cell instead (arrows there would cross the values)."""
    if not cells or len(cells[0].pos) != 1:
        return ()
    return tuple(Arrow(grid, c.source, c.pos) for c in cells if c.source is not None and c.source != c.pos)


def window_scene(result: LayerGeometry, trace: Optional[OpTrace] = None, step: Optional[Pos] = None,
                 *, image: bool = False) -> Scene:
    """Windows of a convolution, pooling or unfold over its padded input; with ``trace``, the
    numbers of its first image and channel; ``image`` adds the unpadded input as its own grid."""
    check_window_cells(result, image=image)
    axes = [_window_axis(a) for a in result.axes]
    extents = tuple(ax.extent for ax in axes)
    kernel = result.kernel if result.op == "conv" else ()
    values = _TraceValues(trace) if trace is not None else None
    fill = pad_fill(result)
    sources = (copy_sources(fill, [(a.input, a.pad_before, a.pad_after) for a in result.axes])
               if fill in COPY_MODES else None)
    cells = []
    roles = [ax.roles() for ax in axes]
    for pos in itertools.product(*(range(e) for e in extents)):
        role = _ROLE_NAMES[max(r[g] for r, g in zip(roles, pos))]
        text = values.padded(pos) if values is not None and role != "overhang" else ""
        if role != "pad":
            cells.append(Cell(pos, role, text))
            continue
        source = tuple(s[g] for s, g in zip(sources, pos)) if sources is not None else None
        note = "" if source is None else "[" + pos_text(tuple(s - ax.before for s, ax in zip(source, axes))) + "]"
        cells.append(Cell(pos, role, text, note, fill, source))
    grids = [Grid("input", _input_title(result, axes), extents, tuple(cells))]
    if image:
        grids.insert(0, Grid("image", f"input {shape_text(result.input)}", result.input, tuple(
            Cell(p, "input", values.image(p) if values is not None else "")
            for p in itertools.product(*(range(n) for n in result.input)))))
    if kernel:
        grids.append(_kernel_grid(result, values))
    grids.append(Grid("output", f"output {shape_text(result.output)}", result.output,
                      _output_cells(result, values)))
    sweep = Sweep(
        "input", "output", result.output, tuple(ax.taps for ax in axes), (0,) * result.ndim,
        captions=values.captions(result) if values is not None else (),
        mirrors=(("image", tuple(-ax.before for ax in axes), result.input),) if image else (),
    )
    labels = _labels(result) + (values.note() if values is not None else [])
    if result.op == "avg_pool" and values is None:
        labels.append("each output cell shows its window's divisor (/n)")
    scene = Scene("window", layer_title(result), result.ndim, tuple(grids), tuple(labels), sweep, step,
                  source_arrows("input", cells) if sources is not None else (),
                  _outline_meaning(result) + (copy_meaning(result.ndim),))
    if step is not None:
        sweep.check(step)
    return scene


def _outline_meaning(result: LayerGeometry) -> tuple[tuple[str, str], ...]:
    if any(d != 1 for d in result.dilation):
        return (("outline", "window (the unread cells inside are the dilation's holes)"),)
    return ()


def copy_meaning(ndim: int) -> tuple[str, str]:
    """Legend entry of copied padding cells, naming the source the way the cells do."""
    return ("pad-copy", "padding: a copy of input cell [" + ",".join(("d", "r", "c")[3 - ndim:]) + "]")


def layer_title(result: LayerGeometry) -> str:
    return explain(result).splitlines()[0]


def _input_title(result: LayerGeometry, axes: list[_WindowAxis]) -> str:
    lengths = tuple(ax.length for ax in axes)
    title = f"input {shape_text(result.input)}"
    if lengths != result.input:
        title += f", padded to {shape_text(lengths)}"
    if any(ax.extent > ax.length for ax in axes):
        title += f", windows reach {shape_text(tuple(ax.extent for ax in axes))}"
    return title


def _kernel_grid(result: LayerGeometry, values: Optional[_TraceValues]) -> Grid:
    title = f"kernel {shape_text(result.kernel)}"
    if any(d != 1 for d in result.dilation):
        title += f", dilation {shape_text(result.dilation)} (taps {shape_text(result.dilation)} apart)"
    cells = tuple(Cell(p, "kernel", values.weight(p) if values is not None else "")
                  for p in itertools.product(*(range(k) for k in result.kernel)))
    return Grid("kernel", title, result.kernel, cells)


def _output_cells(result: LayerGeometry, values: Optional[_TraceValues]) -> tuple[Cell, ...]:
    divisors = avg_divisors(result) if result.op == "avg_pool" else None
    cells = []
    for p in itertools.product(*(range(o) for o in result.output)):
        note = ""
        if divisors is not None:
            note = "/" + value_text(math.prod(d[i] for d, i in zip(divisors, p)))
        cells.append(Cell(p, "output", values.output(p) if values is not None else "", note))
    return tuple(cells)


def avg_divisors(result: LayerGeometry) -> list[list[float]]:
    """Per axis, the average pool's divisor of every window (:mod:`convgeom.ops.pooling`'s rule:
    ``divisor_override``, the window clipped to the padded input, or its in-input cells)."""
    if result.divisor:
        return [[float(result.divisor)] * result.axes[0].output] + [[1.0] * a.output for a in result.axes[1:]]
    from ..optional import needed

    with needed("drawing average-pool divisors", extra="draw"):
        from ..ops.pooling import _avg_divisors
    return [[float(v) for v in vec] for vec in _avg_divisors(result)]


def _labels(result: LayerGeometry) -> list[str]:
    lines = grouped(result.ndim, [f"output = {output_formula(a)}" for a in result.axes])
    if any(a.pad_note for a in result.axes):
        lines += grouped(result.ndim, [f"padding: {a.pad_note or 'none'}" for a in result.axes])
    for name, a in zip(axis_names(result.ndim), result.axes):
        for side, amount in (("before", a.pad_before), ("after", a.pad_after)):
            if amount < 0 and not a.transposed:
                lines.append(f"{name}: negative padding crops {-amount} input cell(s) {side} (not drawn)")
    lines += [line for line in explain(result).splitlines() if line.startswith(("average divisor", "note:"))]
    return lines


class _TraceValues:
    """The numbers of one trace (first image, first channel) as cell texts and captions."""

    def __init__(self, trace: OpTrace) -> None:
        self.trace = trace
        self._padded = trace.padded[0, 0]
        self._out = trace.output[0, 0]

    def padded(self, pos: Pos) -> str:
        return value_text(float(self._padded[pos]))

    def image(self, pos: Pos) -> str:
        return value_text(float(self.trace.input[(0, 0) + pos]))

    def output(self, pos: Pos) -> str:
        return value_text(float(self._out[pos]))

    def weight(self, pos: Pos) -> str:
        assert self.trace.weight is not None
        return value_text(float(self.trace.weight[(0, 0) + pos]))

    def captions(self, result: LayerGeometry) -> tuple[str, ...]:
        count = math.prod(result.output)
        return tuple(_step_caption(w) for w in self.trace.windows[:count])

    def note(self) -> list[str]:
        n, c = self.trace.input.shape[:2]
        if (n, c) == (1, 1) and (self.trace.weight is None or self.trace.weight.shape[0] == 1):
            return []
        return [f"values: image 0, channel 0 of a {n} x {c} batch"]


def _step_caption(w: Any) -> str:
    where = "out(" + pos_text(w.position) + ")"
    values = [value_text(float(v)) for v in w.values.ravel()]
    if w.products is not None:
        weights = [value_text(float(v)) for v in w.weights.ravel()]
        # a middle dot: the one multiplication sign Pillow's built-in font has
        terms = " + ".join(f"{v}·{k}" for v, k in zip(values, weights)) if len(values) <= 9 else (
            f"sum of {len(values)} products")
        bias = f" + {value_text(w.bias)}" if w.bias else ""
        return f"{where} = {terms}{bias} = {value_text(w.result)}"
    if w.divisor is not None:
        terms = " + ".join(values) if len(values) <= 9 else f"sum of {len(values)} cells"
        return f"{where} = ({terms}) / {value_text(w.divisor)} = {value_text(w.result)}"
    terms = ", ".join(values) if len(values) <= 9 else f"{len(values)} cells"
    return f"{where} = max({terms}) = {value_text(w.result)}"


# ----- transposed convolution ----------------------------------------------------------------
def transposed_scene(result: LayerGeometry, mode: str = "zeros-inserted", step: Optional[Pos] = None) -> Scene:
    """A transposed convolution as zeros inserted (Dumoulin & Visin, relationship 14) or as a
    scatter of the kernel by every input cell."""
    if mode not in TRANSPOSE_MODES:
        raise GeometryError(f"unknown transposed-convolution view {mode!r}", fix="use zeros-inserted or scatter")
    scene = _zeros_inserted(result) if mode == "zeros-inserted" else _scatter(result)
    if step is not None:
        assert scene.sweep is not None
        scene.sweep.check(step)
        scene = replace(scene, step=step)
    return scene


def _zeros_inserted(result: LayerGeometry) -> Scene:
    borders = [(a.effective_kernel - 1 - a.pad_before, a.effective_kernel - 1 - a.pad_after) for a in result.axes]
    lengths = tuple((a.input - 1) * a.stride + 1 + b + f for a, (b, f) in zip(result.axes, borders))
    check_cells(math.prod(lengths) + math.prod(result.output) + math.prod(result.kernel),
                f"{shape_text(result.input)} -> {shape_text(result.output)}")

    def kind(a: AxisGeometry, before: int, g: int) -> str:
        t = g - before
        if not 0 <= t <= (a.input - 1) * a.stride:
            return "border"
        return "input" if t % a.stride == 0 else "inserted"

    cells = []
    for pos in itertools.product(*(range(n) for n in lengths)):
        kinds = [kind(a, b, g) for a, (b, _), g in zip(result.axes, borders, pos)]
        if all(k == "input" for k in kinds):
            cells.append(Cell(pos, "input"))
        else:
            cells.append(Cell(pos, "pad", fill="zeros" if "border" in kinds else "inserted"))
    kernel = tuple(
        Cell(p, "kernel", note="w" + pos_text(tuple(k - 1 - v for k, v in zip(result.kernel, p))))
        for p in itertools.product(*(range(k) for k in result.kernel)))
    taps = tuple(tuple(tuple(y + j * a.dilation for j in range(a.kernel)) for y in range(a.output))
                 for a in result.axes)
    grids = (
        Grid("input", f"input {shape_text(result.input)}, zeros inserted and a border: "
                      f"{shape_text(lengths)}", lengths, tuple(cells)),
        Grid("kernel", f"kernel {shape_text(result.kernel)}, flipped (rotated 180 degrees)", result.kernel, kernel),
        Grid("output", f"output {shape_text(result.output)}", result.output,
             tuple(Cell(p, "output") for p in itertools.product(*(range(o) for o in result.output)))),
    )
    labels = _transposed_labels(result) + grouped(result.ndim, [
        f"{a.stride - 1} zero(s) between input cells; border of e-1-crop = {b} before, {f} after; "
        f"stride 1" for a, (b, f) in zip(result.axes, borders)])
    sweep = Sweep("input", "output", result.output, taps, (0,) * result.ndim)
    return Scene("zeros-inserted", layer_title(result), result.ndim, grids, tuple(labels), sweep,
                 meanings=_outline_meaning(result))


def _scatter(result: LayerGeometry) -> Scene:
    spans = []
    for a in result.axes:
        full = (a.input - 1) * a.stride + a.effective_kernel
        lo, hi = min(0, a.pad_before), max(full, a.pad_before + a.output)
        spans.append((lo, hi))
    lengths = tuple(hi - lo for lo, hi in spans)
    check_cells(math.prod(lengths) + math.prod(result.input) + math.prod(result.kernel),
                f"{shape_text(result.input)} -> {shape_text(result.output)}")
    coverage = [a.coverage() for a in result.axes]
    cells = []
    for pos in itertools.product(*(range(n) for n in lengths)):
        index = [g + lo - a.pad_before for g, (lo, _), a in zip(pos, spans, result.axes)]
        if all(0 <= i < a.output for i, a in zip(index, result.axes)):
            count = math.prod(c[i] for c, i in zip(coverage, index))
            cells.append(Cell(pos, "output", note=f"x{count}"))
        else:
            cells.append(Cell(pos, "pad", fill="crop"))
    taps = tuple(tuple(tuple(i * a.stride + j * a.dilation - lo for j in range(a.kernel)) for i in range(a.input))
                 for a, (lo, _) in zip(result.axes, spans))
    grids = (
        Grid("input", f"input {shape_text(result.input)}", result.input,
             tuple(Cell(p, "input") for p in itertools.product(*(range(n) for n in result.input)))),
        Grid("kernel", f"kernel {shape_text(result.kernel)}", result.kernel,
             tuple(Cell(p, "kernel") for p in itertools.product(*(range(k) for k in result.kernel)))),
        Grid("output", f"full output {shape_text(lengths)}, cropped to {shape_text(result.output)}",
             lengths, tuple(cells)),
    )
    labels = _transposed_labels(result) + ["each input cell adds its value times the kernel to the output; "
                                           "xN = how many input cells write that output cell"]
    sweep = Sweep("output", "input", result.input, taps, (0,) * result.ndim, noun="input",
                  template="{noun} ({pos}) writes {grid} {where}")
    meanings = (("outline", "the stamped kernel"),)
    return Scene("scatter", layer_title(result), result.ndim, grids, tuple(labels), sweep, meanings=meanings)


def _transposed_labels(result: LayerGeometry) -> list[str]:
    lines = grouped(result.ndim, [f"output = {output_formula(a)}" for a in result.axes])
    if any(a.output_padding for a in result.axes):
        lines += grouped(result.ndim, [f"output_padding {a.output_padding}: that many cells added after"
                                       for a in result.axes])
    if any(a.pad_note for a in result.axes):
        lines += grouped(result.ndim, [f"padding: {a.pad_note or 'none'}" for a in result.axes])
    lines += [line for line in explain(result).splitlines() if line.startswith("note:")]
    return lines


# ----- F.pad and the tutorial pipeline -------------------------------------------------------
def pad_scene(data: Any, pad: Any, mode: str = "zeros", value: float = 0.0) -> Scene:
    """What ``F.pad(x, pad, mode, value)`` does to the spatial array ``data`` (1-D to 3-D):
    every padded cell with its value and, for reflect / replicate / circular, the input cell it
    copies (arrows along the middle row and column)."""
    from ..optional import needed

    with needed("drawing F.pad", extra="draw"):
        import numpy as np

        from .. import ops
        from ..ops.padding import pad_pairs
    x = np.asarray(data, dtype=np.float64)
    if x.ndim < 1 or x.ndim > 3:
        raise GeometryError(f"pad pictures take 1-D to 3-D data, got {x.ndim}-D", fix="give spatial axes only")
    pairs = pad_pairs(pad, x.ndim)
    lengths = tuple(n + b + a for n, (b, a) in zip(x.shape, pairs))
    check_cells(math.prod(lengths), f"F.pad of {shape_text(x.shape)}")
    padded = ops.pad(x[None, None], pairs, mode, value)[0, 0]
    sources = copy_sources(mode, [(n, b, a) for n, (b, a) in zip(x.shape, pairs)]) if mode in COPY_MODES else None
    cells = []
    for pos in itertools.product(*(range(n) for n in lengths)):
        inside = all(0 <= g - b < n for g, (b, _), n in zip(pos, pairs, x.shape))
        text = value_text(float(padded[pos]))
        if inside:
            cells.append(Cell(pos, "input", text))
            continue
        source = tuple(sv[g] for sv, g in zip(sources, pos)) if sources is not None else None
        if source is not None and not all(0 <= v < n for v, n in zip(source, lengths)):
            source = None  # copies a cell a negative pad cropped away
        note = "" if source is None else "[" + pos_text(tuple(v - b for v, (b, _) in zip(source, pairs))) + "]"
        cells.append(Cell(pos, "pad", text, note, fill=mode, source=source))
    arg = ", ".join(f"{b}:{a}" for b, a in pairs)
    labels = grouped(x.ndim, [f"{n} + {b} + {a} = {n + b + a} (before + after)" for n, (b, a) in zip(x.shape, pairs)])
    labels.append({"zeros": "zeros: padded cells are 0", "constant": f"constant: padded cells are {value_text(value)}",
                   "reflect": "reflect: mirror at the edge cell, which is not repeated",
                   "replicate": "replicate: repeat the edge cell",
                   "circular": "circular: wrap around to the other side"}[mode])
    grid = Grid("input", f"input {shape_text(x.shape)} padded to {shape_text(lengths)}", lengths, tuple(cells))
    return Scene("pad", f"F.pad, mode {mode!r}, (before:after) per axis {arg}", x.ndim, (grid,), tuple(labels),
                 arrows=source_arrows("input", cells), meanings=(copy_meaning(x.ndim),))


def pipeline_scene(trace: OpTrace, step: Optional[Pos] = None) -> Scene:
    """The tutorial pipeline (seed 001's figure): the image, the padded image, the kernel and the
    output, with every number, titled with the trace's stages."""
    scene = window_scene(trace.geometry, trace, step, image=True)
    stages = trace.stages()
    titles = {
        "image": f"1 {stages[0].title}: {shape_text(trace.geometry.input)}",
        "input": f"2 {stages[1].title}: {shape_text(tuple(trace.padded.shape[2:]))}",
        "kernel": f"3 {stages[2].title}: {shape_text(trace.geometry.kernel)}",
        "output": f"4 {stages[3].title}: {shape_text(trace.geometry.output)}",
    }
    grids = tuple(replace(g, title=titles.get(g.name, g.title)) for g in scene.grids)
    labels = (f"{stages[1].description}; {stages[2].detail.lower() or stages[2].description}",) + scene.labels
    return replace(scene, kind="pipeline", grids=grids, labels=labels)
