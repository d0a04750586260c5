"""The page's picture: the SVG of :mod:`convgeom.draw` with nothing highlighted, and what the
page needs to animate and highlight it without drawing anything itself: the sweep (per axis,
the taps each output position reads) and the palette's highlight paints.

The page highlights a window by restyling the cells the sweep names with the paints below
(the same :data:`~convgeom.draw.palette.STYLES` entries the SVG renderer uses for a still
picture) and marks them ``class="window"`` / ``class="focus"``, as the SVG contract says.
"""

from __future__ import annotations

from typing import Any, Optional

from ..errors import GeometryError
from ..geometry import LayerGeometry

#: Largest grid side the page draws (cells along one axis of any grid: the padded input, the
#: output, a transposed convolution's zeros-inserted input). The geometry above it is still
#: computed exactly; only the picture is left out. A 128 x 128 input with its padding and output
#: is about 33,000 cells, a 4 MB SVG drawn in about a second; the total is also capped by
#: ``convgeom.draw.MAX_CELLS`` (65,536).
MAX_PICTURE_AXIS = 160

TRANSPOSE_VIEWS = ("zeros-inserted", "scatter")
#: palette keys the page paints highlighted cells with
LIT_KEYS = ("window", "window-pad", "window-overhang", "window-output", "focus", "focus-input", "outline")


def grid_sides(result: LayerGeometry) -> tuple[int, ...]:
    """Per axis, the longest grid side a picture of ``result`` has (an upper bound, O(1) in the
    sizes): checked before :mod:`convgeom.draw` builds anything, whose own cell cap is checked
    only after per-axis work proportional to the sizes."""
    sides = []
    for a in result.axes:
        spread = abs(a.pad_before) + abs(a.pad_after)
        if result.op == "conv_transpose":
            full = (a.input - 1) * a.stride + 2 * a.effective_kernel + spread
        else:
            full = max(a.input + spread, (a.output - 1) * a.stride + a.effective_kernel)
        sides.append(max(full, a.output, a.kernel))
    return tuple(sides)


def check_drawable(result: Any) -> LayerGeometry:
    """``result`` if the page can draw it, else a one-line :class:`GeometryError`."""
    if not isinstance(result, LayerGeometry):
        raise GeometryError(f"the page draws convolutions and pooling, not {getattr(result, 'op', 'this op')}",
                            fix="choose conv, conv-transpose, max-pool, avg-pool or unfold")
    if result.ndim > 3:
        raise GeometryError(f"cannot draw {result.ndim} spatial axes", fix="draw 1-D, 2-D or 3-D layers")
    sides = grid_sides(result)
    if max(sides, default=0) > MAX_PICTURE_AXIS:
        raise GeometryError(
            f"no picture: a grid would be {max(sides):,} cells long, more than the page's cap of {MAX_PICTURE_AXIS}",
            fix="draw a smaller input (the numbers above are exact at any size)")
    return result


def parse_step(text: Any, ndim: int) -> Optional[tuple[int, ...]]:
    """``"i,j"`` (or a list of ints) -> the output position to highlight; None: the first."""
    if text is None:
        return None
    from ..cli import args as values
    from .fields import field_text

    step = values.int_list(str(field_text("step", text)), "step", minimum=0)
    if len(step) != ndim:
        raise values.CliError(f"step has {len(step)} values but the output has {values.axes(ndim)}",
                              fix=f"give one index per axis, e.g. step {','.join(['0'] * ndim)}")
    return step


def svg(result: LayerGeometry, *, step: Optional[tuple[int, ...]] = None, view: str = "zeros-inserted",
        show_values: bool = False) -> str:
    """``convgeom.draw``'s SVG of ``result`` (``POST /api/draw``), after the page's size check."""
    from ..draw.api import draw

    return draw(check_drawable(result), step=step, mode=view, values=show_values)


def page_picture(result: LayerGeometry, *, view: str = "zeros-inserted", show_values: bool = False) -> dict[str, Any]:
    """The picture for the page: ``svg`` with nothing highlighted, ``sweep`` and ``paints``."""
    from ..draw.api import make_scene
    from ..draw.layout import highlight, layout
    from ..draw.svg import render_layout

    scene = make_scene(check_drawable(result), mode=view, values=show_values)
    page = layout(scene)
    text = render_layout(page, highlight(page, None), scene)
    return {"svg": text, "sweep": sweep_dict(scene), "paints": paints()}


def sweep_dict(scene: Any) -> Optional[dict[str, Any]]:
    """The scene's sweep as JSON: position ``p`` reads ``product(taps[a][p[a]])`` of ``grid``
    and computes cell ``p + offset`` of ``target`` (see :class:`convgeom.draw.scene.Sweep`)."""
    from ..draw.scene import axis_names

    sweep = scene.sweep
    if sweep is None:
        return None
    return {
        "grid": sweep.grid, "target": sweep.target, "shape": list(sweep.shape),
        "taps": [[list(t) for t in axis] for axis in sweep.taps], "offset": list(sweep.target_offset),
        "noun": sweep.noun, "template": sweep.template, "names": list(axis_names(len(sweep.shape))),
        "shift": list(sweep.shift) or [0] * len(sweep.shape),
        "mirrors": [{"grid": name, "offset": list(offset), "shape": list(shape)}
                    for name, offset, shape in sweep.mirrors],
        "captions": list(sweep.captions) or None,
    }


def paints() -> dict[str, Any]:
    """The palette's highlight paints (SVG attributes) and which one each role takes."""
    from ..draw.palette import STYLES, lit_style
    from ..draw.scene import ROLES

    lit = {}
    for key in LIT_KEYS:
        style = STYLES[key]
        lit[key] = {"fill": f"url(#hatch-{key})" if style.hatch else style.fill, "stroke": style.stroke,
                    "stroke-width": f"{style.width:g}", "stroke-dasharray": style.dash or None, "text": style.text}
    return {"lit": lit, "window": {role: lit_style("window", role) for role in ROLES},
            "focus": {role: lit_style("focus", role) for role in ROLES}}
