"""``convgeom.trace``: pick the frontend, trace, turn failures into :class:`ImpossibleInput`
(with the nearest input shapes that work) and add the diagnostics."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Optional, Union

from ..errors import GeometryError
from .model import ImpossibleInput, Trace, TraceFailure, nearest_sizes, with_axis
from .rf import Shape

ShapeArg = Union[Sequence[int], Sequence[Sequence[int]], None]


@dataclass(frozen=True)
class Frontend:
    """What a frontend module exports as ``FRONTEND``: ``run(model, input shapes, dtype)``
    returns a :class:`Trace` or raises :class:`TraceFailure` where the real model would fail;
    ``spatial_dims(model, shape)`` gives the input's spatial dims (layout); ``load(path)`` reads a model
    file."""

    name: str
    run: Callable[[Any, list[Shape], Optional[str]], Trace]
    spatial_dims: Callable[[Any, Shape], tuple[int, ...]]
    load: Optional[Callable[[str], Any]] = None


_SEARCH_LIMIT = 64
_UNKNOWN_AXIS_LIMIT = 16


def detect_framework(model: Any) -> str:
    """'torch', 'onnx' or 'keras' from the object's type (or a file's suffix), importing nothing."""
    if isinstance(model, (str, os.PathLike)):
        path = os.fspath(model)
        lower = path.lower()
        if lower.endswith(".onnx"):
            return "onnx"
        if lower.endswith((".keras", ".h5", ".hdf5")):
            return "keras"
        raise GeometryError(
            f"cannot tell the framework of {path!r}",
            fix="give an .onnx or .keras file, or pass framework='onnx'/'keras'")
    for cls in type(model).__mro__:
        module = cls.__module__ or ""
        if module.startswith("torch.nn") and cls.__name__ == "Module":
            return "torch"
        if module.startswith("onnx") and cls.__name__ == "ModelProto":
            return "onnx"
        if module.startswith("keras") and cls.__name__ in ("Model", "Layer", "Operation"):
            return "keras"
    raise GeometryError(
        f"cannot trace a {type(model).__module__}.{type(model).__name__}",
        fix="pass a torch.nn.Module, an ONNX ModelProto or file, or a Keras 3 model")


def get_frontend(framework: str) -> Frontend:
    """The frontend for 'torch', 'onnx' or 'keras' (imports that framework now)."""
    key = framework.lower()
    if key in ("torch", "pytorch"):
        try:
            from .torch_frontend import FRONTEND
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise GeometryError("PyTorch is not installed", fix="pip install 'convgeom[torch]'") from exc
        return FRONTEND
    if key == "onnx":
        try:
            from .onnx_frontend import FRONTEND as ONNX
        except ImportError as exc:  # pragma: no cover
            raise GeometryError("the onnx package is not installed", fix="pip install 'convgeom[onnx]'") from exc
        return ONNX
    if key in ("keras", "tensorflow", "tf"):
        try:
            from .keras_frontend import FRONTEND as KERAS
        except ImportError as exc:  # pragma: no cover
            raise GeometryError("Keras 3 is not installed", fix="pip install 'convgeom[keras]'") from exc
        return KERAS
    raise GeometryError(f"unknown framework {framework!r}", fix="use 'torch', 'onnx' or 'keras'")


def normalize_shapes(input_shape: ShapeArg) -> list[Shape]:
    """One shape or a list of shapes (several model inputs) -> list of int tuples."""
    if input_shape is None:
        return []
    shape_attr = getattr(input_shape, "shape", None)
    if shape_attr is not None and not isinstance(input_shape, (list, tuple)):
        return [tuple(int(s) for s in shape_attr)]
    seq: list[Any] = list(input_shape)
    if seq and all(isinstance(s, (list, tuple)) for s in seq):
        return [tuple(_as_size(v) for v in s) for s in seq]
    return [tuple(_as_size(v) for v in seq)]


def _as_size(v: Any) -> int:
    if isinstance(v, bool) or not hasattr(v, "__index__"):
        raise GeometryError(f"input sizes must be integers, got {v!r}", fix="write the shape like (1, 3, 224, 224)")
    value = int(v.__index__())
    if value < 1:
        raise GeometryError(f"input sizes must be >= 1, got {value}", fix="use positive sizes")
    return value


def trace(model: Any, input_shape: ShapeArg = None, framework: Optional[str] = None, *,
          dtype: Optional[str] = None, findings: bool = True) -> Trace:
    """Trace ``model`` for ``input_shape`` (batch and channels included, in the framework's
    layout: NCHW for PyTorch and ONNX, NHWC for Keras) without allocating activations.

    ``model`` is a ``torch.nn.Module``, an ONNX ``ModelProto`` or ``.onnx`` path, or a Keras 3
    model / ``.keras`` path; ``framework`` overrides the detection. For ONNX and Keras models with
    static input shapes ``input_shape`` may be omitted. ``dtype`` (e.g. "float16") sets the
    activation dtype (default float32).

    Raises :class:`~convgeom.tracing.model.ImpossibleInput` (a :class:`GeometryError`) naming
    the layer, the shapes and the nearest input shapes that work, when the real model would fail.
    """
    fw = framework or detect_framework(model)
    tracer = get_frontend(fw)
    if isinstance(model, (str, os.PathLike)) and tracer.load is not None:
        model = tracer.load(os.fspath(model))
    shapes = normalize_shapes(input_shape)
    try:
        result = tracer.run(model, shapes, dtype)
    except TraceFailure as failure:
        raise impossible(failure, tracer, model, shapes, dtype) from None
    if findings:
        from .diagnostics import diagnose

        probe = _probe(tracer, model, list(result.input_shapes), dtype)
        result = replace(result, findings=result.findings + tuple(diagnose(result, probe)))
    return result


Probe = Callable[[list[Shape]], Trace]


def _probe(tracer: Frontend, model: Any, shapes: list[Shape], dtype: Optional[str]) -> Probe:
    cache: dict[tuple[Shape, ...], Union[Trace, TraceFailure]] = {}

    def run(new_shapes: list[Shape]) -> Trace:
        key = tuple(new_shapes)
        hit = cache.get(key)
        if hit is None:
            try:
                hit = tracer.run(model, list(new_shapes), dtype)
            except TraceFailure as failure:
                hit = failure
            cache[key] = hit
        if isinstance(hit, TraceFailure):
            raise hit
        return hit

    return run


def search_axis(probe: Probe, shapes: list[Shape], dim: int, axis: Optional[int],
                limit: int = _SEARCH_LIMIT) -> tuple[Optional[int], Optional[int]]:
    """Nearest sizes below and above ``shapes[0][dim]`` that pass the layer failing on model
    axis ``axis`` (a failure on another axis counts as passing this one)."""

    def passes(size: int) -> bool:
        try:
            probe(with_axis(shapes, dim, size))
        except TraceFailure as failure:
            return axis is not None and failure.axis is not None and failure.axis != axis
        return True

    return nearest_sizes(shapes[0][dim], passes, limit)


def nearest_working(probe: Probe, shapes: list[Shape], spatial_dims: Sequence[int],
                    failure: TraceFailure) -> list[list[Shape]]:
    """Input shapes near ``shapes`` that trace without failure (at most one below, one above)."""
    current = failure
    fixes: dict[int, tuple[Optional[int], Optional[int]]] = {}
    trial = list(shapes)
    for _ in range(len(spatial_dims) + 1):
        axis = current.axis
        if axis is None or axis >= len(spatial_dims) or spatial_dims[axis] in fixes:
            break
        dim = spatial_dims[axis]
        fixes[dim] = search_axis(probe, trial, dim, axis)
        lo, hi = fixes[dim]
        best = min((v for v in (lo, hi) if v is not None), key=lambda v: abs(v - shapes[0][dim]), default=None)
        if best is None:
            break
        trial = with_axis(trial, dim, best)
        try:
            probe(trial)
            break
        except TraceFailure as failure:
            current = failure
    candidates: list[list[Shape]] = []
    level: list[int] = []
    if fixes:
        for pick in (0, 1):
            cand = list(shapes)
            usable = True
            for dim, pair in fixes.items():
                value = pair[pick] if pair[pick] is not None else pair[1 - pick]
                if value is None:
                    usable = False
                    break
                cand = with_axis(cand, dim, value)
            if usable and cand not in candidates:
                candidates.append(cand)
    else:
        # the failing axis is unknown: single-axis moves first, then all axes together
        for delta in range(1, _UNKNOWN_AXIS_LIMIT + 1):
            for sign in (-1, 1):
                for dim in spatial_dims:
                    if shapes[0][dim] + sign * delta >= 1:
                        candidates.append(with_axis(shapes, dim, shapes[0][dim] + sign * delta))
                        level.append(delta)
            for sign in (-1, 1):
                cand = list(shapes)
                for dim in spatial_dims:
                    cand = with_axis(cand, dim, max(1, shapes[0][dim] + sign * delta))
                if cand not in candidates:
                    candidates.append(cand)
                    level.append(delta)
    working: list[list[Shape]] = []
    found_at: Optional[int] = None
    for i, cand in enumerate(candidates):
        if level and found_at is not None and level[i] > found_at:
            break
        try:
            probe(cand)
        except TraceFailure:
            continue
        working.append(cand)
        if level and found_at is None:
            found_at = level[i]
        if len(working) == 2:
            break
    return working


def impossible(failure: TraceFailure, tracer: Frontend, model: Any, shapes: list[Shape],
               dtype: Optional[str]) -> ImpossibleInput:
    """The exception for an input the real model cannot take, with the nearest ones it can."""
    probe = _probe(tracer, model, shapes, dtype)
    spatial = tracer.spatial_dims(model, shapes[0]) if shapes else ()
    nearest: list[list[Shape]] = []
    if shapes and spatial:
        nearest = nearest_working(probe, shapes, spatial, failure)
    shown = " or ".join("x".join(map(str, s[0])) for s in nearest)
    fix = failure.fix
    if shown:
        fix = (f"nearest input shapes that work: {shown}" + (f"; {fix}" if fix else ""))
    elif not fix:
        fix = "no working input shape found nearby"
    given = "x".join(map(str, shapes[0])) if shapes else "?"
    problem = f"input {given} fails at layer '{failure.layer}': {failure.problem}"
    return ImpossibleInput(problem, failure.rule, fix, layer=failure.layer, shapes=failure.shapes,
                           nearest=[s[0] for s in nearest], axis=failure.axis)
