"""PyTorch 2.13: ``torch/nn/modules/conv.py``, ``aten/src/ATen/native/Convolution.cpp``
(``check_shape_forward``), ``ConvUtils.h``, ``Pool.h``, ``MaxPooling.cpp``, ``AvgPoolKernel.cpp``,
``AdaptivePooling.h``, ``UpSample.h``. Every rule here is checked against live PyTorch by
``tests/test_torch_oracle.py``."""

from __future__ import annotations

import math

from ..arithmetic import to_float32 as _f32
from ..arithmetic import transposed_full_output, windowed_output
from ..padding import (
    PadSplit,
    check_padding_mode,
    explicit_split,
    same_split,
    torch_same_split,
    torch_transpose_split,
)
from ..params import INT64_MAX, Padding
from .base import AxisPlan, Dialect, Plan, Request, fit_fix, fmt

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see convgeom/__init__.py)
if TYPE_CHECKING:
    from typing import Optional

    from ..arithmetic import Rounding
    from .base import ForwardConv

#: F.interpolate's modes, and the spatial dims the ones tied to a dimensionality need
#: (``torch/nn/functional.py interpolate``: "Got 4D input, but linear mode needs 3D input")
RESIZE_MODES = ("nearest", "linear", "bilinear", "bicubic", "trilinear", "area", "nearest-exact", "lanczos")
RESIZE_NDIM = {"linear": 1, "bilinear": 2, "bicubic": 2, "lanczos": 2, "trilinear": 3}


class Torch(Dialect):
    """PyTorch: symmetric integer padding, 'same' only at stride 1, pooling limits ``p <= k/2``,
    errors where the window does not fit."""

    name = "torch"
    label = "PyTorch"
    max_ndim = 3

    # ----- normalisation ------------------------------------------------------------------
    def broadcasts_single(self, op: str) -> frozenset[str]:
        """What live PyTorch 2.13 expands from a 1-tuple (``expand_param_if_needed``,
        ``_pair``): ``F.conv2d(stride=(2,))`` and ``max_pool2d(kernel_size=(2,))`` work;
        ``Conv2d(kernel_size=(3,))`` builds a 1-d weight and fails; ``nn.Unfold``, adaptive
        pooling and ``F.interpolate`` want one value per axis."""
        return {
            "conv": frozenset({"stride", "padding", "dilation"}),
            "conv_transpose": frozenset({"stride", "padding", "dilation", "output_padding"}),
            "max_pool": frozenset({"kernel", "stride", "padding", "dilation"}),
            "avg_pool": frozenset({"kernel", "stride", "padding", "dilation"}),
        }.get(op, frozenset())

    def axis_count_rule(self, op: str, name: str, ndim: int) -> str:
        if op == "unfold":
            return f"PyTorch nn.Unfold: It is expected {name} equals to 2"
        if op in ("conv", "conv_transpose"):
            return (f"PyTorch: expected {name} to be a single integer value or a list of {ndim} values to "
                    "match the convolution dimensions")
        return f"PyTorch: {name} must either be a single int, or a tuple of {ndim} ints"

    def takes_padding_mode(self, op: str) -> bool:
        return op == "conv"

    # ----- convolution --------------------------------------------------------------------
    def conv(self, r: Request) -> Plan:
        splits, notes = self._conv_splits(r)
        if r.padding_mode != "zeros":
            for axis, (n, s) in enumerate(zip(r.input, splits)):
                check_padding_mode(r.padding_mode, n, s.before, s.after, axis)
            notes.append(f"padding_mode={r.padding_mode!r}: the module calls F.pad(x, pads, "
                         f"mode={r.padding_mode!r}) then convolves with padding 0")
        self._fits(r, splits)
        return Plan(self._axes(r, splits, "floor"), tuple(notes))

    def _conv_splits(self, r: Request) -> tuple[list[PadSplit], list[str]]:
        p = r.padding
        if p.kind == "raw":
            raise self.reject("RawPads are for JAX's lax.conv_transpose", "", "use integer padding")
        if p.kind == "string":
            return self._string_splits(r, p)
        # Explicit pairs mean F.pad (which crops for negative values); so do non-zero padding
        # modes (conv.py _conv_forward). Only symmetric zero padding reaches
        # check_shape_forward's "negative padding is not supported".
        splits = self.pad_splits_from_pairs(r, allow_negative=p.kind == "explicit" or r.padding_mode != "zeros")
        self._check_crops(r, splits)
        notes = ["PyTorch convolutions pad symmetrically; (before, after) pairs mean "
                 "F.pad(x, pads) followed by a padding=0 convolution"] if p.kind == "explicit" else []
        return splits, notes

    def _string_splits(self, r: Request, p: Padding) -> tuple[list[PadSplit], list[str]]:
        if p.written != p.name and p.name in ("same", "valid"):
            raise self.reject(
                f"padding={p.written!r} is not spelled as PyTorch expects",
                f"Invalid padding string {p.written!r}, should be one of {{'same', 'valid'}}",
                f"write padding={p.name!r} (lowercase, no spaces)",
            )
        if p.name == "valid":
            return [explicit_split(0, 0, "PyTorch 'valid'") for _ in r.input], []
        if p.name != "same":
            raise self._not_a_padding_string(r, p.name)
        self.check_same_stride(r.input, r.stride, r.effective_kernel)
        splits = [torch_same_split(e) for e in r.effective_kernel]
        notes = ["the functional form pads the extra cell with a zero-padded copy of the input (warning: "
                 "'Using padding='same' with even kernel lengths and odd dilation may require a zero-padded "
                 "copy of the input be created')"] if any(s.before != s.after for s in splits) else []
        return splits, notes

    def check_same_stride(self, input: tuple[int, ...], stride: tuple[int, ...], e: tuple[int, ...]) -> None:
        """``padding='same'`` needs stride 1 on every axis (``conv.py``: "padding='same' is not
        supported for strided convolutions"); the fix gives the pads of TensorFlow's 'same'."""
        if all(s == 1 for s in stride):
            return
        tf = [same_split(n, s, k, extra_before=False, label="TF 'same'") for n, s, k in zip(input, stride, e)]
        if all(t.before == t.after for t in tf):
            fix = f"use padding={fmt(tuple(t.before for t in tf))} (gives ceil(n/stride) here)"
        else:
            pads = tuple(v for t in reversed(tf) for v in (t.before, t.after))
            fix = f"pad asymmetrically first with F.pad(x, {pads}) then padding=0 (TensorFlow's 'same')"
        raise self.reject(f"padding='same' with stride {fmt(stride)}",
                          "padding='same' is not supported for strided convolutions", fix)

    def _not_a_padding_string(self, r: Request, name: str) -> Exception:
        fix = {
            "full": "use padding=" + fmt(tuple(e - 1 for e in r.effective_kernel)),
            "causal": "pad with F.pad(x, (" + ", ".join(f"{e - 1}, 0" for e in reversed(r.effective_kernel))
            + ")) then padding=0",
            "same_lower": "pad asymmetrically with F.pad first (extra cell before), then padding=0",
        }[name]
        return self.reject(f"padding={name!r} is not a PyTorch padding string",
                           f"Invalid padding string {name!r}, should be one of {{'same', 'valid'}}", fix)

    def _check_crops(self, r: Request, splits: list[PadSplit]) -> None:
        """Negative (before, after) pairs crop through F.pad, which needs a non-empty result."""
        for axis, (n, sp) in enumerate(zip(r.input, splits)):
            if r.padding_mode == "zeros" and n + min(sp.before, 0) + min(sp.after, 0) < 0:
                raise self.reject(
                    f"negative padding {(sp.before, sp.after)} crops more than the {n} cells on axis {axis}",
                    "F.pad: narrow(): length must be non-negative", f"crop at most {n} cells in total", axis)
            if n + sp.before + sp.after < 1:
                raise self.reject(
                    f"negative padding {(sp.before, sp.after)} leaves nothing of the {n} cells on axis {axis}",
                    "F.pad: input is too small / negative padding results in an empty dimension",
                    f"crop at most {n - 1} cells in total", axis)

    def _fits(self, r: Request, splits: list[PadSplit]) -> None:
        padded = tuple(n + s.before + s.after for n, s in zip(r.input, splits))
        for axis, (size, e) in enumerate(zip(padded, r.effective_kernel)):
            if size < e:
                raise self.reject(
                    f"output would be 0: the padded input ({size}) is smaller than the dilated kernel ({e}) "
                    f"on axis {axis}",
                    f"Calculated padded input size per channel: ({' x '.join(map(str, padded))}). Kernel size: "
                    f"({' x '.join(map(str, r.effective_kernel))}). Kernel size can't be greater than actual input size",
                    fit_fix(r.input[axis], e, r.kernel[axis], r.dilation[axis], splits[axis].before + splits[axis].after),
                    axis,
                )

    def _axes(self, r: Request, splits: list[PadSplit], rounding: Rounding) -> tuple[AxisPlan, ...]:
        return tuple(
            AxisPlan(s.before, s.after, windowed_output(n, s.before, s.after, e, st, rounding), s.note,
                     rounding=rounding)
            for n, s, e, st in zip(r.input, splits, r.effective_kernel, r.stride)
        )

    # ----- unfold -------------------------------------------------------------------------
    def unfold(self, r: Request) -> Plan:
        if r.ndim != 2:
            raise self.reject(f"unfold takes 2 spatial dims, got {r.ndim}",
                              "nn.Unfold supports 4-D (N, C, H, W) input only", "reshape to 2 spatial dims")
        if r.padding.kind != "symmetric":
            raise self.reject("nn.Unfold takes integer padding", "unfold padding is symmetric", "use integers")
        splits = self.pad_splits_from_pairs(r, allow_negative=False)
        axes = self._axes(r, splits, "floor")
        for axis, a in enumerate(axes):
            if a.output < 1:
                raise self.reject(
                    f"the array of sliding blocks would have shape {tuple(x.output for x in axes)} on axis {axis}",
                    "its components must be at least one",
                    fit_fix(r.input[axis], r.effective_kernel[axis], r.kernel[axis], r.dilation[axis], 0),
                    axis,
                )
        return Plan(axes)

    # ----- transposed convolution ---------------------------------------------------------
    def conv_transpose(self, r: Request) -> Plan:
        self._transpose_padding(r)
        splits = self.pad_splits_from_pairs(r, allow_negative=False)
        op, notes = self._output_padding(r, splits)
        axes = []
        for n, sp, e, st, v in zip(r.input, splits, r.effective_kernel, r.stride, op):
            crop = torch_transpose_split(sp.before, v)
            out = transposed_full_output(n, st, e) - crop.before - crop.after
            axes.append(AxisPlan(crop.before, crop.after, out, crop.note, v, "exact"))
        onednn = self._onednn_transpose(r, op)
        for axis, a in enumerate(axes):
            if a.output < 0 or (a.output == 0 and not onednn):
                raise self.reject(
                    f"output size would be {tuple(x.output for x in axes)} on axis {axis}",
                    "oneDNN: could not construct a memory descriptor using a format tag (float64: Output size is "
                    "too small)" if onednn and a.output < 0 else "Output size is too small",
                    "use less padding or a larger kernel/stride" + (
                        "" if a.output < 0 else " (an output of 0 is an empty tensor only on PyTorch's oneDNN path: "
                        "float32 with batch > 1, groups > 1 or a kernel > 3 on the last two axes, "
                        "and output_padding < stride)"), axis)
        if onednn and any(a.output == 0 for a in axes):
            notes.append(f"the output is empty on axis {', '.join(str(i) for i, a in enumerate(axes) if a.output == 0)}"
                         f": PyTorch's oneDNN kernel, which float32 input takes here ({onednn}), returns an empty "
                         "tensor; float64 input takes the native kernel, which raises 'Output size is too small'")
        return Plan(tuple(axes), tuple(notes))

    def _onednn_transpose(self, r: Request, output_padding: tuple[int, ...]) -> str:
        """Why PyTorch 2.13 on CPU runs this transposed conv with oneDNN, or "" when it runs the
        native ``slow_conv_transpose2d/3d`` kernel. It matters for an output of size 0 only:
        oneDNN returns an empty tensor, the native kernel raises "Output size is too small".
        ``ConvParams::use_mkldnn`` (``aten/src/ATen/native/Convolution.cpp``): float32 input, no
        ``output_padding >= stride`` (``is_output_padding_big``), and, on the 2-D view (a 1-D
        conv runs as 2-D with a unit height), ``groups > 1`` or a kernel > 3 on both last axes or
        batch > 1 or ``N*C*size(2)*size(3) > 20480``. Assumed: float32 (torch's default dtype),
        batch 1, channels = groups, more than one intra-op thread (the default; with one thread a
        kernel 1 on both last axes at stride 1 and dilation 1 also runs natively). Checked against
        live PyTorch by ``tests/test_torch_oracle.py``."""
        if any(v >= s for v, s in zip(output_padding, r.stride)):
            return ""
        kernel = (1,) * (2 - r.ndim) + r.kernel
        size = (1,) * (2 - r.ndim) + r.input
        if r.groups > 1:
            return "groups > 1"
        if min(kernel[-2:]) > 3:
            return "a kernel > 3 on the last two axes"
        if r.groups * size[0] * size[1] > 20480:
            return "N*C*size(2)*size(3) > 20480"
        return ""

    def _transpose_padding(self, r: Request) -> None:
        p = r.padding
        if p.kind == "string":
            raise self.reject(f"padding={p.name!r} is not accepted by ConvTranspose",
                              "ConvTranspose*d takes integer padding only",
                              "use integer padding and output_padding (convgeom solve can find them)")
        if p.kind != "symmetric":
            raise self.reject("ConvTranspose*d takes one padding per axis (symmetric crop)", "no per-side padding",
                              "use symmetric padding and crop the output yourself")

    def _output_padding(self, r: Request, splits: list[PadSplit]) -> tuple[tuple[int, ...], list[str]]:
        """output_padding as given, or derived from ``output_size`` (``conv.py _output_padding``:
        valid sizes are ``[min, min + stride - 1]``, ignoring the dilation allowance); then the
        rule ``output_padding < stride or < dilation``."""
        op = r.output_padding or (0,) * r.ndim
        if any(v < 0 for v in op):
            raise self.reject(f"negative output_padding {fmt(op)}", "negative output_padding is not supported",
                              "use output_padding >= 0")
        notes = []
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
            notes.append(f"output_size={fmt(r.output_size)} sets output_padding = output_size - min = {fmt(op)}"
                         " (the range ignores the dilation allowance: max = min + stride - 1)")
        for axis, (v, s, d) in enumerate(zip(op, r.stride, r.dilation)):
            if not (v < s or v < d):
                raise self.reject(
                    f"output_padding {v} on axis {axis} is not smaller than stride {s} or dilation {d}",
                    "output padding must be smaller than either stride or dilation",
                    f"use output_padding <= {max(s, d) - 1}", axis)
        return op, notes

    def inverse_transpose(self, forward: ForwardConv) -> Request:
        """Same kernel, stride, dilation and padding; ``output_padding = n - ((o-1)*s + e - 2p)``,
        the cells the forward conv's floor division dropped."""
        if any(b != a for b, a in forward.pad):
            raise self.reject("PyTorch ConvTranspose has symmetric padding only; this conv pads asymmetrically",
                              "", "crop the transposed output instead, or use symmetric padding")
        op = tuple(n - ((o - 1) * s + e - 2 * before) for n, o, s, e, (before, _) in
                   zip(forward.input, forward.output, forward.stride, forward.effective_kernel, forward.pad))
        return Request("conv_transpose", forward.output, forward.kernel, forward.stride, forward.dilation,
                       Padding("symmetric", pairs=forward.pad), output_padding=op)

    # ----- pooling ------------------------------------------------------------------------
    def max_pool(self, r: Request) -> Plan:
        return self._pool(r, "max")

    def avg_pool(self, r: Request) -> Plan:
        return self._pool(r, "avg")

    def _pool(self, r: Request, kind: str) -> Plan:
        splits = self._pool_padding(r, f"{kind}_pool{r.ndim}d")
        self._pool_limits(r, splits, kind)
        axes = self._axes(r, splits, "ceil" if r.ceil_mode else "floor")
        for axis, a in enumerate(axes):
            if a.output <= 0:
                raise self.reject(
                    f"output size would be {tuple(x.output for x in axes)}: the padded input "
                    f"({r.input[axis] + 2 * splits[axis].before}) is smaller than the window "
                    f"({r.effective_kernel[axis]}) on axis {axis}",
                    "Output size is too small",
                    fit_fix(r.input[axis], r.effective_kernel[axis], r.kernel[axis], r.dilation[axis],
                            2 * splits[axis].before),
                    axis,
                )
        cip = True if r.count_include_pad is None else r.count_include_pad
        return Plan(axes, count_include_pad=cip if kind == "avg" else None)

    def _pool_padding(self, r: Request, fn: str) -> list[PadSplit]:
        p = r.padding
        if p.kind == "string":
            raise self.reject(f"padding={p.name!r} is not accepted by {fn}", "PyTorch pooling takes integer padding only",
                              "use integer padding (convgeom solve finds the padding for 'same')")
        if p.kind != "symmetric":
            raise self.reject(f"{fn} takes one padding per axis (symmetric)", "no per-side padding in PyTorch pooling",
                              "pad with F.pad first (value=-inf for max pooling), then padding=0")
        return self.pad_splits_from_pairs(r, allow_negative=False)

    def _pool_limits(self, r: Request, splits: list[PadSplit], kind: str) -> None:
        if kind == "avg" and r.divisor is not None and r.ndim == 1:
            raise self.reject("avg_pool1d has no divisor_override", "F.avg_pool1d / AvgPool1d take no divisor_override",
                              "drop divisor, or use a 2-D pool with a size-1 axis")
        if kind == "avg" and any(d != 1 for d in r.dilation):
            raise self.reject("avg_pool has no dilation", "AvgPool*d takes no dilation", "use dilation=1")
        for axis, (sp, k) in enumerate(zip(splits, r.kernel)):
            if sp.before > k // 2:
                raise self.reject(
                    f"padding {sp.before} on axis {axis} is more than half the kernel ({k})",
                    "pad should be smaller than or equal to half of kernel size",
                    f"use padding <= {k // 2} (the limit uses the plain kernel, not the dilated one)", axis)
        if kind == "avg" and r.ndim == 3 and any(n < k for n, k in zip(r.input, r.kernel)):
            raise self.reject(f"input {fmt(r.input)} is smaller than the kernel {fmt(r.kernel)}",
                              "avg_pool3d: input image smaller than kernel size (checked before padding)",
                              "use a kernel no larger than the input")

    # ----- adaptive pooling and interpolate -----------------------------------------------
    def adaptive_pool(self, op: str, input: tuple[int, ...], output_size: tuple[Optional[int], ...]) -> tuple[int, ...]:
        """``AdaptiveAvgPool*d`` / ``AdaptiveMaxPool*d``: one output size per axis (``None`` keeps
        the axis, 2-D/3-D only); input sizes >= 1, output sizes >= 0 (``AdaptivePooling.h``)."""
        self.check_ndim(op, len(input))
        if len(input) == 1 and None in output_size:
            raise self.reject(f"{op} 1-D output_size must be an int",
                              f"{op}1d: argument 'output_size' must be tuple of ints",
                              "give the output size (None keeps an axis only for 2-D/3-D pools)")
        for axis, (n, o) in enumerate(zip(input, output_size)):
            if n < 1:
                raise self.reject(f"input size must be >= 1, got {n} on axis {axis}",
                                  f"{op}: Expected input to have non-zero size for non-batch dimensions",
                                  "use a non-empty input", axis)
            if o is not None and o < 0:
                raise self.reject(f"output size must be >= 0, got {o} on axis {axis}",
                                  f"{op}: elements of output_size must be greater than or equal to 0",
                                  "use a non-negative output size", axis)
        return tuple(n if o is None else o for n, o in zip(input, output_size))

    def interpolate(self, input: tuple[int, ...], size: Optional[tuple[int, ...]],
                    scale: Optional[tuple[float, ...]], mode: str) -> tuple[int, ...]:
        """``F.interpolate``: ``size``, or ``floor(n * scale_factor)`` in double precision
        (``UpSample.h upsample_compute_output_size``); input and output sizes > 0."""
        self._check_mode(mode, len(input))
        for axis, n in enumerate(input):
            if n < 1:
                raise self.reject(f"input size must be >= 1, got {n} on axis {axis}",
                                  "F.interpolate: Input and output sizes should be greater than 0",
                                  "use a non-empty input", axis)
        if size is not None:
            out = size
        else:
            assert scale is not None
            if any(not math.isfinite(f) or f <= 0 for f in scale):
                shown_scale = scale[0] if len(scale) == 1 else scale
                raise self.reject(f"scale_factor must be positive, got {shown_scale}", "", "use a scale > 0")
            products = [n * f for n, f in zip(input, scale)]
            if any(not math.isfinite(v) or v > INT64_MAX for v in products):
                raise self.reject(f"output size {max(products):g} does not fit in int64",
                                  "upsample_compute_output_size: value cannot be converted to type int64_t",
                                  "use a smaller scale_factor")
            out = tuple(math.floor(v) for v in products)
        for axis, (n, o) in enumerate(zip(input, out)):
            if o < 1:
                raise self.reject(f"input ({n}) and output ({o}) sizes must be > 0 on axis {axis}",
                                  "F.interpolate: Input and output sizes should be greater than 0",
                                  "use a larger scale_factor or size", axis)
        return out

    def _check_mode(self, mode: str, ndim: int) -> None:
        if mode not in RESIZE_MODES:
            raise self.reject(f"unknown interpolate mode {mode!r}",
                              "F.interpolate modes: " + " | ".join(RESIZE_MODES), "use one of those (case-sensitive)")
        self.check_ndim("interpolate", ndim)
        want = RESIZE_NDIM.get(mode)
        if want is not None and want != ndim:
            raise self.reject(f"mode {mode!r} resizes {want} spatial dims, the input has {ndim}",
                              f"F.interpolate: Got {ndim + 2}D input, but {mode} mode needs {want + 2}D input",
                              "use mode='nearest' or the mode for this many dims")

    def resize_source_indices(self, n: int, o: int, scale: Optional[float], mode: str, ndim: int) -> tuple[int, ...]:
        """``nearest``: ``min(floor(y * q), n-1)``; ``nearest-exact``: ``floor((y + 0.5) * q)``,
        with ``q = 1/scale_factor`` when a scale was given, else ``n/o``, in float32 as PyTorch
        computes it (``aten/src/ATen/native/UpSample.h`` ``compute_scales_value``,
        ``nearest_idx``, ``nearest_neighbor_exact_compute_source_index``)."""
        if mode not in ("nearest", "nearest-exact"):
            raise self.reject(f"mode {mode!r} blends several inputs per output", "source indices are for nearest modes",
                              "use mode='nearest' or 'nearest-exact'")
        q = _f32(1.0 / scale) if scale else _f32(_f32(n) / o)
        if mode == "nearest-exact":
            return tuple(min(n - 1, math.floor(_f32(_f32(y + 0.5) * q))) for y in range(o))
        if ndim == 2 and o in (n, 2 * n):
            # the 2-D CPU kernel goes through nearest_idx, which special-cases scale 1 and 2
            return tuple(range(o)) if o == n else tuple(y >> 1 for y in range(o))
        return tuple(min(n - 1, math.floor(_f32(_f32(y) * q))) for y in range(o))
