"""PNG and animated GIF pictures with Pillow (the ``draw`` extra), drawn from the same
:mod:`~convgeom.draw.layout` as the SVG.

A GIF draws the page once, reduces it to a fixed palette (every style colour and its blends
with the text colours, so antialiased text keeps its edges) and then, for each frame, redraws
only the highlighted window, the cell it computes and the caption on top of a copy: one frame
per position, row-major. Pillow's own font (``ImageFont.load_default``) keeps the files
byte-identical on every machine.
"""

from __future__ import annotations

import functools
import io
import math
from typing import Any, Optional

from .layout import (
    GIF_WIDTH_BUDGET,
    Arrow,
    Dot,
    GridLayout,
    Highlight,
    Image,
    Item,
    Label,
    Layout,
    Rect,
    highlight,
    layout,
)
from .palette import HEAT_RAMP, INK, PAPER, RASTER_PAD, STYLES, heat_pixels, rgb
from .scene import Frame, Scene

FRAME_MS = 700
"""How long each GIF frame shows, in milliseconds."""


def _pil() -> Any:
    from ..optional import needed

    with needed("drawing PNG and GIF pictures", extra="draw"):
        from PIL import Image as PILImage
        from PIL import ImageDraw
    return PILImage, ImageDraw


@functools.lru_cache(maxsize=4096)
def _glyph(size: int, ch: str) -> tuple[Any, tuple[int, int]]:
    """One character as a 1-bit mask and its offset from the pen position on the baseline."""
    pil_image, image_draw = _pil()
    font = _font(size)
    left, top, right, bottom = font.getbbox(ch, anchor="ls")
    if right <= left or bottom <= top:
        return None, (0, 0)
    mask = pil_image.new("1", (right - left, bottom - top), 0)
    draw = image_draw.Draw(mask)
    draw.fontmode = "1"
    draw.text((-left, -top), ch, fill=1, font=font, anchor="ls")
    return mask, (left, top)


@functools.lru_cache(maxsize=32)
def _font(size: int) -> Any:
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


class _Canvas:
    """Draws layout items onto a Pillow image whose top-left corner is page point (ox, oy)."""

    def __init__(self, image: Any) -> None:
        _, image_draw = _pil()
        self.image = image
        self.draw = image_draw.Draw(image)

    @staticmethod
    def _xy(x: float, y: float) -> tuple[int, int]:
        return round(x), round(y)

    def item(self, item: Item) -> None:
        if isinstance(item, Rect):
            self.rect(item)
        elif isinstance(item, Label):
            self.label(item)
        elif isinstance(item, Arrow):
            self.arrow(item)
        elif isinstance(item, Dot):
            self.dot(item)
        else:
            self.heat_image(item)

    def rect(self, r: Rect) -> None:
        style = STYLES[r.style]
        x0, y0 = self._xy(r.x, r.y)
        x1, y1 = self._xy(r.x + r.w, r.y + r.h)
        if style.fill != "none" or r.colour:
            self.draw.rectangle([x0, y0, x1, y1], fill=r.colour or style.fill)
        if style.hatch and not r.colour:
            self._hatch(x0, y0, x1, y1, style.stroke)
        width = max(1, round(style.width))
        if style.dash:
            self._dashed(x0, y0, x1, y1, style.stroke, width, style.dash)
        else:
            self.draw.rectangle([x0, y0, x1, y1], outline=style.stroke, width=width)
        self._texts(r, (x0 + x1) / 2, y0, y1)

    def _texts(self, r: Rect, cx: float, y0: float, y1: float) -> None:
        colour = r.text_colour or STYLES[r.style].text
        h = y1 - y0
        if r.text:
            ty = y0 + h / 2 + r.text_size * 0.35 - (r.note_size * 0.45 if r.note else 0)
            self.text((cx, ty), r.text, colour, round(r.text_size), "ms")
        if r.note:
            ny = y1 - 4 if r.text else y0 + h / 2 + r.note_size * 0.35
            self.text((cx, ny), r.note, colour, round(r.note_size), "ms")

    def _hatch(self, x0: int, y0: int, x1: int, y1: int, colour: str) -> None:
        for k in range(0, (x1 - x0) + (y1 - y0), 6):
            # the diagonal x + y = x0 + y0 + k, clipped to the rectangle
            ax, ay = x0 + k, y0
            if ax > x1:
                ax, ay = x1, y0 + (ax - x1)
            bx, by = x0, y0 + k
            if by > y1:
                bx, by = x0 + (by - y1), y1
            self.draw.line([(ax, ay), (bx, by)], fill=colour, width=1)

    def _dashed(self, x0: int, y0: int, x1: int, y1: int, colour: str, width: int, dash: str) -> None:
        on, off = (int(v) for v in dash.split(","))
        for (ax, ay), (bx, by) in (((x0, y0), (x1, y0)), ((x1, y0), (x1, y1)), ((x1, y1), (x0, y1)),
                                   ((x0, y1), (x0, y0))):
            length = abs(bx - ax) + abs(by - ay)
            dx, dy = (bx - ax) / max(length, 1), (by - ay) / max(length, 1)
            t = 0
            while t < length:
                e = min(t + on, length)
                self.draw.line([(ax + dx * t, ay + dy * t), (ax + dx * e, ay + dy * e)], fill=colour, width=width)
                t += on + off

    def label(self, label: Label) -> None:
        x, y = self._xy(label.x, label.y)
        anchor = {"start": "ls", "middle": "ms", "end": "rs"}[label.anchor]
        self.text((x, y), label.text, label.colour, round(label.size), anchor)
        if label.bold:
            self.text((x + 1, y), label.text, label.colour, round(label.size), anchor)

    def text(self, xy: tuple[float, float], text: str, colour: str, size: int, anchor: str) -> None:
        """Antialiased text on RGB pages; on palette (GIF) pages, text without antialiasing put
        together from cached glyphs: a frame's caption costs pastes, not a FreeType render."""
        if self.image.mode != "P":
            self.draw.text(xy, text, fill=colour, font=_font(size), anchor=anchor)
            return
        font = _font(size)
        width = font.getlength(text)
        x = xy[0] - {"l": 0.0, "m": width / 2, "r": width}[anchor[0]]
        ink = self.draw._getink(colour)[0]  # the palette index of the colour
        for ch in text:
            mask, (dx, dy) = _glyph(size, ch)
            if mask is not None:
                self.image.paste(ink, (round(x) + dx, round(xy[1]) + dy), mask)
            x += font.getlength(ch)

    def arrow(self, a: Arrow) -> None:
        colour = STYLES[a.style].stroke
        x1, y1 = self._xy(a.x1, a.y1)
        x2, y2 = self._xy(a.x2, a.y2)
        cx, cy = self._xy(a.cx, a.cy)
        points = [((1 - t) ** 2 * x1 + 2 * (1 - t) * t * cx + t * t * x2,
                   (1 - t) ** 2 * y1 + 2 * (1 - t) * t * cy + t * t * y2) for t in (i / 16 for i in range(17))]
        self.draw.line(points, fill=colour, width=2)
        (px, py), (qx, qy) = points[-2], points[-1]
        angle = math.atan2(qy - py, qx - px)
        head = [(qx, qy)] + [(qx - 8 * math.cos(angle + s), qy - 8 * math.sin(angle + s)) for s in (0.45, -0.45)]
        self.draw.polygon(head, fill=colour)

    def dot(self, d: Dot) -> None:
        x, y = self._xy(d.x, d.y)
        style = STYLES[d.style]
        self.draw.ellipse([x - d.r - 1, y - d.r - 1, x + d.r + 1, y + d.r + 1], fill=style.stroke)
        self.draw.ellipse([x - d.r, y - d.r, x + d.r, y + d.r], fill=style.fill)

    def heat_image(self, img: Image) -> None:
        pil_image, _ = _pil()
        palette, pixels = heat_pixels(img.heat.rows(), img.px, img.py, img.heat.maximum)
        tile = pil_image.frombytes("P", (img.cols * img.px, img.rows * img.py), pixels)
        tile.putpalette([v for c in palette for v in c])
        tile = tile.convert("RGB")
        if self.image.mode == "P":
            tile = tile.quantize(palette=self.image, dither=pil_image.Dither.NONE)
        self.image.paste(tile, self._xy(img.x, img.y))


def _draw_page(canvas: _Canvas, page: Layout) -> None:
    canvas.label(page.title)
    for g in page.grids:
        _grid(canvas, g, {})
    for item in page.labels + page.legend:
        canvas.item(item)


def _grid(canvas: _Canvas, g: GridLayout, lit: dict[tuple[str, str], Rect]) -> None:
    canvas.label(g.title)
    for r in g.cells:
        canvas.rect(lit.get((g.name, r.pos), r))
    for item in g.extras:
        canvas.item(item)


def _draw_highlight(canvas: _Canvas, page: Layout, lit: Highlight) -> None:
    """Draw a frame's highlight over the page: cells, the marks and arrows on top of them, the
    window's outline, the caption."""
    for r in lit.cells.values():
        canvas.rect(r)
    if lit.cells:
        for g in page.grids:
            for item in g.extras:
                if not isinstance(item, (Image, Label)):
                    canvas.item(item)
    for r in lit.outlines:
        canvas.rect(r)
    if lit.caption.text:
        canvas.label(lit.caption)


def _scaled(image: Any, scale: int) -> Any:
    if scale == 1:
        return image
    pil_image, _ = _pil()
    return image.resize((image.width * scale, image.height * scale), pil_image.Resampling.NEAREST)


def render_png(scene: Scene, frame: Optional[Frame] = None, *, scale: int = 1) -> bytes:
    """PNG bytes of ``scene`` with ``frame`` (default: the still frame) highlighted."""
    pil_image, _ = _pil()
    page = layout(scene)
    image = pil_image.new("RGB", (math.ceil(page.width), math.ceil(page.height)), PAPER)
    _draw_page(_Canvas(image), page)
    _draw_highlight(_Canvas(image), page, highlight(page, frame if frame is not None else scene.still()))
    buffer = io.BytesIO()
    _scaled(image, scale).save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def _palette() -> list[int]:
    """Every colour a picture uses, paper first: a GIF draws with exactly these."""
    colours = {INK, RASTER_PAD, *HEAT_RAMP}
    for style in STYLES.values():
        colours.update(c for c in (style.fill, style.stroke, style.text) if c.startswith("#"))
    ordered = [rgb(PAPER)] + sorted(rgb(c) for c in colours - {PAPER})
    return [v for c in ordered for v in c]


def render_gif(scene: Scene, *, frame_ms: int = FRAME_MS) -> bytes:
    """An animated GIF, one frame per position of the scene's sweep in row-major order.

    Drawn in palette mode with the style colours only (text without antialiasing, as GIF
    wants it). The page is drawn once; each frame undoes the previous highlight, draws its own
    and stores only the rectangle that changed (Pillow's documented ``getheader``/``getdata``
    encode the blocks), so a frame costs its window, not the page."""
    from PIL import GifImagePlugin

    frames = scene.frames()
    pil_image, _ = _pil()
    page = layout(scene, GIF_WIDTH_BUDGET)
    size = (math.ceil(page.width), math.ceil(page.height))
    base = pil_image.new("P", size, 0)
    base.putpalette(_palette())
    _draw_page(_Canvas(base), page)
    canvas = base.copy()
    header, _ = GifImagePlugin.getheader(base, None, {"loop": 0, "duration": frame_ms})
    out = [b"".join(header)]
    previous: Optional[tuple[int, int, int, int]] = None
    for frame in frames:
        lit = highlight(page, frame)
        if previous is not None:
            canvas.paste(base.crop(previous), previous[:2])
        _draw_highlight(_Canvas(canvas), page, lit)
        box = _changed(page, lit)
        region = (0, 0) + size if previous is None else _union(previous, box)
        out.extend(GifImagePlugin.getdata(canvas.crop(region), offset=region[:2], duration=frame_ms, interlace=0))
        previous = box
    out.append(b";")
    return b"".join(out)


def _union(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


def _changed(page: Layout, lit: Highlight) -> tuple[int, int, int, int]:
    """The page box a frame's highlight covers: its cells and outlines (a few pixels of line
    width around them) and the caption line."""
    x0, y0, x1, y1 = 0.0, page.caption.y - page.caption.size - 4, page.width, page.caption.y + 6
    for r in list(lit.cells.values()) + list(lit.outlines):
        x0, y0, x1, y1 = min(x0, r.x - 3), min(y0, r.y - 3), max(x1, r.x + r.w + 4), max(y1, r.y + r.h + 4)
    for g in page.grids:  # marks and arrows are redrawn over the whole grid
        if lit.cells and any(not isinstance(e, (Image, Label)) for e in g.extras):
            x0, y0, x1, y1 = min(x0, g.x - 3), min(y0, g.y - 3), max(x1, g.x + g.width + 4), max(y1, g.y + g.height + 4)
    return (max(0, math.floor(x0)), max(0, math.floor(y0)), min(math.ceil(page.width), math.ceil(x1)),
            min(math.ceil(page.height), math.ceil(y1)))
