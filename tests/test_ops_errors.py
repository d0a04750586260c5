"""Bad input raises GeometryError with a clear message (never a NumPy broadcasting error)."""

from __future__ import annotations

import numpy as np
import pytest

from convgeom import GeometryError
from convgeom.ops import adaptive_avg_pool, avg_pool, conv, conv_transpose, max_pool


def test_weight_shape_mismatch() -> None:
    with pytest.raises(GeometryError, match=r"expected input\[1, 4, 5\] to have 2 channels, but got 4"):
        conv(np.zeros((1, 4, 5)), np.zeros((4, 1, 3)), groups=2)


def test_weight_rank_mismatch() -> None:
    with pytest.raises(GeometryError, match="spatial axes"):
        conv(np.zeros((1, 2, 5, 5)), np.zeros((4, 2, 3)))


def test_channels_not_divisible_by_groups() -> None:
    with pytest.raises(GeometryError, match="not divisible by groups=2"):
        conv(np.zeros((1, 3, 5)), np.zeros((4, 1, 3)), groups=2)
    with pytest.raises(GeometryError, match="output channels"):
        conv(np.zeros((1, 4, 5)), np.zeros((3, 2, 3)), groups=2)
    with pytest.raises(GeometryError, match="not divisible by groups"):
        conv_transpose(np.zeros((1, 3, 5)), np.zeros((3, 1, 3)), groups=2)


def test_groups_must_be_positive() -> None:
    with pytest.raises(GeometryError, match="groups"):
        conv(np.zeros((1, 2, 5)), np.zeros((2, 2, 3)), groups=0)


def test_kernel_larger_than_padded_input() -> None:
    with pytest.raises(GeometryError, match="Kernel size can't be greater than actual input size"):
        conv(np.zeros((1, 1, 2)), np.zeros((1, 1, 3)))
    with pytest.raises(GeometryError, match="Output size is too small"):
        max_pool(np.zeros((1, 1, 1, 1)), 2, 2)


def test_same_with_stride_in_torch() -> None:
    with pytest.raises(GeometryError, match="strided"):
        conv(np.zeros((1, 1, 7)), np.zeros((1, 1, 3)), stride=2, padding="same")


def test_padding_mode_limits() -> None:
    with pytest.raises(GeometryError, match="reflect"):
        conv(np.zeros((1, 1, 3)), np.zeros((1, 1, 3)), padding=3, padding_mode="reflect")


def test_bias_shape() -> None:
    with pytest.raises(GeometryError, match="bias"):
        conv(np.zeros((1, 2, 5)), np.zeros((3, 2, 3)), bias=np.zeros(2))


def test_dtypes() -> None:
    with pytest.raises(GeometryError, match="float32 or float64"):
        conv(np.zeros((1, 1, 5), dtype=np.int32), np.zeros((1, 1, 3)))
    with pytest.raises(GeometryError, match="float32 or float64"):
        max_pool(np.zeros((1, 1, 5), dtype=np.float16), 2)


def test_missing_batch_and_channel_axes() -> None:
    with pytest.raises(GeometryError, match=r"\(N, C, \*spatial\)"):
        conv(np.zeros((5, 5)), np.zeros((1, 1, 3)))
    with pytest.raises(GeometryError, match=r"\(N, \*spatial, C\)"):
        avg_pool(np.zeros((5, 5)), 2, channels_last=True)


def test_transposed_weight_rows() -> None:
    with pytest.raises(GeometryError, match="transposed"):
        conv_transpose(np.zeros((1, 2, 5)), np.zeros((3, 1, 3)))


def test_output_padding_rule() -> None:
    with pytest.raises(GeometryError, match="output padding must be smaller"):
        conv_transpose(np.zeros((1, 1, 3)), np.zeros((1, 1, 3)), stride=2, padding=1, output_padding=2)


def test_adaptive_output_size_length() -> None:
    with pytest.raises(GeometryError, match="output_size has 3 entries"):
        adaptive_avg_pool(np.zeros((1, 1, 4, 4)), (2, 2, 2))


def test_pool_padding_limit() -> None:
    with pytest.raises(GeometryError, match="half"):
        max_pool(np.zeros((1, 1, 7)), 3, padding=2)
