"""Per-layer geometry: the public ``conv``, ``conv_transpose``, ``max_pool``, ``avg_pool``,
``unfold``, adaptive pools and ``interpolate``, and their frozen result objects.

Each function normalises its parameters (:mod:`convgeom.params`: types, the int64 range, the
number of axes from ``input``), asks the framework dialect (:mod:`convgeom.dialects`) for the
per-side padding and output size, and wraps the answer in a :class:`LayerGeometry` whose
:class:`AxisGeometry` entries know window positions, coverage, unread input and the
receptive-field step of the layer.

Cost: a result and every derived view that is a number per axis (output, pads, ``dropped``,
``remainder``, ``rf_step``, ``to_dict``, ``convgeom.explain``) cost O(1) in the sizes. Views with
one entry per cell or per window (``window_starts``, ``coverage()``, ``unread()``, ``gaps()``,
``AdaptivePoolGeometry.windows``, ``ResizeGeometry.source_indices``) are O(n) by nature and
refuse with a :class:`GeometryError` beyond :data:`MAX_CELLS` entries; ``window_start_range``
and ``window_start(i)`` are O(1) at any size.
"""

from __future__ import annotations

from . import arithmetic
from .arithmetic import effective_kernel
from .dialects import Dialect, Request, get_dialect
from .errors import GeometryError, GeometryTypeError, shown
from .params import (
    IntOrTuple,
    Padding,
    PaddingArg,
    as_flag,
    as_index,
    as_int,
    as_name,
    axis_values,
    parse_padding,
    per_axis,
    spatial_sizes,
)

# Annotation-only imports, and receptive fields (with `fractions`) imported where used: a cold
# `convgeom shape` needs none of them (see the "CLI start-up" section of BENCHMARKS.md).
TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see convgeom/__init__.py)
if TYPE_CHECKING:
    from collections.abc import Sequence
    from dataclasses import dataclass
    from typing import Any, Optional, Union

    from .arithmetic import Rounding
    from .receptive_field import RFStep
else:
    from .frozen import dataclass  # the same frozen dataclasses, without importing dataclasses

OptionalIntOrTuple = IntOrTuple | None
#: the most entries a per-cell or per-window view lists (``coverage()``, ``window_starts``, ...)
MAX_CELLS = 4_000_000


def check_cells(what: str, count: int) -> None:
    """Refuse a per-cell view of more than :data:`MAX_CELLS` entries before building it."""
    if count > MAX_CELLS:
        raise GeometryError(
            f"{what} would list {count} entries, more than the cap of {MAX_CELLS}",
            fix="ask for a smaller size, or use the O(1) views (window_start_range, window_start(i), dropped, "
            "remainder)",
        )


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
    #: the rule that gave ``output`` (:data:`convgeom.arithmetic.Rounding`), as the dialect applied it
    rounding: Rounding = "floor"

    @property
    def effective_kernel(self) -> int:
        """``e = d*(k-1) + 1``."""
        return effective_kernel(self.kernel, self.dilation)

    @property
    def padded_input(self) -> int:
        return self.input + self.pad_before + self.pad_after

    @property
    def window_start_range(self) -> range:
        """First tap of each window in input coordinates (negative: starts in the padding), as a
        ``range``: O(1) at any size (``len``, indexing and slicing work). For a transposed conv:
        where each input position's kernel lands in the output."""
        count = self.input if self.transposed else self.output
        return arithmetic.window_starts(count, self.stride, self.pad_before)

    def window_start(self, i: int) -> int:
        """First tap of window ``i`` (``i*stride - pad_before``), without listing the others."""
        return self.window_start_range[as_index("i", i, len(self.window_start_range), "windows")]

    @property
    def window_starts(self) -> tuple[int, ...]:
        """:attr:`window_start_range` as a tuple (at most :data:`MAX_CELLS` windows)."""
        starts = self.window_start_range
        check_cells("window_starts", len(starts))
        return tuple(starts)

    def coverage(self) -> tuple[int, ...]:
        """Taps landing on each input position (conv/pool) or each output position (transposed).
        O(positions), at most :data:`MAX_CELLS` positions."""
        if self.transposed:
            check_cells("coverage()", self.output)
            return arithmetic.transposed_coverage(
                self.input, self.output, self.kernel, self.stride, self.dilation, self.pad_before
            )
        check_cells("coverage()", self.input)
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
        """Input positions no window reads (for a transposed conv: output positions nothing writes).
        At most :data:`MAX_CELLS` positions, as :meth:`coverage`."""
        return tuple(i for i, c in enumerate(self.coverage()) if c == 0)

    def gaps(self) -> tuple[int, ...]:
        """Unread positions strictly between read ones: stride larger than the window, or the
        holes of a dilated kernel. At most :data:`MAX_CELLS` positions, as :meth:`coverage`."""
        cov = self.coverage()
        read = [i for i, c in enumerate(cov) if c]
        if not read:
            return ()
        return tuple(i for i in range(read[0], read[-1]) if cov[i] == 0)

    @property
    def rf_step(self) -> RFStep:
        """Receptive-field step of this layer (Araujo et al. 2019)."""
        from .receptive_field import RFStep

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


def _layer(op: str, framework: str, input: object, kernel: object, stride: object, padding: object,
           dilation: object, **extra: Any) -> LayerGeometry:
    """A windowed op's geometry: the dialect, the normalised request, the plan."""
    dialect = get_dialect(framework)
    return layer_from_request(_request(op, dialect, input, kernel, stride, padding, dilation, **extra), dialect.name)


def _request(
    op: str,
    dialect: Dialect,
    input: object,
    kernel: object,
    stride: object,
    padding: object,
    dilation: object,
    **extra: Any,
) -> Request:
    """Normalise a windowed op's parameters; the number of axes comes from ``input`` and the
    dialect says which parameters a 1-tuple stands for on every axis."""
    sizes = spatial_sizes("input", input)
    ndim = len(sizes)
    single = dialect.broadcasts_single(op)

    def axes(name: str, value: object) -> tuple[int, ...]:
        return per_axis(name, value, ndim, single=name in single, rule=dialect.axis_count_rule(op, name, ndim))

    if op.endswith("pool") and isinstance(stride, (tuple, list)) and not stride:
        stride = None  # an empty stride list means "default" in PyTorch's pooling functions
    kernel_t = axes("kernel", kernel)
    for name in ("output_padding", "output_size"):
        if extra.get(name) is not None:
            extra[name] = axes(name, extra[name])
    return Request(
        op=op,
        input=sizes,
        kernel=kernel_t,
        stride=kernel_t if stride is None else axes("stride", stride),
        dilation=axes("dilation", dilation),
        padding=parse_padding(padding, ndim, single="padding" in single,  # type: ignore[arg-type]
                              rule=dialect.axis_count_rule(op, "padding", ndim)),
        **extra,
    )


def _optional_int(name: str, value: object, low: Optional[int] = None) -> Optional[int]:
    return None if value is None else as_int(name, value, low=low)


def layer_from_request(request: Request, framework: str) -> LayerGeometry:
    """Plan ``request`` in ``framework``'s dialect and wrap the plan as a :class:`LayerGeometry`."""
    dialect = get_dialect(framework)
    plan = dialect.plan(request)
    axes = tuple(
        AxisGeometry(
            input=n, output=a.output, kernel=k, stride=s, dilation=d,
            pad_before=a.pad_before, pad_after=a.pad_after, transposed=request.op == "conv_transpose",
            ceil_mode=request.ceil_mode, output_padding=a.output_padding, pad_note=a.note, rounding=a.rounding,
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
    return _layer("conv", framework, input, kernel, stride, padding, dilation, groups=as_int("groups", groups),
                  padding_mode=as_name("padding_mode", padding_mode),
                  in_channels=_optional_int("in_channels", in_channels, 0),
                  out_channels=_optional_int("out_channels", out_channels, 0))


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
    return _layer("conv_transpose", framework, input, kernel, stride, padding, dilation,
                  groups=as_int("groups", groups), output_padding=output_padding, output_size=output_size)


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
    return _layer("max_pool", framework, input, kernel, stride, padding, dilation,
                  ceil_mode=as_flag("ceil_mode", ceil_mode))


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
    return _layer("avg_pool", framework, input, kernel, stride, padding, dilation,
                  ceil_mode=as_flag("ceil_mode", ceil_mode),
                  count_include_pad=None if count_include_pad is None else as_flag("count_include_pad", count_include_pad),
                  divisor=_optional_int("divisor", divisor))


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
    return _layer("unfold", framework, input, kernel, stride, padding, dilation)


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
        """Per axis, ``(start, end)`` of every window (computed on demand: O(output), at most
        :data:`MAX_CELLS` windows in all)."""
        check_cells("windows", sum(self.output))
        return tuple(arithmetic.adaptive_windows(n, o) for n, o in zip(self.input, self.output))

    def window(self, axis: int, i: int) -> tuple[int, int]:
        """``(start, end)`` of window ``i`` on ``axis``, without listing the others."""
        axis = as_index("axis", axis, len(self.input), "axes")
        i = as_index("i", i, self.output[axis], "windows")
        return arithmetic.adaptive_window(self.input[axis], self.output[axis], i)

    @property
    def uniform(self) -> tuple[Optional[tuple[int, int]], ...]:
        """Per axis ``(kernel, stride)`` when adaptive pooling equals a plain pool (n % o == 0)."""
        return tuple((n // o, n // o) if o and n % o == 0 else None for n, o in zip(self.input, self.output))

    @property
    def rf_steps(self) -> tuple[RFStep, ...]:
        """Upper bound: the largest window, stride n/o."""
        from fractions import Fraction

        from .receptive_field import RFStep

        return tuple(
            RFStep(Fraction(arithmetic.adaptive_max_window(n, o)), Fraction(n, o), Fraction(0)) if o
            else RFStep.identity()
            for n, o in zip(self.input, self.output)
        )


def _output_sizes(output_size: object, ndim: int, rule: str) -> tuple[Optional[int], ...]:
    """An int for every axis, or one int or ``None`` (keep the axis) per axis."""
    if output_size is None:
        raise GeometryTypeError("output_size is required", fix="pass output_size as an int or one per axis")
    return tuple(None if o is None else as_int("output_size", o)
                 for o in axis_values("output_size", output_size, ndim, single=False, rule=rule))


def _adaptive(op: str, input: object, output_size: object, framework: str) -> AdaptivePoolGeometry:
    dialect = get_dialect(framework)
    sizes_in = spatial_sizes("input", input)
    wanted = _output_sizes(output_size, len(sizes_in), dialect.axis_count_rule(op, "output_size", len(sizes_in)))
    return AdaptivePoolGeometry(op, sizes_in, dialect.adaptive_pool(op, sizes_in, wanted), dialect.name)


def adaptive_avg_pool(input: IntOrTuple, output_size: Union[int, Sequence[Optional[int]]], *,
                      framework: str = "torch") -> AdaptivePoolGeometry:
    """``AdaptiveAvgPool*d`` windows (``None`` keeps an axis); PyTorch only."""
    return _adaptive("adaptive_avg_pool", input, output_size, framework)


def adaptive_max_pool(input: IntOrTuple, output_size: Union[int, Sequence[Optional[int]]], *,
                      framework: str = "torch") -> AdaptivePoolGeometry:
    """``AdaptiveMaxPool*d`` windows (``None`` keeps an axis); PyTorch only."""
    return _adaptive("adaptive_max_pool", input, output_size, framework)


@dataclass(frozen=True)
class ResizeGeometry:
    """A resize (``F.interpolate``, ONNX ``Resize``): output sizes and, for PyTorch's nearest
    modes, the source index of each output."""

    input: tuple[int, ...]
    output: tuple[int, ...]
    mode: str
    scale: tuple[float, ...]
    #: the scale factors as the user gave them (None when ``size`` was given)
    scale_given: Optional[tuple[float, ...]] = None
    framework: str = "torch"

    def source_indices(self, axis: int = 0) -> tuple[int, ...]:
        """The input index each output of a nearest resize reads on ``axis`` (the dialect's
        rule; at most :data:`MAX_CELLS` outputs)."""
        axis = as_index("axis", axis, len(self.input), "axes")
        check_cells("source_indices", self.output[axis])
        given = self.scale_given[axis] if self.scale_given else None
        return get_dialect(self.framework).resize_source_indices(
            self.input[axis], self.output[axis], given, self.mode, len(self.input))

    @property
    def rf_steps(self) -> tuple[RFStep, ...]:
        """Nearest resizing is treated as a step of kernel 1 and stride ``1/scale_factor`` (or
        ``n/o`` for a given size), fractional."""
        from fractions import Fraction

        from .receptive_field import RFStep

        if self.scale_given:
            # PyTorch indexes with 1/scale_factor when one was given (see source_indices)
            return tuple(RFStep(Fraction(1), 1 / Fraction(str(f)), Fraction(0)) for f in self.scale_given)
        return tuple(RFStep(Fraction(1), Fraction(n, o), Fraction(0)) if o else RFStep.identity()
                     for n, o in zip(self.input, self.output))


def _scales(scale_factor: object, ndim: int, rule: str) -> tuple[float, ...]:
    """A number for every axis, or one number per axis (int, float, NumPy number; not bool)."""
    return tuple(_real("scale_factor", f)
                 for f in axis_values("scale_factor", scale_factor, ndim, single=False, rule=rule, kinds="iuf"))


def _real(name: str, value: object) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    kind = getattr(getattr(value, "dtype", None), "kind", None)
    if kind in ("i", "u", "f") and getattr(value, "ndim", 0) == 0:
        return float(value)  # type: ignore[arg-type]
    raise GeometryTypeError(f"{name} must be a number, got {shown(value)} ({type(value).__name__})",
                            fix=f"pass {name} as a float or one per axis")


def interpolate(
    input: IntOrTuple,
    size: OptionalIntOrTuple = None,
    scale_factor: Union[None, float, Sequence[float]] = None,
    mode: str = "nearest",
    *,
    framework: str = "torch",
) -> ResizeGeometry:
    """Output size of a resize: ``size``, or ``floor(n * scale_factor)`` per axis. PyTorch
    ``F.interpolate`` (``aten/src/ATen/native/UpSample.h upsample_compute_output_size``, in double;
    modes nearest, linear, bilinear, bicubic, trilinear, area, nearest-exact, lanczos) or ONNX
    ``Resize`` (``framework='onnx'``: float32 product, modes nearest, linear, cubic)."""
    dialect = get_dialect(framework)
    if (size is None) == (scale_factor is None):
        raise dialect.reject("give exactly one of size and scale_factor",
                             "only one of size or scale_factor should be defined",
                             "pass size=... or scale_factor=..., not both")
    sizes_in = spatial_sizes("input", input)
    ndim = len(sizes_in)
    mode = as_name("mode", mode)
    if size is not None:
        sizes = per_axis("size", size, ndim, single=False, rule=dialect.axis_count_rule("interpolate", "size", ndim))
        out = dialect.interpolate(sizes_in, sizes, None, mode)
        return ResizeGeometry(sizes_in, out, mode, tuple(o / n for n, o in zip(sizes_in, out)), None, dialect.name)
    scales = _scales(scale_factor, ndim, dialect.axis_count_rule("interpolate", "scale_factor", ndim))
    out = dialect.interpolate(sizes_in, None, scales, mode)
    return ResizeGeometry(sizes_in, out, mode, scales, scales, dialect.name)
