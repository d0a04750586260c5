"""Convolution arithmetic over plain integers (one spatial axis at a time).

Vocabulary follows Dumoulin & Visin, "A guide to convolution arithmetic for deep learning"
(arXiv:1603.07285): ``n`` input size, ``k`` kernel, ``s`` stride, ``d`` dilation,
``e = d*(k-1) + 1`` the effective (dilated) kernel, ``pad_before``/``pad_after`` the padding on
each side, ``o`` the output size. Window ``i`` reads input taps ``i*s - pad_before + j*d``.
"""

from __future__ import annotations

import math


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


def coverage(n: int, output: int, kernel: int, stride: int, dilation: int, pad_before: int) -> tuple[int, ...]:
    """How many (window, tap) pairs read each input position ``0..n-1``.

    Sums to the number of taps that land inside the input; a 0 marks a position never read.
    """
    counts = [0] * n
    for start in window_starts(output, stride, pad_before):
        for j in range(kernel):
            pos = start + j * dilation
            if 0 <= pos < n:
                counts[pos] += 1
    return tuple(counts)


def transposed_coverage(
    n: int, output: int, kernel: int, stride: int, dilation: int, crop_before: int
) -> tuple[int, ...]:
    """How many (input, tap) pairs write each output position of a transposed convolution.

    Input ``i`` and tap ``j`` write output ``i*s + j*d - crop_before``. Uneven counts are the
    checkerboard pattern of Odena et al. (2016) ("Deconvolution and Checkerboard Artifacts").
    """
    counts = [0] * output
    for i in range(n):
        for j in range(kernel):
            pos = i * stride + j * dilation - crop_before
            if 0 <= pos < output:
                counts[pos] += 1
    return tuple(counts)


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
