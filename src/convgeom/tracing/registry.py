"""Which frontend traces a model: the framework from the model's type or file suffix (or the
``framework`` argument, any name or alias :func:`convgeom.dialects.canonical_framework` knows),
the frontend for that dialect, imported now, and the model object (a file is loaded).

Dialect -> frontend: ``torch`` -> PyTorch (``torch_frontend``), ``tensorflow`` (alias ``keras``)
-> Keras 3 (``keras_frontend``), ``onnx`` -> ONNX (``onnx_frontend``); JAX has no model format
to trace. A framework that is not installed is one line naming the extra to install.
"""

from __future__ import annotations

import os
from typing import Any, Optional

from ..dialects import canonical_framework
from ..errors import GeometryError, GeometryTypeError, shown
from ..optional import needed
from . import dtypes, inputs
from .frontend import Frontend

#: dialect name -> (frontend name, what it traces, the extra that installs its framework)
FRONTENDS: dict[str, tuple[str, str, str]] = {
    "torch": ("torch", "PyTorch models", "torch"),
    "tensorflow": ("keras", "Keras models", "keras"),
    "onnx": ("onnx", "ONNX models", "onnx"),
}


def detect_framework(model: Any) -> str:
    """'torch', 'onnx' or 'keras' from the object's type (or a file's suffix), importing nothing."""
    if isinstance(model, (str, os.PathLike)):
        path = os.fspath(model)
        lower = str(path).lower()
        if lower.endswith(".onnx"):
            return "onnx"
        if lower.endswith((".keras", ".h5", ".hdf5")):
            return "keras"
        raise GeometryError(
            f"cannot tell the framework of {path!r}",
            fix="give an .onnx or .keras file, or pass framework='onnx'/'keras'")
    for cls in type(model).__mro__:
        module = cls.__module__ or ""
        if module.startswith("torch.nn") and cls.__name__ == "Module":
            return "torch"
        if module.startswith("onnx") and cls.__name__ == "ModelProto":
            return "onnx"
        if module.startswith("keras") and cls.__name__ in ("Model", "Layer", "Operation"):
            return "keras"
    raise GeometryTypeError(
        f"cannot trace a {type(model).__module__}.{type(model).__name__}",
        fix="pass a torch.nn.Module, an ONNX ModelProto or file, or a Keras 3 model")


def get_frontend(framework: str) -> Frontend:
    """The frontend for a framework name or alias (imports that framework now)."""
    if not isinstance(framework, str):
        raise GeometryTypeError(f"framework must be a string such as 'torch', got {type(framework).__name__}")
    try:
        dialect = canonical_framework(framework)
    except GeometryError:
        raise GeometryError(f"unknown framework {shown(framework)}", fix="use 'torch', 'onnx' or 'keras'") from None
    if dialect not in FRONTENDS:
        raise GeometryError(f"convgeom cannot trace {dialect} models (there is no {dialect} model format)",
                            fix="trace the model as PyTorch, ONNX or Keras")
    name, what, extra = FRONTENDS[dialect]
    with needed(f"tracing {what}", extra):
        if name == "torch":
            from . import torch_frontend as module
        elif name == "onnx":
            from . import onnx_frontend as module  # type: ignore[no-redef]
        else:
            from . import keras_frontend as module  # type: ignore[no-redef]
    return module.FRONTEND


def resolve(model: Any, framework: Optional[str], dtype: Optional[str]) -> tuple[Frontend, Any, Optional[str]]:
    """Check ``framework`` and ``dtype``, pick the frontend and load ``model`` if it is a path."""
    name = inputs.framework(framework)
    activation = dtypes.activation_dtype(dtype)
    frontend = get_frontend(name or detect_framework(model))
    if isinstance(model, (str, os.PathLike)):
        if frontend.load is None:
            raise GeometryError(f"{frontend.name} models cannot be loaded from files",
                                fix="pass the model object")
        model = frontend.load(os.fspath(model))
    return frontend, model, activation
