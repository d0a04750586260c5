"""``convgeom.port`` without running a framework: the code it writes for known cases, its
exactness rules checked against the engine beyond the sizes it scanned, the source call it
rebuilds from a geometry, weight layouts, and one-line errors."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import convgeom
from convgeom.port import Ported, PortError, layer_spec, port, port_geometry, port_weights, source_call
from convgeom.port.emitters import EMITTERS, get_emitter

FRAMEWORKS = ("torch", "tensorflow", "jax", "onnx")


# ----- the README's examples ---------------------------------------------------------------
def test_tensorflow_same_stride_2_to_pytorch() -> None:
    p = convgeom.port("conv", source="tensorflow", target="torch", input=(224, 224), kernel=3, stride=2,
                      padding="same", in_channels=3, out_channels=16)
    assert p.expression == "nn.Sequential(nn.ZeroPad2d((0, 1, 0, 1)), nn.Conv2d(3, 16, 3, stride=2))"
    assert p.exact_for == "n0 % 2 == 0 and n1 % 2 == 0"
    assert p.dynamic_code is not None and "framework='tensorflow'" in p.dynamic_code
    assert any("NHWC in Keras, NCHW in PyTorch" in n for n in p.notes)


def test_pytorch_explicit_pad_back_to_keras_is_exact_for_every_size() -> None:
    """The way back: TF 'same' matches at 224 only for even sizes; the explicit pad always."""
    p = port("conv", source="torch", target="keras", input=(224, 224), kernel=3, stride=2,
             padding=((0, 1), (0, 1)), in_channels=3, out_channels=16)
    assert p.exact_for == "all"
    assert "ZeroPadding2D(((0, 1), (0, 1)))" in p.expression and "padding=" not in p.expression.split("Conv2D")[1]


def test_pytorch_padding_1_stride_2_to_keras_pads_explicitly() -> None:
    p = port("conv", source="torch", target="tensorflow", input=(224, 224), kernel=3, stride=2, padding=1,
             in_channels=3, out_channels=16)
    assert p.expression == ("keras.Sequential([keras.layers.ZeroPadding2D(((1, 1), (1, 1))), "
                            "keras.layers.Conv2D(16, 3, strides=2)])")
    assert p.exact_for == "all" and p.dynamic_code is None


def test_same_with_stride_1_needs_no_explicit_pad() -> None:
    p = port("conv", source="tensorflow", target="torch", input=(10, 10), kernel=3, padding="same",
             in_channels=2, out_channels=2)
    assert p.expression == "nn.Conv2d(2, 2, 3, padding=1)" and p.exact_for == "all"
    p = port("conv", source="onnx", target="jax", input=9, kernel=4, padding="same_lower")
    assert "padding=((2, 1),)" in p.expression and p.exact_for == "all"


def test_onnx_nodes_are_attribute_dicts() -> None:
    p = port("conv", source="torch", target="onnx", input=(9, 9), kernel=3, stride=2, padding=((0, 1), (2, 0)))
    namespace: dict = {}
    exec(p.code, namespace)
    layer = namespace["layer"]
    assert [n["op_type"] for n in layer["nodes"]] == ["Conv"]
    assert layer["nodes"][0]["attributes"]["pads"] == [0, 2, 1, 0]
    assert layer["weights"] == ["W", "B"] and layer["layout"] == "NCHW"


def test_pooling_with_ceil_mode_gets_an_explicit_minus_infinity_pad_in_keras() -> None:
    """s - 1 more -inf cells after the input make floor division round up as ceil mode does."""
    p = port("max_pool", source="torch", target="tensorflow", input=(9, 10), kernel=3, stride=2, padding=1,
             ceil_mode=True)
    assert "Pad(((1, 2), (1, 2)), value=float('-inf'))" in p.expression
    assert p.exact_for == "all"


def test_count_include_pad_with_ceil_mode_divides_by_counted_cells() -> None:
    p = port("avg_pool", source="torch", target="tensorflow", input=(9, 10), kernel=3, stride=2, padding=1,
             ceil_mode=True)
    assert p.expression.startswith("AvgPoolCounted(") and "counted=((1, 1), (1, 1))" in p.expression
    q = port("avg_pool", source="torch", target="onnx", input=(9, 10), kernel=3, stride=2, padding=1, ceil_mode=True)
    assert "'ceil_mode': 1" in q.code and "'count_include_pad': 1" in q.code and q.exact_for == "all"


def test_a_fixed_divisor_becomes_a_rescaling_in_keras() -> None:
    p = port("avg_pool", source="torch", target="keras", input=(8, 8), kernel=3, stride=1, padding=1, divisor=5)
    assert "keras.layers.Rescaling(9 / 5)" in p.expression


# ----- exactness -------------------------------------------------------------------------
def _input_dependent_config(draw: st.DrawFn) -> dict:
    source = draw(st.sampled_from(["tensorflow", "onnx", "jax", "torch"]))
    op = draw(st.sampled_from(["conv", "max_pool", "avg_pool"]))
    k, s = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    n = draw(st.integers(1, 30))
    config = {"op": op, "source": source, "input": n, "kernel": k, "stride": s}
    if source == "torch":
        if op == "conv":
            config["padding"] = draw(st.integers(0, k))
        else:
            config.update(padding=draw(st.integers(0, k // 2)), ceil_mode=True)
    else:
        config["padding"] = draw(st.sampled_from(["same", "same_lower"] if source != "tensorflow" else ["same"]))
    return config


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config=st.composite(_input_dependent_config)(), target=st.sampled_from(FRAMEWORKS))
def test_exact_for_holds_beyond_the_scanned_sizes(config: dict, target: str) -> None:
    """The rule is fitted on the sizes 1 .. e + 4s and n +- 2s; here it must hold at every size
    up to 120: exactly where the rule says so, the construction computes the source's function."""
    try:
        p = port(**config, target=target)
    except convgeom.GeometryError:
        return
    assert_rule_is_exactness(p, range(1, 121))


def assert_rule_is_exactness(p: Ported, sizes: range) -> None:
    """At each size the source accepts, ``p``'s rule holds exactly where the construction
    computes the source's function."""
    assert p.construction is not None and p.call is not None
    for m in sizes:
        try:
            want = p.call.spec((m,))
        except convgeom.GeometryError:
            continue  # the source refuses this size
        try:
            same = p.construction.spec((m,)) == want
        except convgeom.GeometryError:
            same = False
        assert same == p.rule.holds((m,)), f"size {m}: rule {p.exact_for}, exact {same}"


def test_a_pattern_that_starts_late_lists_the_sizes_before_it() -> None:
    """TensorFlow max_pool k=3, s=4, 'same' -> ONNX: exact where n % 4 in {0, 3}, and at n = 2
    (found by the property above: a rule of residues alone lists every scanned size, and the
    first size past the scan broke it)."""
    p = port("max_pool", source="tensorflow", target="onnx", input=3, kernel=3, stride=4, padding="same")
    assert p.rule.axes and p.rule.axes[0].sizes is None and p.rule.axes[0].also
    assert_rule_is_exactness(p, range(1, 200))


def test_layer_spec_is_what_dynamic_modules_read() -> None:
    spec = layer_spec("conv", (8, 9), framework="tensorflow", kernel=3, stride=2, padding="same")
    assert spec.pads_to_apply == ((0, 1), (1, 1))
    avg = layer_spec("avg_pool", 10, framework="torch", kernel=3, stride=2, padding=1, ceil_mode=True)
    assert avg.divisor is None and avg.counted == ((1, 1),)


# ----- the source call of a geometry ----------------------------------------------------------
def _random_config(rng: random.Random, source: str) -> dict:
    from _port_harness import tool

    return tool.draw_config(rng, source)


@pytest.mark.parametrize("source", FRAMEWORKS)
def test_source_call_rebuilds_every_geometry(source: str) -> None:
    from convgeom.explanation import OPS

    rng = random.Random(7)
    for _ in range(150):
        config = _random_config(rng, source)
        params = {k: v for k, v in config.items() if k not in ("op", "source", "in_channels", "out_channels", "bias")}
        g = OPS[config["op"]](**params, framework=source)
        again = source_call(g).geometry(g.input)
        assert (again.pad, again.output) == (g.pad, g.output)


def test_port_geometry_ports_an_engine_result() -> None:
    g = convgeom.conv((8, 8), 3, 2, "same", framework="tensorflow")
    p = port_geometry(g, "torch", in_channels=4, out_channels=8)
    assert p.expression == "nn.Sequential(nn.ZeroPad2d((0, 1, 0, 1)), nn.Conv2d(4, 8, 3, stride=2))"
    t = convgeom.conv_transpose(3, 3, 2, "same", framework="tensorflow")  # Keras 'same': output n*s
    assert port_geometry(t, "torch").spec.output == (6,)


# ----- refusals and errors ----------------------------------------------------------------------
@pytest.mark.parametrize(("config", "target", "words"), [
    ({"op": "max_pool", "source": "torch", "input": 9, "kernel": 3, "dilation": 2}, "tensorflow",
     ["MaxPooling1D has no dilation", "different result"]),
    ({"op": "avg_pool", "source": "onnx", "input": (9, 9), "kernel": 2, "dilation": 2}, "torch",
     ["AvgPool*d has no dilation", "different average"]),
    ({"op": "max_pool", "source": "jax", "input": 5, "kernel": 2, "stride": 2, "padding": ((2, 2),)}, "onnx",
     ["read only padding", "-inf", "lowest"]),
    ({"op": "max_pool", "source": "jax", "input": 5, "kernel": 2, "stride": 2, "padding": ((0, 3),)}, "keras",
     ["read only padding", "-inf", "lowest"]),
])
def test_refusals_name_the_difference(config: dict, target: str, words: list[str]) -> None:
    with pytest.raises(PortError) as err:
        port(**config, target=target)
    message = str(err.value)
    assert "\n" not in message and all(w in message for w in words), message


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"op": "unfold"}, ["cannot port 'unfold'"]),
    ({"op": "conv", "ceil_mode": True}, ["ceil_mode does not apply to conv"]),
    ({"op": "conv", "source": "mxnet"}, ["unknown framework 'mxnet'"]),
    ({"op": "conv", "stride": 2, "padding": "same", "source": "torch"}, ["padding='same'", "strided"]),
    ({"op": "conv", "groups": 2, "in_channels": 3, "out_channels": 4}, ["in_channels=3", "groups=2"]),
    ({"op": "conv", "in_channels": 2.0}, ["in_channels must be an integer"]),
    ({"op": "conv", "bias": 1}, ["bias must be True or False"]),
    ({"op": 3}, ["op must be a string"]),
])
def test_bad_requests_are_one_line_errors(kwargs: dict, words: list[str]) -> None:
    call = {"source": "tensorflow", "target": "torch", "input": 8, "kernel": 3, **kwargs}
    with pytest.raises(convgeom.GeometryError) as err:
        port(**call)
    assert "\n" not in str(err.value) and all(w in str(err.value) for w in words), str(err.value)


# ----- weights --------------------------------------------------------------------------------
@st.composite
def _kernels(draw: st.DrawFn) -> tuple:
    op = draw(st.sampled_from(["conv", "conv_transpose", "depthwise_conv"]))
    ndim = draw(st.integers(1, 3))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(ndim))
    groups = draw(st.integers(1, 3))
    per_in, per_out = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    if op == "depthwise_conv":
        in_channels, out_channels = groups, groups * per_out
    else:
        in_channels, out_channels = groups * per_in, groups * per_out
    source = draw(st.sampled_from(FRAMEWORKS))
    target = draw(st.sampled_from(FRAMEWORKS))
    return op, kernel, groups, in_channels, out_channels, source, target


def _shape(framework: str, op: str, in_channels: int, out_channels: int, kernel: tuple, groups: int) -> tuple:
    if op == "depthwise_conv" and framework == "tensorflow":
        return (*kernel, in_channels, out_channels // in_channels)
    return get_emitter(framework).kernel_shape("conv" if op == "depthwise_conv" else op, in_channels, out_channels,
                                               kernel, groups)


@settings(max_examples=200, deadline=None)
@given(case=_kernels())
def test_port_weights_round_trips_and_gives_the_target_layout(case: tuple) -> None:
    op, kernel, groups, cin, cout, source, target = case
    rng = np.random.default_rng(0)
    k = rng.standard_normal(_shape(source, op, cin, cout, kernel, groups)).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32)
    moved, bias = port_weights(k, b, op=op, source=source, target=target, groups=groups)
    assert moved.shape == _shape(target, op, cin, cout, kernel, groups)
    assert bias is not None and np.array_equal(bias, b)
    back, _ = port_weights(moved, None, op=op, source=target, target=source, groups=groups)
    assert np.array_equal(back, k)
    assert sorted(moved.ravel()) == sorted(k.ravel())


def test_port_weights_known_layouts() -> None:
    w = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)  # torch (O, I, kh, kw)
    keras_k, _ = port_weights(w, op="conv", source="torch", target="keras")
    assert keras_k.shape == (4, 5, 3, 2) and keras_k[1, 2, 0, 1] == w[1, 0, 1, 2]
    t = np.arange(3 * 2 * 4, dtype=np.float32).reshape(3, 2, 4)  # torch ConvTranspose1d (I, O, k)
    jax_k, _ = port_weights(t, op="conv_transpose", source="torch", target="jax")
    assert jax_k.shape == (4, 3, 2) and jax_k[0, 1, 0] == t[1, 0, 3]  # flipped
    keras_t, _ = port_weights(t, op="conv_transpose", source="torch", target="keras")
    assert keras_t.shape == (4, 2, 3) and keras_t[3, 0, 1] == t[1, 0, 3]
    d = np.arange(3 * 2 * 5, dtype=np.float32).reshape(5, 3, 2)  # Keras DepthwiseConv1D (k, I, M)
    torch_d, _ = port_weights(d, op="depthwise_conv", source="keras", target="torch")
    assert torch_d.shape == (6, 1, 5) and torch_d[1 * 2 + 1, 0, 4] == d[4, 1, 1]


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"op": "dense"}, ["unknown op 'dense'"]),
    ({"groups": 0}, ["groups must be >= 1"]),
    ({"groups": True}, ["groups must be an integer"]),
    ({"groups": 3}, ["does not fit groups=3"]),
    ({"kernel": np.zeros((2, 2))}, ["kernel has 2 dims"]),
    ({"bias": np.zeros((2, 2))}, ["bias must be 1-d"]),
    ({"target": "caffe"}, ["unknown framework 'caffe'"]),
])
def test_port_weights_errors(kwargs: dict, words: list[str]) -> None:
    call = {"kernel": np.zeros((4, 2, 3, 3)), "bias": None, "op": "conv", "source": "torch", "target": "jax",
            **kwargs}
    kernel, bias = call.pop("kernel"), call.pop("bias")
    with pytest.raises(convgeom.GeometryError) as err:
        port_weights(kernel, bias, **call)
    assert all(w in str(err.value) for w in words), str(err.value)


def test_every_framework_has_one_emitter_and_top_level_names() -> None:
    assert sorted(EMITTERS) == sorted(FRAMEWORKS)
    assert get_emitter("keras") is get_emitter("tf") is EMITTERS["tensorflow"]
    assert convgeom.port_weights is port_weights
    assert callable(convgeom.port) and convgeom.port(op="conv", source="torch", target="jax", input=5,
                                                      kernel=3).exact_for == "all"


def test_finding_code_is_one_line_of_code_that_pads_like_tensorflow() -> None:
    """What a ``same-padding-differs`` finding about a PyTorch layer ends with."""
    torch_layer = convgeom.conv((224, 224), 3, 2, 1)
    line = convgeom.port.finding_code(torch_layer, in_channels=3, out_channels=16)
    assert line == ("nn.Sequential(nn.ZeroPad2d((0, 1, 0, 1)), nn.Conv2d(3, 16, 3, stride=2)) "
                    "(exact for inputs with n0 % 2 == 0 and n1 % 2 == 0)")
    onnx_pool = convgeom.max_pool((9, 9), 3, 2, 1, framework="onnx")
    line = convgeom.port.finding_code(onnx_pool)
    assert "\n" not in line and "'auto_pad': 'SAME_UPPER'" in line and line.endswith("(exact for every input size)")
