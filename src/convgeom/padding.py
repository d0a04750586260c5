"""Padding rules: how each named padding mode picks ``(pad_before, pad_after)``, and the limits
each padding *mode* (zeros, reflect, replicate, circular) puts on the amount.

Every function returns a :class:`PadSplit` whose ``note`` spells the derivation with numbers,
so explanations never recompute it.
"""

from __future__ import annotations

from .arithmetic import ceil_div, tdiv
from .errors import GeometryError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see convgeom/__init__.py)
if TYPE_CHECKING:
    from dataclasses import dataclass
else:
    from .frozen import dataclass  # the same frozen dataclasses, without importing dataclasses


@dataclass(frozen=True)
class PadSplit:
    """Per-side padding of one axis and how it was derived."""

    before: int
    after: int
    note: str


def same_total(n: int, s: int, e: int) -> int:
    """TensorFlow 'SAME' total padding ``max(0, (ceil(n/s) - 1)*s + e - n)``
    (``tensorflow/core/framework/kernel_shape_util.cc GetWindowedOutputSizeVerbose``;
    identical to ONNX's ``convPoolShapeInference`` and JAX's ``lax.padtype_to_pads``).
    """
    return max(0, (ceil_div(n, s) - 1) * s + e - n)


def same_split(n: int, s: int, e: int, *, extra_before: bool, label: str) -> PadSplit:
    """'same' padding; an odd total puts the extra cell after (TF SAME, ONNX SAME_UPPER, JAX
    SAME) or before (``extra_before``: ONNX SAME_LOWER, JAX SAME_LOWER)."""
    o = ceil_div(n, s)
    total = same_total(n, s, e)
    small, big = total // 2, total - total // 2
    before, after = (big, small) if extra_before else (small, big)
    side = "before" if extra_before else "after"
    parity = (
        f"odd total: the extra cell goes {side}" if total % 2 else "even total: split evenly"
    )
    note = (
        f"{label}: out = ceil({n}/{s}) = {o}; total = max(0, ({o}-1)*{s} + {e} - {n}) = {total}; "
        f"before = {before}, after = {after} ({parity})"
    )
    return PadSplit(before, after, note)


def torch_same_split(e: int) -> PadSplit:
    """PyTorch ``padding='same'`` (stride 1): total ``d*(k-1) = e-1``, ``before = total//2``,
    the extra cell after (``torch/nn/modules/conv.py`` ``_ConvNd.__init__``)."""
    total = e - 1
    before = total // 2
    parity = "odd total: the extra cell goes after" if total % 2 else "even total: split evenly"
    note = (
        f"PyTorch 'same' (stride 1): total = d*(k-1) = {total}; before = {total}//2 = {before}, "
        f"after = {total - before} ({parity})"
    )
    return PadSplit(before, total - before, note)


def causal_split(e: int) -> PadSplit:
    """Keras Conv1D ``padding='causal'``: ``before = d*(k-1)``, nothing after
    (``keras/src/layers/convolutional/conv1d.py _compute_causal_padding``)."""
    return PadSplit(e - 1, 0, f"causal: before = d*(k-1) = {e - 1}, after = 0 (no window sees the future)")


def full_split(e: int) -> PadSplit:
    """'full' padding ``p = e - 1`` on both sides: every overlap counts
    (Dumoulin & Visin, relationship 4)."""
    return PadSplit(e - 1, e - 1, f"full: before = after = d*(k-1) = {e - 1}")


def explicit_split(before: int, after: int, label: str = "explicit") -> PadSplit:
    return PadSplit(before, after, f"{label}: before = {before}, after = {after}")


def check_padding_mode(mode: str, n: int, before: int, after: int, axis: int) -> None:
    """Limits of PyTorch's ``F.pad`` modes (``aten/src/ATen/native/PadNd.cpp``,
    ``ReflectionPad.cpp``): reflect needs each side ``< n``; circular ``<= n``; replicate and
    zeros have no upper limit. Negative pads crop first; circular wraps only from the cells kept."""
    if mode == "reflect":
        for side, pad in (("before", before), ("after", after)):
            if pad >= n:
                raise GeometryError(
                    f"reflect padding {pad} ({side}) on axis {axis} is not smaller than the input size {n}",
                    "PyTorch F.pad reflect: padding size should be less than the corresponding input dimension",
                    f"use padding <= {n - 1} on that axis, or padding_mode='replicate'",
                    axis=axis,
                )
    elif mode == "circular":
        # a negative side crops first; the wrap then copies from what is left
        kept = n + min(before, 0) + min(after, 0)
        for side, pad in (("before", before), ("after", after)):
            if pad > kept:
                raise GeometryError(
                    f"circular padding {pad} ({side}) on axis {axis} exceeds the {kept} cells it wraps from",
                    "PyTorch F.pad circular: padding value causes wrapping around more than once",
                    f"use padding <= {kept} on that axis, or padding_mode='replicate'",
                    axis=axis,
                )


def ort_same_split(n: int, s: int, k: int, *, lower: bool, label: str, conv: bool) -> PadSplit:
    """ONNX Runtime's 'same' (``core/providers/common.h ComputePad`` /
    ``cpu/nn/pool_attributes.h ComputeSizePadDilations``): ``pad_needed = (ceil(n/s) - 1)*s + k - n``
    with the *undilated* kernel, not clipped at 0 (negative when ``k < s`` for some ``n``; ONNX's
    shape inference clips it, with the same output size), head ``pad_needed/2`` (SAME_UPPER) or
    ``(pad_needed+1)/2`` (SAME_LOWER) in C++ truncating division. For a negative ``pad_needed``
    the Conv kernel starts its windows one cell earlier than that formula, i.e. head
    ``(pad_needed+1)/2`` (UPPER) or ``(pad_needed+2)/2`` (LOWER): measured on ORT 1.31 CPU by
    reading which input cell each output took (tools/make_golden.py), not derived from source.
    Checked against live ONNX Runtime by ``tests/test_dialect_onnx.py``."""
    need = (ceil_div(n, s) - 1) * s + k - n
    shift = 1 if conv and need < 0 else 0
    head = tdiv(need + 1 + shift, 2) if lower else tdiv(need + shift, 2)
    note = (
        f"{label}: pad_needed = (ceil({n}/{s}) - 1)*{s} + k - {n} = {need}"
        + (" (negative: ONNX Runtime does not clip it at 0 as ONNX shape inference does; the output size "
           "is the same, the windows shift)" if need < 0 else "")
        + f"; before = {head}, after = {need - head}"
    )
    return PadSplit(head, need - head, note)


def jax_transpose_split(e: int, s: int, mode: str) -> PadSplit:
    """Pads that ``jax.lax.conv_transpose`` puts on the stride-dilated input for 'SAME' and
    'VALID' (``jax/_src/lax/convolution.py _conv_transpose_padding``): 'SAME' ``L = e+s-2``,
    ``lo = e-1`` if ``s > e-1`` else ``ceil(L/2)``; 'VALID' ``L = e+s-2+max(e-s, 0)``,
    ``lo = e-1``; ``hi = L - lo`` in both."""
    if mode == "same":
        total = e + s - 2
        lo = e - 1 if s > e - 1 else ceil_div(total, 2)
        return PadSplit(lo, total - lo,
                        f"'SAME': pads on the stride-dilated input L = e+s-2 = {total}, lo = {lo}, hi = {total - lo}")
    total = e + s - 2 + max(e - s, 0)
    return PadSplit(e - 1, total - (e - 1),
                    f"'VALID': pads on the stride-dilated input L = e+s-2+max(e-s,0) = {total}, "
                    f"lo = e-1 = {e - 1}, hi = {total - (e - 1)}")


def ort_transpose_same_split(full: int, n: int, s: int, *, lower: bool) -> tuple[int, PadSplit]:
    """ONNX Runtime ConvTranspose with auto_pad SAME_UPPER/SAME_LOWER
    (``conv_transpose_attributes.h ComputePadsAndOutputShape``): output
    ``min(n*s, full)`` where ``full = (n-1)*s + e + output_padding``, the crop ``full - output``
    split with the extra cell at the end (SAME_UPPER) or the start (SAME_LOWER). Returns the
    output and the crop."""
    out = min(n * s, full)
    total = full - out
    before = total - total // 2 if lower else total // 2
    note = (f"auto_pad SAME: output = min(n*s, (n-1)*s + e + output_padding) = {out}; crop {total} "
            + ("(extra at the start: SAME_LOWER)" if lower else "(extra at the end: SAME_UPPER)")
            + ("; shape inference says n*s, the runtime gives less when e + output_padding < s"
               if out != n * s else ""))
    return out, PadSplit(before, total - before, note)


def ort_output_shape_split(full: int, out: int, *, upper: bool) -> PadSplit:
    """ONNX ConvTranspose with an ``output_shape`` attribute (``onnx/defs/nn/defs.cc``
    ``convTransposeShapeInference``; ONNX Runtime PR #13311): total crop ``full - output_shape``
    (``full = (n-1)*s + e + output_padding``), the extra cell at the end for SAME_UPPER, at the
    start otherwise (NOTSET, VALID, SAME_LOWER; ConvTranspose-11 fixed the inverted branches of
    ConvTranspose-1)."""
    total = max(0, full - out)
    before = total // 2 if upper else total - total // 2
    note = (f"output_shape {out}: total crop = (n-1)*s + e + output_padding - output = {total}; "
            + ("SAME_UPPER puts the extra crop at the end" if upper else
               "the extra crop goes at the start (NOTSET, VALID, SAME_LOWER)"))
    return PadSplit(before, full - out - before, note)


def torch_transpose_split(padding: int, output_padding: int) -> PadSplit:
    """PyTorch ConvTranspose*d: crop ``padding`` from the start of the full output and
    ``padding - output_padding`` from its end (``ConvUtils.h conv_input_size``:
    ``(n-1)s - 2p + d(k-1) + output_padding + 1``)."""
    after = padding - output_padding
    return PadSplit(padding, after,
                    f"crop padding={padding} from the start and padding - output_padding = "
                    f"{padding} - {output_padding} = {after} from the end of the full output")
