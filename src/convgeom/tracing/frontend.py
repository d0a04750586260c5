"""What a frontend is: each of ``torch_frontend``, ``onnx_frontend`` and ``keras_frontend``
exports one :class:`Frontend` as ``FRONTEND``; :mod:`convgeom.tracing.registry` finds it by
framework name. A frontend imports its framework at module level, so importing it is the moment
the framework is needed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional

from .records import Trace
from .rf import Shape


@dataclass(frozen=True)
class Frontend:
    """``run(model, input shapes, dtype)`` traces (``dtype``: a canonical activation dtype or
    None) and returns a :class:`Trace`, or raises
    :class:`~convgeom.tracing.failures.TraceFailure` where the real model would fail;
    ``spatial_dims(model, shape)`` gives the input's spatial dims (its layout);
    ``declared_shapes(model)`` the static input shapes the model declares (a one-line
    :class:`GeometryError` where it declares none); ``load(path)`` reads a model file (None: the
    framework has no model files)."""

    name: str
    run: Callable[[Any, list[Shape], Optional[str]], Trace]
    spatial_dims: Callable[[Any, Shape], tuple[int, ...]]
    declared_shapes: Callable[[Any], list[Shape]]
    load: Optional[Callable[[str], Any]] = None


def leaves(value: Any, keep: Callable[[Any], bool]) -> list[Any]:
    """The objects ``keep`` accepts in a nest of lists, tuples and dicts (a model's outputs, a
    layer's symbolic outputs), in order."""
    if isinstance(value, (list, tuple)):
        return [leaf for v in value for leaf in leaves(v, keep)]
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in leaves(v, keep)]
    return [value] if keep(value) else []
