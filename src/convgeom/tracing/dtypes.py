"""The one table of element types: each frontend names its tensors' dtypes in these words
(``float32``, ``int64``, ``bool``, ...), the graph counts bytes with :func:`itemsize`, and
``trace(..., dtype=)`` takes one of :data:`ACTIVATION_DTYPES`."""

from __future__ import annotations

from typing import Optional

from ..errors import GeometryError, GeometryTypeError, shown

#: bytes per element (numpy / torch / Keras spellings; ONNX's are mapped onto these)
ITEMSIZE: dict[str, int] = {
    "float16": 2, "bfloat16": 2, "float32": 4, "float64": 8,
    "int8": 1, "uint8": 1, "int16": 2, "uint16": 2, "int32": 4, "uint32": 4, "int64": 8, "uint64": 8,
    "bool": 1, "complex32": 4, "complex64": 8, "complex128": 16, "int4": 1, "uint4": 1,
    "float8_e4m3fn": 1, "float8_e4m3fnuz": 1, "float8_e5m2": 1, "float8_e5m2fnuz": 1,
    "qint8": 1, "quint8": 1, "qint32": 4, "quint4x2": 1, "quint2x4": 1,
}

#: other spellings of the same dtypes (torch's ``half``, C's ``float`` and ``double``)
ALIASES: dict[str, str] = {"half": "float16", "float": "float32", "double": "float64"}

#: what ``trace(..., dtype=)`` accepts for the activations
ACTIVATION_DTYPES = ("float32", "float16", "bfloat16", "float64")

#: the size of a dtype convgeom does not know (the common float32)
DEFAULT_ITEMSIZE = 4


def canonical(name: str) -> str:
    """``half`` -> ``float16``; other names unchanged."""
    return ALIASES.get(name, name)


def itemsize(name: str) -> int:
    """Bytes per element of dtype ``name`` (4 for a name not in :data:`ITEMSIZE`)."""
    return ITEMSIZE.get(canonical(name), DEFAULT_ITEMSIZE)


def activation_dtype(dtype: Optional[str]) -> Optional[str]:
    """The canonical name of the ``dtype`` argument of the tracing functions (None: each input's
    own dtype, float32 by default)."""
    if dtype is None:
        return None
    if not isinstance(dtype, str):
        raise GeometryTypeError(f"dtype must be a string such as 'float16', got {type(dtype).__name__}")
    name = canonical(dtype)
    if name not in ACTIVATION_DTYPES:
        raise GeometryError(f"unknown dtype {shown(dtype)}", fix="use one of " + ", ".join(ACTIVATION_DTYPES)
                            + " (or half, float, double)")
    return name
