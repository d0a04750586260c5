"""A layer as a framework would be asked to build it, and the layer a port builds instead.

:class:`SourceCall` is the user's layer: one engine call (``convgeom.conv(..., framework=...)``
and friends) that can be re-evaluated at any input size. :class:`Construction` is what an
emitter proposes in the target framework: an optional explicit pad, the target's own layer
(given as the engine call that describes it), an optional crop, an optional divisor fix. Both
answer "what function do you compute for this input?" as a :class:`~convgeom.port.spec.LayerSpec`
read from the engine, so a proposal is accepted only when the engine says it equals the source.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from ..errors import GeometryError
from ..explanation import OPS
from ..geometry import LayerGeometry
from .spec import (
    LayerSpec,
    Pads,
    combine,
    crop,
    describe,
    padded_input,
    subsample,
    with_divisor,
    zero_inserted,
)

Sizes = tuple[int, ...]


def _engine(op: str, input: Sizes, params: dict[str, Any], framework: str) -> LayerGeometry:
    result = OPS[op](input, **params, framework=framework)
    assert isinstance(result, LayerGeometry)
    return result


@dataclass(frozen=True)
class SourceCall:
    """The source layer: ``OPS[op](input, **params, framework=framework)``."""

    op: str
    framework: str
    params: tuple[tuple[str, Any], ...]

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.params)

    def geometry(self, input: Sizes) -> LayerGeometry:
        return _engine(self.op, input, self.kwargs, self.framework)

    def spec(self, input: Sizes) -> LayerSpec:
        return describe(self.geometry(input))


@dataclass(frozen=True)
class Construction:
    """The target framework's layer ``native`` (engine keyword arguments) on an input padded by
    ``pre_pad`` (read as ``pad_mode``: 'zeros', '-inf', 'reflect', ...), its output cropped by
    ``post_crop``; for average pooling optionally divided by a fixed ``divisor`` or by the
    taps on the input plus the ``count`` padding instead of the native divisor (which must
    then count every tap)."""

    framework: str
    op: str
    native: tuple[tuple[str, Any], ...]
    pre_pad: Optional[Pads] = None
    pad_mode: str = "zeros"
    post_crop: Optional[Pads] = None
    divisor: Optional[int] = None
    count: Optional[Pads] = None
    #: keep every s-th output cell (a stride-1 native layer made strided)
    subsample: Optional[tuple[int, ...]] = None
    #: transposed convolution: (s - 1) zeros between input cells and zeros at the ends, per
    #: axis ``(s, before, after)``, before a stride-1 native layer
    zero_insert: Optional[tuple[tuple[int, int, int], ...]] = None
    notes: tuple[str, ...] = field(default=(), compare=False)

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.native)

    def geometry(self, input: Sizes) -> LayerGeometry:
        """The engine's view of the native layer on the (pre-padded) input."""
        padded = input if self.pre_pad is None else tuple(n + b + a for n, (b, a) in zip(input, self.pre_pad))
        if self.zero_insert is not None:
            padded = tuple((n - 1) * s + 1 + b + x for n, (s, b, x) in zip(padded, self.zero_insert))
        return _engine(self.op, padded, self.kwargs, self.framework)

    def spec(self, input: Sizes) -> LayerSpec:
        """What the whole construction computes on ``input``."""
        inner = describe(self.geometry(input))
        if self.zero_insert is not None:
            inner = zero_inserted(inner, self.zero_insert)
        if self.subsample is not None:
            inner = subsample(inner, self.subsample)
        if self.pre_pad is not None and self.op == "conv_transpose":
            inner = padded_input(inner, self.pre_pad)
        elif self.pre_pad is not None:
            inner = combine(self.pre_pad, inner, self.pad_mode)
        if self.post_crop is not None:
            inner = crop(inner, self.post_crop)
        if self.divisor is not None or self.count is not None:
            if inner.divisor != inner.window:
                raise GeometryError("a divisor fix needs a native pool that counts every tap")
            inner = with_divisor(inner, self.divisor, self.count)
        return inner

    def matches(self, source: LayerSpec) -> bool:
        try:
            return self.spec(source.input) == source
        except GeometryError:
            return False
