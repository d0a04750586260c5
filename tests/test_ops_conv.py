"""Differential tests of convgeom.ops.conv against torch.nn.functional.conv1d/2d/3d.

Hundreds of random configurations per spatial rank (groups and depthwise, dilation, strides,
symmetric / asymmetric / 'same' padding, padding modes, channels-last, bias), float64 and
float32. Asymmetric pads and padding modes are checked against ``F.pad`` followed by a
``padding=0`` convolution. Tolerances: relative error (max |diff| / max |reference|) below 1e-9
in float64 and 1e-5 in float32; shapes identical.
"""

from __future__ import annotations

import importlib
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from _compare import check, tf_same_pads  # noqa: E402  (tests/_compare.py)
from _torch_ops import CONV, CONV_MODULE  # noqa: E402
from convgeom import GeometryError  # noqa: E402
from convgeom.ops import conv  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")



def random_config(seed: int, nd: int) -> dict:
    rng = np.random.default_rng(seed)
    groups = int(rng.choice([1, 1, 1, 2, 3]))
    depthwise = rng.random() < 0.15
    c_in = groups * int(rng.integers(1, 4))
    if depthwise:
        groups = c_in
    c_out = groups * int(rng.integers(1, 3))
    kernel = tuple(int(v) for v in rng.integers(1, 5 if nd < 3 else 4, nd))
    stride = tuple(int(v) for v in rng.integers(1, 4, nd))
    dilation = tuple(int(v) for v in rng.integers(1, 3, nd))
    padding = tuple(int(v) for v in rng.integers(0, 3, nd))
    eff = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    size_cap = {1: 14, 2: 9, 3: 6}[nd]
    sizes = tuple(max(int(rng.integers(1, size_cap)), e - 2 * p) for e, p in zip(eff, padding))
    return dict(
        batch=int(rng.integers(1, 3)), c_in=c_in, c_out=c_out, groups=groups, kernel=kernel,
        stride=stride, dilation=dilation, padding=padding, sizes=sizes, bias=bool(rng.random() < 0.7),
        rng=rng,
    )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("seed", range(100))
def test_conv_matches_torch(seed: int, nd: int, dtype: type) -> None:
    cfg = random_config(seed * 7 + nd, nd)
    rng = cfg["rng"]
    x = rng.standard_normal((cfg["batch"], cfg["c_in"]) + cfg["sizes"]).astype(dtype)
    w = rng.standard_normal((cfg["c_out"], cfg["c_in"] // cfg["groups"]) + cfg["kernel"]).astype(dtype)
    b = rng.standard_normal(cfg["c_out"]).astype(dtype) if cfg["bias"] else None
    ref = CONV[nd](
        torch.from_numpy(x), torch.from_numpy(w), None if b is None else torch.from_numpy(b),
        cfg["stride"], cfg["padding"], cfg["dilation"], cfg["groups"],
    ).numpy()
    ours = conv(x, w, b, cfg["stride"], cfg["padding"], cfg["dilation"], cfg["groups"])
    check(ours, ref, dtype)


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("seed", range(60))
def test_conv_asymmetric_pads_and_modes_match_fpad(seed: int, nd: int) -> None:
    """Per-side pairs and padding modes: F.pad(x, pads, mode) then a padding-0 convolution."""
    rng = np.random.default_rng(1000 + seed * 3 + nd)
    mode = ["zeros", "reflect", "replicate", "circular"][seed % 4]
    groups = int(rng.choice([1, 2]))
    c_in, c_out = groups * int(rng.integers(1, 3)), groups * int(rng.integers(1, 3))
    kernel = tuple(int(v) for v in rng.integers(1, 4, nd))
    stride = tuple(int(v) for v in rng.integers(1, 3, nd))
    dilation = tuple(int(v) for v in rng.integers(1, 3, nd))
    sizes = tuple(int(v) for v in rng.integers(3, {1: 12, 2: 8, 3: 6}[nd], nd))
    limit = {"zeros": 3, "reflect": 2, "replicate": 3, "circular": 3}[mode]
    pairs = tuple((int(rng.integers(0, limit + 1)), int(rng.integers(0, limit + 1))) for _ in range(nd))
    pairs = tuple(
        (b, max(a, d * (k - 1) + 1 - n - b)) for (b, a), n, k, d in zip(pairs, sizes, kernel, dilation)
    )
    x = rng.standard_normal((2, c_in) + sizes)
    w = rng.standard_normal((c_out, c_in // groups) + kernel)
    torch_pads = tuple(v for pair in reversed(pairs) for v in pair)
    xt = F.pad(torch.from_numpy(x), torch_pads, mode="constant" if mode == "zeros" else mode)
    ref = CONV[nd](xt, torch.from_numpy(w), None, stride, 0, dilation, groups).numpy()
    if mode == "zeros":
        ours = conv(x, w, None, stride, pairs, dilation, groups)
    else:
        # per-side pads with a padding mode: pad with the op, then convolve (as PyTorch's module does)
        from convgeom.ops import pad

        ours = conv(pad(x, pairs, mode=mode), w, None, stride, 0, dilation, groups)
    check(ours, ref, np.float64)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("seed", range(12))
def test_conv_padding_mode_matches_torch_module(seed: int, nd: int, mode: str) -> None:
    rng = np.random.default_rng(5000 + seed * 11 + nd)
    kernel = tuple(int(v) for v in rng.integers(1, 4, nd))
    sizes = tuple(int(v) for v in rng.integers(3, {1: 12, 2: 8, 3: 6}[nd], nd))
    padding = tuple(int(rng.integers(0, 3)) for _ in range(nd))
    stride = tuple(int(v) for v in rng.integers(1, 3, nd))
    module = CONV_MODULE[nd](
        2, 3, kernel, stride, padding, padding_mode=mode, dtype=torch.float64
    )
    x = rng.standard_normal((2, 2) + sizes)
    with torch.no_grad():
        ref = module(torch.from_numpy(x)).numpy()
    w = module.weight.detach().numpy()
    b = module.bias.detach().numpy()
    ours = conv(x, w, b, stride, padding, padding_mode=mode)
    check(ours, ref, np.float64)


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("seed", range(30))
def test_conv_same_torch(seed: int, nd: int) -> None:
    """PyTorch padding='same' (stride 1), including even kernels whose extra cell goes after."""
    rng = np.random.default_rng(7000 + seed * 5 + nd)
    kernel = tuple(int(v) for v in rng.integers(1, 6 if nd < 3 else 4, nd))
    dilation = tuple(int(v) for v in rng.integers(1, 3, nd))
    sizes = tuple(int(v) for v in rng.integers(1, {1: 12, 2: 8, 3: 6}[nd], nd))
    x = rng.standard_normal((1, 2) + sizes)
    w = rng.standard_normal((3, 2) + kernel)
    ref = CONV[nd](torch.from_numpy(x), torch.from_numpy(w), None, 1, "same", dilation).numpy()
    check(conv(x, w, None, 1, "same", dilation), ref, np.float64)


@pytest.mark.parametrize("framework", ["tensorflow", "jax", "onnx"])
@pytest.mark.parametrize("seed", range(40))
def test_conv_same_other_dialects_match_fpad(seed: int, framework: str) -> None:
    """'same' with strides in TF/JAX/ONNX = TF's split (extra cell after) + a valid convolution."""
    rng = np.random.default_rng(9000 + seed)
    nd = 1 + seed % 3 if framework != "tensorflow" else 1 + seed % 2
    kernel = tuple(int(v) for v in rng.integers(1, 5, nd))
    stride = tuple(int(v) for v in rng.integers(1, 4, nd))
    # Keras refuses strides with dilation; ONNX Runtime refuses auto_pad SAME with dilation
    no_dilation = framework == "onnx" or (framework == "tensorflow" and max(stride) > 1)
    dilation = (1,) * nd if no_dilation else tuple(int(v) for v in rng.integers(1, 3, nd))
    sizes = tuple(int(v) for v in rng.integers(1, {1: 12, 2: 8, 3: 6}[nd], nd))
    x = rng.standard_normal((2, 2) + sizes)
    w = rng.standard_normal((2, 2) + kernel)
    pairs = [tf_same_pads(n, k, s, d) for n, k, s, d in zip(sizes, kernel, stride, dilation)]
    xt = F.pad(torch.from_numpy(x), tuple(v for p in reversed(pairs) for v in p))
    ref = CONV[nd](xt, torch.from_numpy(w), None, stride, 0, dilation).numpy()
    check(conv(x, w, None, stride, "same", dilation, framework=framework), ref, np.float64)


@pytest.mark.parametrize("seed", range(30))
def test_conv_channels_last(seed: int) -> None:
    rng = np.random.default_rng(11000 + seed)
    nd = 1 + seed % 3
    sizes = tuple(int(v) for v in rng.integers(3, {1: 12, 2: 8, 3: 6}[nd], nd))
    groups = 1 + seed % 2
    x = rng.standard_normal((2, 2 * groups) + sizes).astype(np.float32)
    w = rng.standard_normal((2 * groups, 2) + (3,) * nd).astype(np.float32)
    b = rng.standard_normal(2 * groups).astype(np.float32)
    ref = CONV[nd](torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), 2, 1, 1, groups).numpy()
    x_last = np.ascontiguousarray(np.moveaxis(x, 1, -1))
    ours = conv(x_last, w, b, 2, 1, 1, groups, channels_last=True)
    check(np.ascontiguousarray(np.moveaxis(ours, -1, 1)), ref, np.float32)


@pytest.mark.parametrize("limit", [4096, 64 * 1024, 1 << 20])
def test_conv_chunked_matches_unchunked(limit: int) -> None:
    """Small max_buffer_bytes forces row-level chunks; results are unchanged."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 4, 20, 23))
    w = rng.standard_normal((5, 4, 3, 3))
    ref = F.conv2d(torch.from_numpy(x), torch.from_numpy(w), None, 1, 1).numpy()
    check(conv(x, w, None, 1, 1, max_buffer_bytes=limit), ref, np.float64)
    ref = F.conv2d(torch.from_numpy(x), torch.from_numpy(w), None, 2, 2, 2).numpy()
    check(conv(x, w, None, 2, 2, 2, max_buffer_bytes=limit), ref, np.float64)
    dw = rng.standard_normal((8, 1, 3, 3))
    ref = F.conv2d(torch.from_numpy(x), torch.from_numpy(dw), None, (1, 2), 1, 1, 4).numpy()
    check(conv(x, dw, None, (1, 2), 1, 1, 4, max_buffer_bytes=limit // 8), ref, np.float64)


def test_conv_buffer_limit_too_small() -> None:
    x = np.zeros((1, 64, 8, 8))
    w = np.zeros((4, 64, 3, 3))
    with pytest.raises(GeometryError, match="max_buffer_bytes"):
        conv(x, w, padding=1, max_buffer_bytes=1000)


def test_conv_bias_only_output_padding_cells() -> None:
    """1x1 kernel with padding: border cells see only padding, so they equal the bias."""
    x = np.ones((1, 1, 2, 2))
    w = np.full((1, 1, 1, 1), 2.0)
    ref = F.conv2d(torch.from_numpy(x), torch.from_numpy(w), torch.tensor([0.5], dtype=torch.float64), 1, 1)
    check(conv(x, w, [0.5], 1, 1), ref.numpy(), np.float64)


@pytest.mark.parametrize("x_shape, w_shape", [((2, 0, 5, 5), (3, 0, 3, 3)), ((2, 0, 7), (4, 0, 9)),
                                              ((1, 0, 3, 4, 5), (2, 0, 3, 3, 3))])
def test_conv_without_input_channels_is_the_bias(x_shape: tuple[int, ...], w_shape: tuple[int, ...]) -> None:
    """An empty sum over input channels: every output is the bias. (torch returns a tensor with
    0 channels here, so this one is not compared with torch.)"""
    bias = np.arange(1.0, w_shape[0] + 1)
    out = conv(np.zeros(x_shape), np.zeros(w_shape), bias, 1, 1)
    spatial = tuple(n + 2 - k + 1 for n, k in zip(x_shape[2:], w_shape[2:]))
    assert out.shape == (x_shape[0], w_shape[0]) + spatial
    assert np.array_equal(out, np.broadcast_to(bias.reshape((1, -1) + (1,) * len(spatial)), out.shape))


def test_conv_output_dtype_follows_input() -> None:
    x = np.ones((1, 1, 4), dtype=np.float32)
    assert conv(x, np.ones((1, 1, 2)), None).dtype == np.float32
    assert conv(x.astype(np.float64), np.ones((1, 1, 2), dtype=np.float32)).dtype == np.float64


def test_conv_flops_reference_large_shape() -> None:
    """A ResNet-like layer at moderate size exercises multi-chunk and multi-image chunking."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 16, 30, 31)).astype(np.float32)
    w = rng.standard_normal((24, 16, 3, 3)).astype(np.float32)
    ref = F.conv2d(torch.from_numpy(x), torch.from_numpy(w), None, 1, 1).numpy()
    check(conv(x, w, None, 1, 1, max_buffer_bytes=200_000), ref, np.float32)
    assert math.isfinite(float(np.abs(ref).max()))


ROW_TAP_CASES = [
    # (x shape, w shape, stride, padding, dilation, groups, max_buffer_bytes)
    ((2, 6, 11, 13), (4, 6, 3, 3), 1, 1, 1, 1, 256 * 2**20),
    ((2, 6, 11, 13), (6, 3, 3, 2), 1, (2, 0), (2, 1), 2, 256 * 2**20),
    ((1, 4, 17, 15), (5, 4, 4, 3), 2, 3, 2, 1, 256 * 2**20),  # dilation = stride: one tap group
    ((2, 3, 5, 7, 9), (4, 3, 3, 3, 3), 1, 1, 1, 1, 256 * 2**20),
    ((2, 3, 5, 7, 9), (6, 1, 2, 3, 2), 1, 1, 1, 3, 256 * 2**20),
    ((3, 8, 40, 41), (6, 8, 3, 3), 1, 1, 1, 1, 200_000),  # chunks of a few rows per image
    ((2, 3, 5, 7, 9), (4, 3, 3, 3, 3), 1, 1, 1, 1, 60_000),  # chunks of rows within a depth plane
    # one row tap: the last axis's taps split into virtual rows (9 = 3 x 3, 6 = 2 x 3, 4 = 2 x 2)
    ((2, 5, 40), (4, 5, 9), 1, 4, 1, 1, 256 * 2**20),
    ((2, 6, 33), (6, 3, 6), 1, 2, 2, 2, 256 * 2**20),
    ((1, 3, 9, 30), (4, 3, 1, 4), 1, (0, 1), 1, 1, 256 * 2**20),
    ((2, 4, 3000), (5, 4, 8), 1, 0, 1, 1, 100_000),  # runs along the one axis
]


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation, groups, limit", ROW_TAP_CASES)
def test_row_tap_kernel_matches_torch(monkeypatch: pytest.MonkeyPatch, x_shape: tuple[int, ...],
                                      w_shape: tuple[int, ...], stride: int, padding: object, dilation: object,
                                      groups: int, limit: int) -> None:
    """These configurations take the row-tap kernel (the flat im2col kernel is disabled)."""
    conv_module = importlib.import_module("convgeom.ops.convolution")

    def flat_kernel_called(*args: object, **kwargs: object) -> None:
        raise AssertionError("the flat im2col kernel ran instead of the row-tap kernel")

    monkeypatch.setattr(conv_module, "_gemm_flat", flat_kernel_called)
    rng = np.random.default_rng(len(x_shape) + w_shape[0])
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
    ref = CONV[len(x_shape) - 2](torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), stride, padding,
                                 dilation, groups).numpy()
    check(conv(x, w, b, stride, padding, dilation, groups, max_buffer_bytes=limit), ref, np.float64)
    check(conv(x.astype(np.float32), w, b, stride, padding, dilation, groups, max_buffer_bytes=limit),
          ref.astype(np.float32), np.float32)


@pytest.mark.parametrize("x_shape, w_shape, padding, limit", [
    ((2, 3, 50), (4, 3, 7), 3, 256 * 2**20),  # k = 7 in 1-D has no split into virtual rows
    ((2, 8, 30, 60), (6, 8, 3, 3), 1, 20_000),  # no chunk as long as the extra rows fits
])
def test_flat_kernel_where_row_taps_do_not_apply(monkeypatch: pytest.MonkeyPatch, x_shape: tuple[int, ...],
                                                 w_shape: tuple[int, ...], padding: int, limit: int) -> None:
    conv_module = importlib.import_module("convgeom.ops.convolution")

    def row_kernel_called(*args: object, **kwargs: object) -> None:
        raise AssertionError("the row-tap kernel ran where it should not")

    monkeypatch.setattr(conv_module, "_gemm_row_taps", row_kernel_called)
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    ref = CONV[len(x_shape) - 2](torch.from_numpy(x), torch.from_numpy(w), None, 1, padding).numpy()
    check(conv(x, w, None, 1, padding, max_buffer_bytes=limit), ref, np.float64)
