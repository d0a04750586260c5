"""NumPy reference ops matching ``torch.nn.functional``: padding, convolution, transposed
convolution, max/average/adaptive pooling, and a step-by-step trace of small ones.

Arrays are channels-first ``(N, C, *spatial)`` (``channels_last=True`` takes TensorFlow's
``(N, *spatial, C)``), float32 or float64 in and the same dtype out (``pad`` keeps any real
dtype). Every size, per-side pad and window comes from the geometry engine
(:func:`convgeom.conv` and friends), so the ops raise the same :class:`convgeom.GeometryError`
the engine does for a configuration the chosen framework refuses, and check the sizes of what
they allocate (``max_output_bytes``, :data:`DEFAULT_MAX_OUTPUT_BYTES`) before allocating it.

NumPy is imported when the first op is used (``convgeom trace-op`` starts without it);
without NumPy that raises :class:`convgeom.errors.MissingExtraError` naming ``convgeom[ops]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import _load

if TYPE_CHECKING:
    from ._common import DEFAULT_MAX_BUFFER_BYTES, DEFAULT_MAX_OUTPUT_BYTES
    from ._parallel import num_threads, set_num_threads
    from .convolution import conv, conv_transpose
    from .padding import pad
    from .pooling import adaptive_avg_pool, adaptive_max_pool, avg_pool, max_pool
    from .trace import OpTrace, Stage, WindowStep, seed_001, trace_avg_pool, trace_conv, trace_max_pool

_EXPORTS = {
    "DEFAULT_MAX_BUFFER_BYTES": "._common",
    "DEFAULT_MAX_OUTPUT_BYTES": "._common",
    "num_threads": "._parallel",
    "set_num_threads": "._parallel",
    "conv": ".convolution",
    "conv_transpose": ".convolution",
    "pad": ".padding",
    "adaptive_avg_pool": ".pooling",
    "adaptive_max_pool": ".pooling",
    "avg_pool": ".pooling",
    "max_pool": ".pooling",
    "OpTrace": ".trace",
    "Stage": ".trace",
    "WindowStep": ".trace",
    "seed_001": ".trace",
    "trace_avg_pool": ".trace",
    "trace_conv": ".trace",
    "trace_max_pool": ".trace",
}

__all__ = [
    "DEFAULT_MAX_BUFFER_BYTES",
    "DEFAULT_MAX_OUTPUT_BYTES",
    "OpTrace",
    "Stage",
    "WindowStep",
    "adaptive_avg_pool",
    "adaptive_max_pool",
    "avg_pool",
    "conv",
    "conv_transpose",
    "max_pool",
    "num_threads",
    "pad",
    "seed_001",
    "set_num_threads",
    "trace_avg_pool",
    "trace_conv",
    "trace_max_pool",
]


def __getattr__(name: str) -> Any:
    return _load(__name__, _EXPORTS, globals(), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
