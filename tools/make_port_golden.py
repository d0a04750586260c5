"""Golden outputs of ported layers on Keras 3 with the TensorFlow backend.

TensorFlow cannot be installed next to the torch-backend Keras the tests use, so the
TensorFlow side of ``convgeom.port`` is recorded here and replayed by
``tests/test_port_golden.py``:

* ``tensorflow -> *``: a random Keras layer (``convgeom.port``'s own Keras runner, i.e. the
  layer built from the engine parameters with Keras' API), run on TensorFlow; the test ports it
  to PyTorch, JAX, ONNX Runtime and torch-backend Keras live and compares.
* ``* -> tensorflow``: a random PyTorch / JAX / ONNX layer ported to Keras; the ported code run
  on TensorFlow; the test runs the source live, checks that ``convgeom.port`` still writes the
  recorded code, and compares.

Inputs and weights are multiples of 1/32 in [-2, 2) (exact in float32, stored as int8), outputs
float32, both base64. Configurations are drawn by :func:`draw_config` (also used by the live
tests) with Python's ``random.Random``, stable across versions.

    python -m venv /work/venvs/port-tf && /work/venvs/port-tf/bin/pip install tensorflow-cpu keras numpy
    KERAS_BACKEND=tensorflow PYTHONPATH=src /work/venvs/port-tf/bin/python tools/make_port_golden.py
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any, Optional

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "golden" / "port_tensorflow.json"
FRAMEWORKS = ("torch", "tensorflow", "jax", "onnx")
OPS = ("conv", "conv_transpose", "max_pool", "avg_pool")
#: inputs and weights: integers in [-64, 64) divided by this (exact in float32)
SCALE = 32.0

Config = dict[str, Any]


# ----- configurations ----------------------------------------------------------------------
def _axes(rng: random.Random, ndim: int, lo: int, hi: int, same: float = 0.6) -> tuple[int, ...]:
    if rng.random() < same:
        return (rng.randint(lo, hi),) * ndim
    return tuple(rng.randint(lo, hi) for _ in range(ndim))


def _padding(rng: random.Random, source: str, op: str, ndim: int, kernel: tuple[int, ...],
             stride: tuple[int, ...]) -> Any:
    """A padding argument in the source framework's own vocabulary."""
    pairs = tuple((rng.randint(0, k), rng.randint(0, k)) for k in kernel)
    half = tuple(rng.randint(0, k // 2) for k in kernel)
    if source == "torch":
        if op == "conv":
            return rng.choice([half, tuple(rng.randint(0, k) for k in kernel), "valid", pairs]
                              + (["same"] * 2 if all(s == 1 for s in stride) else []))
        if op == "conv_transpose":
            return tuple(rng.randint(0, k - 1) for k in kernel)
        return half
    if source == "tensorflow":
        return rng.choice(["same", "valid"] + (["causal"] if op == "conv" and ndim == 1 else []))
    if source == "jax":
        if op == "conv_transpose":  # strings, or pads on the stride-dilated input (RawPads)
            from convgeom.params import RawPads

            raw = RawPads(tuple((rng.randint(0, k + s), rng.randint(0, k + s)) for k, s in zip(kernel, stride)))
            return rng.choice(["same", "valid", raw])
        return rng.choice(["same", "same_lower", "valid", pairs, pairs])
    strings = ["same", "same_lower", "valid"]
    if op in ("max_pool", "avg_pool"):
        return rng.choice(strings + [tuple((rng.randint(0, k - 1), rng.randint(0, k - 1)) for k in kernel)] * 2)
    return rng.choice(strings + [pairs, pairs])


def _draw(rng: random.Random, source: str) -> Config:
    op = rng.choice(OPS)
    ndim = rng.choice((1, 1, 2, 2, 2, 3))
    kmax, nmax = {1: (5, 14), 2: (4, 9), 3: (3, 6)}[ndim]
    kernel = _axes(rng, ndim, 1, kmax)
    stride = _axes(rng, ndim, 1, 3)
    dilation = _axes(rng, ndim, 1, 2) if rng.random() < 0.4 else (1,) * ndim
    if source == "tensorflow" and max(stride) > 1 and op in ("conv", "conv_transpose"):
        dilation = (1,) * ndim if rng.random() < 0.7 else dilation
        stride = stride if dilation == (1,) * ndim else (1,) * ndim
    if op in ("max_pool", "avg_pool") and source == "tensorflow":
        dilation = (1,) * ndim
        stride = tuple(min(s, k) for s, k in zip(stride, kernel))  # tf.nn.pool: strides <= window
    if op == "avg_pool" and source == "torch":
        dilation = (1,) * ndim
    config: Config = {"op": op, "source": source, "kernel": kernel, "stride": stride, "dilation": dilation,
                      "input": _axes(rng, ndim, 1, nmax, 0.4),
                      "padding": _padding(rng, source, op, ndim, kernel, stride)}
    if op in ("conv", "conv_transpose"):
        groups = rng.choice((1, 1, 1, 2, 3))
        if source == "tensorflow" and op == "conv_transpose":
            groups = 1
        if source == "jax" and op == "conv_transpose" and isinstance(config["padding"], str):
            groups = 1  # lax.conv_transpose has no groups; with RawPads it is conv_general_dilated
        config.update(groups=groups, in_channels=groups * rng.randint(1, 2), out_channels=groups * rng.randint(1, 2),
                      bias=rng.random() < 0.8)
    _options(rng, config, source, ndim)
    return config


def _options(rng: random.Random, config: Config, source: str, ndim: int) -> None:
    op = config["op"]
    if op == "conv" and source == "torch" and isinstance(config["padding"], tuple) and rng.random() < 0.25:
        config["padding_mode"] = rng.choice(("reflect", "replicate", "circular"))
    if op == "conv_transpose":
        s, d = config["stride"], config["dilation"]
        if source == "torch":
            config["output_padding"] = tuple(rng.randint(0, max(a, b) - 1) for a, b in zip(s, d))
        elif source == "onnx" and rng.random() < 0.5:
            config["output_padding"] = tuple(rng.randint(0, max(a, b) - 1) for a, b in zip(s, d))
        elif source == "tensorflow" and rng.random() < 0.4:
            config["output_padding"] = tuple(rng.randint(0, a - 1) for a in s)
    if op in ("max_pool", "avg_pool") and source in ("torch", "onnx") and rng.random() < 0.4:
        config["ceil_mode"] = True
    if op == "avg_pool" and source in ("torch", "onnx", "jax"):
        config["count_include_pad"] = rng.random() < 0.5
        if source == "torch" and ndim > 1 and rng.random() < 0.15:
            config["divisor"] = rng.randint(1, 10)


def accepted(config: Config) -> bool:
    """The source framework takes the layer and gives a non-empty output (per the engine)."""
    from convgeom.errors import GeometryError
    from convgeom.explanation import OPS as ENGINE

    params = {k: v for k, v in config.items() if k not in ("op", "source", "in_channels", "out_channels", "bias")}
    try:
        result = ENGINE[config["op"]](**params, framework=config["source"])
    except GeometryError:
        return False
    return all(o >= 1 for o in result.output)


def draw_config(rng: random.Random, source: str) -> Config:
    """A random layer of ``source`` that the source accepts (``convgeom.port`` keyword
    arguments, plus ``op``)."""
    while True:
        config = _draw(rng, source)
        if accepted(config):
            return config


def layer_call(config: Config) -> Any:
    """The source layer's engine call (``convgeom.port.source_layer``)."""
    import convgeom.port

    params = {k: v for k, v in config.items() if k not in ("input", "in_channels", "out_channels", "bias")}
    return convgeom.port.source_layer(**params)


def channels(config: Config) -> Any:
    from convgeom.port.emitters import Channels

    return Channels(config.get("in_channels", 1), config.get("out_channels", 1), bool(config.get("bias", False)))


# ----- data --------------------------------------------------------------------------------
def quantised(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return (rng.integers(-64, 64, size=shape) / SCALE).astype(np.float32)


def encode_int8(a: np.ndarray) -> dict[str, Any]:
    return {"shape": list(a.shape), "int8": base64.b64encode((a * SCALE).astype(np.int8).tobytes()).decode()}


def encode_float32(a: np.ndarray) -> dict[str, Any]:
    return {"shape": list(a.shape), "float32": base64.b64encode(np.asarray(a, "<f4").tobytes()).decode()}


def decode(blob: Optional[dict[str, Any]]) -> Optional[np.ndarray]:
    if blob is None:
        return None
    if "int8" in blob:
        raw = np.frombuffer(base64.b64decode(blob["int8"]), np.int8).astype(np.float32) / SCALE
    else:
        raw = np.frombuffer(base64.b64decode(blob["float32"]), "<f4").astype(np.float32)
    return np.asarray(raw.reshape(blob["shape"]), np.float32)


def to_json(value: Any) -> Any:
    from convgeom.params import RawPads

    if isinstance(value, RawPads):
        return {"raw": to_json(value.pairs)}
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [to_json(v) for v in value]
    return value


def from_json(value: Any) -> Any:
    from convgeom.params import RawPads

    if isinstance(value, dict) and "raw" in value:
        return RawPads(from_json(value["raw"]))
    if isinstance(value, dict):
        return {k: from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return tuple(from_json(v) for v in value)
    return value


def layer_data(config: Config, seed: int, source_layout: str) -> dict[str, Optional[np.ndarray]]:
    """Input ``(1, C, *spatial)`` and, for convolutions, a kernel in ``source_layout``'s layout."""
    from convgeom.port.emitters import get_emitter

    rng = np.random.default_rng(seed)
    channels = config.get("in_channels", 2)
    data: dict[str, Optional[np.ndarray]] = {"x": quantised(rng, (1, channels, *config["input"])),
                                              "kernel": None, "bias": None}
    if config["op"] in ("conv", "conv_transpose"):
        shape = get_emitter(source_layout).kernel_shape(config["op"], config["in_channels"], config["out_channels"],
                                                        _per_axis(config["kernel"], len(config["input"])),
                                                        config["groups"])
        data["kernel"] = quantised(rng, shape)
        data["bias"] = quantised(rng, (config["out_channels"],)) if config["bias"] else None
    return data


def _per_axis(value: Any, ndim: int) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * ndim


# ----- recording (TensorFlow backend) ------------------------------------------------------
def _record(config: Config, seed: int, target: str) -> dict[str, Any]:
    from convgeom.port import PortError, port, port_weights
    from convgeom.port.emitters import get_emitter

    keras_emitter = get_emitter("tensorflow")
    record: dict[str, Any] = {"seed": seed, "config": to_json(config), "target": target}
    data = layer_data(config, seed, config["source"])
    x, kernel, bias = data["x"], data["kernel"], data["bias"]
    assert x is not None
    record["x"] = encode_int8(x)
    record["kernel"] = None if kernel is None else encode_int8(kernel)
    record["bias"] = None if bias is None else encode_int8(bias)
    if config["source"] == "tensorflow":
        call = layer_call(config)
        y = keras_emitter.run_source(call, x, kernel, bias, channels(config))
    else:
        try:
            ported = port(**config, target="tensorflow")
        except PortError as err:
            record["refused"] = str(err)
            return record
        if kernel is not None:
            kernel, bias = port_weights(kernel, bias, op=config["op"], source=config["source"],
                                        target="tensorflow", groups=config["groups"])
        record["code"] = ported.code
        y = keras_emitter.run_code(ported.code, x, kernel, bias)
    record["y"] = encode_float32(y)
    return record


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-source", type=int, default=200, help="configurations per direction")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    if os.environ.get("KERAS_BACKEND") != "tensorflow":
        raise SystemExit("run with KERAS_BACKEND=tensorflow (Keras on TensorFlow is what this records)")
    # oneDNN, the x86 default where the CPU has it: TensorFlow's reference kernels refuse
    # dilated transposed convolutions (what convgeom's TensorFlow dialect notes)
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
    import importlib

    keras, tf = importlib.import_module("keras"), importlib.import_module("tensorflow")

    records = []
    started = time.time()
    for index, source in enumerate(FRAMEWORKS):
        rng = random.Random(args.seed * 100 + index)
        target = "torch" if source == "tensorflow" else "tensorflow"
        for i in range(args.per_source):
            config = draw_config(rng, source)
            records.append(_record(config, args.seed * 100_000 + index * 10_000 + i, target))
        print(f"{source}: {args.per_source} configurations, {time.time() - started:.0f} s", file=sys.stderr)
    payload = {"generator": "tools/make_port_golden.py", "tensorflow": tf.__version__, "keras": keras.__version__,
               "numpy": np.__version__, "onednn": os.environ["TF_ENABLE_ONEDNN_OPTS"], "seed": args.seed,
               "records": records}
    args.out.write_text(json.dumps(payload, separators=(",", ":")) + "\n")
    print(f"wrote {len(records)} records to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
