"""Port layers between PyTorch, Keras, JAX and ONNX exactly: the target framework's code for a
source layer (``port``), its kernel in the target's layout (``port_weights``), the function a
layer computes (``layer_spec``; dynamic modules call it) and ONNX models from ported node
dicts (``onnx_model``). Importing this package imports no framework.

The package is callable: ``convgeom.port(...)`` is :func:`port` whether ``convgeom.port`` has
been imported as this package or not (importing a submodule makes the package attribute the
module, so a plain function export named ``port`` would not survive it).
"""

from __future__ import annotations

import sys
import types
from typing import Any

from .api import Ported, PortError, finding_code, layer_spec, port, port_geometry, source_call, source_layer
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
    "finding_code",
    "layer_spec",
    "onnx_model",
    "port",
    "port_geometry",
    "port_weights",
    "source_call",
    "source_layer",
    "Verification",
    "verify",
]


class _CallablePackage(types.ModuleType):
    """``convgeom.port(...)`` calls :func:`port`."""

    def __call__(self, *args: Any, **kwargs: Any) -> Ported:
        return port(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
