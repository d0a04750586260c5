"""The PyTorch tracer: a function mode and module hooks that see every op of a forward pass on
the meta device (the op rules are in :mod:`convgeom.tracing.torch_ops`).

The tracer replaces the model's input by a meta tensor, hands each op it sees to a fast handler
or runs it on meta stand-ins (then classifies its receptive field by name), and attributes ops to
modules with global pre/post hooks (the model itself is never modified). How records are named
and what runs on zeros is described in :mod:`convgeom.tracing.torch_frontend`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

import torch
from torch.overrides import TorchFunctionMode

from ..errors import GeometryError
from ..formatting import first_line
from . import rf as rfm
from .builder import TraceBuilder
from .failures import TraceFailure
from .frontend import leaves
from .records import ModuleCall
from .rf import Shape, TensorRF

Tensor = torch.Tensor
_MAX_ZERO_FALLBACK_BYTES = 1 << 30

#: a fast rule: ``handler(tracer, func, args, kwargs)`` returns what ``func`` would
Handler = Callable[["Tracer", Any, Sequence[Any], dict[str, Any]], Any]
#: a receptive-field rule for an op run on meta tensors: ``(output fields, merge issues, MACs)``
RuleResult = tuple[list[Optional[TensorRF]], list[rfm.MergeIssue], int]
Rule = Callable[["Tracer", str, Sequence[Any], dict[str, Any], list[tuple[Tensor, int]], list[Tensor]], RuleResult]


@dataclass(frozen=True)
class Tables:
    """What the tracer knows about ops: fast ``handlers`` by function, receptive-field ``rules``
    (record kind, rule) by op name, functions that only read metadata (``passthrough``), ops
    that need values (``value_ops``) and tensor factories."""

    handlers: dict[Any, Handler]
    rules: dict[str, tuple[str, Rule]]
    unknown_rule: Rule
    passthrough: set[Any]
    value_ops: set[str]
    factories: set[str]


# ------------------------------------------------------------------------------------------------
def arg(args: Sequence[Any], kwargs: dict[str, Any], i: int, name: str, default: Any = None) -> Any:
    if i < len(args):
        return args[i]
    return kwargs.get(name, default)


def engine_arg(value: Any, n: int) -> Any:
    """A torch size argument as the engine takes it: an int stays an int, a sequence becomes a
    tuple (one value for ``n > 1`` axes: that int)."""
    if isinstance(value, (list, tuple, torch.Size)):
        vals = tuple(int(v) for v in value)
        return vals[0] if len(vals) == 1 and n > 1 else vals
    return int(value)


def fn_name(func: Any) -> str:
    name = getattr(func, "__name__", None) or "op"
    if name == "__get__":
        owner = getattr(func, "__self__", None)
        name = getattr(owner, "__name__", "get")
    return name


_DUNDER = {"iadd": "add_", "isub": "sub_", "imul": "mul_", "itruediv": "div_", "idiv": "div_",
           "radd": "add", "rmul": "mul", "rsub": "rsub", "rtruediv": "rdiv", "rdiv": "rdiv",
           "truediv": "div", "matmul": "matmul", "rmatmul": "matmul", "ipow": "pow_", "rpow": "pow",
           "getitem": "getitem", "setitem": "setitem", "and": "logical_and", "or": "logical_or"}


def canonical(func: Any) -> tuple[str, bool]:
    """``(op name, in-place)``: ``add_``/``__iadd__`` -> ("add", True), ``__getitem__`` -> ("getitem", False)."""
    name = fn_name(func)
    if name.startswith("__") and name.endswith("__"):
        name = _DUNDER.get(name[2:-2], name[2:-2])
    name = name.lstrip("_")
    if name.endswith("_") and not name.endswith("__"):
        return name[:-1], True
    return name, False


_TYPE_NAMES: dict[Any, str] = {}


def type_name(func: Any) -> str:
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
    name = fn_name(func)
    qual = getattr(func, "__qualname__", "") or ""
    module = getattr(func, "__module__", "") or ""
    if qual.startswith(("TensorBase.", "Tensor.")) or name in ("T", "mT", "H", "mH", "data") or qual.endswith("__get__"):
        return f"Tensor.{name}"
    if module.startswith(("torch.nn.functional", "torch._C._nn")):
        return f"F.{name}"
    return f"torch.{name}"


def flat(value: Any) -> list[Tensor]:
    """The tensors in a nest of lists, tuples and dicts."""
    return leaves(value, lambda v: isinstance(v, Tensor))


@dataclass
class Frame:
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



class Tracer(TorchFunctionMode):
    """The function mode plus the module hooks' state for one trace."""

    def __init__(self, model: torch.nn.Module, spatial_ndim: int, tables: Tables) -> None:
        super().__init__()
        self.tables = tables
        self.builder = TraceBuilder("torch", spatial_ndim)
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
        self.frames: list[Frame] = []
        self.thread = threading.get_ident()
        self.data_dependent: dict[str, int] = {}
        self.root_name = type(model).__name__

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
        """Record an op whose outputs ``outs`` exist (ran on meta tensors)."""
        ids = self.builder.op(group, kind, inputs, [(tuple(o.shape), dtype_name(o.dtype)) for o in outs],
                              rfs, alias=alias, **extra)
        for o, t in zip(outs, ids):
            self.register(o, t)

    def produce(self, tids: Sequence[int], like: Tensor) -> list[Tensor]:
        """Meta tensors for the builder's outputs ``tids`` (laid out like ``like``), registered."""
        outs = []
        for t in tids:
            out = new_tensor(self.builder.shape(t), like, DTYPES.get(self.builder.dtype(t)))
            self.register(out, t)
            outs.append(out)
        return outs

    def failure(self, fn: str, problem: str, rule: str = "", shapes: Sequence[Shape] = (), *,
                dim: Optional[int] = None, tid: Optional[int] = None, fix: str = "") -> TraceFailure:
        """The real model fails at op ``fn`` of the current record."""
        self.builder.current = self.current_name(fn)
        return self.builder.failure(problem, rule, shapes, dim=dim, tid=tid, fix=fix)

    def engine(self, fn: str, x: Tensor, nd: int, call: Callable[[], Any], key: Optional[tuple[Any, ...]] = None) -> Any:
        """An engine call for op ``fn`` over the last ``nd`` dims of ``x``."""
        tid = self.tid(x)
        assert tid is not None
        self.builder.current = self.current_name(fn)
        return self.builder.engine(tid, range(x.dim() - nd, x.dim()), call, key)

    # ----- dispatch -------------------------------------------------------------------------
    def __torch_function__(self, func: Any, types: Any, args: Sequence[Any] = (), kwargs: Optional[dict[str, Any]] = None) -> Any:
        if kwargs is None:
            kwargs = {}
        handler = self.tables.handlers.get(func)
        if handler is not None:
            return handler(self, func, args, kwargs)
        if func in self.tables.passthrough:
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
        total = sum(t.numel() * t.element_size() for t in flat(list(margs) + list(mkwargs.values())))
        if total > _MAX_ZERO_FALLBACK_BYTES:
            raise GeometryError(
                f"op {name} cannot run on meta tensors ({first_line(why)}) and its inputs are too "
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
        if name in self.tables.value_ops:
            self.data_dependent[name] = self.data_dependent.get(name, 0) + 1
        else:
            self.note_unknown(name, self.current_name(name))

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
        name, inplace = canonical(func)
        acts = self.activations(args, kwargs)
        if not acts:
            if name in self.tables.factories and "device" not in kwargs:
                kwargs = dict(kwargs, device="meta")
            try:
                return self.run_meta(func, args, kwargs, name)
            except (RuntimeError, ValueError, IndexError, TypeError) as exc:
                raise self.failure(name, first_line(exc)) from exc
        try:
            result = self.run_meta(func, args, kwargs, name)
        except GeometryError:
            raise
        except (RuntimeError, ValueError, IndexError, TypeError) as exc:
            raise self.failure(name, f"{type_name(func)} failed: {first_line(exc)}",
                               shapes=[tuple(a.shape) for a, _ in acts]) from exc
        outs = flat(result)
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
        kind, rule = self.tables.rules.get(name, ("unknown", self.tables.unknown_rule))
        known = name in self.tables.rules
        try:
            rfs, issues, macs = rule(self, name, args, kwargs, acts, outs)
        except Exception:  # a rule that cannot read unusual arguments must not stop the trace
            rfs, issues, macs = self.tables.unknown_rule(self, name, args, kwargs, acts, outs)
            known = False
        if not known:
            rfs = [None if r is None else rfm.inexact(r) for r in rfs]
        alias: list[Optional[int]] = []
        for o in outs:
            if inplace and o is main_obj:
                alias.append(main_tid)
                continue
            base = o._base if o._is_view() else None
            alias.append(self.act.get(id(base)) if base is not None else None)
        params = [a for a in list(args) + list(kwargs.values()) if isinstance(a, torch.nn.Parameter)]
        group = self.group_for(name, type_name(func), params)
        if not known:
            self.note_unknown(type_name(func), self.builder.groups[group].name)
        self.emit(group, kind, [t for _, t in acts], outs, rfs, alias=alias, macs=macs,
                  params=self.count_params(params), issues=issues)

    def note_unknown(self, what: str, record: str) -> None:
        self.builder.note_unknown(what, record, what=what, unit="call", shape_source="running it on meta tensors",
                                  kind="op")

    # ----- module hooks ---------------------------------------------------------------------
    def pre_hook(self, module: torch.nn.Module, args: Any) -> None:
        if threading.get_ident() != self.thread:
            return
        name = self.names.get(id(module))
        top = self.frames[-1] if self.frames else None
        if top is not None and top.leaf:
            self.frames.append(Frame(module, top.name, top.depth, True, top.group, nested=True))
            return
        if name is None:
            parent = top.name if top is not None else ""
            name = self.builder.unique_name(f"{parent}.{type(module).__name__}" if parent else type(module).__name__)
        depth = 0 if name == "" else name.count(".") + 1
        leaf = id(module) in self.leaves or id(module) not in self.names and next(iter(module.children()), None) is None
        acts = self.activations(args if isinstance(args, tuple) else (args,), {})
        frame = Frame(module, name, depth, leaf, first_group=len(self.builder.groups),
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
        outs = flat(output)
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

    def adopt(self, obj: Tensor, frame: Frame) -> int:
        """A leaf returned a tensor no intercepted op produced (custom kernels): pass the first
        input's receptive field through by shape, inexactly."""
        assert frame.group is not None
        meta = obj if obj.device.type == "meta" else torch.empty_like(obj, device="meta")
        rf: Optional[TensorRF] = None
        if frame.inputs:
            src = frame.inputs[0]
            rf = rfm.by_shape(self.builder.rf(src), self.builder.shape(src), tuple(obj.shape))
            rf = None if rf is None else rfm.inexact(rf)
        ids = self.builder.op(frame.group, "unknown", frame.inputs[:1], [(tuple(obj.shape), dtype_name(obj.dtype))], [rf])
        self.register(meta, ids[0])
        self.act[id(obj)] = ids[0]
        self.keep.append(obj)
        self.note_unknown(type(frame.module).__name__, frame.name or self.root_name)
        return ids[0]


#: torch dtypes by name (:mod:`convgeom.tracing.dtypes`)
DTYPES: dict[str, torch.dtype] = {str(d).removeprefix("torch."): d for d in (
    torch.float32, torch.float16, torch.bfloat16, torch.float64, torch.int64, torch.int32, torch.int16, torch.int8,
    torch.uint8, torch.bool, torch.complex64, torch.complex128)}


def dtype_name(dtype: torch.dtype) -> str:
    """``float32`` for ``torch.float32``."""
    return str(dtype).removeprefix("torch.")


def new_tensor(shape: Shape, like: Tensor, dtype: Optional[torch.dtype] = None) -> Tensor:
    """A meta tensor of ``shape``; channels-last when ``like`` is (as PyTorch's kernels do).
    ``torch.empty`` is used rather than ``empty_like``: the latter runs Python meta code."""
    if like.dim() == len(shape) and like.dim() in (4, 5) and not like.is_contiguous():
        fmt = torch.channels_last if like.dim() == 4 else torch.channels_last_3d
        if like.is_contiguous(memory_format=fmt):
            return torch.empty(shape, dtype=dtype or like.dtype, device="meta", memory_format=fmt)
    return torch.empty(shape, dtype=dtype or like.dtype, device="meta")
