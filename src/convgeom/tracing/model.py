"""The trace data model shared by every frontend: :class:`LayerRecord`, :class:`Finding`,
:class:`ModuleCall`, :class:`Trace`, and the :class:`GraphBuilder` frontends feed.

A frontend (PyTorch, ONNX, Keras) executes or reads a model op by op and reports each op to a
:class:`GraphBuilder`: its input tensors, output shapes, the engine geometry of windowed ops,
MACs and the receptive-field rule (:mod:`convgeom.tracing.rf`). Ops are grouped into *records*
(a PyTorch leaf module, one functional call, one ONNX node, one Keras layer). The builder keeps
the tensor graph and derives per-record totals and the peak activation memory.

Conventions (stated once, used everywhere):

* **MACs**: one multiply-accumulate = 1 MAC, counted for convolutions
  (``N * C_out * prod(out) * C_in/groups * prod(k)``), transposed convolutions
  (``N * C_in * prod(in) * C_out/groups * prod(k)``), linear layers and matrix products.
  Bias additions are counted separately (``bias_adds``, one per output element); element-wise
  ops, normalisation, activations and pooling count 0 MACs. **FLOPs = 2 x MACs** (bias adds
  excluded). torchinfo's "mult-adds" for a ``Conv*`` module equal ``macs + bias_adds`` here.
* **Activation memory**: bytes of each output tensor (``numel * itemsize``). The peak is
  computed from tensor lifetimes in the traced graph: a tensor is allocated by the op producing
  it and freed after its last consumer (views and in-place results share their base's storage;
  the model inputs and outputs stay alive throughout). It is the peak of live activations for an
  inference pass that frees tensors as early as possible; parameters are not included.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Optional, Union

from ..errors import GeometryError
from ..geometry import AdaptivePoolGeometry, LayerGeometry, ResizeGeometry
from .rf import MergeIssue, Shape, TensorRF

Geometry = Union[LayerGeometry, AdaptivePoolGeometry, ResizeGeometry]

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

SPATIAL_LABELS: dict[int, tuple[str, ...]] = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}


def axis_labels(n: int) -> tuple[str, ...]:
    return SPATIAL_LABELS.get(n, tuple(f"x{i}" for i in range(n)))


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
            "kernel": None if self.kernel is None else list(self.kernel),
            "stride": None if self.stride is None else list(self.stride),
            "padding": None if self.padding is None else [list(p) for p in self.padding],
            "dilation": None if self.dilation is None else list(self.dilation),
            "groups": self.groups, "params": self.params, "macs": self.macs, "flops": self.flops,
            "bias_adds": self.bias_adds, "output_bytes": self.output_bytes,
            "receptive_field": None if self.receptive_field is None else self.receptive_field.to_dict(),
            "inputs": list(self.inputs), "outputs": list(self.outputs),
            "attrs": dict(self.attrs),
        }


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


@dataclass(frozen=True)
class Trace:
    """Everything convgeom learnt from one model at one input shape (see the module docstring
    for the MAC and memory conventions)."""

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
            "conventions": {
                "macs": "1 multiply-accumulate = 1 MAC; bias additions counted separately (bias_adds)",
                "flops": "2 x MACs",
                "peak_activation_bytes": "live activation tensors from lifetimes in the traced graph",
            },
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
        def per_axis(rf: Optional[TensorRF], values: Optional[tuple[Fraction, ...]], whole: bool = False) -> list[str]:
            if values is None or rf is None:
                return [""] * len(axes)
            return [("whole" if (whole and w) else _num(v)) for v, w in zip(values, rf.whole)]

        for r in self.layers:
            rf = r.receptive_field
            writer.writerow([
                r.index, r.name, r.op, r.type, r.depth, _shape(r.input_shape), _shape(r.output_shape),
                _tup(r.kernel), _tup(r.stride),
                "" if r.padding is None else " ".join(f"{b}/{a}" for b, a in r.padding),
                _tup(r.dilation), "" if r.groups is None else r.groups, r.params, r.macs, r.bias_adds,
                r.output_bytes,
            ] + per_axis(rf, None if rf is None else rf.size, True) + per_axis(rf, None if rf is None else rf.stride)
                + per_axis(rf, None if rf is None else rf.padding))
        return buf.getvalue()

    def summary(self, depth: Optional[int] = None) -> str:
        """A plain-text table in the style of torchinfo / Keras ``summary()``."""
        from .report import render_text

        return render_text(self, depth=depth)

    def __str__(self) -> str:
        return self.summary()


def _num(v: Fraction) -> str:
    return str(v.numerator) if v.denominator == 1 else str(v)


def _shape(s: Optional[Shape]) -> str:
    return "" if s is None else "x".join(str(v) for v in s)


def _tup(v: Optional[tuple[int, ...]]) -> str:
    return "" if v is None else "x".join(str(x) for x in v)


# ================================================================================================
class ImpossibleInput(GeometryError):
    """The real model would fail for this input: ``layer`` names the record, ``shapes`` the
    tensors that disagree, ``nearest`` the closest input shapes that work (possibly empty)."""

    def __init__(self, problem: str, rule: str, fix: str, *, layer: str, shapes: Sequence[Shape],
                 nearest: Sequence[Shape], axis: Optional[int]) -> None:
        super().__init__(problem, rule, fix)
        self.layer = layer
        self.shapes = tuple(shapes)
        self.nearest = tuple(nearest)
        self.axis = axis


class TraceFailure(Exception):
    """Raised inside a frontend when the real model would fail for this input: names the
    record, what failed, the shapes involved and (where known) the model-input axis at fault."""

    def __init__(self, layer: str, problem: str, rule: str = "", shapes: Sequence[Shape] = (),
                 axis: Optional[int] = None, fix: str = "") -> None:
        super().__init__(problem)
        self.layer = layer
        self.problem = problem
        self.rule = rule
        self.shapes = tuple(shapes)
        self.axis = axis
        self.fix = fix


@dataclass
class _Tensor:
    shape: Shape
    itemsize: int
    storage: int
    rf: Optional[TensorRF]
    producer: int


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


class GraphBuilder:
    """Collects ops from a frontend and builds the :class:`Trace` (records, totals, memory).

    Frontends call :meth:`add_input` once per model input, :meth:`group` per record,
    :meth:`op` per executed op (several ops may share a group), then :meth:`finish`.
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

    # ----- tensors ----------------------------------------------------------------------------
    def add_input(self, shape: Shape, itemsize: int, rf: Optional[TensorRF]) -> int:
        tid = self._new_tensor(shape, itemsize, rf, -1, None)
        self.inputs.append(tid)
        return tid

    def _new_tensor(self, shape: Shape, itemsize: int, rf: Optional[TensorRF], producer: int,
                    alias: Optional[int]) -> int:
        tid = len(self.tensors)
        storage = tid if alias is None else self.tensors[alias].storage
        self.tensors.append(_Tensor(tuple(shape), itemsize, storage, rf, producer))
        return tid

    def shape(self, tid: int) -> Shape:
        return self.tensors[tid].shape

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

    def op(self, group: int, kind: str, inputs: Sequence[int], outputs: Sequence[tuple[Shape, int]],
           rfs: Sequence[Optional[TensorRF]], *, geometry: Optional[Geometry] = None,
           pads: Optional[tuple[tuple[int, int], ...]] = None, macs: int = 0, bias_adds: int = 0,
           params: int = 0, groups: Optional[int] = None, alias: Sequence[Optional[int]] = (),
           attrs: Optional[dict[str, str]] = None, issues: Sequence[MergeIssue] = ()) -> list[int]:
        """Record one op; returns the ids of its output tensors. ``alias[i]`` names the input
        whose storage output ``i`` shares (views, in-place ops)."""
        index = len(self.ops)
        out_ids = []
        for i, (shape, itemsize) in enumerate(outputs):
            a = alias[i] if i < len(alias) else None
            out_ids.append(self._new_tensor(shape, itemsize, rfs[i] if i < len(rfs) else None, index, a))
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
        if attrs:
            g.attrs.update(attrs)
        for issue in issues:
            self.findings.append(Finding(
                "misaligned-merge", "warning", g.name,
                f"branches merged by {kind} are not aligned along axis {axis_labels(self.spatial_ndim)[issue.axis]}: "
                f"{issue.describe()}; the receptive field reported is the union (Araujo et al. alignment rule)",
                "make the branches' effective strides and centres agree: equal total padding offsets "
                "(e.g. symmetric padding, or crop/pad one branch by the centre difference)",
                issue.axis,
            ))
        return out_ids

    def set_boundary(self, group: int, inputs: Sequence[int], outputs: Sequence[int]) -> None:
        """The tensors a record takes and returns (a leaf module's arguments and result)."""
        g = self.groups[group]
        g.inputs = list(inputs)
        g.outputs = list(outputs)

    def add_params(self, group: int, count: int) -> None:
        self.groups[group].params += count

    def add_attr(self, group: int, key: str, value: str) -> None:
        self.groups[group].attrs[key] = value

    def add_finding(self, finding: Finding) -> None:
        self.findings.append(finding)

    def add_module(self, call: ModuleCall) -> None:
        self.modules.append(call)

    # ----- the result ---------------------------------------------------------------------------
    def records(self) -> list[LayerRecord]:
        out: list[LayerRecord] = []
        for g in self.groups:
            inputs = g.inputs if g.inputs is not None else g.op_inputs
            outputs = g.outputs if g.outputs is not None else _outputs_of(g)
            kind = max(g.kinds, key=lambda k: KIND_PRIORITY.get(k, 3)) if g.kinds else "identity"
            kernel = stride = dilation = None
            padding: Optional[tuple[tuple[int, int], ...]] = None
            primary = next((geo for geo, k in zip(g.geometry, g.geometry_kind) if k == kind), None)
            if primary is None and g.geometry:
                primary = g.geometry[0]
            if isinstance(primary, LayerGeometry):
                kernel, stride, dilation = primary.kernel, primary.stride, primary.dilation
                padding = primary.pad
            for extra in g.pads:
                if padding is None:
                    padding = extra
                elif len(extra) == len(padding):
                    padding = tuple((b + eb, a + ea) for (b, a), (eb, ea) in zip(padding, extra))
            rf = self.tensors[outputs[0]].rf if outputs else None
            out.append(LayerRecord(
                index=len(out), name=g.name, op=kind, type=g.type, depth=g.depth,
                input_shapes=tuple(self.tensors[t].shape for t in inputs),
                output_shapes=tuple(self.tensors[t].shape for t in outputs),
                kernel=kernel, stride=stride, padding=padding, dilation=dilation,
                groups=g.groups if g.groups is not None else (primary.groups if isinstance(primary, LayerGeometry) and kind in ("conv", "conv_transpose") else None),
                params=g.params, macs=g.macs, bias_adds=g.bias_adds,
                output_bytes=sum(_nbytes(self.tensors[t]) for t in outputs),
                receptive_field=rf, geometry=tuple(g.geometry), inputs=tuple(inputs), outputs=tuple(outputs),
                call=g.call, framework=self.framework, attrs=tuple(sorted(g.attrs.items())),
            ))
        return out

    def peak_memory(self, outputs: Sequence[int]) -> tuple[int, int]:
        """``(peak bytes, op index at the peak)`` from storage lifetimes: allocated by the
        producing op, freed after the last op reading any tensor of that storage."""
        n_ops = len(self.ops)
        size: dict[int, int] = {}
        born: dict[int, int] = {}
        dies: dict[int, int] = {}
        for t in self.tensors:
            s = t.storage
            size[s] = max(size.get(s, 0), _nbytes(t))
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
            start = born[s] + 1
            end = dies[s] + 1
            delta[start] += b
            delta[end + 1] -= b
        best, at, live = 0, -1, 0
        for step in range(n_ops + 2):
            live += delta[step]
            if live > best:
                best, at = live, step - 1
        return best, at

    def finish(self, *, model: str, outputs: Sequence[int], params: int, trainable_params: int,
               param_bytes: int) -> Trace:
        records = self.records()
        peak, at = self.peak_memory(outputs)
        peak_layer = ""
        if 0 <= at < len(self.ops):
            peak_layer = self.groups[self.ops[at][0]].name
        out_rf = self.tensors[outputs[0]].rf if outputs else None
        in_rf = self.tensors[self.inputs[0]].rf if self.inputs else None
        last_spatial = None
        for rec in reversed(records):
            rf = rec.receptive_field
            shape = rec.output_shape
            if (rf is not None and shape is not None and not any(rf.whole)
                    and all(d is not None and d < len(shape) and shape[d] > 1 for d in rf.dims)):
                last_spatial = rf
                break
        return Trace(
            framework=self.framework, model=model,
            input_shapes=tuple(self.tensors[t].shape for t in self.inputs),
            output_shapes=tuple(self.tensors[t].shape for t in outputs),
            layers=tuple(records), params=params, trainable_params=trainable_params, param_bytes=param_bytes,
            macs=sum(r.macs for r in records), bias_adds=sum(r.bias_adds for r in records),
            activation_bytes=sum(r.output_bytes for r in records),
            peak_activation_bytes=peak, peak_layer=peak_layer, receptive_field=out_rf,
            spatial_axes=axis_labels(self.spatial_ndim), findings=tuple(self.findings),
            modules=tuple(self.modules), input_bytes=sum(_nbytes(self.tensors[t]) for t in self.inputs),
            last_spatial_receptive_field=last_spatial,
            input_spatial_dims=tuple(d for d in (in_rf.dims if in_rf is not None else ()) if d is not None),
        )


def _nbytes(t: _Tensor) -> int:
    n = 1
    for s in t.shape:
        n *= s
    return n * t.itemsize


def _outputs_of(g: _Group) -> list[int]:
    """A group's outputs when the frontend gave none: its ops' outputs not consumed inside it
    (the last op's outputs if all were)."""
    outs = [t for t in g.op_outputs if t not in g.consumed]
    return outs or g.op_outputs[-1:]


def shape_size(values: Sequence[Any]) -> int:
    """Number of elements of a shape (each entry converted with ``int``: torch/NumPy ints too)."""
    size = 1
    for v in values:
        size *= int(v)
    return size


def unknown_op_finding(where: str, what: str, count: int, unit: str, shape_source: str, kind: str,
                       detail: str = "") -> Finding:
    """The info finding for ``count`` calls (``unit``: call, node) of an op or layer (``kind``)
    convgeom does not understand: its shape came from ``shape_source``, its receptive field is
    passed through by shape."""
    calls = f"{count} {unit}{'s' if count > 1 else ''}{': ' + detail if detail else ''}"
    return Finding(
        "unknown-op", "info", where,
        f"{what} is not understood by convgeom ({calls}); its output shape comes from {shape_source} and its "
        "receptive field is passed through by shape (inexact)",
        f"nothing to fix in the model; tell convgeom about this {kind} for exact receptive fields")


def with_axis(shapes: Sequence[Shape], dim: int, size: int) -> list[Shape]:
    """``shapes`` with dimension ``dim`` of the first input set to ``size``."""
    first = list(shapes[0])
    first[dim] = size
    return [tuple(first)] + list(shapes[1:])


def nearest_sizes(n: int, accepts: Callable[[int], bool], limit: int) -> tuple[Optional[int], Optional[int]]:
    """The sizes nearest to ``n`` (at most ``limit`` away, one below and one above) that
    ``accepts``; ``None`` where there is none."""
    below = above = None
    for delta in range(1, limit + 1):
        if below is None and n - delta >= 1 and accepts(n - delta):
            below = n - delta
        if above is None and accepts(n + delta):
            above = n + delta
        if below is not None and above is not None:
            break
    return below, above


def broadcast(a: Shape, b: Shape) -> Optional[Shape]:
    """NumPy broadcasting of two shapes, ``None`` if they do not broadcast."""
    n = max(len(a), len(b))
    pa = (1,) * (n - len(a)) + tuple(a)
    pb = (1,) * (n - len(b)) + tuple(b)
    out = []
    for x, y in zip(pa, pb):
        if x == y or y == 1:
            out.append(x)
        elif x == 1:
            out.append(y)
        else:
            return None
    return tuple(out)

