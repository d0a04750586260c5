"""``pad``: PyTorch ``F.pad`` semantics (zeros/constant, reflect, replicate, circular) on any
number of spatial axes, with per-axis ``(before, after)`` amounts that may be negative (crop).

Padding only moves values, so it is exact for every real dtype (bool, integers, floats) and the
result keeps the input's dtype."""

from __future__ import annotations

import math
from typing import Any, Union

from ..errors import GeometryError
from ..padding import check_padding_mode
from ..params import Padding, parse_padding
from ._common import (
    DEFAULT_MAX_OUTPUT_BYTES,
    Array,
    channels_last_out,
    check_array_size,
    check_output_limit,
    real_array,
    shown,
    spatial_input,
    wrong_type,
)
from ._numpy import np

PAD_MODES: tuple[str, ...] = ("zeros", "constant", "reflect", "replicate", "circular")

PadArg = Union[int, tuple[int, ...], list[int], tuple[tuple[int, int], ...], list[list[int]]]

# One run of output cells ``[start, stop)`` on an axis reading input cells ``source + t*step``
# (``step`` 0: one cell repeated; 1: a copy; -1: a mirrored copy).
Segment = tuple[int, int, int, int]


def pad_pairs(pad: object, ndim: int) -> tuple[tuple[int, int], ...]:
    """``pad`` as ``((before, after), ...)`` per spatial axis, parsed by the engine's
    :func:`convgeom.params.parse_padding` (an int, one int per axis, or pairs)."""
    if isinstance(pad, str):
        raise GeometryError(
            f"pad takes amounts, not the padding string {pad!r}",
            fix="ask convgeom.conv(...) for the per-side pads of a string mode and pass result.pad",
        )
    parsed: Padding = parse_padding(pad, ndim)  # type: ignore[arg-type]
    if parsed.kind == "raw":
        raise GeometryError("pad takes plain amounts, not RawPads", fix="pass ((before, after), ...) pairs")
    return parsed.pairs


def check_mode(mode: object) -> str:
    choices = "use one of " + ", ".join(repr(m) for m in PAD_MODES)
    if not isinstance(mode, str):
        raise wrong_type("mode", mode, "a string", choices)
    if mode not in PAD_MODES:
        raise GeometryError(f"unknown padding mode {shown(mode)}", fix=choices)
    return mode


def fill_value(value: object, mode: str, dtype: np.dtype[Any]) -> Any:
    """The fill of ``mode`` as a scalar of ``dtype``: ``value`` for 'constant', 0 for 'zeros'.

    ``value`` must be a real number that ``dtype`` holds exactly (an integer in range for an
    integer dtype, 0 or 1 for bool, a finite float within range for a float dtype; NaN and
    infinities fit the floats); the other modes take no value (PyTorch ``F.pad``: 'Padding mode
    "reflect" doesn't take in value argument'), and neither does 'zeros'."""
    if not isinstance(value, (bool, int, float, np.bool_, np.integer, np.floating)):
        raise wrong_type("value", value, "a real number", "pass value=0 or another number")
    if mode != "constant":
        if value != 0:
            raise GeometryError(
                f"mode {mode!r} takes no value (got {shown(value)})",
                "" if mode == "zeros" else f'PyTorch F.pad: Padding mode "{mode}" doesn\'t take in value argument',
                "use mode='constant' to pad with a value",
            )
        return dtype.type(0)
    if dtype.kind == "f":
        try:
            fits = not math.isfinite(value) or abs(float(value)) <= float(np.finfo(dtype).max)
        except OverflowError:
            fits = False
    elif isinstance(value, (float, np.floating)) and not float(value).is_integer():
        fits = False
    elif dtype.kind == "b":
        fits = value in (0, 1)
    else:
        info = np.iinfo(dtype)
        fits = info.min <= int(value) <= info.max
    if not fits:
        limits = "0 or 1" if dtype.kind == "b" else (
            f"an integer in [{np.iinfo(dtype).min}, {np.iinfo(dtype).max}]" if dtype.kind in "iu"
            else f"a number of magnitude <= {np.finfo(dtype).max:.4g}")
        raise GeometryError(f"value {shown(value)} does not fit dtype {dtype} of x (it takes {limits})",
                            fix="pass a value in range, or cast x to a wider dtype")
    return dtype.type(value)


def pad(
    x: Any,
    pad: PadArg,
    mode: str = "zeros",
    value: float = 0.0,
    *,
    channels_last: bool = False,
    max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
) -> Array:
    """Pad the spatial axes of ``x`` (``(N, C, *spatial)``, or ``(N, *spatial, C)`` with
    ``channels_last``): output length per axis ``n + before + after``, same dtype as ``x``
    (bool, any integer or float dtype).

    ``pad`` is an int (every side), one int per axis (both sides) or ``(before, after)`` per
    axis; negative amounts crop. ``mode``: ``zeros``, ``constant`` (fill ``value``, which must
    fit ``x``'s dtype), ``reflect`` (``before, after < n``), ``replicate``, ``circular``
    (``before, after <= n``), the limits of PyTorch's ``F.pad`` (checked by
    :func:`convgeom.padding.check_padding_mode`). An output over ``max_output_bytes`` is refused
    before anything is allocated.
    """
    xa = real_array(x, "x")
    xcf = spatial_input(xa, channels_last, "pad")
    checked = check_mode(mode)
    pairs = pad_pairs(pad, xcf.ndim - 2)
    fill = fill_value(value, checked, xa.dtype)
    limit = check_output_limit(max_output_bytes)
    out = pad_channels_first(xcf, pairs, checked, fill, limit)
    return channels_last_out(out, bool(channels_last))


def check_pads(spatial: tuple[int, ...], pairs: tuple[tuple[int, int], ...], mode: str) -> None:
    """The limits of PyTorch's ``F.pad`` for ``mode`` on every axis (crops included)."""
    for axis, (n, (before, after)) in enumerate(zip(spatial, pairs)):
        kept = n + min(before, 0) + min(after, 0)
        if mode in ("reflect", "replicate"):
            if n + before + after < 0:
                raise GeometryError(
                    f"{mode} padding {(before, after)} on axis {axis} crops more than the {n} cells of the input",
                    f"PyTorch F.pad {mode}: input is too small. Calculated output size: {n + before + after}",
                    "crop less",
                )
            if n == 0 and n + before + after > 0:
                raise GeometryError(
                    f"{mode} padding of axis {axis}, which is empty (size 0): there is no cell to copy",
                    f"PyTorch F.pad {mode}: expected non-zero dimensions for input",
                    "pad a non-empty axis, or use mode='constant'",
                )
            check_padding_mode(mode, n, before, after, axis)
        elif kept < 0 and not (mode == "circular" and n + before + after == 0):
            raise GeometryError(
                f"padding {(before, after)} on axis {axis} crops more than the {n} cells of the input",
                "PyTorch F.pad: narrow(): length must be non-negative",
                f"crop at most {n} cells in total on that axis",
            )
        if mode == "circular" and n + before + after > 0:
            check_padding_mode(mode, n, before, after, axis)
            if max(before, after) > kept:
                raise GeometryError(
                    f"circular padding {(before, after)} on axis {axis} wraps around the {kept} cells left "
                    "after cropping more than once",
                    "PyTorch F.pad circular: padding value causes wrapping around more than once",
                    f"use padding <= {kept} on that axis",
                )


def pad_channels_first(
    x: Array,
    pairs: tuple[tuple[int, int], ...],
    mode: str,
    fill: Any = 0,
    max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
    data_bytes: int = 0,
) -> Array:
    """:func:`pad` on a channels-first array with parsed pairs and a fill of ``x``'s dtype.

    The limits are checked, and the output's size against ``max_output_bytes`` (or twice
    ``data_bytes``, for a working copy inside another op), before anything is allocated. Axes that shrink are done first, so no intermediate is larger than the input
    or the output."""
    spatial = tuple(x.shape[2:])
    check_pads(spatial, pairs, mode)
    shape = x.shape[:2] + tuple(n + b + a for n, (b, a) in zip(spatial, pairs))
    check_array_size("the padded input", shape, x.itemsize, max_output_bytes, data_bytes)
    if mode in ("zeros", "constant"):
        out = np.full(shape, fill, dtype=x.dtype)
        src: list[slice] = [slice(None), slice(None)]
        dst: list[slice] = [slice(None), slice(None)]
        for n, (before, after) in zip(spatial, pairs):
            src.append(slice(max(0, -before), n - max(0, -after)))
            dst.append(slice(max(0, before), max(0, before) + max(0, n - max(0, -before) - max(0, -after))))
        out[tuple(dst)] = x[tuple(src)]
        return out
    out = x
    for axis in sorted(range(len(spatial)), key=lambda a: sum(pairs[a])):
        before, after = pairs[axis]
        if before != 0 or after != 0:
            n = spatial[axis]
            out = _pad_axis(out, axis + 2, n + before + after, _segments(mode, n, before, after))
    return np.ascontiguousarray(out) if out is x else out


def _segments(mode: str, n: int, before: int, after: int) -> list[Segment]:
    """Output cell ``i`` (of ``n + before + after``) reads input cell ``i - before`` mapped by the
    mode: reflect mirrors without repeating the edge, replicate clamps, circular wraps around the
    cells left after cropping (as ``F.pad`` does); as at most three runs of cells."""
    length = n + before + after
    if mode == "circular":
        lo, kept = max(0, -before), n - max(0, -before) - max(0, -after)
        b = max(before, 0)
        runs = [(0, b, lo + kept - b, 1), (b, b + kept, lo, 1), (b + kept, length, lo, 1)]
    elif mode == "reflect":
        runs = [(0, before, before, -1), (before, before + n, 0, 1), (before + n, length, n - 2, -1)]
    else:  # replicate
        runs = [(0, before, 0, 0), (before, before + n, 0, 1), (before + n, length, n - 1, 0)]
    segments = []
    for start, stop, source, step in runs:
        lo_i, hi_i = max(start, 0), min(stop, length)
        if hi_i > lo_i:
            segments.append((lo_i, hi_i, source + step * (lo_i - start), step))
    return segments


def _pad_axis(x: Array, axis: int, length: int, segments: list[Segment]) -> Array:
    """``x`` with ``axis`` replaced by ``length`` cells, filled by ``segments``."""
    shape = list(x.shape)
    shape[axis] = length
    out = np.empty(shape, dtype=x.dtype)
    for start, stop, source, step in segments:
        dst = [slice(None)] * x.ndim
        src = [slice(None)] * x.ndim
        dst[axis] = slice(start, stop)
        count = stop - start
        if step == 0:
            src[axis] = slice(source, source + 1)
        elif step == 1:
            src[axis] = slice(source, source + count)
        else:
            end = source - count
            src[axis] = slice(source, end if end >= 0 else None, -1)
        out[tuple(dst)] = x[tuple(src)]
    return out


def _axis_indices(mode: str, n: int, before: int, after: int) -> Array:
    """Source input cell of each output cell on one axis for reflect / replicate / circular
    (the runs of :func:`_segments` written out; :mod:`convgeom.draw` labels copied cells with it)."""
    segments = _segments(mode, n, before, after)
    idx = np.empty(n + before + after, dtype=np.int64)
    for start, stop, source, step in segments:
        idx[start:stop] = source + step * np.arange(stop - start)
    return idx
