"""The command line: human and JSON output, and one stderr line with exit code 2 for bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from convgeom.cli import main

torch = pytest.importorskip("torch")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "convgeom", *args], capture_output=True, text=True, timeout=120)


def test_shape_json_matches_torch(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["shape", "conv", "--input", "7,9", "--kernel", "3", "--stride", "2", "--padding", "1", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    expected = torch.nn.functional.conv2d(torch.zeros(1, 1, 7, 9), torch.zeros(1, 1, 3, 3), stride=2, padding=1).shape
    assert data["output"] == list(expected[2:])
    assert data["pad_before"] == [1, 1] and data["pad_after"] == [1, 1]


def test_shape_human_has_formula(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["shape", "conv", "--input", "7", "--kernel", "3", "--stride", "2", "--padding", "1"]) == 0
    out = capsys.readouterr().out
    assert "floor((7 + 2*1 - 3) / 2) + 1 = floor(6 / 2) + 1 = 4" in out
    assert "pad before" in out


def test_tensorflow_same_pairs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["shape", "conv", "--input", "8", "--kernel", "3", "--stride", "2", "--padding", "same",
                 "--framework", "tensorflow", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["pad_before"], data["pad_after"], data["output"]) == ([0], [1], [4])


def test_explicit_pairs_and_transpose(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["shape", "conv", "--input", "8,8", "--kernel", "3", "--padding", "0:1,1:1", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    x = torch.nn.functional.pad(torch.zeros(1, 1, 8, 8), (1, 1, 0, 1))
    assert data["output"] == list(torch.nn.functional.conv2d(x, torch.zeros(1, 1, 3, 3)).shape[2:])
    assert main(["shape", "conv-transpose", "--input", "3", "--kernel", "3", "--stride", "2", "--padding", "1",
                 "--output-padding", "1", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    y = torch.nn.functional.conv_transpose1d(torch.zeros(1, 1, 3), torch.zeros(1, 1, 3), stride=2, padding=1,
                                             output_padding=1)
    assert data["output"] == [y.shape[-1]]


@pytest.mark.parametrize(
    "args",
    [
        ["shape", "conv", "--input", "-1", "--kernel", "3"],
        ["shape", "conv", "--input", "0", "--kernel", "3"],
        ["shape", "conv", "--input", "1", "--kernel", "3", "--stride", "2"],
        ["shape", "conv", "--input", "7", "--kernel", "3", "--framework", "caffe"],
        ["shape", "conv", "--input", "7", "--kernel", "3", "--padding", "half"],
        ["shape", "conv", "--input", "7,7", "--kernel", "3,3,3"],
        ["shape", "conv", "--input", "7,x", "--kernel", "3"],
        ["shape", "conv", "--input", "7"],
        ["shape", "bogus", "--input", "7"],
        ["shape"],
        ["explain", "conv", "--input", "7", "--kernel", "3", "--stride", "2", "--padding", "same"],
        ["shape", "max-pool", "--input", "7", "--kernel", "3", "--padding", "2"],
        ["shape", "conv-transpose", "--input", "3", "--kernel", "3", "--stride", "2", "--output-padding", "2"],
        ["solve", "search", "--input", "224", "--output", "112", "--kernels", "9-1"],
        ["solve", "padding", "--input", "7", "--output", "100", "--kernel", "3", "--stride", "2"],
        ["shape", "conv", "--input", "99999999999999999999", "--kernel", "3", "--padding", "x:y"],
    ],
)
def test_bad_input_one_line_exit_2(args: list[str]) -> None:
    proc = run(*args)
    assert proc.returncode == 2, proc
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert lines[0].startswith("convgeom: error:")


def test_explain_rejection_says_rule_and_fix() -> None:
    proc = run("explain", "conv", "--input", "7", "--kernel", "3", "--stride", "2", "--padding", "same")
    assert "not supported for strided convolutions" in proc.stdout
    assert "fix: use padding=1" in proc.stdout


def test_solve_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["solve", "search", "--input", "224", "--output", "112", "--kernels", "3", "--dilations", "1",
                 "--json"]) == 0
    sols = json.loads(capsys.readouterr().out)["solutions"]
    assert sols and all(
        torch.nn.functional.conv1d(torch.zeros(1, 1, 224), torch.zeros(1, 1, c["kernel"]), stride=c["stride"],
                                   padding=c["padding"]).shape[-1] == 112
        for c in sols
    )
    assert main(["solve", "transpose", "--input", "8", "--kernel", "3", "--stride", "2", "--padding", "1",
                 "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    t = data["conv_transpose"]
    y = torch.nn.functional.conv_transpose1d(torch.zeros(1, 1, 4), torch.zeros(1, 1, 3), stride=2, padding=1,
                                             output_padding=t["output_padding"][0])
    assert y.shape[-1] == 8 == t["output"][0]
    assert main(["solve", "profile", "--kernel", "3", "--stride", "2", "--sizes", "5-9", "--json"]) == 0
    prof = json.loads(capsys.readouterr().out)
    assert prof["static"] is False and prof["asymmetric_inputs"] == [6, 8]


def test_module_entry_point_runs() -> None:
    proc = run("shape", "conv", "--input", "7", "--kernel", "3", "--json")
    assert proc.returncode == 0 and json.loads(proc.stdout)["output"] == [5]


def test_import_is_light() -> None:
    code = "import sys, convgeom; convgeom.conv(7, 3); print(sorted(m for m in ('numpy', 'torch', 'onnx', 'keras') if m in sys.modules))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "[]"


def test_huge_adaptive_output_does_not_enumerate_windows() -> None:
    proc = run("shape", "adaptive-avg-pool", "--input", "5", "--output", str(10**12), "--json")
    assert proc.returncode == 0
    data = json.loads(proc.stdout)
    assert data["output"] == [10**12] and data["windows"] is None
    y = torch.nn.functional.adaptive_avg_pool1d(torch.arange(10.0).view(1, 1, 10), 3)
    proc = run("shape", "adaptive-avg-pool", "--input", "10", "--output", "3", "--json")
    windows = json.loads(proc.stdout)["windows"][0]
    assert [sum(range(a, b)) / (b - a) for a, b in windows] == pytest.approx(y.flatten().tolist())


def test_explain_truncating_pool_output() -> None:
    import convgeom as cg

    r = cg.max_pool(1, 2, 3, ((0, 0),), framework="onnx")  # ORT: a partial window, no error
    text = cg.explain(r)
    assert f"trunc(-1 / 3) + 1 = {r.output[0]}" in text
    assert r.output[0] == 1 + (-1 // 3) + 1  # truncation, not floor: one more window than floor
