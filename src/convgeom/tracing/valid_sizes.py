"""Which input sizes a model accepts: :func:`valid_input_sizes` over a range, and the nearest
working sizes around a failure (for :class:`ImpossibleInput` and the diagnostics).

Each candidate size is traced (shapes only, no activations, no diagnostics); a size is *valid*
when the trace does not fail (the real forward pass would not raise), and *same-size* when every
varied axis keeps its size at the output (encoder-decoders such as UNets). The nearest-size
search looks at most :data:`SEARCH_LIMIT` sizes away on a failing axis.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Optional, Union

from .. import formatting as fmt
from ..errors import GeometryError
from . import inputs
from .failures import ImpossibleInput, TraceFailure
from .frontend import Frontend
from .records import Trace
from .registry import resolve
from .rf import Shape

#: how far (in sizes) the nearest-size search looks on each side
SEARCH_LIMIT = 64
#: how far every axis moves together when the failing axis is unknown
_UNKNOWN_AXIS_LIMIT = 16

#: traces the model at other input shapes (cached; raises :class:`TraceFailure`)
Probe = Callable[[list[Shape]], Trace]


def make_probe(frontend: Frontend, model: Any, dtype: Optional[str]) -> Probe:
    """A cached shape-only trace of ``model`` at any input shapes; a shape the model refuses in
    any way raises :class:`TraceFailure`."""
    cache: dict[tuple[Shape, ...], Union[Trace, TraceFailure]] = {}

    def run(shapes: list[Shape]) -> Trace:
        key = tuple(shapes)
        hit = cache.get(key)
        if hit is None:
            try:
                hit = frontend.run(model, list(shapes), dtype)
            except TraceFailure as failure:
                hit = failure
            except GeometryError as exc:  # the model's own code refuses this size, or the input is too large
                hit = TraceFailure("", exc.problem, exc.rule, shapes, None, exc.fix)
            cache[key] = hit
        if isinstance(hit, TraceFailure):
            raise hit
        return hit

    return run


def with_axis(shapes: Sequence[Shape], dim: int, size: int) -> list[Shape]:
    """``shapes`` with dimension ``dim`` of the first input set to ``size``."""
    first = list(shapes[0])
    first[dim] = size
    return [tuple(first)] + list(shapes[1:])


def nearest_sizes(n: int, accepts: Callable[[int], bool], limit: int) -> tuple[Optional[int], Optional[int]]:
    """The sizes nearest to ``n`` (at most ``limit`` away, one below and one above) that
    ``accepts``; ``None`` where there is none."""
    below = above = None
    for delta in range(1, limit + 1):
        if below is None and n - delta >= 1 and accepts(n - delta):
            below = n - delta
        if above is None and accepts(n + delta):
            above = n + delta
        if below is not None and above is not None:
            break
    return below, above


def search_axis(probe: Probe, shapes: list[Shape], dim: int, axis: Optional[int],
                limit: int = SEARCH_LIMIT) -> tuple[Optional[int], Optional[int]]:
    """Nearest sizes below and above ``shapes[0][dim]`` that pass the layer failing on model
    axis ``axis`` (a failure on another axis counts as passing this one)."""

    def passes(size: int) -> bool:
        try:
            probe(with_axis(shapes, dim, size))
        except TraceFailure as failure:
            return axis is not None and failure.axis is not None and failure.axis != axis
        return True

    return nearest_sizes(shapes[0][dim], passes, limit)


def _fix_axes(probe: Probe, shapes: list[Shape], spatial_dims: Sequence[int],
              failure: TraceFailure) -> dict[int, tuple[Optional[int], Optional[int]]]:
    """Per failing input dim, the nearest sizes that pass it; axis by axis, as long as moving
    the previous axis to its nearest working size uncovers a failure on another known axis."""
    current = failure
    fixes: dict[int, tuple[Optional[int], Optional[int]]] = {}
    trial = list(shapes)
    for _ in range(len(spatial_dims) + 1):
        axis = current.axis
        if axis is None or axis >= len(spatial_dims) or spatial_dims[axis] in fixes:
            break
        dim = spatial_dims[axis]
        fixes[dim] = search_axis(probe, trial, dim, axis)
        best = min((v for v in fixes[dim] if v is not None), key=lambda v: abs(v - shapes[0][dim]), default=None)
        if best is None:
            break
        trial = with_axis(trial, dim, best)
        try:
            probe(trial)
            break
        except TraceFailure as failure:
            current = failure
    return fixes


def _candidates(shapes: list[Shape], spatial_dims: Sequence[int],
                fixes: dict[int, tuple[Optional[int], Optional[int]]]) -> tuple[list[list[Shape]], list[int]]:
    """Shapes to try, nearest first, and their distance levels (empty: try all): the sizes below
    and above on every fixed axis; with no known axis, single-axis moves, then all axes together."""
    candidates: list[list[Shape]] = []
    level: list[int] = []
    for pick in (0, 1) if fixes else ():
        cand = list(shapes)
        for dim, pair in fixes.items():
            value = pair[pick] if pair[pick] is not None else pair[1 - pick]
            if value is None:
                break
            cand = with_axis(cand, dim, value)
        else:
            if cand not in candidates:
                candidates.append(cand)
    if fixes:
        return candidates, level
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
    return candidates, level


def nearest_working(probe: Probe, shapes: list[Shape], spatial_dims: Sequence[int],
                    failure: TraceFailure) -> list[list[Shape]]:
    """Input shapes near ``shapes`` that trace without failure (at most one below, one above)."""
    candidates, level = _candidates(shapes, spatial_dims, _fix_axes(probe, shapes, spatial_dims, failure))
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


def impossible(failure: TraceFailure, frontend: Frontend, model: Any, shapes: list[Shape],
               dtype: Optional[str]) -> ImpossibleInput:
    """The exception for an input the real model cannot take, with the nearest ones it can."""
    probe = make_probe(frontend, model, dtype)
    spatial = frontend.spatial_dims(model, shapes[0]) if shapes else ()
    nearest = nearest_working(probe, shapes, spatial, failure) if shapes and spatial else []
    shown = " or ".join(fmt.dims(s[0]) for s in nearest)
    fix = failure.fix
    if shown:
        fix = f"nearest input shapes that work: {shown}" + (f"; {fix}" if fix else "")
    elif not fix:
        fix = "no working input shape found nearby"
    given = f"input {fmt.dims(shapes[0])}" if shapes else "the model's declared input"
    problem = f"{given} fails at layer '{failure.layer}': {failure.problem}"
    return ImpossibleInput(problem, failure.rule, fix, layer=failure.layer, shapes=failure.shapes,
                           nearest=[s[0] for s in nearest], axis=failure.axis)


# ================================================================================================
@dataclass(frozen=True)
class ValidSizes:
    """Result of :func:`valid_input_sizes`.

    ``valid``: sizes that trace; ``same_size``: valid sizes whose output keeps the size on every
    varied axis; ``outputs``: the output shape per valid size; ``failures``: ``(size, reason)``
    for the others (the failing layer and why)."""

    axes: tuple[int, ...]
    tried: tuple[int, ...]
    valid: tuple[int, ...]
    same_size: tuple[int, ...]
    outputs: tuple[tuple[int, Shape], ...]
    failures: tuple[tuple[int, str], ...]

    def nearest(self, n: int, *, same_size: bool = False) -> tuple[Optional[int], Optional[int]]:
        """Largest valid size <= n and smallest >= n (from the sizes tried)."""
        n = inputs.size(n, "n")
        pool = self.same_size if same_size else self.valid
        below = max((v for v in pool if v <= n), default=None)
        above = min((v for v in pool if v >= n), default=None)
        return below, above

    @property
    def period(self) -> Optional[int]:
        """The common difference of the valid sizes when they form an arithmetic progression
        (e.g. 16 for a UNet with four stride-2 stages), else None."""
        if len(self.valid) < 3:
            return None
        steps = {b - a for a, b in zip(self.valid, self.valid[1:])}
        return steps.pop() if len(steps) == 1 else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "axes": list(self.axes), "tried": list(self.tried), "valid": list(self.valid),
            "same_size": list(self.same_size), "period": self.period,
            "outputs": {str(n): list(s) for n, s in self.outputs},
            "failures": {str(n): why for n, why in self.failures},
        }


def valid_input_sizes(model: Any, input_shape: inputs.ShapeArg, sizes: Iterable[int] = range(1, 129), *,
                      axes: Optional[Sequence[int]] = None, framework: Optional[str] = None,
                      dtype: Optional[str] = None) -> ValidSizes:
    """Try every size in ``sizes`` (at most 1024, each >= 1) on the spatial ``axes`` of
    ``input_shape`` (model-input spatial axis indices, default all: square / cubic inputs) and
    report which pass through the model and which keep the output the same size as the input.

    ``input_shape`` is a template with the batch, channels and any axes not varied, e.g.
    ``(1, 3, 64, 64)``. Each size costs one shape-only trace.
    """
    shapes = inputs.input_shapes(input_shape)
    tried = inputs.sizes(sizes)
    frontend, model, dtype = resolve(model, framework, dtype)
    if not shapes:
        raise GeometryError("an input shape template is needed", fix="pass input_shape=(1, 3, 64, 64)")
    spatial = frontend.spatial_dims(model, shapes[0])
    chosen = inputs.axes(axes, len(spatial), shapes[0])
    if tried:
        inputs.input_shapes(_at_size(shapes, spatial, chosen, max(tried))[0], "input_shape at the largest size")
    valid: list[int] = []
    same: list[int] = []
    outputs: list[tuple[int, Shape]] = []
    failures: list[tuple[int, str]] = []
    for n in tried:
        try:
            t = frontend.run(model, _at_size(shapes, spatial, chosen, n), dtype)
        except TraceFailure as failure:
            failures.append((n, f"{failure.layer}: {failure.problem}"))
            continue
        except GeometryError as exc:
            failures.append((n, str(exc)))
            continue
        valid.append(n)
        outputs.append((n, t.output_shape))
        if _keeps_size(t, chosen, n):
            same.append(n)
    return ValidSizes(chosen, tuple(tried), tuple(valid), tuple(same), tuple(outputs), tuple(failures))


def _at_size(shapes: list[Shape], spatial: Sequence[int], chosen: Sequence[int], n: int) -> list[Shape]:
    first = list(shapes[0])
    for a in chosen:
        first[spatial[a]] = n
    return [tuple(first)] + list(shapes[1:])


def _keeps_size(t: Trace, chosen: Sequence[int], n: int) -> bool:
    """Every varied axis is still local at the output and ``n`` long there."""
    rf = t.receptive_field
    return rf is not None and all(
        a < len(rf.dims) and rf.dims[a] is not None and t.output_shape[rf.dims[a] or 0] == n for a in chosen)
