"""``convgeom port``: the real entry point, its JSON, its one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from convgeom.cli import main
from convgeom.cli.port import PORT_OPS


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["port", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_has_code_exact_for_and_notes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "conv", "--from", "tensorflow", "--to", "torch", "--input", "224,224",
                          "--kernel", "3", "--stride", "2", "--padding", "same", "--in-channels", "3",
                          "--out-channels", "16", "--json")
    assert code == 0 and err == ""
    payload = json.loads(out)
    assert payload["exact_for"] == "n0 % 2 == 0 and n1 % 2 == 0"
    assert payload["expression"] == "nn.Sequential(nn.ZeroPad2d((0, 1, 0, 1)), nn.Conv2d(3, 16, 3, stride=2))"
    assert isinstance(payload["notes"], list) and payload["dynamic_code"]
    assert payload["function"]["pads"] == [[0, 1], [0, 1]]
    pytest.importorskip("torch")
    namespace: dict = {}
    exec(payload["code"], namespace)
    assert type(namespace["layer"]).__name__ == "Sequential" and callable(namespace["set_weights"])


def test_human_output_prints_code_then_the_rule(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "max-pool", "--from", "tensorflow", "--to", "torch", "--input", "9",
                        "--kernel", "3", "--stride", "2", "--padding", "same")
    assert code == 0
    assert out.startswith("import torch") and "# exact for: n0 % 2 == 1" in out
    assert "# dynamic version" in out and "convgeom.port.layer_spec('max_pool'" in out
    code, out, _ = _run(capsys, "max-pool", "--from", "torch", "--to", "jax", "--input", "9", "--kernel", "3",
                        "--stride", "2", "--padding", "1", "--ceil-mode")
    assert "# exact for: every input size" in out and "# dynamic version" not in out


def test_pooling_options_pass_through(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "avg-pool", "--from", "torch", "--to", "onnx", "--input", "8,8", "--kernel", "3",
                        "--stride", "1", "--padding", "1", "--count-include-pad", "false", "--json")
    assert code == 0 and "'count_include_pad': 0" in json.loads(out)["code"]


@pytest.mark.parametrize(("argv", "words"), [
    (["unfold", "--from", "torch", "--to", "jax", "--input", "8", "--kernel", "3"], "invalid choice: 'unfold'"),
    (["conv", "--from", "torch", "--to", "jax", "--input", "8", "--kernel", "3", "--framework", "onnx"],
     "--framework is --from"),
    (["conv", "--from", "torch", "--to", "mxnet", "--input", "8", "--kernel", "3"], "unknown framework 'mxnet'"),
    (["conv", "--from", "tensorflow", "--to", "torch", "--input", "8", "--kernel", "3", "--padding", "1"],
     "not a Keras padding mode"),
    (["conv", "--from", "torch", "--to", "jax", "--input", "8", "--kernel", "3", "--ceil-mode"],
     "--ceil-mode does not apply"),
    (["max-pool", "--from", "torch", "--to", "keras", "--input", "9", "--kernel", "3", "--dilation", "2"],
     "has no dilation"),
    (["conv", "--to", "jax", "--input", "8", "--kernel", "3"], "--from"),
])
def test_errors_are_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str], words: str) -> None:
    code, out, err = _run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and words in err, err


def test_every_port_op_is_a_layer_op() -> None:
    from convgeom.cli.layer import OPS

    assert set(PORT_OPS) <= set(OPS)


def test_entry_point_runs_in_a_fresh_interpreter() -> None:
    done = subprocess.run([sys.executable, "-m", "convgeom", "port", "conv", "--from", "torch", "--to", "onnx",
                           "--input", "7", "--kernel", "3", "--stride", "2", "--padding", "1", "--json"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["exact_for"] == "all"
