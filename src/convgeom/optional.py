"""Optional dependencies: which extra installs each one, and the one way every feature imports
them. A missing one raises :class:`~convgeom.errors.MissingExtraError`, a one-line
``GeometryError`` (and a ``ModuleNotFoundError``) naming the extra:
``convgeom trace-op needs the numpy package, which is not installed; pip install 'convgeom[ops]'``.

* :func:`require` imports one module by name (``np = require("numpy", "convgeom trace-op")``);
* :func:`needed` wraps ``import`` statements, so that type checkers still see the modules
  (``with needed("convgeom.ops"): import numpy as np``);
* :func:`import_keras` imports Keras 3 with a backend that is installed.

A feature whose extra differs from the module's usual one says so (``extra="experiments"``:
the experiments extra installs NumPy and PyTorch as well). An import that fails on a module
that is no optional dependency (a bug, or the user's own code) is re-raised as it is.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any, Optional

from .errors import GeometryError, MissingExtraError

#: optional dependency (top-level module) -> the extra that installs it (README, "extras")
EXTRAS: dict[str, str] = {
    "numpy": "ops",
    "torch": "torch",
    "onnx": "onnx",
    "onnxruntime": "onnx",
    "keras": "keras",
    "jax": "jax",
    "jaxlib": "jax",
    "rich": "rich",
    "sklearn": "experiments",
    "matplotlib": "experiments",
    "tqdm": "experiments",
    "yaml": "experiments",
    "PIL": "experiments",
    "ray": "ray",
    "starlette": "web",
    "uvicorn": "web",
}
#: module -> the name pip installs it by, where they differ
PACKAGES: dict[str, str] = {"sklearn": "scikit-learn", "yaml": "PyYAML", "PIL": "Pillow"}
#: Keras 3's backends (module names): a missing one is Keras' missing dependency
KERAS_BACKENDS = ("tensorflow", "torch", "jax", "numpy", "openvino")


def _root(module: str) -> str:
    return module.partition(".")[0]


def extra_for(module: str) -> Optional[str]:
    """The extra that installs ``module`` (``'numpy.typing'`` -> ``'ops'``), or None."""
    return EXTRAS.get(_root(module))


def missing(feature: str, module: str, extra: Optional[str] = None) -> MissingExtraError:
    """The one-line error for ``feature`` when ``module`` is not installed (``extra``: the
    extra that installs it for this feature; default :data:`EXTRAS`'s)."""
    root = _root(module)
    return MissingExtraError(feature, PACKAGES.get(root, root), extra or EXTRAS.get(root), module=module)


@contextmanager
def needed(feature: str, extra: Optional[str] = None, modules: Collection[str] = ()) -> Iterator[None]:
    """Turn a ``ModuleNotFoundError`` for an optional dependency (one in :data:`EXTRAS` or
    ``modules``) raised inside the block into :func:`missing`'s one line."""
    try:
        yield
    except MissingExtraError:
        raise
    except ModuleNotFoundError as exc:
        root = _root(exc.name or "")
        if root not in EXTRAS and root not in modules:
            raise
        raise missing(feature, exc.name or root, extra) from exc


def require(module: str, feature: str, extra: Optional[str] = None) -> ModuleType:
    """``import module``, or :func:`missing`'s one line saying which extra installs it."""
    with needed(feature, extra or EXTRAS.get(_root(module)), modules=(_root(module),)):
        return importlib.import_module(module)


def import_keras(feature: str = "Keras models") -> Any:
    """``import keras`` (Keras 3). When no backend is configured (``KERAS_BACKEND`` or
    ``~/.keras/keras.json``) and TensorFlow, Keras' default, is not installed, PyTorch's or
    JAX's backend is chosen, whichever is installed, before Keras is first imported (Keras
    reads the setting once)."""
    if "keras" not in sys.modules and "KERAS_BACKEND" not in os.environ:
        backend = _configured_keras_backend()
        if importlib.util.find_spec(backend) is None:
            for candidate in ("torch", "jax"):
                if importlib.util.find_spec(candidate) is not None:
                    os.environ["KERAS_BACKEND"] = candidate
                    break
    with needed(feature, "keras", modules=KERAS_BACKENDS):
        keras = importlib.import_module("keras")
    version = str(getattr(keras, "__version__", "0"))
    if not version[:1].isdigit() or int(version.split(".")[0]) < 3:
        raise GeometryError(f"convgeom needs Keras 3, found keras {version}", fix="pip install -U 'keras>=3'")
    return keras


def _configured_keras_backend() -> str:
    """The backend module ``~/.keras/keras.json`` names (Keras' default: tensorflow)."""
    import json

    backend = "tensorflow"
    config = os.path.join(os.environ.get("KERAS_HOME", os.path.expanduser("~/.keras")), "keras.json")
    try:
        with open(config, encoding="utf-8") as fh:
            backend = str(json.load(fh).get("backend", backend))
    except (OSError, ValueError, AttributeError):
        pass
    return backend
