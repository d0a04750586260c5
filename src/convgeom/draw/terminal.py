"""Terminal pictures: aligned grids of a :class:`~convgeom.draw.scene.Scene`, the highlighted
window's taps in ``[brackets]`` and the cell it computes in ``(parentheses)``, coloured with
``rich`` when it is installed and the output is a terminal, plain text otherwise.

Also the grids ``convgeom trace-op`` and ``convgeom explain`` print:
:func:`render_op_trace` (every stage of an :class:`~convgeom.ops.trace.OpTrace` as grids) and
:func:`render_geometry` (a layer's padded input, windows and output).
"""

from __future__ import annotations

import io
import itertools
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Optional

from ..errors import GeometryError
from .palette import STYLES, lit_style
from .scene import MAX_TERMINAL_CELLS, MAX_TERMINAL_WIDTH, Frame, Grid, Pos, Scene, pos_text

if TYPE_CHECKING:
    from ..ops.trace import OpTrace

#: one terminal cell: (text, palette key as drawn, bracket kind "" / "window" / "focus")
Token = tuple[str, str, str]

_BRACKETS = {"": (" ", " "), "window": ("[", "]"), "focus": ("(", ")")}

_GAP = "    "


def check_terminal(scene: Scene) -> None:
    """Refuse grids a terminal cannot show (:data:`MAX_TERMINAL_CELLS` cells in all, rows of at
    most :data:`MAX_TERMINAL_WIDTH` cells)."""
    total = sum(g.size for g in scene.grids)
    widest = max((_row_cells(g) for g in scene.grids), default=0)
    if scene.ndim == 2:
        widest = sum(_row_cells(g) for g in scene.grids)
    if total > MAX_TERMINAL_CELLS or widest > MAX_TERMINAL_WIDTH:
        raise GeometryError(
            f"a terminal picture of {total:,} cells ({widest} per row) is larger than the cap of "
            f"{MAX_TERMINAL_CELLS:,} cells and {MAX_TERMINAL_WIDTH} per row",
            fix="write a picture file instead (-o picture.svg), or draw a smaller input",
        )


def _row_cells(g: Grid) -> int:
    return g.shape[0] if len(g.shape) == 1 else (g.shape[-1] * (g.shape[0] if len(g.shape) == 3 else 1))


def _tokens(scene: Scene, frame: Optional[Frame]) -> dict[str, dict[Pos, Token]]:
    marks: dict[str, set[Pos]] = {}
    for g in scene.grids:
        if g.marks:
            marks[g.name] = {tuple(math.floor(v) for v in p) for p in itertools.product(*g.marks)}
    lit: dict[tuple[str, Pos], str] = {}
    if frame is not None:
        lit.update({(frame.grid, p): "window" for p in frame.window})
        for name, cells in frame.mirror:
            lit.update({(name, p): "window" for p in cells})
        lit[(frame.target_grid, frame.target)] = "focus"
    out: dict[str, dict[Pos, Token]] = {}
    for g in scene.grids:
        tokens: dict[Pos, Token] = {}
        for c in g.cells:
            style = c.style
            text = c.text
            if g.heat is not None and c.role != "pad":
                count = g.heat.count(c.pos)
                text = str(count)
                style = "unread" if count == 0 else style
            if not text:
                text = "+" if c.pos in marks.get(g.name, ()) else STYLES[style].glyph
            kind = lit.get((g.name, c.pos), "")
            tokens[c.pos] = (text, lit_style(kind, c.role) if kind else style, kind)
        out[g.name] = tokens
    return out


def _block(g: Grid, tokens: dict[Pos, Token], width: int) -> list[list[Token]]:
    """The grid as lines of tokens (3-D: depth slices side by side)."""
    shape = g.shape
    if len(shape) == 1:
        return [[tokens[(c,)] for c in range(shape[0])]]
    if len(shape) == 2:
        return [[tokens[(r, c)] for c in range(shape[1])] for r in range(shape[0])]
    lines = []
    for r in range(shape[1]):
        line: list[Token] = []
        for d in range(shape[0]):
            if d:
                line.append(("|", "", ""))
            line.extend(tokens[(d, r, c)] for c in range(shape[2]))
        lines.append(line)
    return lines


def _plain(line: Sequence[Token], width: int) -> str:
    parts = []
    for text, style, kind in line:
        if not style:
            parts.append(f" {text} ")
            continue
        left, right = _BRACKETS[kind]
        parts.append(f"{left}{text:>{width}}{right}")
    return "".join(parts)


def render(scene: Scene, frame: Optional[Frame] = None, *, color: bool = False, title: bool = True,
           labels: bool = True) -> str:
    """The terminal picture of ``scene`` (``frame`` default: the still frame). ``color`` uses
    ``rich`` (ANSI colours); without it the text is plain."""
    check_terminal(scene)
    chosen = frame if frame is not None else scene.still()
    tokens = _tokens(scene, chosen)
    blocks = []
    for g in scene.grids:
        width = max((len(t[0]) for t in tokens[g.name].values()), default=1)
        rows = _block(g, tokens[g.name], width)
        blocks.append((g.title, rows, width))
    lines: list[Any] = []
    if title:
        lines.append(scene.title)
    if chosen is not None:
        lines.append(chosen.caption)
    if scene.ndim == 2:
        lines.extend(_side_by_side(blocks, color))
    else:
        for name, rows, width in blocks:
            lines.append(name)
            lines.extend(_line(row, width, color) for row in rows)
    if labels:
        lines.extend(scene.labels)
    lines.append(_legend(scene))
    return _join(lines, color)


def _line(row: Sequence[Token], width: int, color: bool) -> Any:
    if not color:
        return _plain(row, width)
    from rich.text import Text

    text = Text()
    for token, style, kind in row:
        left, right = _BRACKETS[kind] if style else (" ", " ")
        body = f"{left}{token:>{width}}{right}" if style else f" {token} "
        if style:
            s = STYLES[style]
            fill = "" if s.fill in ("none",) else f" on {s.fill}"
            text.append(body, style=f"{s.text}{fill}" + (" bold" if kind else ""))
        else:
            text.append(body)
    return text


def _side_by_side(blocks: list[tuple[str, list[list[Token]], int]], color: bool) -> list[Any]:
    widths = [max((len(_plain(r, w)) for r in rows), default=0) for _, rows, w in blocks]
    widths = [max(wd, len(name)) for wd, (name, _, _) in zip(widths, blocks)]
    height = max((len(rows) for _, rows, _ in blocks), default=0)
    out: list[Any] = [_GAP.join(name.ljust(wd) for wd, (name, _, _) in zip(widths, blocks)).rstrip()]
    for i in range(height):
        if color:
            from rich.text import Text

            line = Text()
            for k, ((_, rows, w), wd) in enumerate(zip(blocks, widths)):
                part = _line(rows[i], w, True) if i < len(rows) else Text("")
                line.append_text(part)
                if k < len(blocks) - 1:
                    line.append(" " * (wd - len(part.plain)) + _GAP)
            out.append(line)
        else:
            parts = [(_plain(rows[i], w) if i < len(rows) else "").ljust(wd) for (_, rows, w), wd in zip(blocks, widths)]
            out.append(_GAP.join(parts).rstrip())
    return out


def _legend(scene: Scene) -> str:
    parts = []
    for key in scene.legend():
        meaning = scene.meaning(key)
        if key in ("outline", "arrow", "stride-mark"):
            if key == "stride-mark":
                parts.append(f"+ {meaning}")
            continue
        if key == "window":
            parts.append(f"[ ] {meaning}")
        elif key in ("focus", "focus-input"):
            parts.append(f"( ) {meaning}")
        else:
            parts.append(f"{STYLES[key].glyph} {meaning}")
    return "legend: " + "; ".join(parts)


def _join(lines: list[Any], color: bool) -> str:
    if not color:
        return "\n".join(line.rstrip() for line in lines)
    from rich.console import Console

    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, color_system="truecolor", width=10_000, soft_wrap=True)
    for line in lines:
        console.print(line, highlight=False, markup=False)
    return buffer.getvalue().rstrip("\n")


def use_color(stream: Any) -> bool:
    """Colour when ``rich`` is importable and ``stream`` is a terminal."""
    try:
        import rich  # noqa: F401
    except ImportError:
        return False
    return bool(getattr(stream, "isatty", lambda: False)())


# ----- the grids of convgeom trace-op and convgeom explain -----------------------------------
def array_lines(array: Any, indent: str = "  ") -> list[str]:
    """A spatial array (1-D to 3-D, NumPy) as right-aligned rows (3-D: depth slices side by side)."""
    from ..ops.trace import _num_text

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
        return array_lines(array[0, 0])
    lines = []
    for n, c in itertools.product(range(array.shape[0]), range(array.shape[1])):
        lines.append(f"  [image {n}, channel {c}]")
        lines.extend(array_lines(array[n, c], "    "))
    return lines


def _side(blocks: list[tuple[str, list[str]]], indent: str) -> list[str]:
    widths = [max([len(name)] + [len(line) for line in lines]) for name, lines in blocks]
    height = max(len(lines) for _, lines in blocks)
    out = [indent + "   ".join(name.ljust(w) for (name, _), w in zip(blocks, widths)).rstrip()]
    for i in range(height):
        out.append(indent + "   ".join((lines[i] if i < len(lines) else "").ljust(w)
                                       for (_, lines), w in zip(blocks, widths)).rstrip())
    return out


def render_op_trace(op_trace: OpTrace, max_windows: Optional[int] = None) -> str:
    """``convgeom trace-op``'s text with grids instead of nested lists: the numbered stages of
    :meth:`~convgeom.ops.trace.OpTrace.stages`, each array as an aligned grid, then every window
    (its cells, its products for a convolution, the sum or max or mean)."""
    from ..ops.trace import _num_text, _shape_text

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
                lines.extend(array_lines(op_trace.weight[0, 0]))
            else:
                for o, i in itertools.product(range(op_trace.weight.shape[0]), range(op_trace.weight.shape[1])):
                    lines.append(f"kernel [out channel {o}, in channel {i}]")
                    lines.extend(array_lines(op_trace.weight[o, i]))
        if op_trace.bias is not None:
            lines.append("bias: " + ", ".join(_num_text(float(v)) for v in op_trace.bias))
        lines.extend(_window_lines(op_trace, max_windows))
    return "\n".join(lines)


def _window_lines(op_trace: OpTrace, max_windows: Optional[int]) -> list[str]:
    from ..ops.trace import _axis_names, _num_text

    shown = op_trace.windows if max_windows is None else op_trace.windows[:max_windows]
    many = op_trace.output.shape[0] > 1 or op_trace.output.shape[1] > 1
    names = _axis_names(len(op_trace.geometry.axes))
    lines = []
    for w in shown:
        where = ", ".join(f"{name} {t[0]}..{t[-1]}" + (f" every {t[1] - t[0]}" if len(t) > 1 and t[1] - t[0] != 1 else "")
                          for name, t in zip(names, w.taps))
        head = f"  window ({pos_text(w.position)})" + (f" [image {w.batch}, channel {w.channel}]" if many else "")
        lines.append(f"{head}: padded {where}")
        blocks = []
        for c in range(w.values.shape[0]) if w.products is not None else [None]:
            values = w.values if c is None else w.values[c]
            suffix = "" if c is None or w.values.shape[0] == 1 else f" (in channel {c})"
            blocks.append((f"values{suffix}", array_lines(values, "")))
            if w.products is not None:
                blocks.append((f"products{suffix}", array_lines(w.products[c], "")))
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


def render_geometry(result: Any, *, step: Optional[Pos] = None, color: bool = False, fit: bool = False) -> str:
    """The grids of one layer (padded input with the window of ``step`` -- default the first --,
    kernel, output; a transposed convolution with zeros inserted), for ``convgeom explain``.
    ``fit=True`` never raises: grids beyond the terminal cap give a one-line note instead, and a
    result without windows of one size (adaptive pooling, interpolate) gives ""."""
    from ..geometry import LayerGeometry
    from .build import layer_scene

    if not isinstance(result, LayerGeometry):
        if fit:
            return ""
        raise TypeError(f"render_geometry takes a LayerGeometry, got {type(result).__name__}")
    try:
        scene = layer_scene(result, step=step)
        return render(scene, color=color, title=False, labels=False)
    except GeometryError as err:
        if not fit:
            raise
        return f"(grids not drawn: {err.problem})"
