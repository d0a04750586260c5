"""Port layers between PyTorch, Keras, JAX and ONNX exactly: the target framework's code for a
source layer (``port``), its kernel in the target's layout (``port_weights``), the function a
layer computes (``layer_spec``; dynamic modules call it) and ONNX models from ported node
dicts (``onnx_model``). Importing this package imports no framework."""

from __future__ import annotations

from .api import Ported, PortError, layer_spec, port, port_geometry, source_call
from .exactness import AxisRule, ExactRule
from .onnx_model import onnx_model
from .spec import AxisSpec, LayerSpec, describe
from .verify import Verification, verify
from .weights import port_weights

__all__ = [
    "AxisRule",
    "AxisSpec",
    "ExactRule",
    "LayerSpec",
    "PortError",
    "Ported",
    "describe",
    "layer_spec",
    "onnx_model",
    "port",
    "port_geometry",
    "port_weights",
    "source_call",
    "Verification",
    "verify",
]
