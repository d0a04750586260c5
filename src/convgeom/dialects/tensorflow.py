"""Keras 3 layers on the TensorFlow backend (Conv*D, Conv*DTranspose, MaxPooling*D,
AveragePooling*D): ``keras/src/ops/operation_utils.py``, ``layers/convolutional/base_conv.py``,
``backend/common/backend_utils.py``; TF SAME from ``kernel_shape_util.cc``. Checked against
golden vectors recorded from real Keras/TensorFlow (``tests/golden/tensorflow.json``)."""

from __future__ import annotations

from ..arithmetic import ceil_div, transposed_full_output, windowed_output
from ..errors import GeometryError
from ..padding import causal_split, explicit_split, same_split
from ..params import Padding
from .base import AxisPlan, Dialect, Plan, Request, fmt

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see convgeom/__init__.py)
if TYPE_CHECKING:
    from typing import Optional

    from .base import ForwardConv


class TensorFlow(Dialect):
    """Keras: padding is 'valid', 'same' (TF SAME, extra cell after) or 'causal' (Conv1D);
    strides > 1 exclude dilation > 1; pools divide with truncation."""

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
                f"strides={fmt(r.stride)} with dilation_rate={fmt(r.dilation)}",
                "`strides > 1` not supported in conjunction with `dilation_rate > 1`",
                "use stride 1 with dilation, or dilation 1 with stride",
            )

    # ----- convolution --------------------------------------------------------------------
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
            axes.append(AxisPlan(sp.before, sp.after, windowed_output(n, sp.before, sp.after, e, s, "floor"), sp.note))
        for axis, a in enumerate(axes):
            if a.output <= 0:
                raise self.reject(
                    f"output would be {tuple(x.output for x in axes)}: the input ({r.input[axis]}) is "
                    f"smaller than the window ({r.effective_kernel[axis]}) on axis {axis}",
                    "Computed output size would be zero or negative",
                    "use padding='same' or a kernel <= " + str((r.input[axis] - 1) // r.dilation[axis] + 1),
                    axis,
                )
        return Plan(tuple(axes))

    # ----- transposed convolution ---------------------------------------------------------
    def conv_transpose(self, r: Request) -> Plan:
        mode = self._strings(r, ("valid", "same"))
        self._stride_and_dilation(r)
        if r.output_size is not None:
            raise self.reject("Keras Conv*DTranspose has no output_size argument", "", "use output_padding")
        self._check_output_padding(r)
        axes = tuple(
            self._transpose_axis(axis, n, e, s, mode, None if r.output_padding is None else r.output_padding[axis],
                                 r.ndim)
            for axis, (n, e, s) in enumerate(zip(r.input, r.effective_kernel, r.stride))
        )
        notes: tuple[str, ...] = ()
        if any(d > 1 for d in r.dilation):
            notes = ("dilated transposed convolution runs with oneDNN (the x86 default build); TensorFlow's "
                     "reference kernels (TF_ENABLE_ONEDNN_OPTS=0) refuse dilation rates larger than 1",)
        return Plan(axes, notes)

    def _check_output_padding(self, r: Request) -> None:
        for axis, (v, s) in enumerate(zip(r.output_padding or (), r.stride)):
            if v >= s:
                raise self.reject(
                    f"output_padding {v} on axis {axis} is not smaller than stride {s}",
                    "`output_padding` must be strictly less than `strides` for all dimensions",
                    f"use output_padding <= {s - 1} (Keras gives dilation no allowance)", axis)
            if v < 0:
                raise self.reject(f"negative output_padding {v} on axis {axis}", "", "use output_padding >= 0", axis)

    def _transpose_axis(self, axis: int, n: int, e: int, s: int, mode: str, requested: Optional[int],
                        ndim: int) -> AxisPlan:
        """Keras ``compute_conv_transpose_output_shape``: 'valid' ``(n-1)*s + e + op`` (op
        defaults to ``max(e, s) - e``), 'same' ``n*s`` or ``(n-1)*s + e%2 + op``; TF's backprop
        kernel then needs a forward conv of the output to give ``n`` back, and crops the full
        output by the forward SAME pads of the output."""
        full = transposed_full_output(n, s, e)
        if mode == "valid":
            pad: int = max(e, s) - e if requested is None else requested
            out = full + pad
            note = (f"'valid': output = (n-1)*s + e + output_padding = {full} + {pad} = {out}"
                    + (" (output_padding defaults to max(e, s) - e)" if requested is None else ""))
        else:
            out = n * s if requested is None else (n - 1) * s + e % 2 + requested
            note = (f"'same': output = n*s = {out}" if requested is None
                    else f"'same': output = (n-1)*s + e%2 + output_padding = {out}")
        consistent = ceil_div(out, s) == n if mode == "same" else full <= out <= full + s - 1
        if out <= 0 or not consistent:
            raise self._backprop_mismatch(axis, n, e, s, mode, requested, out, ndim)
        if mode == "valid":
            return AxisPlan(0, full - out, out, note, out - full, "exact")
        fwd = same_split(out, s, e, extra_before=False, label="TF 'SAME' of the output")
        note += f"; crop = forward SAME pads of {out}: {fwd.note}"
        return AxisPlan(fwd.before, full - out - fwd.before, out, note, out - ((n - 1) * s + e % 2), "exact")

    def _backprop_mismatch(self, axis: int, n: int, e: int, s: int, mode: str, requested: Optional[int],
                           out: int, ndim: int) -> GeometryError:
        """The refusal of an output size whose forward convolution does not give the input back.
        TensorFlow checks it in ``Conv2DBackpropInput`` (1-D, 2-D) / ``Conv3DBackpropInputV2``
        (``core/kernels/conv_grad_shape_utils.cc``); what the user gets is the oneDNN kernel's
        error (the x86-64 default): ``AbortedError: ... could not create a primitive
        descriptor`` (``tests/golden/tensorflow.json``; the Eigen kernels refuse the same
        configurations). With 'same' that needs ``ceil(output/s) == n``: ``output_padding`` in
        ``[1 - e%2, s - 1]`` on top of Keras' ``(n-1)*s + e%2``."""
        if mode == "same":
            lo, hi = 1 - e % 2, s - 1
            rule = "'same' needs ceil(output/stride) == input"
            fix = (f"use output_padding in [{lo}, {hi}] on axis {axis}, or leave it unset (output n*s = {n * s})"
                   if lo <= hi else f"leave output_padding unset (output n*s = {n * s}): with an even effective "
                   f"kernel (e = {e}) at stride 1 no output_padding gives the input back")
        else:
            rule = "'valid' needs (n-1)*s + e <= output < (n-1)*s + e + s"
            fix = "change output_padding (try leaving it unset)"
        op_name = "Conv3DBackpropInputV2" if ndim == 3 else "Conv2DBackpropInput"
        return self.reject(
            f"output_padding {requested} on axis {axis} gives output {out}, which a stride-{s} {mode!r} "
            f"convolution does not map back to the input {n}",
            f"{op_name}: {rule}; TensorFlow's oneDNN kernel (the x86-64 default) raises AbortedError: could not "
            "create a primitive descriptor (the Eigen kernels refuse it too)",
            fix, axis)

    def inverse_transpose(self, forward: ForwardConv) -> Request:
        """The Conv*DTranspose with the same padding mode whose output_padding gives back the
        forward input: 'same' ``n - ((o-1)*s + e%2)``, 'valid' ``n - ((o-1)*s + e)``."""
        name = forward.padding.name
        op = tuple(n - ((o - 1) * s + (e % 2 if name == "same" else e))
                   for n, o, s, e in zip(forward.input, forward.output, forward.stride, forward.effective_kernel))
        return Request("conv_transpose", forward.output, forward.kernel, forward.stride, forward.dilation,
                       Padding("string", name=name, written=name), output_padding=op)

    # ----- pooling ------------------------------------------------------------------------
    def max_pool(self, r: Request) -> Plan:
        return self._pool(r, "max")

    def avg_pool(self, r: Request) -> Plan:
        return self._pool(r, "avg")

    def _pool(self, r: Request, kind: str) -> Plan:
        mode = self._strings(r, ("valid", "same"))
        if any(d != 1 for d in r.dilation):
            raise self.reject("Keras pooling has no dilation", "pooling layers take no dilation_rate", "use dilation=1")
        if r.ceil_mode:
            raise self.reject("Keras pooling has no ceil mode", "no ceil_mode",
                              "use padding='same' (rounds up: ceil(n/stride))")
        if kind == "avg" and r.count_include_pad:
            raise self.reject("Keras average pooling never counts padding",
                              "AveragePooling excludes padded cells on every backend", "leave count_include_pad unset")
        axes = []
        for n, k, s in zip(r.input, r.kernel, r.stride):
            sp = (same_split(n, s, k, extra_before=False, label="TF 'SAME'") if mode == "same"
                  else explicit_split(0, 0, "'valid'"))
            # the pooling kernels divide with truncation (kernel_shape_util.cc): a window larger
            # than the input gives an empty axis, and only a negative size is an error
            out = windowed_output(n, sp.before, sp.after, k, s, "trunc_shifted")
            axes.append(AxisPlan(sp.before, sp.after, out, sp.note, rounding="trunc_shifted"))
        for axis, a in enumerate(axes):
            if a.output < 0:
                raise self.reject(
                    f"output would be {tuple(x.output for x in axes)}: the input ({r.input[axis]}) is smaller than "
                    f"the window ({r.kernel[axis]}) on axis {axis}",
                    "Computed output size would be negative", f"use padding='same' or a pool size <= {r.input[axis]}",
                    axis)
        notes: tuple[str, ...] = ()
        if any(a.output == 0 for a in axes):
            notes = ("the window is larger than the input: TensorFlow's reference kernels return an empty axis "
                     "(with oneDNN, the x86 default, a 'valid' max pool of size 0 crashes the process)",)
        return Plan(tuple(axes), notes, count_include_pad=False if kind == "avg" else None)
