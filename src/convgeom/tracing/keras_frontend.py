"""Keras 3 frontend of :func:`convgeom.trace`.

How it works
------------
* Nothing is executed and no activation is allocated. The functional graph is walked node by
  node in Keras's own execution order (``model._nodes_by_depth``, as ``Function._run_through_graph``
  does); a ``Sequential`` model is walked layer by layer; nested models are walked recursively
  (their records are named ``outer/inner`` and grouped in a :class:`ModuleCall`).
* Each layer call becomes one record named by the Keras layer name. Windowed layers
  (``Conv*D``, ``DepthwiseConv*D``, ``SeparableConv*D``, ``Conv*DTranspose``, ``MaxPooling*D``,
  ``AveragePooling*D``) get their output sizes, per-side pads and receptive-field steps from the
  geometry engine with ``framework="tensorflow"`` (the Keras 3 dialect: 'valid'/'same'/'causal',
  TF SAME split, Keras's rejections) for ``channels_last`` and ``channels_first``. Padding,
  cropping, upsampling, global/adaptive pooling, dense, normalisation, activations, merges and
  reshapes have their own shape and receptive-field rules here.
* Any other layer or ``keras.ops`` operation is asked for its symbolic output
  (``compute_output_spec``; no values) and its receptive field is passed through by shape
  (inexact), with an ``unknown-op`` info finding; unknown layers never stop the trace. An
  exception other than Keras's ``ValueError`` for incompatible shapes is the layer's own code
  failing: a one-line :class:`~convgeom.errors.UserCodeError`.
* Each layer's ``input_spec`` is checked like ``Layer.__call__`` does; where the real model would
  fail (an input spec, a kernel that does not fit, shapes that do not merge) a
  :class:`TraceFailure` names the layer and the model-input axis at fault.
* Parameters are ``layer.count_params()`` of each leaf layer, counted once per layer object, so
  a traced model's records add up to ``model.count_params()``.
* A model whose ``Input`` has fixed spatial sizes is traced at the requested size anyway (the
  geometry of its layers does not depend on it); a ``static-input-shape`` warning says that this
  model object itself would reject the input.
* A transposed conv that the TensorFlow backend rejects but Keras's other backends run (an even
  kernel with padding='same' and output_padding=0) is traced with the geometry of the running
  backend, plus a ``keras-backend-differs`` warning.

Keras is imported on first use only, by :func:`convgeom.optional.import_keras`: with no
``KERAS_BACKEND`` set and the configured backend (``~/.keras/keras.json``, default TensorFlow)
not installed, the ``torch`` (else ``jax``) backend is selected before the import, which would
otherwise fail.
"""

from __future__ import annotations

import importlib
import math
import os
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Optional

from .. import geometry as geo
from ..errors import GeometryError, GeometryTypeError, UserCodeError
from ..formatting import axis_labels, first_line
from ..optional import import_keras
from . import builder as bld
from . import dtypes
from . import rf as rfm
from .builder import TraceBuilder
from .failures import TraceFailure
from .frontend import Frontend, leaves
from .records import Finding, ModuleCall, Trace
from .rf import Shape, TensorRF

#: what needs Keras, in :func:`convgeom.optional.import_keras`'s one line when it is missing
_FEATURE = "tracing Keras models"


# ------------------------------------------------------------------------------------------------
def _dtype_name(dtype: Any) -> str:
    name = str(getattr(dtype, "name", dtype) or "float32")
    return dtypes.canonical(name.replace("torch.", ""))


def _is_float(dtype: str) -> bool:
    return "float" in dtype


def _keras_base(obj: Any, names: Sequence[str]) -> Optional[str]:
    """The first class of ``obj``'s MRO that is a Keras class named in ``names``, provided no
    user subclass before it overrides ``call`` (then the layer is not what its base computes)."""
    for cls in type(obj).__mro__:
        module = cls.__module__ or ""
        if module.startswith("keras") and cls.__name__ in names:
            return cls.__name__
        if not module.startswith("keras") and ("call" in vars(cls) or "compute_output_shape" in vars(cls)):
            return None
    return None


def _shape_of(variable: Any) -> tuple[int, ...]:
    return tuple(int(s) for s in variable.shape)


def _per_axis(value: Any, n: int) -> tuple[int, ...]:
    """A Keras size argument as ``n`` ints (one value is repeated)."""
    if isinstance(value, (list, tuple)):
        vals = tuple(int(v) for v in value)
        return vals * n if len(vals) == 1 and n > 1 else vals
    return (int(value),) * n


def _layout(layer: Any, x: _Value, nd: Optional[int] = None) -> tuple[str, list[int], int]:
    """``(data_format, spatial dims, channel dim)`` of ``layer``'s input ``x`` with ``nd``
    spatial axes (default: all but batch and channels)."""
    fmt = str(getattr(layer, "data_format", "channels_last"))
    rank = len(x.shape)
    nd = rank - 2 if nd is None else nd
    if fmt == "channels_first":
        return fmt, list(range(rank - nd, rank)), rank - nd - 1
    return fmt, list(range(rank - 1 - nd, rank - 1)), rank - 1


def _pairs(value: Any, nd: int) -> tuple[tuple[int, int], ...]:
    """Keras ``padding``/``cropping``: an int, ``(a, b)`` for 1D, or one pair per axis."""
    if isinstance(value, int):
        return ((value, value),) * nd
    items = list(value)
    if nd == 1 and len(items) == 2 and all(isinstance(v, int) for v in items):
        return ((int(items[0]), int(items[1])),)
    out = []
    for v in items:
        if isinstance(v, int):
            out.append((v, v))
        else:
            a, b = v
            out.append((int(a), int(b)))
    return tuple(out)


@dataclass(frozen=True)
class _Value:
    """An activation in the walk: its tensor id in the builder, shape and dtype. Has ``shape``
    and ``dtype`` like a ``KerasTensor``, so Keras's ``assert_input_compatibility`` accepts it."""

    tid: int
    shape: Shape
    dtype: str


Handler = Callable[["_Tracer", Any, int, list[_Value], tuple[Any, ...], dict[str, Any]], Optional[list[_Value]]]


# ================================================================================================
class _Tracer:
    def __init__(self, keras: Any, spatial_ndim: int, dtype: Optional[str]) -> None:
        self.keras = keras
        self.builder = TraceBuilder("keras", spatial_ndim)
        self.dtype = dtype
        self.counted: set[int] = set()

    # ----- helpers -----------------------------------------------------------------------------
    @property
    def current(self) -> str:
        """The record being traced (failures name it)."""
        return self.builder.current

    def rf(self, v: _Value) -> Optional[TensorRF]:
        return self.builder.rf(v.tid)

    def value(self, tid: int) -> _Value:
        return _Value(tid, self.builder.shape(tid), self.builder.dtype(tid))

    def out_dtype(self, layer: Any, x: _Value) -> str:
        if self.dtype is not None:
            return self.dtype
        compute = getattr(layer, "compute_dtype", None)
        if compute is not None and _is_float(x.dtype) and _is_float(_dtype_name(compute)):
            return _dtype_name(compute)
        return x.dtype

    def emit(self, group: int, kind: str, ins: Sequence[_Value], shapes: Sequence[Shape], dtype: str,
             rfs: Sequence[Optional[TensorRF]], **extra: Any) -> list[_Value]:
        """Record an op the builder has no method for."""
        ids = self.builder.op(group, kind, list(dict.fromkeys([v.tid for v in ins])),
                              [(tuple(s), dtype) for s in shapes], rfs, **extra)
        return [_Value(t, tuple(s), dtype) for t, s in zip(ids, shapes)]

    def failure(self, problem: str, rule: str = "", shapes: Sequence[Shape] = (), dim: Optional[int] = None,
                v: Optional[_Value] = None, fix: str = "") -> TraceFailure:
        return self.builder.failure(problem, rule, shapes, dim=dim, tid=None if v is None else v.tid, fix=fix)

    def engine(self, x: _Value, spatial: Sequence[int], call: Callable[[], Any]) -> Any:
        return self.builder.engine(x.tid, spatial, call)

    def note_unknown(self, type_name: str, record: str) -> None:
        self.builder.note_unknown(type_name, record, what=type_name, unit="call",
                                  shape_source="Keras's compute_output_spec", kind="layer")

    # ----- graph walk ----------------------------------------------------------------------------
    def walk_graph(self, fn: Any, inputs: Sequence[_Value], depth: int, prefix: str) -> list[_Value]:
        """Run a Functional model's nodes in Keras's order (deepest first)."""
        values: dict[int, _Value] = {}
        for kt, v in zip(fn.inputs, inputs):
            values[id(kt)] = v
        by_depth = fn._nodes_by_depth
        for d in sorted(by_depth, reverse=True):
            for node in by_depth[d]:
                op = node.operation
                if op is None or node.is_input:
                    continue
                if any(id(x) not in values for x in node.input_tensors):
                    continue
                args, kwargs = node.arguments.fill_in(values)
                ins = [values[id(x)] for x in node.input_tensors]
                outs = self.call(op, tuple(args), dict(kwargs), ins, depth, prefix)
                for kt, v in zip(node.outputs, outs):
                    values[id(kt)] = v
        missing = [x for x in fn.outputs if id(x) not in values]
        if missing:
            raise GeometryError(f"model output {missing[0].name} is not connected to the inputs given",
                                fix="pass one input shape per model input")
        return [values[id(x)] for x in fn.outputs]

    def walk_sequential(self, model: Any, inputs: Sequence[_Value], depth: int, prefix: str) -> list[_Value]:
        xs = list(inputs)
        for layer in model.layers:
            if _keras_base(layer, ("InputLayer",)) is not None:
                continue
            arg: Any = xs[0] if len(xs) == 1 else list(xs)
            xs = self.call(layer, (arg,), {}, xs, depth, prefix)
        return xs

    def call(self, op: Any, args: tuple[Any, ...], kwargs: dict[str, Any], ins: list[_Value], depth: int,
             prefix: str) -> list[_Value]:
        kind = _container_kind(op)
        if kind is not None:
            first = len(self.builder.groups)
            inner = f"{prefix}{op.name}/"
            if kind == "sequential":
                nested = self.walk_sequential(op, ins, depth + 1, inner)
            else:
                nested = self.walk_graph(op, ins, depth + 1, inner)
            last = len(self.builder.groups) - 1
            if last >= first:
                self.builder.add_module(ModuleCall(
                    f"{prefix}{op.name}", type(op).__name__, depth, tuple(v.shape for v in ins),
                    tuple(v.shape for v in nested), first, last))
            return nested
        name = f"{prefix}{op.name}"
        group = self.builder.group(name, type(op).__name__, depth)
        self.builder.current = name
        is_layer = isinstance(op, self.keras.layers.Layer)
        if is_layer:
            self.check_input_spec(op, args, kwargs, ins)
        handler = _handler_for(op)
        outs: Optional[list[_Value]] = None
        if handler is not None:
            try:
                outs = handler(self, op, group, ins, args, kwargs)
            except (TraceFailure, GeometryError):
                raise
            except Exception:  # an unusual configuration the rule cannot read: ask Keras instead
                if self.builder.groups[group].kinds:
                    raise
                outs = None
        if outs is None:
            outs = _generic(self, op, group, ins, args, kwargs)
        if is_layer and id(op) not in self.counted:
            self.counted.add(id(op))
            try:
                count = int(op.count_params())
            except ValueError:  # never built
                count = 0
            self.builder.add_params(group, count)
        self.builder.set_boundary(group, list(dict.fromkeys([v.tid for v in ins])), [v.tid for v in outs])
        return outs

    def check_input_spec(self, layer: Any, args: tuple[Any, ...], kwargs: dict[str, Any], ins: list[_Value]) -> None:
        """``Layer.__call__``'s check of its first argument against ``layer.input_spec``."""
        spec = getattr(layer, "input_spec", None)
        if not spec:
            return
        try:
            check = importlib.import_module("keras.src.layers.input_spec").assert_input_compatibility
        except (ImportError, AttributeError):  # pragma: no cover - Keras moved it
            return
        first: Any = args[0] if args else (next(iter(kwargs.values())) if kwargs else None)
        if first is None:
            return
        try:
            check(spec, first, layer.name)
        except ValueError as exc:
            text = str(exc)
            dim = None
            m = re.search(r"expected axis (-?\d+)", text)
            if m and ins:
                rank = len(ins[0].shape)
                dim = int(m.group(1)) % rank if rank else None
            raise self.failure(first_line(text), "Keras InputSpec check in Layer.__call__",
                               [v.shape for v in ins], dim, ins[0] if ins else None) from exc


def _container_kind(op: Any) -> Optional[str]:
    """'sequential' / 'functional' for nested models that can be walked, else None."""
    if _keras_base(op, ("Sequential",)) is not None and getattr(op, "layers", None) is not None:
        return "sequential"
    if _keras_base(op, ("Functional",)) is not None and hasattr(op, "_nodes_by_depth"):
        return "functional"
    return None


# ================================================================================================
# known layers: shapes from the engine or from exact rules, nothing executed
def _conv_attrs(layer: Any, padding: str, fmt: str) -> dict[str, str]:
    attrs = {"padding": padding, "data_format": fmt}
    act = getattr(getattr(layer, "activation", None), "__name__", None)
    if act and act != "linear":
        attrs["activation"] = act
    return attrs


def _h_conv(tr: _Tracer, layer: Any, group: int, ins: list[_Value], args: tuple[Any, ...],
            kwargs: dict[str, Any]) -> list[_Value]:
    """Conv*D, DepthwiseConv*D (groups = C_in) and SeparableConv*D (depthwise + 1x1 pointwise)."""
    x = ins[0]
    nd = int(layer.rank)
    fmt, spatial, ch = _layout(layer, x, nd)
    cin = x.shape[ch]
    separable = _keras_base(layer, ("BaseSeparableConv",)) is not None
    depthwise = separable or _keras_base(layer, ("BaseDepthwiseConv",)) is not None
    kshape = _shape_of(layer.depthwise_kernel if separable else layer.kernel)  # (k..., C_in/groups, filters or mult)
    groups = cin if depthwise else int(getattr(layer, "groups", 1) or 1)
    cout = cin * kshape[-1] if depthwise else kshape[-1]
    if cin != kshape[-2] * (1 if depthwise else groups):
        what = "depthwise kernel" if depthwise else "kernel"
        want = kshape[-2] * (1 if depthwise else groups)
        raise tr.failure(f"the {what} {kshape} expects {want} input channels, got {cin}", shapes=[x.shape, kshape],
                         fix=f"feed {want} channels")
    padding = str(layer.padding).lower()
    sp = tuple(x.shape[d] for d in spatial)
    g = tr.engine(x, spatial, lambda: geo.conv(
        sp, _per_axis(layer.kernel_size, nd), _per_axis(layer.strides, nd), padding, _per_axis(layer.dilation_rate, nd),
        groups, framework="tensorflow", in_channels=cin, out_channels=cout))
    dtype = tr.out_dtype(layer, x)
    use_bias = bool(getattr(layer, "use_bias", False))
    attrs = _conv_attrs(layer, padding, fmt)
    if separable:
        attrs["separable"] = "depthwise+pointwise"
    t = tr.builder.conv(group, x.tid, g, spatial=spatial, channel=ch, out_channels=cout,
                        bias=use_bias and not separable, dtype=dtype, attrs=attrs)
    if separable:  # the 1x1 pointwise conv: (1..., C_in*multiplier, filters)
        t = tr.builder.conv(group, t, None, spatial=spatial, channel=ch, out_channels=_shape_of(layer.pointwise_kernel)[-1],
                            bias=use_bias, dtype=dtype)
    return [tr.value(t)]


def _h_conv_transpose(tr: _Tracer, layer: Any, group: int, ins: list[_Value], args: tuple[Any, ...],
                      kwargs: dict[str, Any]) -> list[_Value]:
    x = ins[0]
    nd = int(layer.rank)
    fmt, spatial, ch = _layout(layer, x, nd)
    kshape = _shape_of(layer.kernel)  # (k..., filters, C_in)
    cin = x.shape[ch]
    if cin != kshape[-1]:
        raise tr.failure(f"the kernel {kshape} expects {kshape[-1]} input channels, got {cin}",
                         shapes=[x.shape, kshape], fix=f"feed {kshape[-1]} channels")
    padding = str(layer.padding).lower()
    op = getattr(layer, "output_padding", None)
    sp = tuple(x.shape[d] for d in spatial)
    kernel, strides, dilation = _per_axis(layer.kernel_size, nd), _per_axis(layer.strides, nd), _per_axis(layer.dilation_rate, nd)
    out_pad = None if op is None else _per_axis(op, nd)
    try:
        g = geo.conv_transpose(sp, kernel, strides, padding, out_pad, dilation, framework="tensorflow")
    except GeometryError as exc:
        g = _transpose_off_tensorflow(tr, layer, x, spatial, sp, kernel, strides, dilation, padding, out_pad, exc)
    attrs = _conv_attrs(layer, padding, fmt)
    if out_pad is not None:
        attrs["output_padding"] = repr(out_pad)
    t = tr.builder.conv_transpose(group, x.tid, g, spatial=spatial, channel=ch, out_channels=kshape[-2],
                                  bias=bool(getattr(layer, "use_bias", False)), dtype=tr.out_dtype(layer, x),
                                  attrs=attrs)
    return [tr.value(t)]


def _transpose_off_tensorflow(tr: _Tracer, layer: Any, x: _Value, spatial: list[int], sp: tuple[int, ...],
                              kernel: tuple[int, ...], strides: tuple[int, ...], dilation: tuple[int, ...],
                              padding: str, out_pad: Optional[tuple[int, ...]], exc: GeometryError) -> Any:
    """A transposed conv the TensorFlow backend rejects (``Conv2DBackpropInput``: e.g. an even
    kernel with padding='same' and output_padding=0) still runs on Keras's other backends, which
    compute the same output size and convert it to PyTorch's ``(padding, output_padding)``
    (Keras's own conversion, ``backend_utils``); the engine then gives that geometry with
    ``framework="torch"``. On the TensorFlow backend, or if the conversion is unavailable, the
    trace fails like the model."""
    backend = str(tr.keras.backend.backend())
    convert: Optional[Callable[..., tuple[int, int]]] = None
    if backend != "tensorflow" and out_pad is not None:
        try:
            utils = importlib.import_module("keras.src.backend.common.backend_utils")
            convert = utils._convert_conv_transpose_padding_args_from_keras_to_torch
        except (ImportError, AttributeError):  # pragma: no cover - Keras moved it
            convert = None
    if convert is None or out_pad is None:
        raise tr.builder.engine_failure(x.tid, spatial, exc) from exc
    pads: list[int] = []
    extra: list[int] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for k, s, d, o in zip(kernel, strides, dilation, out_pad):
            p, q = convert(k, s, d, padding, o)
            pads.append(int(p))
            extra.append(int(q))
    g = tr.engine(x, spatial, lambda: geo.conv_transpose(sp, kernel, strides, tuple(pads), tuple(extra), dilation,
                                                         framework="torch"))
    labels = axis_labels(len(sp))
    where = ", ".join(f"{labels[i]}: {n} -> {o}" for i, (n, o) in enumerate(zip(sp, g.output)))
    tr.builder.add_finding(Finding(
        "keras-backend-differs", "warning", tr.current,
        f"{type(layer).__name__}(kernel_size={kernel}, strides={strides}, padding={padding!r}, "
        f"output_padding={out_pad}) maps {where} on the {backend} backend (Keras converts it to PyTorch "
        f"padding={tuple(pads)}, output_padding={tuple(extra)}); the TensorFlow backend rejects it: {exc.problem}",
        "leave output_padding unset (output = input * stride on every backend) or use an odd kernel, so that "
        "all Keras backends agree"))
    return g


def _h_pool(tr: _Tracer, layer: Any, group: int, ins: list[_Value], args: tuple[Any, ...],
            kwargs: dict[str, Any]) -> list[_Value]:
    x = ins[0]
    pool = tuple(int(v) for v in layer.pool_size)
    nd = len(pool)
    fmt, spatial, _ch = _layout(layer, x, nd)
    strides = pool if layer.strides is None else _per_axis(layer.strides, nd)
    padding = str(layer.padding).lower()
    sp = tuple(x.shape[d] for d in spatial)
    if str(getattr(layer, "pool_mode", "max")) == "max":
        g = tr.engine(x, spatial, lambda: geo.max_pool(sp, pool, strides, padding, framework="tensorflow"))
        kind = "max_pool"
    else:
        g = tr.engine(x, spatial, lambda: geo.avg_pool(sp, pool, strides, padding, framework="tensorflow"))
        kind = "avg_pool"
        _check_avg_same_on_torch(tr, g, padding)
    tids = tr.builder.pool(group, kind, x.tid, g, spatial=spatial, dtype=tr.out_dtype(layer, x),
                           attrs={"padding": padding, "data_format": fmt})
    return [tr.value(t) for t in tids]


def _check_avg_same_on_torch(tr: _Tracer, g: geo.LayerGeometry, padding: str) -> None:
    """Keras's torch backend pads an uneven 'same' average pool with replicated cells."""
    uneven = [i for i, ax in enumerate(g.axes) if ax.pad_before != ax.pad_after]
    if padding != "same" or not uneven or str(tr.keras.backend.backend()) != "torch":
        return
    labels = axis_labels(g.ndim)
    pads = ", ".join(f"{labels[i]}: ({g.axes[i].pad_before}, {g.axes[i].pad_after})" for i in uneven)
    tr.builder.add_finding(Finding(
        "keras-backend-differs", "warning", tr.current,
        f"AveragePooling 'same' pads unevenly here ({pads}); Keras's torch backend then pads with "
        "mode='replicate' and averages the replicated border cells, so edge outputs differ from the "
        "TensorFlow and JAX backends, which exclude the padding (same output size and windows)",
        "use padding='valid' (with explicit cropping/padding), or an input size for which the 'same' "
        "padding total ((out-1)*stride + pool - n) is even on every axis"))


def _h_global_pool(tr: _Tracer, layer: Any, group: int, ins: list[_Value], args: tuple[Any, ...],
                   kwargs: dict[str, Any]) -> list[_Value]:
    x = ins[0]
    fmt, spatial, _ch = _layout(layer, x)
    is_max = "Max" in type(layer).__name__ or _keras_base(
        layer, ("GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D")) is not None
    sp = tuple(x.shape[d] for d in spatial)
    call = geo.adaptive_max_pool if is_max else geo.adaptive_avg_pool
    g = tr.engine(x, spatial, lambda: call(sp, 1))
    tids = tr.builder.pool(group, "adaptive_max_pool" if is_max else "adaptive_avg_pool", x.tid, g, spatial=spatial,
                           keepdims=bool(getattr(layer, "keepdims", False)), dtype=tr.out_dtype(layer, x),
                           attrs={"global": "True", "data_format": fmt})
    return [tr.value(t) for t in tids]


def _h_adaptive_pool(tr: _Tracer, layer: Any, group: int, ins: list[_Value], args: tuple[Any, ...],
                     kwargs: dict[str, Any]) -> list[_Value]:
    x = ins[0]
    size = [int(v) for v in layer.output_size]
    fmt, spatial, _ch = _layout(layer, x, len(size))
    is_max = "Max" in type(layer).__name__
    sp = tuple(x.shape[d] for d in spatial)
    call = geo.adaptive_max_pool if is_max else geo.adaptive_avg_pool
    g = tr.engine(x, spatial, lambda: call(sp, size))
    tids = tr.builder.pool(group, "adaptive_max_pool" if is_max else "adaptive_avg_pool", x.tid, g, spatial=spatial,
                           dtype=tr.out_dtype(layer, x), attrs={"data_format": fmt})
    return [tr.value(t) for t in tids]


def _h_zero_padding(tr: _Tracer, layer: Any, group: int, ins: list[_Value], args: tuple[Any, ...],
                    kwargs: dict[str, Any]) -> list[_Value]:
    x = ins[0]
    fmt, spatial, _ch = _layout(layer, x)
    pads = dict(zip(spatial, _pairs(layer.padding, len(spatial))))
    t = tr.builder.pad(group, x.tid, pads, spatial=spatial, dtype=tr.out_dtype(layer, x),
                       attrs={"pad_mode": "constant", "data_format": fmt})
    return [tr.value(t)]


def _h_cropping(tr: _Tracer, layer: Any, group: int, ins: list[_Value], args: tuple[Any, ...],
                kwargs: dict[str, Any]) -> list[_Value]:
    x = ins[0]
    fmt, spatial, _ch = _layout(layer, x)
    crops = _pairs(layer.cropping, len(spatial))
    out = list(x.shape)
    for d, (b, a) in zip(spatial, crops):
        out[d] = x.shape[d] - b - a
        if out[d] <= 0:
            raise tr.failure(
                f"cropping ({b}, {a}) removes all {x.shape[d]} cells of dim {d}",
                "Keras Cropping: `cropping` parameter of `Cropping` layer must be smaller than the input size",
                [x.shape], d, x, f"crop at most {x.shape[d] - 1} cells in total")
    t = tr.builder.crop(group, x.tid, tuple(out), {d: (b, 1) for d, (b, _) in zip(spatial, crops)},
                        dtype=tr.out_dtype(layer, x), attrs={"cropping": repr(crops), "data_format": fmt})
    return [tr.value(t)]


def _resize(tr: _Tracer, layer: Any, group: int, x: _Value, spatial: list[int], sizes: Optional[tuple[int, ...]],
            scales: Optional[tuple[float, ...]], mode: str, exact: bool, attrs: dict[str, str]) -> list[_Value]:
    """A Keras resize; lanczos kernels count as cubic ones for the receptive field."""
    sp = tuple(x.shape[d] for d in spatial)
    engine_mode = mode if mode in ("nearest", "bilinear", "bicubic", "linear", "trilinear", "area") else "nearest"
    g = tr.engine(x, spatial, lambda: geo.interpolate(sp, sizes, scales, engine_mode))
    t = tr.builder.resize(group, x.tid, g, spatial=spatial, mode={"lanczos3": "cubic", "lanczos5": "cubic"}.get(mode, mode),
                          scales=scales if mode == "nearest" else None, exact=exact, dtype=tr.out_dtype(layer, x),
                          attrs=dict(attrs, mode=mode))
    return [tr.value(t)]


def _h_upsampling(tr: _Tracer, layer: Any, group: int, ins: list[_Value], args: tuple[Any, ...],
                  kwargs: dict[str, Any]) -> list[_Value]:
    x = ins[0]
    fmt, spatial, _ch = _layout(layer, x)
    size = _per_axis(layer.size, len(spatial))
    mode = str(getattr(layer, "interpolation", "nearest")).lower()
    return _resize(tr, layer, group, x, spatial, None, tuple(float(s) for s in size), mode,
                   mode in ("nearest", "bilinear", "bicubic"), {"data_format": fmt, "size": repr(size)})


def _h_resizing(tr: _Tracer, layer: Any, group: int, ins: list[_Value], args: tuple[Any, ...],
                kwargs: dict[str, Any]) -> Optional[list[_Value]]:
    if getattr(layer, "crop_to_aspect_ratio", False) or getattr(layer, "pad_to_aspect_ratio", False):
        return None
    x = ins[0]
    fmt = getattr(layer, "data_format", "channels_last")
    rank = len(x.shape)
    spatial = [rank - 2, rank - 1] if fmt == "channels_first" else [rank - 3, rank - 2]
    mode = str(layer.interpolation).lower()
    antialias = bool(getattr(layer, "antialias", False))
    sizes = (int(layer.height), int(layer.width))
    exact = mode in ("nearest", "bilinear", "bicubic", "area") and not (
        antialias and any(o < x.shape[d] for d, o in zip(spatial, sizes)))
    return _resize(tr, layer, group, x, spatial, sizes, None, mode, exact, {"data_format": fmt})


def _h_dense(tr: _Tracer, layer: Any, group: int, ins: list[_Value], args: tuple[Any, ...],
             kwargs: dict[str, Any]) -> list[_Value]:
    x = ins[0]
    kshape = _shape_of(layer.kernel)
    if x.shape[-1] != kshape[0]:
        raise tr.failure(f"Dense expects {kshape[0]} input features on the last axis, got {x.shape[-1]} "
                         f"(input {x.shape})", shapes=[x.shape, kshape], dim=len(x.shape) - 1, v=x,
                         fix=f"the layer was built for {kshape[0]} features")
    t = tr.builder.linear(group, x.tid, kshape[-1], bias=bool(getattr(layer, "use_bias", False)),
                          dtype=tr.out_dtype(layer, x))
    return [tr.value(t)]


def _axes(value: Any, rank: int) -> list[int]:
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    return [int(a) % rank for a in items]


_NORMS = {"BatchNormalization": "batch_norm", "LayerNormalization": "layer_norm", "GroupNormalization": "group_norm",
          "UnitNormalization": "norm", "RMSNormalization": "layer_norm"}


def _h_norm(tr: _Tracer, layer: Any, group: int, ins: list[_Value], args: tuple[Any, ...],
            kwargs: dict[str, Any]) -> list[_Value]:
    x = ins[0]
    base = _keras_base(layer, tuple(_NORMS)) or "BatchNormalization"
    rank = len(x.shape)
    rf = tr.rf(x)
    context = False
    if base == "GroupNormalization":
        axis = int(layer.axis) % rank
        groups = int(layer.groups)
        if groups > 0 and x.shape[axis] % groups:
            raise tr.failure(f"{x.shape[axis]} channels are not divisible by groups={groups}", shapes=[x.shape])
        context = math.prod(s for i, s in enumerate(x.shape) if i not in (0, axis)) > 1
    elif base in ("LayerNormalization", "UnitNormalization", "RMSNormalization"):
        normed = set(_axes(getattr(layer, "axis", -1), rank))
        context = rf is not None and any(d in normed and x.shape[d] > 1 for d in rf.dims if d is not None)
    return [tr.value(tr.builder.same(group, _NORMS[base], x.tid, dtype=tr.out_dtype(layer, x), context=context))]


_ACTIVATIONS = ("Activation", "ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax")


def _h_activation(tr: _Tracer, layer: Any, group: int, ins: list[_Value], args: tuple[Any, ...],
                  kwargs: dict[str, Any]) -> list[_Value]:
    x = ins[0]
    rank = len(x.shape)
    base = _keras_base(layer, _ACTIVATIONS) or ""
    name = base
    softmax_axes: list[int] = []
    if base == "Activation":
        name = str(getattr(layer.activation, "__name__", "activation"))
        if name in ("softmax", "log_softmax"):
            softmax_axes = [rank - 1]
    elif base == "Softmax":
        softmax_axes = _axes(getattr(layer, "axis", -1), rank)
    out_rf = tr.rf(x)
    for a in softmax_axes:
        out_rf = None if out_rf is None else rfm.along(out_rf, a)
    return tr.emit(group, "softmax" if softmax_axes else "activation", [x], [x.shape], tr.out_dtype(layer, x),
                   [out_rf], attrs={"activation": name})


_DROPOUTS = ("Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise",
             "GaussianDropout", "AlphaDropout", "ActivityRegularization", "Identity")


def _h_dropout(tr: _Tracer, layer: Any, group: int, ins: list[_Value], args: tuple[Any, ...],
               kwargs: dict[str, Any]) -> list[_Value]:
    """Inference: the layer returns its input (no new tensor: the output shares its storage)."""
    x = ins[0]
    base = _keras_base(layer, _DROPOUTS) or ""
    kind = "identity" if base in ("Identity", "ActivityRegularization") else "dropout"
    return [tr.value(tr.builder.same(group, kind, x.tid, view=True))]


def _listed(args: tuple[Any, ...], ins: list[_Value]) -> list[_Value]:
    first = args[0] if args else None
    if isinstance(first, (list, tuple)) and all(isinstance(v, _Value) for v in first):
        return list(first)
    return list(ins)


_MERGES = {"Add": "add", "Subtract": "sub", "Multiply": "mul", "Average": "add", "Maximum": "elementwise",
           "Minimum": "elementwise"}


def _h_merge(tr: _Tracer, layer: Any, group: int, ins: list[_Value], args: tuple[Any, ...],
             kwargs: dict[str, Any]) -> list[_Value]:
    parts = _listed(args, ins)
    base = _keras_base(layer, tuple(_MERGES)) or "Add"
    shapes = [v.shape for v in parts]
    if len({s[0] for s in shapes if s}) > 1:
        raise tr.failure(f"cannot merge tensors with different batch sizes: {shapes}",
                         "Keras Merge: Cannot merge tensors with different batch sizes", shapes)
    out = bld.broadcast(*shapes)
    if out is None:
        conflicts = [(c, len(s)) for s in shapes[1:] for c in [bld.broadcast_conflict(shapes[0], s)] if c]
        bad_dim = None
        if conflicts:
            (dim, _, _), rank = conflicts[0]
            bad_dim = dim - (max(len(shapes[0]), rank) - len(shapes[0]))
        raise tr.failure(f"{base} got inputs with incompatible shapes {shapes}",
                         "Keras Merge: Inputs have incompatible shapes", shapes, bad_dim, parts[0])
    tids = tr.builder.merge(group, _MERGES[base], [v.tid for v in parts], out, dtype=tr.out_dtype(layer, parts[0]))
    return [tr.value(t) for t in tids]


def _h_concatenate(tr: _Tracer, layer: Any, group: int, ins: list[_Value], args: tuple[Any, ...],
                   kwargs: dict[str, Any]) -> list[_Value]:
    parts = _listed(args, ins)
    shapes = [v.shape for v in parts]
    rank = len(shapes[0])
    axis = int(getattr(layer, "axis", -1)) % rank
    if any(len(s) != rank for s in shapes):
        raise tr.failure(f"Concatenate needs inputs of equal rank, got {shapes}", shapes=shapes)
    conflict = bld.concat_conflict(shapes, axis)
    if conflict is not None:
        i, d = conflict
        raise tr.failure(
            f"A `Concatenate` layer requires inputs with matching shapes except for the concatenation "
            f"axis. Received: input_shape={shapes} (input {i} differs on dim {d}: {shapes[i][d]} vs {shapes[0][d]})",
            "Keras Concatenate.build", [shapes[0], shapes[i]], d, parts[0])
    t = tr.builder.concat(group, [v.tid for v in parts], bld.concat_shape(shapes, axis), axis,
                          dtype=tr.out_dtype(layer, parts[0]))
    return [tr.value(t)]


def _h_flatten(tr: _Tracer, layer: Any, group: int, ins: list[_Value], args: tuple[Any, ...],
               kwargs: dict[str, Any]) -> list[_Value]:
    x = ins[0]
    rank = len(x.shape)
    if getattr(layer, "data_format", "channels_last") == "channels_first" and rank > 2:
        perm = [0, *range(2, rank), 1]  # Keras switches to channels-last first (a copy)
        rf = tr.rf(x)
        rf = None if rf is None else rfm.permute(rf, perm)
        shape = tuple(x.shape[p] for p in perm)
        out = (shape[0], math.prod(shape[1:]))
        return tr.emit(group, "reshape", [x], [out], x.dtype, [None if rf is None else rfm.reshape(rf, shape, out)])
    out = (x.shape[0], math.prod(x.shape[1:])) if rank > 1 else (x.shape[0], 1)
    return [tr.value(tr.builder.reshape(group, x.tid, out))]


def _h_reshape(tr: _Tracer, layer: Any, group: int, ins: list[_Value], args: tuple[Any, ...],
               kwargs: dict[str, Any]) -> list[_Value]:
    x = ins[0]
    target = [int(v) for v in layer.target_shape]
    total = math.prod(x.shape[1:])
    if target.count(-1) > 1:
        raise tr.failure(f"Reshape target {tuple(target)} has more than one -1", shapes=[x.shape])
    known = math.prod(v for v in target if v != -1)
    if -1 in target and known and not total % known:
        target = [total // known if v == -1 else v for v in target]
    if math.prod(target) != total:
        raise tr.failure(f"cannot reshape {x.shape} to (batch, {tuple(target)}): {total} elements per sample",
                         "Keras Reshape: total size of the new array must be unchanged", [x.shape])
    return [tr.value(tr.builder.reshape(group, x.tid, (x.shape[0], *target)))]


def _h_permute(tr: _Tracer, layer: Any, group: int, ins: list[_Value], args: tuple[Any, ...],
               kwargs: dict[str, Any]) -> list[_Value]:
    return [tr.value(tr.builder.permute(group, ins[0].tid, [0, *(int(d) for d in layer.dims)]))]


def _h_repeat_vector(tr: _Tracer, layer: Any, group: int, ins: list[_Value], args: tuple[Any, ...],
                     kwargs: dict[str, Any]) -> list[_Value]:
    x = ins[0]
    out = (x.shape[0], int(layer.n), *x.shape[1:])
    rf = tr.rf(x)
    out_rf = None if rf is None else rfm.remap(rf, lambda d: d if d == 0 else d + 1)
    return tr.emit(group, "expand", [x], [out], x.dtype, [out_rf])


def _h_rescaling(tr: _Tracer, layer: Any, group: int, ins: list[_Value], args: tuple[Any, ...],
                 kwargs: dict[str, Any]) -> list[_Value]:
    x = ins[0]
    return [tr.value(tr.builder.same(group, "elementwise", x.tid, dtype=tr.out_dtype(layer, x)))]


_LAYER_HANDLERS: dict[str, Handler] = {
    "BaseSeparableConv": _h_conv,
    "BaseDepthwiseConv": _h_conv,
    "BaseConvTranspose": _h_conv_transpose,
    "BaseConv": _h_conv,
    "BasePooling": _h_pool,
    "BaseGlobalPooling": _h_global_pool,
    "BaseAdaptivePooling": _h_adaptive_pool,
    "ZeroPadding1D": _h_zero_padding, "ZeroPadding2D": _h_zero_padding, "ZeroPadding3D": _h_zero_padding,
    "Cropping1D": _h_cropping, "Cropping2D": _h_cropping, "Cropping3D": _h_cropping,
    "UpSampling1D": _h_upsampling, "UpSampling2D": _h_upsampling, "UpSampling3D": _h_upsampling,
    "Resizing": _h_resizing,
    "Dense": _h_dense,
    "Concatenate": _h_concatenate,
    "Flatten": _h_flatten,
    "Reshape": _h_reshape,
    "Permute": _h_permute,
    "RepeatVector": _h_repeat_vector,
    "Rescaling": _h_rescaling,
    "Normalization": _h_rescaling,
}
for _n in _NORMS:
    _LAYER_HANDLERS[_n] = _h_norm
for _n in _ACTIVATIONS:
    _LAYER_HANDLERS[_n] = _h_activation
for _n in _DROPOUTS:
    _LAYER_HANDLERS[_n] = _h_dropout
for _n in _MERGES:
    _LAYER_HANDLERS[_n] = _h_merge


def _handler_for(op: Any) -> Optional[Handler]:
    base = _keras_base(op, tuple(_LAYER_HANDLERS))
    return None if base is None else _LAYER_HANDLERS[base]


# ================================================================================================
# everything else: Keras's own symbolic output, receptive field by shape
_OP_KINDS = {
    "Add": "add", "Subtract": "sub", "Multiply": "mul", "Divide": "div", "TrueDivide": "div",
    "Maximum": "elementwise", "Minimum": "elementwise", "Power": "elementwise", "Where": "elementwise",
    "Relu": "activation", "Relu6": "activation", "Sigmoid": "activation", "Tanh": "activation",
    "Silu": "activation", "Swish": "activation", "Gelu": "activation", "Softplus": "activation",
    "Softsign": "activation", "HardSigmoid": "activation", "HardSilu": "activation", "HardSwish": "activation",
    "LeakyRelu": "activation", "Elu": "activation", "Selu": "activation", "Celu": "activation", "Mish": "activation",
    "Exp": "elementwise", "Log": "elementwise", "Sqrt": "elementwise", "Rsqrt": "elementwise", "Abs": "elementwise",
    "Negative": "elementwise", "Square": "elementwise", "Clip": "elementwise", "Cast": "elementwise",
    "Absolute": "elementwise", "Reciprocal": "elementwise", "Sign": "elementwise",
}
_OP_RESHAPES = ("Reshape", "ExpandDims", "Squeeze", "Flatten")


def _to_keras(keras: Any, value: Any) -> Any:
    if isinstance(value, _Value):
        return keras.KerasTensor(value.shape, dtype=value.dtype)
    if isinstance(value, list):
        return [_to_keras(keras, v) for v in value]
    if isinstance(value, tuple):
        return tuple(_to_keras(keras, v) for v in value)
    if isinstance(value, dict):
        return {k: _to_keras(keras, v) for k, v in value.items()}
    return value


def _generic(tr: _Tracer, op: Any, group: int, ins: list[_Value], args: tuple[Any, ...],
             kwargs: dict[str, Any]) -> list[_Value]:
    """Any other layer or op: Keras's symbolic output; known element-wise ops, reshapes,
    transposes and concatenations keep exact receptive fields, the rest pass them by shape."""
    specs = _output_specs(tr, op, ins, args, kwargs)
    cname = type(op).__name__
    rule = _generic_rule(tr, op, ins, [s for s, _ in specs])
    in_ids = list(dict.fromkeys(v.tid for v in ins))
    if rule is None:
        tr.note_unknown(cname, tr.current)
        ids = tr.builder.by_shape(group, "unknown", in_ids, specs) if specs else []
    else:
        kind, rfs, issues = rule
        ids = tr.builder.op(group, kind, in_ids, specs, rfs, issues=issues)
    return [_Value(t, s, d) for t, (s, d) in zip(ids, specs)]


def _output_specs(tr: _Tracer, op: Any, ins: list[_Value], args: tuple[Any, ...],
                  kwargs: dict[str, Any]) -> list[tuple[Shape, str]]:
    """``(shape, dtype)`` of each output from ``op.compute_output_spec`` (no values). Keras says
    incompatible shapes with a ValueError (the real call fails the same way); anything else is
    the layer's own code failing."""
    keras = tr.keras
    kargs = [_to_keras(keras, a) for a in args]
    kkwargs = {k: _to_keras(keras, v) for k, v in kwargs.items()}
    try:
        spec = op.compute_output_spec(*kargs, **kkwargs)
    except ValueError as exc:
        raise tr.failure(f"{type(op).__name__} failed: {first_line(exc) or 'ValueError'}", "Keras compute_output_spec",
                         [v.shape for v in ins]) from exc
    except Exception as exc:
        raise UserCodeError(f"layer {tr.current} ({type(op).__name__})", exc) from exc
    out = []
    for s in leaves(spec, lambda v: v is not None and hasattr(v, "shape")):
        dims = tuple(s.shape)
        if any(d is None for d in dims):
            raise GeometryError(
                f"layer {tr.current} ({type(op).__name__}) has a data-dependent output shape {dims}",
                fix="convgeom needs static shapes; trace a model without this layer")
        name = _dtype_name(s.dtype)
        out.append((tuple(int(d) for d in dims), tr.dtype if tr.dtype is not None and _is_float(name) else name))
    return out


def _generic_rule(tr: _Tracer, op: Any, ins: list[_Value], shapes: list[Shape]
                  ) -> Optional[tuple[str, list[Optional[TensorRF]], list[rfm.MergeIssue]]]:
    """``(kind, receptive fields, merge issues)`` of a ``keras.ops`` operation convgeom knows by
    name; None for the rest."""
    cname = type(op).__name__
    if not ins or len(shapes) != 1:
        return None
    kind = _OP_KINDS.get(cname)
    if kind is not None and all(bld.broadcast(v.shape, shapes[0]) == shapes[0] for v in ins):
        merged, issues = rfm.merge([(tr.rf(v), v.shape) for v in ins], shapes[0])
        return kind, [merged], issues
    rf = tr.rf(ins[0])
    if cname in _OP_RESHAPES:
        return "reshape", [None if rf is None else rfm.reshape(rf, ins[0].shape, shapes[0])], []
    if cname == "Transpose" and getattr(op, "axes", None) is not None:
        perm = [int(a) % len(ins[0].shape) for a in op.axes]
        return "permute", [None if rf is None else rfm.permute(rf, perm)], []
    if cname == "Concatenate" and not isinstance(op, tr.keras.layers.Layer):
        merged, issues = rfm.concat([(tr.rf(v), v.shape) for v in ins], shapes[0],
                                    int(getattr(op, "axis", 0) or 0) % len(shapes[0]))
        return "cat", [merged], issues
    return None


# ================================================================================================
def _iter_layers(model: Any) -> list[Any]:
    out: list[Any] = []
    for layer in getattr(model, "layers", []) or []:
        if _container_kind(layer) is not None:
            out.extend(_iter_layers(layer))
        else:
            out.append(layer)
    return out


def _data_format(keras: Any, model: Any) -> str:
    """The layout of the first windowed layer (else Keras's ``image_data_format()``)."""
    for layer in _iter_layers(model) if _container_kind(model) else [model]:
        fmt = getattr(layer, "data_format", None)
        if fmt in ("channels_last", "channels_first") and _handler_for(layer) is not None:
            return str(fmt)
    return str(keras.config.image_data_format())


def _spatial(shape: Shape, data_format: str) -> list[int]:
    n = len(shape)
    if n < 3:
        return []
    return list(range(2, n)) if data_format == "channels_first" else list(range(1, n - 1))


def _declared(model: Any) -> Optional[list[tuple[tuple[Optional[int], ...], str]]]:
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        return None
    if not inputs:
        return None
    return [(tuple(None if d is None else int(d) for d in kt.shape), _dtype_name(kt.dtype)) for kt in inputs]


def _ensure_built(keras: Any, model: Any, shapes: list[Shape]) -> Any:
    """An unbuilt Sequential is cloned and built for ``shapes`` (the user's model is untouched)."""
    if getattr(model, "built", True) or _container_kind(model) != "sequential" or not shapes:
        return model
    clone = keras.models.clone_model(model)
    clone.build((None, *shapes[0][1:]))
    return clone


def trace_keras(model: Any, input_shapes: Sequence[Shape], *, dtype: Optional[str] = None) -> Trace:
    """Trace a Keras 3 model (Sequential, functional, nested, or a single layer) for
    ``input_shapes`` (channels-last unless the model's layers say otherwise, batch included).
    Raises :class:`TraceFailure` where the real model would fail."""
    keras = import_keras(_FEATURE)
    if not isinstance(model, keras.layers.Layer):
        raise GeometryTypeError(f"expected a Keras 3 model or layer, got {type(model).__name__}: pass a keras.Model "
                        "(or a .keras file)")
    shapes = [tuple(shape) for shape in input_shapes]
    model = _ensure_built(keras, model, shapes)
    data_format = _data_format(keras, model)
    declared = _declared(model)
    findings = _check_declared(model, declared, shapes, data_format)
    tracer = _Tracer(keras, len(_spatial(shapes[0], data_format)), dtype)
    kinds = [tracer.dtype or (declared[i][1] if declared is not None else "float32") for i in range(len(shapes))]
    tids = tracer.builder.add_inputs(shapes, kinds, lambda shape: _spatial(shape, data_format))
    values = [_Value(t, shape, dt) for t, shape, dt in zip(tids, shapes, kinds)]
    kind = _container_kind(model)
    if kind == "functional":
        outs = tracer.walk_graph(model, values, 1, "")
    elif kind == "sequential":
        outs = tracer.walk_sequential(model, values, 1, "")
    else:
        outs = tracer.call(model, (values[0] if len(values) == 1 else list(values),), {}, values, 1, "")
    for f in findings:
        tracer.builder.add_finding(f)
    try:
        params = int(model.count_params())
    except ValueError:
        params = sum(g.params for g in tracer.builder.groups)
    weights = list(getattr(model, "weights", []) or [])
    trainable = list(getattr(model, "trainable_weights", []) or [])
    return tracer.builder.finish(
        model=str(getattr(model, "name", type(model).__name__)), outputs=[v.tid for v in outs], params=params,
        trainable_params=sum(math.prod(_shape_of(w)) for w in trainable),
        param_bytes=sum(math.prod(_shape_of(w)) * dtypes.itemsize(_dtype_name(w.dtype)) for w in weights))


def _check_declared(model: Any, declared: Optional[list[tuple[tuple[Optional[int], ...], str]]],
                    shapes: list[Shape], data_format: str) -> list[Finding]:
    """The shapes against the model's declared inputs: a wrong count or rank fails (the model
    object refuses it); other sizes than the declared ones give a ``static-input-shape`` warning
    (its layers accept them)."""
    if declared is None:
        return []
    if len(declared) != len(shapes):
        raise GeometryError(f"the model has {len(declared)} inputs, {len(shapes)} shapes given",
                            fix="pass one input shape per model input")
    findings = []
    for i, ((dims, _dt), shape) in enumerate(zip(declared, shapes)):
        if len(dims) != len(shape):
            raise TraceFailure(model.name, f"input {i} has rank {len(shape)} {shape}, the model expects "
                                           f"rank {len(dims)} {dims}", shapes=[shape])
        if any(d is not None and d != s for d, s in zip(dims[1:], shape[1:])):
            free = _spatial(shape, data_format)
            wanted = ", ".join("None" if j in free else str(shape[j]) for j in range(1, len(shape)))
            findings.append(Finding(
                "static-input-shape", "warning", "",
                f"model input {i} is declared with shape {dims}; traced at {shape}. This model object "
                "would reject the input (Functional input_spec), but its layers accept it",
                f"rebuild the model with keras.Input(shape=({wanted},)) to accept any size"))
    return findings


def declared_shapes(model: Any) -> list[Shape]:
    """The input shapes the model declares (batch None -> 1)."""
    declared = _declared(model)
    if declared is None:
        raise GeometryError("this Keras model has no declared input shape", fix="pass input_shape=(1, 224, 224, 3)")
    shapes = []
    for i, (dims, _dt) in enumerate(declared):
        if any(d is None for d in dims[1:]):
            raise GeometryError(f"model input {i} has dynamic sizes {dims}",
                                fix="pass input_shape with every size, e.g. (1, 224, 224, 3)")
        shapes.append(tuple(1 if d is None else d for d in dims))
    return shapes


def _run(model: Any, shapes: list[Shape], dtype: Optional[str]) -> Trace:
    return trace_keras(model, shapes, dtype=dtype)


def spatial_dims(model: Any, shape: Shape) -> tuple[int, ...]:
    """Channels-last ``(N, *spatial, C)`` unless the model's layers are channels-first."""
    return tuple(_spatial(tuple(shape), _data_format(import_keras(_FEATURE), model)))


def load(path: str) -> Any:
    """Read a ``.keras`` (or legacy ``.h5``) file with ``keras.saving.load_model`` (no compile);
    a file Keras cannot read is one line."""
    keras = import_keras(_FEATURE)
    if not os.path.exists(path):
        raise GeometryError(f"no such file {path!r}", fix="check the path")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return keras.saving.load_model(path, compile=False)
    except Exception as exc:
        raise GeometryError(f"cannot read Keras file {path!r}: {type(exc).__name__}: {first_line(exc, 200)}",
                            fix="check that the file is a Keras 3 model saved with model.save()") from exc


FRONTEND = Frontend(name="keras", run=_run, spatial_dims=spatial_dims, declared_shapes=declared_shapes, load=load)

__all__ = ["FRONTEND", "trace_keras"]
