"""The step-by-step trace and ``convgeom trace-op``: seed 001's pipeline exactly.

Seed 001 (a PyTorch tutorial, "Kernel size, stride, padding in PyTorch - Model Pipeline
Trace") shows a 1x1x5x5 image, the 7x7 array after zero padding of 1, and a 3x3 kernel with
stride 2 giving 1x1x3x3. The image and the padded array below are transcribed from the seed
text; the tutorial prints no kernel (convgeom uses all ones) and no output values, so the
output is compared with PyTorch here, never hand-written.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from convgeom import GeometryError
from convgeom.cli import main as cli_main
from convgeom.ops import OpTrace, conv, seed_001, trace_avg_pool, trace_conv, trace_max_pool

# transcribed from /work/shared/seeds/001_21e38fe783caa2f1.txt, stage 1 and stage 2
SEED_IMAGE = [[1, 2, 3, 0, 1], [0, 1, 2, 3, 1], [1, 0, 1, 2, 2], [2, 1, 0, 1, 0], [1, 2, 1, 0, 1]]
SEED_PADDED = [
    [0, 0, 0, 0, 0, 0, 0],
    [0, 1, 2, 3, 0, 1, 0],
    [0, 0, 1, 2, 3, 1, 0],
    [0, 1, 0, 1, 2, 2, 0],
    [0, 2, 1, 0, 1, 0, 0],
    [0, 1, 2, 1, 0, 1, 0],
    [0, 0, 0, 0, 0, 0, 0],
]


def torch_seed_output() -> np.ndarray:
    torch = pytest.importorskip("torch")
    x = torch.tensor(SEED_IMAGE, dtype=torch.float64)[None, None]
    return torch.nn.functional.conv2d(x, torch.ones(1, 1, 3, 3, dtype=torch.float64), stride=2, padding=1).numpy()


def test_seed_001_stages() -> None:
    trace = seed_001()
    assert isinstance(trace, OpTrace)
    assert trace.input.shape == (1, 1, 5, 5)
    np.testing.assert_array_equal(trace.input[0, 0], SEED_IMAGE)
    assert trace.padded.shape == (1, 1, 7, 7)
    np.testing.assert_array_equal(trace.padded[0, 0], SEED_PADDED)
    assert trace.geometry.kernel == (3, 3) and trace.geometry.stride == (2, 2)
    assert trace.output.shape == (1, 1, 3, 3)
    np.testing.assert_array_equal(trace.output, torch_seed_output())
    titles = [s.title for s in trace.stages()]
    assert titles == ["Input image", "Apply padding", "Convolution with kernel", "Output"]


def test_seed_001_windows() -> None:
    trace = seed_001()
    assert len(trace.windows) == 9
    padded = np.array(SEED_PADDED, dtype=float)
    for step in trace.windows:
        i, j = step.position
        assert step.origin == (2 * i, 2 * j)
        window = padded[2 * i:2 * i + 3, 2 * j:2 * j + 3]
        np.testing.assert_array_equal(step.values[0], window)
        np.testing.assert_array_equal(step.products[0], window * 1.0)
        assert step.total == window.sum() == step.result
        assert trace.output[0, 0, i, j] == step.result


def test_trace_records_are_frozen() -> None:
    trace = seed_001()
    with pytest.raises(AttributeError):
        trace.op = "x"  # type: ignore[misc]
    with pytest.raises(ValueError):
        trace.output[0, 0, 0, 0] = 1.0


def test_cli_default_reproduces_the_tutorial(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["trace-op"]) == 0
    text = capsys.readouterr().out
    assert "1 Input image" in text and "2 Apply padding" in text and "4 Output" in text
    assert "1 x 1 x 5 x 5 -> 1 x 1 x 7 x 7: Add zero padding of 1 pixel around the image" in text
    assert "Apply 3x3 kernel with stride 2" in text
    assert "Sliding 3x3 kernel over padded image with steps of 2 pixels" in text
    lines = text.splitlines()
    # every array is an aligned grid (issue 10: grids, not nested lists), rows in order
    def grid_rows(rows: list[list[int]]) -> list[str]:
        width = max(len(str(v)) for row in rows for v in row)
        return ["  " + " ".join(str(v).rjust(width) for v in row) for row in rows]

    def contains_block(block: list[str]) -> bool:
        return any(lines[i:i + len(block)] == block for i in range(len(lines)))

    assert contains_block(grid_rows(SEED_IMAGE)), text
    assert contains_block(grid_rows(SEED_PADDED)), text
    expected = torch_seed_output()[0, 0].astype(int).tolist()
    assert lines[-len(expected):] == grid_rows(expected), text
    assert "[[" not in text
    assert text.count("  window (") == 9


def test_cli_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["trace-op", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["op"] == "conv"
    assert data["stages"][1]["array"][0][0] == SEED_PADDED
    assert data["output"] == torch_seed_output().astype(int).tolist()
    assert len(data["windows"]) == 9 and data["windows"][0]["total"] == 4


def test_cli_options_and_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["trace-op", "--op", "max_pool", "--input", "[[1,2,3],[4,5,6]]", "--kernel-size", "2",
                     "--stride", "1"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("4 Output\n1 x 1 x 1 x 2 -> 1 x 1 x 1 x 2: 1 image x 1 channel x 1 height x 2 width\n  5 6")
    assert cli_main(["trace-op", "--stride", "0"]) == 2
    assert "stride" in capsys.readouterr().err
    assert cli_main(["trace-op", "--input", "[[1,2"]) == 2
    assert cli_main(["trace-op", "--padding", "same", "--stride", "1", "--weight", "[[1,0],[0,1]]",
                     "--max-windows", "1"]) == 0
    assert "more windows" in capsys.readouterr().out


@pytest.mark.parametrize("args, expected", [
    (["--input", "[[1,2],[3,4,5]]"], "rectangular nested list of numbers"),
    (["--input", '[["a"]]'], "rectangular nested list of numbers"),
    (["--weight", "[[1,2],[3]]"], "--weight must be"),
    (["--bias", '"x"'], "--bias must be"),
    (["--max-windows", "-3"], "--max-windows must be >= 0"),
])
def test_cli_bad_arrays_give_one_line(capsys: pytest.CaptureFixture[str], args: list[str], expected: str) -> None:
    assert cli_main(["trace-op", *args]) == 2
    captured = capsys.readouterr()
    assert expected in captured.err
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err and captured.out == ""


def test_cli_scalar_bias_repeats_per_channel(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["trace-op", "--bias", "0.5", "--json"]) == 0
    scalar = capsys.readouterr().out
    assert cli_main(["trace-op", "--bias", "[0.5]", "--json"]) == 0
    assert capsys.readouterr().out == scalar
    assert cli_main(["trace-op", "--json"]) == 0
    assert capsys.readouterr().out != scalar  # the bias is applied


@pytest.mark.parametrize("seed", range(10))
def test_trace_conv_matches_ops(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 4, 5, 6))
    w = rng.standard_normal((4, 2, 2, 3))
    b = rng.standard_normal(4)
    trace = trace_conv(x, w, b, (2, 1), ((1, 0), (2, 1)), (1, 2), groups=2)
    np.testing.assert_allclose(trace.output, conv(x, w, b, (2, 1), ((1, 0), (2, 1)), (1, 2), groups=2), rtol=1e-12)


def test_trace_pools_match_torch() -> None:
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal((1, 2, 4))
    t = trace_max_pool(x, 3, 2, 1, ceil_mode=True)
    np.testing.assert_array_equal(
        t.output, torch.nn.functional.max_pool1d(torch.from_numpy(x), 3, 2, 1, ceil_mode=True).numpy())
    t = trace_avg_pool(x, 3, 2, 1, ceil_mode=True)
    np.testing.assert_allclose(
        t.output, torch.nn.functional.avg_pool1d(torch.from_numpy(x), 3, 2, 1, ceil_mode=True).numpy(), rtol=1e-12)
    assert t.windows[-1].divisor == 2.0  # the ceil-mode overhang past n + p is not counted


def test_trace_size_limit() -> None:
    with pytest.raises(GeometryError, match="max_cells"):
        trace_conv(np.zeros((1, 8, 64, 64)), np.zeros((8, 8, 3, 3)), padding=1)


def test_cli_dilated_avg_pool_is_the_ops_result(capsys: pytest.CaptureFixture[str]) -> None:
    """ONNX AveragePool-19 dilation reaches the trace through the CLI (ops.avg_pool is checked
    against ONNX Runtime in test_ops_pool_onnx.py)."""
    from convgeom.ops import avg_pool

    image = np.arange(1, 50, dtype=np.float64).reshape(7, 7) % 5
    assert cli_main(["trace-op", "--op", "avg_pool", "--input", json.dumps(image.tolist()), "--kernel-size", "2",
                     "--stride", "2", "--dilation", "2", "--padding", "1", "--ceil-mode", "--framework", "onnx",
                     "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    expected = avg_pool(image[None, None], 2, 2, 1, ceil_mode=True, dilation=2, framework="onnx")
    np.testing.assert_allclose(np.array(data["output"]), expected, rtol=0, atol=1e-12)
