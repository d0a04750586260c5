"""convgeom: exact convolution geometry for PyTorch, TensorFlow/Keras, JAX and ONNX.

``import convgeom`` loads nothing: each public name is imported from its module on first use
(PEP 562), so command-line tools and libraries that import convgeom pay only for what they
call. The core needs only the standard library; ``convgeom.ops`` needs NumPy and
``convgeom.trace`` the frontend's framework, both imported only when used.
"""

import sys

# Neither `typing` nor `importlib` is imported at run time: `typing` alone costs three times the
# rest of `import convgeom` (~17 of ~22 ms on the reference machine). mypy treats a
# module-level TYPE_CHECKING = False as typing.TYPE_CHECKING; the annotations are strings
# ("Any"), and __import__ + sys.modules does what importlib.import_module would.
TYPE_CHECKING = False

__version__ = "0.1.0"

#: public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "GeometryError": "convgeom.errors",
    "GeometryTypeError": "convgeom.errors",
    "RawPads": "convgeom.params",
    "AxisGeometry": "convgeom.geometry",
    "LayerGeometry": "convgeom.geometry",
    "AdaptivePoolGeometry": "convgeom.geometry",
    "ResizeGeometry": "convgeom.geometry",
    "conv": "convgeom.geometry",
    "conv_transpose": "convgeom.geometry",
    "max_pool": "convgeom.geometry",
    "avg_pool": "convgeom.geometry",
    "unfold": "convgeom.geometry",
    "adaptive_avg_pool": "convgeom.geometry",
    "adaptive_max_pool": "convgeom.geometry",
    "interpolate": "convgeom.geometry",
    "RFStep": "convgeom.receptive_field",
    "ReceptiveField": "convgeom.receptive_field",
    "explain": "convgeom.explanation",
    "explain_call": "convgeom.explanation",
    "same_padding": "convgeom.solve",
    "same_profile": "convgeom.solve",
    "padding_for_output": "convgeom.solve",
    "search": "convgeom.solve",
    "inverse_transpose": "convgeom.solve",
    "trace": "convgeom.tracing",
    "valid_input_sizes": "convgeom.tracing",
    "Trace": "convgeom.tracing",
    "LayerRecord": "convgeom.tracing",
    "Finding": "convgeom.tracing",
    "TensorRF": "convgeom.tracing",
    "ValidSizes": "convgeom.tracing",
    "ImpossibleInput": "convgeom.tracing",
    "port_weights": "convgeom.port",
}

#: subpackages with heavy dependencies, loaded on attribute access (``port`` is callable:
#: ``convgeom.port(...)`` ports a layer)
_SUBMODULES = ("ops", "tracing", "draw", "port")

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from typing import Any

    from . import draw
    from .errors import GeometryError, GeometryTypeError
    from .explanation import explain, explain_call
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
    from .port import port_weights
    from .receptive_field import ReceptiveField, RFStep
    from .solve import inverse_transpose, padding_for_output, same_padding, same_profile, search
    from .tracing import (
        Finding,
        ImpossibleInput,
        LayerRecord,
        TensorRF,
        Trace,
        ValidSizes,
        trace,
        valid_input_sizes,
    )


def _load(package: str, exports: "dict[str, str]", namespace: "dict[str, Any]", name: str,
          submodules: "tuple[str, ...]" = ()) -> "Any":
    """The PEP 562 ``__getattr__`` of ``package`` (this one, ``ops``, ``draw``, ``quiz``): the
    name from its module in ``exports`` (absolute, or relative to ``package``), kept in
    ``namespace`` so that later lookups skip ``__getattr__``; a name in ``submodules`` is that
    subpackage. ``__import__`` + ``sys.modules``, not importlib, which costs start-up time."""
    module_name = exports.get(name)
    if module_name is not None:
        module_name = package + module_name if module_name.startswith(".") else module_name
        __import__(module_name)
        value = getattr(sys.modules[module_name], name)
        namespace[name] = value
        return value
    if name in submodules:
        __import__(f"{package}.{name}")
        return sys.modules[f"{package}.{name}"]
    raise AttributeError(f"module {package!r} has no attribute {name!r}")


def __getattr__(name: str) -> "Any":
    return _load(__name__, _EXPORTS, globals(), name, _SUBMODULES)


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
