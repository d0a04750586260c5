"""The traced graph: tensors (shape, dtype, storage, receptive field), the ops between them and
the records they are grouped into; from it :meth:`Graph.finish` derives the records' totals, the
peak activation memory from tensor lifetimes and the :class:`Trace`.

A frontend never calls this module directly: :class:`~convgeom.tracing.builder.TraceBuilder`
adds the conventions (output shapes, MACs, receptive-field rules) on top of :meth:`Graph.op`.

Activation memory: bytes of each output tensor (``numel * itemsize``). The peak is computed from
tensor lifetimes: a tensor is allocated by the op producing it and freed after its last consumer
(views and in-place results share their base's storage; the model inputs and outputs stay alive
throughout). It is the peak of live activations for an inference pass that frees tensors as
early as possible; parameters are not included.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Optional

from ..formatting import axis_labels
from ..geometry import LayerGeometry
from .dtypes import itemsize
from .records import Finding, Geometry, LayerRecord, ModuleCall, Trace
from .rf import MergeIssue, Shape, TensorRF

#: Higher wins when a record holds several ops (e.g. a module's F.pad + F.conv2d is a "conv").
KIND_PRIORITY: dict[str, int] = {
    "conv": 100, "conv_transpose": 100, "linear": 95, "matmul": 90, "attention": 90,
    "max_pool": 85, "avg_pool": 85, "lp_pool": 85, "adaptive_avg_pool": 84, "adaptive_max_pool": 84,
    "interpolate": 83, "pixel_shuffle": 82, "pixel_unshuffle": 82, "unfold": 82, "fold": 82,
    "batch_norm": 60, "instance_norm": 60, "group_norm": 60, "layer_norm": 60, "norm": 59,
    "embedding": 58, "rnn": 95,
    "cat": 50, "stack": 50, "add": 45, "sub": 45, "mul": 45, "div": 45, "elementwise": 44,
    "reduce": 43, "softmax": 42, "activation": 46, "dropout": 35, "pad": 30, "slice": 25,
    "reshape": 20, "permute": 20, "expand": 20, "identity": 5, "constant": 1, "unknown": 2,
}

#: an op's output: its shape and dtype name (:mod:`convgeom.tracing.dtypes`)
Output = tuple[Shape, str]


@dataclass
class _Tensor:
    shape: Shape
    dtype: str
    storage: int
    rf: Optional[TensorRF]
    producer: int

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * itemsize(self.dtype)


@dataclass
class _Group:
    name: str
    type: str
    depth: int
    call: int = 0
    kinds: list[str] = field(default_factory=list)
    inputs: Optional[list[int]] = None
    outputs: Optional[list[int]] = None
    op_inputs: list[int] = field(default_factory=list)
    op_outputs: list[int] = field(default_factory=list)
    consumed: set[int] = field(default_factory=set)
    produced: set[int] = field(default_factory=set)
    geometry: list[Geometry] = field(default_factory=list)
    geometry_kind: list[str] = field(default_factory=list)
    pads: list[tuple[tuple[int, int], ...]] = field(default_factory=list)
    groups: Optional[int] = None
    params: int = 0
    macs: int = 0
    bias_adds: int = 0
    attrs: dict[str, str] = field(default_factory=dict)

    def boundary(self) -> tuple[list[int], list[int]]:
        """The tensors the record takes and returns: as the frontend set them, else its ops'
        inputs from outside and outputs not consumed inside (the last op's if all were)."""
        inputs = self.inputs if self.inputs is not None else self.op_inputs
        if self.outputs is not None:
            return inputs, self.outputs
        outs = [t for t in self.op_outputs if t not in self.consumed]
        return inputs, outs or self.op_outputs[-1:]


@dataclass(frozen=True)
class _Unknown:
    """Ops convgeom does not understand, by name: how they were shaped and where they ran."""

    what: str
    unit: str
    shape_source: str
    kind: str
    records: list[str] = field(default_factory=list)


class Graph:
    """Tensors, ops and records of one trace.

    Frontends (through the builder) call :meth:`add_input` once per model input, :meth:`group`
    per record, :meth:`op` per executed op (several ops may share a group), then :meth:`finish`.
    """

    def __init__(self, framework: str, spatial_ndim: int) -> None:
        self.framework = framework
        self.spatial_ndim = spatial_ndim
        self.tensors: list[_Tensor] = []
        self.ops: list[tuple[int, tuple[int, ...], tuple[int, ...]]] = []
        self.groups: list[_Group] = []
        self.findings: list[Finding] = []
        self.inputs: list[int] = []
        self.modules: list[ModuleCall] = []
        self._calls: dict[str, int] = {}
        self._unknown: dict[str, _Unknown] = {}

    # ----- tensors ----------------------------------------------------------------------------
    def add_input(self, shape: Shape, dtype: str, rf: Optional[TensorRF]) -> int:
        tid = self._new_tensor(shape, dtype, rf, -1, None)
        self.inputs.append(tid)
        return tid

    def _new_tensor(self, shape: Shape, dtype: str, rf: Optional[TensorRF], producer: int,
                    alias: Optional[int]) -> int:
        tid = len(self.tensors)
        storage = tid if alias is None else self.tensors[alias].storage
        self.tensors.append(_Tensor(tuple(shape), dtype, storage, rf, producer))
        return tid

    def shape(self, tid: int) -> Shape:
        return self.tensors[tid].shape

    def dtype(self, tid: int) -> str:
        return self.tensors[tid].dtype

    def rf(self, tid: int) -> Optional[TensorRF]:
        return self.tensors[tid].rf

    # ----- groups and ops ---------------------------------------------------------------------
    def group(self, name: str, type: str, depth: int) -> int:
        """Open a record; repeated names (a shared module called again) get ``call`` 1, 2, ..."""
        call = self._calls.get(name, -1) + 1
        self._calls[name] = call
        self.groups.append(_Group(name, type, depth, call))
        return len(self.groups) - 1

    def unique_name(self, name: str) -> str:
        """``name``, or ``name_1``, ``name_2``... if a record already has it (functional ops)."""
        if name not in self._calls:
            return name
        k = 1
        while f"{name}_{k}" in self._calls:
            k += 1
        return f"{name}_{k}"

    def op(self, group: int, kind: str, inputs: Sequence[int], outputs: Sequence[Output],
           rfs: Sequence[Optional[TensorRF]], *, geometry: Optional[Geometry] = None,
           pads: Optional[tuple[tuple[int, int], ...]] = None, macs: int = 0, bias_adds: int = 0,
           params: int = 0, groups: Optional[int] = None, alias: Sequence[Optional[int]] = (),
           attrs: Optional[dict[str, str]] = None, issues: Sequence[MergeIssue] = ()) -> list[int]:
        """Record one op; returns the ids of its output tensors. ``alias[i]`` names the input
        whose storage output ``i`` shares (views, in-place ops)."""
        index = len(self.ops)
        out_ids = [self._new_tensor(shape, dtype, rfs[i] if i < len(rfs) else None, index,
                                    alias[i] if i < len(alias) else None)
                   for i, (shape, dtype) in enumerate(outputs)]
        self.ops.append((group, tuple(inputs), tuple(out_ids)))
        g = self.groups[group]
        g.kinds.append(kind)
        for t in inputs:
            if t not in g.consumed:
                g.consumed.add(t)
                if t not in g.produced:
                    g.op_inputs.append(t)
        g.op_outputs.extend(out_ids)
        g.produced.update(out_ids)
        if geometry is not None:
            g.geometry.append(geometry)
            g.geometry_kind.append(kind)
        if pads is not None:
            g.pads.append(pads)
        if groups is not None:
            g.groups = groups
        g.params += params
        g.macs += macs
        g.bias_adds += bias_adds
        g.attrs.update(attrs or {})
        for issue in issues:
            self.findings.append(self._misaligned(g.name, kind, issue))
        return out_ids

    def _misaligned(self, layer: str, kind: str, issue: MergeIssue) -> Finding:
        label = axis_labels(self.spatial_ndim)[issue.axis]
        return Finding(
            "misaligned-merge", "warning", layer,
            f"branches merged by {kind} are not aligned along axis {label}: {issue.describe()}; the receptive "
            "field reported is the union (Araujo et al. alignment rule)",
            "make the branches' effective strides and centres agree: equal total padding offsets "
            "(e.g. symmetric padding, or crop/pad one branch by the centre difference)",
            issue.axis,
        )

    def set_boundary(self, group: int, inputs: Sequence[int], outputs: Sequence[int]) -> None:
        """The tensors a record takes and returns (a leaf module's arguments and result)."""
        g = self.groups[group]
        g.inputs = list(inputs)
        g.outputs = list(outputs)

    def add_params(self, group: int, count: int) -> None:
        self.groups[group].params += count

    def add_finding(self, finding: Finding) -> None:
        self.findings.append(finding)

    def add_module(self, call: ModuleCall) -> None:
        self.modules.append(call)

    def note_unknown(self, key: str, record: str, *, what: str, unit: str, shape_source: str,
                     kind: str) -> None:
        """Op or layer ``key`` is not understood (its shape came from ``shape_source``, its
        receptive field passed through by shape): one ``unknown-op`` finding per key."""
        entry = self._unknown.setdefault(key, _Unknown(what, unit, shape_source, kind))
        entry.records.append(record)

    # ----- the result ---------------------------------------------------------------------------
    def records(self) -> list[LayerRecord]:
        return [self._record(index, g) for index, g in enumerate(self.groups)]

    def _record(self, index: int, g: _Group) -> LayerRecord:
        inputs, outputs = g.boundary()
        kind = max(g.kinds, key=lambda k: KIND_PRIORITY.get(k, 3)) if g.kinds else "identity"
        primary = next((geo for geo, k in zip(g.geometry, g.geometry_kind) if k == kind), None)
        if primary is None and g.geometry:
            primary = g.geometry[0]
        windowed = primary if isinstance(primary, LayerGeometry) else None
        padding = None if windowed is None else windowed.pad
        for extra in g.pads:
            if padding is None:
                padding = extra
            elif len(extra) == len(padding):
                padding = tuple((b + eb, a + ea) for (b, a), (eb, ea) in zip(padding, extra))
        groups = g.groups
        if groups is None and windowed is not None and kind in ("conv", "conv_transpose"):
            groups = windowed.groups
        return LayerRecord(
            index=index, name=g.name, op=kind, type=g.type, depth=g.depth,
            input_shapes=tuple(self.tensors[t].shape for t in inputs),
            output_shapes=tuple(self.tensors[t].shape for t in outputs),
            kernel=None if windowed is None else windowed.kernel,
            stride=None if windowed is None else windowed.stride,
            padding=padding, dilation=None if windowed is None else windowed.dilation, groups=groups,
            params=g.params, macs=g.macs, bias_adds=g.bias_adds,
            output_bytes=sum(self.tensors[t].nbytes for t in outputs),
            receptive_field=self.tensors[outputs[0]].rf if outputs else None, geometry=tuple(g.geometry),
            inputs=tuple(inputs), outputs=tuple(outputs), call=g.call, framework=self.framework,
            attrs=tuple(sorted(g.attrs.items())),
        )

    def peak_memory(self, outputs: Sequence[int]) -> tuple[int, int]:
        """``(peak bytes, op index at the peak)`` from storage lifetimes: allocated by the
        producing op, freed after the last op reading any tensor of that storage."""
        n_ops = len(self.ops)
        size: dict[int, int] = {}
        born: dict[int, int] = {}
        dies: dict[int, int] = {}
        for t in self.tensors:
            s = t.storage
            size[s] = max(size.get(s, 0), t.nbytes)
            born[s] = min(born.get(s, t.producer), t.producer)
            dies[s] = max(dies.get(s, t.producer), t.producer)
        for index, (_, ins, _) in enumerate(self.ops):
            for tid in ins:
                s = self.tensors[tid].storage
                dies[s] = max(dies[s], index)
        for tid in list(outputs) + self.inputs:
            dies[self.tensors[tid].storage] = n_ops
        delta = [0] * (n_ops + 3)
        for s, b in size.items():
            delta[born[s] + 1] += b
            delta[dies[s] + 2] -= b
        best, at, live = 0, -1, 0
        for step in range(n_ops + 2):
            live += delta[step]
            if live > best:
                best, at = live, step - 1
        return best, at

    def report_unknown(self) -> None:
        """Add the ``unknown-op`` findings noted so far (one per op, at its first record); the
        trace's :meth:`finish` adds those not reported yet."""
        for _key, u in sorted(self._unknown.items()):
            n = len(u.records)
            shown = ", ".join(u.records[:3]) + (f" and {n - 3} more" if n > 3 else "")
            self.findings.append(Finding(
                "unknown-op", "info", u.records[0],
                f"{u.what} is not understood by convgeom ({n} {u.unit}{'s' if n > 1 else ''}: {shown}); its output "
                f"shape comes from {u.shape_source} and its receptive field is passed through by shape (inexact)",
                f"nothing to fix in the model; tell convgeom about this {u.kind} for exact receptive fields"))
        self._unknown.clear()

    def finish(self, *, model: str, outputs: Sequence[int], params: int, trainable_params: int,
               param_bytes: int) -> Trace:
        self.report_unknown()
        records = self.records()
        peak, at = self.peak_memory(outputs)
        peak_layer = self.groups[self.ops[at][0]].name if 0 <= at < len(self.ops) else ""
        in_rf = self.tensors[self.inputs[0]].rf if self.inputs else None
        return Trace(
            framework=self.framework, model=model,
            input_shapes=tuple(self.tensors[t].shape for t in self.inputs),
            output_shapes=tuple(self.tensors[t].shape for t in outputs),
            layers=tuple(records), params=params, trainable_params=trainable_params, param_bytes=param_bytes,
            macs=sum(r.macs for r in records), bias_adds=sum(r.bias_adds for r in records),
            activation_bytes=sum(r.output_bytes for r in records),
            peak_activation_bytes=peak, peak_layer=peak_layer,
            receptive_field=self.tensors[outputs[0]].rf if outputs else None,
            spatial_axes=axis_labels(self.spatial_ndim), findings=tuple(self.findings),
            modules=tuple(self.modules), input_bytes=sum(self.tensors[t].nbytes for t in self.inputs),
            last_spatial_receptive_field=_last_spatial(records),
            input_spatial_dims=tuple(d for d in (in_rf.dims if in_rf is not None else ()) if d is not None),
        )


def _last_spatial(records: Sequence[LayerRecord]) -> Optional[TensorRF]:
    """The receptive field of the last record whose output is still a spatial map (every axis
    local, size > 1): what a classifier's head sees before global pooling."""
    for rec in reversed(records):
        rf = rec.receptive_field
        shape = rec.output_shape
        if (rf is not None and shape is not None and not any(rf.whole)
                and all(d is not None and d < len(shape) and shape[d] > 1 for d in rf.dims)):
            return rf
    return None
