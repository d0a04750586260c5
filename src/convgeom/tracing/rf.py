"""Receptive fields of whole tensors, propagated through a traced graph (frontend-neutral).

Every activation tensor carries a :class:`TensorRF`: for each spatial axis of the model input,
the :class:`~convgeom.receptive_field.ReceptiveField` (size ``r``, effective stride ``S``,
effective padding ``P``; Araujo, Norris & Sim, Distill 2019) of the tensor's units, and the
tensor dim that now holds that axis.

Rules (each a pure function below):

* windowed ops (conv, pooling, transposed conv, resize, pad, crop) apply one
  :class:`~convgeom.receptive_field.RFStep` per axis they slide over (the engine's
  ``rf_steps``); an axis that ends up in a dim the op mixes (the channel dim of a conv or a
  linear layer) becomes *whole*: every unit sees the whole input along it;
* element-wise merges (add, mul, concat along channels) need the branches to be **aligned**
  (same effective stride and centre offset ``-P + (r-1)/2``, Araujo §3); misaligned branches are
  reported and the result is the *union* of the regions of unit 0 (stride: the larger one);
* reshapes keep an axis when its dim survives in the common prefix or suffix of the two
  shapes, permutes move it, reductions over it make it whole;
* a branch that depends on the input but is broadcast along an axis (squeeze-and-excitation
  gates, global statistics) sets ``global_context``: size/stride/padding then describe the local
  (convolutional) path, and some part of every output also depends on the whole input.

``TensorRF`` objects are immutable; ``None`` stands for a tensor that does not depend on the
model input at all (parameters, constants).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Optional, overload

from ..formatting import fraction
from ..receptive_field import ReceptiveField, RFStep

Shape = tuple[int, ...]


@dataclass(frozen=True)
class TensorRF:
    """Receptive field of one tensor's units with respect to the model input.

    ``fields[a]`` is the receptive field along model-input spatial axis ``a``; ``dims[a]`` the
    tensor dim that holds that axis, or ``None`` once the axis was mixed away (flatten + linear,
    global pooling, softmax over it): then every unit sees the *whole* input along ``a`` and
    ``fields[a]`` keeps the last local receptive field before the mixing.
    ``exact`` is False where a rule had to guess (unknown ops, misaligned merges).
    """

    fields: tuple[ReceptiveField, ...]
    dims: tuple[Optional[int], ...]
    exact: bool = True
    global_context: bool = False
    #: ``(shape, dims)`` before a reshape packed spatial dims together (``[N, C, H, W] ->
    #: [N, G, C/G*H*W]`` around a group/instance norm); reshaping back to ``shape`` restores them.
    packed: Optional[tuple[Shape, tuple[Optional[int], ...]]] = None

    @property
    def whole(self) -> tuple[bool, ...]:
        """Per axis: True when each unit sees the whole input along it."""
        return tuple(d is None for d in self.dims)

    @property
    def size(self) -> tuple[Fraction, ...]:
        """``r`` per axis (the local path's size where ``whole``)."""
        return tuple(f.size for f in self.fields)

    @property
    def stride(self) -> tuple[Fraction, ...]:
        """Effective stride (jump) ``S`` per axis."""
        return tuple(f.stride for f in self.fields)

    @property
    def padding(self) -> tuple[Fraction, ...]:
        """Effective padding ``P`` per axis: unit ``u`` starts at input index ``u*S - P``."""
        return tuple(f.padding for f in self.fields)

    @property
    def center(self) -> tuple[Fraction, ...]:
        """Centre offset of unit 0 per axis: ``-P + (r-1)/2`` (Araujo eq. 11)."""
        return tuple(f.center() for f in self.fields)

    def describe(self, axis: int) -> str:
        f = self.fields[axis]
        text = (f"r={fraction(f.size)} S={fraction(f.stride)} P={fraction(f.padding)}")
        return ("whole (local " + text + ")") if self.dims[axis] is None else text

    def to_dict(self) -> dict[str, object]:
        def num(v: Fraction) -> object:
            return v.numerator if v.denominator == 1 else str(v)

        return {
            "size": [num(v) for v in self.size],
            "stride": [num(v) for v in self.stride],
            "padding": [num(v) for v in self.padding],
            "center": [num(v) for v in self.center],
            "whole": list(self.whole),
            "exact": self.exact,
            "global_context": self.global_context,
        }


@dataclass(frozen=True)
class MergeIssue:
    """Two branches met with different effective strides or centres along one axis."""

    axis: int
    fields: tuple[ReceptiveField, ...]

    def describe(self) -> str:
        parts = [
            f"S={fraction(f.stride)}, centre {fraction(f.center())} (r={fraction(f.size)})"
            for f in self.fields
        ]
        return "; ".join(parts)


def identity(n_axes: int, spatial_dims: Sequence[int]) -> TensorRF:
    """The model input: ``r = 1, S = 1, P = 0`` on every axis."""
    return TensorRF(tuple(ReceptiveField() for _ in range(n_axes)), tuple(spatial_dims)[:n_axes])


def union(a: ReceptiveField, b: ReceptiveField) -> ReceptiveField:
    """Smallest field holding unit 0's regions of both (``[-P, -P + r - 1]`` each); the larger
    stride. For aligned fields this is simply the larger one."""
    start = min(-a.padding, -b.padding)
    end = max(-a.padding + a.size - 1, -b.padding + b.size - 1)
    return ReceptiveField(size=end - start + 1, stride=max(a.stride, b.stride), padding=-start)


def apply_steps(rf: TensorRF, op_dims: Sequence[int], steps: Sequence[RFStep],
                mixed_dims: Sequence[int] = ()) -> TensorRF:
    """A windowed op sliding ``steps[j]`` over tensor dim ``op_dims[j]``; axes held in
    ``mixed_dims`` (e.g. the channel dim of a convolution) become whole. Dims keep positions."""
    fields = list(rf.fields)
    dims = list(rf.dims)
    changed = False
    for a, d in enumerate(rf.dims):
        if d is None:
            continue
        if d in op_dims:
            step = steps[list(op_dims).index(d)]
            if step.kernel != 1 or step.stride != 1 or step.padding != 0:  # 1x1 steps change nothing
                fields[a] = fields[a].then(step)
                changed = True
        elif d in mixed_dims:
            dims[a] = None
            changed = True
    if not changed:
        return rf
    return TensorRF(tuple(fields), tuple(dims), rf.exact, rf.global_context)


def remap(rf: TensorRF, mapping: Callable[[int], Optional[int]], *, exact: bool = True) -> TensorRF:
    """Move each axis's dim through ``mapping`` (``None``: the axis is mixed away)."""
    dims = tuple(None if d is None else mapping(d) for d in rf.dims)
    return TensorRF(rf.fields, dims, rf.exact and exact, rf.global_context, rf.packed)


def drop(rf: TensorRF, dim: int) -> TensorRF:
    """The axis held in ``dim`` is contracted away (the inner dim of a matrix product)."""
    return remap(rf, lambda d: None if d == dim else d)


def shift(rf: TensorRF, offset: int, ndim: int) -> TensorRF:
    """Dims move by ``offset`` (broadcast alignment from the right); out of range: whole."""
    return remap(rf, lambda d: d + offset if 0 <= d + offset < ndim else None)


def relabel(rf: TensorRF, mapping: dict[int, Optional[int]]) -> TensorRF:
    """Dims move through ``mapping`` (missing dims: whole)."""
    return remap(rf, lambda d: mapping.get(d))


def join(a: Optional[TensorRF], b: TensorRF) -> TensorRF:
    """Two operands of a product (matmul, einsum, attention): union of fields, an axis stays
    local only where both hold it in the same dim; the result mixes positions (global context)."""
    if a is None:
        return b
    return TensorRF(tuple(union(x, y) for x, y in zip(a.fields, b.fields)),
                    tuple(x if x == y else None for x, y in zip(a.dims, b.dims)), a.exact and b.exact, True)


def whole(rf: TensorRF, *, exact: bool = True) -> TensorRF:
    """Every axis mixed away (flatten + linear, global pooling to a vector, attention)."""
    return TensorRF(rf.fields, tuple(None for _ in rf.dims), rf.exact and exact, rf.global_context)


def with_context(rf: TensorRF) -> TensorRF:
    """Mark that global statistics (instance/group/layer norm over space, SE gates) feed every unit."""
    return rf if rf.global_context else replace(rf, global_context=True)


def inexact(rf: TensorRF) -> TensorRF:
    return rf if not rf.exact else replace(rf, exact=False)


@overload
def by_shape(rf: TensorRF, in_shape: Shape, out_shape: Shape) -> TensorRF: ...
@overload
def by_shape(rf: None, in_shape: Shape, out_shape: Shape) -> None: ...
def by_shape(rf: Optional[TensorRF], in_shape: Shape, out_shape: Shape) -> Optional[TensorRF]:
    """An op known only by its shapes: with the same rank, axes that keep their size pass
    through and the rest become whole; otherwise :func:`reshape`."""
    if rf is None:
        return None
    if len(in_shape) == len(out_shape):
        return remap(rf, lambda d: d if in_shape[d] == out_shape[d] else None)
    return reshape(rf, in_shape, out_shape)


def reshape(rf: TensorRF, in_shape: Shape, out_shape: Shape) -> TensorRF:
    """``view``/``reshape``/``flatten``/``squeeze``/``unsqueeze``: an axis survives when its dim
    lies in the common prefix or the common suffix of the two shapes. Axes packed away are
    remembered (``packed``) until a reshape back to the original shape restores them."""
    if rf.packed is not None and tuple(out_shape) == rf.packed[0]:
        return TensorRF(rf.fields, rf.packed[1], rf.exact, rf.global_context)
    n_in, n_out = len(in_shape), len(out_shape)
    prefix = 0
    while prefix < min(n_in, n_out) and in_shape[prefix] == out_shape[prefix]:
        prefix += 1
    suffix = 0
    while (suffix < min(n_in, n_out) - prefix and in_shape[n_in - 1 - suffix] == out_shape[n_out - 1 - suffix]):
        suffix += 1

    def move(d: int) -> Optional[int]:
        if d < prefix:
            return d
        if d >= n_in - suffix:
            return d - n_in + n_out
        return None

    out = remap(rf, move)
    if rf.packed is None and any(a is not None and b is None for a, b in zip(rf.dims, out.dims)):
        out = replace(out, packed=(tuple(in_shape), rf.dims))
    return out


def permute(rf: TensorRF, perm: Sequence[int]) -> TensorRF:
    """``permute``/``transpose``/``movedim``: output dim ``i`` is input dim ``perm[i]``."""
    where = {src: dst for dst, src in enumerate(perm)}
    return remap(rf, lambda d: where.get(d))


def reduce(rf: TensorRF, reduced: Sequence[int], keepdim: bool, ndim: int) -> TensorRF:
    """Reduction over ``reduced`` dims (mean, sum, amax, ...): those axes become whole."""
    gone = set(reduced)

    def move(d: int) -> Optional[int]:
        if d in gone:
            return None
        return d if keepdim else d - sum(1 for r in gone if r < d)

    return remap(rf, move)


def along(rf: TensorRF, dim: int) -> TensorRF:
    """An op mixing all entries along ``dim`` (softmax, cumsum, sort): that axis becomes whole."""
    return remap(rf, lambda d: None if d == dim else d)


def merge(operands: Sequence[tuple[Optional[TensorRF], Shape]], out_shape: Shape) -> tuple[Optional[TensorRF], list[MergeIssue]]:
    """Element-wise combination with broadcasting (shapes aligned from the right).

    Per axis: operands that vary along it must be aligned (else a :class:`MergeIssue`; the field
    is the union); operands broadcast along it (size 1) or already whole there, that depend on
    the input, set ``global_context``."""
    live = [(rf, shape) for rf, shape in operands if rf is not None]
    if not live:
        return None, []
    first_rf = live[0][0]
    if all(shape == out_shape and (rf is first_rf or rf == first_rf) for rf, shape in live):
        return first_rf, []
    fields: list[ReceptiveField] = []
    dims: list[Optional[int]] = []
    exact = all(rf.exact for rf, _ in live)
    context = any(rf.global_context for rf, _ in live)
    issues: list[MergeIssue] = []
    for a in range(len(first_rf.fields)):
        field, dim, broadcast, scattered, issue = _merge_axis(live, out_shape, a)
        fields.append(field)
        dims.append(dim)
        context = context or broadcast
        exact = exact and issue is None and not scattered
        issues.extend([issue] if issue is not None else [])
    return TensorRF(tuple(fields), tuple(dims), exact, context), issues


def _merge_axis(live: Sequence[tuple[TensorRF, Shape]], out_shape: Shape, a: int
                ) -> tuple[ReceptiveField, Optional[int], bool, bool, Optional[MergeIssue]]:
    """One axis of :func:`merge`: ``(field, output dim or None, an input-dependent operand is
    broadcast or whole along it beside local ones, the local operands sit in different dims,
    misalignment)``."""
    local: list[tuple[int, ReceptiveField]] = []
    whole_fields: list[ReceptiveField] = []
    for rf, shape in live:
        d = rf.dims[a]
        od = None if d is None else d + len(out_shape) - len(shape)
        if d is None or od is None or (shape[d] == 1 and out_shape[od] != 1):
            whole_fields.append(rf.fields[a])
        else:
            local.append((od, rf.fields[a]))
    if not local:
        return _union_all(whole_fields), None, False, False, None
    first = local[0][1]
    others = [f for _, f in local[1:] if f != first]
    field = _union_all([first] + others) if others else first
    issue = None
    if any(not first.aligned_with(f) for f in others):
        issue = MergeIssue(a, tuple(f for _, f in local))
    positions = {od for od, _ in local}
    scattered = len(positions) > 1
    return field, None if scattered else positions.pop(), bool(whole_fields), scattered, issue


def _union_all(fields: Sequence[ReceptiveField]) -> ReceptiveField:
    out = fields[0]
    for f in fields[1:]:
        out = union(out, f)
    return out


def concat(operands: Sequence[tuple[Optional[TensorRF], Shape]], out_shape: Shape, dim: int) -> tuple[Optional[TensorRF], list[MergeIssue]]:
    """``cat`` along ``dim``: along channels it is a merge (alignment checked); an axis held in
    ``dim`` itself is joined end to end, which no single receptive field describes: it becomes
    inexact (union of the parts)."""
    reshaped = [(rf, tuple(out_shape[i] if i == dim else s for i, s in enumerate(shape))) for rf, shape in operands]
    merged, issues = merge(reshaped, out_shape)
    if merged is not None and dim in merged.dims:
        merged = inexact(merged)
    return merged, issues


def steps_for_crop(starts: Sequence[int], steps: Sequence[int]) -> tuple[RFStep, ...]:
    """Slicing ``x[start::step]``: kernel 1, stride ``step``, padding ``-start``."""
    return tuple(RFStep(Fraction(1), Fraction(st), Fraction(-s0)) for s0, st in zip(starts, steps))


def steps_for_pad(before: Sequence[int]) -> tuple[RFStep, ...]:
    """Padding (or cropping, when negative) ``before`` cells: kernel 1, stride 1, padding ``before``."""
    return tuple(RFStep(Fraction(1), Fraction(1), Fraction(b)) for b in before)


def step_for_shuffle(factor: int, *, up: bool) -> RFStep:
    """Pixel shuffle / DepthToSpace by ``factor`` (``up``): output ``u`` reads input
    ``u // factor``, kernel 1, stride ``1/factor``; pixel unshuffle / SpaceToDepth: kernel and
    stride ``factor``. Both also mix the channel dim."""
    if up:
        return RFStep(Fraction(1), Fraction(1, factor), Fraction(0))
    return RFStep(Fraction(factor), Fraction(factor), Fraction(0))


def steps_for_scales(scales: Sequence[float]) -> tuple[RFStep, ...]:
    """Nearest resizing by ``scales``: kernel 1, stride ``1/scale`` (the float scale read as the
    nearest fraction with a denominator up to 2**20)."""
    return tuple(RFStep(Fraction(1), 1 / Fraction(s).limit_denominator(1 << 20), Fraction(0)) for s in scales)


def steps_for_resize(sizes_in: Sequence[int], sizes_out: Sequence[int], mode: str,
                     align_corners: Optional[bool], nearest_steps: Sequence[RFStep]) -> tuple[RFStep, ...]:
    """Receptive-field steps of a resize (upsampling is a fractional stride ``n/o``).

    * nearest modes: the engine's :attr:`ResizeGeometry.rf_steps` (``nearest_steps``): kernel 1,
      stride ``n/o``;
    * linear modes (linear, bilinear, trilinear): a 2-tap tent centred on the source coordinate
      ``x = (u + 1/2)*n/o - 1/2`` (``align_corners`` False) or ``u*(n-1)/(o-1)`` (True):
      kernel 2, stride ``n/o`` (``(n-1)/(o-1)``), padding ``1 - (n/o)/2`` (``1/2``);
    * cubic: 4 taps (kernel 4, padding ``2 - (n/o)/2``);
    * area: adaptive average pooling windows (callers use the adaptive-pool geometry).
    """
    if mode.startswith("nearest"):
        return tuple(nearest_steps)
    taps = 4 if "cubic" in mode else 2
    out = []
    for n, o in zip(sizes_in, sizes_out):
        if align_corners and o > 1:
            s = Fraction(n - 1, o - 1)
            pad = Fraction(taps, 2) - Fraction(1, 2)
        else:
            s = Fraction(n, o)
            pad = Fraction(taps, 2) - s / 2
        out.append(RFStep(Fraction(taps), s, pad))
    return tuple(out)
