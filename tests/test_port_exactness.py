"""What a port claims about other input sizes and what it refuses, checked in the frameworks:

* the fixed-size code is exact at the sizes ``exact_for`` names and really differs at the
  others; the dynamic module is exact at every size;
* a refusal is real: the closest layer the target has gives different numbers;
* depthwise kernels (Keras ``DepthwiseConv2D``) convert to grouped convolutions.
"""

from __future__ import annotations

import numpy as np
import pytest

import convgeom
from _port_harness import TOLERANCE, import_frameworks, tool
from convgeom.port.emitters import Channels, get_emitter
from convgeom.port.emitters.base import execute
from convgeom.port.verify import relative_error

DIFFERENT = 1e-3  # "really differs": far above float32 rounding


@pytest.fixture(scope="module", autouse=True)
def _frameworks() -> None:
    import_frameworks()


def _data(config: dict, size: tuple[int, ...], seed: int) -> dict:
    return tool.layer_data({**config, "input": size}, seed, config["source"])


def _source_output(config: dict, data: dict) -> np.ndarray:
    return get_emitter(config["source"]).run_source(tool.layer_call(config), data["x"], data["kernel"],
                                                    data["bias"], tool.channels(config))


def _target_output(config: dict, data: dict, target: str, code: str) -> np.ndarray:
    kernel, bias = data["kernel"], data["bias"]
    if kernel is not None:
        kernel, bias = convgeom.port_weights(kernel, bias, op=config["op"], source=config["source"], target=target,
                                             groups=config.get("groups", 1))
    return get_emitter(target).run_code(code, data["x"], kernel, bias)


INPUT_DEPENDENT = [
    ({"op": "conv", "source": "tensorflow", "input": (8, 9), "kernel": 3, "stride": 2, "padding": "same",
      "groups": 1, "in_channels": 2, "out_channels": 3, "bias": True}, "torch"),
    ({"op": "conv", "source": "onnx", "input": (9,), "kernel": 2, "stride": 3, "padding": "same_lower",
      "groups": 1, "in_channels": 1, "out_channels": 2, "bias": False}, "tensorflow"),
    ({"op": "max_pool", "source": "tensorflow", "input": (9, 10), "kernel": 3, "stride": 2, "padding": "same"},
     "torch"),
    ({"op": "avg_pool", "source": "jax", "input": (9,), "kernel": 3, "stride": 2, "padding": "same",
      "count_include_pad": False}, "torch"),
    ({"op": "avg_pool", "source": "onnx", "input": (7, 8), "kernel": 3, "stride": 2, "padding": "same",
      "count_include_pad": False}, "tensorflow"),
]


@pytest.mark.parametrize(("config", "target"), INPUT_DEPENDENT)
def test_fixed_code_is_exact_exactly_where_exact_for_says(config: dict, target: str) -> None:
    ported = convgeom.port.port(**config, target=target)
    assert ported.exact_for != "all" and ported.dynamic_code is not None
    exact_seen = differs_seen = 0
    for m in range(max(2, config["input"][0] - 4), config["input"][0] + 5):
        size = (m, *config["input"][1:])
        data = _data(config, size, seed=m)
        try:
            expected = _source_output(config, data)
            got = _target_output(config, data, target, ported.code)
        except Exception:  # the fixed code cannot even take this size: it differs
            assert not ported.rule.holds(size)
            differs_seen += 1
            continue
        error = relative_error(got, expected)
        if ported.rule.holds(size):
            assert error < TOLERANCE, f"size {size}: {ported.exact_for} but error {error}"
            exact_seen += 1
        else:
            assert error > DIFFERENT, f"size {size}: outside {ported.exact_for} yet equal"
            differs_seen += 1
    assert exact_seen and differs_seen


@pytest.mark.parametrize(("config", "target"), INPUT_DEPENDENT)
def test_dynamic_module_is_exact_at_every_size(config: dict, target: str) -> None:
    ported = convgeom.port.port(**config, target=target)
    assert ported.dynamic_code is not None
    names = execute(ported.dynamic_code) if target != "jax" else {}  # one module, fed every size
    for m in range(max(2, config["input"][0] - 4), config["input"][0] + 5):
        size = (m, *config["input"][1:])
        data = _data(config, size, seed=m)
        expected = _source_output(config, data)
        if target == "jax":
            got = _target_output(config, data, target, ported.dynamic_code)
        else:
            kernel, bias = data["kernel"], data["bias"]
            if kernel is not None:
                kernel, bias = convgeom.port_weights(kernel, bias, op=config["op"], source=config["source"],
                                                     target=target, groups=1)
                names["set_weights"](kernel, bias)
            emitter = get_emitter(target)
            layer = names["layer"]
            if target == "torch":
                import torch

                with torch.no_grad():
                    got = layer(torch.as_tensor(data["x"])).numpy()
            else:
                import keras

                got = emitter.from_native(keras.ops.convert_to_numpy(layer(emitter.to_native(data["x"]))))
        assert relative_error(got, expected) < TOLERANCE, f"size {size}"


# ----- refusals are real --------------------------------------------------------------------
def test_keras_has_no_dilated_pooling() -> None:
    import keras

    config = {"op": "max_pool", "source": "torch", "input": (11,), "kernel": 3, "stride": 2, "dilation": 2}
    with pytest.raises(convgeom.port.PortError, match="has no dilation"):
        convgeom.port.port(**config, target="tensorflow")
    data = _data(config, (11,), seed=1)
    expected = _source_output(config, data)
    keras_emitter = get_emitter("tensorflow")
    closest = keras.layers.MaxPooling1D(3, strides=2)
    got = keras_emitter.from_native(keras.ops.convert_to_numpy(closest(keras_emitter.to_native(data["x"]))))
    assert got.shape != expected.shape or relative_error(got, expected) > DIFFERENT


def test_pytorch_has_no_dilated_average_pooling() -> None:
    import torch

    config = {"op": "avg_pool", "source": "onnx", "input": (9, 9), "kernel": 2, "stride": 1, "dilation": 2,
              "count_include_pad": False}
    with pytest.raises(convgeom.port.PortError, match="has no dilation"):
        convgeom.port.port(**config, target="torch")
    data = _data(config, (9, 9), seed=2)
    expected = _source_output(config, data)
    got = torch.nn.AvgPool2d(2, stride=1)(torch.as_tensor(data["x"])).numpy()
    assert got.shape != expected.shape or relative_error(got, expected) > DIFFERENT


def test_onnx_runtime_max_pool_of_padding_only_is_not_minus_infinity() -> None:
    """The refusal's claim, measured: the construction ONNX would get returns float32's lowest
    where JAX returns -inf."""
    config = {"op": "max_pool", "source": "jax", "input": (5,), "kernel": 2, "stride": 2, "padding": ((2, 2),)}
    with pytest.raises(convgeom.port.PortError, match="read only padding"):
        convgeom.port.port(**config, target="onnx")
    call = tool.layer_call(config)
    spec = call.spec((5,))
    onnx = get_emitter("onnx")
    construction = next(c for c in onnx.candidates(spec) if c.matches(spec))
    data = _data(config, (5,), seed=3)
    got = onnx.run_code(onnx.render(spec, construction, Channels()).code, data["x"], None, None)
    expected = _source_output(config, data)
    padding_only = np.isneginf(expected)
    assert padding_only.any()
    assert np.all(got[padding_only] == np.finfo(np.float32).min)
    assert np.array_equal(got[~padding_only], expected[~padding_only])


def test_keras_torch_backend_counts_replicated_cells_in_asymmetric_same_average_pools() -> None:
    """Why the live tests leave these layers to the TensorFlow golden file."""
    config = {"op": "avg_pool", "source": "tensorflow", "input": (9, 6), "kernel": 4, "stride": 1, "padding": "same"}
    data = _data(config, (9, 6), seed=4)
    keras_torch = _source_output(config, data)
    ported = convgeom.port.port(**config, target="torch")
    assert relative_error(_target_output(config, data, "torch", ported.code), keras_torch) > DIFFERENT


# ----- depthwise --------------------------------------------------------------------------------
def test_keras_depthwise_kernels_become_grouped_convolutions() -> None:
    import keras
    import torch

    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 3, 7, 8)).astype(np.float32)
    depthwise = keras.layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same")
    keras_emitter = get_emitter("tensorflow")
    depthwise.build((None, 7, 8, 3))
    kernel = rng.standard_normal((3, 3, 3, 2)).astype(np.float32)
    bias = rng.standard_normal(6).astype(np.float32)
    depthwise.set_weights([kernel, bias])
    expected = keras_emitter.from_native(keras.ops.convert_to_numpy(depthwise(keras_emitter.to_native(x))))
    ported = convgeom.port("conv", source="tensorflow", target="torch", input=(7, 8), kernel=3, padding="same",
                           groups=3, in_channels=3, out_channels=6)
    names = execute(ported.code)
    names["set_weights"](*convgeom.port_weights(kernel, bias, op="depthwise_conv", source="tensorflow",
                                                target="torch"))
    with torch.no_grad():
        got = names["layer"](torch.as_tensor(x)).numpy()
    assert relative_error(got, expected) < TOLERANCE
