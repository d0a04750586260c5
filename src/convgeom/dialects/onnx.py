"""ONNX (opset 19+) as ONNX Runtime 1.31 executes it on CPU. Sources: ORT
``core/providers/cpu/nn/conv_attributes.h`` (``ComputePadAndOutputShape``),
``pool_attributes.h`` (``ComputeSizePadDilations``), ``conv_transpose_attributes.h``; the rules
were confirmed by running ORT (``tools/make_golden.py``, ``tests/golden/onnx.json``). Where
ONNX's shape inference (``onnx/defs/nn/defs.cc``) disagrees, the runtime wins and the note
says so."""

from __future__ import annotations

import math

from ..arithmetic import to_float32, transposed_full_output, windowed_output
from ..padding import (
    PadSplit,
    explicit_split,
    ort_output_shape_split,
    ort_same_split,
    ort_transpose_same_split,
)
from ..params import INT64_MAX, Padding
from .base import AxisPlan, Dialect, Plan, Request, fit_fix, fmt

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see convgeom/__init__.py)
if TYPE_CHECKING:
    from typing import Optional

    from ..arithmetic import Rounding
    from .base import ForwardConv

EMPTY_NOTE = "a window larger than the padded input gives an empty (size 0) axis, not an error"
#: measured on ONNX Runtime 1.32 CPU (tests/test_dialect_onnx.py): the dilated MaxPool kernel
#: clamps taps to the input only, AveragePool to ``n + pad_after``
MAXPOOL_TAIL_NOTE = ("a negative pad_after sets the output size only: ONNX Runtime's dilated MaxPool reads taps up "
                     "to the end of the input (AveragePool stops at n + pad_after)")
#: Resize modes, and the spatial dims each supports (``upsamplebase.h ScalesValidation``:
#: 'Linear' 1-3 spatial dims, 'Cubic' 2; measured on ONNX Runtime 1.31)
RESIZE_MODES = {"nearest": (1, None), "linear": (1, 3), "cubic": (2, 2)}


class Onnx(Dialect):
    """ONNX Runtime: explicit non-negative pads or auto_pad; Conv errors where the window does
    not fit, pools truncate (a partial window or an empty axis)."""

    name = "onnx"
    label = "ONNX Runtime"

    def _auto_pad(self, r: Request, op: str) -> tuple[str, list[PadSplit]]:
        p = r.padding
        if p.kind == "raw":
            raise self.reject("RawPads are for JAX", "", "use explicit (before, after) pairs")
        if p.kind != "string":
            return "NOTSET", self.pad_splits_from_pairs(r, allow_negative=False)
        if p.name not in ("valid", "same", "same_lower"):
            raise self.reject(
                f"padding={p.name!r} is not an ONNX auto_pad",
                "auto_pad must be NOTSET, SAME_UPPER, SAME_LOWER or VALID",
                "give explicit pads, e.g. causal = pads [d*(k-1), 0]",
            )
        if p.name == "valid":
            return "VALID", [explicit_split(0, 0, "auto_pad=VALID") for _ in r.input]
        mode = "SAME_LOWER" if p.name == "same_lower" else "SAME_UPPER"
        if op == "conv" and any(d != 1 for d in r.dilation):
            raise self.reject(
                f"auto_pad={mode} with dilation {fmt(r.dilation)}",
                "Conv: Dilation not supported for AutoPadType::SAME_UPPER or AutoPadType::SAME_LOWER",
                "give explicit pads (convgeom solve same --framework tensorflow computes them)",
            )
        return mode, [ort_same_split(n, s, k, lower=mode == "SAME_LOWER", label=f"auto_pad={mode}", conv=op == "conv")
                      for n, s, k in zip(r.input, r.stride, r.kernel)]

    # ----- convolution --------------------------------------------------------------------
    def conv(self, r: Request) -> Plan:
        _, splits = self._auto_pad(r, "conv")
        for axis, (n, sp, e) in enumerate(zip(r.input, splits, r.effective_kernel)):
            padded = n + sp.before + sp.after
            if padded < e:
                raise self.reject(
                    f"output would be empty: the padded input ({padded}) is smaller than the dilated kernel ({e}) "
                    f"on axis {axis}",
                    "Conv: Invalid input shape",
                    fit_fix(n, e, r.kernel[axis], r.dilation[axis], sp.before + sp.after),
                    axis,
                )
        return Plan(tuple(AxisPlan(sp.before, sp.after, windowed_output(n, sp.before, sp.after, e, s, "floor"), sp.note)
                          for n, sp, e, s in zip(r.input, splits, r.effective_kernel, r.stride)))

    # ----- pooling ------------------------------------------------------------------------
    def max_pool(self, r: Request) -> Plan:
        return self._pool(r, "max")

    def avg_pool(self, r: Request) -> Plan:
        return self._pool(r, "avg")

    def _pool(self, r: Request, kind: str) -> Plan:
        name = "MaxPool" if kind == "max" else "AveragePool"
        mode, splits = self._auto_pad(r, kind)
        self._pool_pads(r, splits, kind, name, explicit=mode == "NOTSET")
        rounding: Rounding = "ceil" if r.ceil_mode else "trunc"
        axes = tuple(AxisPlan(sp.before, sp.after, windowed_output(n, sp.before, sp.after, e, s, rounding), sp.note,
                              rounding=rounding)
                     for n, sp, e, s in zip(r.input, splits, r.effective_kernel, r.stride))
        for axis, a in enumerate(axes):
            if a.output < 0:
                raise self.reject(
                    f"output size would be negative ({a.output}) on axis {axis}", f"{name}: invalid output size",
                    fit_fix(r.input[axis], r.effective_kernel[axis], r.kernel[axis], r.dilation[axis],
                            a.pad_before + a.pad_after),
                    axis,
                )
        notes: tuple[str, ...] = (EMPTY_NOTE,) if any(a.output == 0 for a in axes) else ()
        if kind == "max" and any(d > 1 and a.pad_after < 0 for d, a in zip(r.dilation, axes)):
            notes += (MAXPOOL_TAIL_NOTE,)
        return Plan(axes, notes, count_include_pad=bool(r.count_include_pad) if kind == "avg" else None)

    def _pool_pads(self, r: Request, splits: list[PadSplit], kind: str, name: str, explicit: bool) -> None:
        """Explicit pads must be smaller than the kernel; auto_pad may not go negative for an
        undilated MaxPool (a kernel smaller than the stride)."""
        if explicit:
            for axis, (sp, k) in enumerate(zip(splits, r.kernel)):
                if sp.before >= k or sp.after >= k:
                    raise self.reject(
                        f"pads {(sp.before, sp.after)} on axis {axis} are not smaller than the kernel ({k})",
                        f"{name}: Pad should be smaller than kernel", f"use pads <= {k - 1}", axis)
        if kind == "max" and all(d == 1 for d in r.dilation) and any(sp.before < 0 or sp.after < 0 for sp in splits):
            raise self.reject("auto_pad gives a negative pad (kernel smaller than stride)",
                              "MaxPool: padding values must be non-negative", "use explicit pads or a kernel >= stride")

    # ----- transposed convolution ---------------------------------------------------------
    def conv_transpose(self, r: Request) -> Plan:
        op = self._transpose_checks(r)
        axes = []
        for axis, (n, e, s, v) in enumerate(zip(r.input, r.effective_kernel, r.stride, op)):
            full = transposed_full_output(n, s, e) + v
            out, crop = self._transpose_crop(r, axis, n, s, full)
            if out <= 0:
                raise self.reject(f"output size would be {out} on axis {axis}", "ConvTranspose: Invalid input shape",
                                  "use smaller pads or a larger stride/kernel", axis)
            # ORT then checks that a forward conv of the output gives the input back
            expected = (out + max(0, full - out) - e) // s + 1
            if expected != n:
                raise self.reject(
                    f"output {out} on axis {axis} does not convolve back to the input {n} (it gives {expected})",
                    "ConvTranspose: Computed output shape is inconsistent with input spatial dimensions",
                    f"use output_padding < stride ({s})" if v >= s else "pick an output size that maps back to the input",
                    axis)
            # the crop is reported against the full output without output_padding
            axes.append(AxisPlan(crop.before, crop.after - v, out, crop.note, v, "exact"))
        return Plan(tuple(axes))

    def _transpose_checks(self, r: Request) -> tuple[int, ...]:
        """output_padding in ``[0, max(stride, dilation))``, an auto_pad name, non-negative pads
        (checked even when output_shape makes ORT ignore them). Returns output_padding."""
        op = r.output_padding or (0,) * r.ndim
        for axis, (v, s, d) in enumerate(zip(op, r.stride, r.dilation)):
            if v < 0 or v >= max(s, d):
                raise self.reject(
                    f"output_padding {v} on axis {axis} is not in [0, max(stride, dilation)) = [0, {max(s, d)})",
                    "ConvTranspose: output_padding must be less than max(stride, dilation)",
                    f"use output_padding <= {max(s, d) - 1}", axis)
        p = r.padding
        if p.kind == "string" and p.name not in ("valid", "same", "same_lower"):
            raise self.reject(f"padding={p.name!r} is not an ONNX auto_pad", "auto_pad", "use explicit pads")
        if p.kind == "raw":
            raise self.reject("RawPads are for JAX", "", "use explicit (before, after) pairs")
        if p.kind in ("symmetric", "explicit"):
            self.pad_splits_from_pairs(r, allow_negative=False)
        return op

    def _transpose_crop(self, r: Request, axis: int, n: int, s: int, full: int) -> tuple[int, PadSplit]:
        """Output and crop of the full output (output_padding included): by ``output_shape``,
        by auto_pad SAME_*, none for VALID, else the pads."""
        p = r.padding
        if r.output_size is not None:
            out = r.output_size[axis]
            return out, ort_output_shape_split(full, out, upper=p.kind == "string" and p.name == "same")
        if p.kind == "string" and p.name in ("same", "same_lower"):
            return ort_transpose_same_split(full, n, s, lower=p.name == "same_lower")
        if p.kind == "string":
            return full, PadSplit(0, 0, "auto_pad=VALID: no crop")
        before, after = p.pairs[axis]
        return full - before - after, PadSplit(before, after, f"pads: crop before = {before}, after = {after}")

    def inverse_transpose(self, forward: ForwardConv) -> Request:
        """ConvTranspose with the forward pads and ``output_shape`` = the forward input."""
        return Request("conv_transpose", forward.output, forward.kernel, forward.stride, forward.dilation,
                       Padding("explicit", pairs=forward.pad), output_size=forward.input)

    # ----- Resize -------------------------------------------------------------------------
    def interpolate(self, input: tuple[int, ...], size: Optional[tuple[int, ...]],
                    scale: Optional[tuple[float, ...]], mode: str) -> tuple[int, ...]:
        """ONNX ``Resize``: ``sizes``, or ``floor(scale * n)`` computed in float32
        (``upsamplebase.h``: ``static_cast<int64_t>(scales[i] * input_dims[i])`` with float
        scales; measured on ONNX Runtime 1.31, where double precision disagrees for 28 of 780
        cases). Scales must be > 0; an output of 0 is an empty axis."""
        if mode not in RESIZE_MODES:
            raise self.reject(f"unknown Resize mode {mode!r}", "Resize mode must be nearest, linear or cubic",
                              "use mode='nearest', 'linear' or 'cubic'")
        low, high = RESIZE_MODES[mode]
        if len(input) < low or (high is not None and len(input) > high):
            dims = f"{low}" if low == high else f"{low} to {high}"
            raise self.reject(f"mode {mode!r} with {len(input)} spatial dims",
                              f"Resize: '{mode.capitalize()}' mode supports {dims} spatial dims", "use mode='nearest'")
        for axis, n in enumerate(input):
            if n < 1:
                raise self.reject(f"input size must be >= 1, got {n} on axis {axis}", "Resize input",
                                  "use a non-empty input", axis)
        if size is not None:
            for axis, o in enumerate(size):
                if o < 0:
                    raise self.reject(f"size must be >= 0, got {o} on axis {axis}", "Resize sizes",
                                      "use a size >= 0", axis)
            return size
        assert scale is not None
        if any(not f > 0 for f in scale):
            raise self.reject(f"scale_factor must be positive, got {scale[0] if len(scale) == 1 else scale}",
                              "Resize: Scale value should be greater than 0", "use a scale > 0")
        products = [to_float32(to_float32(f) * to_float32(n)) for n, f in zip(input, scale)]
        if any(not math.isfinite(v) or v > INT64_MAX for v in products):
            raise self.reject(f"output size {max(products):g} does not fit in int64", "sizes are int64",
                              "use a smaller scale_factor")
        return tuple(math.floor(v) for v in products)
