"""Step-by-step record of a small convolution or pooling: the input, the padded input, every
window with the cells it reads (and, for a convolution, the products and their sum), and the
output, as frozen records that explanations, pictures and ``convgeom trace-op`` render.

The geometry (pads, output size, window positions) is the engine's; the trace recomputes
each output cell by its definition, ``out[i] = sum_j w[j] * xpad[i*s + j*d] + b`` (or the
window's max / mean), so it can be checked against the fast ops and against PyTorch.
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass
from typing import Any, Optional, Union

from .. import geometry as _geometry
from ..errors import GeometryError
from ..geometry import LayerGeometry
from ..params import IntOrTuple, PaddingArg
from ._common import Array, check_count, real_array
from ._numpy import np
from .padding import pad_channels_first
from .pooling import _avg_divisors

DEFAULT_MAX_CELLS = 200_000
"""Largest trace built unless ``max_cells`` says otherwise: the cells of the input, the padded
input, the weight and every window's taps (output cells times taps per window), together."""

# Seed 001 ("Kernel size, stride, padding in PyTorch - Model Pipeline Trace"): the 5x5
# grayscale image; zero padding of 1 gives the 7x7 array shown there; a 3x3 kernel with stride 2
# gives a 3x3 output. The tutorial does not print its kernel; convgeom uses all ones, so every
# output cell is the plain sum of its window.
SEED_001_IMAGE: tuple[tuple[int, ...], ...] = (
    (1, 2, 3, 0, 1),
    (0, 1, 2, 3, 1),
    (1, 0, 1, 2, 2),
    (2, 1, 0, 1, 0),
    (1, 2, 1, 0, 1),
)
SEED_001_KERNEL: tuple[tuple[int, ...], ...] = ((1, 1, 1), (1, 1, 1), (1, 1, 1))
SEED_001_STRIDE = 2
SEED_001_PADDING = 1


def _frozen(array: Array) -> Array:
    out = np.array(array, dtype=np.float64, copy=True)
    out.flags.writeable = False
    return out


@dataclass(frozen=True, eq=False)
class WindowStep:
    """One output cell. ``values`` are the padded-input cells the window reads (``(C_in/groups,
    *kernel)`` for a convolution, ``(*kernel)`` for a pool); ``taps[a]`` their padded-input
    coordinates on axis ``a`` (``origin[a] + j*d``). Convolution: ``total = sum(products)``,
    ``products = values * weights``, ``result = total + bias``. Max pool: ``total = max``.
    Average pool: ``total = sum``, ``result = total / divisor``."""

    batch: int
    channel: int
    position: tuple[int, ...]
    origin: tuple[int, ...]
    taps: tuple[tuple[int, ...], ...]
    values: Array
    weights: Optional[Array]
    products: Optional[Array]
    total: float
    bias: float
    divisor: Optional[float]
    result: float


@dataclass(frozen=True, eq=False)
class Stage:
    """A rendered step: a title, one line saying what happens, shapes before and after, and the
    array after the step (``None`` for the window-by-window step)."""

    title: str
    description: str
    shape_in: tuple[int, ...]
    shape_out: tuple[int, ...]
    array: Optional[Array]
    detail: str = ""


@dataclass(frozen=True, eq=False)
class OpTrace:
    """Every stage of one op on one small input (arrays are float64 and read-only)."""

    op: str
    geometry: LayerGeometry
    input: Array
    padded: Array
    pad_fill: str
    weight: Optional[Array]
    bias: Optional[Array]
    windows: tuple[WindowStep, ...]
    output: Array

    def stages(self) -> tuple[Stage, ...]:
        """Input, padding, the sliding windows, output (the tutorial's pipeline)."""
        geo = self.geometry
        kernel = "x".join(map(str, geo.kernel)) if geo.ndim > 1 else f"size-{geo.kernel[0]}"
        strides = set(geo.stride)
        step = f"steps of {geo.stride[0]} pixel{'s' if geo.stride[0] != 1 else ''}" if len(strides) == 1 else (
            f"steps of {geo.stride} pixels per axis")
        what = {"conv": "kernel", "max_pool": "max-pool window", "avg_pool": "average-pool window"}[self.op]
        title = {"conv": "Convolution with kernel", "max_pool": "Max pooling", "avg_pool": "Average pooling"}[self.op]
        stride_text = geo.stride[0] if len(strides) == 1 else geo.stride
        dil = "" if all(d == 1 for d in geo.dilation) else f", dilation {_tuple_text(geo.dilation)}"
        return (
            Stage("Input image", _shape_words(self.input.shape), self.input.shape, self.input.shape, self.input),
            Stage("Apply padding", self._pad_words(), self.input.shape, self.padded.shape, self.padded),
            Stage(
                title,
                f"Apply {kernel} {what} with stride {stride_text}{dil}",
                self.padded.shape, self.output.shape, None,
                f"Sliding {kernel} {what} over padded image with {step}",
            ),
            Stage("Output", _shape_words(self.output.shape), self.output.shape, self.output.shape, self.output),
        )

    def _pad_words(self) -> str:
        geo = self.geometry
        pads = geo.pad
        mode = geo.padding_mode if self.op == "conv" else "zeros"
        fill = {"zeros": f"{self.pad_fill} padding", "reflect": "reflect padding", "replicate": "replicate padding",
                "circular": "circular padding"}[mode]
        if all(p == 0 for pair in pads for p in pair):
            return "no padding (the windows read the input as it is)"
        flat = {p for pair in pads for p in pair}
        if len(flat) == 1:
            amount = flat.pop()
            if amount > 0:
                noun = "pixel" if amount == 1 else "pixels"
                return f"Add {fill} of {amount} {noun} around the image"
        return f"Add {fill} (before, after) per axis: {_tuple_text(pads)}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record; non-finite numbers are the strings 'inf', '-inf', 'nan'."""
        return {
            "op": self.op,
            "geometry": self.geometry.to_dict(),
            "stages": [
                {
                    "title": s.title,
                    "description": s.description,
                    "detail": s.detail,
                    "shape_in": list(s.shape_in),
                    "shape_out": list(s.shape_out),
                    "array": None if s.array is None else _jsonable(s.array),
                }
                for s in self.stages()
            ],
            "weight": None if self.weight is None else _jsonable(self.weight),
            "bias": None if self.bias is None else _jsonable(self.bias),
            "windows": [
                {
                    "batch": w.batch,
                    "channel": w.channel,
                    "position": list(w.position),
                    "origin": list(w.origin),
                    "taps": [list(t) for t in w.taps],
                    "values": _jsonable(w.values),
                    "weights": None if w.weights is None else _jsonable(w.weights),
                    "products": None if w.products is None else _jsonable(w.products),
                    "total": _number(w.total),
                    "bias": _number(w.bias),
                    "divisor": None if w.divisor is None else _number(w.divisor),
                    "result": _number(w.result),
                }
                for w in self.windows
            ],
            "output": _jsonable(self.output),
        }

    def render(self, max_windows: Optional[int] = None) -> str:
        """Text in the tutorial's layout: numbered stages with their shapes, each array as an
        aligned grid, then each window (values, products, the sum or max or mean); at most
        ``max_windows`` windows."""
        return _render(self, max_windows)


# ----- building traces ----------------------------------------------------------------------
def _trace_input(x: Any, name: str = "x") -> Array:
    """A numeric array with batch and channel axes (not yet converted: its size is checked first)."""
    arr = real_array(x, name)
    if arr.ndim < 3:
        raise GeometryError(
            f"{name} has shape {tuple(arr.shape)}; expected (N, C, *spatial)",
            fix="add the batch and channel axes, e.g. x[None, None] for one single-channel image",
        )
    return arr


def _check_size(cells: int, max_cells: object) -> None:
    """Refuse, before anything is built, a trace of more than ``max_cells`` cells (the input, the
    padded input, the weight and every window's taps)."""
    max_cells = check_count(max_cells, "max_cells", str(DEFAULT_MAX_CELLS))
    if cells > max_cells:
        raise GeometryError(
            f"the trace would record {cells} cells (input, padded input, windows), more than max_cells={max_cells}",
            fix="trace a smaller input (a trace is for explaining a few windows), or raise max_cells",
        )


def _padded_cells(x: Array, geo: LayerGeometry) -> int:
    return int(x.shape[0] * x.shape[1]) * math.prod(max(0, a.padded_input) for a in geo.axes)


def trace_conv(
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
    max_cells: int = DEFAULT_MAX_CELLS,
) -> OpTrace:
    """Trace of :func:`convgeom.ops.conv` (channels-first): every window's values, products and sum."""
    from .convolution import _check_bias, _check_groups, _check_weight

    xa = _trace_input(x)
    w = _trace_input(weight, "weight")
    g = _check_groups(groups)
    c_in, c_out = _check_weight(xa, w, g, transposed=False)
    geo = _geometry.conv(
        tuple(xa.shape[2:]), tuple(w.shape[2:]), stride, padding, dilation, g,
        framework=framework, padding_mode=padding_mode, in_channels=c_in, out_channels=c_out,
    )
    per = c_in // g
    windows = xa.shape[0] * c_out * math.prod(geo.output) * per * math.prod(geo.kernel)
    _check_size(xa.size + w.size + _padded_cells(xa, geo) + windows, max_cells)
    b = _check_bias(bias, c_out, np.dtype(np.float64))
    xa, w = xa.astype(np.float64), w.astype(np.float64)
    padded = pad_channels_first(xa, geo.pad, geo.padding_mode)
    out = np.zeros((xa.shape[0], c_out) + geo.output)
    steps: list[WindowStep] = []
    out_per = c_out // g
    for n, co in itertools.product(range(xa.shape[0]), range(c_out)):
        group = co // out_per
        for pos in itertools.product(*(range(o) for o in geo.output)):
            taps = _taps(geo, pos)
            window = padded[n, group * per:(group + 1) * per]
            values = window[(slice(None),) + np.ix_(*taps)]
            weights = w[co]
            products = values * weights
            total = float(products.sum())
            bias_v = 0.0 if b is None else float(b[co])
            out[(n, co) + pos] = total + bias_v
            steps.append(WindowStep(
                n, co, pos, tuple(t[0] for t in taps), taps, _frozen(values), _frozen(weights),
                _frozen(products), total, bias_v, None, total + bias_v,
            ))
    return OpTrace("conv", geo, _frozen(xa), _frozen(padded), "zero", _frozen(w),
                   None if b is None else _frozen(b), tuple(steps), _frozen(out))


def _taps(geo: LayerGeometry, pos: tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
    """Padded-input coordinates read by window ``pos``: ``i*s + j*d`` per axis."""
    return tuple(
        tuple(i * a.stride + j * a.dilation for j in range(a.kernel)) for i, a in zip(pos, geo.axes)
    )


def _outer(vectors: list[Array]) -> list[Array]:
    """Per-axis vectors shaped to broadcast against each other (``np.ix_`` without its boolean
    masks)."""
    nd = len(vectors)
    return [v.reshape([-1 if a == axis else 1 for a in range(nd)]) for axis, v in enumerate(vectors)]


def _trace_pool(op: str, x: Array, geo: LayerGeometry, max_cells: object) -> OpTrace:
    windows = x.shape[0] * x.shape[1] * math.prod(geo.output) * math.prod(geo.kernel)
    _check_size(x.size + _padded_cells(x, geo) + windows, max_cells)
    xa = x.astype(np.float64)
    fill = -np.inf if op == "max_pool" else 0.0
    padded = pad_channels_first(xa, geo.pad, "constant", fill)
    # the input cells a tap may read: all of them (max), or those before n + pad_after (average:
    # a negative pad crops); padding and ceil-mode overhang read as the fill and never count
    readable = tuple(a.input + (min(0, a.pad_after) if op == "avg_pool" else 0) for a in geo.axes)
    divisors = _avg_divisors(geo) if op == "avg_pool" else None
    out = np.zeros(xa.shape[:2] + geo.output)
    steps: list[WindowStep] = []
    for n, c in itertools.product(range(xa.shape[0]), range(xa.shape[1])):
        for pos in itertools.product(*(range(o) for o in geo.output)):
            taps = _taps(geo, pos)
            cells = [np.array(t) - a.pad_before for t, a in zip(taps, geo.axes)]
            inside = _outer([(v >= 0) & (v < r) for v, r in zip(cells, readable)])
            read = xa[n, c][np.ix_(*(np.clip(v, 0, max(r - 1, 0)) for v, r in zip(cells, readable)))]
            values = np.where(functools.reduce(np.logical_and, inside), read, fill)
            if op == "max_pool":
                total = float(np.max(values))
                result, divisor = total, None
            else:
                total = float(values.sum())
                assert divisors is not None
                divisor = float(geo.divisor) if geo.divisor is not None else float(
                    math.prod(float(v[i]) for v, i in zip(divisors, pos)))
                result = total / divisor
            out[(n, c) + pos] = result
            steps.append(WindowStep(n, c, pos, tuple(t[0] for t in taps), taps, _frozen(values), None, None,
                                    total, 0.0, divisor, result))
    return OpTrace(op, geo, _frozen(xa), _frozen(padded), "-inf" if op == "max_pool" else "zero", None, None,
                   tuple(steps), _frozen(out))


def trace_max_pool(
    x: Any,
    kernel: IntOrTuple,
    stride: Optional[IntOrTuple] = None,
    padding: PaddingArg = 0,
    dilation: IntOrTuple = 1,
    ceil_mode: bool = False,
    *,
    framework: str = "torch",
    max_cells: int = DEFAULT_MAX_CELLS,
) -> OpTrace:
    """Trace of :func:`convgeom.ops.max_pool`: each window's cells (padding is ``-inf``) and max."""
    xa = _trace_input(x)
    geo = _geometry.max_pool(tuple(xa.shape[2:]), kernel, stride, padding, dilation, ceil_mode, framework=framework)
    return _trace_pool("max_pool", xa, geo, max_cells)


def trace_avg_pool(
    x: Any,
    kernel: IntOrTuple,
    stride: Optional[IntOrTuple] = None,
    padding: PaddingArg = 0,
    ceil_mode: bool = False,
    count_include_pad: Optional[bool] = None,
    divisor: Optional[int] = None,
    *,
    dilation: IntOrTuple = 1,
    framework: str = "torch",
    max_cells: int = DEFAULT_MAX_CELLS,
) -> OpTrace:
    """Trace of :func:`convgeom.ops.avg_pool`: each window's cells, sum and divisor (``dilation``
    as in ONNX AveragePool-19)."""
    xa = _trace_input(x)
    geo = _geometry.avg_pool(tuple(xa.shape[2:]), kernel, stride, padding, ceil_mode, count_include_pad, divisor,
                             dilation=dilation, framework=framework)
    return _trace_pool("avg_pool", xa, geo, max_cells)


def seed_001() -> OpTrace:
    """The tutorial pipeline of seed 001: the 5x5 image, zero padding 1 (7x7), an all-ones 3x3
    kernel with stride 2, a 3x3 output."""
    image = np.array(SEED_001_IMAGE, dtype=np.float64)[None, None]
    kernel = np.array(SEED_001_KERNEL, dtype=np.float64)[None, None]
    return trace_conv(image, kernel, stride=SEED_001_STRIDE, padding=SEED_001_PADDING)


# ----- text helpers -------------------------------------------------------------------------
Number = Union[float, str]


def _number(value: float) -> Number:
    if math.isfinite(value):
        return int(value) if float(value).is_integer() and abs(value) < 2**53 else float(value)
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")


def _jsonable(array: Array) -> Any:
    if array.ndim == 0:
        return _number(float(array))
    return [_jsonable(a) for a in array]


def _num_text(value: float) -> str:
    v = _number(value)
    return v if isinstance(v, str) else (str(v) if isinstance(v, int) else f"{v:.6g}")


def _shape_text(shape: tuple[int, ...]) -> str:
    return " x ".join(map(str, shape))


def _axis_names(nd: int) -> tuple[str, ...]:
    return {1: ("positions",), 2: ("rows", "cols"), 3: ("depth", "rows", "cols")}.get(
        nd, tuple(f"axis{a}" for a in range(nd))
    )


def _shape_words(shape: tuple[int, ...]) -> str:
    n, c, *spatial = shape
    names = {1: ("length",), 2: ("height", "width"), 3: ("depth", "height", "width")}.get(
        len(spatial), tuple(f"size{a}" for a in range(len(spatial)))
    )
    parts = [f"{n} image{'s' if n != 1 else ''}", f"{c} channel{'s' if c != 1 else ''}"]
    parts += [f"{v} {name}" for v, name in zip(spatial, names)]
    return " x ".join(parts)


def _tuple_text(values: Any) -> str:
    return str(tuple(values)) if len(values) != 1 else str(values[0])


# ----- the text of a trace: aligned grids -------------------------------------------------
def _grid_lines(array: Any, indent: str = "  ") -> list[str]:
    """A spatial array (1-D to 3-D, NumPy) as right-aligned rows (3-D: depth slices side by side)."""
    texts = [[_num_text(float(v)) for v in row] for row in _rows(array)]
    width = max((len(t) for row in texts for t in row), default=1)
    if array.ndim == 3:
        depth, cols = array.shape[0], array.shape[2]
        lines = []
        for row in texts:
            slices = [" ".join(t.rjust(width) for t in row[d * cols:(d + 1) * cols]) for d in range(depth)]
            lines.append(indent + " | ".join(slices))
        return lines
    return [indent + " ".join(t.rjust(width) for t in row) for row in texts]


def _rows(array: Any) -> list[list[Any]]:
    if array.ndim == 1:
        return [list(array)]
    if array.ndim == 2:
        return [list(r) for r in array]
    return [[v for d in range(array.shape[0]) for v in array[d, r]] for r in range(array.shape[1])]


def _batch_lines(array: Any) -> list[str]:
    """(N, C, *spatial) as grids, one per image and channel (just the grid for 1 x 1)."""
    if array.shape[0] == 1 and array.shape[1] == 1:
        return _grid_lines(array[0, 0])
    lines = []
    for n, c in itertools.product(range(array.shape[0]), range(array.shape[1])):
        lines.append(f"  [image {n}, channel {c}]")
        lines.extend(_grid_lines(array[n, c], "    "))
    return lines


def _side(blocks: list[tuple[str, list[str]]], indent: str) -> list[str]:
    widths = [max([len(name)] + [len(line) for line in lines]) for name, lines in blocks]
    height = max(len(lines) for _, lines in blocks)
    out = [indent + "   ".join(name.ljust(w) for (name, _), w in zip(blocks, widths)).rstrip()]
    for i in range(height):
        out.append(indent + "   ".join((lines[i] if i < len(lines) else "").ljust(w)
                                       for (_, lines), w in zip(blocks, widths)).rstrip())
    return out


def _render(op_trace: OpTrace, max_windows: Optional[int] = None) -> str:
    """``convgeom trace-op``'s text: the numbered stages of :meth:`OpTrace.stages`, each array as
    an aligned grid, then every window (its cells, its products for a convolution, the sum or max
    or mean)."""
    lines: list[str] = []
    for number, stage in enumerate(op_trace.stages(), start=1):
        lines.append(f"{number} {stage.title}")
        lines.append(f"{_shape_text(stage.shape_in)} -> {_shape_text(stage.shape_out)}: {stage.description}")
        if stage.detail:
            lines.append(stage.detail)
        if stage.array is not None:
            lines.extend(_batch_lines(stage.array))
            continue
        if op_trace.weight is not None:
            if op_trace.weight.shape[:2] == (1, 1):
                lines.append("kernel")
                lines.extend(_grid_lines(op_trace.weight[0, 0]))
            else:
                for o, i in itertools.product(range(op_trace.weight.shape[0]), range(op_trace.weight.shape[1])):
                    lines.append(f"kernel [out channel {o}, in channel {i}]")
                    lines.extend(_grid_lines(op_trace.weight[o, i]))
        if op_trace.bias is not None:
            lines.append("bias: " + ", ".join(_num_text(float(v)) for v in op_trace.bias))
        lines.extend(_window_lines(op_trace, max_windows))
    return "\n".join(lines)


def _window_lines(op_trace: OpTrace, max_windows: Optional[int]) -> list[str]:
    shown = op_trace.windows if max_windows is None else op_trace.windows[:max_windows]
    many = op_trace.output.shape[0] > 1 or op_trace.output.shape[1] > 1
    names = _axis_names(len(op_trace.geometry.axes))
    lines = []
    for w in shown:
        where = ", ".join(f"{name} {t[0]}..{t[-1]}" + (f" every {t[1] - t[0]}" if len(t) > 1 and t[1] - t[0] != 1 else "")
                          for name, t in zip(names, w.taps))
        head = "  window (" + ",".join(map(str, w.position)) + ")" + (f" [image {w.batch}, channel {w.channel}]" if many else "")
        lines.append(f"{head}: padded {where}")
        blocks = []
        for c in range(w.values.shape[0]) if w.products is not None else [None]:
            values = w.values if c is None else w.values[c]
            suffix = "" if c is None or w.values.shape[0] == 1 else f" (in channel {c})"
            blocks.append((f"values{suffix}", _grid_lines(values, "")))
            if w.products is not None:
                blocks.append((f"products{suffix}", _grid_lines(w.products[c], "")))
        lines.extend(_side(blocks, "    "))
        if w.products is not None:
            tail = f" + bias {_num_text(w.bias)}" if op_trace.bias is not None else ""
            lines.append(f"    sum = {_num_text(w.total)}{tail} -> {_num_text(w.result)}")
        elif w.divisor is not None:
            lines.append(f"    sum = {_num_text(w.total)}, / {_num_text(w.divisor)} -> {_num_text(w.result)}")
        else:
            lines.append(f"    max = {_num_text(w.result)}")
    if len(shown) < len(op_trace.windows):
        lines.append(f"  ... {len(op_trace.windows) - len(shown)} more windows (use --max-windows to see them)")
    return lines
