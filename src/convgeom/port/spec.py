"""What a windowed layer computes, in no framework's vocabulary.

Two layers compute the same function exactly when their :class:`LayerSpec` are equal: the same
kernel, stride, dilation and groups, and per axis the same window positions (``pad_before``:
where the first window starts; ``pad_after``: how far past the input the last window reads),
the same output size and, for average pooling, the same divisor for every window. Everything
here is read off the engine's :class:`~convgeom.geometry.LayerGeometry`
(``pad_before``/``pad_after``, ``window_starts``, ``count_include_pad``); nothing recomputes a
framework's padding rule.

Window ``i`` reads input taps ``i*s - pad_before + j*d`` (Dumoulin & Visin). Cells outside the
input read zeros (convolution; or the ``pad_mode`` copy), -inf (max pooling) or zeros that a
window's divisor counts only inside ``counted`` (average pooling: PyTorch ``count_include_pad``
counts the padding but not a ceil-mode overhang, ``aten/src/ATen/native/cpu/AvgPoolKernel.cpp``;
ONNX Runtime's AveragePool counts the same cells, measured in ``tests/test_port_*.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Optional

from ..arithmetic import ceil_div, effective_kernel, window_starts
from ..errors import GeometryError
from ..geometry import LayerGeometry

#: ops that can be ported
PORTABLE_OPS = ("conv", "conv_transpose", "max_pool", "avg_pool")

Pads = tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class AxisSpec:
    """One spatial axis. For ``conv_transpose`` ``pad_before``/``pad_after`` are the crop of
    the full output ``(n-1)*s + e`` (negative ``pad_after``: cells added by output_padding);
    for the windowed ops they are the padded cells the windows read."""

    input: int
    output: int
    kernel: int
    stride: int
    dilation: int
    pad_before: int
    pad_after: int
    #: average pooling: padded cells (before, after) that count in a window's divisor
    counted: Optional[tuple[int, int]] = None
    #: the padding after the input the layer declares (may exceed what its windows read);
    #: not part of the function, but the pad a port should copy when the source's is fixed
    declared_after: int = field(default=0, compare=False)


@dataclass(frozen=True)
class LayerSpec:
    """The function of one layer, framework-free. ``divisor`` is a fixed average-pooling
    divisor (PyTorch ``divisor_override``, or every tap counted); ``pad_mode`` is what
    convolution padding reads ('zeros', 'reflect', 'replicate', 'circular')."""

    op: str
    axes: tuple[AxisSpec, ...]
    groups: int = 1
    pad_mode: str = "zeros"
    divisor: Optional[int] = None

    @property
    def ndim(self) -> int:
        return len(self.axes)

    @property
    def input(self) -> tuple[int, ...]:
        return tuple(a.input for a in self.axes)

    @property
    def output(self) -> tuple[int, ...]:
        return tuple(a.output for a in self.axes)

    @property
    def kernel(self) -> tuple[int, ...]:
        return tuple(a.kernel for a in self.axes)

    @property
    def stride(self) -> tuple[int, ...]:
        return tuple(a.stride for a in self.axes)

    @property
    def dilation(self) -> tuple[int, ...]:
        return tuple(a.dilation for a in self.axes)

    @property
    def window(self) -> int:
        """Taps per window: ``prod(kernel)``."""
        return math.prod(self.kernel)

    @property
    def pads(self) -> Pads:
        """``(before, after)`` per axis: read padding, or the crop of a transposed conv."""
        return tuple((a.pad_before, a.pad_after) for a in self.axes)

    @property
    def pads_to_apply(self) -> Pads:
        """The padding a port applies explicitly: trailing cells no window reads (a negative
        ``pad_after``) need no crop, so ``after`` is at least 0."""
        return tuple((a.pad_before, max(0, a.pad_after)) for a in self.axes)

    @property
    def source_pads(self) -> Pads:
        """The padding the source layer declares (negative ``after`` counts as 0)."""
        return tuple((a.pad_before, max(0, a.declared_after)) for a in self.axes)

    @property
    def declared_pads(self) -> Pads:
        """The padding the source layer declares, at least what its windows read: the explicit
        pad that stays exact at other input sizes when the source's padding is fixed."""
        return tuple((a.pad_before, max(0, a.pad_after, a.declared_after)) for a in self.axes)

    @property
    def counted(self) -> Pads:
        """Average pooling: the counted padding per axis, as :attr:`pads_to_apply` pads."""
        return tuple(
            (c[0], max(0, c[1])) if c is not None else (0, 0) for c in (a.counted for a in self.axes)
        )

    @property
    def needs_padding(self) -> bool:
        return any(b != 0 or a > 0 for b, a in self.pads)

    @property
    def has_empty_window(self) -> bool:
        """Some window reads no input cell (only padding): on some axis all its taps miss
        ``[0, n)``. A max pool returns its framework's identity there (-inf, or float32's
        lowest in ONNX Runtime)."""
        return any(_has_empty_window(a) for a in self.axes)

    def describe(self) -> str:
        """Short human form, e.g. ``pads ((0, 1), (0, 1)), output (112, 112)``."""
        if self.op == "conv_transpose":
            return f"crop {self.pads}, output {self.output}"
        text = f"pads read {self.pads}, output {self.output}"
        if self.op == "avg_pool":
            text += (f", divisor {self.divisor}" if self.divisor is not None
                     else f", divisor counts the input and padding {self.counted}")
        return text


def _floor_sum(count: int, m: int, a: int, b: int) -> int:
    """``sum(floor((a*i + b) / m) for i in range(count))`` for ``a, b >= 0``, ``m >= 1`` in
    O(log m) steps (the Euclid-like reduction of AtCoder Library's ``floor_sum``)."""
    total = 0
    while True:
        if a >= m:
            total += count * (count - 1) // 2 * (a // m)
            a %= m
        if b >= m:
            total += count * (b // m)
            b %= m
        y_max = a * count + b
        if y_max < m:
            return total
        count, b, m, a = y_max // m, y_max % m, a, m


def _has_empty_window(a: AxisSpec) -> bool:
    """Some window on this axis has no tap in ``[0, n)``, in O(log d).

    Window ``i`` starts at ``t = i*s - pad_before``. A start in ``[0, n)`` is a tap inside; a
    start ``>= n`` (only the last window can be the first such) has none. A start ``t < 0``
    (``i < ceil(pad_before / s)``) first reaches ``[0, ...)`` at ``t mod d`` after
    ``ceil(-t/d)`` taps, so it is empty iff ``t + (k-1)*d < 0`` (worst at ``i = 0``) or
    ``t mod d >= n``; the windows with ``t mod d >= n`` are counted as
    ``sum floor((t + d - n) / d) - floor(t / d)`` with :func:`_floor_sum`."""
    n, s, d, pb = a.input, a.stride, a.dilation, a.pad_before
    if a.output < 1:
        return False
    if (a.output - 1) * s - pb >= n:
        return True
    before = min(a.output, ceil_div(pb, s)) if pb > 0 else 0
    if before == 0:
        return False
    if -pb + (a.kernel - 1) * d < 0:
        return True
    if n >= d:
        return False
    b = (-pb) % d  # the sums only see t mod d, so shift t to a non-negative representative
    return _floor_sum(before, d, s, b + d - n) > _floor_sum(before, d, s, b)


def describe(g: LayerGeometry) -> LayerSpec:
    """The :class:`LayerSpec` of an engine result (any framework).

    ``pad_after`` of a windowed op is read from the last window (``window_starts[-1] + e - n``),
    so padding no window reads is not part of the function, and a ceil-mode window that runs
    past the padding reads (-inf / uncounted) cells there.
    """
    if g.op not in PORTABLE_OPS:
        raise GeometryError(f"cannot port {g.op!r}", fix="port one of " + ", ".join(PORTABLE_OPS))
    if any(o < 1 for o in g.output):
        raise GeometryError(
            f"the {g.framework} layer gives an empty output {g.output}: there is nothing to port",
            fix="use an input at least as large as the (padded) window",
        )
    axes = []
    for a in g.axes:
        if g.op == "conv_transpose":
            axes.append(AxisSpec(a.input, a.output, a.kernel, a.stride, a.dilation, a.pad_before, a.pad_after))
            continue
        last_start = window_starts(a.output, a.stride, a.pad_before)[-1]
        read_after = last_start + a.effective_kernel - a.input
        counted = None
        if g.op == "avg_pool":
            cb, ca = (a.pad_before, a.pad_after) if g.count_include_pad else (0, 0)
            counted = (min(cb, a.pad_before), min(ca, read_after))
        axes.append(AxisSpec(a.input, a.output, a.kernel, a.stride, a.dilation, a.pad_before, read_after, counted,
                             declared_after=a.pad_after))
    spec = LayerSpec(
        g.op, tuple(axes), groups=g.groups if g.op in ("conv", "conv_transpose") else 1,
        pad_mode=g.padding_mode if g.op == "conv" else "zeros", divisor=g.divisor if g.op == "avg_pool" else None,
    )
    return normalise(spec)


def normalise(spec: LayerSpec) -> LayerSpec:
    """One form per function: an average pool whose divisor counts every tap has divisor
    ``prod(kernel)`` and no counted region; padding no tap reads has mode 'zeros'."""
    if spec.op == "avg_pool":
        every_tap = all(a.counted == (a.pad_before, a.pad_after) for a in spec.axes)
        if spec.divisor is not None or every_tap:
            divisor = spec.divisor if spec.divisor is not None else spec.window
            return replace(spec, divisor=divisor, axes=tuple(replace(a, counted=None) for a in spec.axes))
    if spec.op == "conv" and spec.pad_mode != "zeros" and not spec.needs_padding:
        return replace(spec, pad_mode="zeros")
    return spec


def combine(outer: Pads, inner: LayerSpec, pad_mode: str = "zeros") -> LayerSpec:
    """The spec of ``inner`` run on an input padded by ``outer`` (read as ``pad_mode``) first,
    in the coordinates of the unpadded input. The outer padding is real input to ``inner``: an
    average pool counts it (its divisor, fixed or counted, stays what ``inner`` says)."""
    if inner.op == "conv":
        inner = replace(inner, pad_mode=pad_mode)
    axes = []
    for (b, a), ax in zip(outer, inner.axes):
        counted = None if ax.counted is None else (ax.counted[0] + b, ax.counted[1] + a)
        axes.append(replace(ax, input=ax.input - b - a, pad_before=ax.pad_before + b,
                            pad_after=ax.pad_after + a, counted=counted))
    return _clip_counted(replace(inner, axes=tuple(axes)))


def padded_input(inner: LayerSpec, pads: Pads) -> LayerSpec:
    """The spec of a transposed convolution ``inner`` run on an input with ``(b, a)`` zero
    cells added per axis: each zero cell adds ``s`` cells of the full output that only the
    bias reaches, so this is the unpadded layer with its crop reduced by ``b*s`` / ``a*s``."""
    axes = tuple(
        replace(ax, input=ax.input - b - a, pad_before=ax.pad_before - b * ax.stride,
                pad_after=ax.pad_after - a * ax.stride)
        for (b, a), ax in zip(pads, inner.axes)
    )
    return replace(inner, axes=axes)


def crop(inner: LayerSpec, post: Pads) -> LayerSpec:
    """The spec of a transposed convolution ``inner`` whose output is then cropped by ``post``
    (a crop cannot add cells: padding after the layer would lack the bias)."""
    if any(v < 0 for p in post for v in p):
        raise GeometryError(f"a crop {post} cannot add cells", fix="add them before the layer")
    axes = tuple(
        replace(ax, output=ax.output - b - a, pad_before=ax.pad_before + b, pad_after=ax.pad_after + a)
        for (b, a), ax in zip(post, inner.axes)
    )
    return replace(inner, axes=axes)


def subsample(inner: LayerSpec, strides: tuple[int, ...]) -> LayerSpec:
    """The spec of a stride-1 windowed layer ``inner`` whose output keeps every ``s``-th cell
    from the first: window ``m`` is the inner window ``m*s``, so the layer has stride ``s``."""
    axes = []
    for a, s in zip(inner.axes, strides):
        output = ceil_div(a.output, s)
        last_start = window_starts(output, s * a.stride, a.pad_before)[-1]
        read_after = last_start + effective_kernel(a.kernel, a.dilation) - a.input
        axes.append(replace(a, stride=s * a.stride, output=output, pad_after=read_after,
                            declared_after=a.declared_after))
    return _clip_counted(replace(inner, axes=tuple(axes)))


def zero_inserted(inner: LayerSpec, zeros: tuple[tuple[int, int, int], ...]) -> LayerSpec:
    """The spec of a stride-1 transposed convolution ``inner`` run on an input with ``s - 1``
    zeros between cells and ``before``/``after`` zeros at the ends (``(s, before, after)`` per
    axis): a transposed convolution of stride ``s`` whose output has that many more cells at
    each end (zeros plus bias, as output_padding adds)."""
    axes = tuple(
        replace(a, input=(a.input - 1 - b - x) // s + 1, stride=s, pad_before=a.pad_before - b,
                pad_after=a.pad_after - x)
        for a, (s, b, x) in zip(inner.axes, zeros)
    )
    return replace(inner, axes=axes)


def _clip_counted(spec: LayerSpec) -> LayerSpec:
    axes = tuple(
        replace(a, counted=(min(a.counted[0], a.pad_before), min(a.counted[1], a.pad_after)))
        if a.counted is not None else a
        for a in spec.axes
    )
    return normalise(replace(spec, axes=axes))


def with_divisor(spec: LayerSpec, divisor: Optional[int], counted: Optional[Pads]) -> LayerSpec:
    """``spec`` with its average-pool divisor replaced: a fixed ``divisor``, or the count of
    taps on the input plus the ``counted`` padding."""
    if divisor is not None:
        return normalise(replace(spec, divisor=divisor, axes=tuple(replace(a, counted=None) for a in spec.axes)))
    assert counted is not None
    axes = tuple(replace(a, counted=c) for a, c in zip(spec.axes, counted))
    return _clip_counted(replace(spec, divisor=None, axes=axes))


def spec_dict(spec: LayerSpec) -> dict[str, Any]:
    """JSON-ready form."""
    return {
        "op": spec.op,
        "input": list(spec.input),
        "output": list(spec.output),
        "kernel": list(spec.kernel),
        "stride": list(spec.stride),
        "dilation": list(spec.dilation),
        "pads": [list(p) for p in spec.pads],
        "groups": spec.groups,
        "pad_mode": spec.pad_mode,
        "divisor": spec.divisor,
        "counted": [list(a.counted) if a.counted is not None else None for a in spec.axes],
    }
