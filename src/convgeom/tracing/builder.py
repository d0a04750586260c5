"""The conventions of a trace, stated once: a frontend translates each op of its framework into
one call here, and :class:`TraceBuilder` derives the output shape, the MACs, the bias adds and the
receptive field, and records the op in the :class:`~convgeom.tracing.graph.Graph`.

* **MACs**: one multiply-accumulate = 1 MAC, counted for convolutions
  (``N * C_out * prod(out) * C_in/groups * prod(k)``), transposed convolutions
  (``N * C_in * prod(in) * C_out/groups * prod(k)``), linear layers and matrix products
  (``prod(out) * inner``). Bias additions are counted separately (``bias_adds``, one per output
  element); element-wise ops, normalisation, activations and pooling count 0 MACs. **FLOPs = 2 x
  MACs** (bias adds excluded). torchinfo's "mult-adds" for a ``Conv*`` module equal
  ``macs + bias_adds`` here. ``N`` is the product of every dim that is neither spatial nor the
  channel dim.
* **Receptive fields** (:mod:`convgeom.tracing.rf`): a windowed op applies the engine's
  ``rf_steps`` on its spatial dims; a convolution mixes its channel dim unless every output
  channel reads one input channel (``groups == C_in``); linear layers and matrix products
  contract a dim; merges check the branches' alignment; an op known only by its shapes passes
  the field through by shape, inexactly.
* **Activation dtypes and bytes**: :mod:`convgeom.tracing.dtypes`; memory: :mod:`convgeom.tracing.graph`.
* **Failures**: where the real model would fail, :meth:`TraceBuilder.failure` names the record
  being traced (:attr:`TraceBuilder.current`) and the model-input axis held in the failing dim.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any, Optional, TypeVar

from .. import geometry as geo
from ..errors import GeometryError
from ..geometry import AdaptivePoolGeometry, LayerGeometry, ResizeGeometry
from ..receptive_field import RFStep
from . import rf as rfm
from .failures import TraceFailure
from .graph import Graph
from .rf import Shape, TensorRF

G = TypeVar("G")


# ================================================================================================
# shape and MAC rules (pure)
def broadcast(*shapes: Shape) -> Optional[Shape]:
    """NumPy broadcasting of ``shapes`` (aligned from the right), ``None`` if they do not broadcast."""
    n = max((len(s) for s in shapes), default=0)
    out = [1] * n
    for s in shapes:
        for i, v in enumerate((1,) * (n - len(s)) + tuple(s)):
            if v != out[i] and v != 1:
                if out[i] != 1:
                    return None
                out[i] = v
    return tuple(out)


def broadcast_conflict(a: Shape, b: Shape) -> Optional[tuple[int, int, int]]:
    """``(dim, size in a, size in b)`` of the last dim (counted in the longer shape) where ``a``
    and ``b`` do not broadcast; None if they do."""
    n = max(len(a), len(b))
    pa, pb = (1,) * (n - len(a)) + tuple(a), (1,) * (n - len(b)) + tuple(b)
    bad = [i for i in range(n) if pa[i] != pb[i] and 1 not in (pa[i], pb[i])]
    return None if not bad else (bad[-1], pa[bad[-1]], pb[bad[-1]])


def concat_conflict(shapes: Sequence[Shape], axis: int) -> Optional[tuple[int, int]]:
    """``(input index, dim)`` of the first input whose size differs from input 0's off ``axis``
    (ranks equal); None if they concatenate."""
    for i, s in enumerate(shapes[1:], 1):
        for k in range(len(s)):
            if k != axis and s[k] != shapes[0][k]:
                return i, k
    return None


def concat_shape(shapes: Sequence[Shape], axis: int) -> Shape:
    """The shape of ``shapes`` joined along ``axis``."""
    return tuple(sum(s[axis] for s in shapes) if k == axis else d for k, d in enumerate(shapes[0]))


def batch_size(shape: Shape, spatial: Sequence[int], channel: int) -> int:
    """Product of the dims that are neither spatial nor the channel dim (batch, unbatched: 1)."""
    return math.prod(s for i, s in enumerate(shape) if i not in spatial and i != channel)


def matmul_macs(out_shape: Shape, inner: int) -> int:
    """A matrix product: every output element is ``inner`` multiply-adds."""
    return math.prod(out_shape) * inner


def attention_macs(q: Shape, k: Shape, v: Shape) -> int:
    """Scaled dot-product attention: ``Q K^T`` and ``softmax(.) V``."""
    return math.prod(q[:-1]) * k[-2] * (q[-1] + v[-1])


def product_rf(operands: Sequence[tuple[Optional[TensorRF], Shape, int]], out_rank: int) -> Optional[TensorRF]:
    """The operands (receptive field, shape, contracted dim) of a matrix product joined: the
    contracted dim's axis is mixed away, the rest move right-aligned to the output."""
    merged: Optional[TensorRF] = None
    for rf, shape, contracted in operands:
        if rf is not None:
            merged = rfm.join(merged, rfm.shift(rfm.drop(rf, contracted), out_rank - len(shape), out_rank))
    return merged


def einsum(equation: str, shapes: Sequence[Shape], rfs: Sequence[Optional[TensorRF]]
           ) -> tuple[Optional[Shape], Optional[TensorRF], int]:
    """``(output shape, receptive field, MACs)`` of an einsum: one multiply-add per point of
    the product space of all letters (two operands or more); an output letter keeps the axis of
    the operand dim it labels, contracted letters mix theirs away. With ``...`` or an implicit
    output the shape is None and the field is whole (inexact)."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    sizes: dict[str, int] = {}
    for term, shape in zip(terms, shapes):
        if "." not in term:
            for letter, s in zip(term, shape):
                sizes[letter] = max(sizes.get(letter, 1), int(s))
    merged: Optional[TensorRF] = None
    for term, rf in zip(terms, rfs):
        if rf is None:
            continue
        if "." in term or "." in rhs or not rhs:
            moved = rfm.inexact(rfm.whole(rf))
        else:
            moved = rfm.relabel(rf, {i: (rhs.index(c) if c in rhs else None) for i, c in enumerate(term)})
        merged = rfm.join(merged, moved)
    known = arrow and "." not in eq and all(c in sizes for c in rhs)
    out = tuple(sizes[c] for c in rhs) if known else None
    return out, merged, math.prod(sizes.values()) if len(shapes) >= 2 else 0


def with_sizes(shape: Shape, dims: Sequence[int], sizes: Sequence[int]) -> list[int]:
    """``shape`` with ``dims[i]`` set to ``sizes[i]``."""
    out = list(shape)
    for d, s in zip(dims, sizes):
        out[d] = s
    return out


# ================================================================================================
class TraceBuilder(Graph):
    """A :class:`Graph` that knows the conventions: one method per kind of op."""

    def __init__(self, framework: str, spatial_ndim: int) -> None:
        super().__init__(framework, spatial_ndim)
        #: the record being traced: failures name it
        self.current = ""
        self._geometry: dict[tuple[Any, ...], Any] = {}

    def add_inputs(self, shapes: Sequence[Shape], dtypes: Sequence[str],
                   spatial_of: Callable[[Shape], Sequence[int]]) -> list[int]:
        """The model inputs; those with as many spatial dims as the model has axes start the
        receptive field (``r = 1, S = 1, P = 0``), the others do not carry one."""
        tids = []
        for shape, dtype in zip(shapes, dtypes):
            dims = list(spatial_of(shape))
            rf = rfm.identity(self.spatial_ndim, dims) if len(dims) == self.spatial_ndim else None
            tids.append(self.add_input(shape, dtype, rf))
        return tids

    # ----- failures ------------------------------------------------------------------------------
    def failure(self, problem: str, rule: str = "", shapes: Sequence[Shape] = (), *, dim: Optional[int] = None,
                tid: Optional[int] = None, fix: str = "") -> TraceFailure:
        """The real model fails at the current record; ``dim`` of tensor ``tid`` is at fault
        (its model-input axis is looked up in the tensor's receptive field)."""
        rf = None if tid is None else self.rf(tid)
        axis = rf.dims.index(dim) if dim is not None and rf is not None and dim in rf.dims else None
        return TraceFailure(self.current, problem, rule, shapes, axis, fix)

    def engine(self, tid: int, spatial: Sequence[int], call: Callable[[], G],
               key: Optional[tuple[Any, ...]] = None) -> G:
        """Run a geometry-engine call for tensor ``tid`` (memoised on ``key``: repeated blocks
        share geometry); a :class:`GeometryError` on spatial axis ``a`` becomes a failure of
        dim ``spatial[a]``."""
        if key is not None and key in self._geometry:
            return self._geometry[key]  # type: ignore[no-any-return]
        try:
            result = call()
        except GeometryError as exc:
            raise self.engine_failure(tid, spatial, exc) from exc
        if key is not None:
            self._geometry[key] = result
        return result

    def engine_failure(self, tid: int, spatial: Sequence[int], exc: GeometryError) -> TraceFailure:
        """The engine refused tensor ``tid``'s op: a failure of dim ``spatial[exc.axis]``."""
        dim = spatial[exc.axis] if exc.axis is not None and exc.axis < len(spatial) else None
        return self.failure(exc.problem, exc.rule, [self.shape(tid)], dim=dim, tid=tid, fix=exc.fix)

    # ----- windowed ops --------------------------------------------------------------------------
    def conv(self, group: int, x: int, g: Optional[LayerGeometry], *, spatial: Sequence[int], channel: int,
             out_channels: int, bias: bool, dtype: Optional[str] = None, params: int = 0,
             attrs: Optional[dict[str, str]] = None) -> int:
        """A convolution with geometry ``g`` (None: a 1x1 pointwise one) from ``C_in`` (the
        channel dim of ``x``) to ``out_channels`` channels."""
        shape = self.shape(x)
        cin = shape[channel]
        groups = 1 if g is None else g.groups
        sizes = tuple(shape[d] for d in spatial) if g is None else g.output
        out = with_sizes(shape, [*spatial, channel], [*sizes, out_channels])
        n = batch_size(shape, spatial, channel) * math.prod(sizes)
        mixed = [channel] if groups < cin else []
        rf = self.rf(x)
        out_rf = None if rf is None else rfm.apply_steps(rf, [] if g is None else spatial, () if g is None else g.rf_steps, mixed)
        return self.op(group, "conv", [x], [(tuple(out), dtype or self.dtype(x))], [out_rf], geometry=g,
                       macs=n * out_channels * (cin // groups) * (1 if g is None else math.prod(g.kernel)),
                       bias_adds=n * out_channels if bias else 0, params=params,
                       groups=None if g is None else groups, attrs=attrs)[0]

    def conv_transpose(self, group: int, x: int, g: LayerGeometry, *, spatial: Sequence[int], channel: int,
                       out_channels: int, bias: bool, dtype: Optional[str] = None, params: int = 0,
                       attrs: Optional[dict[str, str]] = None) -> int:
        """A transposed convolution: every input element scatters ``C_out/groups * prod(k)``
        multiply-adds."""
        shape = self.shape(x)
        cin = shape[channel]
        out = with_sizes(shape, [*spatial, channel], [*g.output, out_channels])
        batch = batch_size(shape, spatial, channel)
        rf = self.rf(x)
        out_rf = None if rf is None else rfm.apply_steps(rf, spatial, g.rf_steps, [channel] if g.groups < cin else [])
        macs = batch * cin * math.prod(g.input) * (out_channels // g.groups) * math.prod(g.kernel)
        return self.op(group, "conv_transpose", [x], [(tuple(out), dtype or self.dtype(x))], [out_rf],
                       geometry=g, macs=macs, bias_adds=batch * out_channels * math.prod(g.output) if bias else 0,
                       params=params, groups=g.groups, attrs=attrs)[0]

    def pool(self, group: int, kind: str, x: int, g: Optional[LayerGeometry | AdaptivePoolGeometry], *,
             spatial: Sequence[int], indices: bool = False, keepdims: bool = True, dtype: Optional[str] = None,
             params: int = 0, attrs: Optional[dict[str, str]] = None) -> list[int]:
        """Max / average / Lp / adaptive pooling (``g`` None: no spatial dims); ``indices`` adds
        MaxPool's int64 index output; ``keepdims=False`` drops the pooled dims (global pooling
        to a vector)."""
        shape = self.shape(x)
        rf = self.rf(x)
        steps = () if g is None else g.rf_steps
        out_rf = None if rf is None else rfm.apply_steps(rf, spatial[:len(steps)], steps)
        out: Shape = tuple(with_sizes(shape, spatial, () if g is None else g.output))
        if not keepdims:
            out = tuple(s for i, s in enumerate(shape) if i not in spatial)
            out_rf = None if out_rf is None else rfm.reduce(out_rf, spatial, False, len(shape))
        outputs = [(out, dtype or self.dtype(x))] + ([(out, "int64")] if indices else [])
        return self.op(group, kind, [x], outputs, [out_rf] * len(outputs), geometry=g, params=params, attrs=attrs)

    def resize(self, group: int, x: int, g: ResizeGeometry, *, spatial: Sequence[int], mode: str,
               align_corners: bool = False, scales: Optional[Sequence[float]] = None, exact: bool = True,
               dtype: Optional[str] = None, attrs: Optional[dict[str, str]] = None) -> int:
        """Resizing (:func:`~convgeom.tracing.rf.steps_for_resize`; ``area`` is adaptive average
        pooling; a nearest resize by ``scales`` steps by ``1/scale``)."""
        sizes_in = tuple(self.shape(x)[d] for d in spatial)
        if mode == "area":
            steps = geo.adaptive_avg_pool(sizes_in, list(g.output)).rf_steps
        else:
            nearest = g.rf_steps if scales is None else rfm.steps_for_scales(scales)
            steps = rfm.steps_for_resize(sizes_in, g.output, mode, align_corners, nearest)
        rf = self.rf(x)
        out_rf = None if rf is None else rfm.apply_steps(rf, spatial, steps)
        if out_rf is not None and not exact:
            out_rf = rfm.inexact(out_rf)
        out = tuple(with_sizes(self.shape(x), spatial, g.output))
        return self.op(group, "interpolate", [x], [(out, dtype or self.dtype(x))], [out_rf], geometry=g,
                       attrs=attrs)[0]

    def pad(self, group: int, x: int, pads: dict[int, tuple[int, int]], *, spatial: Sequence[int],
            dtype: Optional[str] = None, attrs: Optional[dict[str, str]] = None) -> int:
        """Padding ``pads[dim] = (before, after)`` (negative: cropping); the record's padding is
        per spatial dim."""
        out = list(self.shape(x))
        for d, (before, after) in pads.items():
            out[d] += before + after
        dims = list(pads)
        rf = self.rf(x)
        out_rf = None if rf is None else rfm.apply_steps(rf, dims, rfm.steps_for_pad([pads[d][0] for d in dims]))
        per_axis = tuple(pads.get(d, (0, 0)) for d in spatial)
        return self.op(group, "pad", [x], [(tuple(out), dtype or self.dtype(x))], [out_rf], pads=per_axis,
                       attrs=attrs)[0]

    def crop(self, group: int, x: int, out_shape: Shape, starts: dict[int, tuple[int, int]], *,
             dtype: Optional[str] = None, attrs: Optional[dict[str, str]] = None) -> int:
        """Slicing ``x[start::step]`` along each dim of ``starts[dim] = (start, step)``."""
        rf = self.rf(x)
        dims = list(starts)
        steps = rfm.steps_for_crop([starts[d][0] for d in dims], [starts[d][1] for d in dims])
        out_rf = None if rf is None else rfm.apply_steps(rf, dims, steps)
        return self.op(group, "slice", [x], [(tuple(out_shape), dtype or self.dtype(x))], [out_rf],
                       attrs=attrs)[0]

    def split(self, group: int, x: int, dim: int, sizes: Sequence[int]) -> list[int]:
        """Consecutive pieces of ``sizes`` along ``dim``; piece ``i`` starts at the sum before it."""
        shape, rf = self.shape(x), self.rf(x)
        outputs, rfs = [], []
        start = 0
        for size in sizes:
            outputs.append((tuple(size if i == dim else d for i, d in enumerate(shape)), self.dtype(x)))
            step = RFStep(Fraction(1), Fraction(1), Fraction(-start))
            rfs.append(None if rf is None else (rfm.apply_steps(rf, [dim], [step]) if start else rf))
            start += size
        return self.op(group, "slice", [x], outputs, rfs)

    # ----- products ------------------------------------------------------------------------------
    def linear(self, group: int, x: int, out_features: int, *, bias: bool, dtype: Optional[str] = None,
               params: int = 0) -> int:
        """A dense layer on the last dim: ``prod(x.shape[:-1]) * in * out`` MACs."""
        shape = self.shape(x)
        out = shape[:-1] + (out_features,)
        rf = self.rf(x)
        out_rf = None if rf is None else rfm.apply_steps(rf, [], [], [len(shape) - 1])
        return self.op(group, "linear", [x], [(out, dtype or self.dtype(x))], [out_rf],
                       macs=matmul_macs(out, shape[-1]), bias_adds=math.prod(out) if bias else 0, params=params)[0]

    def matmul(self, group: int, kind: str, operands: Sequence[tuple[Optional[int], Shape, int]], out_shape: Shape,
               inner: int, *, dtype: str, bias: bool = False, params: int = 0) -> int:
        """A matrix product of ``operands`` (tensor id or None for a constant, shape, contracted
        dim) with ``inner`` multiply-adds per output element."""
        rf = product_rf([(None if t is None else self.rf(t), s, c) for t, s, c in operands], len(out_shape))
        live = [t for t, _, _ in operands if t is not None]
        return self.op(group, kind, live, [(out_shape, dtype)], [rf], macs=matmul_macs(out_shape, inner),
                       bias_adds=math.prod(out_shape) if bias else 0, params=params)[0]

    # ----- merges and shape-only ops ---------------------------------------------------------------
    def merge(self, group: int, kind: str, operands: Sequence[int], out_shape: Shape, *, dtype: str,
              alias: Optional[int] = None, params: int = 0, n_outputs: int = 1,
              attrs: Optional[dict[str, str]] = None) -> list[int]:
        """An element-wise op over broadcast operands (alignment checked, see :func:`rf.merge`);
        ``alias`` names the operand an in-place op writes into. Extra outputs are bool masks."""
        merged, issues = rfm.merge([(self.rf(t), self.shape(t)) for t in operands], out_shape)
        outputs = [(out_shape, dtype)] + [(out_shape, "bool")] * (n_outputs - 1)
        return self.op(group, kind, list(dict.fromkeys(operands)), outputs, [merged] * n_outputs, issues=issues,
                       alias=[alias], params=params, attrs=attrs)

    def concat(self, group: int, operands: Sequence[int], out_shape: Shape, axis: int, *, dtype: str) -> int:
        """Operands joined along ``axis`` (see :func:`rf.concat`)."""
        merged, issues = rfm.concat([(self.rf(t), self.shape(t)) for t in operands], out_shape, axis)
        return self.op(group, "cat", list(dict.fromkeys(operands)), [(out_shape, dtype)], [merged], issues=issues)[0]

    def reshape(self, group: int, x: int, out_shape: Shape, *, view: bool = True, dtype: Optional[str] = None) -> int:
        """Reshape / flatten / squeeze (``view``: the output shares the input's storage)."""
        rf = self.rf(x)
        out_rf = None if rf is None else rfm.reshape(rf, self.shape(x), out_shape)
        return self.op(group, "reshape", [x], [(tuple(out_shape), dtype or self.dtype(x))], [out_rf],
                       alias=[x if view else None])[0]

    def permute(self, group: int, x: int, perm: Sequence[int]) -> int:
        """Output dim ``i`` is input dim ``perm[i]``."""
        rf = self.rf(x)
        out = tuple(self.shape(x)[p] for p in perm)
        return self.op(group, "permute", [x], [(out, self.dtype(x))], [None if rf is None else rfm.permute(rf, perm)])[0]

    def reduce(self, group: int, x: int, dims: Sequence[int], keepdim: bool, *, kind: str = "reduce",
               dtype: Optional[str] = None) -> int:
        """A reduction over ``dims``: those axes become whole."""
        shape = self.shape(x)
        out = tuple((1 if i in dims else d) for i, d in enumerate(shape) if keepdim or i not in dims)
        rf = self.rf(x)
        out_rf = None if rf is None else rfm.reduce(rf, dims, keepdim, len(shape))
        return self.op(group, kind, [x], [(out, dtype or self.dtype(x))], [out_rf])[0]

    def along(self, group: int, kind: str, x: int, dim: int) -> int:
        """An op mixing every entry along ``dim`` (softmax, cumsum): that axis becomes whole."""
        rf = self.rf(x)
        return self.op(group, kind, [x], [(self.shape(x), self.dtype(x))], [None if rf is None else rfm.along(rf, dim)])[0]

    def same(self, group: int, kind: str, x: int, *, dtype: Optional[str] = None, context: bool = False,
             view: bool = False, params: int = 0, attrs: Optional[dict[str, str]] = None) -> int:
        """An op whose output has its input's shape and receptive field (activation, dropout,
        normalisation; ``context``: statistics over space feed every unit; ``view``: no new
        tensor)."""
        rf = self.rf(x)
        out_rf = None if rf is None else (rfm.with_context(rf) if context else rf)
        return self.op(group, kind, [x], [(self.shape(x), dtype or self.dtype(x))], [out_rf],
                       alias=[x if view else None], params=params, attrs=attrs)[0]

    def by_shape(self, group: int, kind: str, inputs: Sequence[int], outputs: Sequence[tuple[Shape, str]]) -> list[int]:
        """An op known only by its output shapes: the first input's receptive field passes through
        by shape, inexactly (:func:`rf.by_shape`)."""
        rfs: list[Optional[TensorRF]] = []
        for shape, _ in outputs:
            rf = None if not inputs else rfm.by_shape(self.rf(inputs[0]), self.shape(inputs[0]), shape)
            rfs.append(None if rf is None else rfm.inexact(rf))
        return self.op(group, kind, list(dict.fromkeys(inputs)), outputs, rfs)
