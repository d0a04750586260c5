"""``convgeom trace`` through the real entry point."""

from __future__ import annotations

import json
import textwrap

import pytest

pytest.importorskip("torch")

from convgeom.cli import main as convgeom_main  # noqa: E402


def run(argv, capsys):
    code = convgeom_main(argv)
    return code, capsys.readouterr().out


def fails(argv, capsys) -> str:
    """The one stderr line of a command that must fail with exit code 2."""
    code = convgeom_main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("convgeom: error: "), err
    return lines[0]


@pytest.fixture()
def factory(tmp_path):
    path = tmp_path / "netdef.py"
    path.write_text(textwrap.dedent("""
        import torch.nn as nn
        def build(width=4):
            return nn.Sequential(nn.Conv2d(3, width, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(width, 2, 1))
        not_a_factory = 3
    """))
    return str(path)


def test_table_json_csv(factory, capsys):
    code, out = run(["trace", f"{factory}:build", "--input", "1,3,32,32", "--plain"], capsys)
    assert code == 0 and "0 (Conv2d)" in out and "Total params: 122" in out
    code, out = run(["trace", f"{factory}:build(width=8)", "--input", "1x3x32x32", "--json"], capsys)
    data = json.loads(out)
    assert data["output_shapes"] == [[1, 2, 16, 16]] and data["params"] == 3 * 8 * 9 + 8 + 8 * 2 + 2
    code, out = run(["trace", f"{factory}:build", "--input", "1,3,32,32", "--csv"], capsys)
    assert out.splitlines()[0].startswith("index,name,op") and len(out.splitlines()) == 4
    code, out = run(["trace", f"{factory}:build", "--input", "1,3,32,32", "--depth", "1", "--plain"], capsys)
    assert code == 0


def test_rich_table(factory, capsys):
    pytest.importorskip("rich")
    code, out = run(["trace", f"{factory}:build", "--input", "1,3,32,32"], capsys)
    assert code == 0 and "Conv2d" in out and "Receptive field" in out


def test_module_factory_spec(capsys):
    pytest.importorskip("efficientnet_pytorch")
    code, out = run(["trace", "efficientnet_pytorch:EfficientNet.from_name('efficientnet-b0')", "--input",
                     "1,3,64,64", "--depth", "1", "--plain", "--no-findings"], capsys)
    assert code == 0 and "_blocks" in out and "5,288,548" in out


def test_valid_sizes(factory, capsys):
    code, out = run(["trace", f"{factory}:build", "--input", "1,3,8,8", "--valid-sizes", "1:9"], capsys)
    assert "valid sizes (8 of 8): 1-8" in out


@pytest.mark.parametrize("argv, needle", [
    (["trace", "nope_pkg_xyz:build", "--input", "1,3,8,8"], "cannot import module"),
    (["trace", "{f}:missing", "--input", "1,3,8,8"], "has no attribute"),
    (["trace", "{f}:not_a_factory", "--input", "1,3,8,8"], "neither a model nor a callable"),
    (["trace", "{f}:build", "--input", "1,3,a,8"], "not a shape"),
    (["trace", "{f}:build", "--input", "1,3,0,8"], "positive"),
    (["trace", "{f}:build(size=x)", "--input", "1,3,8,8"], "literals"),
    (["trace", "{f}:build(oops=1)", "--input", "1,3,8,8"], "raised TypeError"),
    (["trace", "missing.onnx", "--input", "1,3,8,8"], "no such file"),
    (["trace", "just_a_name", "--input", "1,3,8,8"], "module:factory"),
    (["trace", "{f}:build", "--input", "1,4,8,8"], "fails at layer '0'"),
])
def test_errors_are_one_line_geometry_errors(factory, capsys, argv, needle):
    argv = [a.replace("{f}", factory) for a in argv]
    assert needle in fails(argv, capsys)


def test_malformed_onnx_file(tmp_path, capsys):
    pytest.importorskip("onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"this is not a protobuf")
    assert "ONNX" in fails(["trace", str(bad), "--input", "1,3,8,8"], capsys)


def test_main_cli_runs_trace(factory, capsys):
    assert convgeom_main(["trace", f"{factory}:build", "--input", "1,3,8,8", "--json"]) == 0
    assert convgeom_main(["trace", f"{factory}:build", "--input", "1,4,8,8"]) == 2
    assert "fails at layer" in capsys.readouterr().err
