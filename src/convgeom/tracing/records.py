"""What a trace returns, as plain frozen data: :class:`LayerRecord` (one executed layer or op),
:class:`ModuleCall` (a container's span of records), :class:`Finding` (one diagnostic) and
:class:`Trace` (all of them plus the totals), with their dict / JSON / CSV forms.

The conventions behind the numbers (MACs, bias adds, FLOPs, activation memory) are those of
:mod:`convgeom.tracing.builder`, which fills these records. Tables for people are in
:mod:`convgeom.tracing.report`; nothing here renders.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Optional, Union

from .. import formatting as fmt
from ..geometry import AdaptivePoolGeometry, LayerGeometry, ResizeGeometry
from .rf import Shape, TensorRF

Geometry = Union[LayerGeometry, AdaptivePoolGeometry, ResizeGeometry]


@dataclass(frozen=True)
class Finding:
    """One diagnostic. ``severity`` is "error", "warning" or "info"; ``layer`` is a record name
    ("" for the whole model); ``fix`` is computed with the geometry engine where possible."""

    code: str
    severity: str
    layer: str
    message: str
    fix: str = ""
    axis: Optional[int] = None

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "severity": self.severity, "layer": self.layer,
                "message": self.message, "fix": self.fix, "axis": self.axis}

    def __str__(self) -> str:
        where = f" [{self.layer}]" if self.layer else ""
        fix = f" Fix: {self.fix}" if self.fix else ""
        return f"{self.severity}: {self.code}{where}: {self.message}{fix}"


@dataclass(frozen=True)
class LayerRecord:
    """One executed layer or op, in execution order.

    ``kernel``/``stride``/``dilation`` are per spatial axis of the op (None where they do not
    apply), ``padding`` per spatial axis as ``(before, after)`` (an ``F.pad`` in the same module
    is included; for a transposed conv it is the crop of the full output); ``input_shapes`` and
    ``output_shapes`` are full tensor shapes (batch and channels included). ``params`` counts the
    parameters the record owns at its first call (0 for later calls of a shared module).
    ``inputs``/``outputs`` are tensor ids linking records into the graph.
    """

    index: int
    name: str
    op: str
    type: str
    depth: int
    input_shapes: tuple[Shape, ...]
    output_shapes: tuple[Shape, ...]
    kernel: Optional[tuple[int, ...]] = None
    stride: Optional[tuple[int, ...]] = None
    padding: Optional[tuple[tuple[int, int], ...]] = None
    dilation: Optional[tuple[int, ...]] = None
    groups: Optional[int] = None
    params: int = 0
    macs: int = 0
    bias_adds: int = 0
    output_bytes: int = 0
    receptive_field: Optional[TensorRF] = None
    geometry: tuple[Geometry, ...] = field(default=(), compare=False, repr=False)
    inputs: tuple[int, ...] = ()
    outputs: tuple[int, ...] = ()
    call: int = 0
    framework: str = ""
    attrs: tuple[tuple[str, str], ...] = ()

    @property
    def input_shape(self) -> Optional[Shape]:
        return self.input_shapes[0] if self.input_shapes else None

    @property
    def output_shape(self) -> Optional[Shape]:
        return self.output_shapes[0] if self.output_shapes else None

    @property
    def flops(self) -> int:
        """``2 * macs`` (bias additions excluded)."""
        return 2 * self.macs

    def attr(self, key: str, default: str = "") -> str:
        return dict(self.attrs).get(key, default)

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index, "name": self.name, "op": self.op, "type": self.type, "depth": self.depth,
            "call": self.call,
            "input_shapes": [list(s) for s in self.input_shapes],
            "output_shapes": [list(s) for s in self.output_shapes],
            "kernel": _listed(self.kernel), "stride": _listed(self.stride),
            "padding": None if self.padding is None else [list(p) for p in self.padding],
            "dilation": _listed(self.dilation),
            "groups": self.groups, "params": self.params, "macs": self.macs, "flops": self.flops,
            "bias_adds": self.bias_adds, "output_bytes": self.output_bytes,
            "receptive_field": None if self.receptive_field is None else self.receptive_field.to_dict(),
            "inputs": list(self.inputs), "outputs": list(self.outputs),
            "attrs": dict(self.attrs),
        }

    def csv_cells(self, n_axes: int) -> list[object]:
        """This record's row of :meth:`Trace.to_csv`."""
        rf = self.receptive_field
        padding = "" if self.padding is None else " ".join(f"{b}/{a}" for b, a in self.padding)
        return [
            self.index, self.name, self.op, self.type, self.depth, fmt.dims(self.input_shape),
            fmt.dims(self.output_shape), fmt.dims(self.kernel), fmt.dims(self.stride), padding,
            fmt.dims(self.dilation), "" if self.groups is None else self.groups, self.params, self.macs,
            self.bias_adds, self.output_bytes,
        ] + _rf_cells(rf, n_axes, "size") + _rf_cells(rf, n_axes, "stride") + _rf_cells(rf, n_axes, "padding")


def _listed(values: Optional[tuple[int, ...]]) -> Optional[list[int]]:
    return None if values is None else list(values)


def _rf_cells(rf: Optional[TensorRF], n_axes: int, what: str) -> list[object]:
    """Per-axis CSV cells of a receptive field's ``size``/``stride``/``padding``; a size along an
    axis mixed away is "whole"."""
    if rf is None:
        return [""] * n_axes
    values: tuple[Fraction, ...] = getattr(rf, what)
    return [("whole" if what == "size" and w else fmt.fraction(v)) for v, w in zip(values, rf.whole)]


@dataclass(frozen=True)
class ModuleCall:
    """A container call (a module with children, a nested Keras model): the records
    ``first..last`` (indices into ``Trace.layers``) ran inside it."""

    name: str
    type: str
    depth: int
    input_shapes: tuple[Shape, ...]
    output_shapes: tuple[Shape, ...]
    first: int
    last: int


CONVENTIONS = {
    "macs": "1 multiply-accumulate = 1 MAC; bias additions counted separately (bias_adds)",
    "flops": "2 x MACs",
    "peak_activation_bytes": "live activation tensors from lifetimes in the traced graph",
}


@dataclass(frozen=True)
class Trace:
    """Everything convgeom learnt from one model at one input shape (the conventions are those of
    :mod:`convgeom.tracing.builder`). ``str(trace)`` is a one-line overview; the table is
    :func:`convgeom.tracing.summary`."""

    framework: str
    model: str
    input_shapes: tuple[Shape, ...]
    output_shapes: tuple[Shape, ...]
    layers: tuple[LayerRecord, ...]
    params: int
    trainable_params: int
    param_bytes: int
    macs: int
    bias_adds: int
    activation_bytes: int
    peak_activation_bytes: int
    peak_layer: str
    receptive_field: Optional[TensorRF]
    spatial_axes: tuple[str, ...]
    findings: tuple[Finding, ...] = ()
    modules: tuple[ModuleCall, ...] = ()
    input_bytes: int = 0
    last_spatial_receptive_field: Optional[TensorRF] = None
    input_spatial_dims: tuple[int, ...] = ()

    @property
    def input_shape(self) -> Shape:
        return self.input_shapes[0]

    @property
    def output_shape(self) -> Shape:
        return self.output_shapes[0] if self.output_shapes else ()

    @property
    def flops(self) -> int:
        """``2 * macs``."""
        return 2 * self.macs

    def layer(self, name: str) -> LayerRecord:
        """The first record called ``name``."""
        for rec in self.layers:
            if rec.name == name:
                return rec
        raise KeyError(name)

    def findings_with(self, code: str) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.code == code)

    def to_dict(self) -> dict[str, Any]:
        return {
            "framework": self.framework, "model": self.model,
            "input_shapes": [list(s) for s in self.input_shapes],
            "output_shapes": [list(s) for s in self.output_shapes],
            "spatial_axes": list(self.spatial_axes),
            "params": self.params, "trainable_params": self.trainable_params, "param_bytes": self.param_bytes,
            "macs": self.macs, "flops": self.flops, "bias_adds": self.bias_adds,
            "activation_bytes": self.activation_bytes, "peak_activation_bytes": self.peak_activation_bytes,
            "peak_layer": self.peak_layer, "input_bytes": self.input_bytes,
            "receptive_field": None if self.receptive_field is None else self.receptive_field.to_dict(),
            "last_spatial_receptive_field": (None if self.last_spatial_receptive_field is None
                                             else self.last_spatial_receptive_field.to_dict()),
            "conventions": dict(CONVENTIONS),
            "layers": [r.to_dict() for r in self.layers],
            "findings": [f.to_dict() for f in self.findings],
        }

    def to_json(self, indent: Optional[int] = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def to_csv(self) -> str:
        """One row per record: name, op, type, shapes, kernel/stride/padding/dilation/groups,
        params, MACs, bytes and the receptive field per axis."""
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        axes = self.spatial_axes
        writer.writerow(
            ["index", "name", "op", "type", "depth", "input_shape", "output_shape", "kernel", "stride",
             "padding", "dilation", "groups", "params", "macs", "bias_adds", "output_bytes"]
            + [f"rf_{a}" for a in axes] + [f"rf_stride_{a}" for a in axes] + [f"rf_padding_{a}" for a in axes]
        )
        for r in self.layers:
            writer.writerow(r.csv_cells(len(axes)))
        return buf.getvalue()

    def __str__(self) -> str:
        findings = f", {len(self.findings)} finding{'s' if len(self.findings) != 1 else ''}" if self.findings else ""
        return (f"Trace of {self.model} ({self.framework}): {fmt.dims(self.input_shape)} -> "
                f"{fmt.dims(self.output_shape)}, {len(self.layers)} layers, {self.params:,} params, "
                f"{self.macs:,} MACs{findings}")
