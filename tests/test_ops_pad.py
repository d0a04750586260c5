"""convgeom.ops.pad against torch.nn.functional.pad: every mode, 1 to 3 spatial axes (and more
for the modes torch allows there), negative pads (crops), the modes' limits, and every real
dtype (bool, integers, floats), whose result keeps the input's dtype; against NumPy's np.pad
where torch lacks a dtype/mode pair (reflect/replicate of bool and of uint16/32/64)."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from convgeom import GeometryError  # noqa: E402
from convgeom.ops import pad  # noqa: E402

MODES = ("zeros", "constant", "reflect", "replicate", "circular")
NUMPY_MODE = {"zeros": "constant", "constant": "constant", "reflect": "reflect", "replicate": "edge",
              "circular": "wrap"}
DTYPES = (np.bool_, np.uint8, np.int8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64,
          np.float16, np.float32, np.float64)


def torch_pad(x: np.ndarray, pairs: tuple[tuple[int, int], ...], mode: str, value: object = 0.0) -> np.ndarray:
    flat = tuple(v for pair in reversed(pairs) for v in pair)
    tmode = "constant" if mode in ("zeros", "constant") else mode
    kwargs = {"value": value if mode == "constant" else 0} if tmode == "constant" else {}
    return F.pad(torch.from_numpy(x), flat, mode=tmode, **kwargs).numpy()


def numpy_pad(x: np.ndarray, pairs: tuple[tuple[int, int], ...], mode: str, value: object = 0) -> np.ndarray:
    kwargs = {"constant_values": value if mode == "constant" else 0} if NUMPY_MODE[mode] == "constant" else {}
    return np.pad(x, ((0, 0), (0, 0)) + tuple(pairs), mode=NUMPY_MODE[mode], **kwargs)


def random_values(rng: np.random.Generator, shape: tuple[int, ...], dtype: type) -> np.ndarray:
    """Values spread over the dtype's whole range (both ends included)."""
    dt = np.dtype(dtype)
    if dt.kind == "b":
        return rng.random(shape) < 0.5
    if dt.kind in "iu":
        info = np.iinfo(dt)
        return rng.integers(int(info.min), int(info.max), shape, dtype=dt, endpoint=True)
    return (rng.standard_normal(shape) * 100).astype(dt)


def fitting_value(rng: np.random.Generator, dtype: type) -> object:
    dt = np.dtype(dtype)
    if dt.kind == "b":
        return bool(rng.random() < 0.5)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        # torch's F.pad passes the fill through a double (2**63 - 1000 comes out 2**63 - 1024):
        # values it holds exactly; the ends of the 64-bit ranges are checked against np.pad
        return int(rng.integers(max(int(info.min), -2**53), min(int(info.max), 2**53), endpoint=True))
    return float(np.float16(rng.standard_normal() * 10))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("seed", range(40))
def test_pad_matches_torch(seed: int, nd: int, mode: str) -> None:
    rng = np.random.default_rng(70000 + seed * 13 + nd)
    sizes = tuple(int(v) for v in rng.integers(1, 7, nd))
    pairs = tuple((int(rng.integers(-2, 5)), int(rng.integers(-2, 5))) for _ in range(nd))
    x = rng.standard_normal((2, 3) + sizes)
    dtype = np.float32 if seed % 2 else np.float64
    x = x.astype(dtype)
    value = 1.5 if mode == "constant" else 0.0
    if mode == "circular" and any(
        0 <= n + min(b, 0) + min(a, 0) < max(b, a) <= n for n, (b, a) in zip(sizes, pairs)
    ):
        # F.pad wraps the cropped input; past its length the result is uninitialised memory or an
        # internal-overlap error. convgeom refuses these pads.
        pytest.skip("F.pad circular wrapping more than the cells left after cropping is undefined")
    if mode in ("reflect", "replicate") and nd == 1 and sizes[0] + sum(pairs[0]) == 0:
        pytest.skip("F.pad refuses an empty 1-d reflect/replicate result (2-d and 3-d allow it); convgeom allows it")
    try:
        ref = torch_pad(x, pairs, mode, value)
    except RuntimeError:
        with pytest.raises(GeometryError):
            pad(x, pairs, mode, value)
        return
    ours = pad(x, pairs, mode, value)
    assert ours.dtype == x.dtype and ours.shape == ref.shape
    np.testing.assert_array_equal(ours, ref)


def _torch_lacks(dtype: type, mode: str) -> bool:
    """F.pad in torch 2.13 has no reflect/replicate kernels for bool and uint16/32/64."""
    return mode in ("reflect", "replicate") and np.dtype(dtype) in (
        np.dtype(np.bool_), np.dtype(np.uint16), np.dtype(np.uint32), np.dtype(np.uint64))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("seed", range(12))
def test_pad_every_dtype_matches_torch_and_keeps_it(seed: int, dtype: type, mode: str) -> None:
    """Random shapes, pads (crops included) and fill values over the whole range of each dtype:
    torch's F.pad where it has the dtype and mode, else np.pad (then pads >= 0); the result
    has the input's dtype."""
    rng = np.random.default_rng(71000 + seed * 31 + DTYPES.index(dtype))
    nd = 1 + seed % 3
    sizes = tuple(int(v) for v in rng.integers(2, 7, nd))
    low = 0 if _torch_lacks(dtype, mode) else -1
    high = {"reflect": min(sizes), "circular": min(sizes) - 1}.get(mode, 5)
    pairs = tuple((int(rng.integers(low, high)), int(rng.integers(low, high))) for _ in range(nd))
    x = random_values(rng, (2, 2) + sizes, dtype)
    value = fitting_value(rng, dtype) if mode == "constant" else 0
    ours = pad(x, pairs, mode, value)
    ref = numpy_pad(x, pairs, mode, value) if _torch_lacks(dtype, mode) else torch_pad(x, pairs, mode, value)
    assert ours.dtype == np.dtype(dtype)
    assert ours.shape == ref.shape
    np.testing.assert_array_equal(ours, ref)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_pad_matches_numpy_pad(dtype: type, mode: str) -> None:
    """np.pad's constant/reflect/edge/wrap are F.pad's modes for pads >= 0 (within the limits)."""
    rng = np.random.default_rng(72000 + DTYPES.index(dtype))
    for _ in range(10):
        nd = int(rng.integers(1, 4))
        sizes = tuple(int(v) for v in rng.integers(3, 7, nd))
        pairs = tuple((int(rng.integers(0, 3)), int(rng.integers(0, 3))) for _ in range(nd))
        x = random_values(rng, (1, 2) + sizes, dtype)
        value = fitting_value(rng, dtype) if mode == "constant" else 0
        ours = pad(x, pairs, mode, value)
        assert ours.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(ours, numpy_pad(x, pairs, mode, value))


@pytest.mark.parametrize(
    "dtype, value",
    [(np.uint8, 255), (np.uint8, 0), (np.int8, -128), (np.int8, 127.0), (np.int64, -2**63), (np.int64, 2**63 - 1),
     (np.uint64, 2**64 - 1), (np.bool_, True), (np.bool_, 0), (np.float16, 65504.0), (np.float32, float("nan")),
     (np.float64, float("-inf")), (np.float32, np.float64(3.25)), (np.uint16, np.int64(65535))],
)
def test_pad_constant_at_the_ends_of_a_dtype(dtype: type, value: object) -> None:
    x = np.ones((1, 2, 3), dtype=dtype)
    ours = pad(x, ((1, 2),), "constant", value)
    assert ours.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(ours, numpy_pad(x, ((1, 2),), "constant", value))


@pytest.mark.parametrize(
    "dtype, value",
    [(np.uint8, 300), (np.uint8, -1), (np.uint8, 0.5), (np.int8, 128), (np.int16, -32769), (np.uint64, -1),
     (np.int64, 2**63), (np.uint64, 2**64), (np.int32, float("nan")), (np.int32, float("inf")), (np.bool_, 2),
     (np.bool_, 0.5), (np.bool_, -1), (np.float16, 70000.0), (np.float32, 1e39), (np.float64, 10**400)],
)
def test_pad_constant_that_does_not_fit_is_refused(dtype: type, value: object) -> None:
    """torch wraps some of these silently (uint8 0.5 -> 0, uint64 2**64 - 1 -> 0); convgeom refuses."""
    with pytest.raises(GeometryError, match="does not fit dtype") as info:
        pad(np.zeros((1, 1, 3), dtype=dtype), 1, "constant", value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_pad_value_with_a_mode_that_takes_none(mode: str) -> None:
    x = np.zeros((1, 1, 4))
    with pytest.raises(RuntimeError, match="doesn't take in value"):
        F.pad(torch.from_numpy(x), (1, 1), mode=mode, value=2.0)
    with pytest.raises(GeometryError, match="takes no value"):
        pad(x, 1, mode, 2.0)
    with pytest.raises(GeometryError, match="takes no value"):
        pad(x, 1, "zeros", 2.0)
    np.testing.assert_array_equal(pad(x, 1, mode, 0), torch_pad(x, ((1, 1),), mode))


@pytest.mark.parametrize("value", ["1", None, 1j, [1], np.array([1.0, 2.0])])
def test_pad_value_must_be_a_real_number(value: object) -> None:
    with pytest.raises(GeometryError, match="value must be a real number"):
        pad(np.zeros((1, 1, 3)), 1, "constant", value)  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", ["reflect", "replicate"])
def test_pad_empty_axis(mode: str) -> None:
    """Nothing to reflect or replicate from an empty axis: torch refuses, and so does convgeom."""
    x = np.zeros((1, 1, 2, 0))
    with pytest.raises(RuntimeError):
        torch_pad(x, ((0, 0), (1, 1)), mode)
    with pytest.raises(GeometryError, match="empty"):
        pad(x, ((0, 0), (1, 1)), mode)
    np.testing.assert_array_equal(pad(x, ((0, 0), (1, 1))), torch_pad(x, ((0, 0), (1, 1)), "zeros"))


def test_pad_int_and_per_axis_forms() -> None:
    x = np.arange(12.0).reshape(1, 1, 3, 4)
    np.testing.assert_array_equal(pad(x, 1), torch_pad(x, ((1, 1), (1, 1)), "zeros"))
    np.testing.assert_array_equal(pad(x, (1, 2), "reflect"), torch_pad(x, ((1, 1), (2, 2)), "reflect"))
    np.testing.assert_array_equal(pad(x, ((0, 2), (1, 0)), "replicate"), torch_pad(x, ((0, 2), (1, 0)), "replicate"))


def test_pad_four_spatial_axes() -> None:
    """Any number of spatial axes (torch's non-constant modes stop at 3)."""
    x = np.arange(16.0).reshape(1, 1, 2, 2, 2, 2)
    ours = pad(x, 1, "replicate")
    np.testing.assert_array_equal(ours, numpy_pad(x, ((1, 1),) * 4, "replicate"))
    np.testing.assert_array_equal(pad(x, 1), torch_pad(x, ((1, 1),) * 4, "zeros"))


def test_pad_channels_last() -> None:
    x = np.random.default_rng(0).standard_normal((2, 4, 5, 3))
    ours = pad(x, ((1, 2), (2, 0)), "reflect", channels_last=True)
    ref = torch_pad(np.ascontiguousarray(np.moveaxis(x, -1, 1)), ((1, 2), (2, 0)), "reflect")
    np.testing.assert_array_equal(np.moveaxis(ours, -1, 1), ref)


@pytest.mark.parametrize(
    "mode, pairs, message",
    [
        ("reflect", ((3, 0),), "reflect padding 3"),
        ("circular", ((4, 0),), "circular padding 4"),
        ("zeros", ((-2, -2),), "crops more than"),
        ("bogus", ((1, 1),), "unknown padding mode"),
        (None, ((1, 1),), "mode must be a string"),
    ],
)
def test_pad_limits(mode: str, pairs: tuple[tuple[int, int], ...], message: str) -> None:
    with pytest.raises(GeometryError, match=message):
        pad(np.zeros((1, 1, 3)), pairs, mode)


@pytest.mark.parametrize(
    "x, message",
    [
        (np.zeros((1, 1, 3), dtype=np.complex128), "dtype complex128"),
        (np.zeros((1, 1, 3), dtype=object), "dtype object"),
        (np.array([[["a", "b"]]]), "dtype <U1"),
        (np.zeros((1, 1, 3), dtype="datetime64[s]"), "dtype datetime64"),
        ([[[1, 2], [3]]], "not a rectangular array"),
        (None, "x must be an array of numbers, got None"),
        ("abc", "x must be an array of numbers"),
        (np.zeros((3,)), "spatial axis"),
        (7, "spatial axis"),
    ],
)
def test_pad_rejects_bad_arrays(x: object, message: str) -> None:
    with pytest.raises(GeometryError, match=message) as info:
        pad(x, 1)
    assert "\n" not in str(info.value)


def test_pad_rejects_strings_and_bad_flags() -> None:
    with pytest.raises(GeometryError, match="padding string"):
        pad(np.zeros((1, 1, 3)), "same")  # type: ignore[arg-type]
    with pytest.raises(GeometryError, match="channels_last must be True or False"):
        pad(np.zeros((1, 1, 3)), 1, channels_last="yes")  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("amount", [10**9, 10**12, 10**30, 10**400])
def test_pad_refuses_a_huge_output_before_allocating(mode: str, amount: int) -> None:
    """10**9 cells of float64 (8 GB) and beyond: one line naming max_output_bytes, nothing
    allocated (before, NumPy raised MemoryError or 'Maximum allowed dimension exceeded')."""
    x = np.ones((1, 1, 5))
    pairs = ((0, amount),) if mode in ("reflect", "circular") else ((amount, amount),)
    tracemalloc.start()
    try:
        with pytest.raises(GeometryError) as info:
            pad(x, pairs, mode)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    message = str(info.value)
    assert "\n" not in message
    if amount > 2**63 - 1:
        expected = "does not fit in int64"  # the engine's size cap comes first
    else:
        expected = "max_output_bytes" if mode in ("zeros", "constant", "replicate") else "padding"
    assert expected in message
    assert peak < 2**20


def test_pad_output_cap_is_a_parameter() -> None:
    x = np.ones((1, 1, 8, 8), dtype=np.uint8)
    assert pad(x, 4, max_output_bytes=256).nbytes == 256
    with pytest.raises(GeometryError, match=r"\(1, 1, 16, 17\) \(272 bytes\), more than max_output_bytes=256"):
        pad(x, ((4, 4), (4, 5)), max_output_bytes=256)
    for bad in (0, -1, 1.5, True, "1", None):
        with pytest.raises(GeometryError, match="max_output_bytes must be a positive integer"):
            pad(x, 1, max_output_bytes=bad)  # type: ignore[arg-type]
