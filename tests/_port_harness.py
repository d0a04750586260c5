"""Shared by the port tests: the configuration drawing of ``tools/make_port_golden.py`` (one
copy, loaded by path), framework imports done once, and running a configuration."""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
# hundreds of tiny layers, each compiled once: XLA's cheapest compile beats its fastest code
os.environ.setdefault("XLA_FLAGS", "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true")

ROOT = Path(__file__).resolve().parent.parent
FRAMEWORKS = ("torch", "tensorflow", "jax", "onnx")
TOLERANCE = 1e-5  # float32, relative to the largest |source output|


def _tool() -> Any:
    spec = importlib.util.spec_from_file_location("make_port_golden", ROOT / "tools" / "make_port_golden.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_port_golden"] = module
    spec.loader.exec_module(module)
    return module


tool = _tool()

#: what a refusal may be about; anything else is a bug
KNOWN_REFUSALS = [
    r"Keras (MaxPooling|AveragePooling)\dD has no dilation",
    r"Keras Conv\dDTranspose has no groups",
    r"`strides > 1` not supported in conjunction with `dilation_rate > 1`",
    r"PyTorch's AvgPool\*d has no dilation",
    r"output_padding .* is not smaller than stride",
    r"output padding must be smaller than either stride or dilation",
    r"some windows read only padding: .* returns -inf there, .* float32's lowest",
    r"some windows read only padding: .* returns float32's lowest .* there, .* -inf",
]


def keras_torch_backend_differs(config: dict[str, Any]) -> bool:
    """A Keras 'same' average pool with asymmetric pads: Keras on the torch backend pads it with
    replicated edge cells and counts them (keras/src/backend/torch/nn.py _apply_same_padding);
    TensorFlow (tests/golden/port_tensorflow.json) and JAX do not. convgeom follows TensorFlow."""
    import convgeom

    if config["source"] != "tensorflow" or config["op"] != "avg_pool" or config["padding"] != "same":
        return False
    g = convgeom.avg_pool(config["input"], config["kernel"], config["stride"], "same", framework="tensorflow")
    return any(b != a for b, a in g.pad)


def known_refusal(message: str) -> bool:
    return any(re.search(pattern, message) for pattern in KNOWN_REFUSALS)


def import_frameworks() -> None:
    """Imports every framework once (skipping the test when one is missing) and keeps torch on
    one thread: these layers are tiny, and the machine is shared."""
    for name in ("torch", "keras", "jax", "onnx", "onnxruntime"):
        pytest.importorskip(name)
    import keras
    import torch

    if keras.backend.backend() != "torch":
        pytest.skip("the live port tests run Keras on the torch backend")
    torch.set_num_threads(1)


def run_config(config: dict[str, Any], seed: int) -> tuple[dict[str, Any], np.ndarray]:
    """The source layer's data and its output, run with the source framework's own API."""
    from convgeom.port.emitters import get_emitter

    data = tool.layer_data(config, seed, config["source"])
    expected = get_emitter(config["source"]).run_source(tool.layer_call(config), data["x"], data["kernel"],
                                                        data["bias"], tool.channels(config))
    return data, expected


def run_ported(config: dict[str, Any], data: dict[str, Any], target: str, code: str) -> np.ndarray:
    """Ported ``code`` run in ``target`` with the source's weights converted by port_weights."""
    import convgeom
    from convgeom.port.emitters import get_emitter

    kernel, bias = data["kernel"], data["bias"]
    if kernel is not None:
        kernel, bias = convgeom.port_weights(kernel, bias, op=config["op"], source=config["source"],
                                             target=target, groups=config["groups"])
    return get_emitter(target).run_code(code, data["x"], kernel, bias)
