"""Ported layers against Keras 3 on the TensorFlow backend, through the golden outputs that
``tools/make_port_golden.py`` recorded from real TensorFlow (``tests/golden/port_tensorflow.json``):

* a random Keras layer's TensorFlow output against the code ``convgeom.port`` writes for
  PyTorch, JAX and ONNX Runtime, run live;
* a random PyTorch / JAX / ONNX layer, run live, against the TensorFlow output of the Keras code
  ``convgeom.port`` wrote for it (which it must still write: otherwise regenerate the file).
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

import convgeom
from _port_harness import ROOT, TOLERANCE, import_frameworks, known_refusal, run_ported, tool
from convgeom.port.emitters import get_emitter
from convgeom.port.verify import relative_error

GOLDEN = ROOT / "tests" / "golden" / "port_tensorflow.json"
REGENERATE = ("KERAS_BACKEND=tensorflow PYTHONPATH=src /work/venvs/port-tf/bin/python tools/make_port_golden.py "
              "(a venv with tensorflow-cpu, keras, numpy)")


@pytest.fixture(scope="module")
def records() -> list[dict]:
    if not GOLDEN.exists():
        pytest.skip(f"{GOLDEN} missing: {REGENERATE}")
    import_frameworks()
    return json.loads(GOLDEN.read_text())["records"]


def _data(record: dict) -> dict:
    return {name: tool.decode(record[name]) for name in ("x", "kernel", "bias")}


def test_the_golden_file_covers_every_pair(records: list[dict]) -> None:
    pairs = Counter((r["config"]["source"], r["target"]) for r in records if "y" in r)
    for source in ("torch", "jax", "onnx"):
        assert pairs[(source, "tensorflow")] >= 100, pairs
    assert pairs[("tensorflow", "torch")] >= 100, pairs


@pytest.mark.parametrize("target", ["torch", "jax", "onnx"])
def test_keras_on_tensorflow_ported_to(records: list[dict], target: str) -> None:
    failures, checked, worst = [], 0, 0.0
    for record in records:
        config = tool.from_json(record["config"])
        if config["source"] != "tensorflow":
            continue
        data, expected = _data(record), tool.decode(record["y"])
        try:
            ported = convgeom.port.port(**config, target=target)
        except convgeom.port.PortError as err:
            assert known_refusal(str(err)), f"{config} -> {target}: {err}"
            continue
        error = relative_error(run_ported(config, data, target, ported.code), expected)
        checked += 1
        worst = max(worst, error)
        if error >= TOLERANCE:
            failures.append(f"{config} -> {target}: error {error:.3g}")
    print(f"\ntensorflow -> {target}: {checked} verified, max error {worst:.2g}")
    assert checked >= 100
    assert not failures, "\n".join(failures[:10])


@pytest.mark.parametrize("source", ["torch", "jax", "onnx"])
def test_ported_to_keras_on_tensorflow(records: list[dict], source: str) -> None:
    failures, checked, worst = [], 0, 0.0
    for record in records:
        config = tool.from_json(record["config"])
        if config["source"] != source:
            continue
        if "refused" in record:
            with pytest.raises(convgeom.port.PortError):
                convgeom.port.port(**config, target="tensorflow")
            assert known_refusal(record["refused"]), record["refused"]
            continue
        ported = convgeom.port.port(**config, target="tensorflow")
        assert ported.code == record["code"], f"convgeom.port writes other code for {config}: {REGENERATE}"
        data = _data(record)
        got = get_emitter(source).run_source(tool.layer_call(config), data["x"], data["kernel"], data["bias"],
                                             tool.channels(config))
        error = relative_error(tool.decode(record["y"]), got)
        checked += 1
        worst = max(worst, error)
        if error >= TOLERANCE:
            failures.append(f"{config}: TensorFlow error {error:.3g}")
    print(f"\n{source} -> tensorflow: {checked} verified, max error {worst:.2g}")
    assert checked >= 100
    assert not failures, "\n".join(failures[:10])
