"""Terminal pictures: aligned grids of a :class:`~convgeom.draw.scene.Scene`, the highlighted
window's taps in ``[brackets]`` and the cell it computes in ``(parentheses)``, coloured with
``rich`` when it is installed and the output is a terminal, plain text otherwise.

Also the grids ``convgeom explain`` prints: :func:`render_geometry` (a layer's padded input,
windows and output). ``convgeom trace-op``'s grids are :meth:`convgeom.ops.OpTrace.render`.
"""

from __future__ import annotations

import io
import itertools
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Optional

from ..errors import GeometryError
from .palette import STYLES, lit_style
from .scene import MAX_TERMINAL_CELLS, MAX_TERMINAL_WIDTH, Frame, Grid, Pos, Scene

if TYPE_CHECKING:
    pass

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


# ----- the grids of convgeom explain ------------------------------------------------------
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
