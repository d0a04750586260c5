"""Padding rules: how each named padding mode picks ``(pad_before, pad_after)``, and the limits
each padding *mode* (zeros, reflect, replicate, circular) puts on the amount.

Every function returns a :class:`PadSplit` whose ``note`` spells the derivation with numbers,
so explanations never recompute it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .arithmetic import ceil_div
from .errors import GeometryError


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
