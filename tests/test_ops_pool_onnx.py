"""convgeom.ops.avg_pool with ``dilation`` against live ONNX Runtime: AveragePool-19 nodes built
with onnx.helper over random configurations (dilation > 1, explicit pads or auto_pad, ceil_mode,
count_include_pad 0 and 1), the same configurations refused by both.

PyTorch has no dilated average pool (the engine refuses ``dilation`` there, as PyTorch does);
``dilation=1`` is checked against torch in test_ops_pool.py and once more here.

The divisor rule of a dilated window is ONNX Runtime's (``pool_functors.h``,
``AveragePool1DTask``..``3DTask``): ``hend = min(start + k*d, n + pad_end)``, the taps before
``hend`` counted with ``count_include_pad``, else the taps inside the input; a window with none
averages to 0. Where the ONNX reference implementation (``onnx/reference/ops/op_pool_common.py``,
onnx 1.23) disagrees, ORT wins: the reference floors the output size where ORT truncates (one
partial window when ``n - e > -s``), returns NaN for a window that reads only padding, and in
ceil mode splits the extra padding half before the input, shifting every window
(``test_onnx_runtime_wins_over_the_reference``).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper  # noqa: E402
from onnxruntime.capi.onnxruntime_pybind11_state import Fail, InvalidArgument, RuntimeException  # noqa: E402

import _compare  # noqa: E402  (tests/_compare.py)
from convgeom import GeometryError  # noqa: E402
from convgeom.ops import avg_pool, trace_avg_pool  # noqa: E402

ORT_REFUSES = (Fail, InvalidArgument, RuntimeException)
AUTO_PAD = {"same": "SAME_UPPER", "same_lower": "SAME_LOWER", "valid": "VALID"}

ort.set_default_logger_severity(4)  # refusals are expected; ORT would log each one


def average_pool(x: np.ndarray, kernel: tuple[int, ...], stride: tuple[int, ...], padding: object,
                 dilation: tuple[int, ...], ceil_mode: bool, count_include_pad: bool) -> np.ndarray | None:
    """Run one AveragePool-19 node in ONNX Runtime; None when ORT refuses the configuration."""
    attrs: dict[str, object] = dict(kernel_shape=list(kernel), strides=list(stride), dilations=list(dilation),
                                    ceil_mode=int(ceil_mode), count_include_pad=int(count_include_pad))
    if isinstance(padding, str):
        attrs["auto_pad"] = AUTO_PAD[padding]
    else:
        attrs["pads"] = [b for b, _ in padding] + [a for _, a in padding]  # type: ignore[attr-defined]
    node = helper.make_node("AveragePool", ["X"], ["Y"], **attrs)
    graph = helper.make_graph([node], "avg", [helper.make_tensor_value_info("X", TensorProto.FLOAT, list(x.shape))],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)], ir_version=9)
    try:
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        return session.run(None, {"X": x})[0]
    except ORT_REFUSES:
        return None


def random_config(seed: int) -> dict:
    rng = np.random.default_rng(90000 + seed)
    nd = 1 + seed % 3
    kernel = tuple(int(v) for v in rng.integers(1, 4, nd))
    dilation = tuple(int(v) for v in rng.integers(1, 4, nd))
    if all(d == 1 for d in dilation):
        dilation = (2,) + dilation[1:]
    padding: object
    if seed % 4 == 3:
        padding = ("same", "same_lower", "valid")[(seed // 4) % 3]
    else:  # ORT requires pads < kernel
        padding = tuple((int(rng.integers(0, k)), int(rng.integers(0, k))) for k in kernel)
    return dict(
        x=rng.standard_normal((2, 3) + tuple(int(v) for v in rng.integers(1, 10, nd))).astype(np.float32),
        kernel=kernel,
        stride=tuple(int(v) for v in rng.integers(1, 4, nd)),
        padding=padding,
        dilation=dilation,
        ceil_mode=not isinstance(padding, str) and bool(rng.random() < 0.5),
        count_include_pad=bool(rng.random() < 0.5),
    )


@pytest.mark.parametrize("seed", range(240))
def test_dilated_avg_pool_matches_onnx_runtime(seed: int) -> None:
    c = random_config(seed)
    ref = average_pool(c["x"], c["kernel"], c["stride"], c["padding"], c["dilation"], c["ceil_mode"],
                       c["count_include_pad"])
    args = (c["x"], c["kernel"], c["stride"], c["padding"], c["ceil_mode"], c["count_include_pad"])
    if ref is None:
        with pytest.raises(GeometryError):
            avg_pool(*args, dilation=c["dilation"], framework="onnx")
        return
    ours = avg_pool(*args, dilation=c["dilation"], framework="onnx")
    _compare.check(ours, ref, np.float32)


@pytest.mark.parametrize("seed", range(0, 240, 8))
def test_trace_avg_pool_with_dilation_matches_onnx_runtime(seed: int) -> None:
    """The step-by-step trace takes ``dilation`` too: every window's divisor and result."""
    c = random_config(seed)
    x = c["x"][:1, :2]
    ref = average_pool(x, c["kernel"], c["stride"], c["padding"], c["dilation"], c["ceil_mode"],
                       c["count_include_pad"])
    if ref is None:
        pytest.skip("ORT refuses this configuration")
    trace = trace_avg_pool(x, c["kernel"], c["stride"], c["padding"], c["ceil_mode"], c["count_include_pad"],
                           dilation=c["dilation"], framework="onnx")
    _compare.check(trace.output.astype(np.float32), ref, np.float32)
    for w in trace.windows:
        assert w.taps == tuple(tuple(o + j * d for j in range(k))
                               for o, k, d in zip(w.origin, c["kernel"], c["dilation"]))


def test_onnx_runtime_wins_over_the_reference() -> None:
    """Three configurations where ORT 1.32 and onnx 1.23's reference implementation disagree;
    convgeom gives ORT's answer, which is also the definition worked by hand: a window that
    reads only padding averages to 0 (reference: NaN); a window past the input by less than the
    stride gives one partial window (reference: none); in ceil mode the windows start at
    ``i*s - pad_before`` (the reference shifts them by half the extra pad)."""
    from onnx.reference import ReferenceEvaluator

    x = np.array([[[5.0]]], dtype=np.float32)
    cases = [
        # n=1, k=2, d=2, pads 1/1: taps at -1 and 1, neither in the input
        (x, (2,), (1,), ((1, 1),), (2,), False, False, [[[0.0]]]),
        # n=1, k=2, s=3: e - n = 1 < s, truncating division: one window, tap 0 only
        (x, (2,), (3,), ((0, 0),), (1,), False, True, [[[5.0]]]),
        # n=3, k=2, s=3, d=2, pads 1/0, ceil: windows {-1, 1} -> x[1], {2, 4} -> x[2]
        (np.array([[[1.0, 2.0, 3.0]]], dtype=np.float32), (2,), (3,), ((1, 0),), (2,), True, False, [[[2.0, 3.0]]]),
    ]
    for data, kernel, stride, padding, dilation, ceil, cip, expected in cases:
        ref = average_pool(data, kernel, stride, padding, dilation, ceil, cip)
        assert ref is not None
        np.testing.assert_allclose(ref, expected)
        ours = avg_pool(data, kernel, stride, padding, ceil, cip, dilation=dilation, framework="onnx")
        np.testing.assert_allclose(ours, expected)
        node = helper.make_node("AveragePool", ["X"], ["Y"], kernel_shape=list(kernel), strides=list(stride),
                                pads=[padding[0][0], padding[0][1]], dilations=list(dilation),
                                ceil_mode=int(ceil), count_include_pad=int(cip))
        graph = helper.make_graph([node], "avg", [helper.make_tensor_value_info("X", TensorProto.FLOAT, None)],
                                  [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)], ir_version=9)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # NumPy's mean of an empty window
            reference = ReferenceEvaluator(model).run(None, {"X": data})[0]
        agrees = reference.shape == ours.shape and np.allclose(reference, ours)
        assert not agrees, "the onnx reference now agrees with ORT here: update this test's docstring"


def test_dilation_one_still_matches_torch_exactly() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(91000)
    for _ in range(30):
        x = rng.standard_normal((2, 3, int(rng.integers(3, 9)), int(rng.integers(3, 9))))
        k, s = int(rng.integers(1, 4)), int(rng.integers(1, 3))
        p, ceil, cip = int(rng.integers(0, k // 2 + 1)), bool(rng.random() < 0.5), bool(rng.random() < 0.5)
        ref = torch.nn.functional.avg_pool2d(torch.from_numpy(x), k, s, p, ceil, cip).numpy()
        _compare.check(avg_pool(x, k, s, p, ceil, cip, dilation=1), ref, np.float64)
        _compare.check(avg_pool(x, k, s, p, ceil, cip, dilation=(1, 1)), ref, np.float64)


@pytest.mark.parametrize("framework", ["torch", "tensorflow"])
def test_dilation_is_refused_where_the_framework_has_none(framework: str) -> None:
    with pytest.raises(GeometryError, match="dilation"):
        avg_pool(np.zeros((1, 1, 8, 8)), 2, dilation=2, framework=framework,
                 padding="valid" if framework == "tensorflow" else 0)
