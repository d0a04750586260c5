"""Shared helpers of the NumPy reference ops: array checks, layouts and the size limits."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .. import errors
from ..errors import GeometryError, GeometryTypeError
from ._numpy import np, npt

Array = npt.NDArray[Any]

DEFAULT_MAX_BUFFER_BYTES = 256 * 2**20
"""Default upper bound (256 MiB) on the im2col / col2im buffer of one chunk."""

DEFAULT_MAX_OUTPUT_BYTES = 4 * 2**30
"""Default upper bound (4 GiB) on the output of one op and on every working array whose size the
geometry sets (a padded copy of the input, the phase grid of a convolution; these may also take
up to twice the bytes of the op's input and output); an op that would need more refuses with a
:class:`convgeom.GeometryError` before it allocates anything."""

INT64_MAX = 2**63 - 1
"""Largest count or cap an option takes (every framework stores sizes as int64)."""

MAX_EXTENT = 2**62
"""Cap on the cells an axis spans (input, pads, window positions): the ops index in int64."""

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

_REAL_KINDS = "biuf"


def shown(value: object) -> str:
    """``value`` for a one-line message: an array by its shape and dtype, anything else as
    :func:`convgeom.errors.shown` writes it (huge integers by their size)."""
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    return errors.shown(value)


def wrong_type(name: str, value: object, wanted: str, fix: str = "") -> GeometryError:
    """The one-line error for a parameter of the wrong type, naming ``name``."""
    return GeometryTypeError(f"{name} must be {wanted}, got {shown(value)} ({type(value).__name__})",
                             fix=fix or f"pass {name} as {wanted}")


def check_count(value: object, name: str, default_text: str) -> int:
    """A positive integer option (a cap or a count): ints and NumPy integers, not bools."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, (bool, np.bool_)):
        raise wrong_type(name, value, "a positive integer", f"use the default {default_text} or another positive integer")
    if not 1 <= value <= INT64_MAX:
        raise GeometryError(f"{name} must be a positive integer of at most 2**63 - 1, got {shown(int(value))}",
                            fix=f"use the default {default_text} or another positive integer")
    return int(value)


def real_array(value: object, name: str) -> Array:
    """``np.asarray(value)`` for an array argument: a NumPy array or (nested) numbers of bool,
    integer or float dtype. Ragged lists, ``None``, strings, objects and complex numbers are
    refused in one line naming ``name``."""
    if value is None or isinstance(value, (str, bytes)):
        raise wrong_type(name, value, "an array of numbers", f"pass {name} as a NumPy array")
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError):
        raise GeometryError(f"{name} is not a rectangular array (nested lists of different lengths?)",
                            fix=f"pass {name} as a NumPy array with every row the same length") from None
    if arr.dtype.kind not in _REAL_KINDS:
        raise GeometryError(f"{name} has dtype {arr.dtype}; the ops take real numbers (bool, integers, floats)",
                            fix=f"pass {name} as a NumPy array of floats, e.g. {name}.astype(np.float32)")
    return arr


def as_float_array(value: object, name: str) -> Array:
    """``value`` as a float32/float64 array, the dtypes the convolutions and pools compute in."""
    arr = real_array(value, name)
    if arr.dtype not in FLOAT_DTYPES:
        raise GeometryError(
            f"{name} has dtype {arr.dtype}; the ops compute in float32 or float64 and return the input's dtype",
            fix=f"cast {name} with .astype(np.float32) or .astype(np.float64)",
        )
    return arr


def check_flag(value: object, name: str) -> bool:
    """A ``True``/``False`` option (NumPy bools too); anything else is refused."""
    if not isinstance(value, (bool, np.bool_)):
        raise wrong_type(name, value, "True or False")
    return bool(value)


def spatial_input(x: Array, channels_last: object, op: str) -> Array:
    """A channels-first view ``(N, C, *spatial)`` of ``x`` (no copy for channels-last input)."""
    last = check_flag(channels_last, "channels_last")
    if x.ndim < 3:
        layout = "(N, *spatial, C)" if last else "(N, C, *spatial)"
        raise GeometryError(
            f"{op} input x has shape {tuple(x.shape)}; expected {layout} with at least one spatial axis",
            fix="add the batch and channel axes, e.g. x[None, None] for a single-channel image",
        )
    return np.moveaxis(x, -1, 1) if last else x


def channels_last_out(out: Array, channels_last: bool) -> Array:
    """Return ``out`` (channels-first) in the caller's layout, contiguous."""
    if channels_last:
        return np.ascontiguousarray(np.moveaxis(out, 1, -1))
    return out


def check_buffer_limit(max_buffer_bytes: object) -> int:
    return check_count(max_buffer_bytes, "max_buffer_bytes", f"{DEFAULT_MAX_BUFFER_BYTES} (256 MiB)")


def check_output_limit(max_output_bytes: object) -> int:
    return check_count(max_output_bytes, "max_output_bytes", f"{DEFAULT_MAX_OUTPUT_BYTES} (4 GiB)")


def _bytes_text(count: int) -> str:
    if count >= 2**60:
        return f"about 2**{count.bit_length() - 1} bytes"
    for unit, size in (("PiB", 2**50), ("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= size:
            return f"{count / size:.3g} {unit}"
    return f"{count} bytes"


def check_array_size(what: str, shape: Sequence[int], itemsize: int, max_output_bytes: int,
                     data_bytes: int = 0) -> None:
    """Refuse, before allocating it, an array of ``shape`` larger than ``max_output_bytes`` or,
    for a working array (``data_bytes``: the bytes of the op's input and output), than twice
    ``data_bytes``: working arrays the size of the data are never refused, those that padding,
    stride or dilation blow up are.

    ``what`` names the array in the message (``"the output"``, ``"the padded input"``)."""
    count = math.prod(max(int(v), 0) for v in shape) * itemsize
    if count > max(max_output_bytes, 2 * data_bytes):
        also = " and twice the input and output" if data_bytes else ""
        raise GeometryError(
            f"{what} would have shape {_shape_text(shape)} ({_bytes_text(count)}), more than "
            f"max_output_bytes={max_output_bytes} ({_bytes_text(max_output_bytes)}){also}",
            fix="use smaller sizes, strides or paddings, or raise max_output_bytes",
        )


def _shape_text(shape: Sequence[int]) -> str:
    parts = [str(v) if abs(v) < 10**15 else f"a {int(v).bit_length()}-bit number" for v in shape]
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def check_extent(geo: Any) -> None:
    """Refuse a geometry whose axes span :data:`MAX_EXTENT` cells or more (input, both pads, the
    output's window starts and a window): the ops compute window positions in int64."""
    for axis, a in enumerate(geo.axes):
        reach = abs(a.input) + abs(a.pad_before) + abs(a.pad_after) + abs(a.output * a.stride) + a.kernel * a.dilation
        if reach >= MAX_EXTENT:
            raise GeometryError(
                f"axis {axis} spans about 2**{reach.bit_length() - 1} cells (input, padding, windows), "
                "past the ops' cap of 2**62",
                fix="use smaller sizes, paddings, strides or dilations", axis=axis,
            )


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
