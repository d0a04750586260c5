"""Convolution arithmetic over plain integers (one spatial axis at a time).

Vocabulary follows Dumoulin & Visin, "A guide to convolution arithmetic for deep learning"
(arXiv:1603.07285): ``n`` input size, ``k`` kernel, ``s`` stride, ``d`` dilation,
``e = d*(k-1) + 1`` the effective (dilated) kernel, ``pad_before``/``pad_after`` the padding on
each side, ``o`` the output size. Window ``i`` reads input taps ``i*s - pad_before + j*d``.
"""

from __future__ import annotations

import itertools
import math
import operator
import struct

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see convgeom/__init__.py)
if TYPE_CHECKING:
    from typing import Literal

#: How a framework turns ``(n + pad_before + pad_after - e) / s`` into a count of windows:
#:
#: * ``floor``: ``floor(...) + 1`` (PyTorch ``ConvUtils.h``, Keras, ONNX Runtime Conv);
#: * ``trunc``: ``trunc(...) + 1``, C++ division toward zero: a window larger than the padded
#:   input still gives one (partial) window when ``n + pb + pa - e > -s`` (ONNX Runtime pooling,
#:   ``pool_attributes.h``);
#: * ``trunc_shifted``: ``trunc((n + pb + pa - e + s) / s)``, TensorFlow's pooling
#:   (``kernel_shape_util.cc GetWindowedOutputSizeVerbose``): 0 when the window is larger than
#:   the padded input by less than ``s``, negative (an error) beyond;
#: * ``ceil``: ``ceil(...) + 1``, minus one when the last window would start at or beyond
#:   ``n + pad_before`` (PyTorch ``Pool.h``; ONNX Runtime's ceil_mode);
#: * ``floor_clamped``: ``max(0, floor(...) + 1)``: JAX returns an empty axis instead of failing;
#: * ``exact``: no division: a transposed convolution, ``(n-1)*s + e - crop_before - crop_after``.
#:
#: An annotation-only name (import it under ``if TYPE_CHECKING:``): at run time ``typing`` would
#: cost more than the rest of a cold ``convgeom shape``'s core imports.
if TYPE_CHECKING:
    Rounding = Literal["floor", "trunc", "trunc_shifted", "ceil", "floor_clamped", "exact"]


def to_float32(value: float) -> float:
    """``value`` rounded to IEEE float32 (``inf`` beyond its range), as the frameworks' float32
    size and index arithmetic computes it."""
    try:
        return float(struct.unpack("f", struct.pack("f", value))[0])
    except OverflowError:  # rounds past FLT_MAX
        return math.copysign(math.inf, value)


def effective_kernel(kernel: int, dilation: int) -> int:
    """``e = d*(k-1) + 1`` (Dumoulin & Visin, relationship 15)."""
    return dilation * (kernel - 1) + 1


def tdiv(numerator: int, denominator: int) -> int:
    """C++ integer division, truncating toward zero (differs from ``//`` for negatives)."""
    q = abs(numerator) // abs(denominator)
    return q if (numerator >= 0) == (denominator > 0) else -q


def ceil_div(numerator: int, denominator: int) -> int:
    """``ceil(a / b)`` for integers, exact for any size."""
    return -((-numerator) // denominator)


def conv_output(n: int, pad_before: int, pad_after: int, e: int, s: int) -> int:
    """``o = floor((n + pad_before + pad_after - e) / s) + 1`` (PyTorch ``ConvUtils.h``
    ``conv_output_size``; TF ``GetWindowedOutputSizeVerbose``; ONNX ``convPoolShapeInference``).

    May return 0 or a negative number; callers decide whether their framework raises.
    """
    return (n + pad_before + pad_after - e) // s + 1


def pool_output(n: int, pad_before: int, pad_after: int, e: int, s: int, ceil_mode: bool) -> int:
    """Pooling output with PyTorch's ceil-mode rule (``aten/src/ATen/native/Pool.h``
    ``pooling_output_shape_pad_lr``): in ceil mode ``o = ceil((n+pb+pa-e)/s) + 1``, minus one
    when the last window would start at or beyond ``n + pad_before`` (in the right padding).
    ONNX adopted the same correction in onnx PR #5741 (MaxPool-22 / AveragePool-22 docs).
    """
    if not ceil_mode:
        return conv_output(n, pad_before, pad_after, e, s)
    o = (n + pad_before + pad_after - e + s - 1) // s + 1
    if (o - 1) * s >= n + pad_before:
        o -= 1
    return o


def windowed_output(n: int, pad_before: int, pad_after: int, e: int, s: int, rounding: Rounding) -> int:
    """Output size of a windowed op under ``rounding`` (see :data:`Rounding`); ``exact`` is not a
    windowed rule (use :func:`transposed_output`)."""
    numerator = n + pad_before + pad_after - e
    if rounding == "floor":
        return numerator // s + 1
    if rounding == "trunc":
        return tdiv(numerator, s) + 1
    if rounding == "trunc_shifted":
        return tdiv(numerator + s, s)
    if rounding == "floor_clamped":
        return max(0, numerator // s + 1)
    if rounding == "ceil":
        return pool_output(n, pad_before, pad_after, e, s, ceil_mode=True)
    raise ValueError(f"{rounding!r} is not a windowed rounding rule")


def same_output(n: int, s: int) -> int:
    """``o = ceil(n / s)``: what every framework's 'same' promises (TF, Keras, JAX, ONNX)."""
    return ceil_div(n, s)


def transposed_full_output(n: int, s: int, e: int) -> int:
    """Length of a transposed convolution's output before any crop: ``(n-1)*s + e``.

    Dumoulin & Visin relationship 12 with ``p = 0`` and ``a = 0``.
    """
    return (n - 1) * s + e


def transposed_output(n: int, s: int, e: int, crop_before: int, crop_after: int) -> int:
    """``o = (n-1)*s + e - crop_before - crop_after``; PyTorch's padding ``p`` and
    output_padding ``op`` give ``crop_before = p`` and ``crop_after = p - op``
    (``ConvUtils.h conv_input_size``: ``(n-1)s - 2p + d(k-1) + op + 1``).
    """
    return transposed_full_output(n, s, e) - crop_before - crop_after


def window_starts(output: int, stride: int, pad_before: int) -> range:
    """Input index of each window's first tap: ``i*s - pad_before`` (negative = in padding)."""
    return range(-pad_before, -pad_before + output * stride, stride) if output > 0 else range(0)


def tap_counts(length: int, count: int, stride: int, first: int, kernel: int, dilation: int) -> tuple[int, ...]:
    """How many (window, tap) pairs land on each position ``0..length-1``, for ``count``
    windows whose taps are ``first + i*stride + j*dilation`` (``0 <= i < count``,
    ``0 <= j < kernel``). Only the windows that reach ``[0, length)`` are visited, so the cost
    is O(length) however many windows or taps there are (see the three helpers)."""
    if length <= 0:
        return ()
    span = (kernel - 1) * dilation
    lo = max(0, -((first + span) // stride))  # first window whose last tap is >= 0
    hi = min(count - 1, (length - 1 - first) // stride)  # last window whose first tap is < length
    if hi < lo:
        return (0,) * length
    if dilation == 1:
        return _contiguous_tap_counts(length, lo, hi, stride, first, kernel)
    if hi - lo < 2 * length:
        return _strided_tap_counts(length, lo, hi, stride, first, kernel, dilation)
    return _counted_tap_counts(length, lo, hi, stride, first, kernel, dilation)


def _contiguous_tap_counts(length: int, lo: int, hi: int, stride: int, first: int, kernel: int) -> tuple[int, ...]:
    """Dilation 1: window ``i`` covers ``[first + i*s, first + i*s + k)``. Window starts (and
    ends) are distinct and ``s`` apart, so the +1 at each start and the -1 at each end of a
    difference array are strided slice assignments; the prefix sums run in C."""
    starts = [0] * (length + 1)
    ends = [0] * (length + 1)
    inside = max(lo, -(first // stride))  # first window starting at or after 0
    if inside <= hi:
        a, b = first + inside * stride, first + hi * stride
        starts[a:b + 1:stride] = [1] * (hi - inside + 1)
    starts[0] += max(0, min(hi, inside - 1) - lo + 1)  # windows starting in the padding
    last = min(hi, (length - 1 - first - kernel) // stride)  # last window ending before length
    if lo <= last:
        a, b = first + lo * stride + kernel, first + last * stride + kernel
        ends[a:b + 1:stride] = [1] * (last - lo + 1)
    return tuple(map(operator.sub, itertools.accumulate(starts[:length]), itertools.accumulate(ends[:length])))


def _strided_tap_counts(length: int, lo: int, hi: int, stride: int, first: int, kernel: int,
                        dilation: int) -> tuple[int, ...]:
    """A difference array with step ``dilation``: each window adds +1 at its first in-range tap
    and -1 one step past its last; prefix sums run per residue class mod ``dilation``."""
    diff = [0] * (length + dilation)
    for i in range(lo, hi + 1):
        start = first + i * stride
        j_lo = max(0, -(start // dilation))
        j_hi = min(kernel - 1, (length - 1 - start) // dilation)
        if j_lo <= j_hi:
            diff[start + j_lo * dilation] += 1
            diff[start + (j_hi + 1) * dilation] -= 1
    counts = [0] * length
    for r in range(min(dilation, length)):
        counts[r::dilation] = itertools.accumulate(diff[r:length:dilation])
    return tuple(counts)


def _counted_tap_counts(length: int, lo: int, hi: int, stride: int, first: int, kernel: int,
                        dilation: int) -> tuple[int, ...]:
    """Per position, count directly (for more windows than positions): ``p`` is hit by window
    ``i`` iff ``i*s = p - first - j*d`` for some ``j``, i.e. ``i`` lies in
    ``[ceil((p - first - (k-1)*d) / s), floor((p - first) / s)]`` and
    ``i*s = p - first (mod d)``; those ``i`` form one residue class mod ``d / gcd(s, d)``."""
    span = (kernel - 1) * dilation
    g = math.gcd(stride, dilation)
    modulus = dilation // g
    inverse = pow(stride // g, -1, modulus) if modulus > 1 else 0
    counts = []
    for p in range(length):
        offset = p - first
        low = max(lo, -((span - offset) // stride))
        high = min(hi, offset // stride)
        if high < low or offset % g:
            counts.append(0)
            continue
        residue = (offset // g) * inverse % modulus  # i = residue (mod modulus)
        counts.append((high - residue) // modulus - (low - 1 - residue) // modulus)
    return tuple(counts)


def coverage(n: int, output: int, kernel: int, stride: int, dilation: int, pad_before: int) -> tuple[int, ...]:
    """How many (window, tap) pairs read each input position ``0..n-1``: window ``i`` reads
    ``i*s - pad_before + j*d``. O(n) (see :func:`tap_counts`).

    Sums to the number of taps that land inside the input; a 0 marks a position never read.
    """
    return tap_counts(n, output, stride, -pad_before, kernel, dilation)


def transposed_coverage(
    n: int, output: int, kernel: int, stride: int, dilation: int, crop_before: int
) -> tuple[int, ...]:
    """How many (input, tap) pairs write each output position of a transposed convolution.

    Input ``i`` and tap ``j`` write output ``i*s + j*d - crop_before``. Uneven counts are the
    checkerboard pattern of Odena et al. (2016) ("Deconvolution and Checkerboard Artifacts").
    O(output) (see :func:`tap_counts`).
    """
    return tap_counts(output, n, stride, -crop_before, kernel, dilation)


def adaptive_windows(n: int, output: int) -> tuple[tuple[int, int], ...]:
    """Adaptive pooling windows ``[floor(i*n/o), ceil((i+1)*n/o))``
    (PyTorch ``aten/src/ATen/native/AdaptivePooling.h`` ``start_index``/``end_index``).
    """
    return tuple(adaptive_window(n, output, i) for i in range(output))


def adaptive_window(n: int, output: int, i: int) -> tuple[int, int]:
    """Window ``i`` of adaptive pooling: ``(floor(i*n/o), ceil((i+1)*n/o))``."""
    return (i * n) // output, ceil_div((i + 1) * n, output)


def adaptive_max_window(n: int, output: int) -> int:
    """The largest adaptive-pooling window. Sizes repeat with period ``o / gcd(n, o)``, so only
    one period is scanned; past 100,000 the bound ``ceil(n/o) + 1`` is returned instead."""
    period = output // math.gcd(n, output)
    if period > 100_000:
        return ceil_div(n, output) + 1
    return max(b - a for a, b in (adaptive_window(n, output, i) for i in range(period)))
