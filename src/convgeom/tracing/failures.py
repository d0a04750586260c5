"""When the real model would fail: :class:`TraceFailure` inside a frontend (cheap, caught by the
size search) and :class:`ImpossibleInput` for the user (a :class:`GeometryError` naming the layer,
the shapes and the nearest input shapes that work)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

from ..errors import GeometryError
from .rf import Shape


class TraceFailure(Exception):
    """Raised inside a frontend where the real model would fail for this input: names the
    record, what failed, the shapes involved and (where known) the model-input axis at fault."""

    def __init__(self, layer: str, problem: str, rule: str = "", shapes: Sequence[Shape] = (),
                 axis: Optional[int] = None, fix: str = "") -> None:
        super().__init__(problem)
        self.layer = layer
        self.problem = problem
        self.rule = rule
        self.shapes = tuple(shapes)
        self.axis = axis
        self.fix = fix


class ImpossibleInput(GeometryError):
    """The real model would fail for this input: ``layer`` names the record, ``shapes`` the
    tensors that disagree, ``nearest`` the closest input shapes that work (possibly empty)."""

    def __init__(self, problem: str, rule: str, fix: str, *, layer: str, shapes: Sequence[Shape],
                 nearest: Sequence[Shape], axis: Optional[int]) -> None:
        super().__init__(problem, rule, fix)
        self.layer = layer
        self.shapes = tuple(shapes)
        self.nearest = tuple(nearest)
        self.axis = axis
