"""Normalising user parameters: ints or per-axis tuples, and the padding specification."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Union

from .errors import GeometryError

IntOrTuple = Union[int, tuple[int, ...], list[int]]
PaddingString = Literal["valid", "same", "same_lower", "causal", "full"]
PADDING_STRINGS: tuple[str, ...] = ("valid", "same", "same_lower", "causal", "full")
PADDING_MODES: tuple[str, ...] = ("zeros", "reflect", "replicate", "circular")


@dataclass(frozen=True)
class RawPads:
    """Pads given exactly as a framework takes them, bypassing its own interpretation.

    Used for JAX's ``lax.conv_transpose``, whose explicit pads apply to the stride-dilated
    input rather than meaning PyTorch-style forward padding.
    """

    pairs: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Padding:
    """A padding request after parsing.

    ``kind`` is "string" (``name`` set), "symmetric" (``pairs`` has before == after, the user
    gave ints), "explicit" (the user gave ``(before, after)`` pairs) or "raw" (:class:`RawPads`).
    """

    kind: Literal["string", "symmetric", "explicit", "raw"]
    name: str = ""
    pairs: tuple[tuple[int, int], ...] = ()
    #: the string exactly as given (frameworks differ on case: PyTorch wants 'same'/'valid')
    written: str = ""

    def describe(self) -> str:
        if self.kind == "string":
            return repr(self.name)
        if self.kind == "symmetric":
            return str(tuple(p for p, _ in self.pairs))
        return str(self.pairs)


PaddingArg = Union[
    int, str, tuple[int, ...], list[int], tuple[tuple[int, int], ...], list[list[int]], RawPads
]


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def as_int(name: str, value: object) -> int:
    if _is_int(value):
        return int(value)  # type: ignore[call-overload,no-any-return]
    # numpy / torch integer scalars are welcome, floats and bools are not
    if hasattr(value, "__index__") and not isinstance(value, bool):
        return int(value.__index__())
    raise GeometryError(
        f"{name} must be an integer or a tuple of integers, got {value!r}",
        fix=f"pass {name} as an int or one int per spatial axis",
    )


def ndim_of(**values: object) -> int:
    """Number of spatial axes implied by the tuple-valued parameters (1 if all are ints).

    ``input`` decides when it is a tuple; elsewhere a 1-tuple counts as an int and is broadcast,
    as PyTorch's ``_pair``/``_triple`` and ATen's ``expand_param_if_needed`` do.
    """
    given_input = values.get("input")
    if isinstance(given_input, (tuple, list)):
        values = {k: v for k, v in values.items() if k == "input" or not (isinstance(v, (tuple, list)) and len(v) == 1)}
    lengths = {
        name: len(v) for name, v in values.items() if isinstance(v, (tuple, list)) and v is not None
    }
    if not lengths:
        return 1
    distinct = set(lengths.values())
    if len(distinct) > 1:
        listing = ", ".join(f"{k} has {n}" for k, n in lengths.items())
        raise GeometryError(
            f"per-axis parameters disagree on the number of spatial axes ({listing})",
            fix="give every per-axis parameter one value per spatial axis, or a single int",
        )
    ndim = distinct.pop()
    if ndim == 0:
        raise GeometryError("empty tuple given for a per-axis parameter", fix="give at least one axis")
    return ndim


def per_axis(name: str, value: IntOrTuple, ndim: int) -> tuple[int, ...]:
    """Broadcast an int to ``ndim`` axes or check a tuple has ``ndim`` entries."""
    if isinstance(value, (tuple, list)):
        if len(value) == 1 and ndim > 1 and name != "input":
            return (as_int(name, value[0]),) * ndim
        if len(value) != ndim:
            raise GeometryError(
                f"{name} has {len(value)} values but there are {ndim} spatial axes",
                fix=f"give {name} as one int or {ndim} ints",
            )
        return tuple(as_int(name, v) for v in value)
    return (as_int(name, value),) * ndim


def parse_padding(padding: PaddingArg, ndim: int) -> Padding:
    """Parse an int, per-axis ints, per-axis ``(before, after)`` pairs, a string or RawPads."""
    if isinstance(padding, RawPads):
        pairs = _pairs(padding.pairs, ndim)
        return Padding("raw", pairs=pairs)
    if isinstance(padding, str):
        name = padding.strip().lower()
        if name not in PADDING_STRINGS:
            raise GeometryError(
                f"unknown padding string {padding!r}",
                fix="use one of " + ", ".join(repr(s) for s in PADDING_STRINGS) + " or integers",
            )
        return Padding("string", name=name, written=padding)
    if isinstance(padding, (tuple, list)):
        if len(padding) and all(isinstance(p, (tuple, list)) for p in padding):
            return Padding("explicit", pairs=_pairs(padding, ndim))
        values = per_axis("padding", padding, ndim)  # type: ignore[arg-type]
        return Padding("symmetric", pairs=tuple((p, p) for p in values))
    value = as_int("padding", padding)
    return Padding("symmetric", pairs=((value, value),) * ndim)


def _pairs(pairs: object, ndim: int) -> tuple[tuple[int, int], ...]:
    seq = list(pairs)  # type: ignore[call-overload]
    if len(seq) != ndim:
        raise GeometryError(
            f"padding has {len(seq)} (before, after) pairs but there are {ndim} spatial axes",
            fix=f"give one (before, after) pair per spatial axis ({ndim})",
        )
    out = []
    for pair in seq:
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise GeometryError(
                f"padding pair {pair!r} is not (before, after)",
                fix="write each axis's padding as a pair like (1, 2)",
            )
        out.append((as_int("padding", pair[0]), as_int("padding", pair[1])))
    return tuple(out)
