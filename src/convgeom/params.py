"""Normalising user parameters: ints or per-axis tuples, flags, names, and the padding
specification. Every public function of the core takes its parameters through these checks, so
each wrong value gets one line naming the argument before any arithmetic runs.

Types: an integer parameter is an ``int`` or an integer scalar of NumPy/PyTorch (anything with
``__index__``), never a ``bool`` or a float (``3.5`` or ``2.0``: convgeom does not round, and
PyTorch refuses floats too); a per-axis value is one such integer, a tuple or list of them, or a
1-D integer NumPy array (sizes often come from ``np.array(x.shape)``; an integer dtype loses
nothing, so it is read exactly). A wrong type raises :class:`~convgeom.errors.GeometryTypeError`
(a ``GeometryError`` and a ``TypeError``).

Caps (documented limits, checked before any arithmetic):

* every integer lies in the int64 range ``[-2**63, 2**63 - 1]`` (:data:`INT64_MIN`,
  :data:`INT64_MAX`): PyTorch, TensorFlow, JAX/XLA and ONNX all store sizes, strides and pads as
  int64 (PyTorch raises "Overflow when unpacking long long" beyond it);
* at most :data:`MAX_SPATIAL_AXES` (62) spatial axes: a NumPy array has at most 64 dimensions
  (``NPY_MAXDIMS``), two of which are batch and channels.

The number of spatial axes comes from ``input``. Every other per-axis value has one entry per
axis, or is a single int broadcast to all of them; a 1-tuple is broadcast only where the
framework does so (the dialect's ``broadcasts_single``: PyTorch's ``expand_param_if_needed`` and
``_pair``/``_triple`` accept ``stride=(2,)`` for ``conv2d``; Keras' ``standardize_tuple``,
``lax`` and ONNX attributes do not).
"""

from __future__ import annotations

import operator

from .errors import GeometryError, GeometryTypeError, shown

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see convgeom/__init__.py)
if TYPE_CHECKING:
    from collections.abc import Collection
    from dataclasses import dataclass
    from typing import Literal, Optional

    PaddingString = Literal["valid", "same", "same_lower", "causal", "full"]
else:
    from .frozen import dataclass  # the same frozen dataclasses, without importing dataclasses

# `|` unions, not typing.Union: other modules import these aliases at run time (convgeom.ops)
IntOrTuple = int | tuple[int, ...] | list[int]
PADDING_STRINGS: tuple[str, ...] = ("valid", "same", "same_lower", "causal", "full")
PADDING_MODES: tuple[str, ...] = ("zeros", "reflect", "replicate", "circular")

#: the int64 range every framework stores sizes, strides and pads in
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
#: NumPy's 64 dimensions (NPY_MAXDIMS) less batch and channels
MAX_SPATIAL_AXES = 62


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


PaddingArg = int | str | tuple[int, ...] | list[int] | tuple[tuple[int, int], ...] | list[list[int]] | RawPads


def _type_error(name: str, value: object, wanted: str, fix: str = "") -> GeometryTypeError:
    return GeometryTypeError(
        f"{name} must be {wanted}, got {shown(value)} ({type(value).__name__})",
        fix=fix or f"pass {name} as {wanted}",
    )


def as_int(name: str, value: object, *, low: Optional[int] = None) -> int:
    """``value`` as an int in the int64 range (and ``>= low`` if given); bools, floats, strings
    and None raise :class:`GeometryTypeError` naming ``name``."""
    if isinstance(value, bool):
        raise _type_error(name, value, "an integer", f"pass {name} as an int (True/False are not sizes)")
    if isinstance(value, int):
        number = int(value)
    else:
        try:  # NumPy / PyTorch integer scalars and 0-d integer arrays
            number = operator.index(value)  # type: ignore[arg-type]
        except TypeError:
            whole = isinstance(value, float) and value.is_integer()
            raise _type_error(
                name, value, "an integer",
                f"pass {name} as an int (write int({value!r}) if that is what you mean: convgeom does not round)"
                if whole else "",
            ) from None
    if not INT64_MIN <= number <= INT64_MAX:
        raise GeometryError(
            f"{name} {shown(number)} does not fit in int64",
            "PyTorch, TensorFlow, JAX and ONNX store sizes as int64",
            f"use a value between {INT64_MIN} and {INT64_MAX}",
        )
    if low is not None and number < low:
        raise GeometryError(f"{name} must be >= {low}, got {number}", fix=f"use {name} >= {low}")
    return number


def as_index(name: str, value: object, size: int, what: str) -> int:
    """An index ``0 <= value < size`` into ``size`` ``what`` (axes, windows)."""
    index = as_int(name, value)
    if not 0 <= index < size:
        raise GeometryError(f"{name} {index} is out of range: {what} run from 0 to {size - 1}" if size
                            else f"{name} {index} is out of range: there are no {what}",
                            fix=f"use 0 <= {name} < {size}" if size else f"there are no {what} to index")
    return index


def as_flag(name: str, value: object) -> bool:
    """A True/False parameter: ``bool`` or NumPy's ``bool_`` only (PyTorch refuses ints too:
    "argument 'ceil_mode' must be bool, not int")."""
    if isinstance(value, bool):
        return value
    if type(value).__module__ == "numpy" and type(value).__name__ in ("bool", "bool_"):
        return bool(value)
    raise _type_error(name, value, "True or False")


def as_name(name: str, value: object) -> str:
    """A string parameter (framework, mode, op)."""
    if not isinstance(value, str):
        raise _type_error(name, value, "a string")
    return value


def as_sequence(name: str, value: object, kinds: str = "iu") -> Optional[list[object]]:
    """The entries of a per-axis value (tuple, list or 1-D NumPy array of dtype kind in
    ``kinds``: integers by default), or None for a scalar. At most :data:`MAX_SPATIAL_AXES`
    entries."""
    if isinstance(value, (tuple, list)):
        items = list(value)
    elif hasattr(value, "ndim") and hasattr(value, "dtype") and hasattr(value, "tolist"):
        ndim, kind = getattr(value, "ndim", None), getattr(value.dtype, "kind", None)
        if ndim == 0 and kind is not None and kind in kinds:
            return None
        if ndim != 1 or kind is None or kind not in kinds:
            wanted = "a 1-D integer array" if kinds == "iu" else "a 1-D array of numbers"
            raise _type_error(name, value, f"a single value, a tuple or {wanted}")
        items = list(value.tolist())
    else:
        return None
    if len(items) > MAX_SPATIAL_AXES:
        raise GeometryError(
            f"{name} has {len(items)} values; convgeom takes at most {MAX_SPATIAL_AXES} spatial axes",
            fix="a NumPy array has at most 64 dimensions (batch, channels and 62 spatial axes)",
        )
    return items


def spatial_sizes(name: str, value: object) -> tuple[int, ...]:
    """The input's spatial sizes: an int (one axis) or one int per axis. Decides the number of
    spatial axes for every other parameter."""
    items = as_sequence(name, value)
    if items is None:
        return (as_int(name, value),)
    if not items:
        raise GeometryError(f"{name} is empty", fix=f"give {name} one size per spatial axis")
    return tuple(as_int(name, v) for v in items)


def axis_count_error(name: str, got: int, ndim: int, rule: str = "") -> GeometryError:
    """The error for a per-axis value whose count differs from the input's axes."""
    axes = f"{ndim} spatial axis" if ndim == 1 else f"{ndim} spatial axes"
    return GeometryError(
        f"{name} has {got} value{'' if got == 1 else 's'} but input has {axes}",
        rule,
        f"give {name} as one int or {ndim} (the number of axes comes from input)",
    )


def axis_values(name: str, value: object, ndim: int, *, single: bool = True, rule: str = "",
                kinds: str = "iu") -> list[object]:
    """One entry per axis, unconverted: a scalar broadcast to ``ndim`` axes, or a sequence with
    ``ndim`` entries; a 1-tuple is broadcast only when ``single`` (the framework expands
    single-element lists)."""
    items = as_sequence(name, value, kinds)
    if items is None:
        return [value] * ndim
    if len(items) == 1 and ndim > 1 and single:
        return items * ndim
    if len(items) != ndim:
        raise axis_count_error(name, len(items), ndim, rule)
    return items


def per_axis(name: str, value: object, ndim: int, *, single: bool = True, rule: str = "") -> tuple[int, ...]:
    """One int per axis (:func:`axis_values`, each entry checked by :func:`as_int`)."""
    return tuple(as_int(name, v) for v in axis_values(name, value, ndim, single=single, rule=rule))


def parse_padding(padding: PaddingArg, ndim: int, *, single: bool = True, rule: str = "") -> Padding:
    """Parse an int, per-axis ints, per-axis ``(before, after)`` pairs, a string or RawPads."""
    if isinstance(padding, RawPads):
        return Padding("raw", pairs=_pairs("RawPads", padding.pairs, ndim))
    if isinstance(padding, str):
        name = padding.strip().lower()
        if name not in PADDING_STRINGS:
            raise GeometryError(
                f"unknown padding string {shown(padding)}",
                fix="use one of " + ", ".join(repr(s) for s in PADDING_STRINGS) + " or integers",
            )
        return Padding("string", name=name, written=padding)
    items = as_sequence("padding", padding)
    if items is None:
        value = as_int("padding", padding)
        return Padding("symmetric", pairs=((value, value),) * ndim)
    paired = [isinstance(p, (tuple, list)) for p in items]
    if items and all(paired):
        return Padding("explicit", pairs=_pairs("padding", items, ndim))
    if any(paired):
        raise GeometryTypeError(
            f"padding {shown(padding)} mixes (before, after) pairs and single ints",
            fix="give one int per axis, or one (before, after) pair per axis",
        )
    values = per_axis("padding", items, ndim, single=single, rule=rule)
    return Padding("symmetric", pairs=tuple((p, p) for p in values))


def _pairs(name: str, pairs: object, ndim: int) -> tuple[tuple[int, int], ...]:
    seq = as_sequence(name, pairs)
    if seq is None:
        raise _type_error(name, pairs, "one (before, after) pair per spatial axis")
    if len(seq) != ndim:
        raise GeometryError(
            f"{name} has {len(seq)} (before, after) pairs but input has {ndim} spatial axes",
            fix=f"give one (before, after) pair per spatial axis ({ndim})",
        )
    out = []
    for pair in seq:
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise GeometryError(
                f"{name} pair {shown(pair)} is not (before, after)",
                fix="write each axis's padding as a pair like (1, 2)",
            )
        out.append((as_int(name, pair[0]), as_int(name, pair[1])))
    return tuple(out)


def bounded_values(name: str, values: object, cap: int, *, low: Optional[int] = None) -> tuple[int, ...]:
    """A range (or tuple/list) of ints that a search walks, with at most ``cap`` entries; the
    length is checked before anything is listed (``len(range(10**30))`` itself overflows)."""
    if isinstance(values, range):
        count = max(0, -((values.start - values.stop) // values.step))
    elif isinstance(values, (tuple, list)):
        count = len(values)
    else:
        raise _type_error(name, values, "a range or a tuple of ints")
    if count > cap:
        raise GeometryError(
            f"{name} has {shown(count)} values, more than the cap of {cap}",
            fix=f"narrow {name} to at most {cap} values",
        )
    return tuple(as_int(f"each of {name}", v, low=low) for v in values)


def one_of(name: str, value: object, choices: Collection[str]) -> str:
    """A string parameter that must be one of ``choices``."""
    text = as_name(name, value)
    if text not in choices:
        raise GeometryError(f"unknown {name} {shown(text)}", fix="use one of " + ", ".join(map(repr, choices)))
    return text
