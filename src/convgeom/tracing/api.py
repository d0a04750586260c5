"""``convgeom.trace``: check the arguments, pick the frontend, trace, turn a failure into
:class:`ImpossibleInput` (with the nearest input shapes that work) and add the diagnostics."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Optional

from . import inputs
from .diagnostics import diagnose
from .failures import TraceFailure
from .records import Trace
from .registry import detect_framework, get_frontend, resolve
from .valid_sizes import impossible, make_probe

__all__ = ["detect_framework", "get_frontend", "trace"]


def trace(model: Any, input_shape: inputs.ShapeArg = None, framework: Optional[str] = None, *,
          dtype: Optional[str] = None, findings: bool = True) -> Trace:
    """Trace ``model`` for ``input_shape`` (batch and channels included, in the framework's
    layout: NCHW for PyTorch and ONNX, NHWC for Keras) without allocating activations.

    ``model`` is a ``torch.nn.Module``, an ONNX ``ModelProto`` or ``.onnx`` path, or a Keras 3
    model / ``.keras`` path; ``framework`` overrides the detection. For ONNX and Keras models with
    static input shapes ``input_shape`` may be omitted. ``dtype`` (float32, float16, bfloat16,
    float64) sets the activation dtype (default: the model's, else float32). Input shapes hold
    positive ints, at most 16 dims and 2**48 elements per input.

    Raises :class:`~convgeom.tracing.ImpossibleInput` (a :class:`GeometryError`) naming the
    layer, the shapes and the nearest input shapes that work, when the real model would fail;
    :class:`~convgeom.errors.UserCodeError` when the model's own code raises.
    """
    shapes = inputs.input_shapes(input_shape)
    want_findings = inputs.flag(findings, "findings")
    frontend, model, activation = resolve(model, framework, dtype)
    shapes = shapes or frontend.declared_shapes(model)
    try:
        result = frontend.run(model, shapes, activation)
    except TraceFailure as failure:
        raise impossible(failure, frontend, model, shapes, activation) from None
    if not want_findings:
        return result
    probe = make_probe(frontend, model, activation)
    return replace(result, findings=result.findings + tuple(diagnose(result, probe)))
