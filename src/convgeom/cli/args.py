"""Command-line values, parsed strictly, and the caps every command documents.

* An integer is ASCII digits with an optional leading ``-``. Python's ``int()`` would also take
  ``'+7'``, ``'1_000'``, ``' 7 '`` and other scripts' digits (``'٣'``); the command line does not,
  so a typo is never read as a number.
* A list separates its items with commas (``224,160``); ASCII spaces around an item and one
  pair of surrounding brackets (``[2, 1]``) are allowed.
* Every integer fits in int64 (``INT64_MAX``): no framework takes a larger size, and the geometry
  engine never sees a number it cannot store.
* A per-axis value has one item (every axis) or one per axis of the input; any other count is an
  error naming both counts.

Each parser raises :class:`CliError` (a ``GeometryError``): one line saying what is wrong and how
to fix it.
"""

from __future__ import annotations

import argparse
import re

from ..errors import GeometryError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see convgeom/__init__.py)
if TYPE_CHECKING:
    from collections.abc import Collection, Iterable
    from typing import Optional, Union

#: The largest integer any option accepts: int64, what every framework stores sizes in.
INT64_MAX = 2**63 - 1
#: Most spatial axes a per-axis option may list (frameworks go up to 3; ONNX allows more).
MAX_AXES = 16

_INT = re.compile(r"-?[0-9]+")
# patterns only some commands use, compiled on first use (re caches them): 0.3 ms each at import
_FLOAT = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
_RANGE = r"(-?[0-9]+)(?:-(-?[0-9]+))?"
PADDING_NAMES = ("valid", "same", "same_lower", "causal", "full")

Padding = str | int | tuple[int, ...] | tuple[tuple[int, int], ...]


class CliError(GeometryError):
    """Bad command-line input."""


def shown(text: str, limit: int = 40) -> str:
    """``repr`` of user text, cut to ``limit`` characters so a message stays one short line."""
    return repr(text if len(text) <= limit else text[:limit] + "...")


def what_is_wrong(item: str) -> str:
    """Why ``item`` is not an ASCII integer, in words."""
    for ch in item.lstrip("-"):
        if ch in "0123456789":
            continue
        if ch.isdigit() or ch.isnumeric():
            return f"{ch!r} is not an ASCII digit"
        if ch == "_":
            return "digit separators ('_') are not accepted"
        if ch == ".":
            return "it has a decimal point"
        if ch in " \t":
            return "it has a space inside"
        if ch == "-":
            return "a '-' is misplaced"
        return f"unexpected {ch!r}"
    return "a '-' is misplaced" if item else "it is empty"


def integer(text: str, option: str, *, minimum: Optional[int] = None, maximum: int = INT64_MAX,
            whole: Optional[str] = None) -> int:
    """One ASCII integer in ``[minimum, maximum]``; ``whole`` is the full option value for messages."""
    item = text.strip(" \t")
    given = shown(whole if whole is not None else text)
    if not item:
        raise CliError(f"{option} {given} has an empty value" if whole else f"{option} is empty",
                       fix=f"give an integer, e.g. {option} 3")
    if not _INT.fullmatch(item):
        raise CliError(f"{option} {given} is not an integer: {what_is_wrong(item)}",
                       fix=f"write ASCII digits, e.g. {option} 3" + (" or 224,160 (commas between axes)"
                                                                      if whole is not None else ""))
    value = int(item) if len(item.lstrip("-")) <= 19 else (INT64_MAX + 1) * (-1 if item[0] == "-" else 1)
    if value > maximum:
        limit = " (int64, the largest size a framework takes)" if maximum == INT64_MAX else ""
        raise CliError(f"{option} value {shown(item, 24)} is larger than {maximum}{limit}",
                       fix=f"give {option} at most {maximum}")
    if value < -INT64_MAX:
        raise CliError(f"{option} value {shown(item, 24)} is below -{INT64_MAX} (int64)",
                       fix=f"give {option} a value that fits in int64")
    if minimum is not None and value < minimum:
        raise CliError(f"{option} must be >= {minimum}, got {value}", fix=f"give {option} {minimum} or more")
    return value


def int_list(text: str, option: str, *, minimum: Optional[int] = None) -> tuple[int, ...]:
    """``'7'`` -> (7,), ``'224,160'`` or ``'[224, 160]'`` -> (224, 160)."""
    body = text.strip(" \t")
    if body.startswith("[") and body.endswith("]"):
        body = body[1:-1]
    if not body.strip(" \t"):
        raise CliError(f"{option} is empty", fix=f"give one integer per axis, e.g. {option} 7 or {option} 224,160")
    parts = body.split(",")
    if len(parts) > MAX_AXES:
        raise CliError(f"{option} has {len(parts)} values; at most {MAX_AXES} axes are accepted",
                       fix="give one value per spatial axis")
    return tuple(integer(p, option, minimum=minimum, whole=text) for p in parts)


def axes(n: int) -> str:
    """``'1 axis'``, ``'2 axes'``."""
    return f"{n} axis" if n == 1 else f"{n} axes"


def check_count(option: str, count: int, ndim: int, axes_from: str = "--input") -> None:
    """A per-axis option has 1 value (all axes) or ``ndim``; else an error naming both counts."""
    if count not in (1, ndim):
        raise CliError(
            f"{option} has {count} values but {axes_from} has {axes(ndim)}",
            fix=f"give {option} one value" + (f" (for every axis) or {ndim} values (one per axis)" if ndim > 1 else ""),
        )


def per_axis(text: str, option: str, ndim: int, *, minimum: Optional[int] = None,
             axes_from: str = "--input") -> Union[int, tuple[int, ...]]:
    """An int (one value) or a tuple of ``ndim`` ints."""
    values = int_list(text, option, minimum=minimum)
    check_count(option, len(values), ndim, axes_from)
    return values[0] if len(values) == 1 else values


def floats(text: str, option: str, ndim: int) -> Union[float, tuple[float, ...]]:
    """Positive decimal numbers (``2``, ``1.5``, ``2.5e-1``), one or one per axis; no nan/inf."""
    body = text.strip(" \t")
    if not body:
        raise CliError(f"{option} is empty", fix=f"give a number, e.g. {option} 2")
    parts = [p.strip(" \t") for p in body.split(",")]
    if len(parts) > MAX_AXES:
        raise CliError(f"{option} has {len(parts)} values; at most {MAX_AXES} axes are accepted",
                       fix="give one value per spatial axis")
    for p in parts:
        if not re.fullmatch(_FLOAT, p):
            raise CliError(f"{option} {shown(text)} is not a list of positive decimal numbers",
                           fix=f"write e.g. {option} 2 or {option} 1.5,2")
    values = tuple(float(p) for p in parts)
    if max(values) > 1e300:  # float() turns 1e400 into inf
        raise CliError(f"{option} {shown(text)} is too large", fix=f"give {option} at most 1e300")
    check_count(option, len(values), ndim)
    return values[0] if len(values) == 1 else values


def padding(text: str, ndim: int, option: str = "--padding") -> Padding:
    """A mode name, an int, per-axis ints ``1,2``, per-axis ``before:after`` pairs ``0:1,1:1``, or
    JSON pairs ``[[0,1],[1,1]]``. Pairs need one per axis; ints one or one per axis."""
    word = text.strip(" \t").lower().replace("-", "_")
    if word in PADDING_NAMES:
        return word
    if any(c.isalpha() for c in word):
        raise CliError(f"unknown padding {shown(text)}",
                       fix="use an int, per-axis ints (1,2), pairs (0:1,1:1) or " + "/".join(PADDING_NAMES))
    body = text.strip(" \t")
    if body.startswith("[["):
        body = body.replace(" ", "").replace("],[", ",").strip("[]")
        body = ",".join(f"{a}:{b}" for a, b in _two_by_two(body.split(","), text, option))
    if ":" not in body:
        values = int_list(body, option)
        check_count(option, len(values), ndim)
        return values[0] if len(values) == 1 else values
    pairs = []
    for part in body.split(","):
        before, sep, after = part.partition(":")
        if not sep or ":" in after:
            raise CliError(f"{option} {shown(text)}: {shown(part)} is not a before:after pair",
                           fix="write one pair per axis, e.g. 0:1,1:1")
        pairs.append((integer(before, option, whole=text), integer(after, option, whole=text)))
    if len(pairs) != ndim:
        raise CliError(f"{option} has {len(pairs)} before:after pairs but --input has {axes(ndim)}",
                       fix=f"give one pair per axis ({ndim})")
    return tuple(pairs)


def _two_by_two(items: list[str], text: str, option: str) -> Iterable[tuple[str, str]]:
    if len(items) % 2:
        raise CliError(f"{option} {shown(text)} is not a list of [before, after] pairs",
                       fix="write e.g. [[0,1],[1,1]] or 0:1,1:1")
    return zip(items[::2], items[1::2])


def int_range(text: str, option: str, *, minimum: int, max_values: int) -> range:
    """``'1-7'`` -> range(1, 8); ``'3'`` -> range(3, 4). At most ``max_values`` values, all
    ``>= minimum``."""
    match = re.fullmatch(_RANGE, text.strip(" \t"))
    if not match:
        raise CliError(f"{option} {shown(text)} is not N or LOW-HIGH", fix=f"write e.g. {option} 1-7")
    low = integer(match.group(1), option)
    high = integer(match.group(2), option) if match.group(2) is not None else low
    if high < low:
        raise CliError(f"{option} range {shown(text)} is empty", fix="write LOW-HIGH with LOW <= HIGH")
    if low < minimum:
        raise CliError(f"{option} starts at {low}, but its values must be >= {minimum}",
                       fix=f"start the range at {minimum} or more")
    if high - low + 1 > max_values:
        raise CliError(f"{option} {shown(text)} has {high - low + 1} values; at most {max_values} are accepted",
                       fix=f"narrow the range, e.g. {option} {low}-{low + max_values - 1}")
    return range(low, high + 1)


def framework(text: str) -> str:
    """The dialect name ('torch', 'tensorflow', 'jax', 'onnx') for a name or alias; an unknown
    name is an error (never a silent default)."""
    from ..dialects import canonical_framework

    return canonical_framework(text)


def or_default(text: Optional[str], default: str) -> str:
    """The option's text, or ``default`` when it was not given (an empty value stays empty: it
    is an error, never a silent default)."""
    return default if text is None else text


def given(args: argparse.Namespace, names: Iterable[str]) -> list[str]:
    """The options among ``names`` that the user gave (their defaults are None)."""
    return [n for n in names if getattr(args, n, None) is not None]


def flag(name: str) -> str:
    """``'output_padding'`` -> ``'--output-padding'``."""
    return "--" + name.replace("_", "-")


def reject_unused(args: argparse.Namespace, names: Iterable[str], allowed: Collection[str], what: str) -> None:
    """An option the chosen operation does not take is an error, never silently ignored."""
    for name in given(args, names):
        if name not in allowed:
            takes = ", ".join(flag(n) for n in sorted(allowed)) or "no other options"
            raise CliError(f"{flag(name)} does not apply to {what}", fix=f"drop it ({what} takes {takes})")

