"""Model analysis: trace PyTorch, ONNX and Keras models without allocating activations.

``trace(model, input_shape)`` returns a :class:`~convgeom.tracing.model.Trace`: one record per
executed layer/op with shapes, engine geometry, params, MACs, activation bytes and the
receptive field w.r.t. the model input (through DAGs, with the alignment check), plus totals,
the peak activation memory from tensor lifetimes, and diagnostics with computed fixes.

Frameworks are imported lazily: importing this package imports none of torch, onnx or keras.
"""

from __future__ import annotations

from ..errors import GeometryError
from .api import detect_framework, trace
from .model import Finding, ImpossibleInput, LayerRecord, ModuleCall, Trace
from .rf import TensorRF
from .valid_sizes import ValidSizes, valid_input_sizes

__all__ = [
    "Finding",
    "GeometryError",
    "ImpossibleInput",
    "LayerRecord",
    "ModuleCall",
    "TensorRF",
    "Trace",
    "ValidSizes",
    "detect_framework",
    "trace",
    "valid_input_sizes",
]
