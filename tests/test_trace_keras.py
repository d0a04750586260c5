"""The Keras 3 frontend (torch backend): shapes equal Keras's own symbolic shapes layer by layer,
engine pads for Keras 'same'/'causal', params, MACs, receptive fields, unknown layers, failures."""

from __future__ import annotations

import math
import os
from fractions import Fraction

import pytest

os.environ["KERAS_BACKEND"] = "torch"
keras = pytest.importorskip("keras")
layers = keras.layers

import convgeom  # noqa: E402
import convgeom.tracing as ct  # noqa: E402
from convgeom.tracing import ImpossibleInput  # noqa: E402


def _keras_shape(tensor) -> tuple[int, ...]:
    return tuple(1 if d is None else int(d) for d in tensor.shape)


def _assert_matches_keras(model, trace) -> None:
    """Every layer's traced output shape is Keras's symbolic ``layer.output.shape``."""
    checked = 0
    for layer in model.layers:
        if isinstance(layer, layers.InputLayer):
            continue
        if hasattr(layer, "layers"):  # a nested model: its ModuleCall
            call = next(c for c in trace.modules if c.name == layer.name)
            assert call.output_shapes[0] == _keras_shape(layer.output), layer.name
            continue
        rec = trace.layer(layer.name)
        outs = layer.output if isinstance(layer.output, (list, tuple)) else [layer.output]
        assert rec.output_shapes == tuple(_keras_shape(o) for o in outs), layer.name
        checked += 1
    assert checked
    assert trace.params == model.count_params() == sum(r.params for r in trace.layers)


def _small_model():
    inp = keras.Input((17, 15, 3), batch_size=2)
    x = layers.ZeroPadding2D(((1, 2), (0, 1)), name="pad")(inp)
    x = layers.Conv2D(8, 3, strides=2, padding="valid", name="stem")(x)  # 20x16 -> 9x7
    r = layers.Conv2D(8, 3, padding="same", name="branch")(x)
    r = layers.BatchNormalization(name="bn")(r)
    r = layers.ReLU(name="relu")(r)
    x = layers.Add(name="res")([x, r])
    p = layers.MaxPooling2D(2, padding="same", name="maxp")(x)  # 9x7 -> 5x4
    q = layers.AveragePooling2D(3, strides=2, padding="same", name="avgp")(x)  # 9x7 -> 5x4
    q = layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2, name="dw")(q)
    c = layers.Concatenate(name="cat")([p, q])
    u = layers.Conv2DTranspose(4, 3, strides=2, padding="same", name="up")(c)  # 5x4 -> 10x8
    s = layers.SeparableConv2D(6, 3, strides=2, padding="same", name="sep")(u)
    g = layers.GlobalAveragePooling2D(name="gap")(s)
    out = layers.Dense(5, name="head")(layers.Dropout(0.5, name="drop")(g))
    return keras.Model(inp, [out, u], name="small")


def test_small_functional_model_matches_keras_shapes():
    model = _small_model()
    t = ct.trace(model, (2, 17, 15, 3), findings=False)
    _assert_matches_keras(model, t)
    assert [r.name for r in t.layers][:2] == ["pad", "stem"]
    assert t.output_shapes == ((2, 5), (2, 10, 8, 4))
    assert t.layer("pad").op == "pad" and t.layer("pad").padding == ((1, 2), (0, 1))
    assert t.layer("stem").op == "conv" and t.layer("stem").padding == ((0, 0), (0, 0))
    # TF SAME at odd sizes: 9 with k2 s2 -> 5, pads (0, 1); 7 -> 4, pads (0, 1)
    assert t.layer("maxp").op == "max_pool" and t.layer("maxp").padding == ((0, 1), (0, 1))
    # k3 s2: 9 -> 5 needs (1, 1); 7 -> 4 needs (1, 1)
    assert t.layer("avgp").op == "avg_pool" and t.layer("avgp").padding == ((1, 1), (1, 1))
    assert t.layer("res").op == "add" and t.layer("cat").op == "cat" and t.layer("bn").op == "batch_norm"
    assert t.layer("up").op == "conv_transpose" and t.layer("gap").op == "adaptive_avg_pool"
    assert t.layer("head").op == "linear" and t.layer("relu").op == "activation"
    assert t.layer("dw").groups == 8 and t.layer("sep").op == "conv"


def test_mac_conventions():
    t = ct.trace(_small_model(), (2, 17, 15, 3), findings=False)
    stem, dw, up, head = (t.layer(n) for n in ("stem", "dw", "up", "head"))
    assert stem.macs == 2 * 8 * (9 * 7) * 3 * 9 and stem.bias_adds == 2 * 8 * 9 * 7
    assert dw.macs == 2 * 16 * (5 * 4) * 1 * 9  # groups = C_in: C_in/groups = 1
    assert up.macs == 2 * 24 * (5 * 4) * 4 * 9  # per input element
    assert head.macs == 2 * 6 * 5 and head.bias_adds == 2 * 5
    sep = t.layer("sep")
    assert sep.macs == 2 * (5 * 4) * 4 * 9 + 2 * (5 * 4) * 6 * 4  # depthwise + pointwise
    assert t.layer("drop").op == "dropout" and t.macs == sum(r.macs for r in t.layers)


def test_conv1d_causal_and_receptive_field():
    inp = keras.Input((20, 2))
    x = layers.Conv1D(4, 3, padding="causal", dilation_rate=2, name="c1")(inp)
    x = layers.Conv1D(4, 2, padding="causal", strides=2, name="c2")(x)
    x = layers.Conv1D(4, 3, padding="same", name="c3")(x)
    model = keras.Model(inp, x)
    t = ct.trace(model, (1, 20, 2), findings=False)
    _assert_matches_keras(model, t)
    assert t.layer("c1").padding == ((4, 0),) and t.layer("c1").dilation == (2,)
    assert t.layer("c2").padding == ((1, 0),) and t.output_shape == (1, 10, 4)
    # by hand: r = 1 + 4 = 5 (P=4), then k2 s2 p1: r = 6, S = 2, P = 5, then k3 s1 p1: r = 10, P = 7
    rf = t.receptive_field
    assert rf is not None and rf.dims == (1,)
    assert rf.fields[0] == convgeom.ReceptiveField(Fraction(10), Fraction(2), Fraction(7))


def test_receptive_field_of_a_small_chain_by_hand():
    model = keras.Sequential([
        keras.Input((17, 17, 1)),
        layers.Conv2D(2, 3, name="a"),  # r3 S1 P0, 17 -> 15
        layers.MaxPooling2D(2, name="b"),  # r4 S2 P0, 15 -> 7
        layers.Conv2D(2, 3, strides=2, padding="same", name="c"),  # 7 -> 4, TF SAME pads (1, 1)
    ])
    t = ct.trace(model, (1, 17, 17, 1), findings=False)
    _assert_matches_keras(model, t)
    step = convgeom.RFStep
    expected = (convgeom.ReceptiveField()
                .then(step(Fraction(3), Fraction(1), Fraction(0)))
                .then(step(Fraction(2), Fraction(2), Fraction(0)))
                .then(step(Fraction(3), Fraction(2), Fraction(1))))
    assert expected == convgeom.ReceptiveField(Fraction(8), Fraction(4), Fraction(2))
    rf = t.receptive_field
    assert rf is not None and rf.fields == (expected, expected) and rf.dims == (1, 2)


def test_channels_first_and_upsampling():
    inp = keras.Input((3, 15, 13))
    x = layers.Conv2D(4, 3, strides=2, padding="same", data_format="channels_first", name="c")(inp)
    x = layers.MaxPooling2D(3, strides=2, padding="same", data_format="channels_first", name="p")(x)
    x = layers.UpSampling2D(2, data_format="channels_first", name="u")(x)
    x = layers.Cropping2D(((1, 0), (0, 1)), data_format="channels_first", name="crop")(x)
    x = layers.Flatten(data_format="channels_first", name="f")(x)
    model = keras.Model(inp, x)
    t = ct.trace(model, (1, 3, 15, 13), findings=False)
    _assert_matches_keras(model, t)
    assert t.layer("c").padding == ((1, 1), (1, 1)) and t.layer("u").op == "interpolate"
    assert t.input_spatial_dims == (2, 3)


def test_mobilenetv2_weights_none_at_odd_size():
    model = keras.applications.MobileNetV2(weights=None, input_shape=(97, 97, 3), alpha=0.35)
    t = ct.trace(model, (1, 97, 97, 3))
    _assert_matches_keras(model, t)
    assert not t.findings_with("unknown-op") and not t.findings_with("static-input-shape")
    # 'same' stride 2 at 97: TF SAME pads (1, 1) -> 49; correct_pad at the odd size 49 is
    # ZeroPadding2D((1, 1), (1, 1)) before the 'valid' stride-2 depthwise conv -> 25
    assert t.layer("Conv1").padding == ((1, 1), (1, 1)) and t.layer("Conv1").output_shape == (1, 49, 49, 16)
    assert t.layer("block_1_pad").padding == ((1, 1), (1, 1))
    assert t.layer("block_1_depthwise").padding == ((0, 0), (0, 0))
    assert t.layer("block_1_depthwise").output_shape[1:3] == (25, 25)
    assert t.trainable_params == sum(math.prod(w.shape) for w in model.trainable_weights)


def test_unknown_layer_passes_through_with_info_finding():
    class Doubler(layers.Layer):
        def call(self, x):
            return keras.ops.concatenate([x, x], axis=-1)

    inp = keras.Input((9, 9, 2))
    x = layers.Conv2D(3, 3, name="c")(inp)
    x = Doubler(name="dbl")(x)
    x = keras.ops.relu(x + 1.0)
    model = keras.Model(inp, x)
    t = ct.trace(model, (1, 9, 9, 2))
    _assert_matches_keras(model, t)
    dbl = t.layer("dbl")
    assert dbl.op == "unknown" and dbl.output_shape == (1, 7, 7, 6)
    found = t.findings_with("unknown-op")
    assert len(found) == 1 and found[0].severity == "info" and "Doubler" in found[0].message
    assert t.receptive_field is not None and not t.receptive_field.exact


def test_too_small_input_is_impossible_with_nearest():
    inp = keras.Input((None, None, 3))
    x = layers.Conv2D(4, 5, name="a")(inp)
    x = layers.Conv2D(4, 5, strides=2, name="b")(x)
    model = keras.Model(inp, x)
    with pytest.raises(ImpossibleInput) as info:
        ct.trace(model, (1, 6, 30, 3))
    assert info.value.layer == "b" and info.value.axis == 0
    assert (1, 9, 30, 3) in info.value.nearest


def test_dense_after_flatten_needs_the_built_size():
    model = keras.Sequential([keras.Input((8, 8, 1)), layers.Conv2D(2, 3), layers.Flatten(),
                              layers.Dense(3, name="fc")])
    with pytest.raises(ImpossibleInput) as info:
        ct.trace(model, (1, 9, 8, 1))
    assert info.value.layer == "fc"
    static = ct.trace(model, (1, 8, 8, 1))
    assert not static.findings_with("static-input-shape")


def test_static_input_shape_warning_and_nested_shared_model():
    enc = keras.Sequential([layers.Conv2D(4, 3, padding="same", name="conv"), layers.MaxPooling2D(name="pool")],
                           name="enc")
    a, b = keras.Input((16, 16, 3)), keras.Input((16, 16, 3))
    model = keras.Model([a, b], layers.Concatenate(name="cat")([enc(a), enc(b)]))
    t = ct.trace(model, [(1, 16, 16, 3), (1, 16, 16, 3)], findings=False)
    _assert_matches_keras(model, t)
    assert [r.name for r in t.layers] == ["enc/conv", "enc/pool", "enc/conv", "enc/pool", "cat"]
    assert [r.call for r in t.layers][:4] == [0, 0, 1, 1] and t.layers[2].params == 0
    assert [m.name for m in t.modules] == ["enc", "enc"]
    odd = ct.trace(model, [(1, 17, 17, 3), (1, 17, 17, 3)])
    assert odd.output_shape == (1, 8, 8, 8) and odd.findings_with("static-input-shape")


def test_unbuilt_sequential_is_not_modified_and_dtype_bytes():
    model = keras.Sequential([layers.Conv2D(4, 3, strides=2), layers.GlobalMaxPooling2D(), layers.Dense(2)])
    t = ct.trace(model, (1, 11, 11, 3), findings=False)
    assert not model.built
    assert t.output_shape == (1, 2) and t.params == (3 * 9 * 4 + 4) + (4 * 2 + 2)
    half = ct.trace(model, (1, 11, 11, 3), dtype="float16", findings=False)
    assert half.layers[0].output_bytes * 2 == t.layers[0].output_bytes


def test_transposed_conv_the_tensorflow_backend_rejects():
    """Even kernel, 'same', output_padding=0: Keras's symbolic shape is (n-1)*s, the torch backend
    runs it (symmetric crop); the TF dialect rejects it (Conv2DBackpropInput) -> warning finding."""
    if keras.backend.backend() != "torch":
        pytest.skip("torch backend only")
    inp = keras.Input((5, 5, 2))
    out = layers.Conv2DTranspose(3, 4, strides=2, padding="same", output_padding=0, name="up")(inp)
    model = keras.Model(inp, out)
    t = ct.trace(model, (1, 5, 5, 2))
    _assert_matches_keras(model, t)
    assert t.output_shape == (1, 8, 8, 3) and t.layer("up").padding == ((2, 2), (2, 2))
    assert t.findings_with("keras-backend-differs")[0].severity == "warning"
    with pytest.raises(convgeom.GeometryError):
        convgeom.conv_transpose(5, 4, 2, "same", 0, framework="tensorflow")


def test_average_pooling_same_uneven_pads_on_torch_backend():
    """Keras's torch backend pads uneven 'same' average pooling with mode='replicate' and counts
    the replicated cells: on [1, 2], pool 3 stride 2 gives 5/3 instead of TF's 3/2."""
    if keras.backend.backend() != "torch":
        pytest.skip("torch backend only")
    np = pytest.importorskip("numpy")
    pool = layers.AveragePooling1D(3, strides=2, padding="same", name="avg")
    got = keras.ops.convert_to_numpy(pool(np.array([[[1.0], [2.0]]], dtype="float32")))
    assert got[0, 0, 0] == pytest.approx(5 / 3)
    model = keras.Sequential([keras.Input((2, 1)), pool])
    t = ct.trace(model, (1, 2, 1))
    assert t.layer("avg").padding == ((0, 1),) and t.output_shape == (1, 1, 1)
    assert t.findings_with("keras-backend-differs")
    even = ct.trace(model, (1, 3, 1))  # 'same' pads (1, 1): no replicate padding
    assert even.layer("avg").padding == ((1, 1),) and not even.findings_with("keras-backend-differs")


def test_load_keras_file(tmp_path):
    path = tmp_path / "m.keras"
    model = keras.Sequential([keras.Input((10, 3)), layers.Conv1D(2, 3, padding="causal"), layers.MaxPooling1D(2)])
    model.save(path)
    t = ct.trace(str(path), (1, 13, 3), findings=False)
    assert t.framework == "keras" and t.output_shape == (1, 6, 2) and t.params == model.count_params()
