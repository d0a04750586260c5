"""``pad``: PyTorch ``F.pad`` semantics (zeros/constant, reflect, replicate, circular) on any
number of spatial axes, with per-axis ``(before, after)`` amounts that may be negative (crop)."""

from __future__ import annotations

from typing import Any, Union

import numpy as np

from ..errors import GeometryError
from ..padding import check_padding_mode
from ..params import Padding, parse_padding
from ._common import Array, as_float_array, spatial_input

PAD_MODES: tuple[str, ...] = ("zeros", "constant", "reflect", "replicate", "circular")

PadArg = Union[int, tuple[int, ...], list[int], tuple[tuple[int, int], ...], list[list[int]]]


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


def _axis_indices(mode: str, n: int, before: int, after: int) -> Any:
    """Source index of each output cell on one axis: output ``i`` reads input ``i - before``
    mapped by the mode (reflect: mirror without repeating the edge; replicate: clamp;
    circular: wrap around the input left after cropping negative pads, as ``F.pad`` does)."""
    idx = np.arange(n + before + after) - before
    if idx.size == 0:
        return idx
    if mode == "reflect":
        idx = np.abs(idx)
        return np.where(idx > n - 1, 2 * (n - 1) - idx, idx)
    if mode == "replicate":
        return np.clip(idx, 0, n - 1)
    lo, hi = max(0, -before), n - max(0, -after)
    kept = hi - lo
    return lo + (np.arange(kept + max(before, 0) + max(after, 0)) - max(before, 0)) % kept


def pad(
    x: Any,
    pad: PadArg,
    mode: str = "zeros",
    value: float = 0.0,
    *,
    channels_last: bool = False,
) -> Array:
    """Pad the spatial axes of ``x`` (``(N, C, *spatial)``, or ``(N, *spatial, C)`` with
    ``channels_last``): output length per axis ``n + before + after``.

    ``pad`` is an int (every side), one int per axis (both sides) or ``(before, after)`` per
    axis; negative amounts crop. ``mode``: ``zeros``/``constant`` (fill ``value``), ``reflect``
    (``before, after < n``), ``replicate``, ``circular`` (``before, after <= n``), the limits of
    PyTorch's ``F.pad`` (checked by :func:`convgeom.padding.check_padding_mode`).
    """
    xa = as_float_array(x, "x")
    xcf = spatial_input(xa, channels_last, "pad")
    if mode not in PAD_MODES:
        raise GeometryError(
            f"unknown padding mode {mode!r}", fix="use one of " + ", ".join(repr(m) for m in PAD_MODES)
        )
    ndim = xcf.ndim - 2
    pairs = pad_pairs(pad, ndim)
    out = pad_channels_first(xcf, pairs, mode, value)
    return np.ascontiguousarray(np.moveaxis(out, 1, -1)) if channels_last else out


def pad_channels_first(x: Array, pairs: tuple[tuple[int, int], ...], mode: str, value: float = 0.0) -> Array:
    """:func:`pad` on a channels-first array with parsed pairs (no dtype checks)."""
    spatial = x.shape[2:]
    for axis, (n, (before, after)) in enumerate(zip(spatial, pairs)):
        kept = n + min(before, 0) + min(after, 0)
        if mode in ("reflect", "replicate"):
            if n + before + after < 0:
                raise GeometryError(
                    f"{mode} padding {(before, after)} on axis {axis} crops more than the {n} cells of the input",
                    f"PyTorch F.pad {mode}: input is too small. Calculated output size: {n + before + after}",
                    "crop less",
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
    if mode in ("zeros", "constant"):
        fill = 0.0 if mode == "zeros" else value
        shape = x.shape[:2] + tuple(n + b + a for n, (b, a) in zip(spatial, pairs))
        out = np.full(shape, fill, dtype=x.dtype)
        src: list[slice] = [slice(None), slice(None)]
        dst: list[slice] = [slice(None), slice(None)]
        for n, (before, after) in zip(spatial, pairs):
            src.append(slice(max(0, -before), n - max(0, -after)))
            dst.append(slice(max(0, before), max(0, before) + max(0, n - max(0, -before) - max(0, -after))))
        out[tuple(dst)] = x[tuple(src)]
        return out
    out = x
    for axis, (n, (before, after)) in enumerate(zip(spatial, pairs)):
        if before == 0 and after == 0:
            continue
        out = np.take(out, _axis_indices(mode, n, before, after), axis=axis + 2)
    return np.ascontiguousarray(out) if out is x else out
