"""How convgeom writes numbers for people: fractions, shapes, byte and element counts, axis
labels and the first line of a message. One place, so every table, message and CSV agrees."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Optional

#: spatial axis labels by number of axes (PyTorch's L / H, W / D, H, W)
SPATIAL_LABELS: dict[int, tuple[str, ...]] = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}


def fraction(value: Fraction) -> str:
    """``3`` for a whole number, ``1/2`` otherwise (receptive-field strides can be fractional)."""
    return str(value.numerator) if value.denominator == 1 else str(value)


def dims(values: Optional[Sequence[int]]) -> str:
    """``1x3x224x224``; ``""`` for None."""
    return "" if values is None else "x".join(str(v) for v in values)


def shape(values: Optional[Sequence[int]]) -> str:
    """``[1, 3, 224, 224]``; ``--`` for None."""
    return "--" if values is None else "[" + ", ".join(str(v) for v in values) + "]"


def nbytes(n: int) -> str:
    """``1.20 MB`` (decimal units), ``512 B`` below a kilobyte."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n} B"


def count(n: int) -> str:
    """``1,234,567 (1.23 M)``, the plain number below a thousand."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= scale:
            return f"{n:,} ({n / scale:.2f} {unit})"
    return f"{n:,}"


def axis_labels(n: int) -> tuple[str, ...]:
    """``("H", "W")`` for two spatial axes; ``x0, x1, ...`` beyond three."""
    return SPATIAL_LABELS.get(n, tuple(f"x{i}" for i in range(n)))


def first_line(text: object, limit: Optional[int] = None) -> str:
    """The first non-empty line of ``str(text)`` (cut to ``limit`` characters): exceptions
    raised by frameworks can run to pages, convgeom's messages are one line."""
    for line in str(text).splitlines():
        if line.strip():
            return line.strip()[:limit]
    return ""
