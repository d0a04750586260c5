"""Framework dialects: the one place that knows how PyTorch, TensorFlow/Keras, JAX and ONNX
Runtime turn a layer's parameters into per-side padding and an output size, and what each of
them refuses.

Each dialect is a small class with one method per windowed op (``conv``, ``conv_transpose``,
``max_pool``, ``avg_pool``, ``unfold``). A method takes a normalised :class:`Request` and
returns a :class:`Plan` (per-axis pads, output, and the note explaining the padding), or raises
:class:`~convgeom.errors.GeometryError`. The rest of convgeom never asks which framework it is.
Sources are cited per rule; see ``shared/reference/semantics.md`` for the compiled spec.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..arithmetic import (
    ceil_div,
    conv_output,
    effective_kernel,
    pool_output,
    tdiv,
    transposed_full_output,
)
from ..errors import GeometryError
from ..padding import (
    PadSplit,
    causal_split,
    check_padding_mode,
    explicit_split,
    same_split,
    torch_same_split,
)
from ..params import PADDING_MODES, Padding


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
    output_padding: tuple[int, ...] | None = None
    output_size: tuple[int, ...] | None = None
    count_include_pad: bool | None = None
    divisor: int | None = None
    padding_mode: str = "zeros"
    groups: int = 1
    in_channels: int | None = None
    out_channels: int | None = None

    @property
    def ndim(self) -> int:
        return len(self.input)

    @property
    def effective_kernel(self) -> tuple[int, ...]:
        return tuple(effective_kernel(k, d) for k, d in zip(self.kernel, self.dilation))


@dataclass(frozen=True)
class AxisPlan:
    """What a framework does on one axis. For a transposed conv the pads are the crop of the
    full output ``(n-1)*s + e`` (a negative ``pad_after`` adds cells: output_padding)."""

    pad_before: int
    pad_after: int
    output: int
    note: str
    output_padding: int = 0


@dataclass(frozen=True)
class Plan:
    axes: tuple[AxisPlan, ...]
    notes: tuple[str, ...] = ()
    count_include_pad: bool | None = None


def _fmt(values: tuple[int, ...]) -> str:
    return str(values[0]) if len(values) == 1 else str(values)


def _min_pad_to_fit(n: int, e: int) -> int:
    """Smallest symmetric padding ``p`` with ``n + 2p >= e``."""
    return max(0, ceil_div(e - n, 2))


def _fit_fix(n: int, e: int, k: int, d: int, pads: int) -> str:
    p = _min_pad_to_fit(n, e)
    largest_k = (n + pads - 1) // d + 1
    return f"use padding >= {p} or a kernel <= {largest_k}" + (
        f" (or dilation 1: effective kernel is {e})" if d > 1 else ""
    )


class Dialect:
    """Shared checks and the interface every framework implements."""

    name = "generic"
    label = "generic"
    max_ndim: int | None = None

    # ----- shared checks ------------------------------------------------------------------
    def reject(self, problem: str, rule: str, fix: str, axis: int | None = None) -> GeometryError:
        if axis is None and " on axis " in problem:
            # every per-axis message names its axis as "on axis N"
            tail = problem.rsplit(" on axis ", 1)[1]
            digits = tail[: len(tail) - len(tail.lstrip("0123456789"))]
            axis = int(digits) if digits else None
        return GeometryError(problem, f"{self.label}: {rule}" if rule else self.label, fix, axis=axis)

    def check_common(self, r: Request) -> None:
        what = {"conv": "convolution", "conv_transpose": "transposed convolution"}.get(r.op, r.op)
        if self.max_ndim is not None and r.ndim > self.max_ndim:
            raise self.reject(
                f"{r.ndim}-d {what} is not available",
                f"{self.label} has {what} for 1 to {self.max_ndim} spatial dims",
                "use framework='jax' or 'onnx' for more spatial dims",
            )
        for name, values, low in (
            ("input size", r.input, 1),
            ("kernel size", r.kernel, 1),
            ("stride", r.stride, 1),
            ("dilation", r.dilation, 1),
        ):
            for axis, v in enumerate(values):
                if v < low:
                    raise self.reject(
                        f"{name} must be >= {low}, got {v} on axis {axis}",
                        f"{name}s must be positive",
                        f"use a positive {name}",
                    )
        if r.padding_mode not in PADDING_MODES:
            raise self.reject(
                f"unknown padding_mode {r.padding_mode!r}",
                "padding_mode must be one of " + ", ".join(PADDING_MODES),
                "use padding_mode='zeros', 'reflect', 'replicate' or 'circular'",
            )
        if r.padding_mode != "zeros" and not (self.name == "torch" and r.op == "conv"):
            raise self.reject(
                f"padding_mode={r.padding_mode!r} is not a parameter of this layer",
                "only PyTorch's Conv*d modules take a padding_mode",
                "pad explicitly first (F.pad / tf.pad / jnp.pad / ONNX Pad), then use padding 0",
            )
        if r.op == "conv" and r.groups < 1:
            raise self.reject(
                f"groups must be a positive integer, got {r.groups}", "groups >= 1", "use groups=1"
            )
        if r.op == "conv":
            for name, channels in (("in_channels", r.in_channels), ("out_channels", r.out_channels)):
                if channels is not None and channels % r.groups:
                    raise self.reject(
                        f"{name}={channels} is not divisible by groups={r.groups}",
                        f"{name} must be divisible by groups",
                        f"use groups that divides {channels}",
                    )
        if r.divisor is not None and r.divisor == 0:
            raise self.reject("divisor must not be zero", "divisor must be not zero", "use divisor=None")

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
                )
            splits.append(explicit_split(before, after, label))
        return splits

    # ----- the interface -------------------------------------------------------------------
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

    def plan(self, r: Request) -> Plan:
        self.check_common(r)
        method = {
            "conv": self.conv,
            "conv_transpose": self.conv_transpose,
            "max_pool": self.max_pool,
            "avg_pool": self.avg_pool,
            "unfold": self.unfold,
        }[r.op]
        return method(r)


# =========================================================================================
class Torch(Dialect):
    """PyTorch 2.13: ``torch/nn/modules/conv.py``, ``aten/src/ATen/native/Convolution.cpp``
    (``check_shape_forward``), ``ConvUtils.h``, ``Pool.h``, ``MaxPooling.cpp``, ``AvgPoolKernel.cpp``."""

    name = "torch"
    label = "PyTorch"
    max_ndim = 3

    def _fits(self, r: Request, splits: list[PadSplit]) -> None:
        padded = tuple(n + s.before + s.after for n, s in zip(r.input, splits))
        if any(p < e for p, e in zip(padded, r.effective_kernel)):
            axis = next(i for i, (p, e) in enumerate(zip(padded, r.effective_kernel)) if p < e)
            n, e = r.input[axis], r.effective_kernel[axis]
            raise self.reject(
                f"output would be 0: the padded input ({padded[axis]}) is smaller than the "
                f"dilated kernel ({e}) on axis {axis}",
                "Calculated padded input size per channel: "
                f"({' x '.join(map(str, padded))}). Kernel size: ({' x '.join(map(str, r.effective_kernel))}). "
                "Kernel size can't be greater than actual input size",
                _fit_fix(n, e, r.kernel[axis], r.dilation[axis], splits[axis].before + splits[axis].after),
            )

    def conv(self, r: Request) -> Plan:
        notes: list[str] = []
        p = r.padding
        if p.kind == "string" and p.written != p.name and p.name in ("same", "valid"):
            raise self.reject(
                f"padding={p.written!r} is not spelled as PyTorch expects",
                f"Invalid padding string {p.written!r}, should be one of {{'same', 'valid'}}",
                f"write padding={p.name!r} (lowercase, no spaces)",
            )
        if p.kind == "string":
            if p.name == "valid":
                splits = [explicit_split(0, 0, "PyTorch 'valid'") for _ in r.input]
            elif p.name == "same":
                if any(s != 1 for s in r.stride):
                    tf = [same_split(n, s, e, extra_before=False, label="TF 'same'")
                          for n, s, e in zip(r.input, r.stride, r.effective_kernel)]
                    sym = all(t.before == t.after for t in tf)
                    fix = (
                        f"use padding={_fmt(tuple(t.before for t in tf))} (gives ceil(n/stride) here)"
                        if sym
                        else "pad asymmetrically first with F.pad(x, "
                        + str(tuple(v for t in reversed(tf) for v in (t.before, t.after)))
                        + ") then padding=0 (TensorFlow's 'same')"
                    )
                    raise self.reject(
                        f"padding='same' with stride {_fmt(r.stride)}",
                        "padding='same' is not supported for strided convolutions",
                        fix,
                    )
                splits = [torch_same_split(e) for e in r.effective_kernel]
                if any(s.before != s.after for s in splits):
                    notes.append(
                        "the functional form pads the extra cell with a zero-padded copy of the "
                        "input (warning: 'Using padding='same' with even kernel lengths and odd "
                        "dilation may require a zero-padded copy of the input be created')"
                    )
            else:
                fix = {
                    "full": "use padding=" + _fmt(tuple(e - 1 for e in r.effective_kernel)),
                    "causal": "pad with F.pad(x, ("
                    + ", ".join(f"{e - 1}, 0" for e in reversed(r.effective_kernel))
                    + ")) then padding=0",
                    "same_lower": "pad asymmetrically with F.pad first (extra cell before), then padding=0",
                }[p.name]
                raise self.reject(
                    f"padding={p.name!r} is not a PyTorch padding string",
                    f"Invalid padding string {p.name!r}, should be one of {{'same', 'valid'}}",
                    fix,
                )
        elif p.kind == "raw":
            raise self.reject("RawPads are for JAX's lax.conv_transpose", "", "use integer padding")
        else:
            # Explicit pairs mean F.pad (which crops for negative values); so do non-zero
            # padding modes (conv.py _conv_forward). Only symmetric zero padding reaches
            # check_shape_forward's "negative padding is not supported".
            negative_ok = p.kind == "explicit" or r.padding_mode != "zeros"
            splits = self.pad_splits_from_pairs(r, allow_negative=negative_ok)
            for axis, (n, sp) in enumerate(zip(r.input, splits)):
                if r.padding_mode == "zeros" and n + min(sp.before, 0) + min(sp.after, 0) < 0:
                    raise self.reject(
                        f"negative padding {(sp.before, sp.after)} crops more than the {n} cells of axis {axis}",
                        "F.pad: narrow(): length must be non-negative",
                        f"crop at most {n} cells in total",
                    )
                if n + sp.before + sp.after < 1:
                    raise self.reject(
                        f"negative padding {(sp.before, sp.after)} leaves nothing of the {n} cells of axis {axis}",
                        "F.pad: input is too small / negative padding results in an empty dimension",
                        f"crop at most {n - 1} cells in total",
                    )
            if p.kind == "explicit":
                notes.append(
                    "PyTorch convolutions pad symmetrically; (before, after) pairs mean "
                    "F.pad(x, pads) followed by a padding=0 convolution"
                )
        if r.padding_mode != "zeros":
            for axis, (n, s) in enumerate(zip(r.input, splits)):
                check_padding_mode(r.padding_mode, n, s.before, s.after, axis)
            notes.append(
                f"padding_mode={r.padding_mode!r}: the module calls F.pad(x, pads, "
                f"mode={r.padding_mode!r}) then convolves with padding 0"
            )
        self._fits(r, splits)
        axes = tuple(
            AxisPlan(s.before, s.after, conv_output(n, s.before, s.after, e, st), s.note)
            for n, s, e, st in zip(r.input, splits, r.effective_kernel, r.stride)
        )
        return Plan(axes, tuple(notes))

    def unfold(self, r: Request) -> Plan:
        if r.ndim != 2:
            raise self.reject(
                f"unfold takes 2 spatial dims, got {r.ndim}",
                "nn.Unfold supports 4-D (N, C, H, W) input only",
                "reshape to 2 spatial dims",
            )
        if r.padding.kind not in ("symmetric",):
            raise self.reject("nn.Unfold takes integer padding", "unfold padding is symmetric", "use integers")
        splits = self.pad_splits_from_pairs(r, allow_negative=False)
        outputs = [conv_output(n, s.before, s.after, e, st)
                   for n, s, e, st in zip(r.input, splits, r.effective_kernel, r.stride)]
        if any(o < 1 for o in outputs):
            raise self.reject(
                f"the array of sliding blocks would have shape {tuple(outputs)}",
                "its components must be at least one",
                _fit_fix(r.input[0], r.effective_kernel[0], r.kernel[0], r.dilation[0], 0),
            )
        return Plan(tuple(AxisPlan(s.before, s.after, o, s.note) for s, o in zip(splits, outputs)))

    def conv_transpose(self, r: Request) -> Plan:
        p = r.padding
        if p.kind == "string":
            raise self.reject(
                f"padding={p.name!r} is not accepted by ConvTranspose",
                "ConvTranspose*d takes integer padding only",
                "use integer padding and output_padding (convgeom solve can find them)",
            )
        if p.kind != "symmetric":
            raise self.reject(
                "ConvTranspose*d takes one padding per axis (symmetric crop)",
                "no per-side padding",
                "use symmetric padding and crop the output yourself",
            )
        splits = self.pad_splits_from_pairs(r, allow_negative=False)
        op = r.output_padding or (0,) * r.ndim
        if any(v < 0 for v in op):
            raise self.reject(
                f"negative output_padding {_fmt(op)}", "negative output_padding is not supported", "use output_padding >= 0"
            )
        notes: list[str] = []
        if r.output_size is not None:
            mins = [transposed_full_output(n, s, e) - 2 * sp.before
                    for n, s, e, sp in zip(r.input, r.stride, r.effective_kernel, splits)]
            maxs = [m + s - 1 for m, s in zip(mins, r.stride)]
            if any(not (lo <= want <= hi) for lo, want, hi in zip(mins, r.output_size, maxs)):
                raise self.reject(
                    f"requested an output size of {list(r.output_size)}, but valid sizes range "
                    f"from {mins} to {maxs} (for an input of {list(r.input)})",
                    "ConvTranspose output_size must lie in [min, min + stride - 1]",
                    f"ask for a size between {mins} and {maxs}, or change padding/stride",
                )
            op = tuple(want - lo for want, lo in zip(r.output_size, mins))
            notes.append(
                f"output_size={_fmt(r.output_size)} sets output_padding = output_size - min = {_fmt(op)}"
                " (the range ignores the dilation allowance: max = min + stride - 1)"
            )
        for axis, (v, s, d) in enumerate(zip(op, r.stride, r.dilation)):
            if not (v < s or v < d):
                raise self.reject(
                    f"output_padding {v} on axis {axis} is not smaller than stride {s} or dilation {d}",
                    "output padding must be smaller than either stride or dilation",
                    f"use output_padding <= {max(s, d) - 1}",
                )
        axes = []
        for n, sp, e, st, v in zip(r.input, splits, r.effective_kernel, r.stride, op):
            crop_after = sp.before - v
            out = transposed_full_output(n, st, e) - sp.before - crop_after
            note = (
                f"crop padding={sp.before} from the start and padding - output_padding = "
                f"{sp.before} - {v} = {crop_after} from the end of the full output"
            )
            axes.append(AxisPlan(sp.before, crop_after, out, note, v))
        if any(a.output <= 0 for a in axes):
            raise self.reject(
                f"output size would be {tuple(a.output for a in axes)}",
                "Output size is too small",
                "use less padding or a larger kernel/stride",
            )
        return Plan(tuple(axes), tuple(notes))

    def _pool(self, r: Request, kind: str) -> Plan:
        fn = f"{kind}_pool{r.ndim}d"
        p = r.padding
        if p.kind == "string":
            raise self.reject(
                f"padding={p.name!r} is not accepted by {fn}",
                "PyTorch pooling takes integer padding only",
                "use integer padding (convgeom solve finds the padding for 'same')",
            )
        if p.kind != "symmetric":
            raise self.reject(
                f"{fn} takes one padding per axis (symmetric)",
                "no per-side padding in PyTorch pooling",
                "pad with F.pad first (value=-inf for max pooling), then padding=0",
            )
        splits = self.pad_splits_from_pairs(r, allow_negative=False)
        if kind == "avg" and r.divisor is not None and r.ndim == 1:
            raise self.reject(
                "avg_pool1d has no divisor_override", "F.avg_pool1d / AvgPool1d take no divisor_override",
                "drop divisor, or use a 2-D pool with a size-1 axis",
            )
        if kind == "avg" and any(d != 1 for d in r.dilation):
            raise self.reject("avg_pool has no dilation", "AvgPool*d takes no dilation", "use dilation=1")
        for axis, (sp, k) in enumerate(zip(splits, r.kernel)):
            if sp.before > k // 2:
                raise self.reject(
                    f"padding {sp.before} on axis {axis} is more than half the kernel ({k})",
                    "pad should be smaller than or equal to half of kernel size",
                    f"use padding <= {k // 2} (the limit uses the plain kernel, not the dilated one)",
                )
        if kind == "avg" and r.ndim == 3 and any(n < k for n, k in zip(r.input, r.kernel)):
            raise self.reject(
                f"input {_fmt(r.input)} is smaller than the kernel {_fmt(r.kernel)}",
                "avg_pool3d: input image smaller than kernel size (checked before padding)",
                "use a kernel no larger than the input",
            )
        axes = tuple(
            AxisPlan(sp.before, sp.after, pool_output(n, sp.before, sp.after, e, s, r.ceil_mode), sp.note)
            for n, sp, e, s in zip(r.input, splits, r.effective_kernel, r.stride)
        )
        if any(a.output <= 0 for a in axes):
            axis = next(i for i, a in enumerate(axes) if a.output <= 0)
            raise self.reject(
                f"output size would be {tuple(a.output for a in axes)}: the padded input "
                f"({r.input[axis] + 2 * splits[axis].before}) is smaller than the window "
                f"({r.effective_kernel[axis]}) on axis {axis}",
                "Output size is too small",
                _fit_fix(r.input[axis], r.effective_kernel[axis], r.kernel[axis], r.dilation[axis], 2 * splits[axis].before),
            )
        cip = True if r.count_include_pad is None else r.count_include_pad
        return Plan(axes, count_include_pad=cip if kind == "avg" else None)

    def max_pool(self, r: Request) -> Plan:
        return self._pool(r, "max")

    def avg_pool(self, r: Request) -> Plan:
        return self._pool(r, "avg")


# =========================================================================================
class TensorFlow(Dialect):
    """Keras 3 layers on the TensorFlow backend (Conv*D, Conv*DTranspose, MaxPooling*D,
    AveragePooling*D): ``keras/src/ops/operation_utils.py``, ``layers/convolutional/base_conv.py``,
    ``backend/common/backend_utils.py``; TF SAME from ``kernel_shape_util.cc``."""

    name = "tensorflow"
    label = "Keras/TensorFlow"
    max_ndim = 3

    def _strings(self, r: Request, allowed: tuple[str, ...]) -> str:
        p = r.padding
        if p.kind != "string":
            raise self.reject(
                f"padding {p.describe()} is not a Keras padding mode",
                "Keras layers take padding='valid' or 'same'",
                f"add keras.layers.ZeroPadding{r.ndim}D(padding=...) before a 'valid' layer",
            )
        if p.name not in allowed:
            fix = "use " + " or ".join(repr(a) for a in allowed)
            if p.name == "causal":
                fix = "causal padding exists only for Conv1D; " + fix
            raise self.reject(
                f"padding={p.name!r} is not accepted here",
                "The `padding` argument must be one of {" + ", ".join(repr(a) for a in allowed) + "}",
                fix,
            )
        return p.name

    def _stride_and_dilation(self, r: Request) -> None:
        if max(r.stride) > 1 and max(r.dilation) > 1:
            raise self.reject(
                f"strides={_fmt(r.stride)} with dilation_rate={_fmt(r.dilation)}",
                "`strides > 1` not supported in conjunction with `dilation_rate > 1`",
                "use stride 1 with dilation, or dilation 1 with stride",
            )

    def conv(self, r: Request) -> Plan:
        mode = self._strings(r, ("valid", "same", "causal") if r.ndim == 1 else ("valid", "same"))
        self._stride_and_dilation(r)
        axes = []
        for n, e, s in zip(r.input, r.effective_kernel, r.stride):
            if mode == "same":
                sp = same_split(n, s, e, extra_before=False, label="TF 'SAME'")
            elif mode == "causal":
                sp = causal_split(e)
            else:
                sp = explicit_split(0, 0, "'valid'")
            axes.append(AxisPlan(sp.before, sp.after, conv_output(n, sp.before, sp.after, e, s), sp.note))
        self._positive(r, axes)
        return Plan(tuple(axes))

    def _positive(self, r: Request, axes: list[AxisPlan]) -> None:
        if any(a.output <= 0 for a in axes):
            axis = next(i for i, a in enumerate(axes) if a.output <= 0)
            raise self.reject(
                f"output would be {tuple(a.output for a in axes)}: the input ({r.input[axis]}) is "
                f"smaller than the window ({r.effective_kernel[axis]}) on axis {axis}",
                "Computed output size would be zero or negative",
                "use padding='same' or a kernel <= " + str((r.input[axis] - 1) // r.dilation[axis] + 1),
            )

    def conv_transpose(self, r: Request) -> Plan:
        mode = self._strings(r, ("valid", "same"))
        self._stride_and_dilation(r)
        if r.output_size is not None:
            raise self.reject(
                "Keras Conv*DTranspose has no output_size argument", "", "use output_padding"
            )
        op = r.output_padding
        if op is not None:
            for axis, (v, s) in enumerate(zip(op, r.stride)):
                if v >= s:
                    raise self.reject(
                        f"output_padding {v} on axis {axis} is not smaller than stride {s}",
                        "`output_padding` must be strictly less than `strides` for all dimensions",
                        f"use output_padding <= {s - 1} (Keras gives dilation no allowance)",
                    )
                if v < 0:
                    raise self.reject(f"negative output_padding {v}", "", "use output_padding >= 0")
        axes = []
        for axis, (n, e, s) in enumerate(zip(r.input, r.effective_kernel, r.stride)):
            full = transposed_full_output(n, s, e)
            requested = None if op is None else op[axis]
            if mode == "valid":
                pad: int = max(e, s) - e if requested is None else requested
                out = full + pad
                note = (
                    f"'valid': output = (n-1)*s + e + output_padding = {full} + {pad} = {out}"
                    + (" (output_padding defaults to max(e, s) - e)" if requested is None else "")
                )
            else:
                out = n * s if requested is None else (n - 1) * s + e % 2 + requested
                note = (
                    f"'same': output = n*s = {out}" if requested is None
                    else f"'same': output = (n-1)*s + e%2 + output_padding = {out}"
                )
            consistent = ceil_div(out, s) == n if mode == "same" else full <= out <= full + s - 1
            if out <= 0 or not consistent:
                raise self.reject(
                    f"output {out} on axis {axis} is not an output size whose forward "
                    f"convolution gives the input {n}",
                    "Conv2DBackpropInput: Size of out_backprop doesn't match computed",
                    "change output_padding (try leaving it unset)",
                )
            if mode == "same":
                fwd = same_split(out, s, e, extra_before=False, label="TF 'SAME' of the output")
                crop_before = fwd.before
                note += f"; crop = forward SAME pads of {out}: {fwd.note}"
                implied_op = out - ((n - 1) * s + e % 2)
            else:
                crop_before = 0
                implied_op = out - full
            axes.append(AxisPlan(crop_before, full - out - crop_before, out, note, implied_op))
        notes: tuple[str, ...] = ()
        if any(d > 1 for d in r.dilation):
            notes = ("dilated transposed convolution runs with oneDNN (the x86 default build); TensorFlow's "
                     "reference kernels (TF_ENABLE_ONEDNN_OPTS=0) refuse dilation rates larger than 1",)
        return Plan(tuple(axes), notes)

    def _pool(self, r: Request, kind: str) -> Plan:
        mode = self._strings(r, ("valid", "same"))
        if any(d != 1 for d in r.dilation):
            raise self.reject("Keras pooling has no dilation", "pooling layers take no dilation_rate", "use dilation=1")
        if r.ceil_mode:
            raise self.reject("Keras pooling has no ceil mode", "no ceil_mode", "use padding='same' (rounds up: ceil(n/stride))")
        if kind == "avg" and r.count_include_pad:
            raise self.reject(
                "Keras average pooling never counts padding",
                "AveragePooling excludes padded cells on every backend",
                "leave count_include_pad unset",
            )
        axes = []
        for n, k, s in zip(r.input, r.kernel, r.stride):
            sp = (same_split(n, s, k, extra_before=False, label="TF 'SAME'") if mode == "same"
                  else explicit_split(0, 0, "'valid'"))
            # the pooling kernels divide with truncation (kernel_shape_util.cc): a window larger
            # than the input gives an empty axis, and only a negative size is an error
            axes.append(AxisPlan(sp.before, sp.after, tdiv(n + sp.before + sp.after - k + s, s), sp.note))
        if any(a.output < 0 for a in axes):
            axis = next(i for i, a in enumerate(axes) if a.output < 0)
            raise self.reject(
                f"output would be {tuple(a.output for a in axes)}: the input ({r.input[axis]}) is smaller than "
                f"the window ({r.kernel[axis]}) on axis {axis}",
                "Computed output size would be negative",
                f"use padding='same' or a pool size <= {r.input[axis]}",
            )
        notes: tuple[str, ...] = ()
        if any(a.output == 0 for a in axes):
            notes = ("the window is larger than the input: TensorFlow's reference kernels return an empty axis "
                     "(with oneDNN, the x86 default, a 'valid' max pool of size 0 crashes the process)",)
        return Plan(tuple(axes), notes, count_include_pad=False if kind == "avg" else None)

    def max_pool(self, r: Request) -> Plan:
        return self._pool(r, "max")

    def avg_pool(self, r: Request) -> Plan:
        return self._pool(r, "avg")


# =========================================================================================
class Jax(Dialect):
    """JAX ``lax``: ``conv_general_dilated``, ``conv_transpose`` and ``reduce_window``
    (``jax/_src/lax/lax.py padtype_to_pads``, ``convolution.py _conv_transpose_padding``,
    ``windowed_reductions.py``). Never errors on a too-small input: the output is empty (0)."""

    name = "jax"
    label = "JAX lax"

    def _splits(self, r: Request, window: tuple[int, ...]) -> list[PadSplit]:
        """Per-side pads. conv_general_dilated refuses crops larger than the axis;
        reduce_window does not check (the axis just comes out empty)."""
        p = r.padding
        if p.kind == "raw":
            raise self.reject("RawPads only apply to conv_transpose", "", "use (before, after) pairs")
        if p.kind == "string":
            if p.name not in ("valid", "same", "same_lower"):
                raise self.reject(
                    f"padding={p.name!r} is not a lax padding type",
                    "Unrecognized padding type: expected 'VALID', 'SAME', or 'SAME_LOWER'",
                    "give explicit (before, after) pairs, e.g. causal = ((d*(k-1), 0),)",
                )
            if p.name == "valid":
                return [explicit_split(0, 0, "'VALID'") for _ in r.input]
            lower = p.name == "same_lower"
            return [same_split(n, s, e, extra_before=lower, label="'SAME_LOWER'" if lower else "'SAME'")
                    for n, s, e in zip(r.input, r.stride, window)]
        splits = self.pad_splits_from_pairs(r, allow_negative=True)
        for axis, (n, sp) in enumerate(zip(r.input, splits)):
            if r.op == "conv" and n + sp.before + sp.after < 0:
                raise self.reject(
                    f"negative padding {(sp.before, sp.after)} removes more than the {n} cells of axis {axis}",
                    "Negative padding is larger than the size of the corresponding dimension",
                    f"crop at most {n} cells in total",
                )
        return splits

    def _windowed(self, r: Request, notes: tuple[str, ...] = ()) -> Plan:
        splits = self._splits(r, r.effective_kernel)
        axes = tuple(
            AxisPlan(sp.before, sp.after, max(0, conv_output(n, sp.before, sp.after, e, s)), sp.note)
            for n, sp, e, s in zip(r.input, splits, r.effective_kernel, r.stride)
        )
        extra = ("a window larger than the padded input gives an empty (size 0) axis, not an error",) if any(
            a.output == 0 for a in axes) else ()
        return Plan(axes, notes + extra)

    def conv(self, r: Request) -> Plan:
        return self._windowed(r)

    def conv_transpose(self, r: Request) -> Plan:
        self.check_no_output_padding(r)
        if r.output_size is not None:
            raise self.reject("lax.conv_transpose has no output_size", "", "choose padding for the size you want")
        p = r.padding
        axes = []
        for axis, (n, e, s) in enumerate(zip(r.input, r.effective_kernel, r.stride)):
            dilated = (n - 1) * s + 1
            if p.kind == "string" and p.name == "same":
                total = e + s - 2
                lo = e - 1 if s > e - 1 else ceil_div(total, 2)
                hi = total - lo
                label = f"'SAME': pads on the stride-dilated input L = e+s-2 = {total}, lo = {lo}, hi = {hi}"
            elif p.kind == "string" and p.name == "valid":
                total = e + s - 2 + max(e - s, 0)
                lo, hi = e - 1, total - (e - 1)
                label = f"'VALID': pads on the stride-dilated input L = e+s-2+max(e-s,0) = {total}, lo = e-1 = {lo}, hi = {hi}"
            elif p.kind == "string" and p.name == "same_lower":
                # not a conv_transpose mode: the string goes to conv_general_dilated, which
                # only accepts it when nothing is stride-dilated
                if any(st != 1 for st in r.stride):
                    raise self.reject(
                        f"padding='SAME_LOWER' with stride {_fmt(r.stride)}",
                        "String padding is not implemented for transposed convolution using this op",
                        "use 'same' or 'valid', or give RawPads",
                    )
                fwd = same_split(n, 1, e, extra_before=True, label="'SAME_LOWER' (stride 1: a plain convolution)")
                lo, hi = fwd.before, fwd.after
                label = fwd.note
            elif p.kind == "raw":
                lo, hi = p.pairs[axis]
                label = f"raw pads on the stride-dilated input: lo = {lo}, hi = {hi}"
                if dilated + lo + hi < 0:
                    raise self.reject(
                        f"pads {(lo, hi)} remove more than the dilated input ({dilated})",
                        "Negative padding is larger than the size of the corresponding dimension", "use smaller crops")
            else:
                raise self.reject(
                    f"padding {p.describe()} is ambiguous for lax.conv_transpose",
                    "lax.conv_transpose takes 'SAME', 'VALID' or pads on the stride-dilated input",
                    "use 'same'/'valid' or convgeom.RawPads(((lo, hi), ...))",
                )
            out = max(0, dilated + lo + hi - e + 1)
            crop_before, crop_after = e - 1 - lo, e - 1 - hi
            axes.append(AxisPlan(crop_before, crop_after, out,
                                 f"{label}; crop of the full output = (e-1-lo, e-1-hi) = ({crop_before}, {crop_after})"))
        return Plan(tuple(axes))

    def _pool(self, r: Request, kind: str) -> Plan:
        if r.ceil_mode:
            raise self.reject("lax.reduce_window has no ceil mode", "no ceil_mode",
                              "use 'same' padding or add after-padding explicitly")
        plan = self._windowed(r, ("'SAME' is computed on the undilated operand with the dilated window",))
        if kind == "avg":
            cip = True if r.count_include_pad is None else r.count_include_pad
            return replace(plan, count_include_pad=cip,
                           notes=plan.notes + ("lax.reduce_window(add) sums; dividing by the window size "
                                               "counts pads (flax avg_pool default)" if cip else
                                               "divide by the in-bounds count (Keras-on-JAX behaviour)",))
        return plan

    def max_pool(self, r: Request) -> Plan:
        return self._pool(r, "max")

    def avg_pool(self, r: Request) -> Plan:
        return self._pool(r, "avg")


# =========================================================================================
class Onnx(Dialect):
    """ONNX (opset 19+) as ONNX Runtime 1.31 executes it on CPU. Sources: ORT
    ``core/providers/cpu/nn/conv_attributes.h`` (``ComputePadAndOutputShape``),
    ``pool_attributes.h`` (``ComputeSizePadDilations``), ``conv_transpose_attributes.h``; the
    rules below were confirmed by running ORT (``tools/make_golden.py``). Where ONNX's shape
    inference (``onnx/defs/nn/defs.cc``) disagrees, the runtime wins and the note says so."""

    name = "onnx"
    label = "ONNX Runtime"

    @staticmethod
    def _ort_same(n: int, s: int, k: int, lower: bool, label: str, conv: bool) -> PadSplit:
        """ORT's 'same': ``pad_needed = (ceil(n/s) - 1)*s + k - n`` with the *undilated* kernel
        (negative when ``k < s``), head ``pad_needed/2`` (SAME_UPPER) or ``(pad_needed+1)/2``
        (SAME_LOWER) in C++ truncating division. For a negative ``pad_needed`` the Conv kernel
        starts its windows one cell earlier than that formula, i.e. head ``(pad_needed+1)/2``
        (UPPER) or ``(pad_needed+2)/2`` (LOWER): measured on ORT 1.31 CPU by reading which input
        cell each output took (tools/make_golden.py), not derived from source."""
        target = ceil_div(n, s)
        need = (target - 1) * s + k - n
        shift = 1 if conv and need < 0 else 0
        head = tdiv(need + 1 + shift, 2) if lower else tdiv(need + shift, 2)
        note = (
            f"{label}: pad_needed = (ceil({n}/{s}) - 1)*{s} + k - {n} = {need}"
            + (" (negative: ONNX Runtime does not clip it, the windows shift)" if need < 0 else "")
            + f"; before = {head}, after = {need - head}"
        )
        return PadSplit(head, need - head, note)

    def _auto_pad(self, r: Request, op: str) -> tuple[str, list[PadSplit]]:
        p = r.padding
        if p.kind == "raw":
            raise self.reject("RawPads are for JAX", "", "use explicit (before, after) pairs")
        if p.kind != "string":
            splits = self.pad_splits_from_pairs(r, allow_negative=False)
            return "NOTSET", splits
        if p.name not in ("valid", "same", "same_lower"):
            raise self.reject(
                f"padding={p.name!r} is not an ONNX auto_pad",
                "auto_pad must be NOTSET, SAME_UPPER, SAME_LOWER or VALID",
                "give explicit pads, e.g. causal = pads [d*(k-1), 0]",
            )
        if p.name == "valid":
            return "VALID", [explicit_split(0, 0, "auto_pad=VALID") for _ in r.input]
        lower = p.name == "same_lower"
        label = "auto_pad=SAME_LOWER" if lower else "auto_pad=SAME_UPPER"
        if op == "conv" and any(d != 1 for d in r.dilation):
            raise self.reject(
                f"auto_pad={'SAME_LOWER' if lower else 'SAME_UPPER'} with dilation {_fmt(r.dilation)}",
                "Conv: Dilation not supported for AutoPadType::SAME_UPPER or AutoPadType::SAME_LOWER",
                "give explicit pads (convgeom solve same --framework tensorflow computes them)",
            )
        splits = [self._ort_same(n, s, k, lower, label, conv=op == "conv")
                  for n, s, k in zip(r.input, r.stride, r.kernel)]
        return ("SAME_LOWER" if lower else "SAME_UPPER"), splits

    def conv(self, r: Request) -> Plan:
        mode, splits = self._auto_pad(r, "conv")
        axes = []
        for axis, (n, sp, e, s) in enumerate(zip(r.input, splits, r.effective_kernel, r.stride)):
            padded = n + sp.before + sp.after
            if padded < e:
                raise self.reject(
                    f"output would be empty: the padded input ({padded}) is smaller than the dilated kernel ({e}) on axis {axis}",
                    "Conv: Invalid input shape",
                    _fit_fix(n, e, r.kernel[axis], r.dilation[axis], sp.before + sp.after),
                )
            axes.append(AxisPlan(sp.before, sp.after, conv_output(n, sp.before, sp.after, e, s), sp.note))
        return Plan(tuple(axes))

    def _pool(self, r: Request, kind: str) -> Plan:
        name = "MaxPool" if kind == "max" else "AveragePool"
        mode, splits = self._auto_pad(r, kind)
        if mode == "NOTSET":
            for axis, (sp, k) in enumerate(zip(splits, r.kernel)):
                if sp.before >= k or sp.after >= k:
                    raise self.reject(
                        f"pads {(sp.before, sp.after)} on axis {axis} are not smaller than the kernel ({k})",
                        f"{name}: Pad should be smaller than kernel",
                        f"use pads <= {k - 1}",
                    )
        if kind == "max" and all(d == 1 for d in r.dilation) and any(sp.before < 0 or sp.after < 0 for sp in splits):
            raise self.reject(
                "auto_pad gives a negative pad (kernel smaller than stride)",
                "MaxPool: padding values must be non-negative",
                "use explicit pads or a kernel >= stride",
            )
        axes = []
        for axis, (n, sp, e, s) in enumerate(zip(r.input, splits, r.effective_kernel, r.stride)):
            numerator = n + sp.before + sp.after - e
            if r.ceil_mode:
                o = ceil_div(numerator, s) + 1
                if o > 0 and (o - 1) * s >= n + sp.before:
                    o -= 1
            else:
                o = tdiv(numerator, s) + 1
            if o < 0:
                raise self.reject(
                    f"output size would be negative ({o}) on axis {axis}",
                    f"{name}: invalid output size",
                    _fit_fix(n, e, r.kernel[axis], r.dilation[axis], sp.before + sp.after),
                )
            axes.append(AxisPlan(sp.before, sp.after, o, sp.note))
        notes: tuple[str, ...] = ()
        if any(a.output == 0 for a in axes):
            notes = ("a window larger than the padded input gives an empty (size 0) axis, not an error",)
        cip = bool(r.count_include_pad) if kind == "avg" else None
        return Plan(tuple(axes), notes, count_include_pad=cip)

    def max_pool(self, r: Request) -> Plan:
        return self._pool(r, "max")

    def avg_pool(self, r: Request) -> Plan:
        return self._pool(r, "avg")

    def conv_transpose(self, r: Request) -> Plan:
        p = r.padding
        op = r.output_padding or (0,) * r.ndim
        for axis, (v, s, d) in enumerate(zip(op, r.stride, r.dilation)):
            if v < 0 or v >= max(s, d):
                raise self.reject(
                    f"output_padding {v} on axis {axis} is not in [0, max(stride, dilation)) = [0, {max(s, d)})",
                    "ConvTranspose: output_padding must be less than max(stride, dilation)",
                    f"use output_padding <= {max(s, d) - 1}",
                )
        same = p.kind == "string" and p.name in ("same", "same_lower")
        if p.kind == "string" and p.name not in ("valid", "same", "same_lower"):
            raise self.reject(f"padding={p.name!r} is not an ONNX auto_pad", "auto_pad", "use explicit pads")
        if p.kind == "raw":
            raise self.reject("RawPads are for JAX", "", "use explicit (before, after) pairs")
        if p.kind in ("symmetric", "explicit"):
            # checked even when output_shape makes ORT ignore them
            self.pad_splits_from_pairs(r, allow_negative=False)
        axes = []
        for axis, (n, e, s, v) in enumerate(zip(r.input, r.effective_kernel, r.stride, op)):
            full = transposed_full_output(n, s, e) + v
            if r.output_size is not None:
                out = r.output_size[axis]
                total = max(0, full - out)
                upper = p.kind == "string" and p.name == "same"
                before = total // 2 if upper else total - total // 2
                note = (f"output_shape {out}: total crop = (n-1)*s + e + output_padding - output = {total}; "
                        + ("SAME_UPPER puts the extra crop at the end" if upper else
                           "the extra crop goes at the start (NOTSET, VALID, SAME_LOWER)"))
                after = full - out - before
            elif same:
                out = min(n * s, full)
                total = full - out
                lower = p.name == "same_lower"
                before = total - total // 2 if lower else total // 2
                after = total - before
                note = (f"auto_pad SAME: output = min(n*s, (n-1)*s + e + output_padding) = {out}; crop {total} "
                        + ("(extra at the start: SAME_LOWER)" if lower else "(extra at the end: SAME_UPPER)")
                        + ("; shape inference says n*s, the runtime gives less when e + output_padding < s" if out != n * s else ""))
            elif p.kind == "string":
                before, after, out = 0, 0, full
                note = "auto_pad=VALID: no crop"
            else:
                before, after = p.pairs[axis]
                out = full - before - after
                note = f"pads: crop before = {before}, after = {after}"
            if out <= 0:
                raise self.reject(
                    f"output size would be {out} on axis {axis}", "ConvTranspose: Invalid input shape",
                    "use smaller pads or a larger stride/kernel",
                )
            # ORT then checks that a forward conv of the output gives the input back
            expected = (out + max(0, full - out) - e) // s + 1
            if expected != n:
                raise self.reject(
                    f"output {out} on axis {axis} does not convolve back to the input {n} (it gives {expected})",
                    "ConvTranspose: Computed output shape is inconsistent with input spatial dimensions",
                    f"use output_padding < stride ({s})" if v >= s else "pick an output size that maps back to the input",
                )
            # the crop is reported against the full output without output_padding
            axes.append(AxisPlan(before, after - v, out, note, v))
        return Plan(tuple(axes))


DIALECTS: dict[str, Dialect] = {d.name: d for d in (Torch(), TensorFlow(), Jax(), Onnx())}
ALIASES = {"pytorch": "torch", "tf": "tensorflow", "keras": "tensorflow", "lax": "jax", "ort": "onnx", "onnxruntime": "onnx"}


def canonical_framework(framework: str) -> str:
    """The dialect name ('torch', 'tensorflow', 'jax', 'onnx') for a framework name or alias
    (``ALIASES``: 'pytorch', 'tf', 'keras', 'lax', 'ort', 'onnxruntime'), case-insensitive."""
    key = ALIASES.get(framework.lower(), framework.lower()) if isinstance(framework, str) else ""
    if key not in DIALECTS:
        raise GeometryError(
            f"unknown framework {framework!r}",
            fix="use one of " + ", ".join(repr(k) for k in DIALECTS),
        )
    return key


def get_dialect(framework: str) -> Dialect:
    return DIALECTS[canonical_framework(framework)]
