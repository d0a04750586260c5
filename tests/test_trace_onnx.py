"""ONNX frontend: files exported from torch and hand-built graphs; every node's traced output
shape equals ONNX Runtime's (all node outputs exposed as graph outputs), params equal the float
initializers, and malformed inputs give one clear error."""

from __future__ import annotations

import warnings
from fractions import Fraction

import pytest

onnx = pytest.importorskip("onnx")
np = pytest.importorskip("numpy")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper  # noqa: E402

import convgeom.tracing as ct  # noqa: E402


def ort_shapes(model, feeds):
    """Shapes of every node output from a real ONNX Runtime run (each exposed as a graph output
    without a declared type: the runtime fills it in)."""
    exposed = onnx.ModelProto()
    exposed.CopyFrom(model)
    have = {o.name for o in exposed.graph.output}
    for name in [o for n in model.graph.node for o in n.output if o and o not in have]:
        exposed.graph.output.append(onnx.ValueInfoProto(name=name))
    options = ort.SessionOptions()
    options.log_severity_level = 3
    sess = ort.InferenceSession(exposed.SerializeToString(), options, providers=["CPUExecutionProvider"])
    out_names = [o.name for o in sess.get_outputs()]
    return dict(zip(out_names, (tuple(r.shape) for r in sess.run(None, feeds))))


def check(model, shape):
    t = ct.trace(model, shape)
    inp = next(i.name for i in model.graph.input if i.name not in {x.name for x in model.graph.initializer})
    real = ort_shapes(model, {inp: np.random.rand(*shape).astype(np.float32)})
    by_name = {n.name or f"{n.op_type}_{i}": n for i, n in enumerate(model.graph.node)}
    checked = 0
    for rec in t.layers:
        node = by_name[rec.name]
        for name, traced in zip([o for o in node.output if o], rec.output_shapes):
            if name in real:
                assert real[name] == traced, (rec.name, node.op_type, real[name], traced)
                checked += 1
    assert checked >= len(t.layers) * 0.9
    floats = {TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.DOUBLE}
    assert t.params == sum(int(np.prod(i.dims)) for i in model.graph.initializer if i.data_type in floats)
    return t


def export(module, shape, tmp_path, name, dynamic=False):
    torch = pytest.importorskip("torch")
    path = tmp_path / f"{name}.onnx"
    kwargs = {"dynamic_axes": {"x": {0: "N", 2: "H", 3: "W"}}, "input_names": ["x"]} if dynamic else {"input_names": ["x"]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), (torch.randn(shape),), str(path), dynamo=False, opset_version=17, **kwargs)
    return onnx.load(str(path)), str(path)


def test_efficientnet_export_odd_size(tmp_path):
    ep = pytest.importorskip("efficientnet_pytorch")
    net = ep.EfficientNet.from_name("efficientnet-b0")
    net.set_swish(memory_efficient=False)
    model, path = export(net, (1, 3, 65, 65), tmp_path, "eff")
    t = check(model, (1, 3, 65, 65))
    torch_trace = ct.trace(net.eval(), (1, 3, 65, 65), findings=False)
    assert t.output_shape == torch_trace.output_shape == (1, 1000)
    convs = [r for r in t.layers if r.op == "conv"]
    assert sum(r.macs for r in convs) == sum(r.macs for r in torch_trace.layers if r.op == "conv")
    assert ct.trace(path).input_shape == (1, 3, 65, 65)  # static shape read from the file


def test_monai_unet_dynamic_export_and_impossible_input(tmp_path):
    nets = pytest.importorskip("monai.networks.nets")
    net = nets.UNet(spatial_dims=2, in_channels=1, out_channels=2, channels=(4, 8, 16), strides=(2, 2),
                    num_res_units=1)
    model, path = export(net, (1, 1, 32, 32), tmp_path, "unet", dynamic=True)
    t = check(model, (1, 1, 32, 32))
    check(model, (2, 1, 28, 36))
    assert t.receptive_field.center == (0, 0)
    with pytest.raises(ct.ImpossibleInput) as info:
        ct.trace(path, (1, 1, 30, 32))
    assert "Concat" in info.value.layer and (1, 1, 28, 32) in info.value.nearest
    state = ort.capi.onnxruntime_pybind11_state
    with pytest.raises((state.Fail, state.RuntimeException)):
        sess = ort.InferenceSession(path)
        sess.run(None, {"x": np.zeros((1, 1, 30, 32), np.float32)})
    with pytest.raises(ct.GeometryError):
        ct.trace(path)  # dynamic input: a shape is needed


def test_monai_segresnet_3d_export(tmp_path):
    nets = pytest.importorskip("monai.networks.nets")
    net = nets.SegResNet(spatial_dims=3, in_channels=1, out_channels=2, init_filters=8, blocks_down=(1, 1, 1),
                         blocks_up=(1, 1))
    model, _ = export(net, (1, 1, 16, 16, 16), tmp_path, "segres")
    t = check(model, (1, 1, 16, 16, 16))
    # GroupNorm exports as Reshape -> InstanceNormalization -> Reshape: the spatial axes come back
    assert not any(t.receptive_field.whole) and t.receptive_field.global_context
    # trilinear half-pixel upsampling of a k3/s2/p1 pyramid is off by one input pixel: reported
    assert t.findings_with("misaligned-merge")


def _graph(nodes, in_shape, out_name="y", inits=(), opset=19):
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(in_shape))],
                              [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, None)], initializer=list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 9  # what onnxruntime of this era reads
    return model


def _w(name, *shape):
    return onnx.numpy_helper.from_array(np.random.rand(*shape).astype(np.float32), name)


@pytest.mark.parametrize("n", [7, 8])
def test_auto_pad_ceil_mode_and_transpose(n):
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["a"], kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER"),
        helper.make_node("Conv", ["a", "w2"], ["b"], kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_LOWER"),
        helper.make_node("MaxPool", ["b"], ["c"], kernel_shape=[2, 2], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1),
        helper.make_node("ConvTranspose", ["c", "w3"], ["d"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
                         output_padding=[1, 1]),
        helper.make_node("Resize", ["d", "", "scales"], ["e"], mode="nearest"),
        helper.make_node("AveragePool", ["e"], ["f"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
                         count_include_pad=0),
        helper.make_node("Pad", ["f", "pads"], ["g"], mode="reflect"),
        helper.make_node("GlobalAveragePool", ["g"], ["h"]),
        helper.make_node("Flatten", ["h"], ["i"]),
        helper.make_node("Gemm", ["i", "w4"], ["y"], transB=1),
    ]
    inits = [_w("w1", 4, 2, 3, 3), _w("w2", 4, 4, 3, 3), _w("w3", 4, 3, 3, 3), _w("w4", 5, 3),
             onnx.numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales"),
             onnx.numpy_helper.from_array(np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64), "pads")]
    model = _graph(nodes, (1, 2, n, n), inits=inits)
    t = check(model, (1, 2, n, n))
    a, b = t.layers[0], t.layers[1]
    if n == 8:
        assert a.padding == ((0, 1), (0, 1)) and b.padding == ((1, 0), (1, 0))
        assert any(f.layer == b.name for f in t.findings_with("same-padding-differs"))
    assert t.layers[-1].macs == 3 * 5


def test_unknown_op_is_a_finding_not_a_crash():
    index = onnx.numpy_helper.from_array(np.zeros((1, 8, 5, 6), np.int64), "index")
    nodes = [helper.make_node("Conv", ["x", "w"], ["a"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("GatherElements", ["a", "index"], ["y"], axis=2)]
    model = _graph(nodes, (1, 2, 6, 6), inits=[_w("w", 8, 2, 3, 3), index])
    t = check(model, (1, 2, 6, 6))
    assert t.output_shape == (1, 8, 5, 6)
    (found,) = t.findings_with("unknown-op")
    assert found.layer == "GatherElements_1" and "ONNX op GatherElements" in found.message
    assert not t.receptive_field.exact


def test_depth_to_space_is_a_fractional_stride():
    nodes = [helper.make_node("Conv", ["x", "w"], ["a"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("DepthToSpace", ["a"], ["b"], blocksize=2),
             helper.make_node("SpaceToDepth", ["b"], ["y"], blocksize=2)]
    model = _graph(nodes, (1, 2, 6, 6), inits=[_w("w", 8, 2, 3, 3)])
    t = check(model, (1, 2, 6, 6))
    assert not t.findings_with("unknown-op")
    up = t.layers[1].receptive_field
    assert up.exact and up.stride == (Fraction(1, 2),) * 2 and up.size == (3, 3)
    assert t.output_shape == (1, 8, 6, 6) and t.receptive_field.stride == (1, 1)


def test_malformed_and_mismatched(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage")
    with pytest.raises(ct.GeometryError) as info:
        ct.trace(str(bad), (1, 3, 8, 8))
    assert "ONNX" in str(info.value) and "\n" not in str(info.value)
    model = _graph([helper.make_node("Relu", ["x"], ["y"])], (1, 3, 8, 8))
    with pytest.raises(ct.GeometryError):
        ct.trace(model, (1, 3, 8))  # wrong rank
    with pytest.raises(ct.ImpossibleInput):
        ct.trace(model, (1, 3, 8, 9))  # the file fixes 8
    with pytest.raises(ct.GeometryError):
        ct.trace(str(tmp_path / "missing.onnx"), (1, 3, 8, 8))
