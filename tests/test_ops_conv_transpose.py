"""Differential tests of convgeom.ops.conv_transpose against torch.nn.functional.conv_transpose*d
(random strides, dilations, groups, padding, output_padding, output_size; float64 and float32)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from _compare import TOL, rel_err  # noqa: E402  (tests/_compare.py)
from _torch_ops import CONVT  # noqa: E402
from convgeom import GeometryError  # noqa: E402
from convgeom.ops import conv, conv_transpose  # noqa: E402


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("seed", range(100))
def test_conv_transpose_matches_torch(seed: int, nd: int, dtype: type) -> None:
    rng = np.random.default_rng(20000 + seed * 7 + nd)
    groups = int(rng.choice([1, 1, 2, 3]))
    c_in, c_out = groups * int(rng.integers(1, 4)), groups * int(rng.integers(1, 3))
    kernel = tuple(int(v) for v in rng.integers(1, 5 if nd < 3 else 4, nd))
    stride = tuple(int(v) for v in rng.integers(1, 4, nd))
    dilation = tuple(int(v) for v in rng.integers(1, 3, nd))
    sizes = tuple(int(v) for v in rng.integers(1, {1: 10, 2: 7, 3: 5}[nd], nd))
    padding = tuple(int(rng.integers(0, 3)) for _ in range(nd))
    output_padding = tuple(int(rng.integers(0, max(s, d))) for s, d in zip(stride, dilation))
    x = rng.standard_normal((int(rng.integers(1, 3)), c_in) + sizes).astype(dtype)
    w = rng.standard_normal((c_in, c_out // groups) + kernel).astype(dtype)
    b = rng.standard_normal(c_out).astype(dtype) if rng.random() < 0.7 else None
    try:
        ref = CONVT[nd](
            torch.from_numpy(x), torch.from_numpy(w), None if b is None else torch.from_numpy(b),
            stride, padding, output_padding, groups, dilation,
        ).numpy()
    except RuntimeError as exc:
        if "Output size is too small" in str(exc):
            # an output of 0 is an empty tensor on PyTorch's oneDNN path and this error on its
            # native one (always in float64); the engine models float32, batch 1, channels =
            # groups (checked exactly against torch in tests/test_torch_oracle.py)
            try:
                ours = conv_transpose(x, w, b, stride, padding, output_padding, groups, dilation)
            except GeometryError:
                return
            assert 0 in ours.shape[2:] and min(ours.shape) >= 0
            return
        with pytest.raises(GeometryError):
            conv_transpose(x, w, b, stride, padding, output_padding, groups, dilation)
        return
    if ref.size == 0:
        # conv_transpose3d in PyTorch 2.13 returns an empty output for a computed size of 0 (1-d
        # and 2-d raise "Output size is too small"); the engine rejects 0 in every rank.
        pytest.skip("PyTorch 3-d transposed conv with output size 0")
    ours = conv_transpose(x, w, b, stride, padding, output_padding, groups, dilation)
    assert ours.dtype == np.dtype(dtype)
    assert ours.shape == ref.shape
    assert rel_err(ours, ref) < TOL[dtype]


@pytest.mark.parametrize("seed", range(40))
def test_conv_transpose_output_size(seed: int) -> None:
    rng = np.random.default_rng(21000 + seed)
    stride, kernel, padding = int(rng.integers(1, 4)), int(rng.integers(1, 5)), int(rng.integers(0, 2))
    n = int(rng.integers(2, 9))
    lo = (n - 1) * stride - 2 * padding + kernel
    size = lo + int(rng.integers(0, stride))
    x = rng.standard_normal((1, 2, n))
    w = rng.standard_normal((2, 3, kernel))
    module = torch.nn.ConvTranspose1d(2, 3, kernel, stride, padding, bias=False, dtype=torch.float64)
    with torch.no_grad():
        module.weight.copy_(torch.from_numpy(w))
        ref = module(torch.from_numpy(x), output_size=[size]).numpy()
    ours = conv_transpose(x, w, None, stride, padding, output_size=size)
    assert ours.shape == ref.shape and rel_err(ours, ref) < 1e-9


@pytest.mark.parametrize("seed", range(40))
def test_conv_transpose_is_the_adjoint_of_conv(seed: int) -> None:
    """<conv(x), y> == <x, conv_transpose(y)>: the transposed conv is the gradient of the conv."""
    rng = np.random.default_rng(22000 + seed)
    nd = 1 + seed % 3
    kernel = tuple(int(v) for v in rng.integers(1, 4, nd))
    stride = tuple(int(v) for v in rng.integers(1, 3, nd))
    dilation = tuple(int(v) for v in rng.integers(1, 3, nd))
    padding = tuple(int(rng.integers(0, 2)) for _ in range(nd))
    sizes = tuple(int(v) for v in rng.integers(6, 9, nd))
    x = rng.standard_normal((2, 3) + sizes)
    w = rng.standard_normal((4, 3) + kernel)
    y_fwd = conv(x, w, None, stride, padding, dilation)
    y = rng.standard_normal(y_fwd.shape)
    op = tuple(n - o for n, o in zip(sizes, conv_transpose(y, w, None, stride, padding, 0, 1, dilation).shape[2:]))
    x_back = conv_transpose(y, w, None, stride, padding, op, 1, dilation)
    assert x_back.shape == x.shape
    assert abs(float(np.sum(y_fwd * y)) - float(np.sum(x * x_back))) < 1e-9 * float(np.abs(y_fwd * y).sum())


@pytest.mark.parametrize("framework", ["tensorflow", "jax", "onnx"])
def test_conv_transpose_same_dialects_crop(framework: str) -> None:
    """n=3, k=3, s=2 'same' gives 6 with the crop (0, 1) of the full output in TF, JAX, ONNX."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 2, 3))
    w = rng.standard_normal((2, 2, 3))
    full = F.conv_transpose1d(torch.from_numpy(x), torch.from_numpy(w), None, 2).numpy()
    ours = conv_transpose(x, w, None, 2, "same", framework=framework)
    assert ours.shape == (1, 2, 6)
    assert rel_err(ours, full[:, :, 0:6]) < 1e-12


def test_conv_transpose_chunked() -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 4, 9, 11))
    w = rng.standard_normal((4, 3, 3, 3))
    ref = F.conv_transpose2d(torch.from_numpy(x), torch.from_numpy(w), None, 2, 1, 1).numpy()
    ours = conv_transpose(x, w, None, 2, 1, 1, max_buffer_bytes=4096)
    assert rel_err(ours, ref) < 1e-9
