"""Which input sizes a model accepts, and which it maps to an output of the same size.

Each candidate size is traced (shapes only, no activations, no diagnostics); a size is *valid*
when the trace does not fail (the real forward pass would not raise), and *same-size* when every
varied axis keeps its size at the output (encoder-decoders such as UNets).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Optional

from ..errors import GeometryError
from .api import ShapeArg, detect_framework, get_frontend, normalize_shapes
from .model import Trace, TraceFailure
from .rf import Shape


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
        pool = self.same_size if same_size else self.valid
        below = max((v for v in pool if v <= n), default=None)
        above = min((v for v in pool if v >= n), default=None)
        return below, above

    @property
    def period(self) -> Optional[int]:
        """The common difference of the valid sizes when they form an arithmetic progression
        (e.g. 16 for a UNet with four stride-2 stages), else None."""
        return _period(self.valid)

    def to_dict(self) -> dict[str, Any]:
        return {
            "axes": list(self.axes), "tried": list(self.tried), "valid": list(self.valid),
            "same_size": list(self.same_size), "period": self.period,
            "outputs": {str(n): list(s) for n, s in self.outputs},
            "failures": {str(n): why for n, why in self.failures},
        }


def _period(values: Sequence[int]) -> Optional[int]:
    if len(values) < 3:
        return None
    steps = {b - a for a, b in zip(values, values[1:])}
    return steps.pop() if len(steps) == 1 else None


def valid_input_sizes(model: Any, input_shape: ShapeArg, sizes: Iterable[int] = range(1, 129), *,
                      axes: Optional[Sequence[int]] = None, framework: Optional[str] = None,
                      dtype: Optional[str] = None) -> ValidSizes:
    """Try every size in ``sizes`` on the spatial ``axes`` of ``input_shape`` (model-input spatial
    axis indices, default all: square / cubic inputs) and report which pass through the model
    and which keep the output the same size as the input.

    ``input_shape`` is a template with the batch, channels and any axes not varied, e.g.
    ``(1, 3, 64, 64)``. Each size costs one shape-only trace.
    """
    fw = framework or detect_framework(model)
    frontend = get_frontend(fw)
    if isinstance(model, (str, os.PathLike)) and frontend.load is not None:
        model = frontend.load(os.fspath(model))
    shapes = normalize_shapes(input_shape)
    if not shapes:
        raise GeometryError("an input shape template is needed", fix="pass input_shape=(1, 3, 64, 64)")
    spatial = frontend.spatial_dims(model, shapes[0])
    chosen = tuple(range(len(spatial))) if axes is None else tuple(int(a) for a in axes)
    if not spatial or any(a < 0 or a >= len(spatial) for a in chosen):
        raise GeometryError(
            f"axes {chosen} are not spatial axes of {shapes[0]} (it has {len(spatial)})",
            fix=f"use axes in 0..{max(len(spatial) - 1, 0)}")
    tried: list[int] = []
    valid: list[int] = []
    same: list[int] = []
    outputs: list[tuple[int, Shape]] = []
    failures: list[tuple[int, str]] = []
    for n in sizes:
        n = int(n)
        if n < 1:
            continue
        tried.append(n)
        first = list(shapes[0])
        for a in chosen:
            first[spatial[a]] = n
        try:
            t: Trace = frontend.run(model, [tuple(first)] + list(shapes[1:]), dtype)
        except TraceFailure as failure:
            failures.append((n, f"{failure.layer}: {failure.problem}"))
            continue
        except GeometryError as exc:
            failures.append((n, str(exc)))
            continue
        valid.append(n)
        outputs.append((n, t.output_shape))
        rf = t.receptive_field
        if rf is not None and all(
            a < len(rf.dims) and rf.dims[a] is not None and t.output_shape[rf.dims[a] or 0] == n for a in chosen
        ):
            same.append(n)
    return ValidSizes(chosen, tuple(tried), tuple(valid), tuple(same), tuple(outputs), tuple(failures))
