"""PyTorch frontend: trace an ``nn.Module`` on the meta device, without activation memory.

How it works
------------
* The input is a ``meta`` tensor. A :class:`torch.overrides.TorchFunctionMode` sees every
  torch function and tensor method the model calls (``F.conv2d``, ``torch.cat``, ``x + y``,
  ``x.view(...)``, ``F.interpolate``, ...). Windowed ops (conv, transposed conv, pooling,
  adaptive pooling, resize, pad), norms, activations, element-wise arithmetic, ``cat`` and
  ``linear`` are *not executed*: their output shape comes from the geometry engine
  (:func:`convgeom.conv` & co.) and a fresh meta tensor of that shape is returned, so trace time
  does not depend on the input resolution. Every other op runs on meta tensors (parameters and
  buffers are replaced by cached meta stand-ins for that call only), so shapes stay exact.
* Global module pre/post hooks (registered for the duration of the trace and always removed in
  ``finally``) attribute ops to modules: all ops inside a leaf module form one record named by
  its qualified name from ``named_modules()``; ops called directly in a container's ``forward``
  (``torch.cat`` in a UNet, residual adds, ``F.conv2d`` in a TF-style "same" conv) form their own
  records named ``<module>.<op>`` (``_1``, ``_2``... for repeats), or the module's own name when
  the op uses that module's parameters.
* The model is never modified: it is not moved, nothing is registered on it, parameters and
  buffers are never written (even ``BatchNorm``'s ``num_batches_tracked.add_(1)`` in training mode
  runs on a meta stand-in).
* Ops without a meta kernel, or whose control flow needs values (``.item()``, ``bool(x)``),
  run once on zero-filled CPU tensors and are reported as ``unknown-op`` / ``data-dependent``
  findings; unknown ops never stop the trace.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from .. import geometry as geo
from ..errors import GeometryError
from ..padding import check_padding_mode
from ..receptive_field import RFStep
from . import rf as rfm
from .api import Frontend
from .model import (
    Finding,
    GraphBuilder,
    ModuleCall,
    Trace,
    TraceFailure,
    broadcast,
    shape_size,
    unknown_op_finding,
)
from .rf import Shape, TensorRF

Tensor = torch.Tensor
_MAX_ZERO_FALLBACK_BYTES = 1 << 30


# ------------------------------------------------------------------------------------------------
def _arg(args: Sequence[Any], kwargs: dict[str, Any], i: int, name: str, default: Any = None) -> Any:
    if i < len(args):
        return args[i]
    return kwargs.get(name, default)


def _ints(value: Any, n: int) -> Any:
    """Per-axis ints for the engine: ``int`` stays, sequences become tuples."""
    if isinstance(value, (list, tuple, torch.Size)):
        vals = tuple(int(v) for v in value)
        return vals[0] if len(vals) == 1 and n > 1 else vals
    return int(value)


def _fn_name(func: Any) -> str:
    name = getattr(func, "__name__", None) or "op"
    if name == "__get__":
        owner = getattr(func, "__self__", None)
        name = getattr(owner, "__name__", "get")
    return name


_DUNDER = {"iadd": "add_", "isub": "sub_", "imul": "mul_", "itruediv": "div_", "idiv": "div_",
           "radd": "add", "rmul": "mul", "rsub": "rsub", "rtruediv": "rdiv", "rdiv": "rdiv",
           "truediv": "div", "matmul": "matmul", "rmatmul": "matmul", "ipow": "pow_", "rpow": "pow",
           "getitem": "getitem", "setitem": "setitem", "and": "logical_and", "or": "logical_or"}


def _canonical(func: Any) -> tuple[str, bool]:
    """``(op name, in-place)``: ``add_``/``__iadd__`` -> ("add", True), ``__getitem__`` -> ("getitem", False)."""
    name = _fn_name(func)
    if name.startswith("__") and name.endswith("__"):
        name = _DUNDER.get(name[2:-2], name[2:-2])
    name = name.lstrip("_")
    if name.endswith("_") and not name.endswith("__"):
        return name[:-1], True
    return name, False


_TYPE_NAMES: dict[Any, str] = {}


def _type_name(func: Any) -> str:
    """'Tensor.add', 'F.conv2d', 'torch.cat' (memoised per function object)."""
    try:
        hit = _TYPE_NAMES.get(func)
    except TypeError:
        hit = None
    if hit is None:
        hit = _compute_type_name(func)
        try:
            _TYPE_NAMES[func] = hit
        except TypeError:
            pass
    return hit


def _compute_type_name(func: Any) -> str:
    name = _fn_name(func)
    qual = getattr(func, "__qualname__", "") or ""
    module = getattr(func, "__module__", "") or ""
    if qual.startswith(("TensorBase.", "Tensor.")) or name in ("T", "mT", "H", "mH", "data") or qual.endswith("__get__"):
        return f"Tensor.{name}"
    if module.startswith(("torch.nn.functional", "torch._C._nn")):
        return f"F.{name}"
    return f"torch.{name}"


def _flat(value: Any, out: list[Tensor]) -> list[Tensor]:
    if isinstance(value, Tensor):
        out.append(value)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _flat(v, out)
    elif isinstance(value, dict):
        for v in value.values():
            _flat(v, out)
    return out


@dataclass
class _Frame:
    module: Any
    name: str
    depth: int
    leaf: bool
    group: Optional[int] = None
    first_group: int = 0
    inputs: list[int] = field(default_factory=list)
    input_shapes: tuple[Shape, ...] = ()
    own_name_used: bool = False
    nested: bool = False


class _Tracer(TorchFunctionMode):
    """The function mode plus the module hooks' state for one trace."""

    def __init__(self, model: torch.nn.Module, spatial_ndim: int) -> None:
        super().__init__()
        self.builder = GraphBuilder("torch", spatial_ndim)
        self.spatial_ndim = spatial_ndim
        self.act: dict[int, int] = {}
        self.keep: list[Any] = []
        self.meta_cache: dict[int, Tensor] = {}
        self.real_of: dict[int, Tensor] = {}
        self.names: dict[int, str] = {}
        self.leaves: set[int] = set()
        self.param_owner: dict[int, str] = {}
        for qual, mod in model.named_modules():
            self.names.setdefault(id(mod), qual)
            if next(iter(mod.children()), None) is None:
                self.leaves.add(id(mod))
            for p in mod._parameters.values():
                if p is not None:
                    self.param_owner.setdefault(id(p), qual)
        self.counted: set[int] = set()
        self.frames: list[_Frame] = []
        self.thread = threading.get_ident()
        self.unknown: dict[str, int] = {}
        self.data_dependent: dict[str, int] = {}
        self.root_name = type(model).__name__
        self.geometry_cache: dict[tuple[Any, ...], Any] = {}

    # ----- tensors --------------------------------------------------------------------------
    def register(self, obj: Tensor, tid: int) -> None:
        self.act[id(obj)] = tid
        self.keep.append(obj)

    def tid(self, obj: Any) -> Optional[int]:
        return self.act.get(id(obj)) if isinstance(obj, Tensor) else None

    def to_meta(self, value: Any) -> Any:
        if isinstance(value, Tensor):
            if value.device.type == "meta":
                return value
            cached = self.meta_cache.get(id(value))
            if cached is None:
                cached = torch.empty_like(value, device="meta")
                self.meta_cache[id(value)] = cached
                self.real_of[id(cached)] = value
                self.keep.append(value)
            return cached
        if isinstance(value, (list, tuple)) and not isinstance(value, torch.Size):
            if any(isinstance(v, (Tensor, list, tuple, dict)) for v in value):
                converted = [self.to_meta(v) for v in value]
                if isinstance(value, list):
                    return converted
                return type(value)(*converted) if hasattr(value, "_fields") else tuple(converted)
            return value
        if isinstance(value, dict):
            return {k: self.to_meta(v) for k, v in value.items()}
        return value

    def activations(self, args: Sequence[Any], kwargs: dict[str, Any]) -> list[tuple[Tensor, int]]:
        found: list[tuple[Tensor, int]] = []
        seen: set[int] = set()

        def visit(v: Any) -> None:
            if isinstance(v, Tensor):
                t = self.act.get(id(v))
                if t is not None and id(v) not in seen:
                    seen.add(id(v))
                    found.append((v, t))
            elif isinstance(v, (list, tuple)) and not isinstance(v, torch.Size):
                for x in v:
                    visit(x)
            elif isinstance(v, dict):
                for x in v.values():
                    visit(x)

        for a in args:
            visit(a)
        for a in kwargs.values():
            visit(a)
        return found

    def count_params(self, tensors: Sequence[Any]) -> int:
        total = 0
        for t in tensors:
            if isinstance(t, torch.nn.Parameter) and id(t) not in self.counted:
                self.counted.add(id(t))
                total += t.numel()
        return total

    # ----- records --------------------------------------------------------------------------
    def group_for(self, fn: str, type_name: str, params: Sequence[Any] = ()) -> int:
        frame = self.frames[-1] if self.frames else None
        if frame is not None and frame.leaf and frame.group is not None:
            return frame.group
        if frame is None:
            return self.builder.group(self.builder.unique_name(fn), type_name, 1)
        owners = {self.param_owner.get(id(p)) for p in params if isinstance(p, torch.nn.Parameter)}
        if frame.name in owners and not frame.own_name_used:
            frame.own_name_used = True
            return self.builder.group(frame.name or self.root_name, type(frame.module).__name__, max(frame.depth, 1))
        base = f"{frame.name}.{fn}" if frame.name else fn
        return self.builder.group(self.builder.unique_name(base), type_name, frame.depth + 1)

    def current_name(self, fn: str) -> str:
        frame = self.frames[-1] if self.frames else None
        if frame is None:
            return fn
        if frame.leaf:
            return frame.name or self.root_name
        return f"{frame.name}.{fn}" if frame.name else fn

    def emit(self, group: int, kind: str, inputs: Sequence[int], outs: Sequence[Tensor],
             rfs: Sequence[Optional[TensorRF]], *, alias: Sequence[Optional[int]] = (), **extra: Any) -> None:
        ids = self.builder.op(group, kind, inputs, [(tuple(o.shape), o.element_size()) for o in outs],
                              rfs, alias=alias, **extra)
        for o, t in zip(outs, ids):
            self.register(o, t)

    def failure(self, fn: str, problem: str, rule: str = "", shapes: Sequence[Shape] = (),
                dim: Optional[int] = None, rf: Optional[TensorRF] = None, fix: str = "") -> TraceFailure:
        axis = None
        if dim is not None and rf is not None and dim in rf.dims:
            axis = rf.dims.index(dim)
        return TraceFailure(self.current_name(fn), problem, rule, shapes, axis, fix)

    # ----- dispatch -------------------------------------------------------------------------
    def __torch_function__(self, func: Any, types: Any, args: Sequence[Any] = (), kwargs: Optional[dict[str, Any]] = None) -> Any:
        if kwargs is None:
            kwargs = {}
        handler = _HANDLERS.get(func)
        if handler is not None:
            return handler(self, func, args, kwargs)
        if func in _PASSTHROUGH:
            return func(*args, **kwargs)
        return self.generic(func, args, kwargs)

    # ----- generic ops: run on meta, classify the receptive-field rule -------------------------
    def run_meta(self, func: Any, args: Sequence[Any], kwargs: dict[str, Any], name: str) -> Any:
        margs = [self.to_meta(a) for a in args]
        mkwargs = {k: self.to_meta(v) for k, v in kwargs.items()}
        try:
            return func(*margs, **mkwargs)
        except (NotImplementedError, RuntimeError, TypeError, ValueError, IndexError) as exc:
            text = str(exc)
            meta_problem = isinstance(exc, NotImplementedError) or "meta" in text.lower() or "data-dependent" in text.lower()
            if not meta_problem:
                raise
            return self.run_on_zeros(func, margs, mkwargs, name, text)

    def run_on_zeros(self, func: Any, margs: Sequence[Any], mkwargs: dict[str, Any], name: str, why: str) -> Any:
        total = sum(t.numel() * t.element_size() for t in _flat(list(margs) + list(mkwargs.values()), []))
        if total > _MAX_ZERO_FALLBACK_BYTES:
            raise GeometryError(
                f"op {name} cannot run on meta tensors ({why.splitlines()[0]}) and its inputs are too "
                f"large ({total} bytes) to run on zeros",
                "convgeom traces shapes without values", "trace at a smaller input size")

        def real(v: Any) -> Any:
            if isinstance(v, Tensor) and v.device.type == "meta":
                r = self.real_of.get(id(v))
                return r if r is not None else torch.zeros(v.shape, dtype=v.dtype)
            if isinstance(v, (list, tuple)) and not isinstance(v, torch.Size):
                return type(v)(real(x) for x in v) if type(v) in (list, tuple) else v
            return v

        out = func(*[real(a) for a in margs], **{k: real(v) for k, v in mkwargs.items()})
        data_dependent = name in _VALUE_OPS
        book = self.data_dependent if data_dependent else self.unknown
        book[name] = book.get(name, 0) + 1

        def meta(v: Any) -> Any:
            if isinstance(v, Tensor):
                return torch.empty_like(v, device="meta")
            if isinstance(v, tuple) and hasattr(v, "_fields"):
                return type(v)(*[meta(x) for x in v])
            if isinstance(v, (list, tuple)):
                return type(v)(meta(x) for x in v)
            return v

        return meta(out)

    def generic(self, func: Any, args: Sequence[Any], kwargs: dict[str, Any]) -> Any:
        name, inplace = _canonical(func)
        acts = self.activations(args, kwargs)
        if not acts:
            if name in _FACTORIES and "device" not in kwargs:
                kwargs = dict(kwargs, device="meta")
            try:
                return self.run_meta(func, args, kwargs, name)
            except (RuntimeError, ValueError, IndexError, TypeError) as exc:
                raise self.failure(name, str(exc).splitlines()[0]) from exc
        try:
            result = self.run_meta(func, args, kwargs, name)
        except GeometryError:
            raise
        except (RuntimeError, ValueError, IndexError, TypeError) as exc:
            raise self.failure(name, f"{_type_name(func)} failed: {str(exc).splitlines()[0]}",
                               shapes=[tuple(a.shape) for a, _ in acts]) from exc
        outs = _flat(result, [])
        if name == "setitem":
            target = args[0]
            outs = [target]
            inplace = True
        if not outs:
            return result
        first_obj, first_tid = acts[0]
        if len(outs) == 1 and outs[0] is first_obj and not inplace:
            return result  # a no-op returning its input (contiguous(), float() on float, ...)
        self.record_generic(func, name, inplace, args, kwargs, acts, outs)
        return result

    def record_generic(self, func: Any, name: str, inplace: bool, args: Sequence[Any], kwargs: dict[str, Any],
                       acts: list[tuple[Tensor, int]], outs: list[Tensor]) -> None:
        main_obj, main_tid = acts[0]
        kind, rule = _RULES.get(name, ("unknown", None))
        macs = 0
        issues: list[rfm.MergeIssue] = []
        rfs: list[Optional[TensorRF]] = []
        known = rule is not None
        if rule is None:
            rule = _rule_unknown
        try:
            rfs, issues, macs = rule(self, name, args, kwargs, acts, outs)
        except Exception:  # a rule that cannot read unusual arguments must not stop the trace
            rfs, issues, macs = _rule_unknown(self, name, args, kwargs, acts, outs)
            known = False
        if not known:
            self.unknown[_type_name(func)] = self.unknown.get(_type_name(func), 0) + 1
            rfs = [None if r is None else rfm.inexact(r) for r in rfs]
        alias: list[Optional[int]] = []
        for o in outs:
            if inplace and o is main_obj:
                alias.append(main_tid)
                continue
            base = o._base if o._is_view() else None
            alias.append(self.act.get(id(base)) if base is not None else None)
        params = [a for a in list(args) + list(kwargs.values()) if isinstance(a, torch.nn.Parameter)]
        group = self.group_for(name, _type_name(func), params)
        self.emit(group, kind, [t for _, t in acts], outs, rfs, alias=alias, macs=macs,
                  params=self.count_params(params), issues=issues)

    # ----- module hooks ---------------------------------------------------------------------
    def pre_hook(self, module: torch.nn.Module, args: Any) -> None:
        if threading.get_ident() != self.thread:
            return
        name = self.names.get(id(module))
        top = self.frames[-1] if self.frames else None
        if top is not None and top.leaf:
            self.frames.append(_Frame(module, top.name, top.depth, True, top.group, nested=True))
            return
        if name is None:
            parent = top.name if top is not None else ""
            name = self.builder.unique_name(f"{parent}.{type(module).__name__}" if parent else type(module).__name__)
        depth = 0 if name == "" else name.count(".") + 1
        leaf = id(module) in self.leaves or id(module) not in self.names and next(iter(module.children()), None) is None
        acts = self.activations(args if isinstance(args, tuple) else (args,), {})
        frame = _Frame(module, name, depth, leaf, first_group=len(self.builder.groups),
                       inputs=[t for _, t in acts],
                       input_shapes=tuple(self.builder.shape(t) for _, t in acts))
        if leaf:
            frame.group = self.builder.group(name or self.root_name, type(module).__name__, max(depth, 1))
        self.frames.append(frame)

    def post_hook(self, module: torch.nn.Module, args: Any, output: Any) -> None:
        if threading.get_ident() != self.thread or not self.frames:
            return
        frame = self.frames.pop()
        if frame.module is not module:  # an exception unwound past a frame; resynchronise
            while self.frames and frame.module is not module:
                frame = self.frames.pop()
        if frame.nested:
            return
        outs = _flat(output, [])
        if frame.leaf and frame.group is not None:
            out_ids = []
            for o in outs:
                t = self.act.get(id(o))
                if t is None:
                    t = self.adopt(o, frame)
                out_ids.append(t)
            self.builder.set_boundary(frame.group, frame.inputs, out_ids)
            own = list(module._parameters.values()) if id(module) in self.leaves else list(module.parameters())
            self.builder.add_params(frame.group, self.count_params(own))
            return
        last = len(self.builder.groups) - 1
        if last >= frame.first_group and frame.name:
            self.builder.add_module(ModuleCall(
                frame.name, type(module).__name__, frame.depth, frame.input_shapes,
                tuple(tuple(o.shape) for o in outs if id(o) in self.act), frame.first_group, last))

    def adopt(self, obj: Tensor, frame: _Frame) -> int:
        """A leaf returned a tensor no intercepted op produced (custom kernels): pass the first
        input's receptive field through by shape, inexactly."""
        assert frame.group is not None
        meta = obj if obj.device.type == "meta" else torch.empty_like(obj, device="meta")
        rf: Optional[TensorRF] = None
        if frame.inputs:
            src = frame.inputs[0]
            rf = rfm.by_shape(self.builder.rf(src), self.builder.shape(src), tuple(obj.shape))
            rf = None if rf is None else rfm.inexact(rf)
        ids = self.builder.op(frame.group, "unknown", frame.inputs[:1], [(tuple(obj.shape), obj.element_size())], [rf])
        self.register(meta, ids[0])
        self.act[id(obj)] = ids[0]
        self.keep.append(obj)
        self.unknown[type(frame.module).__name__] = self.unknown.get(type(frame.module).__name__, 0) + 1
        return ids[0]


# ================================================================================================
# receptive-field rules for ops that run on meta tensors
RuleResult = tuple[list[Optional[TensorRF]], list[rfm.MergeIssue], int]
Rule = Callable[[_Tracer, str, Sequence[Any], dict[str, Any], list[tuple[Tensor, int]], list[Tensor]], RuleResult]


def _rule_unknown(tr: _Tracer, name: str, args: Sequence[Any], kwargs: dict[str, Any],
                  acts: list[tuple[Tensor, int]], outs: list[Tensor]) -> RuleResult:
    b = tr.builder
    src = acts[0][1]
    return [rfm.by_shape(b.rf(src), b.shape(src), tuple(o.shape)) for o in outs], [], 0


def _rule_elementwise(tr: _Tracer, name: str, args: Sequence[Any], kwargs: dict[str, Any],
                      acts: list[tuple[Tensor, int]], outs: list[Tensor]) -> RuleResult:
    b = tr.builder
    out_shape = tuple(outs[0].shape)
    merged, issues = rfm.merge([(b.rf(t), b.shape(t)) for _, t in acts], out_shape)
    return [merged for _ in outs], issues, 0


def _rule_reshape(tr: _Tracer, name: str, args: Sequence[Any], kwargs: dict[str, Any],
                  acts: list[tuple[Tensor, int]], outs: list[Tensor]) -> RuleResult:
    b = tr.builder
    t = acts[0][1]
    rf = b.rf(t)
    return [None if rf is None else rfm.reshape(rf, b.shape(t), tuple(o.shape)) for o in outs], [], 0


def _norm_dim(d: int, n: int) -> int:
    return d + n if d < 0 else d


def _rule_permute(tr: _Tracer, name: str, args: Sequence[Any], kwargs: dict[str, Any],
                  acts: list[tuple[Tensor, int]], outs: list[Tensor]) -> RuleResult:
    b = tr.builder
    t = acts[0][1]
    rf = b.rf(t)
    n = len(b.shape(t))
    perm = list(range(n))
    if name == "permute":
        dims = args[1:] if len(args) > 1 else kwargs.get("dims", ())
        if len(dims) == 1 and isinstance(dims[0], (list, tuple, torch.Size)):
            dims = dims[0]
        perm = [_norm_dim(int(d), n) for d in dims]
    elif name in ("transpose", "swapaxes", "swapdims"):
        d0 = _norm_dim(int(_arg(args, kwargs, 1, "dim0")), n)
        d1 = _norm_dim(int(_arg(args, kwargs, 2, "dim1")), n)
        perm[d0], perm[d1] = perm[d1], perm[d0]
    elif name in ("t", "T", "numpy_T"):
        perm = list(reversed(perm))
    elif name in ("mT", "mH"):
        perm[-1], perm[-2] = perm[-2], perm[-1]
    elif name in ("movedim", "moveaxis"):
        src = _arg(args, kwargs, 1, "source")
        dst = _arg(args, kwargs, 2, "destination")
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


def _rule_expand(tr: _Tracer, name: str, args: Sequence[Any], kwargs: dict[str, Any],
                 acts: list[tuple[Tensor, int]], outs: list[Tensor]) -> RuleResult:
    b = tr.builder
    t = acts[0][1]
    rf = b.rf(t)
    shape = b.shape(t)
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


def _rule_reduce(tr: _Tracer, name: str, args: Sequence[Any], kwargs: dict[str, Any],
                 acts: list[tuple[Tensor, int]], outs: list[Tensor]) -> RuleResult:
    b = tr.builder
    t = acts[0][1]
    rf = b.rf(t)
    n = len(b.shape(t))
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


def _rule_along(tr: _Tracer, name: str, args: Sequence[Any], kwargs: dict[str, Any],
                acts: list[tuple[Tensor, int]], outs: list[Tensor]) -> RuleResult:
    b = tr.builder
    t = acts[0][1]
    rf = b.rf(t)
    n = len(b.shape(t))
    dim = kwargs.get("dim", args[1] if len(args) > 1 else None)
    if rf is None:
        return [None for _ in outs], [], 0
    if not isinstance(dim, int):
        return [rfm.inexact(rfm.whole(rf)) for _ in outs], [], 0
    res = rfm.along(rf, _norm_dim(dim, n))
    return [res if tuple(o.shape) == b.shape(t) else rfm.by_shape(res, b.shape(t), tuple(o.shape)) for o in outs], [], 0


def _rule_slice(tr: _Tracer, name: str, args: Sequence[Any], kwargs: dict[str, Any],
                acts: list[tuple[Tensor, int]], outs: list[Tensor]) -> RuleResult:
    """``x[...]``, ``narrow``, ``select``, ``split``/``chunk``/``unbind``: crops are steps of
    kernel 1, stride ``step``, padding ``-start``; an integer index removes the dim."""
    b = tr.builder
    t = acts[0][1]
    rf = b.rf(t)
    shape = b.shape(t)
    n = len(shape)
    if rf is None or acts[0][0] is not args[0]:
        return [None if rf is None else rfm.by_shape(rf, shape, tuple(o.shape)) for o in outs], [], 0
    if name == "getitem":
        index = args[1]
        items = list(index) if isinstance(index, tuple) else [index]
        if any(isinstance(i, Tensor) or isinstance(i, list) for i in items):
            return [rfm.inexact(rfm.by_shape(rf, shape, tuple(o.shape)) or rf) for o in outs], [], 0
        n_real = sum(1 for i in items if i is not None and i is not Ellipsis)
        expanded: list[Any] = []
        for i in items:
            if i is Ellipsis:
                expanded.extend([slice(None)] * (n - n_real))
            else:
                expanded.append(i)
        expanded.extend([slice(None)] * (n - sum(1 for i in expanded if i is not None)))
        steps: dict[int, RFStep] = {}
        mapping: dict[int, Optional[int]] = {}
        src = dst = 0
        for i in expanded:
            if i is None:
                dst += 1
                continue
            if isinstance(i, slice):
                start, _stop, step = i.indices(shape[src])
                if start != 0 or step != 1:
                    steps[src] = RFStep(Fraction(1), Fraction(step), Fraction(-start))
                mapping[src] = dst
                dst += 1
            else:
                mapping[src] = None
            src += 1
        res = rfm.apply_steps(rf, list(steps), list(steps.values())) if steps else rf
        res = rfm.remap(res, lambda d: mapping.get(d, d))
        return [res for _ in outs], [], 0
    dim = _norm_dim(int(kwargs.get("dim", args[2] if name in ("narrow", "select") or len(args) > 2 else 0)), n)
    starts: list[int] = []
    if name == "narrow":
        starts = [int(_arg(args, kwargs, 2, "start")) % shape[dim]]
        dim = _norm_dim(int(_arg(args, kwargs, 1, "dim")), n)
    elif name in ("split", "chunk", "tensor_split", "split_with_sizes", "unbind", "unsafe_split"):
        if name == "unbind":
            dim = _norm_dim(int(_arg(args, kwargs, 1, "dim", 0)), n)
        acc = 0
        for o in outs:
            starts.append(acc)
            acc += o.shape[dim] if o.dim() == n else 1
    elif name == "select":
        dim = _norm_dim(int(_arg(args, kwargs, 1, "dim")), n)
        starts = [0]
    results: list[Optional[TensorRF]] = []
    for k, o in enumerate(outs):
        start = starts[k] if k < len(starts) else 0
        res = rfm.apply_steps(rf, [dim], [RFStep(Fraction(1), Fraction(1), Fraction(-start))]) if start else rf
        if o.dim() < n:
            res = rfm.remap(res, lambda d: None if d == dim else (d - 1 if d > dim else d))
        results.append(res)
    return results, [], 0


def _rule_stack(tr: _Tracer, name: str, args: Sequence[Any], kwargs: dict[str, Any],
                acts: list[tuple[Tensor, int]], outs: list[Tensor]) -> RuleResult:
    b = tr.builder
    out = tuple(outs[0].shape)
    n = len(out)
    dim = _norm_dim(int(_arg(args, kwargs, 1, "dim", 0)), n)
    ops = []
    for _, t in acts:
        rf = b.rf(t)
        shape = b.shape(t)
        if rf is not None:
            rf = rfm.remap(rf, lambda d: d + 1 if d >= dim else d)
        ops.append((rf, shape[:dim] + (out[dim],) + shape[dim:]))
    merged, issues = rfm.merge(ops, out)
    return [merged for _ in outs], issues, 0


def _matmul_macs(a: Shape, b: Shape, out: Shape) -> int:
    k = a[-1] if a else 1
    return shape_size(out) * k


def _rule_matmul(tr: _Tracer, name: str, args: Sequence[Any], kwargs: dict[str, Any],
                 acts: list[tuple[Tensor, int]], outs: list[Tensor]) -> RuleResult:
    bld = tr.builder
    out = tuple(outs[0].shape)
    tensors = [a for a in args if isinstance(a, Tensor)]
    if name in ("addmm", "baddbmm", "addbmm", "addmv"):
        tensors = tensors[1:]
    macs = 0
    if len(tensors) >= 2:
        macs = _matmul_macs(tuple(tensors[0].shape), tuple(tensors[1].shape), out)
    ops = []
    for obj, t in acts:
        rf = bld.rf(t)
        shape = bld.shape(t)
        if rf is None:
            continue
        n = len(shape)
        pos = next((i for i, x in enumerate(tensors) if x is obj), 0)
        contracted = n - 1 if pos == 0 else (n - 2 if n >= 2 else 0)
        ops.append((rfm.drop(rf, contracted), shape))
    merged: Optional[TensorRF] = None
    for rf, shape in ops:
        merged = rfm.join(merged, rfm.shift(rf, len(out) - len(shape), len(out)))
    return [merged for _ in outs], [], macs


def _rule_einsum(tr: _Tracer, name: str, args: Sequence[Any], kwargs: dict[str, Any],
                 acts: list[tuple[Tensor, int]], outs: list[Tensor]) -> RuleResult:
    bld = tr.builder
    eq = str(args[0]).replace(" ", "")
    operands = list(args[1:])
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = list(operands[0])
    lhs, _, rhs = eq.partition("->")
    terms = lhs.split(",")
    sizes: dict[str, int] = {}
    for term, op in zip(terms, operands):
        if isinstance(op, Tensor) and "." not in term:
            for letter, s in zip(term, op.shape):
                sizes[letter] = max(sizes.get(letter, 1), int(s))
    macs = shape_size(list(sizes.values())) if len(operands) >= 2 else 0
    merged: Optional[TensorRF] = None
    for obj, t in acts:
        rf = bld.rf(t)
        if rf is None:
            continue
        pos = next((i for i, x in enumerate(operands) if x is obj), 0)
        term = terms[pos] if pos < len(terms) else ""
        if "." in term or "." in rhs or not rhs:
            moved = rfm.inexact(rfm.whole(rf))
        else:
            moved = rfm.relabel(rf, {i: (rhs.index(c) if c in rhs else None) for i, c in enumerate(term)})
        merged = rfm.join(merged, moved)
    return [merged for _ in outs], [], macs


def _rule_attention(tr: _Tracer, name: str, args: Sequence[Any], kwargs: dict[str, Any],
                    acts: list[tuple[Tensor, int]], outs: list[Tensor]) -> RuleResult:
    q, k, v = (tuple(a.shape) for a in args[:3])
    macs = shape_size(q[:-1]) * k[-2] * (q[-1] + v[-1])
    merged: Optional[TensorRF] = None
    for _, t in acts:
        rf = tr.builder.rf(t)
        if rf is not None:
            merged = rfm.join(merged, rfm.whole(rf))
    return [merged for _ in outs], [], macs


def _rule_pixel(tr: _Tracer, name: str, args: Sequence[Any], kwargs: dict[str, Any],
                acts: list[tuple[Tensor, int]], outs: list[Tensor]) -> RuleResult:
    """``pixel_shuffle(r)``: output ``u`` reads input ``u // r`` (kernel 1, stride 1/r);
    ``pixel_unshuffle(r)``: kernel r, stride r (space-to-depth)."""
    b = tr.builder
    t = acts[0][1]
    rf = b.rf(t)
    r = int(_arg(args, kwargs, 1, "upscale_factor" if name == "pixel_shuffle" else "downscale_factor"))
    shape = b.shape(t)
    if rf is None:
        return [None], [], 0
    dims = list(range(len(shape) - 2, len(shape)))
    if name == "pixel_shuffle":
        step = RFStep(Fraction(1), Fraction(1, r), Fraction(0))
    else:
        step = RFStep(Fraction(r), Fraction(r), Fraction(0))
    return [rfm.apply_steps(rf, dims, [step, step])], [], 0


def _rule_whole(tr: _Tracer, name: str, args: Sequence[Any], kwargs: dict[str, Any],
                acts: list[tuple[Tensor, int]], outs: list[Tensor]) -> RuleResult:
    rf = tr.builder.rf(acts[0][1])
    return [None if rf is None else rfm.whole(rf) for _ in outs], [], 0


def _table() -> dict[str, tuple[str, Rule]]:
    table: dict[str, tuple[str, Rule]] = {}
    for n in ("contiguous", "clone", "detach", "to", "type", "type_as", "float", "double", "half", "bfloat16",
              "int", "long", "bool", "abs", "neg", "negative", "exp", "exp2", "expm1", "log", "log2", "log10",
              "log1p", "sqrt", "rsqrt", "pow", "clamp", "clamp_min", "clamp_max", "clip", "sign", "square",
              "reciprocal", "erf", "erfc", "sin", "cos", "tan", "round", "floor", "ceil", "trunc", "frac",
              "sigmoid", "tanh", "relu", "nan_to_num", "requires_grad", "masked_fill", "where", "lerp",
              "gt", "lt", "ge", "le", "eq", "ne", "greater", "less", "logical_not", "logical_and", "logical_or",
              "logical_xor", "bitwise_and", "bitwise_or", "bitwise_not", "isnan", "isinf", "isfinite",
              "add", "sub", "mul", "div", "rsub", "rdiv", "true_divide", "floor_divide", "remainder", "fmod",
              "maximum", "minimum", "fmax", "fmin", "atan2", "hypot", "addcmul", "addcdiv", "copy",
              "zero", "fill", "mul_", "softplus", "logsigmoid", "log_sigmoid", "softsign", "tanhshrink",
              "hardshrink", "softshrink", "hardtanh", "relu6", "elu", "selu", "celu", "gelu", "silu", "mish",
              "hardswish", "hardsigmoid", "leaky_relu", "prelu", "rrelu", "threshold", "dropout",
              "alpha_dropout", "feature_alpha_dropout", "dropout1d", "dropout2d", "dropout3d",
              "channel_shuffle", "native_channel_shuffle", "zeros_like", "ones_like", "empty_like",
              "full_like", "rand_like", "randn_like", "new_zeros", "new_ones", "new_empty", "new_full",
              "local_response_norm", "sgn", "conj", "real", "data", "cpu", "cuda", "requires_grad_",
              "masked_scatter", "index_fill", "scatter", "scatter_add", "gather", "bucketize"):
        table[n] = ("activation" if n in _ACTIVATION_NAMES else "elementwise", _rule_elementwise)
    for n in ("add", "sub", "mul", "div", "rsub", "rdiv"):
        table[n] = (n if n in ("add", "sub", "mul", "div") else "elementwise", _rule_elementwise)
    for n in ("dropout", "alpha_dropout", "feature_alpha_dropout", "dropout1d", "dropout2d", "dropout3d"):
        table[n] = ("dropout", _rule_elementwise)
    for n in ("view", "reshape", "flatten", "unflatten", "squeeze", "unsqueeze", "view_as", "reshape_as",
              "ravel", "atleast_1d", "atleast_2d", "atleast_3d"):
        table[n] = ("reshape", _rule_reshape)
    for n in ("permute", "transpose", "swapaxes", "swapdims", "t", "T", "mT", "mH", "movedim", "moveaxis"):
        table[n] = ("permute", _rule_permute)
    for n in ("expand", "expand_as", "repeat", "tile", "broadcast_to", "repeat_interleave"):
        table[n] = ("expand", _rule_expand)
    for n in ("mean", "sum", "amax", "amin", "max", "min", "std", "var", "prod", "logsumexp", "norm",
              "argmax", "argmin", "all", "any", "median", "nanmean", "nansum", "std_mean", "var_mean",
              "count_nonzero", "aminmax", "mode", "nanmedian"):
        table[n] = ("reduce", _rule_reduce)
    for n in ("softmax", "log_softmax", "cumsum", "cumprod", "cummax", "cummin", "sort", "argsort",
              "topk", "flip", "roll", "normalize", "softmin", "glu", "kthvalue", "logcumsumexp"):
        table[n] = ("softmax" if "softmax" in n else "reduce", _rule_along)
    for n in ("getitem", "narrow", "select", "split", "chunk", "tensor_split", "unbind", "split_with_sizes",
              "unsafe_split", "setitem"):
        table[n] = ("slice", _rule_slice)
    table["setitem"] = ("elementwise", _rule_elementwise)
    table["stack"] = ("stack", _rule_stack)
    for n in ("matmul", "mm", "bmm", "addmm", "baddbmm", "addbmm", "mv", "addmv", "dot", "inner"):
        table[n] = ("matmul", _rule_matmul)
    table["einsum"] = ("matmul", _rule_einsum)
    table["scaled_dot_product_attention"] = ("attention", _rule_attention)
    table["pixel_shuffle"] = ("pixel_shuffle", _rule_pixel)
    table["pixel_unshuffle"] = ("pixel_unshuffle", _rule_pixel)
    for n in ("unfold", "fold", "grid_sample", "affine_grid", "embedding", "one_hot", "multi_head_attention_forward"):
        table[n] = (n if n in ("unfold", "fold", "embedding") else "attention" if "attention" in n else "unknown",
                     _rule_whole)
    table["grid_sample"] = ("unknown", _rule_whole)
    return table


_ACTIVATION_NAMES = {"sigmoid", "tanh", "relu", "softplus", "logsigmoid", "log_sigmoid", "softsign", "tanhshrink",
                     "hardshrink", "softshrink", "hardtanh", "relu6", "elu", "selu", "celu", "gelu", "silu", "mish",
                     "hardswish", "hardsigmoid", "leaky_relu", "prelu", "rrelu", "threshold"}
_RULES = _table()
_VALUE_OPS = {"item", "tolist", "bool", "int", "float", "index", "nonzero", "numpy", "unique", "masked_select",
              "unique_consecutive", "is_nonzero", "equal", "allclose", "repr", "format"}
_FACTORIES = {"zeros", "ones", "empty", "full", "rand", "randn", "randint", "empty_strided", "eye"}


# ================================================================================================
# fast handlers: shapes from the engine, nothing executed
Handler = Callable[[_Tracer, Any, Sequence[Any], dict[str, Any]], Any]


def _new(shape: Shape, like: Tensor, dtype: Optional[torch.dtype] = None) -> Tensor:
    """A meta tensor of ``shape``; channels-last when ``like`` is (as PyTorch's kernels do).
    ``torch.empty`` is used rather than ``empty_like``: the latter runs Python meta code."""
    if like.dim() == len(shape) and like.dim() in (4, 5) and not like.is_contiguous():
        fmt = torch.channels_last if like.dim() == 4 else torch.channels_last_3d
        if like.is_contiguous(memory_format=fmt):
            return torch.empty(shape, dtype=dtype or like.dtype, device="meta", memory_format=fmt)
    return torch.empty(shape, dtype=dtype or like.dtype, device="meta")


def _engine(tr: _Tracer, fn: str, x: Tensor, rf: Optional[TensorRF], nd: int, call: Callable[[], Any],
            key: Optional[tuple[Any, ...]] = None) -> Any:
    """Run an engine call (memoised per trace on ``key``: repeated blocks share geometry);
    a :class:`GeometryError` becomes a :class:`TraceFailure` naming the layer and axis."""
    if key is not None:
        hit = tr.geometry_cache.get(key)
        if hit is not None:
            return hit
    try:
        result = call()
        if key is not None:
            tr.geometry_cache[key] = result
        return result
    except GeometryError as exc:
        axis = exc.axis
        dim = None if axis is None else x.dim() - nd + axis
        raise tr.failure(fn, exc.problem, exc.rule, [tuple(x.shape)], dim, rf, exc.fix) from exc


def _h_conv(nd: int) -> Handler:
    def handler(tr: _Tracer, func: Any, args: Sequence[Any], kwargs: dict[str, Any]) -> Any:
        x = _arg(args, kwargs, 0, "input")
        w = _arg(args, kwargs, 1, "weight")
        xt = tr.tid(x)
        if xt is None or not isinstance(w, Tensor):
            return tr.generic(func, args, kwargs)
        fn = f"conv{nd}d"
        bias = _arg(args, kwargs, 2, "bias")
        stride = _arg(args, kwargs, 3, "stride", 1)
        padding = _arg(args, kwargs, 4, "padding", 0)
        dilation = _arg(args, kwargs, 5, "dilation", 1)
        groups = int(_arg(args, kwargs, 6, "groups", 1))
        shape = tuple(x.shape)
        wshape = tuple(w.shape)
        rf = tr.builder.rf(xt)
        if len(shape) not in (nd + 1, nd + 2):
            raise tr.failure(fn, f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to {fn}, "
                                 f"but got input of size: {list(shape)}", shapes=[shape])
        channels = shape[-nd - 1]
        if channels != wshape[1] * groups:
            raise tr.failure(
                fn, f"Given groups={groups}, weight of size {list(wshape)}, expected input{list(shape)} to have "
                    f"{wshape[1] * groups} channels, but got {channels} channels instead", shapes=[shape, wshape],
                fix=f"feed {wshape[1] * groups} channels or change in_channels")
        pad_arg = padding if isinstance(padding, str) else _ints(padding, nd)
        stride_arg, dil_arg = _ints(stride, nd), _ints(dilation, nd)
        g = _engine(tr, fn, x, rf, nd, lambda: geo.conv(
            shape[-nd:], wshape[2:], stride_arg, pad_arg, dil_arg, groups,
            framework="torch", in_channels=channels, out_channels=wshape[0]),
            ("conv", shape[-nd:], wshape, stride_arg, pad_arg, dil_arg, groups))
        out_shape = shape[:-nd - 1] + (wshape[0],) + g.output
        batch = shape_size(shape[:-nd - 1])
        out_sp = shape_size(g.output)
        macs = batch * wshape[0] * out_sp * wshape[1] * shape_size(wshape[2:])
        bias_adds = batch * wshape[0] * out_sp if isinstance(bias, Tensor) else 0
        dims = list(range(len(shape) - nd, len(shape)))
        out_rf = None if rf is None else rfm.apply_steps(rf, dims, g.rf_steps, [len(shape) - nd - 1] if groups < channels else [])
        out = _new(out_shape, x)
        params = [w, bias]
        group = tr.group_for(fn, _type_name(func), params)
        attrs = {"padding": repr(padding)} if isinstance(padding, str) else None
        tr.emit(group, "conv", [xt], [out], [out_rf], geometry=g, macs=macs, bias_adds=bias_adds,
                params=tr.count_params(params), groups=groups, attrs=attrs)
        return out
    return handler


def _h_conv_transpose(nd: int) -> Handler:
    def handler(tr: _Tracer, func: Any, args: Sequence[Any], kwargs: dict[str, Any]) -> Any:
        x = _arg(args, kwargs, 0, "input")
        w = _arg(args, kwargs, 1, "weight")
        xt = tr.tid(x)
        if xt is None or not isinstance(w, Tensor):
            return tr.generic(func, args, kwargs)
        fn = f"conv_transpose{nd}d"
        bias = _arg(args, kwargs, 2, "bias")
        stride = _arg(args, kwargs, 3, "stride", 1)
        padding = _arg(args, kwargs, 4, "padding", 0)
        output_padding = _arg(args, kwargs, 5, "output_padding", 0)
        groups = int(_arg(args, kwargs, 6, "groups", 1))
        dilation = _arg(args, kwargs, 7, "dilation", 1)
        shape = tuple(x.shape)
        wshape = tuple(w.shape)
        rf = tr.builder.rf(xt)
        channels = shape[-nd - 1]
        if channels != wshape[0]:
            raise tr.failure(
                fn, f"Given transposed=1, weight of size {list(wshape)}, expected input{list(shape)} to have "
                    f"{wshape[0]} channels, but got {channels} channels instead", shapes=[shape, wshape])
        g = _engine(tr, fn, x, rf, nd, lambda: geo.conv_transpose(
            shape[-nd:], wshape[2:], _ints(stride, nd), _ints(padding, nd), _ints(output_padding, nd),
            _ints(dilation, nd), groups=groups, framework="torch"))
        cout = wshape[1] * groups
        out_shape = shape[:-nd - 1] + (cout,) + g.output
        batch = shape_size(shape[:-nd - 1])
        macs = batch * channels * shape_size(shape[-nd:]) * wshape[1] * shape_size(wshape[2:])
        bias_adds = batch * cout * shape_size(g.output) if isinstance(bias, Tensor) else 0
        dims = list(range(len(shape) - nd, len(shape)))
        out_rf = None if rf is None else rfm.apply_steps(rf, dims, g.rf_steps, [len(shape) - nd - 1] if groups < channels else [])
        out = _new(out_shape, x)
        params = [w, bias]
        group = tr.group_for(fn, _type_name(func), params)
        tr.emit(group, "conv_transpose", [xt], [out], [out_rf], geometry=g, macs=macs, bias_adds=bias_adds,
                params=tr.count_params(params), groups=groups)
        return out
    return handler


def _h_pool(nd: int, kind: str, builtin: bool = False) -> Handler:
    def handler(tr: _Tracer, func: Any, args: Sequence[Any], kwargs: dict[str, Any]) -> Any:
        x = _arg(args, kwargs, 0, "input")
        xt = tr.tid(x)
        if xt is None:
            return tr.generic(func, args, kwargs)
        fn = f"{kind}_pool{nd}d"
        kernel = _arg(args, kwargs, 1, "kernel_size")
        stride = _arg(args, kwargs, 2, "stride", None)
        padding = _arg(args, kwargs, 3, "padding", 0)
        shape = tuple(x.shape)
        rf = tr.builder.rf(xt)
        if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0):
            stride = kernel
        indices = False
        if kind == "max":
            dilation = _arg(args, kwargs, 4, "dilation", 1)
            ceil_mode = bool(_arg(args, kwargs, 5, "ceil_mode", False))
            indices = bool(_arg(args, kwargs, 6, "return_indices", False)) or "with_indices" in _fn_name(func)
            g = _engine(tr, fn, x, rf, nd, lambda: geo.max_pool(
                shape[-nd:], _ints(kernel, nd), _ints(stride, nd), _ints(padding, nd), _ints(dilation, nd),
                ceil_mode, framework="torch"))
        else:
            ceil_mode = bool(_arg(args, kwargs, 4, "ceil_mode", False))
            cip = bool(_arg(args, kwargs, 5, "count_include_pad", True))
            divisor = _arg(args, kwargs, 6, "divisor_override", None)
            g = _engine(tr, fn, x, rf, nd, lambda: geo.avg_pool(
                shape[-nd:], _ints(kernel, nd), _ints(stride, nd), _ints(padding, nd), ceil_mode, cip, divisor,
                framework="torch"))
        out_shape = shape[:-nd] + g.output
        dims = list(range(len(shape) - nd, len(shape)))
        out_rf = None if rf is None else rfm.apply_steps(rf, dims, g.rf_steps)
        out = _new(out_shape, x)
        outs = [out]
        if indices:
            outs.append(torch.empty(out_shape, dtype=torch.int64, device="meta"))
        group = tr.group_for(fn, _type_name(func))
        tr.emit(group, f"{kind}_pool", [xt], outs, [out_rf] * len(outs), geometry=g,
                attrs={"ceil_mode": "True"} if ceil_mode else None)
        return (out, outs[1]) if indices else out
    return handler


def _h_adaptive(nd: int, kind: str) -> Handler:
    def handler(tr: _Tracer, func: Any, args: Sequence[Any], kwargs: dict[str, Any]) -> Any:
        x = _arg(args, kwargs, 0, "input")
        xt = tr.tid(x)
        if xt is None:
            return tr.generic(func, args, kwargs)
        fn = f"adaptive_{kind}_pool{nd}d"
        size = _arg(args, kwargs, 1, "output_size")
        indices = bool(_arg(args, kwargs, 2, "return_indices", False))
        shape = tuple(x.shape)
        rf = tr.builder.rf(xt)
        osize: Any = [None if s is None else int(s) for s in size] if isinstance(size, (list, tuple, torch.Size)) else int(size)
        if isinstance(osize, list) and len(osize) == 1 and nd > 1:
            osize = osize[0]
        call = geo.adaptive_avg_pool if kind == "avg" else geo.adaptive_max_pool
        g = _engine(tr, fn, x, rf, nd, lambda: call(shape[-nd:], osize))
        out_shape = shape[:-nd] + g.output
        dims = list(range(len(shape) - nd, len(shape)))
        out_rf = None if rf is None else rfm.apply_steps(rf, dims, g.rf_steps)
        out = _new(out_shape, x)
        outs = [out]
        if indices:
            outs.append(torch.empty(out_shape, dtype=torch.int64, device="meta"))
        group = tr.group_for(fn, _type_name(func))
        tr.emit(group, f"adaptive_{kind}_pool", [xt], outs, [out_rf] * len(outs), geometry=g)
        return (out, outs[1]) if indices else out
    return handler


_RESIZE_NDIM = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}


def _h_interpolate(tr: _Tracer, func: Any, args: Sequence[Any], kwargs: dict[str, Any]) -> Any:
    x = _arg(args, kwargs, 0, "input")
    xt = tr.tid(x)
    if xt is None:
        return tr.generic(func, args, kwargs)
    name = _fn_name(func)
    size = _arg(args, kwargs, 1, "size")
    scale = _arg(args, kwargs, 2, "scale_factor")
    mode = _arg(args, kwargs, 3, "mode", "nearest")
    align = _arg(args, kwargs, 4, "align_corners")
    if name == "upsample_nearest":
        mode, align = "nearest", None
    elif name == "upsample_bilinear":
        mode, align = "bilinear", True
    shape = tuple(x.shape)
    nd = len(shape) - 2
    rf = tr.builder.rf(xt)
    want = _RESIZE_NDIM.get(mode)
    if want is not None and want != nd:
        raise tr.failure("interpolate", f"Got {len(shape)}D input, but {mode} mode needs {want + 2}D input",
                         shapes=[shape])
    size_arg: Any = None if size is None else _ints(size, nd)
    scale_arg: Any = None if scale is None else (tuple(float(s) for s in scale) if isinstance(scale, (list, tuple)) else float(scale))
    if isinstance(scale_arg, tuple) and len(scale_arg) == 1 and nd > 1:
        scale_arg = scale_arg[0]
    if isinstance(scale_arg, float) and nd > 1:
        scale_arg = (scale_arg,) * nd
    if isinstance(size_arg, int) and nd > 1:
        size_arg = (size_arg,) * nd
    g = _engine(tr, "interpolate", x, rf, nd, lambda: geo.interpolate(shape[2:], size_arg, scale_arg, mode))
    dims = list(range(2, len(shape)))
    if mode == "area":
        ag = geo.adaptive_avg_pool(shape[2:], list(g.output))
        steps = ag.rf_steps
    else:
        nearest = g.rf_steps
        if scale_arg is not None and mode.startswith("nearest"):
            scales = scale_arg if isinstance(scale_arg, tuple) else (scale_arg,) * nd
            nearest = tuple(RFStep(Fraction(1), 1 / Fraction(s).limit_denominator(1 << 20), Fraction(0)) for s in scales)
        steps = rfm.steps_for_resize(shape[2:], g.output, mode, align, nearest)
    out_rf = None if rf is None else rfm.apply_steps(rf, dims, steps)
    out = _new(shape[:2] + g.output, x)
    group = tr.group_for("interpolate", _type_name(func))
    tr.emit(group, "interpolate", [xt], [out], [out_rf], geometry=g, attrs={"mode": str(mode)})
    return out


def _h_pad(tr: _Tracer, func: Any, args: Sequence[Any], kwargs: dict[str, Any]) -> Any:
    x = _arg(args, kwargs, 0, "input")
    xt = tr.tid(x)
    if xt is None:
        return tr.generic(func, args, kwargs)
    pad = [int(p) for p in _arg(args, kwargs, 1, "pad")]
    mode = _arg(args, kwargs, 2, "mode", "constant") or "constant"
    shape = tuple(x.shape)
    rf = tr.builder.rf(xt)
    n = len(shape)
    if len(pad) % 2 or len(pad) // 2 > n:
        raise tr.failure("pad", f"Padding length must be divisible by 2 and at most {2 * n}, got {len(pad)}",
                         shapes=[shape])
    out = list(shape)
    dims: list[int] = []
    befores: list[int] = []
    for i in range(len(pad) // 2):
        d = n - 1 - i
        before, after = pad[2 * i], pad[2 * i + 1]
        if mode in ("reflect", "circular"):
            try:
                check_padding_mode("reflect" if mode == "reflect" else "circular", shape[d], before, after, d)
            except GeometryError as exc:
                raise tr.failure("pad", exc.problem, exc.rule, [shape], d, rf, exc.fix) from exc
        out[d] = shape[d] + before + after
        if out[d] < 0 or (out[d] == 0 and mode != "constant"):
            raise tr.failure("pad", f"The input size {shape[d]}, plus negative padding {before} and {after} "
                                    f"resulted in a negative output size {out[d]}", shapes=[shape], dim=d, rf=rf)
        dims.append(d)
        befores.append(before)
    out_rf = None if rf is None else rfm.apply_steps(rf, dims, rfm.steps_for_pad(befores))
    spatial = list(range(2, n)) if n > 2 else list(range(n))
    pads = tuple((pad[2 * (n - 1 - d)], pad[2 * (n - 1 - d) + 1]) if (n - 1 - d) < len(pad) // 2 else (0, 0)
                 for d in spatial)
    result = _new(tuple(out), x)
    group = tr.group_for("pad", _type_name(func))
    tr.emit(group, "pad", [xt], [result], [out_rf], pads=pads, attrs={"pad_mode": str(mode)})
    return result


def _h_norm(kind: str) -> Handler:
    def handler(tr: _Tracer, func: Any, args: Sequence[Any], kwargs: dict[str, Any]) -> Any:
        x = _arg(args, kwargs, 0, "input")
        xt = tr.tid(x)
        if xt is None:
            return tr.generic(func, args, kwargs)
        shape = tuple(x.shape)
        rf = tr.builder.rf(xt)
        fn = kind
        tensors: list[Any] = []
        context = False
        if kind == "batch_norm":
            mean, var = _arg(args, kwargs, 1, "running_mean"), _arg(args, kwargs, 2, "running_var")
            weight, bias = _arg(args, kwargs, 3, "weight"), _arg(args, kwargs, 4, "bias")
            training = bool(_arg(args, kwargs, 5, "training", False))
            tensors = [weight, bias]
            c = shape[1] if len(shape) > 1 else shape[0]
            for t in (mean, var, weight, bias):
                if isinstance(t, Tensor) and t.numel() != c:
                    raise tr.failure(fn, f"running_mean should contain {c} elements not {t.numel()}", shapes=[shape])
            if training and shape_size(shape) // max(c, 1) == 1:
                raise tr.failure(fn, f"Expected more than 1 value per channel when training, got input size {list(shape)}",
                                 shapes=[shape])
        elif kind == "instance_norm":
            weight, bias = _arg(args, kwargs, 3, "weight"), _arg(args, kwargs, 4, "bias")
            use_stats = bool(_arg(args, kwargs, 5, "use_input_stats", True))
            tensors = [weight, bias]
            if use_stats and shape_size(shape[2:]) == 1:
                raise tr.failure(fn, f"Expected more than 1 spatial element when training, got input size {list(shape)}",
                                 shapes=[shape])
            context = use_stats
        elif kind == "layer_norm":
            raw = _arg(args, kwargs, 1, "normalized_shape") or ()
            ns = (int(raw),) if isinstance(raw, int) else tuple(int(v) for v in raw)
            tensors = [_arg(args, kwargs, 2, "weight"), _arg(args, kwargs, 3, "bias")]
            if shape[len(shape) - len(ns):] != ns:
                raise tr.failure(fn, f"Given normalized_shape={list(ns)}, expected input with shape "
                                     f"[*, {', '.join(map(str, ns))}], but got input of size{list(shape)}", shapes=[shape])
            normed = set(range(len(shape) - len(ns), len(shape)))
            context = rf is not None and any(d in normed and shape[d] > 1 for d in rf.dims if d is not None)
        elif kind == "group_norm":
            groups = int(_arg(args, kwargs, 1, "num_groups"))
            tensors = [_arg(args, kwargs, 2, "weight"), _arg(args, kwargs, 3, "bias")]
            if shape[1] % groups:
                raise tr.failure(fn, f"Expected number of channels in input to be divisible by num_groups, but got "
                                     f"input of shape {list(shape)} and num_groups={groups}", shapes=[shape])
            context = shape_size(shape[2:]) > 1
        out = _new(shape, x)
        out_rf = None if rf is None else (rfm.with_context(rf) if context else rf)
        group = tr.group_for(fn, _type_name(func), tensors)
        tr.emit(group, kind, [xt], [out], [out_rf], params=tr.count_params(tensors))
        return out
    return handler


_INPLACE_POS = {"relu": 1, "relu6": 1, "silu": 1, "hardswish": 1, "mish": 1, "selu": 1, "hardsigmoid": 1,
                "elu": 2, "celu": 2, "leaky_relu": 2, "dropout": 3, "dropout1d": 3, "dropout2d": 3, "dropout3d": 3,
                "alpha_dropout": 3, "feature_alpha_dropout": 3, "hardtanh": 3, "threshold": 3, "rrelu": 4}


def _h_unary(tr: _Tracer, func: Any, args: Sequence[Any], kwargs: dict[str, Any]) -> Any:
    x = _arg(args, kwargs, 0, "input")
    xt = tr.tid(x)
    if xt is None:
        return tr.generic(func, args, kwargs)
    name, inplace = _canonical(func)
    pos = _INPLACE_POS.get(name)
    if pos is not None and bool(_arg(args, kwargs, pos, "inplace", False)):
        inplace = True
    kind = "dropout" if "dropout" in name else "activation"
    extra = [a for a in args[1:] if isinstance(a, torch.nn.Parameter)]
    group = tr.group_for(name, _type_name(func), extra)
    rf = tr.builder.rf(xt)
    if inplace:
        tr.emit(group, kind, [xt], [x], [rf], alias=[xt], params=tr.count_params(extra))
        return x
    out = _new(tuple(x.shape), x)
    tr.emit(group, kind, [xt], [out], [rf], params=tr.count_params(extra))
    return out


_BINARY_KIND = {"add": "add", "sub": "sub", "rsub": "sub", "mul": "mul", "div": "div", "rdiv": "div",
                "true_divide": "div", "maximum": "elementwise", "minimum": "elementwise"}


def _h_binary(tr: _Tracer, func: Any, args: Sequence[Any], kwargs: dict[str, Any]) -> Any:
    a = _arg(args, kwargs, 0, "input")
    b = _arg(args, kwargs, 1, "other")
    ta, tb = tr.tid(a), tr.tid(b)
    if ta is None and tb is None:
        return tr.generic(func, args, kwargs)
    name, inplace = _canonical(func)
    sa = tuple(a.shape) if isinstance(a, Tensor) else ()
    sb = tuple(b.shape) if isinstance(b, Tensor) else ()
    bld = tr.builder
    maybe = broadcast(sa, sb) if sa != sb else sa
    if maybe is None:
        n = max(len(sa), len(sb))
        pa, pb = (1,) * (n - len(sa)) + sa, (1,) * (n - len(sb)) + sb
        bad = next(i for i in range(n - 1, -1, -1) if pa[i] != pb[i] and pa[i] != 1 and pb[i] != 1)
        t = ta if ta is not None else tb
        assert t is not None
        dim = bad - (n - len(bld.shape(t)))
        raise tr.failure(name, f"cannot {name} tensors of shapes {sa} and {sb}: size {pa[bad]} and size {pb[bad]} "
                               f"at dim {bad} do not broadcast", shapes=[sa, sb], dim=dim, rf=bld.rf(t))
    out_shape = maybe
    if inplace and out_shape != sa:
        raise tr.failure(name, f"output with shape {list(sa)} doesn't match the broadcast shape {list(out_shape)}",
                         shapes=[sa, sb])
    operands = [(bld.rf(t), bld.shape(t)) for t in (ta, tb) if t is not None]
    merged, issues = rfm.merge(operands, out_shape)
    ins = [t for t in (ta, tb) if t is not None]
    if ta is not None and tb is not None and ta == tb:
        ins = [ta]
    kind = _BINARY_KIND.get(name, "elementwise")
    params = [v for v in (a, b) if isinstance(v, torch.nn.Parameter)]
    group = tr.group_for(name, _type_name(func), params)
    if inplace:
        assert isinstance(a, Tensor) and ta is not None
        tr.emit(group, kind, ins, [a], [merged], alias=[ta], issues=issues, params=tr.count_params(params))
        return a
    if isinstance(a, Tensor) and isinstance(b, Tensor) and a.dtype == b.dtype:
        dtype = a.dtype
    else:
        dtype = torch.result_type(a, b)
    if name in ("div", "rdiv", "true_divide") and not dtype.is_floating_point and not dtype.is_complex:
        dtype = torch.get_default_dtype()
    like = a if isinstance(a, Tensor) and sa == out_shape else (b if isinstance(b, Tensor) and sb == out_shape else None)
    out = _new(out_shape, like, dtype) if like is not None else torch.empty(out_shape, dtype=dtype, device="meta")
    tr.emit(group, kind, ins, [out], [merged], issues=issues, params=tr.count_params(params))
    return out


def _h_cat(tr: _Tracer, func: Any, args: Sequence[Any], kwargs: dict[str, Any]) -> Any:
    tensors = list(_arg(args, kwargs, 0, "tensors"))
    dim = _arg(args, kwargs, 1, "dim", kwargs.get("axis", 0))
    acts = tr.activations([tensors], {})
    if not acts or not all(isinstance(t, Tensor) for t in tensors):
        return tr.generic(func, args, kwargs)
    parts = [t for t in tensors if not (t.dim() == 1 and t.shape[0] == 0)]
    shapes = [tuple(t.shape) for t in parts]
    n = len(shapes[0])
    d = _norm_dim(int(dim), n)
    bld = tr.builder
    for i, s in enumerate(shapes[1:], 1):
        if len(s) != n:
            raise tr.failure("cat", f"Tensors must have same number of dimensions: got {n} and {len(s)}", shapes=shapes)
        for k in range(n):
            if k != d and s[k] != shapes[0][k]:
                t0 = acts[0][1]
                raise tr.failure(
                    "cat", f"Sizes of tensors must match except in dimension {d}. Expected size {shapes[0][k]} but "
                           f"got size {s[k]} for tensor number {i} in the list ({shapes[0]} vs {s})",
                    shapes=[shapes[0], s], dim=k, rf=bld.rf(t0))
    out_shape = tuple(sum(s[k] for s in shapes) if k == d else shapes[0][k] for k in range(n))
    dtype = parts[0].dtype
    for t in parts[1:]:
        if t.dtype != dtype:
            dtype = torch.promote_types(dtype, t.dtype)
    merged, issues = rfm.concat([(bld.rf(t), bld.shape(t)) for _, t in acts], out_shape, d)
    out = torch.empty(out_shape, dtype=dtype, device="meta")
    group = tr.group_for("cat", _type_name(func))
    tr.emit(group, "cat", [t for _, t in acts], [out], [merged], issues=issues)
    return out


def _h_linear(tr: _Tracer, func: Any, args: Sequence[Any], kwargs: dict[str, Any]) -> Any:
    x = _arg(args, kwargs, 0, "input")
    w = _arg(args, kwargs, 1, "weight")
    bias = _arg(args, kwargs, 2, "bias")
    xt = tr.tid(x)
    if xt is None or not isinstance(w, Tensor) or w.dim() != 2:
        return tr.generic(func, args, kwargs)
    shape = tuple(x.shape)
    out_f, in_f = int(w.shape[0]), int(w.shape[1])
    if shape[-1] != in_f:
        rows = shape_size(shape[:-1])
        raise tr.failure("linear", f"mat1 and mat2 shapes cannot be multiplied ({rows}x{shape[-1]} and {in_f}x{out_f})",
                         shapes=[shape, (out_f, in_f)],
                         fix=f"the layer expects {in_f} input features; its input has {shape[-1]}")
    out_shape = shape[:-1] + (out_f,)
    macs = shape_size(shape[:-1]) * in_f * out_f
    bias_adds = shape_size(out_shape) if isinstance(bias, Tensor) else 0
    rf = tr.builder.rf(xt)
    out_rf = None if rf is None else rfm.apply_steps(rf, [], [], [len(shape) - 1])
    out = torch.empty(out_shape, dtype=x.dtype, device="meta")
    params = [w, bias]
    group = tr.group_for("linear", _type_name(func), params)
    tr.emit(group, "linear", [xt], [out], [out_rf], macs=macs, bias_adds=bias_adds, params=tr.count_params(params))
    return out


def _handlers() -> dict[Any, Handler]:
    h: dict[Any, Handler] = {}
    convs: list[tuple[int, Any, Any]] = [(1, torch.conv1d, torch.conv_transpose1d),
                                         (2, torch.conv2d, torch.conv_transpose2d),
                                         (3, torch.conv3d, torch.conv_transpose3d)]
    for nd, conv_fn, convt_fn in convs:
        h[conv_fn] = _h_conv(nd)
        h[convt_fn] = _h_conv_transpose(nd)
    for nd in (1, 2, 3):
        h[getattr(F, f"max_pool{nd}d")] = _h_pool(nd, "max")
        h[getattr(F, f"max_pool{nd}d_with_indices")] = _h_pool(nd, "max")
        h[getattr(torch, f"max_pool{nd}d")] = _h_pool(nd, "max")
        h[getattr(F, f"avg_pool{nd}d")] = _h_pool(nd, "avg")
        h[getattr(F, f"adaptive_avg_pool{nd}d")] = _h_adaptive(nd, "avg")
        h[getattr(F, f"adaptive_max_pool{nd}d")] = _h_adaptive(nd, "max")
        h[getattr(F, f"adaptive_max_pool{nd}d_with_indices")] = _h_adaptive(nd, "max")
    h[torch.adaptive_avg_pool1d] = _h_adaptive(1, "avg")
    h[torch._C._nn.adaptive_avg_pool2d] = _h_adaptive(2, "avg")
    h[torch._C._nn.adaptive_avg_pool3d] = _h_adaptive(3, "avg")
    resizes: list[Any] = [F.interpolate, F.upsample, F.upsample_nearest, F.upsample_bilinear]
    for fn in resizes:
        h[fn] = _h_interpolate
    h[F.pad] = _h_pad
    h[torch._C._nn.pad] = _h_pad
    h[F.batch_norm] = _h_norm("batch_norm")
    h[F.instance_norm] = _h_norm("instance_norm")
    h[F.layer_norm] = _h_norm("layer_norm")
    h[F.group_norm] = _h_norm("group_norm")
    unary: list[Any] = [
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
    for fn in unary:
        h[fn] = _h_unary
    binary: list[Any] = [
        torch.add, torch.sub, torch.subtract, torch.mul, torch.multiply, torch.div, torch.divide,
        torch.true_divide, torch.maximum, torch.minimum, torch.rsub,
        Tensor.add, Tensor.sub, Tensor.mul, Tensor.div, Tensor.true_divide, Tensor.__add__, Tensor.__radd__,
        Tensor.__sub__, Tensor.__rsub__, Tensor.__mul__, Tensor.__rmul__, Tensor.__truediv__, Tensor.__rtruediv__,
        Tensor.__iadd__, Tensor.__isub__, Tensor.__imul__, Tensor.__itruediv__, Tensor.add_, Tensor.sub_,
        Tensor.mul_, Tensor.div_, Tensor.maximum, Tensor.minimum,
    ]
    for fn in binary:
        h[fn] = _h_binary
    cats: list[Any] = [torch.cat, torch.concat, torch.concatenate]
    for fn in cats:
        h[fn] = _h_cat
    h[torch._C._nn.linear] = _h_linear
    h[F.linear] = _h_linear
    return h


_HANDLERS = _handlers()
_PASSTHROUGH: set[Any] = {
    Tensor.size, Tensor.dim, Tensor.numel, Tensor.stride, Tensor.is_contiguous, Tensor.__len__,
    Tensor.element_size, Tensor.nelement, Tensor.ndimension, Tensor.storage_offset, Tensor.get_device,
    Tensor.is_floating_point, Tensor.is_complex, Tensor.data_ptr, Tensor.__hash__,
}
for _prop in ("shape", "dtype", "device", "ndim", "requires_grad", "is_cuda", "layout", "grad_fn", "is_leaf",
              "is_meta", "is_sparse", "is_quantized", "grad", "itemsize", "nbytes", "_base", "is_nested"):
    _descriptor = getattr(Tensor, _prop, None) or getattr(torch._C.TensorBase, _prop, None)
    if _descriptor is not None and hasattr(_descriptor, "__get__"):
        _PASSTHROUGH.add(_descriptor.__get__)


# ================================================================================================
def _spatial_dims(shape: Shape) -> list[int]:
    return list(range(2, len(shape))) if len(shape) >= 3 else []


def trace_torch(model: torch.nn.Module, input_shapes: Sequence[Shape], *, dtype: Optional[torch.dtype] = None,
                model_name: Optional[str] = None) -> Trace:
    """Trace ``model`` on meta tensors of ``input_shapes`` (NC... layout; the receptive field is
    measured on the spatial axes ``2..`` of the first input). Raises :class:`TraceFailure` where
    the real forward pass would fail."""
    if not isinstance(model, torch.nn.Module):
        raise GeometryError(f"expected a torch.nn.Module, got {type(model).__name__}", fix="pass an nn.Module")
    first = tuple(int(s) for s in input_shapes[0])
    spatial = _spatial_dims(first)
    tracer = _Tracer(model, len(spatial))
    dt = dtype or torch.get_default_dtype()
    inputs = []
    for shape in input_shapes:
        shape = tuple(int(s) for s in shape)
        if any(s < 0 for s in shape):
            raise GeometryError(f"negative input size in {shape}", fix="use sizes >= 0")
        x = torch.empty(shape, dtype=dt, device="meta")
        sd = _spatial_dims(shape)
        rf = rfm.identity(len(spatial), sd) if len(sd) == len(spatial) else None
        tid = tracer.builder.add_input(shape, x.element_size(), rf)
        tracer.register(x, tid)
        inputs.append(x)
    pre = torch.nn.modules.module.register_module_forward_pre_hook(tracer.pre_hook)
    post = torch.nn.modules.module.register_module_forward_hook(tracer.post_hook)
    try:
        with torch.no_grad(), tracer:
            output = model(*inputs)
    finally:
        pre.remove()
        post.remove()
    outs = _flat(output, [])
    out_ids = [tracer.act[id(o)] for o in outs if id(o) in tracer.act]
    for name, count in sorted(tracer.unknown.items()):
        tracer.builder.add_finding(unknown_op_finding(name, name, count, "call", "running it on meta tensors", "op"))
    for name, count in sorted(tracer.data_dependent.items()):
        tracer.builder.add_finding(Finding(
            "data-dependent", "warning", name,
            f"the model needs tensor values at {name} ({count} call{'s' if count > 1 else ''}); convgeom ran it on "
            "zeros, so shapes after it assume all-zero data",
            "avoid value-dependent control flow in forward for exact static shapes"))
    params = list(model.parameters())
    return tracer.builder.finish(
        model=model_name or type(model).__name__, outputs=out_ids,
        params=sum(p.numel() for p in params),
        trainable_params=sum(p.numel() for p in params if p.requires_grad),
        param_bytes=sum(p.numel() * p.element_size() for p in params))


_DTYPES = {"float32": torch.float32, "float": torch.float32, "float16": torch.float16, "half": torch.float16,
           "bfloat16": torch.bfloat16, "float64": torch.float64, "double": torch.float64}


def _run(model: Any, shapes: list[Shape], dtype: Optional[str]) -> Trace:
    if not shapes:
        raise GeometryError("an input shape is needed to trace a PyTorch model", fix="pass input_shape=(1, 3, 224, 224)")
    dt = None
    if dtype is not None:
        if dtype not in _DTYPES:
            raise GeometryError(f"unknown dtype {dtype!r}", fix="use one of " + ", ".join(sorted(_DTYPES)))
        dt = _DTYPES[dtype]
    return trace_torch(model, shapes, dtype=dt)


def spatial_dims(model: Any, shape: Shape) -> tuple[int, ...]:
    """NC... layout: the spatial dims are 2.."""
    return tuple(_spatial_dims(shape))


FRONTEND = Frontend("torch", _run, spatial_dims)

__all__ = ["FRONTEND", "trace_torch"]
