"""Shared helpers of the NumPy reference ops: array checks, layouts and the buffer limit."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import numpy.typing as npt

from ..errors import GeometryError

Array = npt.NDArray[Any]

DEFAULT_MAX_BUFFER_BYTES = 256 * 2**20
"""Default upper bound (256 MiB) on the im2col / col2im buffer of one chunk."""

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def as_float_array(value: object, name: str, dtype: Optional[np.dtype[Any]] = None) -> Array:
    """``value`` as a float32/float64 array; ``dtype`` (the input's) is imposed on weights and bias."""
    arr = np.asarray(value)
    if dtype is not None:
        if arr.dtype not in FLOAT_DTYPES and arr.dtype.kind not in "iub":
            raise GeometryError(
                f"{name} has dtype {arr.dtype}, expected float32 or float64",
                fix=f"cast {name} with .astype(np.float32) or .astype(np.float64)",
            )
        return arr.astype(dtype, copy=False)
    if arr.dtype not in FLOAT_DTYPES:
        raise GeometryError(
            f"{name} has dtype {arr.dtype}; the ops compute in float32 or float64 and return the input's dtype",
            fix=f"cast {name} with .astype(np.float32) or .astype(np.float64)",
        )
    return arr


def spatial_input(x: Array, channels_last: bool, op: str) -> Array:
    """A channels-first view ``(N, C, *spatial)`` of ``x`` (no copy for channels-last input)."""
    if x.ndim < 3:
        layout = "(N, *spatial, C)" if channels_last else "(N, C, *spatial)"
        raise GeometryError(
            f"{op} input has shape {tuple(x.shape)}; expected {layout} with at least one spatial axis",
            fix="add the batch and channel axes, e.g. x[None, None] for a single-channel image",
        )
    return np.moveaxis(x, -1, 1) if channels_last else x


def channels_last_out(out: Array, channels_last: bool) -> Array:
    """Return ``out`` (channels-first) in the caller's layout, contiguous."""
    if channels_last:
        return np.ascontiguousarray(np.moveaxis(out, 1, -1))
    return out


def check_buffer_limit(max_buffer_bytes: int) -> int:
    if not isinstance(max_buffer_bytes, (int, np.integer)) or max_buffer_bytes < 1:
        raise GeometryError(
            f"max_buffer_bytes must be a positive integer, got {max_buffer_bytes!r}",
            fix=f"use the default {DEFAULT_MAX_BUFFER_BYTES} (256 MiB) or another positive byte count",
        )
    return int(max_buffer_bytes)


def chunk_length(column_bytes: int, total: int, max_buffer_bytes: int, preferred_bytes: int) -> int:
    """Columns per chunk: ``min(total, limit // column_bytes, max(preferred // column_bytes, 256))``.

    Raises when not even one column of the buffer fits in ``max_buffer_bytes``.
    """
    if column_bytes > max_buffer_bytes:
        raise GeometryError(
            f"one column of the im2col buffer needs {column_bytes} bytes, more than "
            f"max_buffer_bytes={max_buffer_bytes}",
            fix=f"raise max_buffer_bytes to at least {column_bytes}",
        )
    limit = max_buffer_bytes // column_bytes
    preferred = max(preferred_bytes // column_bytes, 256)
    return max(1, min(total, limit, preferred))
