"""ONNX frontend: read a model with the ``onnx`` package and walk its nodes in order.

No activation is ever computed. Each node of the default domain with a rule in
:mod:`convgeom.tracing.onnx_ops` (convolutions, pooling, resizing, padding, normalisation,
element-wise and broadcasting ops, reshapes, slices, reductions, products, at any opset) gets its
output shapes from the geometry engine (``framework="onnx"``, ONNX Runtime semantics) or from its
attributes. Nodes whose inputs are all constants (``Shape -> Gather -> Concat -> Reshape``) are
evaluated on their small values with the ONNX reference evaluator, else ONNX Runtime. Any other
node gets its shapes from ``onnx.shape_inference`` on that single node, and where inference fails
or leaves a dim unknown, from ONNX Runtime itself running the node on zeros: an input is reported
impossible only when the runtime refuses it. Those nodes are ``unknown-op`` findings.

Parameters are the floating-point initializers (each counted once).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Optional

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ..errors import GeometryError, GeometryTypeError
from ..formatting import first_line
from ..optional import needed
from . import onnx_ops as ops
from .builder import TraceBuilder
from .dtypes import itemsize
from .failures import TraceFailure
from .frontend import Frontend
from .onnx_ops import ELEMS, FLOATS, Node, Val, dtype_name
from .records import Trace
from .rf import Shape

T = onnx.TensorProto
#: constant inputs at most this large are evaluated (shape arithmetic, not weights)
_MAX_FOLD_ELEMENTS = 1 << 16
#: ONNX Runtime runs a node on zero-filled inputs of at most this many bytes
_MAX_RUNTIME_BYTES = 1 << 28


def load(path: str) -> onnx.ModelProto:
    """Read an ONNX file; an unreadable file raises one clear :class:`GeometryError`."""
    try:
        model = onnx.load(path, load_external_data=False)
    except FileNotFoundError:
        raise GeometryError(f"no such file {path!r}", fix="check the path") from None
    except Exception as exc:
        detail = first_line(exc) or "malformed protobuf"
        raise GeometryError(f"cannot read ONNX file {path!r}: {type(exc).__name__}: {detail}",
                            fix="check that the file is an ONNX model (onnx.checker.check_model)") from exc
    if not model.graph.node:
        raise GeometryError(f"ONNX file {path!r} has an empty graph", fix="check that the file is an ONNX model")
    return model


def _model(model: Any) -> onnx.ModelProto:
    if isinstance(model, (bytes, bytearray)):
        try:
            model = onnx.load_from_string(bytes(model))
        except Exception as exc:
            raise GeometryError(f"cannot read the ONNX bytes: {type(exc).__name__}: {first_line(exc)}",
                                fix="pass a serialized ONNX model") from exc
    if not isinstance(model, onnx.ModelProto):
        raise GeometryTypeError(f"expected an ONNX ModelProto, got {type(model).__name__}: pass onnx.load(path)")
    return model


def _graph_inputs(model: onnx.ModelProto) -> list[onnx.ValueInfoProto]:
    """The real inputs (old IR versions also list the initializers as inputs)."""
    init_names = {i.name for i in model.graph.initializer}
    return [i for i in model.graph.input if i.name not in init_names]


def _dims(vi: onnx.ValueInfoProto) -> list[Optional[int]]:
    return [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None
            for d in vi.type.tensor_type.shape.dim]


def declared_shapes(model: Any) -> list[Shape]:
    """The static input shapes the file declares."""
    shapes = []
    for vi in _graph_inputs(_model(model)):
        dims = _dims(vi)
        if not dims or any(d is None for d in dims):
            shown = ", ".join("?" if d is None else str(d) for d in dims)
            raise GeometryError(f"input {vi.name!r} has a dynamic shape ({shown})",
                                fix="pass the input shape, e.g. --input 1,3,224,224")
        shapes.append(tuple(int(d) for d in dims if d is not None))
    return shapes


class _OnnxTracer:
    def __init__(self, model: onnx.ModelProto, dtype: Optional[str]) -> None:
        self.model = model
        self.graph = model.graph
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)
        self.vals: dict[str, Val] = {}
        self.dtype = dtype
        self.counted: set[str] = set()
        self.b: TraceBuilder

    # ----- setup -------------------------------------------------------------------------------
    def inputs(self, shapes: list[Shape]) -> list[tuple[str, Shape, int]]:
        """``(name, shape, element type)`` per model input; a shape against a fixed dim of the
        file is a failure (the runtime refuses it), a wrong count or rank an error."""
        declared = _graph_inputs(self.model)
        if len(shapes) != len(declared):
            raise GeometryError(f"the model has {len(declared)} input(s), {len(shapes)} shape(s) given",
                                fix="give one --input per model input")
        out = []
        for vi, shape in zip(declared, shapes):
            tt = vi.type.tensor_type
            dims = _dims(vi)
            if tt.HasField("shape") and len(dims) != len(shape):
                raise GeometryError(
                    f"input {vi.name!r} has rank {len(dims)} but the shape given has {len(shape)} dims",
                    fix="give " + ", ".join("N" if d is None else str(d) for d in dims))
            fixed = [(k, d) for k, d in enumerate(dims) if d is not None and d != shape[k]]
            if fixed:
                k, d = fixed[0]
                raise TraceFailure(vi.name, f"input {vi.name!r} has a fixed size {d} on dim {k}, got {shape[k]}",
                                   "the model declares a static input shape", [tuple(shape)],
                                   (k - 2) if k >= 2 else None, f"use {d} on dim {k}")
            elem = ELEMS[self.dtype] if self.dtype is not None else (tt.elem_type or T.FLOAT)
            out.append((vi.name, tuple(shape), elem))
        return out

    def run(self, shapes: list[Shape]) -> Trace:
        ins = self.inputs(shapes)
        self.b = TraceBuilder("onnx", len(_spatial(ins[0][1])))
        tids = self.b.add_inputs([s for _, s, _ in ins], [dtype_name(e) for _, _, e in ins], _spatial)
        for (name, shape, elem), tid in zip(ins, tids):
            self.vals[name] = Val(shape, elem, tid)
        floats = [i for i in self.graph.initializer if i.data_type in FLOATS]
        for init in self.graph.initializer:
            if init.name not in self.vals:
                self.vals[init.name] = Val(tuple(int(d) for d in init.dims), init.data_type, init=init)
        for index, node in enumerate(self.graph.node):
            self.node(node, index)
        outs = [self.vals[o.name].tid for o in self.graph.output if o.name in self.vals]
        params = sum(math.prod(int(d) for d in i.dims) for i in floats)
        return self.b.finish(model=self.graph.name or "onnx model", outputs=[t for t in outs if t is not None],
                             params=params, trainable_params=params,
                             param_bytes=sum(math.prod(int(d) for d in i.dims) * _itemsize(i.data_type) for i in floats))

    # ----- nodes -------------------------------------------------------------------------------
    def node(self, node: onnx.NodeProto, index: int) -> None:
        name = node.name or f"{node.op_type}_{index}"
        self.b.current = name
        ins = [self.vals.get(n) if n else None for n in node.input]
        missing = next((n for n, v in zip(node.input, ins) if n and v is None), None)
        if missing is not None:
            raise GeometryError(f"node {name!r} reads {missing!r}, which nothing produced",
                                "ONNX graphs must be topologically sorted", "check the file (onnx.checker)")
        default_domain = node.domain in ("", "ai.onnx")
        if default_domain and not any(v is not None and v.tid is not None for v in ins):
            self.fold(node, ins)
            return
        handler = ops.HANDLERS.get(node.op_type) if default_domain else None
        nd = Node(node, name, ins, self.opset, self.b, self.params_of(node))
        if handler is not None and handler(nd):
            self.bind(node, nd.outputs)
            return
        kind = ops.FALLBACK_KINDS.get(node.op_type, "") if handler is not None else ""
        self.generic(nd, kind)

    def bind(self, node: onnx.NodeProto, outputs: Sequence[Val]) -> None:
        for name, val in zip(node.output, outputs):
            if name:
                self.vals[name] = val

    def params_of(self, node: onnx.NodeProto) -> int:
        total = 0
        for name in node.input:
            v = self.vals.get(name)
            if v is not None and v.init is not None and v.elem in FLOATS and name not in self.counted:
                self.counted.add(name)
                total += math.prod(v.shape)
        return total

    def generic(self, nd: Node, kind: str) -> None:
        """A node without a rule (``kind`` empty: not understood, a finding) or whose rule needs
        a value that is not constant: shapes from inference or the runtime, the receptive field
        passed through by shape."""
        outs = self.infer(nd.proto, nd.ins)
        live = [v.tid for v in nd.ins if v is not None and v.tid is not None]
        tids = self.b.by_shape(nd.group(), kind or "unknown", live, [(s, dtype_name(e)) for s, e in outs])
        if not kind:
            self.b.note_unknown(nd.op, nd.name, what=f"ONNX op {nd.op}", unit="node",
                                shape_source="onnx.shape_inference", kind="op")
        self.bind(nd.proto, [Val(s, e, t) for (s, e), t in zip(outs, tids)])

    def fold(self, node: onnx.NodeProto, ins: list[Optional[Val]]) -> None:
        """A node whose inputs are all constants: evaluate it (shape arithmetic, Constant, ...)."""
        if node.op_type == "Constant":
            value = _constant(node)
            if value is not None:
                self.vals[node.output[0]] = Val(tuple(value.shape), helper.np_dtype_to_tensor_dtype(value.dtype),
                                                value=value)
                return
        arrays = [None if v is None else v.array() for v in ins]
        given = all(a is not None or not n for a, n in zip(arrays, node.input))
        if given and all(a is None or a.size <= _MAX_FOLD_ELEMENTS for a in arrays):
            results = self.evaluate(node, ins)
            if results is not None:
                for name, arr in zip(node.output, results):
                    self.vals[name] = Val(tuple(arr.shape), helper.np_dtype_to_tensor_dtype(arr.dtype), value=arr)
                return
        for name, (shape, elem) in zip(node.output, self.infer(node, ins)):
            self.vals[name] = Val(shape, elem)

    def evaluate(self, node: onnx.NodeProto, ins: list[Optional[Val]]) -> Optional[list[np.ndarray]]:
        """The node's outputs on constant inputs: the reference evaluator, else ONNX Runtime;
        None if neither can."""
        model = _single_node_model(node, ins, self.model, constants=True)
        try:
            from onnx.reference import ReferenceEvaluator

            return [np.asarray(r) for r in ReferenceEvaluator(model).run(None, {})]
        except Exception:  # an op the reference evaluator lacks at this opset: ask the runtime
            pass
        try:
            return _runtime(model, {})
        except Exception:
            return None

    def infer(self, node: onnx.NodeProto, ins: list[Optional[Val]]) -> list[tuple[Shape, int]]:
        """Output shapes of one node from onnx.shape_inference, else from ONNX Runtime."""
        model = _single_node_model(node, ins, self.model, constants=True, weights=False)
        try:
            inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True, data_prop=True)
            found = {vi.name: vi for vi in inferred.graph.output}
            outs = [_static(found.get(name)) for name in node.output if name]
            if all(o is not None for o in outs):
                return [o for o in outs if o is not None]
            why = "onnx.shape_inference leaves a dim unknown"
        except Exception as exc:
            why = f"onnx.shape_inference: {first_line(exc, 200)}"
        return self.on_runtime(node, ins, why)

    def on_runtime(self, node: onnx.NodeProto, ins: list[Optional[Val]], why: str) -> list[tuple[Shape, int]]:
        """Run the node in ONNX Runtime on zero-filled activations: what the runtime does."""
        name = self.b.current
        live = [v for v in ins if v is not None and v.tid is not None]
        size = sum(math.prod(v.shape) * _itemsize(v.elem) for v in live)
        if size > _MAX_RUNTIME_BYTES:
            raise GeometryError(f"cannot tell the output shape of {node.op_type} node {name!r} ({why}); its inputs "
                                f"are too large ({size} bytes) to run it on zeros", fix="trace at a smaller input size")
        model = _single_node_model(node, ins, self.model, constants=True)
        feeds = {n: np.zeros(v.shape, helper.tensor_dtype_to_np_dtype(v.elem))
                 for n, v in zip(node.input, ins) if n and v is not None and v.tid is not None}
        try:
            results = _runtime(model, feeds, node_name=name)
        except _RuntimeRefuses as exc:
            raise TraceFailure(name, f"{node.op_type} fails in ONNX Runtime: {exc}", "ONNX Runtime",
                               [v.shape for v in live]) from None
        return [(tuple(r.shape), helper.np_dtype_to_tensor_dtype(r.dtype)) for r in results]


def _constant(node: onnx.NodeProto) -> Optional[np.ndarray]:
    attrs = ops.attributes(node)
    if "value" in attrs:
        return numpy_helper.to_array(attrs["value"])
    for key, dtype in (("value_ints", np.int64), ("value_int", np.int64), ("value_floats", np.float32),
                       ("value_float", np.float32)):
        if key in attrs:
            return np.array(attrs[key], dtype=dtype)
    return None


def _static(vi: Optional[onnx.ValueInfoProto]) -> Optional[tuple[Shape, int]]:
    if vi is None or not vi.type.tensor_type.HasField("shape"):
        return None
    dims = [d.dim_value if d.HasField("dim_value") else None for d in vi.type.tensor_type.shape.dim]
    if any(d is None for d in dims):
        return None
    return tuple(int(d) for d in dims if d is not None), vi.type.tensor_type.elem_type


def _itemsize(elem: int) -> int:
    return itemsize(dtype_name(elem))


def _single_node_model(node: onnx.NodeProto, ins: list[Optional[Val]], parent: onnx.ModelProto, *,
                       constants: bool, weights: bool = True) -> onnx.ModelProto:
    """A model of ``node`` alone: activations as typed inputs; constants (``constants``) as
    initializers, float weights too if ``weights`` (else as typed inputs: shape inference needs
    only their shapes). IR version 4 at least, where initializers need not be inputs."""
    inputs: list[onnx.ValueInfoProto] = []
    inits: list[onnx.TensorProto] = []
    for name, v in zip(node.input, ins):
        if not name or v is None or name in {i.name for i in inputs} | {i.name for i in inits}:
            continue
        small = math.prod(v.shape) <= _MAX_FOLD_ELEMENTS and v.elem not in FLOATS
        if constants and v.tid is None and (weights or small or v.init is None) and (v.init is not None or v.value is not None):
            inits.append(v.init if v.init is not None else numpy_helper.from_array(np.asarray(v.value), name))
            continue
        inputs.append(helper.make_tensor_value_info(name, v.elem, list(v.shape)))
    outputs = [onnx.ValueInfoProto(name=n) for n in node.output if n]
    graph = helper.make_graph([node], "node", inputs, outputs, initializer=inits)
    model = helper.make_model(graph, opset_imports=list(parent.opset_import))
    model.ir_version = max(parent.ir_version, 4)
    return model


class _RuntimeRefuses(Exception):
    """ONNX Runtime loaded the node but refused to run it on these inputs."""


def _runtime(model: onnx.ModelProto, feeds: dict[str, np.ndarray], node_name: str = "") -> list[np.ndarray]:
    """Run a single-node model in ONNX Runtime (CPU). A model it cannot load is a
    :class:`GeometryError` (no input would do); a run it refuses raises :class:`_RuntimeRefuses`."""
    with needed("tracing a node that onnx's shape inference cannot tell"):
        import onnxruntime as ort  # type: ignore[import-untyped]
    options = ort.SessionOptions()
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        op = model.graph.node[0].op_type
        raise GeometryError(f"ONNX Runtime cannot run {op} node {node_name!r}: {first_line(exc, 200)}",
                            fix="check the model with onnx.checker and onnxruntime") from exc
    try:
        return [np.asarray(r) for r in session.run(None, feeds)]
    except Exception as exc:
        raise _RuntimeRefuses(first_line(exc, 300)) from exc


def _spatial(shape: Shape) -> list[int]:
    """NC... layout: the spatial dims are 2.."""
    return list(range(2, len(shape))) if len(shape) >= 3 else []


def _run(model: Any, shapes: list[Shape], dtype: Optional[str]) -> Trace:
    return _OnnxTracer(_model(model), dtype).run(shapes)


def spatial_dims(model: Any, shape: Shape) -> tuple[int, ...]:
    return tuple(_spatial(shape))


FRONTEND = Frontend("onnx", _run, spatial_dims, declared_shapes, load)

__all__ = ["FRONTEND", "load"]
