"""Framework dialects: the one place that knows how PyTorch, TensorFlow/Keras, JAX and ONNX
Runtime turn a layer's parameters into per-side padding and an output size, and what each of
them refuses.

Each dialect is a small class (one module per framework: :mod:`.torch`, :mod:`.tensorflow`,
:mod:`.jax`, :mod:`.onnx`) behind the interface of :class:`~.base.Dialect`: one method per
windowed op (``conv``, ``conv_transpose``, ``max_pool``, ``avg_pool``, ``unfold``) that takes a
normalised :class:`Request` and returns a :class:`Plan` (per-axis pads, output, the rounding
rule and the note explaining the padding) or raises :class:`~convgeom.errors.GeometryError`,
plus ``adaptive_pool``, ``interpolate`` and ``inverse_transpose``. The rest of convgeom never
asks which framework it is. This module holds the registry and the one alias table.
Sources are cited per rule; see ``shared/reference/semantics.md`` for the compiled spec.
"""

from __future__ import annotations

from ..errors import GeometryError, GeometryTypeError, shown
from .base import AxisPlan, Dialect, Plan, Request
from .jax import Jax
from .onnx import Onnx
from .tensorflow import TensorFlow
from .torch import Torch

__all__ = ["ALIASES", "DIALECTS", "AxisPlan", "Dialect", "Plan", "Request", "canonical_framework", "get_dialect"]

DIALECTS: dict[str, Dialect] = {d.name: d for d in (Torch(), TensorFlow(), Jax(), Onnx())}
#: the one table of framework aliases (case-insensitive)
ALIASES = {"pytorch": "torch", "tf": "tensorflow", "keras": "tensorflow", "lax": "jax", "ort": "onnx",
           "onnxruntime": "onnx"}


def canonical_framework(framework: str) -> str:
    """The dialect name ('torch', 'tensorflow', 'jax', 'onnx') for a framework name or alias
    (``ALIASES``: 'pytorch', 'tf', 'keras', 'lax', 'ort', 'onnxruntime'), case-insensitive.
    A non-string raises :class:`GeometryTypeError`, an unknown name :class:`GeometryError`."""
    if not isinstance(framework, str):
        raise GeometryTypeError(f"framework must be a string, got {shown(framework)} ({type(framework).__name__})",
                                fix="use one of " + ", ".join(repr(k) for k in DIALECTS))
    key = ALIASES.get(framework.lower(), framework.lower())
    if key not in DIALECTS:
        raise GeometryError(
            f"unknown framework {shown(framework)}",
            fix="use one of " + ", ".join(repr(k) for k in DIALECTS),
        )
    return key


def get_dialect(framework: str) -> Dialect:
    return DIALECTS[canonical_framework(framework)]
