"""The checks every public tracing function applies to its arguments, before any framework is
imported or anything allocated: a wrong type is a one-line :class:`TypeError`, a bad value a
one-line :class:`GeometryError`, each naming the argument.

Caps (documented in the README): an input has at most :data:`MAX_RANK` dims and
:data:`MAX_ELEMENTS` elements, a model at most :data:`MAX_INPUTS` inputs, and one
:func:`~convgeom.tracing.valid_input_sizes` call tries at most :data:`MAX_SIZES` sizes.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from typing import Any, Optional, Union

from ..errors import GeometryError, GeometryTypeError, shown
from .rf import Shape

ShapeArg = Union[Sequence[int], Sequence[Sequence[int]], None]

#: dims per input shape
MAX_RANK = 16
#: elements per input tensor (2**48: a petabyte of float32; sizes stay exact in int64 everywhere)
MAX_ELEMENTS = 1 << 48
#: model inputs per trace
MAX_INPUTS = 64
#: sizes one ``valid_input_sizes`` call traces
MAX_SIZES = 1024

_EXAMPLE = "(1, 3, 224, 224)"


def input_shapes(input_shape: Any, name: str = "input_shape") -> list[Shape]:
    """One shape or a list of shapes (several model inputs) -> list of int tuples.

    A shape is a sequence of positive ints (Python, NumPy or torch integers, or a 1-D integer
    array); an array or tensor of any other kind stands for an example input and gives its shape.
    """
    if input_shape is None:
        return []
    if isinstance(input_shape, (str, bytes)) or not _is_sequence(input_shape):
        raise GeometryTypeError(f"{name} must be a shape like {_EXAMPLE} or a list of shapes, "
                        f"got {type(input_shape).__name__}")
    items = _as_list(input_shape)
    if items and all(_is_sequence(s) for s in items):
        if len(items) > MAX_INPUTS:
            raise GeometryError(f"{name} has {len(items)} shapes; convgeom traces at most {MAX_INPUTS} inputs",
                                fix="pass one shape per model input")
        return [_shape(_as_list(s), f"{name}[{i}]") for i, s in enumerate(items)]
    return [_shape(items, name)]


def _is_sequence(value: Any) -> bool:
    return isinstance(value, (list, tuple)) or hasattr(value, "shape") and hasattr(value, "tolist")


def _as_list(value: Any) -> list[Any]:
    """A list, tuple, ``torch.Size`` or 1-D integer array as a list; any other array or tensor
    (an example input) as its shape."""
    if isinstance(value, (list, tuple)):
        return list(value)
    dtype = str(getattr(value, "dtype", ""))
    if len(value.shape) == 1 and "int" in dtype:
        return list(value.tolist())
    return list(value.shape)


def _shape(values: list[Any], name: str) -> Shape:
    if not values:
        raise GeometryError(f"{name} is empty", fix=f"give every dim, e.g. {_EXAMPLE}")
    if len(values) > MAX_RANK:
        raise GeometryError(f"{name} has {len(values)} dims; convgeom traces at most {MAX_RANK}",
                            fix=f"give a shape like {_EXAMPLE}")
    shape = tuple(size(v, name) for v in values)
    count = math.prod(shape)
    if count > MAX_ELEMENTS:
        dims = "(" + ", ".join(shown(v, 30) for v in shape) + ")"
        raise GeometryError(f"{name} {dims} has {shown(count, 40)} elements; convgeom traces at most "
                            f"2**48 ({MAX_ELEMENTS:.3g}) per input", fix="trace at a smaller size")
    return shape


def size(value: Any, name: str) -> int:
    """A positive int (bools and floats are refused, NumPy and torch integers accepted)."""
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise GeometryTypeError(f"{name} must hold integers, got {shown(value)} ({type(value).__name__})")
    n = int(value.__index__())
    if n < 1:
        raise GeometryError(f"{name} sizes must be >= 1, got {shown(n)}", fix="use positive sizes")
    return n


def framework(value: Any) -> Optional[str]:
    if value is not None and not isinstance(value, str):
        raise GeometryTypeError(f"framework must be a string such as 'torch', got {type(value).__name__}")
    return value


def flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise GeometryTypeError(f"{name} must be True or False, got {shown(value)}")
    return value


def sizes(values: Any, name: str = "sizes") -> list[int]:
    """At most :data:`MAX_SIZES` positive ints from an iterable (read no further than that)."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise GeometryTypeError(f"{name} must be an iterable of ints such as range(16, 129), got {type(values).__name__}")
    taken = list(itertools.islice(values, MAX_SIZES + 1))
    if len(taken) > MAX_SIZES:
        raise GeometryError(f"{name} has more than {MAX_SIZES} sizes; each one is a trace",
                            fix=f"try at most {MAX_SIZES} sizes per call (e.g. a step: range(16, 4097, 4))")
    return [size(v, name) for v in taken]


def axes(values: Optional[Iterable[Any]], n_spatial: int, shape: Shape) -> tuple[int, ...]:
    """Spatial axis indices (default all); each in ``0..n_spatial-1``."""
    if values is None:
        chosen = tuple(range(n_spatial))
    else:
        if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
            raise GeometryTypeError(f"axes must be a sequence of ints, got {type(values).__name__}")
        chosen = tuple(_axis(a) for a in itertools.islice(values, MAX_RANK + 1))
    if not n_spatial or not chosen or any(a < 0 or a >= n_spatial for a in chosen):
        raise GeometryError(
            f"axes {shown(chosen)} are not spatial axes of {shown(shape)} (it has {n_spatial})",
            fix=f"use axes in 0..{max(n_spatial - 1, 0)}")
    return chosen


def _axis(value: Any) -> int:
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise GeometryTypeError(f"axes must hold integers, got {shown(value)}")
    return int(value.__index__())
