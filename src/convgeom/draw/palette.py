"""Colours and line styles of every picture, in one table the SVG, PNG/GIF and terminal
renderers share.

The hues are Okabe & Ito's colour-blind-safe set ("Color Universal Design", 2008); the fills
are ordered by lightness (padding lightest, input, output, then the dark window taps) and
padding and overhang also differ by their dashed / dotted outlines and hatching, so every
picture reads in greyscale too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

INK = "#1a1a1a"
"""Text and thin outlines."""

PAPER = "#ffffff"

BLUE = "#0072b2"
SKY = "#56b4e9"
ORANGE = "#e69f00"
VERMILLION = "#d55e00"
GREEN = "#009e73"
PURPLE = "#cc79a7"


@dataclass(frozen=True)
class Style:
    """How one kind of cell is drawn: fill, outline, outline width and dash, text colour,
    hatching (diagonal lines) and the glyph the terminal prints for it without a value."""

    fill: str
    stroke: str
    width: float = 1.0
    dash: str = ""
    text: str = INK
    hatch: bool = False
    glyph: str = "."
    meaning: str = ""


STYLES: dict[str, Style] = {
    "input": Style("#a9d3f0", "#2b6a99", glyph="o", meaning="input"),
    "pad": Style("#f1f1f1", "#7a7a7a", dash="3,2", glyph="0", meaning="padding"),
    "pad-constant": Style("#f1f1f1", "#7a7a7a", dash="3,2", glyph="c", meaning="padding (constant)"),
    "pad-copy": Style("#dbeaf5", "#2b6a99", dash="3,2", glyph="~",
                      meaning="padding: a copy of the input cell [at]"),
    "pad-inserted": Style("#fbfbfb", "#9a9a9a", dash="1,2", glyph=".",
                          meaning="zero inserted between input cells (stride)"),
    "pad-crop": Style("#f1f1f1", "#7a7a7a", dash="3,2", hatch=True, glyph="x",
                      meaning="cropped from the full output (padding)"),
    "overhang": Style(PAPER, "#5a5a5a", dash="1,2", hatch=True, glyph="/",
                      meaning="overhang: a window reaching past the padded input (ceil mode, truncating pools)"),
    "output": Style("#f6d38d", "#a66f00", glyph="#", meaning="output"),
    "kernel": Style("#a8e0cc", "#00694d", glyph="k", meaning="kernel"),
    # the highlighted window (taps) and the cell it belongs to
    "window": Style(BLUE, INK, width=2.0, text=PAPER, glyph="*", meaning="window taps"),
    "window-pad": Style("#5f95bd", INK, width=2.0, dash="3,2", text=PAPER, glyph="*",
                        meaning="padding the window reads"),
    "window-overhang": Style("#8a8a8a", INK, width=2.0, dash="1,2", text=PAPER, hatch=True, glyph="*",
                             meaning="overhang the window reads (never counted)"),
    "window-output": Style("#b06f00", INK, width=2.0, text=PAPER, glyph="*",
                           meaning="output cells the input cell writes"),
    "focus": Style(VERMILLION, INK, width=2.5, text=PAPER, glyph="@", meaning="the cell being computed"),
    "focus-input": Style(VERMILLION, INK, width=2.5, text=PAPER, glyph="@", meaning="the input cell stamping"),
    "outline": Style("none", VERMILLION, width=3.0, meaning="window"),
    "unread": Style(PAPER, VERMILLION, width=1.5, dash="2,2", hatch=True, glyph="!",
                    meaning="never read by any window"),
    "rf": Style(BLUE, INK, width=1.0, text=PAPER, glyph="*", meaning="receptive field of the unit"),
    "rf-pad": Style("#5f95bd", INK, width=1.0, dash="3,2", text=PAPER, glyph="*",
                    meaning="receptive field in the model's padding"),
    "stride-mark": Style(INK, PAPER, meaning="centres of neighbouring units (effective stride)"),
    "heat": Style("#5e99cb", INK, glyph="n", meaning="windows reading the cell: light few, dark many"),
    "arrow": Style("none", GREEN, width=1.5, meaning="copied from"),
}

#: heat-map colours for counts 1..max, light to dark (lightness falls monotonically: greyscale-safe);
#: a count of 0 is drawn with the "unread" style
HEAT_RAMP: tuple[str, ...] = (
    "#e8f1f8", "#c9dff0", "#a7cbe6", "#82b3da", "#5e99cb", "#3f7fb8", "#2766a0", "#174d82", "#0b3563",
)


def lit_style(kind: str, role: str) -> str:
    """The palette key of a highlighted cell: a window tap by the role of the cell it reads
    (``kind`` "window"), or the cell the window computes (``kind`` "focus")."""
    if kind == "focus":
        return "focus-input" if role == "input" else "focus"
    return {"pad": "window-pad", "overhang": "window-overhang", "output": "window-output"}.get(role, "window")


def heat_colour(count: int, maximum: int) -> str:
    """Fill of a cell read ``count`` times when the most-read cell is read ``maximum`` times."""
    if count <= 0:
        return STYLES["unread"].fill
    if maximum <= 1:
        return HEAT_RAMP[len(HEAT_RAMP) // 2]
    index = round((count - 1) * (len(HEAT_RAMP) - 1) / (maximum - 1))
    return HEAT_RAMP[index]


def heat_text(count: int, maximum: int) -> str:
    """Text colour that stays readable on :func:`heat_colour`."""
    fill = heat_colour(count, maximum)
    return PAPER if count > 0 and HEAT_RAMP.index(fill) >= 5 else INK


def rgb(colour: str) -> tuple[int, int, int]:
    """``'#rrggbb'`` -> ``(r, g, b)``."""
    value = colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def luminance(colour: str) -> float:
    """Relative lightness 0..1 as a greyscale conversion sees it (ITU-R BT.601 weights)."""
    r, g, b = rgb(colour)
    return (0.299 * r + 0.587 * g + 0.114 * b) / 255


RASTER_PAD = "#cfcfcf"
"""Padding in a heat map drawn as an image (no outlines there, so darker than a padding cell)."""


def heat_pixels(rows: Iterable[tuple[int, ...]], px: int, py: int,
                maximum: int) -> tuple[list[tuple[int, int, int]], bytes]:
    """A heat map as palette indices, row-major, each cell ``px`` x ``py`` pixels: the palette
    (padding, unread, then :data:`HEAT_RAMP`) and the index bytes. Counts of ``-1`` (padding)
    index the last entry of the lookup table; identical rows are converted once."""
    palette = [rgb(RASTER_PAD), rgb(STYLES["unread"].fill)] + [rgb(c) for c in HEAT_RAMP]
    lut = [1] + [2 + HEAT_RAMP.index(heat_colour(c, maximum)) for c in range(1, maximum + 1)] + [0]
    done: dict[tuple[int, ...], bytes] = {}
    lines = []
    for row in rows:
        line = done.get(row)
        if line is None:
            line = bytes(map(lut.__getitem__, row))
            if px > 1:
                line = b"".join(bytes((v,)) * px for v in line)
            done[row] = line = line * py
        lines.append(line)
    return palette, b"".join(lines)
