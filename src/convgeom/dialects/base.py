"""The dialect interface: the normalised :class:`Request` a dialect reads, the :class:`Plan`
(per-axis :class:`AxisPlan`) it returns, and :class:`Dialect`, the checks every framework shares
plus one method per op. Each framework's module subclasses :class:`Dialect`; the registry and
the one alias table are in :mod:`convgeom.dialects`.
"""

from __future__ import annotations

from ..arithmetic import ceil_div, effective_kernel
from ..errors import GeometryError
from ..padding import PadSplit, explicit_split
from ..params import INT64_MAX, PADDING_MODES, Padding

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see convgeom/__init__.py)
if TYPE_CHECKING:
    from collections.abc import Callable
    from dataclasses import dataclass
    from typing import Optional, Protocol

    from ..arithmetic import Rounding
else:
    from ..frozen import dataclass  # the same frozen dataclasses, without importing dataclasses

    Protocol = object  # ForwardConv is only ever an annotation: no need for typing at run time

#: what the messages call each windowed op
OP_TITLES = {"conv": "convolution", "conv_transpose": "transposed convolution", "max_pool": "max pooling",
             "avg_pool": "average pooling", "unfold": "unfold"}


class ForwardConv(Protocol):
    """What :meth:`Dialect.inverse_transpose` reads of a forward convolution, one entry per axis
    (:class:`convgeom.geometry.LayerGeometry` has all of it; the dialects never import geometry)."""

    @property
    def input(self) -> tuple[int, ...]: ...
    @property
    def output(self) -> tuple[int, ...]: ...
    @property
    def kernel(self) -> tuple[int, ...]: ...
    @property
    def stride(self) -> tuple[int, ...]: ...
    @property
    def dilation(self) -> tuple[int, ...]: ...
    @property
    def effective_kernel(self) -> tuple[int, ...]: ...
    @property
    def pad(self) -> tuple[tuple[int, int], ...]: ...
    @property
    def padding(self) -> Padding: ...


@dataclass(frozen=True)
class Request:
    """A windowed layer's parameters, normalised to one int per spatial axis."""

    op: str
    input: tuple[int, ...]
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    padding: Padding
    ceil_mode: bool = False
    output_padding: Optional[tuple[int, ...]] = None
    output_size: Optional[tuple[int, ...]] = None
    count_include_pad: Optional[bool] = None
    divisor: Optional[int] = None
    padding_mode: str = "zeros"
    groups: int = 1
    in_channels: Optional[int] = None
    out_channels: Optional[int] = None

    @property
    def ndim(self) -> int:
        return len(self.input)

    @property
    def effective_kernel(self) -> tuple[int, ...]:
        return tuple(effective_kernel(k, d) for k, d in zip(self.kernel, self.dilation))


@dataclass(frozen=True)
class AxisPlan:
    """What a framework does on one axis. For a transposed conv the pads are the crop of the
    full output ``(n-1)*s + e`` (a negative ``pad_after`` adds cells: output_padding).
    ``rounding`` is the rule that gave ``output`` (:data:`convgeom.arithmetic.Rounding`)."""

    pad_before: int
    pad_after: int
    output: int
    note: str
    output_padding: int = 0
    rounding: Rounding = "floor"


@dataclass(frozen=True)
class Plan:
    axes: tuple[AxisPlan, ...]
    notes: tuple[str, ...] = ()
    count_include_pad: Optional[bool] = None


def fmt(values: tuple[int, ...]) -> str:
    """One value as itself, several as a tuple (how the messages print per-axis values)."""
    return str(values[0]) if len(values) == 1 else str(values)


def fit_fix(n: int, e: int, k: int, d: int, pads: int) -> str:
    """The fix for a window larger than the padded input: the smallest symmetric padding
    ``p`` with ``n + 2p >= e``, or the largest kernel that fits."""
    p = max(0, ceil_div(e - n, 2))
    largest_k = (n + pads - 1) // d + 1
    return f"use padding >= {p} or a kernel <= {largest_k}" + (
        f" (or dilation 1: effective kernel is {e})" if d > 1 else ""
    )


class Dialect:
    """Shared checks and the interface every framework implements.

    Windowed ops (``conv``, ``conv_transpose``, ``max_pool``, ``avg_pool``, ``unfold``) take a
    :class:`Request` and return a :class:`Plan` or raise :class:`GeometryError`; ``plan`` runs
    the shared checks first. The other ops (adaptive pooling, resizing, the inverse transposed
    conv) have their own methods. A framework that lacks an op refuses it in one line.
    """

    name = "generic"
    label = "generic"
    max_ndim: Optional[int] = None

    # ----- shared checks ------------------------------------------------------------------
    def reject(self, problem: str, rule: str, fix: str, axis: Optional[int] = None) -> GeometryError:
        """The error for a refused configuration; ``axis`` is the spatial axis at fault (the
        tracers read it from ``GeometryError.axis``)."""
        return GeometryError(problem, f"{self.label}: {rule}" if rule else self.label, fix, axis=axis)

    def broadcasts_single(self, op: str) -> frozenset[str]:
        """Parameters of ``op`` for which a 1-tuple stands for every axis. None by default:
        Keras (``standardize_tuple``), ``lax`` and ONNX attributes want one value per axis."""
        return frozenset()

    def axis_count_rule(self, op: str, name: str, ndim: int) -> str:
        """The framework rule quoted when a per-axis value has the wrong number of entries."""
        return f"{self.label}: {name} takes one value per spatial axis ({ndim}) or a single int"

    def check_ndim(self, op: str, ndim: int) -> None:
        if self.max_ndim is not None and ndim > self.max_ndim:
            what = OP_TITLES.get(op, op)
            raise self.reject(
                f"{ndim}-d {what} is not available",
                f"{self.label} has {what} for 1 to {self.max_ndim} spatial dims",
                "use framework='jax' or 'onnx' for more spatial dims",
            )

    def check_common(self, r: Request) -> None:
        """Checks every framework makes: dimensionality, positive sizes, the padding mode,
        groups against channels, a non-zero divisor."""
        self.check_ndim(r.op, r.ndim)
        self._check_positive(r)
        if r.padding_mode not in PADDING_MODES:
            raise self.reject(
                f"unknown padding_mode {r.padding_mode!r}",
                "padding_mode must be one of " + ", ".join(PADDING_MODES),
                "use padding_mode='zeros', 'reflect', 'replicate' or 'circular'",
            )
        if r.padding_mode != "zeros" and not self.takes_padding_mode(r.op):
            raise self.reject(
                f"padding_mode={r.padding_mode!r} is not a parameter of this layer",
                "only PyTorch's Conv*d modules take a padding_mode",
                "pad explicitly first (F.pad / tf.pad / jnp.pad / ONNX Pad), then use padding 0",
            )
        if r.op == "conv":
            self._check_groups(r)
        if r.divisor is not None and r.divisor == 0:
            raise self.reject("divisor must not be zero", "divisor must be not zero", "use divisor=None")

    def takes_padding_mode(self, op: str) -> bool:
        """Whether ``op`` has a ``padding_mode`` other than zeros (PyTorch's Conv*d only)."""
        return False

    def _check_positive(self, r: Request) -> None:
        for name, values in (("input size", r.input), ("kernel size", r.kernel), ("stride", r.stride),
                             ("dilation", r.dilation)):
            for axis, v in enumerate(values):
                if v < 1:
                    raise self.reject(f"{name} must be >= 1, got {v} on axis {axis}",
                                      f"{name}s must be positive", f"use a positive {name}", axis)
        for axis, e in enumerate(r.effective_kernel):
            if e > INT64_MAX:
                raise self.reject(
                    f"the dilated kernel d*(k-1)+1 = {e} on axis {axis} does not fit in int64",
                    "sizes are int64", "use a smaller kernel or dilation", axis)

    def _check_groups(self, r: Request) -> None:
        if r.groups < 1:
            raise self.reject(f"groups must be a positive integer, got {r.groups}", "groups >= 1", "use groups=1")
        for name, channels in (("in_channels", r.in_channels), ("out_channels", r.out_channels)):
            if channels is not None and channels % r.groups:
                raise self.reject(
                    f"{name}={channels} is not divisible by groups={r.groups}",
                    f"{name} must be divisible by groups",
                    f"use groups that divides {channels}",
                )

    def check_no_output_padding(self, r: Request) -> None:
        if r.output_padding is not None and any(r.output_padding):
            raise self.reject(
                "output_padding is not a parameter of this framework's transposed convolution",
                "no output_padding",
                "leave output_padding unset and choose padding to get the size you want",
            )

    def pad_splits_from_pairs(self, r: Request, allow_negative: bool) -> list[PadSplit]:
        label = "explicit" if r.padding.kind == "explicit" else "symmetric"
        splits = []
        for axis, (before, after) in enumerate(r.padding.pairs):
            if not allow_negative and (before < 0 or after < 0):
                raise self.reject(
                    f"negative padding {(before, after)} on axis {axis}",
                    "negative padding is not supported",
                    "use padding >= 0, or crop the input first",
                    axis,
                )
            splits.append(explicit_split(before, after, label))
        return splits

    def check_int64(self, r: Request, plan: Plan) -> None:
        """Every size the plan computes is an int64 in the framework too."""
        for axis, (n, a) in enumerate(zip(r.input, plan.axes)):
            for what, value in (("output size", a.output), ("padded input", n + a.pad_before + a.pad_after)):
                if abs(value) > INT64_MAX:
                    raise self.reject(f"the {what} {value} on axis {axis} does not fit in int64",
                                      "sizes are int64", "use smaller sizes, strides or padding", axis)

    # ----- windowed ops -------------------------------------------------------------------
    def plan(self, r: Request) -> Plan:
        """Check ``r`` and plan it with the op's method."""
        self.check_common(r)
        methods: dict[str, Callable[[Request], Plan]] = {
            "conv": self.conv, "conv_transpose": self.conv_transpose, "max_pool": self.max_pool,
            "avg_pool": self.avg_pool, "unfold": self.unfold,
        }
        plan = methods[r.op](r)
        self.check_int64(r, plan)
        return plan

    def conv(self, r: Request) -> Plan:
        raise NotImplementedError

    def conv_transpose(self, r: Request) -> Plan:
        raise NotImplementedError

    def max_pool(self, r: Request) -> Plan:
        raise NotImplementedError

    def avg_pool(self, r: Request) -> Plan:
        raise NotImplementedError

    def unfold(self, r: Request) -> Plan:
        raise self.reject(
            "unfold (im2col blocks) is a PyTorch operation", "no unfold", "use framework='torch'"
        )

    # ----- ops that are not one (kernel, stride, padding) ---------------------------------
    def adaptive_pool(self, op: str, input: tuple[int, ...], output_size: tuple[Optional[int], ...]) -> tuple[int, ...]:
        """Output sizes of adaptive pooling (``None`` entries keep the input size)."""
        raise self.reject(f"{op} is not a {self.label} operation", "no adaptive pooling",
                          "use framework='torch' (PyTorch's AdaptiveAvgPool/AdaptiveMaxPool)")

    def interpolate(self, input: tuple[int, ...], size: Optional[tuple[int, ...]],
                    scale: Optional[tuple[float, ...]], mode: str) -> tuple[int, ...]:
        """Output sizes of a resize (exactly one of ``size`` and ``scale`` is given)."""
        raise self.reject(f"interpolate is not modelled for {self.label}", "no interpolate",
                          "use framework='torch' (F.interpolate) or framework='onnx' (Resize)")

    def resize_source_indices(self, n: int, o: int, scale: Optional[float], mode: str, ndim: int) -> tuple[int, ...]:
        """The input index each output of a nearest resize reads."""
        raise self.reject(f"source indices of a {self.label} resize are not modelled", "no index map",
                          "use framework='torch'")

    def inverse_transpose(self, forward: ForwardConv) -> Request:
        """The transposed convolution whose output restores ``forward``'s input size."""
        raise self.reject(
            f"inverse_transpose is not defined for framework {self.name!r}", "",
            "use framework 'torch', 'tensorflow' or 'onnx'",
        )
