"""ONNX models as the classic model zoo wrote them, at opsets 6, 9, 11, 13 and 19: every node's
traced output shape equals ONNX Runtime's (run live), every operator of the default domain with a
fixed spatial behaviour has a rule (no ``unknown-op``), and an input is impossible only where
ONNX Runtime refuses it.

The zoo's own files (GoogLeNet, AlexNet, ZFNet-512 in github.com/onnx/models) are Git LFS
objects this environment cannot fetch, so the models here are built with ``onnx.helper`` to the
same patterns: Caffe2's IR-3 graphs (initializers listed as inputs), LRN after the first convs,
asymmetric max-pool pads standing in for ceil mode, inception blocks, a ``Reshape`` whose data is
an initializer, grouped convs, ``Dropout`` and ``Gemm`` heads, ``Softmax`` before opset 13.
"""

from __future__ import annotations

import pytest

onnx = pytest.importorskip("onnx")
np = pytest.importorskip("numpy")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import convgeom.tracing as ct  # noqa: E402
from test_trace_onnx import ort_shapes  # noqa: E402

F = TensorProto.FLOAT


def _w(name, *shape, dtype=np.float32):
    return numpy_helper.from_array((np.random.rand(*shape) * 0.1).astype(dtype), name)


def _i64(name, values):
    return numpy_helper.from_array(np.array(values, np.int64), name)


def _model(nodes, shape, inits=(), opset=13, ir=None, domains=()):
    """One input ``x`` of ``shape``, output ``y``; IR 3 lists the initializers as inputs (as
    Caffe2's exporter did)."""
    ir = ir or (3 if opset < 8 else 7 if opset < 13 else 8)
    inputs = [helper.make_tensor_value_info("x", F, list(shape))]
    if ir < 4:
        inputs += [helper.make_tensor_value_info(i.name, i.data_type, list(i.dims)) for i in inits]
    graph = helper.make_graph(nodes, "zoo", inputs, [onnx.ValueInfoProto(name="y")], initializer=list(inits))
    opsets = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, 1) for d in domains]
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = ir
    return model


def check(model, shape=None):
    """Trace (without an input shape: the declared one) and compare every node output with ONNX
    Runtime; no op may be unknown."""
    t = ct.trace(model, shape)
    declared = tuple(d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim)
    real = ort_shapes(model, {"x": np.random.rand(*(shape or declared)).astype(np.float32)})
    by_name = {n.name or f"{n.op_type}_{i}": n for i, n in enumerate(model.graph.node)}
    checked = 0
    for rec in t.layers:
        for name, traced in zip([o for o in by_name[rec.name].output if o], rec.output_shapes):
            if name in real:
                assert real[name] == traced, (rec.name, by_name[rec.name].op_type, real[name], traced)
                checked += 1
    assert checked >= 0.9 * len(t.layers)
    assert not t.findings_with("unknown-op"), t.findings_with("unknown-op")
    return t


# ================================================================================================
# the zoo's patterns
def googlenet_like(opset=9, n=64, classes=2400):
    """GoogLeNet (Inception v1) as exported from Caffe2: IR 3, stem with LRN, one inception
    block, average pool, dropout, a Reshape whose shape is an initializer and one whose data is
    an initializer (a flat classifier weight, too large to constant-fold), Gemm, Softmax."""
    nodes, inits = [], []

    def conv(x, y, cin, cout, k, s=1, p=0):
        inits.extend([_w(y + "_w", cout, cin, k, k), _w(y + "_b", cout)])
        nodes.append(helper.make_node("Conv", [x, y + "_w", y + "_b"], [y + "_c"], kernel_shape=[k, k],
                                      strides=[s, s], pads=[p] * 4, name=y))
        nodes.append(helper.make_node("Relu", [y + "_c"], [y], name=y + "_relu"))
        return y

    conv("x", "conv1", 3, 8, 7, 2, 3)
    nodes += [helper.make_node("MaxPool", ["conv1"], ["pool1"], kernel_shape=[3, 3], strides=[2, 2], pads=[0, 0, 1, 1]),
              helper.make_node("LRN", ["pool1"], ["norm1"], size=5, alpha=1e-4, beta=0.75, bias=1.0)]
    conv("norm1", "conv2", 8, 16, 3, 1, 1)
    nodes += [helper.make_node("LRN", ["conv2"], ["norm2"], size=5, alpha=1e-4, beta=0.75),
              helper.make_node("MaxPool", ["norm2"], ["pool2"], kernel_shape=[3, 3], strides=[2, 2], pads=[0, 0, 1, 1])]
    b1 = conv("pool2", "i3a_1x1", 16, 8, 1)
    b2 = conv(conv("pool2", "i3a_3x3r", 16, 8, 1), "i3a_3x3", 8, 12, 3, 1, 1)
    b3 = conv(conv("pool2", "i3a_5x5r", 16, 4, 1), "i3a_5x5", 4, 4, 5, 1, 2)
    nodes.append(helper.make_node("MaxPool", ["pool2"], ["i3a_pool"], kernel_shape=[3, 3], strides=[1, 1], pads=[1] * 4))
    b4 = conv("i3a_pool", "i3a_pp", 16, 4, 1)
    inits += [_i64("OC2_DUMMY_1", [1, -1]), _w("fc_w_flat", classes * 28), _i64("OC2_DUMMY_3", [classes, 28]),
              _w("fc_b", classes)]
    nodes += [helper.make_node("Concat", [b1, b2, b3, b4], ["i3a"], axis=1),
              helper.make_node("AveragePool", ["i3a"], ["pool5"], kernel_shape=[n // 8, n // 8], strides=[1, 1]),
              helper.make_node("Dropout", ["pool5"], ["drop"], ratio=0.4),
              helper.make_node("Reshape", ["drop", "OC2_DUMMY_1"], ["flat"], name="n140"),
              helper.make_node("Reshape", ["fc_w_flat", "OC2_DUMMY_3"], ["fc_w"], name="n141"),
              helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["fc"], transB=1),
              helper.make_node("Softmax", ["fc"], ["y"])]
    return _model(nodes, (1, 3, n, n), inits, opset=opset, ir=3)


def test_googlenet_caffe2_patterns_trace_without_an_input_shape():
    t = check(googlenet_like())
    assert t.output_shape == (1, 2400) and t.input_shape == (1, 3, 64, 64)
    lrn = _of_type(t, "LRN")[0]
    assert lrn.op == "norm" and lrn.receptive_field.exact and lrn.receptive_field.size == (11, 11)
    (concat,) = _of_type(t, "Concat")
    assert concat.receptive_field.exact and concat.output_shape == (1, 28, 8, 8)


def _of_type(t, op_type):
    return [r for r in t.layers if r.type == op_type]


def alexnet_like(opset, lrn=True):
    """AlexNet / ZFNet-512: large strided first conv, LRN, overlapping max pools, a grouped conv."""
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], kernel_shape=[11, 11], strides=[4, 4], pads=[2] * 4),
             helper.make_node("Relu", ["c1"], ["r1"])]
    last = "r1"
    if lrn:
        nodes.append(helper.make_node("LRN", ["r1"], ["n1"], size=5, alpha=1e-4, beta=0.75, bias=1.0))
        last = "n1"
    nodes += [helper.make_node("MaxPool", [last], ["p1"], kernel_shape=[3, 3], strides=[2, 2]),
              helper.make_node("Conv", ["p1", "w2", "b2"], ["c2"], kernel_shape=[5, 5], pads=[2] * 4, group=2),
              helper.make_node("Relu", ["c2"], ["r2"]),
              helper.make_node("LRN", ["r2"], ["n2"], size=5),
              helper.make_node("MaxPool", ["n2"], ["p2"], kernel_shape=[3, 3], strides=[2, 2]),
              helper.make_node("Flatten", ["p2"], ["y"])]
    inits = [_w("w1", 8, 3, 11, 11), _w("b1", 8), _w("w2", 16, 4, 5, 5), _w("b2", 16)]
    return _model(nodes, (1, 3, 99, 99), inits, opset=opset)


@pytest.mark.parametrize("opset", [6, 9, 11, 13, 19])
def test_alexnet_and_zfnet_patterns(opset):
    t = check(alexnet_like(opset))
    assert all(r.receptive_field.exact for r in t.layers[:-1])
    # LRN mixes channels only: the receptive field goes through unchanged
    (relu, lrn) = t.layers[1:3]
    assert lrn.type == "LRN" and lrn.receptive_field == relu.receptive_field


# ================================================================================================
# old-opset forms, each against ONNX Runtime at that opset
def _old_forms(opset):
    """Pad, pooling, resizing, clipping, squeeze/unsqueeze, slice, split and reductions in the
    form the opset defines (attributes before inputs)."""
    nodes, inits = [], []
    pads = [0, 0, 1, 2, 0, 0, 2, 1]
    if opset < 11:
        nodes.append(helper.make_node("Pad", ["x"], ["a"], pads=pads, mode="constant"))
    else:
        inits.append(_i64("pads", pads))
        nodes.append(helper.make_node("Pad", ["x", "pads"], ["a"], mode="reflect"))
    nodes.append(helper.make_node("MaxPool", ["a"], ["b"], kernel_shape=[3, 3], strides=[2, 2], pads=[0, 0, 1, 1]))
    if opset >= 7:  # ONNX Runtime has no AveragePool-1 kernel (see the test below)
        nodes.append(helper.make_node("AveragePool", ["b"], ["c"], kernel_shape=[2, 2], strides=[1, 1], pads=[1, 1, 0, 0],
                                      count_include_pad=1))
    else:
        nodes.append(helper.make_node("Identity", ["b"], ["c"]))
    if opset < 7:  # no resizing op before opset 7
        nodes.append(helper.make_node("Identity", ["c"], ["d"]))
    elif opset < 9:
        nodes.append(helper.make_node("Upsample", ["c"], ["d"], scales=[1.0, 1.0, 2.0, 1.5], mode="nearest"))
    elif opset == 9:
        inits.append(numpy_helper.from_array(np.array([1, 1, 2, 1.5], np.float32), "scales"))
        nodes.append(helper.make_node("Upsample", ["c", "scales"], ["d"], mode="linear"))
    else:
        inits += [numpy_helper.from_array(np.array([], np.float32), "roi"),
                  numpy_helper.from_array(np.array([1, 1, 2, 1.5], np.float32), "scales")]
        nodes.append(helper.make_node("Resize", ["c", "roi", "scales"], ["d"], mode="linear"))
    if opset < 11:
        nodes.append(helper.make_node("Clip", ["d"], ["e"], min=0.0, max=6.0))
    else:
        inits += [numpy_helper.from_array(np.array(0, np.float32), "lo"), numpy_helper.from_array(np.array(6, np.float32), "hi")]
        nodes.append(helper.make_node("Clip", ["d", "lo", "hi"], ["e"]))
    if opset < 10:
        nodes.append(helper.make_node("Slice", ["e"], ["f"], starts=[1, 0], ends=[100, -1], axes=[2, 3]))
    else:
        inits += [_i64("st", [1, 0]), _i64("en", [100, -1]), _i64("ax", [2, 3])]
        nodes.append(helper.make_node("Slice", ["e", "st", "en", "ax"], ["f"]))
    if opset < 13:
        nodes += [helper.make_node("Unsqueeze", ["f"], ["g"], axes=[0]),
                  helper.make_node("Squeeze", ["g"], ["h"], axes=[0]),
                  helper.make_node("Split", ["h"], ["s1", "s2"], axis=1, split=[1, 3])]
    else:
        inits += [_i64("zero", [0]), _i64("parts", [1, 3])]
        nodes += [helper.make_node("Unsqueeze", ["f", "zero"], ["g"]),
                  helper.make_node("Squeeze", ["g", "zero"], ["h"]),
                  helper.make_node("Split", ["h", "parts"], ["s1", "s2"], axis=1)]
    nodes.append(helper.make_node("Concat", ["s2", "s1"], ["i"], axis=1))
    if opset < 18:
        nodes.append(helper.make_node("ReduceMean", ["i"], ["j"], axes=[3], keepdims=1))
    else:
        inits.append(_i64("raxes", [3]))
        nodes.append(helper.make_node("ReduceMean", ["i", "raxes"], ["j"], keepdims=1))
    nodes.append(helper.make_node("Softmax", ["j"], ["y"], axis=1))
    return nodes, inits


@pytest.mark.parametrize("opset", [6, 9, 11, 13, 19])
def test_old_opset_forms_match_the_runtime(opset):
    nodes, inits = _old_forms(opset)
    t = check(_model(nodes, (1, 4, 9, 10), inits, opset=opset))
    # W was reduced; Softmax(axis=1) before opset 13 normalises C*H*W as one row (H mixed too)
    assert t.layers[-1].receptive_field.whole == (opset < 13, True)


def test_average_pool_opset_1_is_opset_7_without_the_attribute():
    """AveragePool-1 has no ``count_include_pad`` (it excludes the padding, as 7+ does by
    default) and ONNX Runtime no kernel for it: its shapes are those of AveragePool-7, run live."""
    node = helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 0, 1, 1])
    old = ct.trace(_model([node], (1, 2, 8, 9), opset=6))
    t = check(_model([node], (1, 2, 8, 9), opset=7))
    assert old.output_shape == t.output_shape == (1, 2, 4, 4)
    assert old.layers[0].geometry[0].count_include_pad is False and old.layers[0].padding == ((1, 1), (0, 1))


@pytest.mark.parametrize("opset", [7, 9, 11, 13, 19])
def test_batch_norm_spatial_and_normalisations(opset):
    c, h, w = 3, 5, 6
    spatial0 = opset < 9
    bn_shape = (c, h, w) if spatial0 else (c,)
    nodes = [helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["a"], **({"spatial": 0} if spatial0 else {})),
             helper.make_node("InstanceNormalization", ["a", "is", "ib"], ["b2"]),
             helper.make_node("LpNormalization", ["b2"], ["c2"], axis=1, p=2),
             helper.make_node("MeanVarianceNormalization", ["c2"], ["d"]),
             helper.make_node("Dropout", ["d"], ["e"]),
             helper.make_node("Cast", ["e"], ["f"], to=TensorProto.DOUBLE),
             helper.make_node("Cast", ["f"], ["g"], to=F),
             helper.make_node("DepthToSpace", ["g"], ["dts"], blocksize=1),
             helper.make_node("LRN", ["dts"], ["y"], size=3)]
    inits = [_w(n, *bn_shape) for n in ("s", "b", "m")] + [_w("v", *bn_shape), _w("is", c), _w("ib", c)]
    t = check(_model(nodes, (2, c, h, w), inits, opset=opset))
    bn = t.layers[0]
    assert bn.op == "batch_norm" and bn.receptive_field.exact and not bn.receptive_field.global_context
    assert t.layers[1].receptive_field.global_context  # instance norm: statistics over space


def test_batch_norm_spatial0_scale_must_cover_each_position():
    bad = _model([helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], spatial=0)], (1, 3, 5, 6),
                 [_w(n, 3) for n in "sbmv"], opset=7)
    with pytest.raises(ct.ImpossibleInput) as info:
        ct.trace(bad)
    assert "90 values per channel and position" in str(info.value)


def test_ops_whose_values_do_not_depend_on_the_input():
    nodes = [helper.make_node("RandomUniformLike", ["x"], ["noise"]),
             helper.make_node("Bernoulli", ["noise"], ["mask"]),
             helper.make_node("Mul", ["mask", "x"], ["a"]),
             helper.make_node("Flatten", ["a"], ["flat"]),
             helper.make_node("EyeLike", ["flat"], ["eye"]),
             helper.make_node("Add", ["eye", "flat"], ["y"])]
    t = check(_model(nodes, (1, 1, 5, 5), opset=15))
    assert t.layers[0].op == "constant" and t.layers[0].receptive_field is None
    assert t.layers[2].receptive_field.exact and t.layers[2].receptive_field.size == (1, 1)
    with pytest.raises(ct.ImpossibleInput):
        ct.trace(_model([helper.make_node("EyeLike", ["x"], ["y"])], (1, 1, 5, 5), opset=15))


def test_resize_sizes_and_keep_aspect_ratio():
    inits = [numpy_helper.from_array(np.array([], np.float32), "roi"), _i64("sizes", [20, 20]), _i64("axes", [2, 3])]
    nodes = [helper.make_node("Resize", ["x", "roi", "", "sizes"], ["a"], axes=[2, 3], keep_aspect_ratio_policy="not_larger"),
             helper.make_node("Resize", ["a", "roi", "", "sizes"], ["y"], axes=[2, 3], keep_aspect_ratio_policy="not_smaller")]
    t = check(_model(nodes, (1, 2, 8, 10), inits, opset=19))
    assert t.layers[0].output_shape == (1, 2, 16, 20) and t.output_shape == (1, 2, 20, 25)


def test_legacy_broadcast_arithmetic_at_opset_6():
    """Opset < 7 ``Add(A, B, broadcast=1, axis=1)``: B's dims line up with A's from ``axis`` (the
    ONNX spec's example: A (2, 3, 4, 5), B (3, 4)). ONNX Runtime has no opset-6 kernel for Add, so
    the spec is the reference here."""
    nodes = [helper.make_node("Add", ["x", "bias"], ["a"], broadcast=1, axis=1),
             helper.make_node("Mul", ["a", "scale"], ["y"], broadcast=1)]
    model = _model(nodes, (2, 3, 4, 5), [_w("bias", 3, 4), _w("scale", 5)], opset=6)
    t = ct.trace(model)
    assert [r.output_shape for r in t.layers] == [(2, 3, 4, 5), (2, 3, 4, 5)]
    assert t.receptive_field.exact and not t.findings_with("unknown-op")


# ================================================================================================
# shape inference fails: the runtime decides
def test_an_op_shape_inference_does_not_know_runs_in_the_runtime():
    """A contrib op ONNX Runtime implements and onnx.shape_inference does not know: its shape
    comes from the runtime (an unknown-op finding), not an impossible input."""
    nodes = [helper.make_node("Conv", ["x", "w"], ["a"], kernel_shape=[3, 3], pads=[1] * 4),
             helper.make_node("Gelu", ["a"], ["y"], domain="com.microsoft")]
    model = _model(nodes, (1, 2, 7, 7), [_w("w", 4, 2, 3, 3)], opset=13, domains=("com.microsoft",))
    t = ct.trace(model)
    assert t.output_shape == (1, 4, 7, 7)
    (found,) = t.findings_with("unknown-op")
    assert found.layer == "Gelu_1" and not t.receptive_field.exact


def test_the_runtime_refusing_a_node_is_an_impossible_input():
    nodes = [helper.make_node("BiasGelu", ["x", "bias"], ["y"], domain="com.microsoft")]
    model = _model(nodes, (1, 2, 7, 7), [_w("bias", 5)], opset=13, domains=("com.microsoft",))
    with pytest.raises(ct.ImpossibleInput) as info:
        ct.trace(model)
    message = str(info.value)
    assert "BiasGelu fails in ONNX Runtime" in message and "input 1x2x7x7 fails at layer 'BiasGelu_0'" in message
    assert "?" not in message.split(":")[0] and "\n" not in message
