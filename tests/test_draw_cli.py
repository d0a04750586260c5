"""``convgeom draw`` on the command line: every kind of picture, formats from the suffix, and one
stderr line with exit status 2 for every bad input."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

import convgeom as cg
from convgeom.cli import main

pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

from test_draw_svg import parse, with_class, with_role  # noqa: E402


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["draw", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_terminal_picture_marks_the_step(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["conv", "--input", "5,5", "--kernel", "3", "--stride", "2", "--padding", "1",
                          "--values", "--step", "1,2", "--plain"], capsys)
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[1] == "out(1,2) = 9·1 + 1·1 + 0·1 + 5·1 + 6·1 + 0·1 + 1·1 + 2·1 + 0·1 = 24"
    grid_rows = lines[3:10]
    # padded rows 2..4, cols 4..6 are bracketed (the window of output (1, 2))
    for r, row in enumerate(grid_rows):
        bracketed = row[: 3 * 7].count("[")
        assert bracketed == (3 if 2 <= r <= 4 else 0), row
    assert "(24)" in lines[4]


@pytest.mark.parametrize("ext", ["svg", "png", "gif", "txt", "json"])
def test_every_format_from_the_suffix(ext: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_file = tmp_path / f"same.{ext}"
    code, out, err = run(["conv", "--input", "8,6", "--kernel", "3", "--stride", "2", "--padding", "same",
                          "--framework", "tensorflow", "-o", str(out_file)], capsys)
    assert code == 0 and err == "" and out.strip() == f"wrote {out_file}"
    data = out_file.read_bytes()
    assert data == cg.draw.api.render(cg.draw.make_scene(cg.conv((8, 6), 3, 2, "same", framework="tensorflow")), ext)
    if ext == "gif":
        assert Image.open(io.BytesIO(data)).n_frames == 4 * 3


def test_tensorflow_same_puts_the_extra_cell_after(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """8 cells, kernel 3, stride 2: TF's SAME pads (0, 1), PyTorch's padding=1 pads (1, 1)."""
    for fw, padding, want in (("tensorflow", "same", {8}), ("torch", "1", {0, 9})):
        out_file = tmp_path / f"{fw}.svg"
        run(["conv", "--input", "8", "--kernel", "3", "--stride", "2", "--padding", padding, "--framework", fw,
             "-o", str(out_file)], capsys)
        pads = with_role(parse(out_file.read_text())["input"], "pad")
        assert {p[0] for p in pads} == want


def test_pipeline_is_seed_001(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["pipeline", "-o", str(tmp_path / "p.svg")], capsys)
    assert code == 0
    grids = parse((tmp_path / "p.svg").read_text())
    seed = [[1, 2, 3, 0, 1], [0, 1, 2, 3, 1], [1, 0, 1, 2, 2], [2, 1, 0, 1, 0], [1, 2, 1, 0, 1]]
    padded = [[0] * 7] + [[0] + row + [0] for row in seed] + [[0] * 7]  # the tutorial's 7x7 array
    for (r, c), (_, _, texts, _) in grids["image"]["cells"].items():
        assert texts == [str(seed[r][c])]
    for (r, c), (_, _, texts, _) in grids["input"]["cells"].items():
        assert texts == [str(padded[r][c])]
    assert sorted(grids["output"]["cells"]) == [(r, c) for r in range(3) for c in range(3)]
    code, _, _ = run(["pipeline", "-o", str(tmp_path / "p.gif")], capsys)
    assert Image.open(tmp_path / "p.gif").n_frames == 9


def test_coverage_scatter_pad_and_step(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["conv", "--input", "9,9", "--kernel", "2", "--stride", "3", "--coverage", "--plain"], capsys)
    assert code == 0 and "rows never read (3): 2, 5, 8" in out
    code, out, _ = run(["conv-transpose", "--input", "3", "--kernel", "3", "--stride", "2", "--mode", "scatter",
                        "--step", "1", "-o", str(tmp_path / "s.svg")], capsys)
    grids = parse((tmp_path / "s.svg").read_text())
    assert with_class(grids["output"], "window") == {(2,), (3,), (4,)}
    code, out, _ = run(["pad", "--input", "4", "--padding", "2:1", "--padding-mode", "circular", "--plain"], capsys)
    assert code == 0 and "\n 3  4  1  2  3  4  1\n" in out


def test_json_scene(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["max-pool", "--input", "6", "--kernel", "3", "--stride", "2", "--ceil-mode", "--json"], capsys)
    data = json.loads(out)
    roles = [c["role"] for c in data["grids"][0]["cells"]]
    assert code == 0 and roles == ["input"] * 6 + ["overhang"]


def test_staircase_and_rf_growth_plots(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["staircase", "conv", "--kernel", "3", "--stride", "2", "--padding", "same", "--sizes", "1-4"],
                       capsys)
    assert code == 0 and out.splitlines()[0].split() == ["input", "torch", "tensorflow", "=", "jax", "=", "onnx"]
    assert out.splitlines()[1].split() == ["1", "refused", "1"]
    code, out, _ = run(["staircase", "max-pool", "--kernel", "2", "--sizes", "2-9", "-o", str(tmp_path / "s.png")],
                       capsys)
    assert code == 0 and Image.open(tmp_path / "s.png").size[0] > 400


def test_rf_and_rf_growth_from_a_model_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch")
    model = tmp_path / "net.py"
    model.write_text("import torch.nn as nn\n"
                     "def build():\n"
                     "    return nn.Sequential(nn.Conv2d(1, 2, 3, 2, 1), nn.ReLU(), nn.Conv2d(2, 2, 3, 2, 1))\n")
    code, out, err = run(["rf", f"{model}:build", "--input", "1,1,16,16", "--layer", "2", "--unit", "1,2",
                          "-o", str(tmp_path / "rf.svg")], capsys)
    assert code == 0, err
    grids = parse((tmp_path / "rf.svg").read_text())
    # layer 2: r = 7, S = 4, P = 3 -> unit (1, 2) sees rows 1..7, cols 5..11 (the grid starts at -3)
    window = with_class(grids["input"], "window")
    assert {p[0] - 3 for p in window} == set(range(1, 8)) and {p[1] - 3 for p in window} == set(range(5, 12))
    code, out, err = run(["rf-growth", f"{model}:build", "--input", "1,1,16,16"], capsys)
    assert code == 0 and out.splitlines()[-1].split() == ["2", "7", "7", "4", "4"]


BAD = [
    (["conv", "--kernel", "3"], "needs --input"),
    (["conv", "--input", "5", "--kernel", "3", "--layer", "x"], "--layer does not apply"),
    (["conv", "--input", "5", "--kernel", "3", "--mode", "scatter"], "--mode does not apply"),
    (["conv", "--input", "500,500", "--kernel", "3", "-o", "x.svg"], "cap of 65,536"),
    (["conv", "--input", "70,70", "--kernel", "3"], "terminal picture"),
    (["conv", "--input", "40,40", "--kernel", "3", "-o", "x.gif"], "cap of 1,024"),
    (["conv", "--input", "4", "--kernel", "3", "-o", "x.bmp"], "cannot write a picture as 'bmp'"),
    (["conv", "--input", "5,5", "--kernel", "3", "--step", "9,9"], "outside the 3 x 3"),
    (["conv", "--input", "5,5", "--kernel", "3", "--step", "a"], "--step 'a' is not an integer"),
    (["conv", "--input", "3,3", "--kernel", "2", "--data", "[[1,2],[3,4]]"], "the data has shape 2 x 2"),
    (["conv", "--input", "3,3", "--kernel", "2", "--data", "[[1,2"], "--data is not valid JSON"),
    (["conv", "--input", "3", "--kernel", "2", "--coverage", "--values"], "--coverage draws counts"),
    (["conv-transpose", "--input", "3", "--kernel", "3", "--values"], "values are drawn"),
    (["pad", "--input", "3", "--padding", "3", "--padding-mode", "reflect"], "reflect padding 3"),
    (["pad", "--input", "3", "--padding", "same"], "pad takes amounts"),
    (["pad", "--input", "3"], "needs --padding"),
    (["rf", "--input", "1,1,8,8", "--layer", "0"], "needs a MODEL"),
    (["rf", "nosuchfile.onnx", "--input", "1,1,8,8", "--layer", "0"], "no such file"),
    (["staircase", "--kernel", "3"], "staircase needs the layer op"),
    (["staircase", "conv", "--kernel", "3", "--sizes", "9-1"], "is empty"),
    (["pipeline", "--coverage"], "--coverage does not apply"),
    (["conv", "--input", "5", "--kernel", "3", "--size", "9"], "--size does not apply"),
    (["sideways"], "invalid choice"),
]


@pytest.mark.parametrize(("args", "message"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_is_one_line_exit_2(args: list[str], message: str, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run(args, capsys)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("convgeom: error: ") and message in err, err


def test_entry_point_in_a_subprocess(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "convgeom", "draw", "conv", "--input", "4", "--kernel", "9"],
                          capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(Path(cg.__file__).parents[1])})
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_explain_ends_with_the_grids_of_the_layer(capsys: pytest.CaptureFixture[str]) -> None:
    """convgeom explain prints the derivation, then the padded input with the first window, the
    kernel and the output as grids (issue 10); the output grid has the engine's output size."""
    assert main(["explain", "conv", "--input", "6,5", "--kernel", "3", "--stride", "2", "--padding", "same",
                 "--framework", "tensorflow"]) == 0
    out = capsys.readouterr().out
    result = cg.conv((6, 5), 3, 2, "same", framework="tensorflow")
    assert out.startswith(cg.explain(result))
    grid = out[len(cg.explain(result)):]
    assert grid.count("#") == result.output[0] * result.output[1] + grid.count("# output")
    assert grid.count("[") == 9 + grid.count("[ ]")  # the 3x3 taps of the first window, and the legend
    # TF SAME pads (0 before, 1 after) on the rows of 6: the padded input has 7 rows
    padded = [line for line in grid.splitlines() if line[:3] in ("[0]", "[o]", " 0 ", " o ")]
    assert len(padded) == result.input[0] + result.axes[0].pad_before + result.axes[0].pad_after


def test_explain_of_a_huge_layer_names_why_no_grids(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "conv", "--input", "5000,5000", "--kernel", "3"]) == 0
    out = capsys.readouterr().out
    assert "grids not drawn" in out and "#" not in out


def test_trace_op_prints_grids_not_nested_lists(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace-op", "--op", "max_pool", "--input", "[[1,2,3],[4,5,6]]", "--kernel-size", "2",
                 "--stride", "1"]) == 0
    out = capsys.readouterr().out
    assert "[[" not in out and "  1 2 3\n  4 5 6\n" in out
