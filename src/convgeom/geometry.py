"""Per-layer geometry: the public ``conv``, ``conv_transpose``, ``max_pool``, ``avg_pool``,
``unfold``, adaptive pools and ``interpolate``, and their frozen result objects.

Each function normalises its parameters, asks the framework dialect
(:mod:`convgeom.dialects`) for the per-side padding and output size, and wraps the answer in
a :class:`LayerGeometry` whose :class:`AxisGeometry` entries know window positions, coverage,
unread input and the receptive-field step of the layer.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional, Union

from . import arithmetic
from .arithmetic import effective_kernel
from .dialects import Plan, Request, get_dialect
from .errors import GeometryError
from .params import IntOrTuple, Padding, PaddingArg, as_int, ndim_of, parse_padding, per_axis
from .receptive_field import RFStep

OptionalIntOrTuple = Optional[IntOrTuple]
INT64_MAX = 2**63 - 1


@dataclass(frozen=True)
class AxisGeometry:
    """One spatial axis of a windowed layer.

    For ``conv``/pools/``unfold`` window ``i`` reads input taps ``i*stride - pad_before + j*dilation``.
    For ``conv_transpose`` input ``i`` writes output ``i*stride - pad_before + j*dilation``:
    ``pad_before``/``pad_after`` are the crop of the full output ``(n-1)*stride + e`` (a
    negative ``pad_after`` means extra cells from output_padding).
    """

    input: int
    output: int
    kernel: int
    stride: int
    dilation: int
    pad_before: int
    pad_after: int
    transposed: bool = False
    ceil_mode: bool = False
    output_padding: int = 0
    pad_note: str = ""

    @property
    def effective_kernel(self) -> int:
        """``e = d*(k-1) + 1``."""
        return effective_kernel(self.kernel, self.dilation)

    @property
    def padded_input(self) -> int:
        return self.input + self.pad_before + self.pad_after

    @property
    def window_starts(self) -> tuple[int, ...]:
        """First tap of each window in input coordinates (negative: starts in the padding).
        For a transposed conv: where each input position's kernel lands in the output."""
        count = self.input if self.transposed else self.output
        return tuple(arithmetic.window_starts(count, self.stride, self.pad_before))

    def coverage(self) -> tuple[int, ...]:
        """Taps landing on each input position (conv/pool) or each output position (transposed)."""
        if self.transposed:
            return arithmetic.transposed_coverage(
                self.input, self.output, self.kernel, self.stride, self.dilation, self.pad_before
            )
        return arithmetic.coverage(
            self.input, self.output, self.kernel, self.stride, self.dilation, self.pad_before
        )

    @property
    def remainder(self) -> int:
        """Padded cells after the last window: ``(n + pad_before + pad_after - e) mod s`` when
        rounding down (what floor division leaves over); 0 for a transposed conv."""
        if self.transposed or self.output <= 0:
            return 0
        return max(0, self.padded_input - ((self.output - 1) * self.stride + self.effective_kernel))

    @property
    def dropped(self) -> int:
        """Trailing input positions that no window reads (0 for a transposed conv)."""
        if self.transposed or self.output <= 0:
            return 0
        last_tap = (self.output - 1) * self.stride - self.pad_before + self.effective_kernel - 1
        return min(self.input, max(0, self.input - 1 - last_tap))

    def unread(self) -> tuple[int, ...]:
        """Input positions no window reads (for a transposed conv: output positions nothing writes)."""
        return tuple(i for i, c in enumerate(self.coverage()) if c == 0)

    def gaps(self) -> tuple[int, ...]:
        """Unread positions strictly between read ones: stride larger than the window, or the
        holes of a dilated kernel."""
        cov = self.coverage()
        read = [i for i, c in enumerate(cov) if c]
        if not read:
            return ()
        return tuple(i for i in range(read[0], read[-1]) if cov[i] == 0)

    @property
    def rf_step(self) -> RFStep:
        """Receptive-field step of this layer (Araujo et al. 2019)."""
        if self.transposed:
            return RFStep.transposed(self.effective_kernel, self.stride, self.pad_before)
        return RFStep.windowed(self.effective_kernel, self.stride, self.pad_before)

    @property
    def symmetric(self) -> bool:
        return self.pad_before == self.pad_after


@dataclass(frozen=True)
class LayerGeometry:
    """The geometry of one layer in one framework's dialect. Tuples hold one entry per axis."""

    op: str
    framework: str
    axes: tuple[AxisGeometry, ...]
    padding: Padding
    groups: int = 1
    padding_mode: str = "zeros"
    count_include_pad: Optional[bool] = None
    divisor: Optional[int] = None
    ceil_mode: bool = False
    output_size_requested: Optional[tuple[int, ...]] = None
    notes: tuple[str, ...] = ()

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
    def effective_kernel(self) -> tuple[int, ...]:
        return tuple(a.effective_kernel for a in self.axes)

    @property
    def pad(self) -> tuple[tuple[int, int], ...]:
        """``((before, after), ...)`` per axis; for a transposed conv, the crop."""
        return tuple((a.pad_before, a.pad_after) for a in self.axes)

    @property
    def pad_before(self) -> tuple[int, ...]:
        return tuple(a.pad_before for a in self.axes)

    @property
    def pad_after(self) -> tuple[int, ...]:
        return tuple(a.pad_after for a in self.axes)

    @property
    def output_padding(self) -> tuple[int, ...]:
        return tuple(a.output_padding for a in self.axes)

    @property
    def dropped(self) -> tuple[int, ...]:
        return tuple(a.dropped for a in self.axes)

    @property
    def rf_steps(self) -> tuple[RFStep, ...]:
        return tuple(a.rf_step for a in self.axes)

    @property
    def torch_pad(self) -> tuple[int, ...]:
        """The pads as ``F.pad`` takes them: last axis first, ``(before, after)`` each."""
        return tuple(v for a in reversed(self.axes) for v in (a.pad_before, a.pad_after))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (coverage omitted: ask ``axes[i].coverage()``)."""
        return {
            "op": self.op,
            "framework": self.framework,
            "input": list(self.input),
            "output": list(self.output),
            "kernel": list(self.kernel),
            "stride": list(self.stride),
            "dilation": list(self.dilation),
            "effective_kernel": list(self.effective_kernel),
            "padding": self.padding.name if self.padding.kind == "string" else [list(p) for p in self.padding.pairs],
            "pad_before": list(self.pad_before),
            "pad_after": list(self.pad_after),
            "output_padding": list(self.output_padding) if self.op == "conv_transpose" else None,
            "dropped": list(self.dropped),
            "ceil_mode": self.ceil_mode,
            "count_include_pad": self.count_include_pad,
            "groups": self.groups,
            "padding_mode": self.padding_mode,
            "receptive_field_step": [
                {"kernel": str(s.kernel), "stride": str(s.stride), "padding": str(s.padding)} for s in self.rf_steps
            ],
            "notes": list(self.notes),
        }


def _request(
    op: str,
    input: IntOrTuple,
    kernel: IntOrTuple,
    stride: OptionalIntOrTuple,
    padding: PaddingArg,
    dilation: IntOrTuple,
    **extra: Any,
) -> Request:
    if stride in ((), []) and op.endswith("pool"):
        stride = None  # an empty stride list means "default" in PyTorch's pooling functions
    pad_tuple = padding if isinstance(padding, (tuple, list)) and not any(
        isinstance(p, (tuple, list)) for p in padding
    ) else None
    pairs = padding if isinstance(padding, (tuple, list)) and pad_tuple is None else None
    if "groups" in extra:
        extra["groups"] = as_int("groups", extra["groups"])
    output_padding = extra.pop("output_padding", None)
    output_size = extra.pop("output_size", None)
    ndim = ndim_of(
        input=input, kernel=kernel, stride=stride, dilation=dilation, padding=pad_tuple,
        padding_pairs=pairs, output_padding=output_padding, output_size=output_size,
    )
    kernel_t = per_axis("kernel", kernel, ndim)
    return Request(
        op=op,
        input=per_axis("input", input, ndim),
        kernel=kernel_t,
        stride=kernel_t if stride is None else per_axis("stride", stride, ndim),
        dilation=per_axis("dilation", dilation, ndim),
        padding=parse_padding(padding, ndim),
        output_padding=None if output_padding is None else per_axis("output_padding", output_padding, ndim),
        output_size=None if output_size is None else per_axis("output_size", output_size, ndim),
        **extra,
    )


def _finish(request: Request, framework: str, *, transposed: bool = False) -> LayerGeometry:
    dialect = get_dialect(framework)
    plan: Plan = dialect.plan(request)
    axes = tuple(
        AxisGeometry(
            input=n, output=a.output, kernel=k, stride=s, dilation=d,
            pad_before=a.pad_before, pad_after=a.pad_after, transposed=transposed,
            ceil_mode=request.ceil_mode, output_padding=a.output_padding, pad_note=a.note,
        )
        for n, k, s, d, a in zip(request.input, request.kernel, request.stride, request.dilation, plan.axes)
    )
    return LayerGeometry(
        op=request.op, framework=dialect.name, axes=axes, padding=request.padding,
        groups=request.groups, padding_mode=request.padding_mode,
        count_include_pad=plan.count_include_pad, divisor=request.divisor,
        ceil_mode=request.ceil_mode, output_size_requested=request.output_size, notes=plan.notes,
    )


def conv(
    input: IntOrTuple,
    kernel: IntOrTuple,
    stride: IntOrTuple = 1,
    padding: PaddingArg = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
    *,
    framework: str = "torch",
    padding_mode: str = "zeros",
    in_channels: Optional[int] = None,
    out_channels: Optional[int] = None,
) -> LayerGeometry:
    """Geometry of a convolution: ``o = floor((n + pad_before + pad_after - e) / s) + 1``.

    ``padding`` is an int, one int per axis, ``(before, after)`` per axis, or one of
    'valid', 'same', 'same_lower', 'causal', 'full' where the framework has it.
    """
    r = _request("conv", input, kernel, stride, padding, dilation, groups=groups,
                 padding_mode=padding_mode, in_channels=in_channels, out_channels=out_channels)
    return _finish(r, framework)


def conv_transpose(
    input: IntOrTuple,
    kernel: IntOrTuple,
    stride: IntOrTuple = 1,
    padding: PaddingArg = 0,
    output_padding: OptionalIntOrTuple = None,
    dilation: IntOrTuple = 1,
    *,
    output_size: OptionalIntOrTuple = None,
    groups: int = 1,
    framework: str = "torch",
) -> LayerGeometry:
    """Geometry of a transposed convolution: ``o = (n-1)*s + e - crop_before - crop_after``
    (PyTorch: ``(n-1)s - 2p + d(k-1) + output_padding + 1``). ``output_size`` is PyTorch's
    ``output_size=`` argument / ONNX's ``output_shape`` attribute."""
    r = _request("conv_transpose", input, kernel, stride, padding, dilation, groups=groups,
                 output_padding=output_padding, output_size=output_size)
    return _finish(r, framework, transposed=True)


def max_pool(
    input: IntOrTuple,
    kernel: IntOrTuple,
    stride: OptionalIntOrTuple = None,
    padding: PaddingArg = 0,
    dilation: IntOrTuple = 1,
    ceil_mode: bool = False,
    *,
    framework: str = "torch",
) -> LayerGeometry:
    """Geometry of max pooling; ``stride`` defaults to the kernel. Ceil mode follows PyTorch's
    ``Pool.h`` (the last window must start inside the input or the left padding)."""
    r = _request("max_pool", input, kernel, stride, padding, dilation, ceil_mode=bool(ceil_mode))
    return _finish(r, framework)


def avg_pool(
    input: IntOrTuple,
    kernel: IntOrTuple,
    stride: OptionalIntOrTuple = None,
    padding: PaddingArg = 0,
    ceil_mode: bool = False,
    count_include_pad: Optional[bool] = None,
    divisor: Optional[int] = None,
    *,
    dilation: IntOrTuple = 1,
    framework: str = "torch",
) -> LayerGeometry:
    """Geometry of average pooling. ``count_include_pad=None`` takes the framework default
    (PyTorch True; Keras, ONNX False; JAX True as flax); ``divisor`` is PyTorch's
    ``divisor_override``."""
    r = _request("avg_pool", input, kernel, stride, padding, dilation, ceil_mode=bool(ceil_mode),
                 count_include_pad=count_include_pad, divisor=divisor)
    return _finish(r, framework)


def unfold(
    input: IntOrTuple,
    kernel: IntOrTuple,
    stride: IntOrTuple = 1,
    padding: PaddingArg = 0,
    dilation: IntOrTuple = 1,
    *,
    framework: str = "torch",
) -> LayerGeometry:
    """Sliding blocks of ``nn.Unfold`` (im2col): ``L = prod((n + 2p - e) // s + 1)``; unlike
    pooling there is no ``p <= k/2`` limit. ``result.output`` holds the blocks per axis."""
    for name, value in (("kernel_size", kernel), ("stride", stride), ("padding", padding), ("dilation", dilation)):
        if isinstance(value, (tuple, list)) and len(value) == 1:
            raise GeometryError(
                f"unfold {name} {tuple(value)} has one value for two spatial axes",
                f"PyTorch nn.Unfold: It is expected {name} equals to 2",
                f"give {name} as an int or two ints",
            )
    r = _request("unfold", input, kernel, stride, padding, dilation)
    return _finish(r, framework)


# ----- adaptive pooling and resizing: windows that are not a single (k, s, p) -----------------
@dataclass(frozen=True)
class AdaptivePoolGeometry:
    """Adaptive pooling: window ``i`` covers ``[floor(i*n/o), ceil((i+1)*n/o))`` per axis."""

    op: str
    input: tuple[int, ...]
    output: tuple[int, ...]
    framework: str = "torch"

    @property
    def windows(self) -> tuple[tuple[tuple[int, int], ...], ...]:
        """Per axis, ``(start, end)`` of every window (computed on demand: O(output))."""
        return tuple(arithmetic.adaptive_windows(n, o) for n, o in zip(self.input, self.output))

    def window(self, axis: int, i: int) -> tuple[int, int]:
        """``(start, end)`` of window ``i`` on ``axis``, without listing the others."""
        return arithmetic.adaptive_window(self.input[axis], self.output[axis], i)

    @property
    def uniform(self) -> tuple[Optional[tuple[int, int]], ...]:
        """Per axis ``(kernel, stride)`` when adaptive pooling equals a plain pool (n % o == 0)."""
        return tuple((n // o, n // o) if o and n % o == 0 else None for n, o in zip(self.input, self.output))

    @property
    def rf_steps(self) -> tuple[RFStep, ...]:
        """Upper bound: the largest window, stride n/o."""
        from fractions import Fraction

        return tuple(
            RFStep(Fraction(arithmetic.adaptive_max_window(n, o)), Fraction(n, o), Fraction(0)) if o
            else RFStep.identity()
            for n, o in zip(self.input, self.output)
        )


def _adaptive(op: str, input: IntOrTuple, output_size: Union[int, Sequence[Optional[int]]]) -> AdaptivePoolGeometry:
    if output_size is None:
        raise GeometryError(f"{op} needs an output size", fix="pass output_size as an int or one per axis")
    if isinstance(output_size, (tuple, list)):
        ndim = ndim_of(input=input, output_size=output_size)
        sizes_in = per_axis("input", input, ndim)
        if ndim == 1 and None in output_size:
            raise GeometryError(
                f"{op} 1-D output_size must be an int",
                f"PyTorch {op}1d: argument 'output_size' must be tuple of ints",
                "give the output size (None keeps an axis only for 2-D/3-D pools)",
            )
        sizes_out = tuple(n if o is None else as_int("output_size", o) for n, o in zip(sizes_in, output_size))
    else:
        ndim = ndim_of(input=input)
        sizes_in = per_axis("input", input, ndim)
        sizes_out = (as_int("output_size", output_size),) * ndim
    for axis, (n, o) in enumerate(zip(sizes_in, sizes_out)):
        if n < 1:
            raise GeometryError(
                f"input size must be >= 1, got {n} on axis {axis}",
                f"PyTorch {op}: Expected input to have non-zero size for non-batch dimensions",
                "use a non-empty input", axis=axis,
            )
        if o < 0:
            raise GeometryError(
                f"output size must be >= 0, got {o} on axis {axis}",
                f"PyTorch {op}: elements of output_size must be greater than or equal to 0",
                "use a non-negative output size", axis=axis,
            )
    return AdaptivePoolGeometry(op, sizes_in, sizes_out)


def adaptive_avg_pool(input: IntOrTuple, output_size: Union[int, Sequence[Optional[int]]]) -> AdaptivePoolGeometry:
    """PyTorch ``AdaptiveAvgPool*d`` windows (``None`` keeps an axis)."""
    return _adaptive("adaptive_avg_pool", input, output_size)


def adaptive_max_pool(input: IntOrTuple, output_size: Union[int, Sequence[Optional[int]]]) -> AdaptivePoolGeometry:
    """PyTorch ``AdaptiveMaxPool*d`` windows (``None`` keeps an axis)."""
    return _adaptive("adaptive_max_pool", input, output_size)


@dataclass(frozen=True)
class ResizeGeometry:
    """``F.interpolate``: output sizes and, for nearest modes, the source index of each output."""

    input: tuple[int, ...]
    output: tuple[int, ...]
    mode: str
    scale: tuple[float, ...]
    #: the scale factors as the user gave them (None when ``size`` was given)
    scale_given: Optional[tuple[float, ...]] = None

    def source_indices(self, axis: int = 0) -> tuple[int, ...]:
        """``nearest``: ``min(floor(y * q), n-1)``; ``nearest-exact``: ``floor((y + 0.5) * q)``,
        with ``q = 1/scale_factor`` when a scale was given, else ``n/o``, in float32 as PyTorch
        computes it (``aten/src/ATen/native/UpSample.h`` ``compute_scales_value``,
        ``nearest_idx``, ``nearest_neighbor_exact_compute_source_index``)."""
        n, o = self.input[axis], self.output[axis]
        given = self.scale_given[axis] if self.scale_given else None
        q = _f32(1.0 / given) if given else _f32(_f32(n) / o)
        if self.mode == "nearest-exact":
            return tuple(min(n - 1, math.floor(_f32(_f32(y + 0.5) * q))) for y in range(o))
        if len(self.input) == 2 and o in (n, 2 * n):
            # the 2-D CPU kernel goes through nearest_idx, which special-cases scale 1 and 2
            return tuple(range(o)) if o == n else tuple(y >> 1 for y in range(o))
        return tuple(min(n - 1, math.floor(_f32(_f32(y) * q))) for y in range(o))

    @property
    def rf_steps(self) -> tuple[RFStep, ...]:
        """Nearest resizing is treated as a step of kernel 1 and stride ``1/scale_factor`` (or
        ``n/o`` for a given size), fractional."""
        from fractions import Fraction

        if self.scale_given:
            # PyTorch indexes with 1/scale_factor when one was given (see source_indices)
            return tuple(RFStep(Fraction(1), 1 / Fraction(str(f)), Fraction(0)) for f in self.scale_given)
        return tuple(RFStep(Fraction(1), Fraction(n, o), Fraction(0)) for n, o in zip(self.input, self.output))


def interpolate(
    input: IntOrTuple,
    size: OptionalIntOrTuple = None,
    scale_factor: Union[None, float, Sequence[float]] = None,
    mode: str = "nearest",
) -> ResizeGeometry:
    """``F.interpolate`` output size: ``size``, or ``floor(n * scale_factor)`` per axis
    (``aten/src/ATen/native/UpSample.h upsample_compute_output_size``)."""
    if (size is None) == (scale_factor is None):
        raise GeometryError(
            "give exactly one of size and scale_factor",
            "PyTorch F.interpolate: only one of size or scale_factor should be defined",
            "pass size=... or scale_factor=..., not both",
        )
    scales_arg = scale_factor if isinstance(scale_factor, (tuple, list)) else None
    ndim = ndim_of(input=input, size=size, scale_factor=scales_arg)
    sizes_in = per_axis("input", input, ndim)
    for axis, n in enumerate(sizes_in):
        if n < 1:
            raise GeometryError(
                f"input size must be >= 1, got {n} on axis {axis}",
                "PyTorch F.interpolate: Input and output sizes should be greater than 0",
                "use a non-empty input", axis=axis,
            )
    if size is not None:
        sizes_out = per_axis("size", size, ndim)
        scales = tuple(o / n for n, o in zip(sizes_in, sizes_out))
    else:
        raw = scale_factor if isinstance(scale_factor, (tuple, list)) else [scale_factor] * ndim
        scales = tuple(float(f) for f in raw)  # type: ignore[arg-type]
        if any(not math.isfinite(f) or f <= 0 for f in scales):
            raise GeometryError(f"scale_factor must be positive, got {scale_factor}", fix="use a scale > 0")
        products = [n * f for n, f in zip(sizes_in, scales)]
        if any(not math.isfinite(v) or v > INT64_MAX for v in products):
            raise GeometryError(
                f"output size {max(products):g} does not fit in int64",
                "PyTorch upsample_compute_output_size: value cannot be converted to type int64_t",
                "use a smaller scale_factor",
            )
        sizes_out = tuple(math.floor(v) for v in products)
    for axis, (n, o) in enumerate(zip(sizes_in, sizes_out)):
        if n < 1 or o < 1:
            raise GeometryError(
                f"input ({n}) and output ({o}) sizes must be > 0 on axis {axis}",
                "PyTorch F.interpolate: Input and output sizes should be greater than 0",
                "use a larger scale_factor or size", axis=axis,
            )
    return ResizeGeometry(sizes_in, sizes_out, mode, scales, None if size is not None else scales)


def _f32(value: float) -> float:
    """Round to IEEE float32, as PyTorch's CPU kernels compute resize indices."""
    return float(struct.unpack("f", struct.pack("f", value))[0])
