"""Differential tests of convgeom.ops pooling against torch.nn.functional max_pool*d,
avg_pool*d and adaptive pools: random kernels, strides, padding, dilation, ceil mode,
count_include_pad and divisor_override; the same configurations must be refused by both."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

import _compare  # noqa: E402  (tests/_compare.py)
from _compare import rel_err_with_infinities as rel_err  # noqa: E402
from _compare import tf_same_pads  # noqa: E402
from _torch_ops import ADAPTIVE_AVG, ADAPTIVE_MAX, AVGPOOL, MAXPOOL  # noqa: E402
from convgeom import GeometryError  # noqa: E402
from convgeom.ops import adaptive_avg_pool, adaptive_max_pool, avg_pool, max_pool  # noqa: E402


def check(ours: np.ndarray, ref: np.ndarray, dtype: type) -> None:
    _compare.check(ours, ref, dtype, rel_err)


def pool_config(seed: int, nd: int) -> dict:
    rng = np.random.default_rng(seed)
    kernel = tuple(int(v) for v in rng.integers(1, 5, nd))
    return dict(
        rng=rng,
        kernel=kernel,
        stride=tuple(int(v) for v in rng.integers(1, 4, nd)) if rng.random() < 0.8 else None,
        padding=tuple(int(rng.integers(0, k // 2 + 1)) for k in kernel),
        dilation=tuple(int(v) for v in rng.integers(1, 3, nd)),
        sizes=tuple(int(v) for v in rng.integers(1, {1: 12, 2: 9, 3: 6}[nd], nd)),
        ceil_mode=bool(rng.random() < 0.5),
    )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("seed", range(100))
def test_max_pool_matches_torch(seed: int, nd: int, dtype: type) -> None:
    cfg = pool_config(30000 + seed * 5 + nd, nd)
    x = cfg["rng"].standard_normal((2, 3) + cfg["sizes"]).astype(dtype)
    args = (cfg["kernel"], cfg["stride"], cfg["padding"], cfg["dilation"], cfg["ceil_mode"])
    try:
        ref = MAXPOOL[nd](torch.from_numpy(x), *args).numpy()
    except RuntimeError:
        with pytest.raises(GeometryError):
            max_pool(x, *args)
        return
    check(max_pool(x, *args), ref, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("seed", range(100))
def test_avg_pool_matches_torch(seed: int, nd: int, dtype: type) -> None:
    cfg = pool_config(40000 + seed * 5 + nd, nd)
    rng = cfg["rng"]
    x = rng.standard_normal((2, 3) + cfg["sizes"]).astype(dtype)
    cip = bool(rng.random() < 0.5)
    divisor = int(rng.integers(1, 6)) if nd > 1 and rng.random() < 0.25 else None
    args = (cfg["kernel"], cfg["stride"], cfg["padding"], cfg["ceil_mode"], cip)
    try:
        extra = (divisor,) if nd > 1 else ()
        ref = AVGPOOL[nd](torch.from_numpy(x), *args, *extra).numpy()
    except RuntimeError:
        with pytest.raises(GeometryError):
            avg_pool(x, *args, divisor)
        return
    check(avg_pool(x, *args, divisor), ref, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("seed", range(100))
def test_adaptive_pools_match_torch(seed: int, nd: int, dtype: type) -> None:
    rng = np.random.default_rng(50000 + seed * 5 + nd)
    sizes = tuple(int(v) for v in rng.integers(1, {1: 20, 2: 12, 3: 7}[nd], nd))
    out = tuple(int(v) for v in rng.integers(1, {1: 12, 2: 8, 3: 6}[nd], nd))
    request = out if rng.random() < 0.8 else out[0]
    x = rng.standard_normal((2, 3) + sizes).astype(dtype)
    check(adaptive_avg_pool(x, request), ADAPTIVE_AVG[nd](torch.from_numpy(x), request).numpy(), dtype)
    check(adaptive_max_pool(x, request), ADAPTIVE_MAX[nd](torch.from_numpy(x), request).numpy(), dtype)


def test_adaptive_none_keeps_axis() -> None:
    x = np.random.default_rng(0).standard_normal((1, 2, 5, 7))
    ref = F.adaptive_avg_pool2d(torch.from_numpy(x), (3, None)).numpy()
    check(adaptive_avg_pool(x, (3, None)), ref, np.float64)


def test_pool_nan_propagates_like_torch() -> None:
    x = np.arange(12, dtype=np.float64).reshape(1, 1, 12)
    x[0, 0, 4] = np.nan
    ref = F.max_pool1d(torch.from_numpy(x), 3, 2, 1).numpy()
    ours = max_pool(x, 3, 2, 1)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref))
    ref = F.adaptive_max_pool1d(torch.from_numpy(x), 4).numpy()
    np.testing.assert_array_equal(np.isnan(adaptive_max_pool(x, 4)), np.isnan(ref))


def test_avg_pool_divisor_rule_examples() -> None:
    """AvgPoolKernel.cpp: pool_size = min(start + k, n + p) - start: padding counts, a ceil-mode
    overhang past n + p does not (n=4, k=3, s=2, p=1, ceil -> [2/3, 1, 1/2] on ones)."""
    ones = np.ones((1, 1, 4))
    ours = avg_pool(ones, 3, 2, 1, ceil_mode=True)
    ref = F.avg_pool1d(torch.from_numpy(ones), 3, 2, 1, ceil_mode=True).numpy()
    check(ours, ref, np.float64)
    np.testing.assert_allclose(ours[0, 0], [2 / 3, 1.0, 0.5])


@pytest.mark.parametrize("seed", range(20))
def test_pools_channels_last(seed: int) -> None:
    rng = np.random.default_rng(60000 + seed)
    nd = 1 + seed % 3
    x = rng.standard_normal((2, 3) + tuple(int(v) for v in rng.integers(4, 8, nd))).astype(np.float32)
    last = np.ascontiguousarray(np.moveaxis(x, 1, -1))
    for ours, ref in (
        (max_pool(last, 3, 2, 1, channels_last=True), MAXPOOL[nd](torch.from_numpy(x), 3, 2, 1)),
        (avg_pool(last, 2, 1, 1, channels_last=True), AVGPOOL[nd](torch.from_numpy(x), 2, 1, 1)),
        (adaptive_avg_pool(last, 3, channels_last=True), ADAPTIVE_AVG[nd](torch.from_numpy(x), 3)),
        (adaptive_max_pool(last, 2, channels_last=True), ADAPTIVE_MAX[nd](torch.from_numpy(x), 2)),
    ):
        check(np.ascontiguousarray(np.moveaxis(ours, -1, 1)), ref.numpy(), np.float32)


@pytest.mark.parametrize("seed", range(30))
def test_tensorflow_same_pools_ignore_padding(seed: int) -> None:
    """TF 'SAME' pools: max ignores pads (-inf), average divides by the in-bounds count."""
    rng = np.random.default_rng(61000 + seed)
    nd = 1 + seed % 2
    sizes = tuple(int(v) for v in rng.integers(1, 9, nd))
    kernel = tuple(int(v) for v in rng.integers(1, 5, nd))
    stride = tuple(int(v) for v in rng.integers(1, 4, nd))
    x = rng.standard_normal((1, 2) + sizes)
    pairs = [tf_same_pads(n, k, s) for n, k, s in zip(sizes, kernel, stride)]
    torch_pads = tuple(v for p in reversed(pairs) for v in p)
    xt = torch.from_numpy(x)
    ref_max = MAXPOOL[nd](F.pad(xt, torch_pads, value=-np.inf), kernel, stride).numpy()
    sums = AVGPOOL[nd](F.pad(xt, torch_pads), kernel, stride).numpy()
    counts = AVGPOOL[nd](F.pad(torch.ones_like(xt), torch_pads), kernel, stride).numpy()
    check(max_pool(x, kernel, stride, "same", framework="tensorflow"), ref_max, np.float64)
    check(avg_pool(x, kernel, stride, "same", framework="tensorflow"), sums / counts, np.float64)


def _any_padding_config(seed: int) -> dict:
    """JAX's dialect takes any (before, after) padding, negative too. Three families: ordinary
    windows; kernels far wider than the input with few windows; kernels and pads far wider than
    the input with many windows (the pools then loop over taps, windows or input cells)."""
    rng = np.random.default_rng(62000 + seed)
    family = seed % 3
    n = int(rng.integers(1, 4 if family == 2 else 9))
    k = int(rng.integers(1, 5)) if family == 0 else int(rng.integers(6, 30))
    s = int(rng.integers(1, 4)) if family != 1 else int(rng.integers(5, 40))
    d = int(rng.integers(1, 3))
    reach = (k - 1) * d + 1
    if family == 2:
        pads = (int(rng.integers(reach // 2, reach)), int(rng.integers(reach // 2, reach)))
    else:
        low = -1 if n >= 3 else 0  # a crop, leaving part of the input
        pads = (int(rng.integers(low, reach)), int(rng.integers(low, reach)))
    return dict(x=rng.standard_normal((2, 3, n)), k=k, s=s, d=d, pads=pads)


@pytest.mark.parametrize("seed", range(90))
def test_pools_with_any_padding_match_torch_on_fpad(seed: int) -> None:
    """Against torch on the explicitly padded input (F.pad: -inf for max, 0 for the sum; a
    negative pad crops); the average with count_include_pad divides by the taps in the padded
    input, all ``k`` of them (a dilated window sums with conv1d)."""
    c = _any_padding_config(seed)
    x, k, s, d, pads = c["x"], c["k"], c["s"], c["d"], c["pads"]
    xt = torch.from_numpy(x)
    padded_max = F.pad(xt, pads, value=-np.inf)
    if padded_max.shape[-1] < (k - 1) * d + 1:  # lax: an empty axis
        assert max_pool(x, k, s, (pads,), d, framework="jax").shape == (2, 3, 0)
        assert avg_pool(x, k, s, (pads,), dilation=d, framework="jax").shape == (2, 3, 0)
        return
    ref_max = F.max_pool1d(padded_max, k, s, 0, d).numpy()
    check(max_pool(x, k, s, (pads,), d, framework="jax"), ref_max, np.float64)
    sums = F.conv1d(F.pad(xt, pads).reshape(-1, 1, padded_max.shape[-1]), torch.ones(1, 1, k, dtype=xt.dtype),
                    stride=s, dilation=d).reshape(ref_max.shape)
    ours = avg_pool(x, k, s, (pads,), count_include_pad=True, dilation=d, framework="jax")
    check(ours, (sums / k).numpy(), np.float64)
