"""The dialect rules added with the API hardening, checked against the real frameworks: which
per-axis counts PyTorch accepts (and when a 1-tuple stands for every axis), which interpolate
modes it takes for how many dims, PyTorch's own 'same' in ``same_padding``, and ONNX Runtime's
Resize sizes."""

from __future__ import annotations

import itertools
import warnings
from typing import Any

import numpy as np
import pytest

import convgeom as cg
from convgeom import GeometryError

torch = pytest.importorskip("torch")
F = torch.nn.functional

from _torch_ops import ADAPTIVE_AVG, AVGPOOL, CONV, CONV_MODULE, CONVT, MAXPOOL  # noqa: E402


def torch_ok(call: Any) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            call()
    except (RuntimeError, ValueError, TypeError, NotImplementedError):
        return False
    return True


def cg_ok(call: Any) -> bool:
    try:
        call()
    except GeometryError:
        return False
    return True


# ----------------------------------------------------------------------------------------
# per-axis counts: PyTorch 2.13 decides what a 1-tuple means
# ----------------------------------------------------------------------------------------
def _x(nd: int) -> Any:
    return torch.zeros((1, 1) + (6,) * nd)


def _w(nd: int) -> Any:
    return torch.zeros((1, 1) + (3,) * nd)


# (name, torch call given nd and the value, convgeom call given nd and the value); the value is
# a tuple of `count` copies of a legal per-axis value
CASES: list[tuple[str, Any, Any, int]] = [
    ("conv stride", lambda nd, v: CONV[nd](_x(nd), _w(nd), stride=v), lambda nd, v: cg.conv((6,) * nd, 3, v), 1),
    ("conv padding", lambda nd, v: CONV[nd](_x(nd), _w(nd), padding=v), lambda nd, v: cg.conv((6,) * nd, 3, 1, v), 1),
    ("conv dilation", lambda nd, v: CONV[nd](_x(nd), _w(nd), dilation=v),
     lambda nd, v: cg.conv((6,) * nd, 3, 1, 0, v), 2),
    ("Conv module kernel", lambda nd, v: CONV_MODULE[nd](1, 1, v)(_x(nd)), lambda nd, v: cg.conv((6,) * nd, v), 3),
    ("conv_transpose stride", lambda nd, v: CONVT[nd](_x(nd), _w(nd), stride=v),
     lambda nd, v: cg.conv_transpose((6,) * nd, 3, v), 2),
    ("conv_transpose output_padding", lambda nd, v: CONVT[nd](_x(nd), _w(nd), stride=2, output_padding=v),
     lambda nd, v: cg.conv_transpose((6,) * nd, 3, 2, 0, v), 1),
    ("max_pool kernel", lambda nd, v: MAXPOOL[nd](_x(nd), v), lambda nd, v: cg.max_pool((6,) * nd, v), 2),
    ("max_pool stride", lambda nd, v: MAXPOOL[nd](_x(nd), 2, v), lambda nd, v: cg.max_pool((6,) * nd, 2, v), 1),
    ("max_pool padding", lambda nd, v: MAXPOOL[nd](_x(nd), 3, 1, v), lambda nd, v: cg.max_pool((6,) * nd, 3, 1, v), 1),
    ("max_pool dilation", lambda nd, v: MAXPOOL[nd](_x(nd), 2, 1, 0, v),
     lambda nd, v: cg.max_pool((6,) * nd, 2, 1, 0, v), 2),
    ("avg_pool kernel", lambda nd, v: AVGPOOL[nd](_x(nd), v), lambda nd, v: cg.avg_pool((6,) * nd, v), 2),
    ("avg_pool padding", lambda nd, v: AVGPOOL[nd](_x(nd), 3, 1, v), lambda nd, v: cg.avg_pool((6,) * nd, 3, 1, v), 1),
    ("unfold kernel", lambda nd, v: F.unfold(_x(nd), v), lambda nd, v: cg.unfold((6,) * nd, v), 2),
    ("unfold stride", lambda nd, v: F.unfold(_x(nd), 2, stride=v), lambda nd, v: cg.unfold((6,) * nd, 2, v), 2),
    ("adaptive output_size", lambda nd, v: ADAPTIVE_AVG[nd](_x(nd), v), lambda nd, v: cg.adaptive_avg_pool((6,) * nd, v), 3),
    ("interpolate size", lambda nd, v: F.interpolate(_x(nd), size=v), lambda nd, v: cg.interpolate((6,) * nd, v), 4),
    ("interpolate scale_factor", lambda nd, v: F.interpolate(_x(nd), scale_factor=tuple(float(x) for x in v)),
     lambda nd, v: cg.interpolate((6,) * nd, scale_factor=tuple(float(x) for x in v)), 2),
]


@pytest.mark.parametrize("name,torch_call,cg_call,value", CASES, ids=[c[0] for c in CASES])
def test_per_axis_counts_follow_pytorch(name: str, torch_call: Any, cg_call: Any, value: int) -> None:
    """For 1- to 3-d inputs and 1 to 4 values, convgeom accepts exactly what PyTorch accepts
    (an int always; a 1-tuple where PyTorch expands it; otherwise one value per axis)."""
    disagree = []
    for nd, count in itertools.product((1, 2, 3), (1, 2, 3, 4)):
        v = (value,) * count
        if name.startswith("unfold") and nd != 2:
            continue  # nn.Unfold is 2-d only (its own error)
        t, c = torch_ok(lambda nd=nd, v=v: torch_call(nd, v)), cg_ok(lambda nd=nd, v=v: cg_call(nd, v))
        if t != c:
            disagree.append(f"{nd}-d, {count} values: torch {'accepts' if t else 'rejects'}, convgeom "
                            f"{'accepts' if c else 'rejects'}")
    assert not disagree, f"{name}: " + "; ".join(disagree)


@pytest.mark.parametrize("call,cg_call,kind", [
    (lambda: F.max_pool1d(_x(1), 2, ceil_mode=1), lambda: cg.max_pool(6, 2, ceil_mode=1), TypeError),
    (lambda: F.avg_pool1d(_x(1), 2, count_include_pad=1), lambda: cg.avg_pool(6, 2, count_include_pad=1), TypeError),
    (lambda: F.avg_pool2d(_x(2), 2, divisor_override=True), lambda: cg.avg_pool((6, 6), 2, divisor=True), TypeError),
    (lambda: F.conv1d(_x(1), _w(1), stride=2.0), lambda: cg.conv(6, 3, 2.0), TypeError),
    (lambda: F.conv1d(_x(1), _w(1), stride=True), lambda: cg.conv(6, 3, True), TypeError),
    (lambda: F.max_pool1d(_x(1), 2.5), lambda: cg.max_pool(6, 2.5), TypeError),
    (lambda: F.conv1d(_x(1), _w(1), padding=2**63), lambda: cg.conv(6, 3, 1, 2**63), GeometryError),
])
def test_what_pytorch_refuses_for_its_type_or_range(call: Any, cg_call: Any, kind: type[Exception]) -> None:
    """Bools, floats and ints beyond int64: PyTorch refuses each, convgeom too (a TypeError for
    a wrong type)."""
    assert not torch_ok(call)
    with pytest.raises(kind):
        cg_call()


# ----------------------------------------------------------------------------------------
# interpolate: modes and dims
# ----------------------------------------------------------------------------------------
MODES = ("nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear", "area", "bogus", "Nearest")


@pytest.mark.parametrize("mode", MODES)
def test_interpolate_modes_follow_pytorch(mode: str) -> None:
    for nd in (1, 2, 3):
        t = torch_ok(lambda nd=nd: F.interpolate(_x(nd), size=4, mode=mode))
        c = cg_ok(lambda nd=nd: cg.interpolate((6,) * nd, 4, mode=mode))
        assert t == c, f"{mode} on {nd}-d: torch {'accepts' if t else 'rejects'}, convgeom {'accepts' if c else 'rejects'}"
        if c:
            assert cg.interpolate((6,) * nd, 4, mode=mode).output == (4,) * nd


# ----------------------------------------------------------------------------------------
# same_padding answers for the framework asked
# ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("n,k,d", [(7, 4, 1), (9, 6, 1), (7, 3, 2), (8, 2, 3), (5, 5, 1)])
def test_same_padding_for_torch_is_pytorchs_same(n: int, k: int, d: int) -> None:
    sp = cg.same_padding(n, k, 1, d, framework="torch")
    assert sp.framework == "torch" and sp.static
    x = torch.randn(1, 1, n, dtype=torch.float64)
    w = torch.randn(1, 1, k, dtype=torch.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = F.conv1d(x, w, padding="same", dilation=d)
    got = F.conv1d(F.pad(x, sp.torch_pad), w, dilation=d)
    assert torch.allclose(want, got)


def test_same_padding_for_torch_refuses_strides_as_pytorch_does() -> None:
    assert not torch_ok(lambda: F.conv1d(_x(1), _w(1), stride=2, padding="same"))
    with pytest.raises(GeometryError, match="not supported for strided convolutions") as info:
        cg.same_padding(8, 3, 2, framework="torch")
    assert "F.pad(x, (0, 1))" in info.value.fix
    assert cg.same_padding(8, 3, 2, framework="tensorflow").pad == ((0, 1),)


# ----------------------------------------------------------------------------------------
# ONNX Runtime Resize
# ----------------------------------------------------------------------------------------
def _ort_resize(shape: tuple[int, ...], scales: tuple[float, ...], mode: str) -> Any:
    ort = pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    h = onnx.helper
    x = h.make_tensor_value_info("x", onnx.TensorProto.FLOAT, list(shape))
    y = h.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)
    sc = h.make_tensor("scales", onnx.TensorProto.FLOAT, [len(shape)], [1.0, 1.0, *scales])
    graph = h.make_graph([h.make_node("Resize", ["x", "", "scales"], ["y"], mode=mode)], "g", [x], [y], [sc])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 19)])
    try:
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        return session.run(None, {"x": np.zeros(shape, np.float32)})[0].shape[2:]
    except Exception as exc:  # noqa: BLE001 - ORT raises its own Fail/InvalidArgument types
        return exc


@pytest.mark.parametrize("n,scale", [(7, 1.1), (3, 1 / 3), (41, 0.3), (59, 2.5), (100, 0.7), (12345, 1.3),
                                     (33554431, 0.7), (16777217, 1.1), (5, 0.1), (3, 0.2)])
def test_onnx_resize_sizes_match_onnxruntime(n: int, scale: float) -> None:
    """floor(scale * n) in float32, as ORT computes it (double precision differs for e.g.
    n=33554431, scale=0.7); an output of 0 is an empty axis."""
    want = _ort_resize((1, 1, n), (scale,), "nearest")
    assert cg.interpolate(n, scale_factor=scale, framework="onnx").output == tuple(want)


@pytest.mark.parametrize("mode,nd", list(itertools.product(("nearest", "linear", "cubic"), (1, 2, 3, 4))))
def test_onnx_resize_modes_and_dims_match_onnxruntime(mode: str, nd: int) -> None:
    want = _ort_resize((1, 1) + (4,) * nd, (1.5,) * nd, mode)
    if isinstance(want, Exception):
        with pytest.raises(GeometryError):
            cg.interpolate((4,) * nd, scale_factor=1.5, mode=mode, framework="onnx")
    else:
        assert cg.interpolate((4,) * nd, scale_factor=1.5, mode=mode, framework="onnx").output == tuple(want)
