"""``convgeom.draw(result, file=None, ...)``: a picture of a geometry result or an ops trace as
SVG text, or written to a file whose suffix picks the format (.svg, .png, .gif, .txt, .json)."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any, Optional, Union

from ..errors import GeometryError
from ..geometry import LayerGeometry
from .scene import Pos, Scene

if TYPE_CHECKING:
    from ..ops.trace import OpTrace

FORMATS = ("svg", "png", "gif", "txt", "json")
PathLike = Union[str, "os.PathLike[str]"]


def format_of(path: PathLike, fmt: Optional[str] = None) -> str:
    """The picture format of ``path`` (its suffix), or ``fmt`` when given."""
    name = fmt or os.path.splitext(os.fspath(path))[1].lstrip(".").lower()
    if name not in FORMATS:
        raise GeometryError(f"cannot write a picture as {name or 'a file without a suffix'!r}",
                            fix="name the file .svg, .png, .gif, .txt or .json")
    return name


def trace_for(result: LayerGeometry, data: Any = None, weight: Any = None) -> OpTrace:
    """The ops trace of ``result`` on ``data`` (spatial axes only; default 1..9 repeating) with
    ``weight`` (spatial kernel; default all ones, as seed 001), for pictures with numbers."""
    from ..optional import needed

    with needed("drawing values", extra="draw"):
        import numpy as np

        from .. import ops
    from ..params import RawPads
    from .build import check_window_cells, default_data, shape_text

    if result.op not in ("conv", "max_pool", "avg_pool"):
        raise GeometryError(f"values are drawn from convgeom.ops' trace, which covers conv, max-pool and avg-pool, "
                            f"not {result.op}", fix="drop --values")
    check_window_cells(result)  # the picture's cap, before the data and the trace are built
    x = np.asarray(default_data(result.input) if data is None else data, dtype=np.float64)
    if x.shape != result.input:
        raise GeometryError(f"the data has shape {shape_text(x.shape)}, the layer's input is {shape_text(result.input)}",
                            fix="give one number per input cell (spatial axes only)")
    p = result.padding
    padding: Any = (p.written or p.name) if p.kind == "string" else (
        tuple(b for b, _ in p.pairs) if p.kind == "symmetric" else (RawPads(p.pairs) if p.kind == "raw" else p.pairs))
    common = {"stride": result.stride, "padding": padding, "framework": result.framework}
    if result.op == "conv":
        w = np.ones(result.kernel) if weight is None else np.asarray(weight, dtype=np.float64)
        if w.shape != result.kernel:
            raise GeometryError(f"the weight has shape {shape_text(w.shape)}, the kernel is {shape_text(result.kernel)}",
                                fix="give one number per kernel tap (spatial axes only)")
        trace = ops.trace_conv(x[None, None], w[None, None], None, dilation=result.dilation,
                               padding_mode=result.padding_mode, **common)
    elif result.op == "max_pool":
        trace = ops.trace_max_pool(x[None, None], result.kernel, dilation=result.dilation, ceil_mode=result.ceil_mode,
                                   **common)
    else:
        trace = ops.trace_avg_pool(x[None, None], result.kernel, ceil_mode=result.ceil_mode,
                                   count_include_pad=result.count_include_pad, divisor=result.divisor, **common)
    if trace.geometry.pad != result.pad or trace.geometry.output != result.output:  # pragma: no cover - a bug
        raise GeometryError("the trace's geometry differs from the layer's", fix="report this to convgeom")
    return trace


def make_scene(obj: Any, *, step: Optional[Pos] = None, mode: str = "zeros-inserted", coverage: bool = False,
               values: bool = False, data: Any = None, weight: Any = None) -> Scene:
    """The scene of a :class:`LayerGeometry` (with ``values``: of its ops trace on ``data``), an
    :class:`~convgeom.ops.trace.OpTrace`, or a ready :class:`Scene`."""
    from .build import layer_scene
    from .coverage import coverage_scene

    if isinstance(obj, Scene):
        return obj
    if coverage:
        geometry = obj if isinstance(obj, LayerGeometry) else getattr(obj, "geometry", obj)
        return coverage_scene(geometry)
    if isinstance(obj, LayerGeometry):
        if values or data is not None or weight is not None:
            return layer_scene(obj, trace=trace_for(obj, data, weight), step=step)
        return layer_scene(obj, step=step, mode=mode)
    if type(obj).__name__ == "OpTrace":
        from .build import pipeline_scene

        return pipeline_scene(obj, step)
    raise TypeError(f"convgeom.draw takes a LayerGeometry (convgeom.conv, conv_transpose, max_pool, avg_pool, "
                    f"unfold), an OpTrace (convgeom.ops.trace_*) or a Scene, got {type(obj).__name__}")


def render(scene: Scene, fmt: str, *, scale: int = 1) -> bytes:
    """The bytes of ``scene`` as ``fmt`` (svg, png, gif, txt, json)."""
    if fmt == "svg":
        from .svg import render as svg

        return svg(scene).encode("utf-8")
    if fmt == "png":
        from .raster import render_png

        return render_png(scene, scale=scale)
    if fmt == "gif":
        from .raster import render_gif

        return render_gif(scene)
    if fmt == "txt":
        from .terminal import render as text

        return (text(scene) + "\n").encode("utf-8")
    if fmt == "json":
        return (json.dumps(scene.to_dict(), indent=1) + "\n").encode("utf-8")
    raise GeometryError(f"unknown picture format {fmt!r}", fix="use svg, png, gif, txt or json")


def draw(obj: Any, file: Optional[PathLike] = None, *, step: Optional[Pos] = None, mode: str = "zeros-inserted",
         coverage: bool = False, values: bool = False, data: Any = None, weight: Any = None,
         fmt: Optional[str] = None, scale: int = 1) -> str:
    """Draw ``obj`` -- a :class:`LayerGeometry` from ``convgeom.conv`` & co., an ops trace, or a
    :class:`Scene` -- and return the SVG text, or write ``file`` (format from its suffix: .svg,
    .png, .gif with one frame per output position, .txt, .json) and return its path.

    ``step`` highlights one output position (default the first); ``mode`` draws a transposed
    convolution with ``"zeros-inserted"`` or as a ``"scatter"``; ``coverage`` draws the coverage
    heat map; ``values`` (or ``data``/``weight``) adds the numbers of :mod:`convgeom.ops`' trace.
    """
    scene = make_scene(obj, step=step, mode=mode, coverage=coverage, values=values, data=data, weight=weight)
    if file is None:
        if fmt not in (None, "svg"):
            raise GeometryError(f"fmt={fmt!r} needs a file to write", fix="pass file=..., or leave fmt out for SVG text")
        from .svg import render as svg

        return svg(scene)
    payload = render(scene, format_of(file, fmt), scale=scale)
    with open(file, "wb") as handle:
        handle.write(payload)
    return os.fspath(file)
