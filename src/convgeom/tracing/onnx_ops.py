"""The rules of the ONNX frontend: one handler per operator of the default domain whose shape and
spatial behaviour are fixed by its attributes (and constant inputs), translated into
:class:`~convgeom.tracing.builder.TraceBuilder` calls with ONNX Runtime's semantics at the
model's opset (old opsets included: ``Pad`` with ``pads`` as an attribute, ``MaxPool`` without
``ceil_mode``, ``Upsample``, ``BatchNormalization(spatial=0)``, legacy ``broadcast``/``axis``
arithmetic, ``Softmax`` over the flattened trailing dims before opset 13).

A handler returns False when a needed value is not a constant; the frontend then asks shape
inference (or ONNX Runtime) for the shapes and passes the receptive field through by shape.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
import onnx
from onnx import helper, numpy_helper

from .. import geometry as geo
from ..errors import GeometryError
from ..padding import check_padding_mode
from . import builder as bld
from . import rf as rfm
from .builder import TraceBuilder
from .rf import Shape

T = onnx.TensorProto
FLOATS: set[int] = {T.FLOAT, T.FLOAT16, T.BFLOAT16, T.DOUBLE}
#: ONNX element type -> dtype name (:mod:`convgeom.tracing.dtypes`)
DTYPE_NAMES: dict[int, str] = {
    T.FLOAT: "float32", T.FLOAT16: "float16", T.BFLOAT16: "bfloat16", T.DOUBLE: "float64", T.INT64: "int64",
    T.INT32: "int32", T.INT16: "int16", T.INT8: "int8", T.UINT8: "uint8", T.UINT16: "uint16", T.UINT32: "uint32",
    T.UINT64: "uint64", T.BOOL: "bool", T.COMPLEX64: "complex64", T.COMPLEX128: "complex128",
}
ELEMS: dict[str, int] = {name: elem for elem, name in DTYPE_NAMES.items()}


def dtype_name(elem: int) -> str:
    """``float32`` for FLOAT; the enum's own name, lower-cased, for types without an entry."""
    if elem in DTYPE_NAMES:
        return DTYPE_NAMES[elem]
    return T.DataType.Name(elem).lower() if elem in T.DataType.values() else "undefined"


@dataclass
class Val:
    """A tensor of the graph: its shape, element type, activation id (None for constants) and its
    value when known (initializers are read lazily)."""

    shape: Shape
    elem: int
    tid: Optional[int] = None
    value: Optional[np.ndarray] = None
    init: Optional[onnx.TensorProto] = None

    def array(self) -> Optional[np.ndarray]:
        if self.value is None and self.init is not None:
            self.value = numpy_helper.to_array(self.init)
        return self.value


def attributes(node: onnx.NodeProto) -> dict[str, Any]:
    return {a.name: _text(helper.get_attribute_value(a)) for a in node.attribute}


def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


class Node:
    """One node being traced: its inputs and attributes at the model's opset, the builder, and
    how to record its outputs."""

    def __init__(self, proto: onnx.NodeProto, name: str, ins: list[Optional[Val]], opset: int,
                 builder: TraceBuilder, params: int) -> None:
        self.proto = proto
        self.op = proto.op_type
        self.name = name
        self.ins = ins
        self.attrs = attributes(proto)
        self.opset = opset
        self.b = builder
        self.params = params
        self.outputs: list[Val] = []
        self._group: Optional[int] = None

    @property
    def x(self) -> Val:
        v = self.ins[0]
        assert v is not None
        return v

    def input(self, i: int) -> Optional[Val]:
        return self.ins[i] if i < len(self.ins) else None

    def ints(self, i: int) -> Optional[list[int]]:
        """The values of constant input ``i`` (None: absent or not constant)."""
        v = self.input(i)
        arr = None if v is None or v.tid is not None else v.array()
        return None if arr is None else [int(x) for x in np.asarray(arr).reshape(-1)]

    def floats(self, i: int) -> Optional[list[float]]:
        v = self.input(i)
        arr = None if v is None or v.tid is not None else v.array()
        return None if arr is None else [float(x) for x in np.asarray(arr).reshape(-1)]

    def given(self, i: int) -> bool:
        return i < len(self.proto.input) and bool(self.proto.input[i])

    def axis(self, key: str, default: int, rank: int) -> int:
        a = int(self.attrs.get(key, default))
        return a + rank if a < 0 else a

    def group(self) -> int:
        """The record of this node (opened at its first op; it owns the node's parameters)."""
        if self._group is None:
            self._group = self.b.group(self.name, self.op, 1)
            self.b.add_params(self._group, self.params)
        return self._group

    def emit(self, tids: Sequence[int], elems: Sequence[int]) -> bool:
        """The node's outputs are the builder tensors ``tids``."""
        self.outputs = [Val(self.b.shape(t), e, t) for t, e in zip(tids, elems)]
        return True

    def fail(self, problem: str, rule: str = "", shapes: Sequence[Shape] = (), dim: Optional[int] = None,
             v: Optional[Val] = None, fix: str = "") -> Exception:
        return self.b.failure(problem, rule, shapes, dim=dim, tid=None if v is None else v.tid, fix=fix)

    def engine(self, v: Val, call: Callable[[], Any]) -> Any:
        """An engine call on ``v``'s spatial dims (2..)."""
        assert v.tid is not None
        return self.b.engine(v.tid, range(2, len(v.shape)), call)


Handler = Callable[[Node], bool]
HANDLERS: dict[str, Handler] = {}
#: the record kind of a known op traced by shape inference (a value it needs is not constant)
FALLBACK_KINDS: dict[str, str] = {}


def _rule(*ops: str, fallback: str = "") -> Callable[[Handler], Handler]:
    """Register a handler for ``ops``; ``fallback``: the kind of record when it returns False."""
    def register(fn: Handler) -> Handler:
        for op in ops:
            HANDLERS[op] = fn
            if fallback:
                FALLBACK_KINDS[op] = fallback
        return fn
    return register


# ================================================================================================
# windowed ops
def padding(attrs: dict[str, Any], nd: int) -> Any:
    """auto_pad / pads -> the engine's padding argument."""
    auto = str(attrs.get("auto_pad", "NOTSET")).upper()
    if auto in ("SAME_UPPER", "SAME_LOWER", "VALID"):
        return {"SAME_UPPER": "same", "SAME_LOWER": "same_lower", "VALID": "valid"}[auto]
    pads = [int(p) for p in attrs.get("pads", [0] * (2 * nd))]
    if len(pads) != 2 * nd:
        raise GeometryError(f"pads has {len(pads)} values for {nd} spatial axes", "Attribute pads has incorrect size",
                            f"give {2 * nd} pads")
    return tuple((pads[i], pads[i + nd]) for i in range(nd))


def _window(nd: Node, kernel_default: Sequence[int]) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    n = len(kernel_default)
    kernel = tuple(int(k) for k in nd.attrs.get("kernel_shape", kernel_default))
    strides = tuple(int(s) for s in nd.attrs.get("strides", [1] * n))
    dil = tuple(int(d) for d in nd.attrs.get("dilations", [1] * n))
    return kernel, strides, dil


#: where the data, weight, bias and output type are among a conv's inputs
_CONV_INPUTS = {"Conv": (0, 1, 2, None), "ConvInteger": (0, 1, None, None), "QLinearConv": (0, 3, 8, 7)}


@_rule("Conv", "ConvInteger", "QLinearConv", fallback="conv")
def _conv(nd: Node) -> bool:
    xi, wi, bi, oi = _CONV_INPUTS[nd.op]
    x, w = nd.ins[xi], nd.input(wi)
    if x is None or w is None or x.tid is None:
        return False
    sp = x.shape[2:]
    group = int(nd.attrs.get("group", 1))
    kernel, strides, dil = _window(nd, w.shape[2:])
    if x.shape[1] != w.shape[1] * group:
        raise nd.fail(f"{nd.op} expects {w.shape[1] * group} input channels (weight {list(w.shape)}, group {group}), "
                      f"got {x.shape[1]}", shapes=[x.shape, w.shape])
    g = nd.engine(x, lambda: geo.conv(sp, kernel, strides, padding(nd.attrs, len(sp)), dil, group, framework="onnx"))
    elem = T.INT32 if nd.op == "ConvInteger" else (x.elem if oi is None else _elem(nd, oi, x.elem))
    auto = {"auto_pad": str(nd.attrs["auto_pad"])} if "auto_pad" in nd.attrs else None
    t = nd.b.conv(nd.group(), x.tid, g, spatial=range(2, 2 + len(sp)), channel=1, out_channels=w.shape[0],
                  bias=bi is not None and nd.given(bi), dtype=dtype_name(elem), attrs=auto)
    return nd.emit([t], [elem])


def _elem(nd: Node, i: int, default: int) -> int:
    v = nd.input(i)
    return default if v is None else v.elem


@_rule("ConvTranspose", fallback="conv_transpose")
def _conv_transpose(nd: Node) -> bool:
    x, w = nd.x, nd.input(1)
    if w is None or x.tid is None:
        return False
    sp = x.shape[2:]
    group = int(nd.attrs.get("group", 1))
    kernel, strides, dil = _window(nd, w.shape[2:])
    if x.shape[1] != w.shape[0]:
        raise nd.fail(f"ConvTranspose expects {w.shape[0]} input channels, got {x.shape[1]}", shapes=[x.shape, w.shape])
    pad_arg = padding(nd.attrs, len(sp))
    out_attr = nd.attrs.get("output_shape")
    if out_attr is not None and not isinstance(pad_arg, str):
        pad_arg = "valid" if not any(b or a for b, a in pad_arg) else pad_arg
    osize = None if out_attr is None else tuple(int(v) for v in list(out_attr)[-len(sp):])
    extra = nd.attrs.get("output_padding")
    g = nd.engine(x, lambda: geo.conv_transpose(
        sp, kernel, strides, pad_arg, None if extra is None else tuple(int(v) for v in extra), dil,
        output_size=osize, groups=group, framework="onnx"))
    auto = {"auto_pad": str(nd.attrs["auto_pad"])} if "auto_pad" in nd.attrs else None
    t = nd.b.conv_transpose(nd.group(), x.tid, g, spatial=range(2, 2 + len(sp)), channel=1,
                            out_channels=w.shape[1] * group, bias=nd.given(2), attrs=auto)
    return nd.emit([t], [x.elem])


@_rule("MaxPool", "AveragePool", "LpPool")
def _pool(nd: Node) -> bool:
    """``ceil_mode`` (opset 10+), ``dilations`` (MaxPool 10+, AveragePool and LpPool 19+) and
    ``count_include_pad`` (AveragePool 7+) default to off: opset 1's pools are the same ops."""
    x = nd.x
    if x.tid is None:
        return False
    sp = x.shape[2:]
    kernel, strides, dil = _window(nd, nd.attrs["kernel_shape"])
    ceil = bool(nd.attrs.get("ceil_mode", 0))
    pads = padding(nd.attrs, len(sp))
    if nd.op == "AveragePool":
        cip = bool(nd.attrs.get("count_include_pad", 0))
        g = nd.engine(x, lambda: geo.avg_pool(sp, kernel, strides, pads, ceil, cip, dilation=dil, framework="onnx"))
        kind = "avg_pool"
    else:
        g = nd.engine(x, lambda: geo.max_pool(sp, kernel, strides, pads, dil, ceil, framework="onnx"))
        kind = "max_pool" if nd.op == "MaxPool" else "lp_pool"
    tids = nd.b.pool(nd.group(), kind, x.tid, g, spatial=range(2, 2 + len(sp)),
                     indices=len(nd.proto.output) > 1 and bool(nd.proto.output[1]),
                     attrs={"ceil_mode": "True"} if ceil else None)
    return nd.emit(tids, [x.elem, T.INT64])


@_rule("GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool")
def _global_pool(nd: Node) -> bool:
    x = nd.x
    if x.tid is None:
        return False
    sp = x.shape[2:]
    g = geo.adaptive_avg_pool(sp, 1) if sp else None
    kind = "adaptive_avg_pool" if nd.op == "GlobalAveragePool" else "adaptive_max_pool"
    return nd.emit(nd.b.pool(nd.group(), kind, x.tid, g, spatial=range(2, 2 + len(sp))), [x.elem])


@_rule("DepthToSpace", "SpaceToDepth")
def _depth_space(nd: Node) -> bool:
    """``DepthToSpace(b)``: output ``u`` reads input ``u // b`` (kernel 1, stride 1/b);
    ``SpaceToDepth(b)``: kernel b, stride b; channels x or / ``b**2``; both mix the channel dim."""
    x = nd.x
    if x.tid is None:
        return False
    b = int(nd.attrs["blocksize"])
    n, c, *sp = x.shape
    if nd.op == "DepthToSpace":
        if c % (b * b):
            raise nd.fail(f"DepthToSpace: {c} channels are not divisible by blocksize**2 = {b * b}", shapes=[x.shape])
        out: Shape = (n, c // (b * b), *(s * b for s in sp))
    else:
        bad = next((i for i, s in enumerate(sp) if s % b), None)
        if bad is not None:
            raise nd.fail(f"SpaceToDepth: size {sp[bad]} is not divisible by blocksize {b}", shapes=[x.shape],
                          dim=2 + bad, v=x)
        out = (n, c * b * b, *(s // b for s in sp))
    step = rfm.step_for_shuffle(b, up=nd.op == "DepthToSpace")
    rf = nd.b.rf(x.tid)
    dims = list(range(2, len(x.shape)))
    out_rf = None if rf is None else rfm.apply_steps(rf, dims, [step] * len(dims), [1])
    kind = "pixel_shuffle" if nd.op == "DepthToSpace" else "pixel_unshuffle"
    t = nd.b.op(nd.group(), kind, [x.tid], [(out, dtype_name(x.elem))], [out_rf])[0]
    return nd.emit([t], [x.elem])


@_rule("Pad", fallback="pad")
def _pad(nd: Node) -> bool:
    """Pads from the ``pads`` input (opset 11+), the ``pads`` attribute (2-10) or ``paddings``
    (1); ``axes`` (18+) selects the dims padded."""
    x = nd.x
    if x.tid is None:
        return False
    n = len(x.shape)
    if "pads" in nd.attrs or "paddings" in nd.attrs:
        pads: Optional[list[int]] = [int(p) for p in nd.attrs.get("pads", nd.attrs.get("paddings", []))]
    else:
        pads = nd.ints(1)
    axes_given = nd.ints(3) if nd.given(3) else list(range(n))
    if pads is None or axes_given is None:
        return False
    axes = [a + n if a < 0 else a for a in axes_given]
    k = len(axes)
    if len(pads) != 2 * k:
        raise nd.fail(f"Pad has {len(pads)} pads for {k} axes", shapes=[x.shape])
    mode = str(nd.attrs.get("mode", "constant"))
    per_dim: dict[int, tuple[int, int]] = {}
    for i, d in enumerate(axes):
        before, after = pads[i], pads[i + k]
        if mode in ("reflect", "wrap"):
            try:
                check_padding_mode("reflect" if mode == "reflect" else "circular", x.shape[d], before, after, d)
            except GeometryError as exc:
                raise nd.fail(exc.problem, exc.rule, [x.shape], d, x, exc.fix) from exc
        if x.shape[d] + before + after < 0:
            raise nd.fail(f"Pad gives a negative size {x.shape[d] + before + after} on dim {d}", shapes=[x.shape],
                          dim=d, v=x)
        if before or after:
            per_dim[d] = (before, after)
    t = nd.b.pad(nd.group(), x.tid, per_dim, spatial=range(2, n), attrs={"pad_mode": mode})
    return nd.emit([t], [x.elem])


@_rule("CenterCropPad", fallback="pad")
def _center_crop_pad(nd: Node) -> bool:
    """Crop or pad ``axes`` to ``shape`` around the centre (ONNX: crop ``(n - s) // 2`` before,
    pad ``(s - n) // 2`` before)."""
    x = nd.x
    if x.tid is None:
        return False
    target = nd.ints(1)
    if target is None:
        return False
    n = len(x.shape)
    axes = [int(a) % n for a in nd.attrs.get("axes", range(n))]
    per_dim = {}
    for d, s in zip(axes, target):
        total = s - x.shape[d]
        before = total // 2 if total >= 0 else -((-total) // 2)
        if total:
            per_dim[d] = (before, total - before)
    t = nd.b.pad(nd.group(), x.tid, per_dim, spatial=range(2, n), attrs={"pad_mode": "center_crop_pad"})
    return nd.emit([t], [x.elem])


_RESIZE_MODES = {"nearest": "nearest", "linear": "linear", "cubic": "cubic", "bilinear": "linear"}


def _resize_request(nd: Node) -> Optional[tuple[Optional[list[int]], Optional[list[float]]]]:
    """``(sizes, scales)`` over all dims: Upsample's ``scales`` attribute (7) or input (9),
    Resize's ``scales`` input 1 (10) or 2 and ``sizes`` input 3 (11+, ``axes`` 18+); None when
    they are not constants."""
    n = len(nd.x.shape)
    if nd.op == "Upsample":
        scales = [float(s) for s in nd.attrs["scales"]] if "scales" in nd.attrs else nd.floats(1)
        return None if scales is None else (None, scales)
    sizes = nd.ints(3) if nd.given(3) else None
    scales = nd.floats(2) if nd.given(2) else (nd.floats(1) if nd.opset < 11 and nd.given(1) else None)
    if not sizes and not scales:
        return None
    axes = [int(a) % n for a in nd.attrs.get("axes", range(n))]
    if sizes:
        full = list(nd.x.shape)
        for a, s in zip(axes, _keep_aspect(nd, axes, sizes)):
            full[a] = s
        return full, None
    assert scales is not None
    factors = [1.0] * n
    for a, f in zip(axes, scales):
        factors[a] = f
    return None, factors


def _keep_aspect(nd: Node, axes: Sequence[int], sizes: Sequence[int]) -> list[int]:
    """Resize-18 ``keep_aspect_ratio_policy``: one scale for all axes, the smallest
    (``not_larger``) or largest (``not_smaller``) of ``size/n``; sizes ``round(n * scale)``."""
    policy = str(nd.attrs.get("keep_aspect_ratio_policy", "stretch"))
    if policy == "stretch":
        return list(sizes)
    ratios = [s / nd.x.shape[a] for a, s in zip(axes, sizes)]
    scale = min(ratios) if policy == "not_larger" else max(ratios)
    return [int(math.floor(nd.x.shape[a] * scale + 0.5)) for a in axes]


@_rule("Resize", "Upsample", fallback="interpolate")
def _resize(nd: Node) -> bool:
    x = nd.x
    if x.tid is None:
        return False
    request = _resize_request(nd)
    if request is None:
        return False
    sizes, scales = request
    if (scales is not None and any(s != 1.0 for s in scales[:2])) or (sizes is not None and sizes[:2] != list(x.shape[:2])):
        return False
    mode = _RESIZE_MODES.get(str(nd.attrs.get("mode", "nearest")).lower(), "nearest")
    sp = x.shape[2:]
    g = nd.engine(x, lambda: geo.interpolate(sp, size=None if sizes is None else tuple(sizes[2:]),
                                             scale_factor=None if scales is None else tuple(scales[2:]), mode=mode,
                                             framework="onnx"))
    align = str(nd.attrs.get("coordinate_transformation_mode", "half_pixel")) == "align_corners"
    t = nd.b.resize(nd.group(), x.tid, g, spatial=range(2, len(x.shape)), mode=mode, align_corners=align,
                    scales=None if scales is None else scales[2:], attrs={"mode": mode})
    return nd.emit([t], [x.elem])


# ================================================================================================
# element-wise ops
_ACTIVATIONS = {"Relu", "Sigmoid", "Tanh", "LeakyRelu", "Elu", "Selu", "HardSigmoid", "HardSwish", "Softplus",
                "Softsign", "Clip", "PRelu", "Gelu", "Mish", "ThresholdedRelu", "Celu", "Swish", "Shrink"}
#: ops whose output has the shape of input 0 (other inputs: scalars, slopes, scales, zero points)
_LIKE_INPUT = {"Clip", "PRelu", "CastLike", "QuantizeLinear", "DequantizeLinear", "ImageScaler", "Bernoulli"}
_UNARY = {"Exp", "Log", "Sqrt", "Neg", "Abs", "Erf", "Cast", "Floor", "Ceil", "Round", "Reciprocal", "Sign", "Not",
          "Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "IsNaN", "IsInf",
          "Trilu", "BitwiseNot"}
_BINARY = {"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "Where", "Equal", "Less", "Greater",
           "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor", "Mod", "BitShift", "BitwiseAnd", "BitwiseOr",
           "BitwiseXor"}
_KINDS = {"Add": "add", "Sub": "sub", "Mul": "mul", "Div": "div"}
_BOOL_OUT = {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor", "Not", "IsNaN", "IsInf"}


def _legacy_broadcast(nd: Node, vals: list[Val]) -> list[Shape]:
    """Opset < 7 arithmetic with ``broadcast=1``: B's dims line up with A's from ``axis``
    (default: from the right), padded with 1s; the shapes as NumPy would see them."""
    a, b = vals[0].shape, vals[1].shape
    axis = int(nd.attrs.get("axis", len(a) - len(b)))
    axis = axis + len(a) if axis < 0 else axis
    return [a, (1,) * axis + tuple(b) + (1,) * (len(a) - axis - len(b))]


def _out_elem(nd: Node, vals: list[Val]) -> int:
    if nd.op in _BOOL_OUT:
        return T.BOOL
    if nd.op == "Cast":
        return int(nd.attrs.get("to", vals[0].elem))
    if nd.op == "CastLike":
        return vals[1].elem
    if nd.op == "QuantizeLinear":
        return vals[2].elem if len(vals) > 2 else T.UINT8
    if nd.op == "DequantizeLinear":
        return vals[1].elem
    if nd.op == "Where":
        return vals[1].elem
    return next((v.elem for v in vals if v.elem in FLOATS), vals[0].elem)


@_rule(*(_ACTIVATIONS | _UNARY | _BINARY | _LIKE_INPUT))
def _elementwise(nd: Node) -> bool:
    vals = [v for v in nd.ins if v is not None]
    if nd.op in _LIKE_INPUT:
        shapes = [vals[0].shape]
    elif nd.opset < 7 and nd.attrs.get("broadcast", 0) and len(vals) == 2:
        shapes = _legacy_broadcast(nd, vals)
    else:
        shapes = [v.shape for v in vals]
    out = bld.broadcast(*shapes)
    live = [v for v in (vals[:1] if nd.op in _LIKE_INPUT else vals) if v.tid is not None]
    if out is None:
        a, b = shapes[0], shapes[1]
        dim, sa, sb = bld.broadcast_conflict(a, b) or (0, 0, 0)
        src = live[0]
        raise nd.fail(f"{nd.op}: shapes {a} and {b} do not broadcast (size {sa} vs {sb} at dim {dim})",
                      "ONNX multidirectional broadcasting", [a, b], dim - (max(len(a), len(b)) - len(src.shape)), src)
    elem = _out_elem(nd, vals)
    kind = _KINDS.get(nd.op, "activation" if nd.op in _ACTIVATIONS else "elementwise")
    n_out = len([o for o in nd.proto.output if o])
    tids = nd.b.merge(nd.group(), kind, [v.tid for v in live if v.tid is not None], out, dtype=dtype_name(elem),
                      n_outputs=n_out)
    return nd.emit(tids, [elem] + [T.BOOL] * (n_out - 1))


@_rule("DynamicQuantizeLinear")
def _dynamic_quantize(nd: Node) -> bool:
    x = nd.x
    if x.tid is None:
        return False
    t = nd.b.same(nd.group(), "elementwise", x.tid, dtype="uint8")
    nd.emit([t], [T.UINT8])
    nd.outputs += [Val((), T.FLOAT), Val((), T.UINT8)]
    return True


@_rule("EyeLike", "RandomNormalLike", "RandomUniformLike")
def _like(nd: Node) -> bool:
    """A tensor of the input's shape whose values do not depend on the input's (no receptive
    field: a constant as far as the model input goes)."""
    x = nd.x
    if x.tid is None:
        return False
    if nd.op == "EyeLike" and len(x.shape) != 2:
        raise nd.fail(f"EyeLike needs a 2-D input, got {x.shape}", "ONNX EyeLike: input tensor must be 2-dimensional",
                      [x.shape])
    elem = int(nd.attrs.get("dtype", x.elem))
    t = nd.b.op(nd.group(), "constant", [x.tid], [(x.shape, dtype_name(elem))], [None])[0]
    return nd.emit([t], [elem])


@_rule("Identity", "Dropout")
def _identity(nd: Node) -> bool:
    x = nd.x
    if x.tid is None:
        return False
    t = nd.b.same(nd.group(), "dropout" if nd.op == "Dropout" else "identity", x.tid)
    nd.emit([t], [x.elem])
    if len(nd.proto.output) > 1 and nd.proto.output[1]:
        nd.outputs.append(Val(x.shape, T.BOOL))
    return True


# ================================================================================================
# normalisation
@_rule("BatchNormalization", "InstanceNormalization", "LayerNormalization", "GroupNormalization",
       "MeanVarianceNormalization", "RMSNormalization", "LRN", "LpNormalization")
def _norm(nd: Node) -> bool:
    """Per-element ops with statistics: BatchNorm's are constants (``spatial=0``, opset < 9:
    one per channel *and* position); instance / group norm and MVN (over H, W) feed every unit
    with statistics over space (global context); LRN mixes channels only; LpNormalization and
    layer / RMS norm mix the dims they normalise."""
    x = nd.x
    if x.tid is None:
        return False
    rank = len(x.shape)
    rf = nd.b.rf(x.tid)
    kind, context = "norm", False
    if nd.op == "BatchNormalization":
        _check_batch_norm(nd)
        kind = "batch_norm"
    elif nd.op in ("LayerNormalization", "RMSNormalization"):
        axis = nd.axis("axis", -1, rank)
        context = rf is not None and any(d is not None and d >= axis and x.shape[d] > 1 for d in rf.dims)
        kind = "layer_norm"
    elif nd.op == "LpNormalization":
        t = nd.b.along(nd.group(), "norm", x.tid, nd.axis("axis", -1, rank))
        return nd.emit([t], [x.elem])
    elif nd.op == "LRN":
        out_rf = None if rf is None else rfm.apply_steps(rf, [], [], [1])
        t = nd.b.op(nd.group(), "norm", [x.tid], [(x.shape, dtype_name(x.elem))], [out_rf])[0]
        return nd.emit([t], [x.elem])
    elif nd.op == "MeanVarianceNormalization":
        axes = [int(a) % rank for a in nd.attrs.get("axes", [0, *range(2, rank)])]
        context = any(x.shape[a] > 1 for a in axes if a >= 2)
    else:
        context = math.prod(x.shape[2:]) > 1
        kind = "instance_norm" if nd.op == "InstanceNormalization" else "group_norm"
    t = nd.b.same(nd.group(), kind, x.tid, context=context)
    nd.emit([t], [x.elem])
    stat = (x.shape[1],) if len(x.shape) > 1 else ()
    nd.outputs += [Val(stat, x.elem) for _ in nd.proto.output[1:]]
    return True


def _check_batch_norm(nd: Node) -> None:
    x, scale = nd.x, nd.input(1)
    if scale is None or len(x.shape) < 2:
        return
    spatial = nd.opset < 9 and not int(nd.attrs.get("spatial", 1))
    want = math.prod(x.shape[1:]) if spatial else x.shape[1]
    if math.prod(scale.shape) != want:
        what = "values per channel and position" if spatial else "channels"
        raise nd.fail(f"BatchNormalization scale has {math.prod(scale.shape)} values for {want} {what}",
                      shapes=[x.shape, scale.shape])


# ================================================================================================
# reductions and ops along an axis
@_rule("Softmax", "LogSoftmax", "Hardmax")
def _softmax(nd: Node) -> bool:
    """Opset 13+: along ``axis`` (default -1). Before 13 the input is flattened to 2-D at ``axis``
    (default 1): every dim from ``axis`` on is mixed."""
    x = nd.x
    if x.tid is None:
        return False
    rank = len(x.shape)
    kind = "softmax" if "max" in nd.op.lower() else "reduce"
    if nd.opset >= 13:
        return nd.emit([nd.b.along(nd.group(), kind, x.tid, nd.axis("axis", -1, rank))], [x.elem])
    axis = nd.axis("axis", 1, rank)
    rf = nd.b.rf(x.tid)
    out_rf = None if rf is None else rfm.remap(rf, lambda d: None if d >= axis else d)
    return nd.emit(nd.b.op(nd.group(), kind, [x.tid], [(x.shape, dtype_name(x.elem))], [out_rf]), [x.elem])


@_rule("CumSum", "CumProd", fallback="reduce")
def _cumulative(nd: Node) -> bool:
    x = nd.x
    axis = nd.ints(1)
    if axis is None or x.tid is None:
        return False
    return nd.emit([nd.b.along(nd.group(), "reduce", x.tid, axis[0] % len(x.shape))], [x.elem])


@_rule("TopK", fallback="reduce")
def _topk(nd: Node) -> bool:
    x = nd.x
    k = [int(nd.attrs["k"])] if "k" in nd.attrs else nd.ints(1)
    if k is None or x.tid is None:
        return False
    axis = nd.axis("axis", -1, len(x.shape))
    if k[0] > x.shape[axis] or k[0] < 0:
        raise nd.fail(f"TopK: k = {k[0]} is larger than the {x.shape[axis]} entries on axis {axis}", shapes=[x.shape],
                      dim=axis, v=x)
    out = tuple(k[0] if i == axis else s for i, s in enumerate(x.shape))
    rf = nd.b.rf(x.tid)
    out_rf = None if rf is None else rfm.along(rf, axis)
    tids = nd.b.op(nd.group(), "reduce", [x.tid], [(out, dtype_name(x.elem)), (out, "int64")], [out_rf, out_rf])
    return nd.emit(tids, [x.elem, T.INT64])


_REDUCE = ("ReduceMean", "ReduceMax", "ReduceMin", "ReduceSum", "ReduceProd", "ReduceL1", "ReduceL2",
           "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare")


@_rule(*_REDUCE, "ArgMax", "ArgMin", fallback="reduce")
def _reduce(nd: Node) -> bool:
    """``axes`` from the attribute (ReduceSum < 13, the others < 18) or input 1; none given:
    all dims unless ``noop_with_empty_axes``."""
    x = nd.x
    if x.tid is None:
        return False
    n = len(x.shape)
    keep = bool(nd.attrs.get("keepdims", 1))
    if nd.op in ("ArgMax", "ArgMin"):
        axes: Optional[list[int]] = [int(nd.attrs.get("axis", 0))]
    elif "axes" in nd.attrs:
        axes = [int(a) for a in nd.attrs["axes"]]
    else:
        axes = nd.ints(1) if nd.given(1) else []
        if axes is None:
            return False
    if not axes:
        if nd.attrs.get("noop_with_empty_axes", 0):
            return nd.emit([nd.b.same(nd.group(), "reduce", x.tid)], [x.elem])
        axes = list(range(n))
    dims = sorted({a + n if a < 0 else a for a in axes})
    elem = T.INT64 if nd.op in ("ArgMax", "ArgMin") else x.elem
    return nd.emit([nd.b.reduce(nd.group(), x.tid, dims, keep, dtype=dtype_name(elem))], [elem])


# ================================================================================================
# products
@_rule("Gemm", fallback="linear")
def _gemm(nd: Node) -> bool:
    a, b = nd.x, nd.input(1)
    if b is None:
        return False
    ta, tb = int(nd.attrs.get("transA", 0)), int(nd.attrs.get("transB", 0))
    m, k = (a.shape[1], a.shape[0]) if ta else (a.shape[0], a.shape[1])
    k2, n = (b.shape[1], b.shape[0]) if tb else (b.shape[0], b.shape[1])
    if k != k2:
        raise nd.fail(f"Gemm: inner dimensions {k} and {k2} differ", shapes=[a.shape, b.shape])
    operands = [(a.tid, a.shape, 0 if ta else 1), (b.tid, b.shape, 1 if tb else 0)]
    t = nd.b.matmul(nd.group(), "linear", operands, (m, n), k, dtype=dtype_name(a.elem), bias=nd.given(2))
    return nd.emit([t], [a.elem])


@_rule("MatMul", "MatMulInteger", "QLinearMatMul", fallback="matmul")
def _matmul(nd: Node) -> bool:
    """NumPy ``matmul``: 1-D operands get a dim added and removed, batch dims broadcast."""
    a, b = (nd.ins[0], nd.input(3)) if nd.op == "QLinearMatMul" else (nd.ins[0], nd.input(1))
    if a is None or b is None:
        return False
    sa, sb = list(a.shape), list(b.shape)
    va = [1] + sa if len(sa) == 1 else sa
    vb = sb + [1] if len(sb) == 1 else sb
    if va[-1] != vb[-2]:
        raise nd.fail(f"{nd.op}: inner dimensions {va[-1]} and {vb[-2]} differ", shapes=[a.shape, b.shape])
    batch = bld.broadcast(tuple(va[:-2]), tuple(vb[:-2]))
    if batch is None:
        raise nd.fail(f"{nd.op}: batch dims do not broadcast", shapes=[a.shape, b.shape])
    full = tuple(batch) + (va[-2], vb[-1])
    out = tuple(d for i, d in enumerate(full)
                if not ((len(sa) == 1 and i == len(full) - 2) or (len(sb) == 1 and i == len(full) - 1)))
    elem = {"MatMulInteger": T.INT32, "QLinearMatMul": _elem(nd, 7, T.UINT8)}.get(nd.op, a.elem)
    operands = [(a.tid, a.shape, len(sa) - 1), (b.tid, b.shape, max(len(sb) - 2, 0))]
    return nd.emit([nd.b.matmul(nd.group(), "matmul", operands, out, va[-1], dtype=dtype_name(elem))], [elem])


@_rule("Einsum", fallback="matmul")
def _einsum(nd: Node) -> bool:
    vals = [v for v in nd.ins if v is not None]
    out, rf, macs = bld.einsum(str(nd.attrs["equation"]), [v.shape for v in vals],
                               [None if v.tid is None else nd.b.rf(v.tid) for v in vals])
    if out is None:
        return False
    elem = vals[0].elem
    tids = nd.b.op(nd.group(), "matmul", [v.tid for v in vals if v.tid is not None], [(out, dtype_name(elem))], [rf],
                   macs=macs)
    return nd.emit(tids, [elem])


# ================================================================================================
# shapes: concat, reshape, transpose, slice, split, gather, expand, tile
@_rule("Concat")
def _concat(nd: Node) -> bool:
    vals = [v for v in nd.ins if v is not None]
    n = len(vals[0].shape)
    axis = nd.axis("axis", 1 if nd.opset < 4 else 0, n)
    for v in vals[1:]:
        if len(v.shape) != n:
            raise nd.fail(f"Concat: inputs have ranks {n} and {len(v.shape)}", shapes=[vals[0].shape, v.shape])
    conflict = bld.concat_conflict([v.shape for v in vals], axis)
    if conflict is not None:
        i, k = conflict
        v = vals[i]
        raise nd.fail(f"Concat: sizes must match except on axis {axis}; input {i} has {v.shape[k]} on dim {k}, "
                      f"input 0 has {vals[0].shape[k]} ({vals[0].shape} vs {v.shape})",
                      "ONNX Concat: all inputs must have the same shape except the concat axis",
                      [vals[0].shape, v.shape], k, next(x for x in vals if x.tid is not None))
    out = bld.concat_shape([v.shape for v in vals], axis)
    live = [v.tid for v in vals if v.tid is not None]
    return nd.emit([nd.b.concat(nd.group(), live, out, axis, dtype=dtype_name(vals[0].elem))], [vals[0].elem])


def _reshape_target(nd: Node) -> Optional[list[int]]:
    """Reshape (``shape`` attribute before opset 5, input 1 after), Flatten, (Un)Squeeze (``axes``
    attribute before 13, input 1 after): the output shape, or None when not constant."""
    x = nd.x
    n = len(x.shape)
    if nd.op == "Flatten":
        axis = nd.axis("axis", 1, n)
        return [math.prod(x.shape[:axis]), math.prod(x.shape[axis:])]
    if nd.op == "Reshape":
        target = [int(v) for v in nd.attrs["shape"]] if "shape" in nd.attrs else nd.ints(1)
        return None if target is None else _reshape(nd, target)
    axes = [int(a) for a in nd.attrs["axes"]] if "axes" in nd.attrs else (nd.ints(1) if nd.given(1) else None)
    if nd.op == "Squeeze":
        if axes is None:
            return None if nd.given(1) else [d for d in x.shape if d != 1]
        gone = {a + n if a < 0 else a for a in axes}
        return [d for i, d in enumerate(x.shape) if i not in gone]
    if axes is None:
        return None
    out = list(x.shape)
    for a in sorted(a + n + len(axes) if a < 0 else a for a in axes):
        out.insert(a, 1)
    return out


def _reshape(nd: Node, target: list[int]) -> list[int]:
    x = nd.x
    allowzero = int(nd.attrs.get("allowzero", 0))
    out = [x.shape[i] if (t == 0 and not allowzero and i < len(x.shape)) else t for i, t in enumerate(target)]
    if out.count(-1) == 1:
        known = math.prod(v for v in out if v != -1)
        out[out.index(-1)] = math.prod(x.shape) // known if known else 0
    if math.prod(out) != math.prod(x.shape) or any(v < 0 for v in out):
        raise nd.fail(f"Reshape: cannot reshape {x.shape} ({math.prod(x.shape)} elements) to {target}", shapes=[x.shape])
    return out


@_rule("Reshape", "Flatten", "Squeeze", "Unsqueeze", fallback="reshape")
def _reshape_like(nd: Node) -> bool:
    x = nd.x
    out = _reshape_target(nd)
    if out is None or x.tid is None:
        return False
    return nd.emit([nd.b.reshape(nd.group(), x.tid, tuple(int(v) for v in out))], [x.elem])


@_rule("Transpose")
def _transpose(nd: Node) -> bool:
    x = nd.x
    if x.tid is None:
        return False
    perm = [int(p) for p in nd.attrs.get("perm", list(range(len(x.shape)))[::-1])]
    return nd.emit([nd.b.permute(nd.group(), x.tid, perm)], [x.elem])


def _slice_request(nd: Node) -> Optional[tuple[list[int], list[int], list[int], list[int]]]:
    """``(starts, ends, axes, steps)`` from the attributes (opset < 10) or constant inputs."""
    if "starts" in nd.attrs:
        starts = [int(v) for v in nd.attrs["starts"]]
        return (starts, [int(v) for v in nd.attrs["ends"]],
                [int(v) for v in nd.attrs.get("axes", range(len(starts)))], [1] * len(starts))
    starts_, ends_ = nd.ints(1), nd.ints(2)
    axes_ = nd.ints(3) if nd.given(3) else None
    steps_ = nd.ints(4) if nd.given(4) else None
    if starts_ is None or ends_ is None or (nd.given(3) and axes_ is None) or (nd.given(4) and steps_ is None):
        return None
    return (starts_, ends_, axes_ if axes_ is not None else list(range(len(starts_))),
            steps_ if steps_ is not None else [1] * len(starts_))


@_rule("Slice", fallback="slice")
def _slice(nd: Node) -> bool:
    x = nd.x
    request = _slice_request(nd)
    if request is None or x.tid is None:
        return False
    n = len(x.shape)
    out = list(x.shape)
    starts: dict[int, tuple[int, int]] = {}
    for s0, e0, a, st in zip(*request):
        d = a + n if a < 0 else a
        start, stop, step = slice(s0, e0, st).indices(x.shape[d])
        out[d] = len(range(start, stop, step))
        if start != 0 or step != 1:
            starts[d] = (start, step)
    return nd.emit([nd.b.crop(nd.group(), x.tid, tuple(out), starts)], [x.elem])


@_rule("Split", fallback="slice")
def _split(nd: Node) -> bool:
    x = nd.x
    if x.tid is None:
        return False
    axis = nd.axis("axis", 0, len(x.shape))
    count = len(nd.proto.output)
    sizes = [int(s) for s in nd.attrs["split"]] if "split" in nd.attrs else (nd.ints(1) if nd.given(1) else None)
    if sizes is None and nd.given(1):
        return False
    if sizes is None:
        chunk = -(-x.shape[axis] // count)
        sizes = [min(chunk, x.shape[axis] - i * chunk) for i in range(count)]
    if sum(sizes) != x.shape[axis]:
        raise nd.fail(f"Split sizes {sizes} do not add up to {x.shape[axis]}", shapes=[x.shape])
    return nd.emit(nd.b.split(nd.group(), x.tid, axis, sizes), [x.elem] * len(sizes))


@_rule("Gather", fallback="slice")
def _gather(nd: Node) -> bool:
    """``data[..., indices, ...]`` on ``axis`` with constant indices: the other dims keep their
    axes (moved by the indices' rank); the gathered dim's axis is selected, inexactly."""
    x, idx = nd.x, nd.input(1)
    if x.tid is None or idx is None or idx.tid is not None:
        return False
    axis = nd.axis("axis", 0, len(x.shape))
    r = len(idx.shape)
    out = x.shape[:axis] + idx.shape + x.shape[axis + 1:]
    rf = nd.b.rf(x.tid)
    out_rf = None if rf is None else rfm.remap(rf, lambda d: d if d < axis else (None if d == axis else d + r - 1),
                                               exact=not any(d == axis for d in rf.dims))
    return nd.emit(nd.b.op(nd.group(), "slice", [x.tid], [(out, dtype_name(x.elem))], [out_rf]), [x.elem])


@_rule("Expand", "Tile", fallback="expand")
def _expand(nd: Node) -> bool:
    """``Expand``: broadcast to a constant shape (a dim of size 1 repeated: its axis is whole);
    ``Tile``: repeat each dim (a repeated dim's axis is passed through by shape, inexactly)."""
    x = nd.x
    target = nd.ints(1)
    if target is None or x.tid is None:
        return False
    if nd.op == "Expand":
        wide = bld.broadcast(x.shape, tuple(target))
        if wide is None:
            raise nd.fail(f"Expand: {x.shape} does not broadcast to {tuple(target)}", shapes=[x.shape])
        off = len(wide) - len(x.shape)
        rf = nd.b.rf(x.tid)
        out_rf = None if rf is None else rfm.remap(rf, lambda d: d + off if x.shape[d] == wide[d + off] else None)
        return nd.emit(nd.b.op(nd.group(), "expand", [x.tid], [(wide, dtype_name(x.elem))], [out_rf]), [x.elem])
    out = tuple(s * r for s, r in zip(x.shape, target))
    return nd.emit(nd.b.by_shape(nd.group(), "expand", [x.tid], [(out, dtype_name(x.elem))]), [x.elem])


@_rule("Shape", "Size")
def _shape(nd: Node) -> bool:
    x = nd.x
    value = np.array(x.shape, dtype=np.int64)
    if nd.op == "Size":
        value = np.array(math.prod(x.shape), dtype=np.int64)
    else:
        end = nd.attrs.get("end")
        value = value[int(nd.attrs.get("start", 0)):None if end is None else int(end)]
    nd.outputs = [Val(tuple(value.shape), T.INT64, value=value)]
    return True
