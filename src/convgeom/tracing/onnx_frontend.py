"""ONNX frontend: read a model with the ``onnx`` package and walk its nodes in order.

No activation is ever computed: Conv, ConvTranspose, MaxPool/AveragePool/LpPool (auto_pad,
pads, strides, dilations, ceil_mode, count_include_pad), global pools, Pad, Resize/Upsample,
Concat, element-wise and broadcasting ops, Reshape/Flatten/Transpose/(Un)Squeeze/Slice/Split,
reductions, Softmax, MatMul/Gemm and normalisations get their output shapes from the geometry
engine (``framework="onnx"``, ONNX Runtime semantics) or from the attributes. Shape-computing
subgraphs (``Shape -> Gather -> Concat -> Reshape``) are constant-folded with the ONNX reference
evaluator on their small integer inputs. Any other op gets its shape from
``onnx.shape_inference`` on that single node and is reported as an ``unknown-op`` finding.

Parameters are the floating-point initializers (each counted once).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Optional

import numpy as np
import onnx
from onnx import helper, numpy_helper

from .. import geometry as geo
from ..errors import GeometryError
from ..padding import check_padding_mode
from ..receptive_field import RFStep
from . import rf as rfm
from .api import Frontend
from .model import GraphBuilder, Trace, TraceFailure, unknown_op_finding
from .rf import Shape, TensorRF

_ITEMSIZE: dict[int, int] = {
    onnx.TensorProto.FLOAT: 4, onnx.TensorProto.FLOAT16: 2, onnx.TensorProto.BFLOAT16: 2, onnx.TensorProto.DOUBLE: 8,
    onnx.TensorProto.INT64: 8, onnx.TensorProto.INT32: 4, onnx.TensorProto.INT16: 2, onnx.TensorProto.INT8: 1,
    onnx.TensorProto.UINT8: 1, onnx.TensorProto.UINT16: 2, onnx.TensorProto.UINT32: 4, onnx.TensorProto.UINT64: 8,
    onnx.TensorProto.BOOL: 1,
}
_FLOATS: set[int] = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.BFLOAT16, onnx.TensorProto.DOUBLE}
_DTYPES: dict[str, int] = {"float32": onnx.TensorProto.FLOAT, "float": onnx.TensorProto.FLOAT, "float16": onnx.TensorProto.FLOAT16,
           "half": onnx.TensorProto.FLOAT16, "float64": onnx.TensorProto.DOUBLE, "double": onnx.TensorProto.DOUBLE,
           "bfloat16": onnx.TensorProto.BFLOAT16}
_MAX_FOLD_ELEMENTS = 1 << 16


@dataclass
class _Val:
    """A tensor in the graph: its shape, element type, activation id (None for constants) and
    its value when known (initializers are read lazily)."""

    shape: Shape
    elem: int
    tid: Optional[int] = None
    value: Optional[np.ndarray] = None
    init: Optional[onnx.TensorProto] = None

    @property
    def itemsize(self) -> int:
        return _ITEMSIZE.get(self.elem, 4)

    def array(self) -> Optional[np.ndarray]:
        if self.value is None and self.init is not None:
            self.value = numpy_helper.to_array(self.init)
        return self.value


def _attrs(node: onnx.NodeProto) -> dict[str, Any]:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _str(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _padding(attrs: dict[str, Any], nd: int) -> Any:
    """auto_pad / pads -> the engine's padding argument."""
    auto = _str(attrs.get("auto_pad", "NOTSET")).upper()
    if auto == "SAME_UPPER":
        return "same"
    if auto == "SAME_LOWER":
        return "same_lower"
    if auto == "VALID":
        return "valid"
    pads = [int(p) for p in attrs.get("pads", [0] * (2 * nd))]
    if len(pads) != 2 * nd:
        raise GeometryError(f"pads has {len(pads)} values for {nd} spatial axes", "Attribute pads has incorrect size",
                            f"give {2 * nd} pads")
    return tuple((pads[i], pads[i + nd]) for i in range(nd))


class _OnnxTracer:
    def __init__(self, model: onnx.ModelProto, dtype: Optional[str]) -> None:
        self.model = model
        self.graph = model.graph
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)
        self.vals: dict[str, _Val] = {}
        self.builder: GraphBuilder
        self.unknown: dict[str, int] = {}
        self.node_name = ""
        self.dtype = dtype
        self.counted: set[str] = set()

    # ----- setup -------------------------------------------------------------------------------
    def inputs(self, shapes: list[Shape]) -> list[tuple[str, Shape, int]]:
        init_names = {i.name for i in self.graph.initializer}
        declared = [i for i in self.graph.input if i.name not in init_names]
        if shapes and len(shapes) != len(declared):
            raise GeometryError(f"the model has {len(declared)} input(s), {len(shapes)} shape(s) given",
                                fix="give one --input per model input")
        out = []
        for i, vi in enumerate(declared):
            tt = vi.type.tensor_type
            dims = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
            elem = tt.elem_type or onnx.TensorProto.FLOAT
            if self.dtype is not None:
                if self.dtype not in _DTYPES:
                    raise GeometryError(f"unknown dtype {self.dtype!r}", fix="use float32, float16, bfloat16 or float64")
                elem = _DTYPES[self.dtype]
            if shapes:
                shape = tuple(shapes[i])
                if tt.HasField("shape") and len(dims) != len(shape):
                    raise GeometryError(
                        f"input {vi.name!r} has rank {len(dims)} but the shape given has {len(shape)} dims",
                        fix="give " + ", ".join("N" if d is None else str(d) for d in dims))
                fixed = [(k, d) for k, d in enumerate(dims) if d not in (None, 0) and d != shape[k]]
                if fixed:
                    k, d = fixed[0]
                    raise TraceFailure(vi.name, f"input {vi.name!r} has a fixed size {d} on dim {k}, got {shape[k]}",
                                       "the model declares a static input shape", [tuple(shape)],
                                       (k - 2) if k >= 2 else None, f"use {d} on dim {k}")
            else:
                if any(d in (None, 0) for d in dims) or not dims:
                    raise GeometryError(
                        f"input {vi.name!r} has a dynamic shape ({', '.join('?' if d in (None, 0) else str(d) for d in dims)})",
                        fix="pass the input shape, e.g. --input 1,3,224,224")
                shape = tuple(int(d) for d in dims if d is not None)
            out.append((vi.name, shape, elem))
        return out

    def run(self, shapes: list[Shape]) -> Trace:
        ins = self.inputs(shapes)
        first = ins[0][1]
        spatial = list(range(2, len(first))) if len(first) >= 3 else []
        self.builder = GraphBuilder("onnx", len(spatial))
        for name, shape, elem in ins:
            sd = list(range(2, len(shape))) if len(shape) >= 3 else []
            rf = rfm.identity(len(spatial), sd) if len(sd) == len(spatial) else None
            tid = self.builder.add_input(shape, _ITEMSIZE.get(elem, 4), rf)
            self.vals[name] = _Val(shape, elem, tid)
        params = 0
        for init in self.graph.initializer:
            if init.name not in self.vals:
                self.vals[init.name] = _Val(tuple(int(d) for d in init.dims), init.data_type, init=init)
            if init.data_type in _FLOATS:
                params += math.prod(int(d) for d in init.dims)
        param_bytes = sum(math.prod(int(d) for d in i.dims) * _ITEMSIZE.get(i.data_type, 4)
                          for i in self.graph.initializer if i.data_type in _FLOATS)
        for index, node in enumerate(self.graph.node):
            self.node(node, index)
        outs = [self.vals[o.name].tid for o in self.graph.output if o.name in self.vals]
        out_ids = [t for t in outs if t is not None]
        for op, count in sorted(self.unknown.items()):
            self.builder.add_finding(unknown_op_finding(op, f"ONNX op {op}", count, "node", "onnx.shape_inference",
                                                        "op"))
        name = self.graph.name or "onnx model"
        return self.builder.finish(model=name, outputs=out_ids, params=params, trainable_params=params,
                                   param_bytes=param_bytes)

    # ----- helpers ------------------------------------------------------------------------------
    def val(self, name: str) -> Optional[_Val]:
        return self.vals.get(name) if name else None

    def fail(self, problem: str, rule: str = "", shapes: Sequence[Shape] = (), dim: Optional[int] = None,
             rf: Optional[TensorRF] = None, fix: str = "") -> TraceFailure:
        axis = rf.dims.index(dim) if (dim is not None and rf is not None and dim in rf.dims) else None
        return TraceFailure(self.node_name, problem, rule, shapes, axis, fix)

    def const(self, name: str) -> Optional[np.ndarray]:
        v = self.val(name)
        return None if v is None else v.array()

    def ints(self, name: str) -> Optional[list[int]]:
        arr = self.const(name)
        return None if arr is None else [int(x) for x in np.asarray(arr).reshape(-1)]

    def floats(self, name: str) -> Optional[list[float]]:
        arr = self.const(name)
        return None if arr is None else [float(x) for x in np.asarray(arr).reshape(-1)]

    def params_of(self, node: onnx.NodeProto) -> int:
        total = 0
        for name in node.input:
            v = self.vals.get(name)
            if v is not None and v.init is not None and v.elem in _FLOATS and name not in self.counted:
                self.counted.add(name)
                total += math.prod(v.shape)
        return total

    def emit(self, node: onnx.NodeProto, kind: str, inputs: Sequence[_Val],
             outputs: Sequence[tuple[Shape, int]], rfs: Sequence[Optional[TensorRF]], **extra: Any) -> None:
        group = self.builder.group(self.node_name, node.op_type, 1)
        in_ids = [v.tid for v in inputs if v.tid is not None]
        ids = self.builder.op(group, kind, in_ids, [(s, _ITEMSIZE.get(e, 4)) for s, e in outputs], rfs,
                              params=self.params_of(node), **extra)
        for name, tid, (shape, elem) in zip(node.output, ids, outputs):
            if name:
                self.vals[name] = _Val(tuple(shape), elem, tid)

    # ----- dispatch -----------------------------------------------------------------------------
    def node(self, node: onnx.NodeProto, index: int) -> None:
        self.node_name = node.name or f"{node.op_type}_{index}"
        ins = [self.val(n) for n in node.input]
        if any(n and v is None for n, v in zip(node.input, ins)):
            missing = next(n for n, v in zip(node.input, ins) if n and v is None)
            raise GeometryError(f"node {self.node_name!r} reads {missing!r}, which nothing produced",
                                "ONNX graphs must be topologically sorted", "check the file (onnx.checker)")
        live = [v for v in ins if v is not None and v.tid is not None]
        if not live and node.domain in ("", "ai.onnx"):
            self.fold(node, ins)
            return
        handler = _HANDLERS.get(node.op_type) if node.domain in ("", "ai.onnx") else None
        if handler is None:
            self.generic(node, ins)
            return
        handler(self, node, ins, _attrs(node))

    def fold(self, node: onnx.NodeProto, ins: list[Optional[_Val]]) -> None:
        """A node whose inputs are all constants: evaluate it (shape arithmetic, Constant, ...)."""
        attrs = _attrs(node)
        if node.op_type == "Constant":
            if "value" in attrs:
                value = numpy_helper.to_array(attrs["value"])
            elif "value_ints" in attrs:
                value = np.array(attrs["value_ints"], dtype=np.int64)
            elif "value_int" in attrs:
                value = np.array(attrs["value_int"], dtype=np.int64)
            elif "value_floats" in attrs:
                value = np.array(attrs["value_floats"], dtype=np.float32)
            elif "value_float" in attrs:
                value = np.array(attrs["value_float"], dtype=np.float32)
            else:
                self.generic(node, ins)
                return
            self.vals[node.output[0]] = _Val(tuple(value.shape), helper.np_dtype_to_tensor_dtype(value.dtype),
                                             value=value)
            return
        arrays = [None if v is None else v.array() for v in ins]
        small = all(a is None or a.size <= _MAX_FOLD_ELEMENTS for a in arrays)
        if small and all(a is not None or not n for a, n in zip(arrays, node.input)):
            try:
                from onnx.reference import ReferenceEvaluator

                model = _single_node_model(node, ins, self.opset, self.model, values=arrays)
                feeds = {n: a for n, a in zip(node.input, arrays) if n and a is not None}
                results = ReferenceEvaluator(model).run(None, feeds)
                for name, res in zip(node.output, results):
                    arr = np.asarray(res)
                    self.vals[name] = _Val(tuple(arr.shape), helper.np_dtype_to_tensor_dtype(arr.dtype), value=arr)
                return
            except Exception:  # fall back to shape inference (the value stays unknown)
                pass
        shapes = self.infer(node, ins)
        for name, (shape, elem) in zip(node.output, shapes):
            self.vals[name] = _Val(shape, elem)

    def infer(self, node: onnx.NodeProto, ins: list[Optional[_Val]]) -> list[tuple[Shape, int]]:
        """Output shapes of one node from onnx.shape_inference (constant inputs included)."""
        model = _single_node_model(node, ins, self.opset, self.model,
                                   values=[None if v is None else (v.array() if v.tid is None and v.init is None and v.value is not None else None) for v in ins],
                                   small_inits=True)
        try:
            inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True, data_prop=True)
        except Exception as exc:
            raise self.fail(f"{node.op_type} rejects its inputs: {str(exc).splitlines()[0][:300]}",
                            shapes=[v.shape for v in ins if v is not None]) from exc
        found = {vi.name: vi for vi in inferred.graph.output}
        out = []
        for name in node.output:
            vi = found.get(name)
            if vi is None or not vi.type.tensor_type.HasField("shape"):
                raise GeometryError(f"cannot infer the shape of {name!r} ({node.op_type} node {self.node_name!r})",
                                    "onnx.shape_inference gives no static shape", "use an ONNX file with static shapes")
            dims = [d.dim_value if d.HasField("dim_value") else None for d in vi.type.tensor_type.shape.dim]
            if any(d is None for d in dims):
                raise GeometryError(f"cannot infer a static shape for {name!r} ({node.op_type} node {self.node_name!r})",
                                    "onnx.shape_inference gives dynamic dims", "export the model with static shapes")
            out.append((tuple(int(d) for d in dims if d is not None), vi.type.tensor_type.elem_type))
        return out

    def generic(self, node: onnx.NodeProto, ins: list[Optional[_Val]], *, known: str = "") -> None:
        outs = self.infer(node, ins)
        live = [v for v in ins if v is not None and v.tid is not None]
        rfs: list[Optional[TensorRF]] = []
        for shape, _ in outs:
            if not live:
                rfs.append(None)
                continue
            src = live[0]
            rf = self.builder.rf(src.tid) if src.tid is not None else None
            rfs.append(None if rf is None else rfm.inexact(rfm.by_shape(rf, src.shape, shape)))
        if not known:
            self.unknown[node.op_type] = self.unknown.get(node.op_type, 0) + 1
        self.emit(node, known or "unknown", live, outs, rfs)


def _single_node_model(node: onnx.NodeProto, ins: list[Optional[_Val]], opset: int, parent: onnx.ModelProto,
                       values: Sequence[Optional[np.ndarray]] = (), small_inits: bool = False) -> onnx.ModelProto:
    inputs = []
    inits = []
    for i, (name, v) in enumerate(zip(node.input, ins)):
        if not name or v is None:
            continue
        value = values[i] if i < len(values) else None
        if small_inits and value is None and v.init is not None and math.prod(v.shape) <= _MAX_FOLD_ELEMENTS and v.elem not in _FLOATS:
            value = v.array()
        if small_inits and value is not None:
            inits.append(numpy_helper.from_array(np.asarray(value), name))
            continue
        inputs.append(helper.make_tensor_value_info(name, v.elem, list(v.shape)))
    outputs = [helper.make_tensor_value_info(n, onnx.TensorProto.UNDEFINED, None) for n in node.output if n]
    graph = helper.make_graph([node], "node", inputs, outputs, initializer=inits)
    model = helper.make_model(graph, opset_imports=list(parent.opset_import))
    model.ir_version = parent.ir_version or model.ir_version
    return model


# ================================================================================================
Handler = Callable[[_OnnxTracer, onnx.NodeProto, list[Optional[_Val]], dict[str, Any]], None]


def _x(ins: list[Optional[_Val]]) -> _Val:
    v = ins[0]
    assert v is not None
    return v


def _engine(tr: _OnnxTracer, x: _Val, nd: int, call: Callable[[], Any]) -> Any:
    try:
        return call()
    except GeometryError as exc:
        dim = None if exc.axis is None else len(x.shape) - nd + exc.axis
        rf = tr.builder.rf(x.tid) if x.tid is not None else None
        raise tr.fail(exc.problem, exc.rule, [x.shape], dim, rf, exc.fix) from exc


def _conv(tr: _OnnxTracer, node: onnx.NodeProto, ins: list[Optional[_Val]], attrs: dict[str, Any]) -> None:
    x, w = _x(ins), ins[1]
    assert w is not None
    nd = len(x.shape) - 2
    group = int(attrs.get("group", 1))
    kernel = tuple(int(k) for k in attrs.get("kernel_shape", w.shape[2:]))
    strides = tuple(int(s) for s in attrs.get("strides", [1] * nd))
    dil = tuple(int(d) for d in attrs.get("dilations", [1] * nd))
    rf = tr.builder.rf(x.tid) if x.tid is not None else None
    if node.op_type == "Conv":
        if x.shape[1] != w.shape[1] * group:
            raise tr.fail(f"Conv expects {w.shape[1] * group} input channels (weight {list(w.shape)}, group {group}), "
                          f"got {x.shape[1]}", shapes=[x.shape, w.shape])
        g = _engine(tr, x, nd, lambda: geo.conv(x.shape[2:], kernel, strides, _padding(attrs, nd), dil, group,
                                                 framework="onnx"))
        cout = w.shape[0]
        macs = x.shape[0] * cout * math.prod(g.output) * w.shape[1] * math.prod(kernel)
        kind = "conv"
    else:
        out_shape_attr = attrs.get("output_shape")
        op = attrs.get("output_padding")
        if x.shape[1] != w.shape[0]:
            raise tr.fail(f"ConvTranspose expects {w.shape[0]} input channels, got {x.shape[1]}", shapes=[x.shape, w.shape])
        pad_arg = _padding(attrs, nd)
        if out_shape_attr is not None and not isinstance(pad_arg, str):
            pad_arg = "valid" if not any(b or a for b, a in pad_arg) else pad_arg
        osize = None if out_shape_attr is None else tuple(int(v) for v in list(out_shape_attr)[-nd:])
        g = _engine(tr, x, nd, lambda: geo.conv_transpose(
            x.shape[2:], kernel, strides, pad_arg, None if op is None else tuple(int(v) for v in op), dil,
            output_size=osize, groups=group, framework="onnx"))
        cout = w.shape[1] * group
        macs = x.shape[0] * x.shape[1] * math.prod(x.shape[2:]) * w.shape[1] * math.prod(kernel)
        kind = "conv_transpose"
    bias = len(node.input) > 2 and bool(node.input[2])
    out_shape = (x.shape[0], cout) + tuple(g.output)
    dims = list(range(2, 2 + nd))
    out_rf = None if rf is None else rfm.apply_steps(rf, dims, g.rf_steps, [1] if group < x.shape[1] else [])
    tr.emit(node, kind, [x], [(out_shape, x.elem)], [out_rf], geometry=g, macs=macs,
            bias_adds=math.prod(out_shape) if bias else 0, groups=group,
            attrs={"auto_pad": _str(attrs["auto_pad"])} if "auto_pad" in attrs else None)


def _pool(tr: _OnnxTracer, node: onnx.NodeProto, ins: list[Optional[_Val]], attrs: dict[str, Any]) -> None:
    x = _x(ins)
    nd = len(x.shape) - 2
    kernel = tuple(int(k) for k in attrs["kernel_shape"])
    strides = tuple(int(s) for s in attrs.get("strides", [1] * nd))
    dil = tuple(int(d) for d in attrs.get("dilations", [1] * nd))
    ceil = bool(attrs.get("ceil_mode", 0))
    rf = tr.builder.rf(x.tid) if x.tid is not None else None
    if node.op_type == "MaxPool" or node.op_type == "LpPool":
        g = _engine(tr, x, nd, lambda: geo.max_pool(x.shape[2:], kernel, strides, _padding(attrs, nd), dil, ceil,
                                                     framework="onnx"))
        kind = "max_pool" if node.op_type == "MaxPool" else "lp_pool"
    else:
        g = _engine(tr, x, nd, lambda: geo.avg_pool(x.shape[2:], kernel, strides, _padding(attrs, nd), ceil,
                                                     bool(attrs.get("count_include_pad", 0)), dilation=dil,
                                                     framework="onnx"))
        kind = "avg_pool"
    out_shape = tuple(x.shape[:2]) + tuple(g.output)
    out_rf = None if rf is None else rfm.apply_steps(rf, list(range(2, 2 + nd)), g.rf_steps)
    outs = [(out_shape, x.elem)]
    if len(node.output) > 1 and node.output[1]:
        outs.append((out_shape, onnx.TensorProto.INT64))
    tr.emit(node, kind, [x], outs, [out_rf] * len(outs), geometry=g, attrs={"ceil_mode": "True"} if ceil else None)


def _global_pool(tr: _OnnxTracer, node: onnx.NodeProto, ins: list[Optional[_Val]], attrs: dict[str, Any]) -> None:
    x = _x(ins)
    nd = len(x.shape) - 2
    g = geo.adaptive_avg_pool(x.shape[2:], 1) if nd else None
    rf = tr.builder.rf(x.tid) if x.tid is not None else None
    out_shape = tuple(x.shape[:2]) + (1,) * nd
    out_rf = None if rf is None or g is None else rfm.apply_steps(rf, list(range(2, 2 + nd)), g.rf_steps)
    tr.emit(node, "adaptive_avg_pool" if "Average" in node.op_type else "adaptive_max_pool", [x],
            [(out_shape, x.elem)], [out_rf], geometry=g)


def _pad(tr: _OnnxTracer, node: onnx.NodeProto, ins: list[Optional[_Val]], attrs: dict[str, Any]) -> None:
    x = _x(ins)
    n = len(x.shape)
    pads = [int(p) for p in attrs["pads"]] if "pads" in attrs else tr.ints(node.input[1]) if len(node.input) > 1 else None
    if pads is None:
        tr.generic(node, ins, known="pad")
        return
    axes = list(range(n))
    if len(node.input) > 3 and node.input[3]:
        given = tr.ints(node.input[3])
        if given is None:
            tr.generic(node, ins, known="pad")
            return
        axes = [a + n if a < 0 else a for a in given]
    k = len(axes)
    if len(pads) != 2 * k:
        raise tr.fail(f"Pad has {len(pads)} pads for {k} axes", shapes=[x.shape])
    mode = _str(attrs.get("mode", "constant"))
    out = list(x.shape)
    rf = tr.builder.rf(x.tid) if x.tid is not None else None
    dims, befores = [], []
    for i, d in enumerate(axes):
        before, after = pads[i], pads[i + k]
        if mode in ("reflect", "wrap"):
            try:
                check_padding_mode("reflect" if mode == "reflect" else "circular", x.shape[d], before, after, d)
            except GeometryError as exc:
                raise tr.fail(exc.problem, exc.rule, [x.shape], d, rf, exc.fix) from exc
        out[d] = x.shape[d] + before + after
        if out[d] < 0:
            raise tr.fail(f"Pad gives a negative size {out[d]} on dim {d}", shapes=[x.shape], dim=d, rf=rf)
        if before or after:
            dims.append(d)
            befores.append(before)
    out_rf = None if rf is None else rfm.apply_steps(rf, dims, rfm.steps_for_pad(befores))
    spatial = range(2, n)
    per_axis = {d: (pads[i], pads[i + k]) for i, d in enumerate(axes)}
    tr.emit(node, "pad", [x], [(tuple(out), x.elem)], [out_rf],
            pads=tuple(per_axis.get(d, (0, 0)) for d in spatial), attrs={"pad_mode": mode})


_RESIZE_MODES = {"nearest": "nearest", "linear": "linear", "cubic": "cubic", "bilinear": "linear"}


def _resize(tr: _OnnxTracer, node: onnx.NodeProto, ins: list[Optional[_Val]], attrs: dict[str, Any]) -> None:
    x = _x(ins)
    n = len(x.shape)
    scales: Optional[list[float]] = None
    sizes: Optional[list[int]] = None
    if node.op_type == "Upsample":
        scales = [float(s) for s in attrs["scales"]] if "scales" in attrs else tr.floats(node.input[1])
    else:
        if len(node.input) > 3 and node.input[3]:
            sizes = tr.ints(node.input[3])
        if sizes is None and len(node.input) > 2 and node.input[2]:
            scales = tr.floats(node.input[2])
        if sizes is None and not scales and len(node.input) > 1 and node.input[1] and tr.opset < 11:
            scales = tr.floats(node.input[1])
    axes = [int(a) for a in attrs.get("axes", range(n))]
    if (sizes is None and not scales) or len(axes) != n:
        tr.generic(node, ins, known="interpolate")
        return
    full_sizes = list(x.shape)
    full_scales = [1.0] * n
    if sizes:
        for a, size in zip(axes, sizes):
            full_sizes[a] = int(size)
    else:
        assert scales is not None
        for a, scale in zip(axes, scales):
            full_scales[a] = float(scale)
    if any(full_scales[d] != 1.0 for d in (0, 1)) or any(full_sizes[d] != x.shape[d] for d in (0, 1) if sizes):
        tr.generic(node, ins, known="interpolate")
        return
    mode = _RESIZE_MODES.get(_str(attrs.get("mode", "nearest")).lower(), "nearest")
    sp = x.shape[2:]
    rf = tr.builder.rf(x.tid) if x.tid is not None else None
    try:
        if sizes:
            g = geo.interpolate(sp, size=tuple(full_sizes[2:]), mode=mode, framework="onnx")
        else:
            g = geo.interpolate(sp, scale_factor=tuple(full_scales[2:]), mode=mode, framework="onnx")
    except GeometryError as exc:
        raise tr.fail(exc.problem, exc.rule, [x.shape], fix=exc.fix) from exc
    align = _str(attrs.get("coordinate_transformation_mode", "half_pixel")) == "align_corners"
    nearest = g.rf_steps
    if not sizes and mode == "nearest":
        nearest = tuple(RFStep(Fraction(1), 1 / Fraction(s).limit_denominator(1 << 20), Fraction(0))
                        for s in full_scales[2:])
    steps = rfm.steps_for_resize(sp, g.output, mode, align, nearest)
    out_rf = None if rf is None else rfm.apply_steps(rf, list(range(2, n)), steps)
    tr.emit(node, "interpolate", [x], [(tuple(x.shape[:2]) + tuple(g.output), x.elem)], [out_rf], geometry=g,
            attrs={"mode": mode})


def _broadcast(shapes: Sequence[Shape]) -> Optional[Shape]:
    n = max((len(s) for s in shapes), default=0)
    out = [1] * n
    for s in shapes:
        padded = (1,) * (n - len(s)) + tuple(s)
        for i, v in enumerate(padded):
            if v == out[i] or v == 1:
                continue
            if out[i] == 1:
                out[i] = v
            else:
                return None
    return tuple(out)


_ELEMENTWISE_KIND = {"Add": "add", "Sub": "sub", "Mul": "mul", "Div": "div"}
_BOOL_OUT = {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor", "Not", "IsNaN", "IsInf"}


def _elementwise(tr: _OnnxTracer, node: onnx.NodeProto, ins: list[Optional[_Val]], attrs: dict[str, Any]) -> None:
    vals = [v for v in ins if v is not None]
    shapes = [v.shape for v in vals]
    out = _broadcast(shapes)
    live = [v for v in vals if v.tid is not None]
    if out is None:
        a, b = shapes[0], shapes[1] if len(shapes) > 1 else shapes[0]
        n = max(len(a), len(b))
        pa, pb = (1,) * (n - len(a)) + a, (1,) * (n - len(b)) + b
        bad = next((i for i in range(n - 1, -1, -1) if pa[i] != pb[i] and 1 not in (pa[i], pb[i])), 0)
        src = live[0]
        rf = tr.builder.rf(src.tid) if src.tid is not None else None
        raise tr.fail(f"{node.op_type}: shapes {a} and {b} do not broadcast (size {pa[bad]} vs {pb[bad]} at dim {bad})",
                      "ONNX multidirectional broadcasting", [a, b], bad - (n - len(src.shape)), rf)
    merged, issues = rfm.merge([(tr.builder.rf(v.tid) if v.tid is not None else None, v.shape) for v in live], out)
    elem = onnx.TensorProto.BOOL if node.op_type in _BOOL_OUT else (
        next((v.elem for v in vals if v.elem in _FLOATS), vals[0].elem) if node.op_type != "Where" else vals[1].elem)
    if node.op_type == "Cast":
        elem = int(attrs.get("to", elem))
    kind = _ELEMENTWISE_KIND.get(node.op_type, "activation" if node.op_type in _ACTIVATIONS else "elementwise")
    outs = [(out, elem)] + [(out, onnx.TensorProto.BOOL)] * (len([o for o in node.output if o]) - 1)
    tr.emit(node, kind, live, outs, [merged] * len(outs), issues=issues)


def _norm(tr: _OnnxTracer, node: onnx.NodeProto, ins: list[Optional[_Val]], attrs: dict[str, Any]) -> None:
    x = _x(ins)
    rf = tr.builder.rf(x.tid) if x.tid is not None else None
    if node.op_type == "BatchNormalization":
        scale = ins[1]
        if scale is not None and len(x.shape) > 1 and math.prod(scale.shape) != x.shape[1]:
            raise tr.fail(f"BatchNormalization scale has {math.prod(scale.shape)} values for {x.shape[1]} channels",
                          shapes=[x.shape, scale.shape])
        context = False
        kind = "batch_norm"
    elif node.op_type == "LayerNormalization":
        axis = int(attrs.get("axis", -1))
        axis = axis + len(x.shape) if axis < 0 else axis
        context = rf is not None and any(d is not None and d >= axis and x.shape[d] > 1 for d in rf.dims)
        kind = "layer_norm"
    else:
        context = math.prod(x.shape[2:]) > 1
        kind = "instance_norm" if node.op_type == "InstanceNormalization" else "group_norm"
    out_rf = None if rf is None else (rfm.with_context(rf) if context else rf)
    outs = [(x.shape, x.elem)]
    tr.emit(node, kind, [x], outs, [out_rf])
    for extra in node.output[1:]:
        if extra:
            tr.vals[extra] = _Val((x.shape[1],) if len(x.shape) > 1 else (), x.elem)


def _gemm(tr: _OnnxTracer, node: onnx.NodeProto, ins: list[Optional[_Val]], attrs: dict[str, Any]) -> None:
    a, b = ins[0], ins[1]
    assert a is not None and b is not None
    if node.op_type == "Gemm":
        m, k = (a.shape[1], a.shape[0]) if attrs.get("transA", 0) else (a.shape[0], a.shape[1])
        k2, n = (b.shape[1], b.shape[0]) if attrs.get("transB", 0) else (b.shape[0], b.shape[1])
        if k != k2:
            raise tr.fail(f"Gemm: inner dimensions {k} and {k2} differ", shapes=[a.shape, b.shape])
        out: Shape = (m, n)
        macs = m * n * k
        bias = len(node.input) > 2 and bool(node.input[2])
    else:
        sa, sb = list(a.shape), list(b.shape)
        va = [1] + sa if len(sa) == 1 else sa
        vb = sb + [1] if len(sb) == 1 else sb
        if va[-1] != vb[-2]:
            raise tr.fail(f"MatMul: inner dimensions {va[-1]} and {vb[-2]} differ", shapes=[a.shape, b.shape])
        batch = _broadcast([tuple(va[:-2]), tuple(vb[:-2])])
        if batch is None:
            raise tr.fail("MatMul: batch dims do not broadcast", shapes=[a.shape, b.shape])
        full = tuple(batch) + (va[-2], vb[-1])
        out = tuple(d for i, d in enumerate(full) if not ((len(sa) == 1 and i == len(full) - 2) or (len(sb) == 1 and i == len(full) - 1)))
        macs = math.prod(full) * va[-1]
        bias = False
    rfs = []
    for v, pos in ((a, 0), (b, 1)):
        if v.tid is None:
            continue
        rf = tr.builder.rf(v.tid)
        if rf is None:
            continue
        n = len(v.shape)
        contracted = n - 1 if pos == 0 else max(n - 2, 0)
        if node.op_type == "Gemm":
            contracted = (0 if attrs.get("transA", 0) else 1) if pos == 0 else (1 if attrs.get("transB", 0) else 0)
        rfs.append(rfm.shift(rfm.drop(rf, contracted), len(out) - n, len(out)))
    merged: Optional[TensorRF] = None
    for r in rfs:
        merged = rfm.join(merged, r)
    live = [v for v in (a, b) if v.tid is not None]
    tr.emit(node, "linear" if node.op_type == "Gemm" else "matmul", live, [(out, a.elem)], [merged], macs=macs,
            bias_adds=math.prod(out) if bias else 0)


def _concat(tr: _OnnxTracer, node: onnx.NodeProto, ins: list[Optional[_Val]], attrs: dict[str, Any]) -> None:
    vals = [v for v in ins if v is not None]
    n = len(vals[0].shape)
    axis = int(attrs.get("axis", 0))
    axis = axis + n if axis < 0 else axis
    for i, v in enumerate(vals[1:], 1):
        if len(v.shape) != n:
            raise tr.fail(f"Concat: inputs have ranks {n} and {len(v.shape)}", shapes=[vals[0].shape, v.shape])
        for k in range(n):
            if k != axis and v.shape[k] != vals[0].shape[k]:
                src = next(x for x in vals if x.tid is not None)
                rf = tr.builder.rf(src.tid) if src.tid is not None else None
                raise tr.fail(f"Concat: sizes must match except on axis {axis}; input {i} has {v.shape[k]} on dim {k}, "
                              f"input 0 has {vals[0].shape[k]} ({vals[0].shape} vs {v.shape})",
                              "ONNX Concat: all inputs must have the same shape except the concat axis",
                              [vals[0].shape, v.shape], k, rf)
    out = tuple(sum(v.shape[axis] for v in vals) if k == axis else vals[0].shape[k] for k in range(n))
    live = [v for v in vals if v.tid is not None]
    merged, issues = rfm.concat([(tr.builder.rf(v.tid) if v.tid is not None else None, v.shape) for v in live], out, axis)
    tr.emit(node, "cat", live, [(out, vals[0].elem)], [merged], issues=issues)


def _reshape_like(tr: _OnnxTracer, node: onnx.NodeProto, ins: list[Optional[_Val]], attrs: dict[str, Any]) -> None:
    x = _x(ins)
    n = len(x.shape)
    op = node.op_type
    out: Optional[list[int]] = None
    if op == "Flatten":
        axis = int(attrs.get("axis", 1))
        axis = axis + n if axis < 0 else axis
        out = [math.prod(x.shape[:axis]), math.prod(x.shape[axis:])]
    elif op == "Reshape":
        target = tr.ints(node.input[1])
        if target is not None:
            allowzero = int(attrs.get("allowzero", 0))
            out = [x.shape[i] if (t == 0 and not allowzero) else t for i, t in enumerate(target)]
            if out.count(-1) == 1:
                known = math.prod(v for v in out if v != -1)
                out[out.index(-1)] = math.prod(x.shape) // known if known else 0
            if math.prod(out) != math.prod(x.shape) or any(v < 0 for v in out):
                raise tr.fail(f"Reshape: cannot reshape {x.shape} ({math.prod(x.shape)} elements) to {target}",
                              shapes=[x.shape])
    elif op in ("Squeeze", "Unsqueeze"):
        axes = [int(a) for a in attrs["axes"]] if "axes" in attrs else (tr.ints(node.input[1]) if len(node.input) > 1 and node.input[1] else None)
        if op == "Squeeze":
            if axes is None:
                out = [d for d in x.shape if d != 1]
            else:
                gone = {a + n if a < 0 else a for a in axes}
                out = [d for i, d in enumerate(x.shape) if i not in gone]
        elif axes is not None:
            rank = n + len(axes)
            out = list(x.shape)
            for a in sorted(a + rank if a < 0 else a for a in axes):
                out.insert(a, 1)
    if out is None:
        tr.generic(node, ins, known="reshape")
        return
    rf = tr.builder.rf(x.tid) if x.tid is not None else None
    shape = tuple(int(v) for v in out)
    tr.emit(node, "reshape", [x], [(shape, x.elem)], [None if rf is None else rfm.reshape(rf, x.shape, shape)],
            alias=[x.tid])


def _transpose(tr: _OnnxTracer, node: onnx.NodeProto, ins: list[Optional[_Val]], attrs: dict[str, Any]) -> None:
    x = _x(ins)
    perm = [int(p) for p in attrs.get("perm", list(range(len(x.shape)))[::-1])]
    rf = tr.builder.rf(x.tid) if x.tid is not None else None
    out = tuple(x.shape[p] for p in perm)
    tr.emit(node, "permute", [x], [(out, x.elem)], [None if rf is None else rfm.permute(rf, perm)])


def _reduce(tr: _OnnxTracer, node: onnx.NodeProto, ins: list[Optional[_Val]], attrs: dict[str, Any]) -> None:
    x = _x(ins)
    n = len(x.shape)
    if node.op_type in ("Softmax", "LogSoftmax", "Hardmax", "CumSum"):
        axis = int(attrs.get("axis", -1 if tr.opset >= 13 or node.op_type == "CumSum" else 1))
        if node.op_type == "CumSum":
            ax = tr.ints(node.input[1])
            axis = ax[0] if ax else axis
        axis = axis + n if axis < 0 else axis
        rf = tr.builder.rf(x.tid) if x.tid is not None else None
        kind = "softmax" if "max" in node.op_type.lower() else "reduce"
        tr.emit(node, kind, [x], [(x.shape, x.elem)], [None if rf is None else rfm.along(rf, axis)])
        return
    keep = bool(attrs.get("keepdims", 1))
    axes: Optional[list[int]] = [int(a) for a in attrs["axes"]] if "axes" in attrs else None
    if axes is None and len(node.input) > 1 and node.input[1]:
        axes = tr.ints(node.input[1])
        if axes is None:
            tr.generic(node, ins, known="reduce")
            return
    if node.op_type in ("ArgMax", "ArgMin"):
        axes = [int(attrs.get("axis", 0))]
    if not axes:
        if attrs.get("noop_with_empty_axes", 0):
            tr.emit(node, "reduce", [x], [(x.shape, x.elem)], [tr.builder.rf(x.tid) if x.tid is not None else None])
            return
        axes = list(range(n))
    norm = sorted({a + n if a < 0 else a for a in axes})
    out = tuple((1 if i in norm else d) for i, d in enumerate(x.shape) if keep or i not in norm)
    rf = tr.builder.rf(x.tid) if x.tid is not None else None
    elem = onnx.TensorProto.INT64 if node.op_type in ("ArgMax", "ArgMin") else x.elem
    tr.emit(node, "reduce", [x], [(out, elem)], [None if rf is None else rfm.reduce(rf, norm, keep, n)])


def _slice(tr: _OnnxTracer, node: onnx.NodeProto, ins: list[Optional[_Val]], attrs: dict[str, Any]) -> None:
    x = _x(ins)
    n = len(x.shape)
    if "starts" in attrs:
        starts = [int(v) for v in attrs["starts"]]
        ends = [int(v) for v in attrs["ends"]]
        axes = [int(v) for v in attrs.get("axes", range(len(starts)))]
        steps = [1] * len(starts)
    else:
        s_, e_ = tr.ints(node.input[1]), tr.ints(node.input[2])
        a_ = tr.ints(node.input[3]) if len(node.input) > 3 and node.input[3] else None
        st_ = tr.ints(node.input[4]) if len(node.input) > 4 and node.input[4] else None
        if s_ is None or e_ is None or (len(node.input) > 3 and node.input[3] and a_ is None) or (
                len(node.input) > 4 and node.input[4] and st_ is None):
            tr.generic(node, ins, known="slice")
            return
        starts, ends = s_, e_
        axes = a_ if a_ is not None else list(range(len(starts)))
        steps = st_ if st_ is not None else [1] * len(starts)
    out = list(x.shape)
    crop_dims, crop_steps = [], []
    for s0, e0, a, st in zip(starts, ends, axes, steps):
        d = a + n if a < 0 else a
        size = x.shape[d]
        start, stop, step = slice(s0, e0, st).indices(size)
        out[d] = len(range(start, stop, step))
        if start != 0 or step != 1:
            crop_dims.append(d)
            crop_steps.append(RFStep(Fraction(1), Fraction(step), Fraction(-start)))
    rf = tr.builder.rf(x.tid) if x.tid is not None else None
    out_rf = None if rf is None else rfm.apply_steps(rf, crop_dims, crop_steps)
    tr.emit(node, "slice", [x], [(tuple(out), x.elem)], [out_rf])


def _split(tr: _OnnxTracer, node: onnx.NodeProto, ins: list[Optional[_Val]], attrs: dict[str, Any]) -> None:
    x = _x(ins)
    n = len(x.shape)
    axis = int(attrs.get("axis", 0))
    axis = axis + n if axis < 0 else axis
    count = len(node.output)
    sizes = [int(s) for s in attrs["split"]] if "split" in attrs else (
        tr.ints(node.input[1]) if len(node.input) > 1 and node.input[1] else None)
    if sizes is None:
        chunk = -(-x.shape[axis] // count)
        sizes = [min(chunk, x.shape[axis] - i * chunk) for i in range(count)]
    if sum(sizes) != x.shape[axis]:
        raise tr.fail(f"Split sizes {sizes} do not add up to {x.shape[axis]}", shapes=[x.shape])
    rf = tr.builder.rf(x.tid) if x.tid is not None else None
    outs, rfs = [], []
    start = 0
    for s in sizes:
        shape = tuple(s if i == axis else d for i, d in enumerate(x.shape))
        outs.append((shape, x.elem))
        step = RFStep(Fraction(1), Fraction(1), Fraction(-start))
        rfs.append(None if rf is None else (rfm.apply_steps(rf, [axis], [step]) if start else rf))
        start += s
    tr.emit(node, "slice", [x], outs, rfs)


def _shape(tr: _OnnxTracer, node: onnx.NodeProto, ins: list[Optional[_Val]], attrs: dict[str, Any]) -> None:
    x = _x(ins)
    value = np.array(x.shape, dtype=np.int64)
    start = int(attrs.get("start", 0))
    end = attrs.get("end")
    value = value[start:None if end is None else int(end)]
    tr.vals[node.output[0]] = _Val(tuple(value.shape), onnx.TensorProto.INT64, value=value)


def _identity(tr: _OnnxTracer, node: onnx.NodeProto, ins: list[Optional[_Val]], attrs: dict[str, Any]) -> None:
    x = _x(ins)
    rf = tr.builder.rf(x.tid) if x.tid is not None else None
    kind = "dropout" if node.op_type == "Dropout" else "identity"
    tr.emit(node, kind, [x], [(x.shape, x.elem)], [rf])
    if len(node.output) > 1 and node.output[1]:
        tr.vals[node.output[1]] = _Val(x.shape, onnx.TensorProto.BOOL)


_ACTIVATIONS = {"Relu", "Sigmoid", "Tanh", "LeakyRelu", "Elu", "Selu", "HardSigmoid", "HardSwish", "Softplus", "Softsign",
                "Clip", "PRelu", "Gelu", "Mish", "ThresholdedRelu", "Celu", "Swish"}
_UNARY = {"Exp", "Log", "Sqrt", "Neg", "Abs", "Erf", "Cast", "Floor", "Ceil", "Round", "Reciprocal", "Sign", "Not",
          "Sin", "Cos", "Tan", "IsNaN", "IsInf", "CastLike", "Trilu"}
_BINARY = {"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "Where", "Equal", "Less", "Greater",
           "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor", "Mod", "BitShift"}


def _handlers() -> dict[str, Handler]:
    h: dict[str, Handler] = {"Conv": _conv, "ConvTranspose": _conv, "MaxPool": _pool, "AveragePool": _pool,
                             "LpPool": _pool, "GlobalAveragePool": _global_pool, "GlobalMaxPool": _global_pool,
                             "GlobalLpPool": _global_pool, "Pad": _pad, "Resize": _resize, "Upsample": _resize,
                             "Concat": _concat, "Gemm": _gemm, "MatMul": _gemm, "Flatten": _reshape_like,
                             "Reshape": _reshape_like, "Squeeze": _reshape_like, "Unsqueeze": _reshape_like,
                             "Transpose": _transpose, "Slice": _slice, "Split": _split, "Shape": _shape,
                             "Identity": _identity, "Dropout": _identity, "BatchNormalization": _norm,
                             "InstanceNormalization": _norm, "LayerNormalization": _norm, "GroupNormalization": _norm}
    for op in ("ReduceMean", "ReduceMax", "ReduceMin", "ReduceSum", "ReduceProd", "ReduceL1", "ReduceL2",
               "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare", "ArgMax", "ArgMin", "Softmax", "LogSoftmax",
               "Hardmax", "CumSum"):
        h[op] = _reduce
    for op in _ACTIVATIONS | _UNARY | _BINARY:
        h[op] = _elementwise
    return h


_HANDLERS = _handlers()


# ================================================================================================
def load(path: str) -> onnx.ModelProto:
    """Read an ONNX file; unreadable files raise one clear :class:`GeometryError`."""
    try:
        model = onnx.load(path, load_external_data=False)
    except FileNotFoundError:
        raise GeometryError(f"no such file {path!r}", fix="check the path") from None
    except Exception as exc:
        raise GeometryError(f"cannot read ONNX file {path!r}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'malformed protobuf'}",
                            fix="check that the file is an ONNX model (onnx.checker.check_model)") from None
    if not model.graph.node:
        raise GeometryError(f"ONNX file {path!r} has an empty graph", fix="check that the file is an ONNX model")
    return model


def _run(model: Any, shapes: list[Shape], dtype: Optional[str]) -> Trace:
    if isinstance(model, (bytes, bytearray)):
        model = onnx.load_from_string(bytes(model))
    if not isinstance(model, onnx.ModelProto):
        raise GeometryError(f"expected an ONNX ModelProto, got {type(model).__name__}", fix="pass onnx.load(path)")
    return _OnnxTracer(model, dtype).run(shapes)


def spatial_dims(model: Any, shape: Shape) -> tuple[int, ...]:
    """NC... layout: the spatial dims are 2.."""
    return tuple(range(2, len(shape))) if len(shape) >= 3 else ()


FRONTEND = Frontend("onnx", _run, spatial_dims, load)

__all__ = ["FRONTEND", "load"]
