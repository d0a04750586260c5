"""convgeom: exact convolution geometry for PyTorch, TensorFlow/Keras, JAX and ONNX.

The core imports nothing but the standard library; NumPy ops (``convgeom.ops``) and model
tracing (``convgeom.trace``) load their heavy dependencies only when used.
"""

from __future__ import annotations

from .errors import GeometryError
from .geometry import (
    AdaptivePoolGeometry,
    AxisGeometry,
    LayerGeometry,
    ResizeGeometry,
    adaptive_avg_pool,
    adaptive_max_pool,
    avg_pool,
    conv,
    conv_transpose,
    interpolate,
    max_pool,
    unfold,
)
from .params import RawPads
from .receptive_field import ReceptiveField, RFStep

__version__ = "0.1.0"

__all__ = [
    "AdaptivePoolGeometry",
    "AxisGeometry",
    "GeometryError",
    "LayerGeometry",
    "RFStep",
    "RawPads",
    "ReceptiveField",
    "ResizeGeometry",
    "adaptive_avg_pool",
    "adaptive_max_pool",
    "avg_pool",
    "conv",
    "conv_transpose",
    "interpolate",
    "max_pool",
    "unfold",
]
