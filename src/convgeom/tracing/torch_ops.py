"""The rules of the PyTorch frontend: fast handlers for the ops whose output the geometry engine
computes (convolutions, pooling, resizing, padding, normalisation, activations, arithmetic,
``cat``, ``linear``: nothing is executed, each becomes one
:class:`~convgeom.tracing.builder.TraceBuilder` call), and receptive-field rules by op name for
everything else, which runs on meta tensors (:class:`~convgeom.tracing.torch_tracer.Tracer`)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Optional

import torch
import torch.nn.functional as F

from .. import geometry as geo
from ..errors import GeometryError
from ..padding import check_padding_mode
from . import builder as bld
from . import rf as rfm
from .rf import Shape, TensorRF
from .torch_tracer import (
    Handler,
    Rule,
    RuleResult,
    Tables,
    Tracer,
    arg,
    canonical,
    dtype_name,
    engine_arg,
    fn_name,
    new_tensor,
    type_name,
)

Tensor = torch.Tensor


# ================================================================================================
# receptive-field rules for ops that run on meta tensors

def _source(tr: Tracer, acts: list[tuple[Tensor, int]]) -> tuple[Optional[TensorRF], Shape]:
    """The receptive field and shape of the op's first activation."""
    t = acts[0][1]
    return tr.builder.rf(t), tr.builder.shape(t)


def _rule_unknown(tr: Tracer, name: str, args: Sequence[Any], kwargs: dict[str, Any],
                  acts: list[tuple[Tensor, int]], outs: list[Tensor]) -> RuleResult:
    rf, shape = _source(tr, acts)
    return [rfm.by_shape(rf, shape, tuple(o.shape)) for o in outs], [], 0


def _rule_elementwise(tr: Tracer, name: str, args: Sequence[Any], kwargs: dict[str, Any],
                      acts: list[tuple[Tensor, int]], outs: list[Tensor]) -> RuleResult:
    b = tr.builder
    out_shape = tuple(outs[0].shape)
    merged, issues = rfm.merge([(b.rf(t), b.shape(t)) for _, t in acts], out_shape)
    return [merged for _ in outs], issues, 0


def _rule_reshape(tr: Tracer, name: str, args: Sequence[Any], kwargs: dict[str, Any],
                  acts: list[tuple[Tensor, int]], outs: list[Tensor]) -> RuleResult:
    rf, shape = _source(tr, acts)
    return [None if rf is None else rfm.reshape(rf, shape, tuple(o.shape)) for o in outs], [], 0


def _norm_dim(d: int, n: int) -> int:
    return d + n if d < 0 else d


def _rule_permute(tr: Tracer, name: str, args: Sequence[Any], kwargs: dict[str, Any],
                  acts: list[tuple[Tensor, int]], outs: list[Tensor]) -> RuleResult:
    rf, shape = _source(tr, acts)
    n = len(shape)
    perm = list(range(n))
    if name == "permute":
        dims = args[1:] if len(args) > 1 else kwargs.get("dims", ())
        if len(dims) == 1 and isinstance(dims[0], (list, tuple, torch.Size)):
            dims = dims[0]
        perm = [_norm_dim(int(d), n) for d in dims]
    elif name in ("transpose", "swapaxes", "swapdims"):
        d0 = _norm_dim(int(arg(args, kwargs, 1, "dim0")), n)
        d1 = _norm_dim(int(arg(args, kwargs, 2, "dim1")), n)
        perm[d0], perm[d1] = perm[d1], perm[d0]
    elif name in ("t", "T", "numpy_T"):
        perm = list(reversed(perm))
    elif name in ("mT", "mH"):
        perm[-1], perm[-2] = perm[-2], perm[-1]
    elif name in ("movedim", "moveaxis"):
        src = arg(args, kwargs, 1, "source")
        dst = arg(args, kwargs, 2, "destination")
        srcs = [src] if isinstance(src, int) else list(src)
        dsts = [dst] if isinstance(dst, int) else list(dst)
        srcs = [_norm_dim(s, n) for s in srcs]
        dsts = [_norm_dim(d, n) for d in dsts]
        rest = [d for d in range(n) if d not in srcs]
        perm = [-1] * n
        for s, d in zip(srcs, dsts):
            perm[d] = s
        it = iter(rest)
        perm = [p if p >= 0 else next(it) for p in perm]
    return [None if rf is None else rfm.permute(rf, perm) for _ in outs], [], 0


def _rule_expand(tr: Tracer, name: str, args: Sequence[Any], kwargs: dict[str, Any],
                 acts: list[tuple[Tensor, int]], outs: list[Tensor]) -> RuleResult:
    rf, shape = _source(tr, acts)
    out = tuple(outs[0].shape)
    if rf is None:
        return [None], [], 0
    off = len(out) - len(shape)
    res = rfm.remap(rf, lambda d: d + off if shape[d] == out[d + off] else None)
    return [res for _ in outs], [], 0


def _dims_arg(value: Any, n: int) -> Optional[list[int]]:
    if value is None:
        return None
    if isinstance(value, int):
        return [_norm_dim(value, n)]
    return [_norm_dim(int(v), n) for v in value]


def _rule_reduce(tr: Tracer, name: str, args: Sequence[Any], kwargs: dict[str, Any],
                 acts: list[tuple[Tensor, int]], outs: list[Tensor]) -> RuleResult:
    rf, shape = _source(tr, acts)
    n = len(shape)
    dim = kwargs.get("dim", kwargs.get("axis", args[1] if len(args) > 1 and not isinstance(args[1], Tensor) else None))
    if name == "norm":
        dim = kwargs.get("dim", args[2] if len(args) > 2 else None)
    keepdim = bool(kwargs.get("keepdim", args[2] if len(args) > 2 and isinstance(args[2], bool) else False))
    dims = _dims_arg(dim, n)
    if dims is None or (dims == [] and name in ("mean", "sum")):
        dims = list(range(n))
        keepdim = False
    if rf is None:
        return [None for _ in outs], [], 0
    res = rfm.reduce(rf, dims, keepdim, n)
    return [res for _ in outs], [], 0


def _rule_along(tr: Tracer, name: str, args: Sequence[Any], kwargs: dict[str, Any],
                acts: list[tuple[Tensor, int]], outs: list[Tensor]) -> RuleResult:
    rf, shape = _source(tr, acts)
    dim = kwargs.get("dim", args[1] if len(args) > 1 else None)
    if rf is None:
        return [None for _ in outs], [], 0
    if not isinstance(dim, int):
        return [rfm.inexact(rfm.whole(rf)) for _ in outs], [], 0
    res = rfm.along(rf, _norm_dim(dim, len(shape)))
    return [res if tuple(o.shape) == shape else rfm.by_shape(res, shape, tuple(o.shape)) for o in outs], [], 0


def _rule_slice(tr: Tracer, name: str, args: Sequence[Any], kwargs: dict[str, Any],
                acts: list[tuple[Tensor, int]], outs: list[Tensor]) -> RuleResult:
    """``x[...]``, ``narrow``, ``select``, ``split``/``chunk``/``unbind``: crops are steps of
    kernel 1, stride ``step``, padding ``-start``; an integer index removes the dim."""
    t = acts[0][1]
    rf = tr.builder.rf(t)
    shape = tr.builder.shape(t)
    if rf is None or acts[0][0] is not args[0]:
        return [None if rf is None else rfm.by_shape(rf, shape, tuple(o.shape)) for o in outs], [], 0
    if name == "getitem":
        items = list(args[1]) if isinstance(args[1], tuple) else [args[1]]
        if any(isinstance(i, (Tensor, list)) for i in items):
            return [rfm.inexact(rfm.by_shape(rf, shape, tuple(o.shape)) or rf) for o in outs], [], 0
        res = _indexed(rf, shape, items)
        return [res for _ in outs], [], 0
    n = len(shape)
    dim, starts = _pieces(name, args, kwargs, outs, n, shape)
    results: list[Optional[TensorRF]] = []
    for k, o in enumerate(outs):
        start = starts[k] if k < len(starts) else 0
        res = rfm.apply_steps(rf, [dim], rfm.steps_for_crop([start], [1])) if start else rf
        if o.dim() < n:
            res = rfm.remap(res, lambda d: None if d == dim else (d - 1 if d > dim else d))
        results.append(res)
    return results, [], 0


def _indexed(rf: TensorRF, shape: Shape, items: list[Any]) -> TensorRF:
    """``x[items]`` with slices, ints, ``None`` and ``...``: each slice a crop, each int removes
    its dim (that axis becomes whole), each ``None`` inserts one."""
    n = len(shape)
    n_real = sum(1 for i in items if i is not None and i is not Ellipsis)
    expanded: list[Any] = []
    for i in items:
        expanded.extend([slice(None)] * (n - n_real) if i is Ellipsis else [i])
    expanded.extend([slice(None)] * (n - sum(1 for i in expanded if i is not None)))
    starts: dict[int, tuple[int, int]] = {}
    mapping: dict[int, Optional[int]] = {}
    src = dst = 0
    for i in expanded:
        if i is None:
            dst += 1
            continue
        if isinstance(i, slice):
            start, _stop, step = i.indices(shape[src])
            if start != 0 or step != 1:
                starts[src] = (start, step)
            mapping[src] = dst
            dst += 1
        else:
            mapping[src] = None
        src += 1
    dims = list(starts)
    steps = rfm.steps_for_crop([starts[d][0] for d in dims], [starts[d][1] for d in dims])
    res = rfm.apply_steps(rf, dims, steps) if dims else rf
    return rfm.remap(res, lambda d: mapping.get(d, d))


def _pieces(name: str, args: Sequence[Any], kwargs: dict[str, Any], outs: list[Tensor], n: int,
            shape: Shape) -> tuple[int, list[int]]:
    """``(dim, start of each output)`` of ``narrow``/``select``/``split``/``chunk``/``unbind``."""
    if name == "narrow":
        dim = _norm_dim(int(arg(args, kwargs, 1, "dim")), n)
        return dim, [int(arg(args, kwargs, 2, "start")) % shape[dim]]
    if name in ("select", "unbind"):
        dim = _norm_dim(int(arg(args, kwargs, 1, "dim", 0)), n)
        if name == "select":
            return dim, [0]
    else:
        dim = _norm_dim(int(kwargs.get("dim", args[2] if len(args) > 2 else 0)), n)
    if name not in ("split", "chunk", "tensor_split", "split_with_sizes", "unbind", "unsafe_split"):
        return dim, []
    starts, acc = [], 0
    for o in outs:
        starts.append(acc)
        acc += o.shape[dim] if o.dim() == n else 1
    return dim, starts


def _rule_stack(tr: Tracer, name: str, args: Sequence[Any], kwargs: dict[str, Any],
                acts: list[tuple[Tensor, int]], outs: list[Tensor]) -> RuleResult:
    b = tr.builder
    out = tuple(outs[0].shape)
    n = len(out)
    dim = _norm_dim(int(arg(args, kwargs, 1, "dim", 0)), n)
    ops = []
    for _, t in acts:
        rf = b.rf(t)
        shape = b.shape(t)
        if rf is not None:
            rf = rfm.remap(rf, lambda d: d + 1 if d >= dim else d)
        ops.append((rf, shape[:dim] + (out[dim],) + shape[dim:]))
    merged, issues = rfm.merge(ops, out)
    return [merged for _ in outs], issues, 0


def _rule_matmul(tr: Tracer, name: str, args: Sequence[Any], kwargs: dict[str, Any],
                 acts: list[tuple[Tensor, int]], outs: list[Tensor]) -> RuleResult:
    """``matmul`` & co.: the first operand contracts its last dim, the second its second-last
    (``addmm`` & co.: after the added tensor)."""
    out = tuple(outs[0].shape)
    tensors = [a for a in args if isinstance(a, Tensor)]
    if name in ("addmm", "baddbmm", "addbmm", "addmv"):
        tensors = tensors[1:]
    macs = bld.matmul_macs(out, tensors[0].shape[-1] if tensors[0].dim() else 1) if len(tensors) >= 2 else 0
    operands = []
    for obj, t in acts:
        shape = tr.builder.shape(t)
        pos = next((i for i, x in enumerate(tensors) if x is obj), 0)
        operands.append((tr.builder.rf(t), shape, len(shape) - 1 if pos == 0 else max(len(shape) - 2, 0)))
    merged = bld.product_rf(operands, len(out))
    return [merged for _ in outs], [], macs


def _rule_einsum(tr: Tracer, name: str, args: Sequence[Any], kwargs: dict[str, Any],
                 acts: list[tuple[Tensor, int]], outs: list[Tensor]) -> RuleResult:
    operands = list(args[1:])
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = list(operands[0])
    shapes = [tuple(op.shape) if isinstance(op, Tensor) else () for op in operands]
    rfs = [tr.builder.rf(t) if t is not None else None for t in (tr.tid(op) for op in operands)]
    _, merged, macs = bld.einsum(str(args[0]), shapes, rfs)
    return [merged for _ in outs], [], macs


def _rule_attention(tr: Tracer, name: str, args: Sequence[Any], kwargs: dict[str, Any],
                    acts: list[tuple[Tensor, int]], outs: list[Tensor]) -> RuleResult:
    q, k, v = (tuple(a.shape) for a in args[:3])
    merged: Optional[TensorRF] = None
    for _, t in acts:
        rf = tr.builder.rf(t)
        if rf is not None:
            merged = rfm.join(merged, rfm.whole(rf))
    return [merged for _ in outs], [], bld.attention_macs(q, k, v)


def _rule_pixel(tr: Tracer, name: str, args: Sequence[Any], kwargs: dict[str, Any],
                acts: list[tuple[Tensor, int]], outs: list[Tensor]) -> RuleResult:
    """``pixel_shuffle(r)``: output ``u`` reads input ``u // r`` (kernel 1, stride 1/r);
    ``pixel_unshuffle(r)``: kernel r, stride r (space-to-depth)."""
    rf, shape = _source(tr, acts)
    r = int(arg(args, kwargs, 1, "upscale_factor" if name == "pixel_shuffle" else "downscale_factor"))
    if rf is None:
        return [None], [], 0
    step = rfm.step_for_shuffle(r, up=name == "pixel_shuffle")
    return [rfm.apply_steps(rf, [len(shape) - 2, len(shape) - 1], [step, step], [len(shape) - 3])], [], 0


def _rule_whole(tr: Tracer, name: str, args: Sequence[Any], kwargs: dict[str, Any],
                acts: list[tuple[Tensor, int]], outs: list[Tensor]) -> RuleResult:
    rf = tr.builder.rf(acts[0][1])
    return [None if rf is None else rfm.whole(rf) for _ in outs], [], 0


# ================================================================================================
# which rule an op name follows; the groups are disjoint (a test checks), so no order matters
_ACTIVATION_NAMES = ("sigmoid", "tanh", "relu", "softplus", "logsigmoid", "log_sigmoid", "softsign", "tanhshrink",
                     "hardshrink", "softshrink", "hardtanh", "relu6", "elu", "selu", "celu", "gelu", "silu", "mish",
                     "hardswish", "hardsigmoid", "leaky_relu", "prelu", "rrelu", "threshold")
_DROPOUT_NAMES = ("dropout", "alpha_dropout", "feature_alpha_dropout", "dropout1d", "dropout2d", "dropout3d")
_ELEMENTWISE_NAMES = (
    "contiguous", "clone", "detach", "to", "type", "type_as", "float", "double", "half", "bfloat16", "int", "long",
    "bool", "abs", "neg", "negative", "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "rsqrt",
    "pow", "clamp", "clamp_min", "clamp_max", "clip", "sign", "square", "reciprocal", "erf", "erfc", "sin", "cos",
    "tan", "round", "floor", "ceil", "trunc", "frac", "nan_to_num", "requires_grad", "masked_fill", "where", "lerp",
    "gt", "lt", "ge", "le", "eq", "ne", "greater", "less", "logical_not", "logical_and", "logical_or",
    "logical_xor", "bitwise_and", "bitwise_or", "bitwise_not", "isnan", "isinf", "isfinite", "rsub", "rdiv",
    "true_divide", "floor_divide", "remainder", "fmod", "maximum", "minimum", "fmax", "fmin", "atan2", "hypot",
    "addcmul", "addcdiv", "copy", "zero", "fill", "mul_", "channel_shuffle", "native_channel_shuffle",
    "zeros_like", "ones_like", "empty_like", "full_like", "rand_like", "randn_like", "new_zeros", "new_ones",
    "new_empty", "new_full", "local_response_norm", "sgn", "conj", "real", "data", "cpu", "cuda", "requires_grad_",
    "masked_scatter", "index_fill", "scatter", "scatter_add", "gather", "bucketize", "setitem")
_RULE_GROUPS: tuple[tuple[Optional[str], Rule, tuple[str, ...]], ...] = (
    # (record kind, None: the name itself; rule; op names)
    ("elementwise", _rule_elementwise, _ELEMENTWISE_NAMES),
    ("activation", _rule_elementwise, _ACTIVATION_NAMES),
    (None, _rule_elementwise, ("add", "sub", "mul", "div")),
    ("dropout", _rule_elementwise, _DROPOUT_NAMES),
    ("reshape", _rule_reshape, ("view", "reshape", "flatten", "unflatten", "squeeze", "unsqueeze", "view_as",
                                "reshape_as", "ravel", "atleast_1d", "atleast_2d", "atleast_3d")),
    ("permute", _rule_permute, ("permute", "transpose", "swapaxes", "swapdims", "t", "T", "mT", "mH", "movedim",
                                "moveaxis")),
    ("expand", _rule_expand, ("expand", "expand_as", "repeat", "tile", "broadcast_to", "repeat_interleave")),
    ("reduce", _rule_reduce, ("mean", "sum", "amax", "amin", "max", "min", "std", "var", "prod", "logsumexp", "norm",
                              "argmax", "argmin", "all", "any", "median", "nanmean", "nansum", "std_mean", "var_mean",
                              "count_nonzero", "aminmax", "mode", "nanmedian")),
    ("softmax", _rule_along, ("softmax", "log_softmax", "softmin")),
    ("reduce", _rule_along, ("cumsum", "cumprod", "cummax", "cummin", "sort", "argsort", "topk", "flip", "roll",
                             "normalize", "glu", "kthvalue", "logcumsumexp")),
    ("slice", _rule_slice, ("getitem", "narrow", "select", "split", "chunk", "tensor_split", "unbind",
                            "split_with_sizes", "unsafe_split")),
    ("stack", _rule_stack, ("stack",)),
    ("matmul", _rule_matmul, ("matmul", "mm", "bmm", "addmm", "baddbmm", "addbmm", "mv", "addmv", "dot", "inner")),
    ("matmul", _rule_einsum, ("einsum",)),
    ("attention", _rule_attention, ("scaled_dot_product_attention",)),
    (None, _rule_pixel, ("pixel_shuffle", "pixel_unshuffle")),
    (None, _rule_whole, ("unfold", "fold", "embedding")),
    ("attention", _rule_whole, ("multi_head_attention_forward",)),
    ("unknown", _rule_whole, ("grid_sample", "affine_grid", "one_hot")),
)
RULES: dict[str, tuple[str, Rule]] = {
    name: (kind or name, rule) for kind, rule, names in _RULE_GROUPS for name in names}
VALUE_OPS = {"item", "tolist", "bool", "int", "float", "index", "nonzero", "numpy", "unique", "masked_select",
             "unique_consecutive", "is_nonzero", "equal", "allclose", "repr", "format"}
FACTORIES = {"zeros", "ones", "empty", "full", "rand", "randn", "randint", "empty_strided", "eye"}


# ================================================================================================
# fast handlers: shapes from the engine, nothing executed
ActivationHandler = Callable[[Tracer, Any, Sequence[Any], dict[str, Any], Tensor, int], Any]


def _on_activation(fn: ActivationHandler) -> Handler:
    """A handler for an op whose first argument (``input``) is an activation: ``fn`` also gets
    it and its tensor id; any other call runs as a generic op."""
    def handler(tr: Tracer, func: Any, args: Sequence[Any], kwargs: dict[str, Any]) -> Any:
        x = arg(args, kwargs, 0, "input")
        xt = tr.tid(x)
        if xt is None:
            return tr.generic(func, args, kwargs)
        return fn(tr, func, args, kwargs, x, xt)
    return handler


def _h_conv(nd: int, transposed: bool) -> Handler:
    """``conv{nd}d`` / ``conv_transpose{nd}d``: the geometry from the engine, the rest from the builder."""
    fn = f"conv_transpose{nd}d" if transposed else f"conv{nd}d"

    def handler(tr: Tracer, func: Any, args: Sequence[Any], kwargs: dict[str, Any]) -> Any:
        x = arg(args, kwargs, 0, "input")
        w = arg(args, kwargs, 1, "weight")
        xt = tr.tid(x)
        if xt is None or not isinstance(w, Tensor):
            return tr.generic(func, args, kwargs)
        shape = tuple(x.shape)
        if len(shape) not in (nd + 1, nd + 2):
            raise tr.failure(fn, f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to {fn}, "
                                 f"but got input of size: {list(shape)}", shapes=[shape])
        bias = arg(args, kwargs, 2, "bias")
        params = [w, bias]
        spatial, channel, has_bias = range(len(shape) - nd, len(shape)), len(shape) - nd - 1, isinstance(bias, Tensor)
        if transposed:
            g = _transposed_geometry(tr, fn, x, w, nd, args, kwargs)
            t = tr.builder.conv_transpose(tr.group_for(fn, type_name(func), params), xt, g, spatial=spatial,
                                          channel=channel, out_channels=int(w.shape[1]) * g.groups, bias=has_bias,
                                          params=tr.count_params(params))
        else:
            g = _conv_geometry(tr, fn, x, w, nd, args, kwargs)
            padding = arg(args, kwargs, 4, "padding", 0)
            t = tr.builder.conv(tr.group_for(fn, type_name(func), params), xt, g, spatial=spatial, channel=channel,
                                out_channels=int(w.shape[0]), bias=has_bias, params=tr.count_params(params),
                                attrs={"padding": repr(padding)} if isinstance(padding, str) else None)
        return tr.produce([t], x)[0]
    return handler


def _conv_geometry(tr: Tracer, fn: str, x: Tensor, w: Tensor, nd: int, args: Sequence[Any],
                   kwargs: dict[str, Any]) -> geo.LayerGeometry:
    """``F.conv{nd}d``'s geometry (memoised: repeated blocks share it); its channel check."""
    shape, wshape = tuple(x.shape), tuple(w.shape)
    groups = int(arg(args, kwargs, 6, "groups", 1))
    channels = shape[-nd - 1]
    if channels != wshape[1] * groups:
        raise tr.failure(
            fn, f"Given groups={groups}, weight of size {list(wshape)}, expected input{list(shape)} to have "
                f"{wshape[1] * groups} channels, but got {channels} channels instead", shapes=[shape, wshape],
            fix=f"feed {wshape[1] * groups} channels or change in_channels")
    padding = arg(args, kwargs, 4, "padding", 0)
    pad_arg = padding if isinstance(padding, str) else engine_arg(padding, nd)
    stride_arg = engine_arg(arg(args, kwargs, 3, "stride", 1), nd)
    dil_arg = engine_arg(arg(args, kwargs, 5, "dilation", 1), nd)
    g: geo.LayerGeometry = tr.engine(fn, x, nd, lambda: geo.conv(
        shape[-nd:], wshape[2:], stride_arg, pad_arg, dil_arg, groups,
        framework="torch", in_channels=channels, out_channels=wshape[0]),
        ("conv", shape[-nd:], wshape, stride_arg, pad_arg, dil_arg, groups))
    return g


def _transposed_geometry(tr: Tracer, fn: str, x: Tensor, w: Tensor, nd: int, args: Sequence[Any],
                         kwargs: dict[str, Any]) -> geo.LayerGeometry:
    """``F.conv_transpose{nd}d``'s geometry; its channel check."""
    shape, wshape = tuple(x.shape), tuple(w.shape)
    channels = shape[-nd - 1]
    if channels != wshape[0]:
        raise tr.failure(
            fn, f"Given transposed=1, weight of size {list(wshape)}, expected input{list(shape)} to have "
                f"{wshape[0]} channels, but got {channels} channels instead", shapes=[shape, wshape])
    g: geo.LayerGeometry = tr.engine(fn, x, nd, lambda: geo.conv_transpose(
        shape[-nd:], wshape[2:], engine_arg(arg(args, kwargs, 3, "stride", 1), nd),
        engine_arg(arg(args, kwargs, 4, "padding", 0), nd), engine_arg(arg(args, kwargs, 5, "output_padding", 0), nd),
        engine_arg(arg(args, kwargs, 7, "dilation", 1), nd), groups=int(arg(args, kwargs, 6, "groups", 1)),
        framework="torch"))
    return g


def _h_pool(nd: int, kind: str) -> Handler:
    @_on_activation
    def handler(tr: Tracer, func: Any, args: Sequence[Any], kwargs: dict[str, Any], x: Tensor, xt: int) -> Any:
        fn = f"{kind}_pool{nd}d"
        kernel = engine_arg(arg(args, kwargs, 1, "kernel_size"), nd)
        stride = arg(args, kwargs, 2, "stride", None)
        stride = kernel if stride is None or (isinstance(stride, (list, tuple)) and not stride) else engine_arg(stride, nd)
        padding = engine_arg(arg(args, kwargs, 3, "padding", 0), nd)
        sizes = tuple(x.shape)[-nd:]
        indices = False
        if kind == "max":
            ceil_mode = bool(arg(args, kwargs, 5, "ceil_mode", False))
            indices = bool(arg(args, kwargs, 6, "return_indices", False)) or "with_indices" in fn_name(func)
            dilation = engine_arg(arg(args, kwargs, 4, "dilation", 1), nd)
            g = tr.engine(fn, x, nd, lambda: geo.max_pool(sizes, kernel, stride, padding, dilation, ceil_mode,
                                                          framework="torch"))
        else:
            ceil_mode = bool(arg(args, kwargs, 4, "ceil_mode", False))
            cip = bool(arg(args, kwargs, 5, "count_include_pad", True))
            divisor = arg(args, kwargs, 6, "divisor_override", None)
            g = tr.engine(fn, x, nd, lambda: geo.avg_pool(sizes, kernel, stride, padding, ceil_mode, cip, divisor,
                                                          framework="torch"))
        return _pooled(tr, func, fn, f"{kind}_pool", x, g, nd, indices, {"ceil_mode": "True"} if ceil_mode else None)
    return handler


def _pooled(tr: Tracer, func: Any, fn: str, kind: str, x: Tensor, g: Any, nd: int, indices: bool,
            attrs: Optional[dict[str, str]] = None) -> Any:
    """Record a pooling op over the last ``nd`` dims; its output (and indices) as torch returns them."""
    xt = tr.tid(x)
    assert xt is not None
    tids = tr.builder.pool(tr.group_for(fn, type_name(func)), kind, xt, g, spatial=range(x.dim() - nd, x.dim()),
                           indices=indices, attrs=attrs)
    outs = tr.produce(tids, x)
    return (outs[0], outs[1]) if indices else outs[0]


def _h_adaptive(nd: int, kind: str) -> Handler:
    @_on_activation
    def handler(tr: Tracer, func: Any, args: Sequence[Any], kwargs: dict[str, Any], x: Tensor, xt: int) -> Any:
        fn = f"adaptive_{kind}_pool{nd}d"
        size = arg(args, kwargs, 1, "output_size")
        indices = bool(arg(args, kwargs, 2, "return_indices", False))
        osize: Any = ([None if s is None else int(s) for s in size] if isinstance(size, (list, tuple, torch.Size))
                      else int(size))
        if isinstance(osize, list) and len(osize) == 1 and nd > 1:
            osize = osize[0]
        call = geo.adaptive_avg_pool if kind == "avg" else geo.adaptive_max_pool
        g = tr.engine(fn, x, nd, lambda: call(tuple(x.shape)[-nd:], osize))
        return _pooled(tr, func, fn, f"adaptive_{kind}_pool", x, g, nd, indices)
    return handler


_RESIZE_NDIM = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}


def _resize_args(size: Any, scale: Any, nd: int) -> tuple[Any, Any]:
    """``F.interpolate``'s ``size`` and ``scale_factor`` as the engine takes them (one value
    repeated over ``nd`` axes)."""
    size_arg: Any = None if size is None else engine_arg(size, nd)
    scale_arg: Any = None if scale is None else (
        tuple(float(s) for s in scale) if isinstance(scale, (list, tuple)) else float(scale))
    if isinstance(scale_arg, tuple) and len(scale_arg) == 1 and nd > 1:
        scale_arg = scale_arg[0]
    if isinstance(scale_arg, float) and nd > 1:
        scale_arg = (scale_arg,) * nd
    if isinstance(size_arg, int) and nd > 1:
        size_arg = (size_arg,) * nd
    return size_arg, scale_arg


@_on_activation
def _h_interpolate(tr: Tracer, func: Any, args: Sequence[Any], kwargs: dict[str, Any], x: Tensor, xt: int) -> Any:
    name = fn_name(func)
    mode = arg(args, kwargs, 3, "mode", "nearest")
    align = arg(args, kwargs, 4, "align_corners")
    if name == "upsample_nearest":
        mode, align = "nearest", None
    elif name == "upsample_bilinear":
        mode, align = "bilinear", True
    shape = tuple(x.shape)
    nd = len(shape) - 2
    want = _RESIZE_NDIM.get(mode)
    if want is not None and want != nd:
        raise tr.failure("interpolate", f"Got {len(shape)}D input, but {mode} mode needs {want + 2}D input",
                         shapes=[shape])
    size_arg, scale_arg = _resize_args(arg(args, kwargs, 1, "size"), arg(args, kwargs, 2, "scale_factor"), nd)
    g = tr.engine("interpolate", x, nd, lambda: geo.interpolate(shape[2:], size_arg, scale_arg, mode))
    scales = None
    if scale_arg is not None and str(mode).startswith("nearest"):
        scales = scale_arg if isinstance(scale_arg, tuple) else (scale_arg,) * nd
    group = tr.group_for("interpolate", type_name(func))
    t = tr.builder.resize(group, xt, g, spatial=range(2, len(shape)), mode=str(mode), align_corners=bool(align),
                          scales=scales, attrs={"mode": str(mode)})
    return tr.produce([t], x)[0]


@_on_activation
def _h_pad(tr: Tracer, func: Any, args: Sequence[Any], kwargs: dict[str, Any], x: Tensor, xt: int) -> Any:
    pad = [int(p) for p in arg(args, kwargs, 1, "pad")]
    mode = arg(args, kwargs, 2, "mode", "constant") or "constant"
    shape = tuple(x.shape)
    n = len(shape)
    if len(pad) % 2 or len(pad) // 2 > n:
        raise tr.failure("pad", f"Padding length must be divisible by 2 and at most {2 * n}, got {len(pad)}",
                         shapes=[shape])
    per_dim: dict[int, tuple[int, int]] = {}
    for i in range(len(pad) // 2):
        d = n - 1 - i
        before, after = pad[2 * i], pad[2 * i + 1]
        if mode in ("reflect", "circular"):
            try:
                check_padding_mode("reflect" if mode == "reflect" else "circular", shape[d], before, after, d)
            except GeometryError as exc:
                raise tr.failure("pad", exc.problem, exc.rule, [shape], dim=d, tid=xt, fix=exc.fix) from exc
        size = shape[d] + before + after
        if size < 0 or (size == 0 and mode != "constant"):
            raise tr.failure("pad", f"The input size {shape[d]}, plus negative padding {before} and {after} "
                                    f"resulted in a negative output size {size}", shapes=[shape], dim=d, tid=xt)
        per_dim[d] = (before, after)
    group = tr.group_for("pad", type_name(func))
    t = tr.builder.pad(group, xt, per_dim, spatial=range(2, n) if n > 2 else range(n), attrs={"pad_mode": str(mode)})
    return tr.produce([t], x)[0]


def _norm_check(tr: Tracer, kind: str, args: Sequence[Any], kwargs: dict[str, Any], shape: Shape,
                xt: int) -> tuple[list[Any], bool]:
    """``(parameter tensors, global context)`` of a normalisation call; its input checks."""
    if kind == "batch_norm":
        c = shape[1] if len(shape) > 1 else shape[0]
        for i, key in enumerate(("running_mean", "running_var", "weight", "bias"), 1):
            t = arg(args, kwargs, i, key)
            if isinstance(t, Tensor) and t.numel() != c:
                raise tr.failure(kind, f"running_mean should contain {c} elements not {t.numel()}", shapes=[shape])
        if bool(arg(args, kwargs, 5, "training", False)) and math.prod(shape) // max(c, 1) == 1:
            raise tr.failure(kind, f"Expected more than 1 value per channel when training, got input size {list(shape)}",
                             shapes=[shape])
        return [arg(args, kwargs, 3, "weight"), arg(args, kwargs, 4, "bias")], False
    if kind == "instance_norm":
        use_stats = bool(arg(args, kwargs, 5, "use_input_stats", True))
        if use_stats and math.prod(shape[2:]) == 1:
            raise tr.failure(kind, f"Expected more than 1 spatial element when training, got input size {list(shape)}",
                             shapes=[shape])
        return [arg(args, kwargs, 3, "weight"), arg(args, kwargs, 4, "bias")], use_stats
    if kind == "layer_norm":
        raw = arg(args, kwargs, 1, "normalized_shape") or ()
        ns = (int(raw),) if isinstance(raw, int) else tuple(int(v) for v in raw)
        if shape[len(shape) - len(ns):] != ns:
            raise tr.failure(kind, f"Given normalized_shape={list(ns)}, expected input with shape "
                                   f"[*, {', '.join(map(str, ns))}], but got input of size{list(shape)}", shapes=[shape])
        rf = tr.builder.rf(xt)
        normed = set(range(len(shape) - len(ns), len(shape)))
        context = rf is not None and any(d in normed and shape[d] > 1 for d in rf.dims if d is not None)
        return [arg(args, kwargs, 2, "weight"), arg(args, kwargs, 3, "bias")], context
    groups = int(arg(args, kwargs, 1, "num_groups"))
    if shape[1] % groups:
        raise tr.failure(kind, f"Expected number of channels in input to be divisible by num_groups, but got "
                               f"input of shape {list(shape)} and num_groups={groups}", shapes=[shape])
    return [arg(args, kwargs, 2, "weight"), arg(args, kwargs, 3, "bias")], math.prod(shape[2:]) > 1


def _h_norm(kind: str) -> Handler:
    @_on_activation
    def handler(tr: Tracer, func: Any, args: Sequence[Any], kwargs: dict[str, Any], x: Tensor, xt: int) -> Any:
        tensors, context = _norm_check(tr, kind, args, kwargs, tuple(x.shape), xt)
        group = tr.group_for(kind, type_name(func), tensors)
        t = tr.builder.same(group, kind, xt, context=context, params=tr.count_params(tensors))
        return tr.produce([t], x)[0]
    return handler


_INPLACE_POS = {"relu": 1, "relu6": 1, "silu": 1, "hardswish": 1, "mish": 1, "selu": 1, "hardsigmoid": 1,
                "elu": 2, "celu": 2, "leaky_relu": 2, "dropout": 3, "dropout1d": 3, "dropout2d": 3, "dropout3d": 3,
                "alpha_dropout": 3, "feature_alpha_dropout": 3, "hardtanh": 3, "threshold": 3, "rrelu": 4}


@_on_activation
def _h_unary(tr: Tracer, func: Any, args: Sequence[Any], kwargs: dict[str, Any], x: Tensor, xt: int) -> Any:
    name, inplace = canonical(func)
    pos = _INPLACE_POS.get(name)
    if pos is not None and bool(arg(args, kwargs, pos, "inplace", False)):
        inplace = True
    extra = [a for a in args[1:] if isinstance(a, torch.nn.Parameter)]
    group = tr.group_for(name, type_name(func), extra)
    t = tr.builder.same(group, "dropout" if "dropout" in name else "activation", xt, view=inplace,
                        params=tr.count_params(extra))
    if inplace:
        tr.register(x, t)
        return x
    return tr.produce([t], x)[0]


_BINARY_KIND = {"add": "add", "sub": "sub", "rsub": "sub", "mul": "mul", "div": "div", "rdiv": "div",
                "true_divide": "div", "maximum": "elementwise", "minimum": "elementwise"}


def _binary_dtype(a: Any, b: Any, name: str) -> torch.dtype:
    """The result dtype of ``a <op> b`` (true division of integers gives the default float)."""
    dtype = a.dtype if isinstance(a, Tensor) and isinstance(b, Tensor) and a.dtype == b.dtype else torch.result_type(a, b)
    if name in ("div", "rdiv", "true_divide") and not dtype.is_floating_point and not dtype.is_complex:
        dtype = torch.get_default_dtype()
    return dtype


def _h_binary(tr: Tracer, func: Any, args: Sequence[Any], kwargs: dict[str, Any]) -> Any:
    a = arg(args, kwargs, 0, "input")
    b = arg(args, kwargs, 1, "other")
    ta, tb = tr.tid(a), tr.tid(b)
    if ta is None and tb is None:
        return tr.generic(func, args, kwargs)
    name, inplace = canonical(func)
    sa = tuple(a.shape) if isinstance(a, Tensor) else ()
    sb = tuple(b.shape) if isinstance(b, Tensor) else ()
    out_shape = bld.broadcast(sa, sb) if sa != sb else sa
    if out_shape is None:
        bad, size_a, size_b = bld.broadcast_conflict(sa, sb) or (0, 0, 0)
        t = ta if ta is not None else tb
        assert t is not None
        raise tr.failure(name, f"cannot {name} tensors of shapes {sa} and {sb}: size {size_a} and size {size_b} "
                               f"at dim {bad} do not broadcast", shapes=[sa, sb],
                         dim=bad - (max(len(sa), len(sb)) - len(tr.builder.shape(t))), tid=t)
    if inplace and out_shape != sa:
        raise tr.failure(name, f"output with shape {list(sa)} doesn't match the broadcast shape {list(out_shape)}",
                         shapes=[sa, sb])
    params = [v for v in (a, b) if isinstance(v, torch.nn.Parameter)]
    group = tr.group_for(name, type_name(func), params)
    dtype = a.dtype if inplace else _binary_dtype(a, b, name)
    tids = tr.builder.merge(group, _BINARY_KIND.get(name, "elementwise"), [t for t in (ta, tb) if t is not None],
                            out_shape, dtype=dtype_name(dtype), alias=ta if inplace else None,
                            params=tr.count_params(params))
    if inplace:
        tr.register(a, tids[0])
        return a
    like = a if isinstance(a, Tensor) and sa == out_shape else (b if isinstance(b, Tensor) and sb == out_shape else None)
    out = new_tensor(out_shape, like, dtype) if like is not None else torch.empty(out_shape, dtype=dtype, device="meta")
    tr.register(out, tids[0])
    return out


def _h_cat(tr: Tracer, func: Any, args: Sequence[Any], kwargs: dict[str, Any]) -> Any:
    tensors = list(arg(args, kwargs, 0, "tensors"))
    acts = tr.activations([tensors], {})
    if not acts or not all(isinstance(t, Tensor) for t in tensors):
        return tr.generic(func, args, kwargs)
    parts = [t for t in tensors if not (t.dim() == 1 and t.shape[0] == 0)]
    shapes = [tuple(t.shape) for t in parts]
    n = len(shapes[0])
    d = _norm_dim(int(arg(args, kwargs, 1, "dim", kwargs.get("axis", 0))), n)
    if any(len(s) != n for s in shapes):
        other = next(len(s) for s in shapes if len(s) != n)
        raise tr.failure("cat", f"Tensors must have same number of dimensions: got {n} and {other}", shapes=shapes)
    conflict = bld.concat_conflict(shapes, d)
    if conflict is not None:
        i, k = conflict
        raise tr.failure(
            "cat", f"Sizes of tensors must match except in dimension {d}. Expected size {shapes[0][k]} but "
                   f"got size {shapes[i][k]} for tensor number {i} in the list ({shapes[0]} vs {shapes[i]})",
            shapes=[shapes[0], shapes[i]], dim=k, tid=acts[0][1])
    dtype = parts[0].dtype
    for t in parts[1:]:
        dtype = dtype if t.dtype == dtype else torch.promote_types(dtype, t.dtype)
    group = tr.group_for("cat", type_name(func))
    tid = tr.builder.concat(group, [t for _, t in acts], bld.concat_shape(shapes, d), d, dtype=dtype_name(dtype))
    out = torch.empty(tr.builder.shape(tid), dtype=dtype, device="meta")
    tr.register(out, tid)
    return out


def _h_linear(tr: Tracer, func: Any, args: Sequence[Any], kwargs: dict[str, Any]) -> Any:
    x = arg(args, kwargs, 0, "input")
    w = arg(args, kwargs, 1, "weight")
    bias = arg(args, kwargs, 2, "bias")
    xt = tr.tid(x)
    if xt is None or not isinstance(w, Tensor) or w.dim() != 2:
        return tr.generic(func, args, kwargs)
    shape = tuple(x.shape)
    out_f, in_f = int(w.shape[0]), int(w.shape[1])
    if shape[-1] != in_f:
        raise tr.failure("linear", f"mat1 and mat2 shapes cannot be multiplied ({math.prod(shape[:-1])}x{shape[-1]} and "
                                   f"{in_f}x{out_f})", shapes=[shape, (out_f, in_f)],
                         fix=f"the layer expects {in_f} input features; its input has {shape[-1]}")
    params = [w, bias]
    group = tr.group_for("linear", type_name(func), params)
    t = tr.builder.linear(group, xt, out_f, bias=isinstance(bias, Tensor), params=tr.count_params(params))
    out = torch.empty(tr.builder.shape(t), dtype=x.dtype, device="meta")
    tr.register(out, t)
    return out


_UNARY_FUNCTIONS: list[Any] = [
    F.relu, F.relu6, F.silu, F.gelu, F.hardswish, F.hardsigmoid, F.elu, F.selu, F.celu, F.leaky_relu,
    F.mish, F.softplus, F.hardtanh, F.dropout, F.dropout1d, F.dropout2d, F.dropout3d, F.alpha_dropout,
    F.feature_alpha_dropout, F.threshold, F.logsigmoid, F.softsign, F.tanhshrink, F.rrelu, F.prelu,
    torch.relu, torch.relu_, torch.sigmoid, torch.sigmoid_, torch.tanh, torch.tanh_, torch.exp, torch.selu,
    torch.celu, torch.prelu, torch.rrelu, torch.dropout, torch.feature_dropout, torch.alpha_dropout,
    F.relu_, F.elu_, F.leaky_relu_, F.hardtanh_, getattr(F, "threshold_", F.threshold),
    Tensor.relu, Tensor.relu_, Tensor.sigmoid, Tensor.sigmoid_, Tensor.tanh, Tensor.tanh_, Tensor.exp,
    Tensor.exp_, Tensor.neg, Tensor.abs, Tensor.sqrt, Tensor.rsqrt, torch.sqrt, torch.rsqrt, torch.abs,
    torch.neg, Tensor.__neg__, Tensor.clone, torch.clone, Tensor.detach, torch.detach,
]
_BINARY_FUNCTIONS: list[Any] = [
    torch.add, torch.sub, torch.subtract, torch.mul, torch.multiply, torch.div, torch.divide,
    torch.true_divide, torch.maximum, torch.minimum, torch.rsub,
    Tensor.add, Tensor.sub, Tensor.mul, Tensor.div, Tensor.true_divide, Tensor.__add__, Tensor.__radd__,
    Tensor.__sub__, Tensor.__rsub__, Tensor.__mul__, Tensor.__rmul__, Tensor.__truediv__, Tensor.__rtruediv__,
    Tensor.__iadd__, Tensor.__isub__, Tensor.__imul__, Tensor.__itruediv__, Tensor.add_, Tensor.sub_,
    Tensor.mul_, Tensor.div_, Tensor.maximum, Tensor.minimum,
]


def _handlers() -> dict[Any, Handler]:
    h: dict[Any, Handler] = {}
    for nd in (1, 2, 3):
        h[getattr(torch, f"conv{nd}d")] = _h_conv(nd, transposed=False)
        h[getattr(torch, f"conv_transpose{nd}d")] = _h_conv(nd, transposed=True)
        for fn in (getattr(F, f"max_pool{nd}d"), getattr(F, f"max_pool{nd}d_with_indices"), getattr(torch, f"max_pool{nd}d")):
            h[fn] = _h_pool(nd, "max")
        h[getattr(F, f"avg_pool{nd}d")] = _h_pool(nd, "avg")
        h[getattr(F, f"adaptive_avg_pool{nd}d")] = _h_adaptive(nd, "avg")
        h[getattr(F, f"adaptive_max_pool{nd}d")] = _h_adaptive(nd, "max")
        h[getattr(F, f"adaptive_max_pool{nd}d_with_indices")] = _h_adaptive(nd, "max")
    h[torch.adaptive_avg_pool1d] = _h_adaptive(1, "avg")
    h[torch._C._nn.adaptive_avg_pool2d] = _h_adaptive(2, "avg")
    h[torch._C._nn.adaptive_avg_pool3d] = _h_adaptive(3, "avg")
    for fn in (F.interpolate, F.upsample, F.upsample_nearest, F.upsample_bilinear):
        h[fn] = _h_interpolate
    h[F.pad] = h[torch._C._nn.pad] = _h_pad
    for kind in ("batch_norm", "instance_norm", "layer_norm", "group_norm"):
        h[getattr(F, kind)] = _h_norm(kind)
    h.update(dict.fromkeys(_UNARY_FUNCTIONS, _h_unary))
    h.update(dict.fromkeys(_BINARY_FUNCTIONS, _h_binary))
    h.update(dict.fromkeys((torch.cat, torch.concat, torch.concatenate), _h_cat))
    h[torch._C._nn.linear] = h[F.linear] = _h_linear
    return h


def _passthrough() -> set[Any]:
    """Functions that only read metadata: run as they are."""
    found: set[Any] = {
        Tensor.size, Tensor.dim, Tensor.numel, Tensor.stride, Tensor.is_contiguous, Tensor.__len__,
        Tensor.element_size, Tensor.nelement, Tensor.ndimension, Tensor.storage_offset, Tensor.get_device,
        Tensor.is_floating_point, Tensor.is_complex, Tensor.data_ptr, Tensor.__hash__,
    }
    for prop in ("shape", "dtype", "device", "ndim", "requires_grad", "is_cuda", "layout", "grad_fn", "is_leaf",
                 "is_meta", "is_sparse", "is_quantized", "grad", "itemsize", "nbytes", "_base", "is_nested"):
        descriptor = getattr(Tensor, prop, None) or getattr(torch._C.TensorBase, prop, None)
        if descriptor is not None and hasattr(descriptor, "__get__"):
            found.add(descriptor.__get__)
    return found


TABLES = Tables(handlers=_handlers(), rules=RULES, unknown_rule=_rule_unknown, passthrough=_passthrough(),
                value_ops=VALUE_OPS, factories=FACTORIES)
