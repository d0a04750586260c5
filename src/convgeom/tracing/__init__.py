"""Model analysis: trace PyTorch, ONNX and Keras models without allocating activations.

``trace(model, input_shape)`` returns a :class:`~convgeom.tracing.records.Trace`: one record per
executed layer/op with shapes, engine geometry, params, MACs, activation bytes and the
receptive field w.r.t. the model input (through DAGs, with the alignment check), plus totals,
the peak activation memory from tensor lifetimes, and diagnostics with computed fixes.
``summary(trace)`` is the table; ``valid_input_sizes`` lists the sizes a model accepts.

How it flows: :mod:`.api` checks the arguments (:mod:`.inputs`), :mod:`.registry` picks the
frontend (:mod:`.frontend`: ``torch_frontend``, ``onnx_frontend``, ``keras_frontend``), the
frontend translates each op into a :mod:`.builder` call (the conventions: shapes, MACs,
receptive fields of :mod:`.rf`) recorded in the :mod:`.graph`, which yields the :mod:`.records`;
a failure becomes :class:`ImpossibleInput` with the nearest working sizes (:mod:`.valid_sizes`);
:mod:`.diagnostics` adds the findings, :mod:`.report` renders them.

Frameworks are imported lazily: importing this package imports none of torch, onnx or keras.
"""

from __future__ import annotations

from ..errors import GeometryError
from .api import detect_framework, trace
from .failures import ImpossibleInput
from .records import Finding, LayerRecord, ModuleCall, Trace
from .report import summary
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
    "summary",
    "trace",
    "valid_input_sizes",
]
