"""SVG pictures, with the standard library only.

The contract pages and tests rely on: every grid cell is one ``<rect>`` with ``data-role``
(``input``, ``pad``, ``overhang``, ``output``, ``kernel``) and ``data-pos`` (its coordinates in
its own grid: ``"r,c"`` in 2-D, ``"c"`` in 1-D; input and padding cells in padded coordinates,
0-based), inside a ``<g>`` that also holds its value as ``<text>``; each grid is a
``<g data-grid="NAME" data-shape="...">``; the cells of the highlighted window carry
``class="window"``, the cell it computes ``class="focus"``. Padding cells say what they hold in
``data-fill`` and, for copies, the cell they copy in ``data-source``. A coverage heat map
larger than :data:`~convgeom.draw.scene.MAX_CELLS` cells is one embedded PNG (written with
``zlib``) in a ``<g data-grid>`` with ``data-role`` on the ``<image>``.
"""

from __future__ import annotations

import base64
import functools
import struct
import zlib
from typing import Optional
from xml.sax.saxutils import escape, quoteattr

from .layout import Arrow, Dot, GridLayout, Highlight, Image, Item, Label, Layout, Rect, highlight, layout
from .palette import INK, PAPER, STYLES, heat_pixels
from .scene import Frame, Scene

FONT = "DejaVu Sans, Verdana, Arial, sans-serif"


def _n(value: float) -> str:
    """Coordinates: integers without a decimal point, else one decimal (stable text)."""
    if value == int(value):
        return str(int(value))
    return f"{value:.1f}"


def render(scene: Scene, frame: Optional[Frame] = None) -> str:
    """The SVG text of ``scene`` with ``frame`` highlighted (default: the scene's still frame)."""
    page = layout(scene)
    chosen = frame if frame is not None else scene.still()
    return render_layout(page, highlight(page, chosen), scene)


def render_layout(page: Layout, lit: Highlight, scene: Scene) -> str:
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_n(page.width)}" height="{_n(page.height)}" '
        f'viewBox="0 0 {_n(page.width)} {_n(page.height)}" font-family="{FONT}" data-kind="{scene.kind}" '
        f'role="img" aria-label={quoteattr(scene.title)}>',
        f"<title>{escape(scene.title)}</title>",
        _defs(),
        f'<rect width="{_n(page.width)}" height="{_n(page.height)}" fill="{PAPER}"/>',
        _label(page.title),
    ]
    for g in page.grids:
        out.append(_grid(g, lit))
    out.extend(_rect(r) for r in lit.outlines)
    if lit.caption.text:
        out.append(_label(lit.caption, 'class="caption"'))
    out.append('<g class="labels">')
    out.extend(_label(label) for label in page.labels)
    out.append("</g>")
    out.append('<g class="legend">')
    out.extend(_item(item) for item in page.legend)
    out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _defs() -> str:
    parts = ["<defs>"]
    for key, style in STYLES.items():
        if style.hatch:
            parts.append(
                f'<pattern id="hatch-{key}" width="6" height="6" patternUnits="userSpaceOnUse">'
                f'<rect width="6" height="6" fill="{style.fill}"/>'
                f'<path d="M-1,1 l2,-2 M0,6 l6,-6 M5,7 l2,-2" stroke="{style.stroke}" stroke-width="0.8"/></pattern>'
            )
    arrow = STYLES["arrow"].stroke
    parts.append(f'<marker id="arrowhead" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" '
                 f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{arrow}"/></marker>')
    parts.append("</defs>")
    return "".join(parts)


def _grid(g: GridLayout, lit: Highlight) -> str:
    shape = ",".join(map(str, g.shape))
    out = [f'<g data-grid="{g.name}" data-shape="{shape}">', _label(g.title, 'class="grid-title"')]
    for r in g.cells:
        out.append(_cell(lit.cells.get((g.name, r.pos), r)))
    out.extend(_item(item) for item in g.extras)
    out.append("</g>")
    return "\n".join(out)


@functools.lru_cache(maxsize=256)
def _paint_of(key: str, colour: str) -> str:
    style = STYLES[key]
    fill = colour or (f"url(#hatch-{key})" if style.hatch else style.fill)
    attrs = f'fill="{fill}" stroke="{style.stroke}" stroke-width="{_n(style.width)}"'
    if style.dash:
        attrs += f' stroke-dasharray="{style.dash}"'
    return attrs


def _paint(r: Rect) -> str:
    return _paint_of(r.style, r.colour)


def _cell(r: Rect) -> str:
    attrs = f'data-role="{r.role}" data-pos="{r.pos}"'
    if r.fill:
        attrs += f' data-fill="{r.fill}"'
    if r.klass:
        attrs += f' class="{r.klass}"'
    rect = f'<rect {attrs} x="{r.x:g}" y="{r.y:g}" width="{r.w:g}" height="{r.h:g}" {_paint_of(r.style, r.colour)}/>'
    if not (r.text or r.note):
        return f"<g>{rect}</g>"
    texts = []
    colour = r.text_colour or STYLES[r.style].text
    cx = r.x + r.w / 2
    if r.text:
        ty = r.y + r.h / 2 + r.text_size * 0.35 - (r.note_size * 0.45 if r.note else 0)
        texts.append(f'<text x="{cx:.1f}" y="{ty:.1f}" font-size="{r.text_size:g}" text-anchor="middle" '
                     f'fill="{colour}">{escape(r.text)}</text>')
    if r.note:
        ny = r.y + r.h - 4 if r.text else r.y + r.h / 2 + r.note_size * 0.35
        texts.append(f'<text x="{cx:.1f}" y="{ny:.1f}" font-size="{r.note_size:g}" text-anchor="middle" '
                     f'fill="{colour}">{escape(r.note)}</text>')
    return "<g>" + rect + "".join(texts) + "</g>"


def _rect(r: Rect) -> str:
    klass = f' class="{r.klass}"' if r.klass else ""
    return f'<rect{klass} x="{_n(r.x)}" y="{_n(r.y)}" width="{_n(r.w)}" height="{_n(r.h)}" {_paint(r)}/>'


def _label(label: Label, extra: str = "") -> str:
    weight = ' font-weight="bold"' if label.bold else ""
    anchor = f' text-anchor="{label.anchor}"' if label.anchor != "start" else ""
    extra = f" {extra}" if extra else ""
    colour = f' fill="{label.colour}"' if label.colour != INK else f' fill="{INK}"'
    return (f'<text{extra} x="{_n(label.x)}" y="{_n(label.y)}" font-size="{_n(label.size)}"{weight}{anchor}{colour}>'
            f"{escape(label.text)}</text>")


def _item(item: Item) -> str:
    if isinstance(item, Rect):
        return _rect(item)
    if isinstance(item, Label):
        return _label(item)
    if isinstance(item, Arrow):
        style = STYLES[item.style]
        cx, cy = item.cx, item.cy
        return (f'<path class="copy" d="M{_n(item.x1)},{_n(item.y1)} Q{_n(cx)},{_n(cy)} {_n(item.x2)},{_n(item.y2)}" '
                f'fill="none" stroke="{style.stroke}" stroke-width="{_n(style.width)}" marker-end="url(#arrowhead)"/>')
    if isinstance(item, Dot):
        style = STYLES[item.style]
        return (f'<circle class="stride-mark" cx="{_n(item.x)}" cy="{_n(item.y)}" r="{_n(item.r)}" '
                f'fill="{style.fill}" stroke="{style.stroke}" stroke-width="1"/>')
    return _image(item)


def _image(img: Image) -> str:
    palette, pixels = heat_pixels(img.heat.rows(), img.px, img.py, img.heat.maximum)
    data = png_bytes(img.cols * img.px, img.rows * img.py, palette, pixels)
    href = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    return (f'<image data-role="{img.role}" x="{_n(img.x)}" y="{_n(img.y)}" width="{img.cols * img.px}" '
            f'height="{img.rows * img.py}" style="image-rendering:pixelated" href={quoteattr(href)}/>')


def png_bytes(width: int, height: int, palette: list[tuple[int, int, int]], pixels: bytes) -> bytes:
    """A palette PNG (colour type 3) from row-major palette indices, standard library only."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + pixels[y * width:(y + 1) * width] for y in range(height))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 3, 0, 0, 0))
            + chunk(b"PLTE", b"".join(bytes(c) for c in palette))
            + chunk(b"IDAT", zlib.compress(rows, 6))
            + chunk(b"IEND", b""))
