"""Pictures of convolution geometry: kernels sliding over padded inputs, transposed convolution,
pooling, coverage heat maps and receptive fields, as SVG, PNG, animated GIF and terminal grids,
all drawn from one :class:`~convgeom.draw.scene.Scene` computed by the geometry engine.

``convgeom.draw`` is this package and also callable::

    import convgeom as cg
    svg_text = cg.draw(cg.conv((5, 5), 3, stride=2, padding=1))
    cg.draw(cg.conv(8, 3, 2, "same", framework="tensorflow"), "same.png")
    cg.draw(cg.ops.seed_001(), "pipeline.gif")          # one frame per output position

(``from convgeom.draw import draw`` is the same function, for type checkers.) The SVG and
terminal renderers need only the standard library; PNG, GIF and the matplotlib plots need the
``draw`` extra (``pip install 'convgeom[draw]'``). Nothing heavy is imported here.
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING, Any

from .. import _load

if TYPE_CHECKING:
    from .api import draw, make_scene
    from .scene import MAX_CELLS, MAX_FRAMES, MAX_HEAT_CELLS, MAX_TERMINAL_CELLS, Scene

_EXPORTS = {
    "draw": ".api",
    "make_scene": ".api",
    "Scene": ".scene",
    "MAX_CELLS": ".scene",
    "MAX_FRAMES": ".scene",
    "MAX_HEAT_CELLS": ".scene",
    "MAX_TERMINAL_CELLS": ".scene",
}

__all__ = ["MAX_CELLS", "MAX_FRAMES", "MAX_HEAT_CELLS", "MAX_TERMINAL_CELLS", "Scene", "draw", "make_scene"]


def __getattr__(name: str) -> Any:
    return _load(__name__, _EXPORTS, globals(), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


class _CallableModule(types.ModuleType):
    """``convgeom.draw(...)`` calls :func:`convgeom.draw.api.draw`: the name is both this package
    and the function, whichever way it was imported first (a plain export would be replaced by
    the package as soon as any submodule is imported)."""

    def __call__(self, *args: Any, **kwargs: Any) -> str:
        from .api import draw as draw_function

        return draw_function(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
