"""The README's API examples, checked against live PyTorch where it can produce the value."""

from __future__ import annotations

import pytest

import convgeom as cg

torch = pytest.importorskip("torch")
F = torch.nn.functional


def test_front_page_examples() -> None:
    r = cg.conv(input=(7, 7), kernel=3, stride=2, padding=1)
    assert r.output == tuple(F.conv2d(torch.zeros(1, 1, 7, 7), torch.zeros(1, 1, 3, 3), stride=2, padding=1).shape[2:])
    assert r.pad == ((1, 1), (1, 1))
    assert cg.conv(input=8, kernel=3, stride=2, padding="same", framework="tensorflow").pad == ((0, 1),)
    y = F.conv_transpose1d(torch.zeros(1, 1, 3), torch.zeros(1, 1, 3), stride=2, padding=1, output_padding=1)
    assert cg.conv_transpose(input=3, kernel=3, stride=2, padding=1, output_padding=1).output == (y.shape[-1],)
    m = F.max_pool1d(torch.zeros(1, 1, 5), 2, 2, 1, ceil_mode=True)
    assert cg.max_pool(input=5, kernel=2, stride=2, padding=1, ceil_mode=True).output == (m.shape[-1],)
    assert cg.avg_pool(input=5, kernel=3, stride=2, padding="same", framework="onnx").pad == ((1, 1),)
    assert cg.conv(input=2, kernel=3, framework="jax").output == (0,)
    with pytest.raises(RuntimeError):
        F.conv1d(torch.zeros(1, 1, 2), torch.zeros(1, 1, 3))
    with pytest.raises(cg.GeometryError, match="output would be 0"):
        cg.conv(input=2, kernel=3)


def test_solving_examples() -> None:
    sp = cg.same_padding(224, 3, 2, framework="tensorflow")
    assert sp.pad == ((0, 1),) and sp.static is False and sp.torch_pad == (0, 1)
    x = F.pad(torch.zeros(1, 1, 224), sp.torch_pad)
    assert F.conv1d(x, torch.zeros(1, 1, 3), stride=2).shape[-1] == sp.output[0]
    assert cg.padding_for_output(28, 28, kernel=5).pad == ((2, 2),)
    for c in cg.search(224, 112, kernels=range(1, 8)):
        out = F.conv1d(torch.zeros(1, 1, 224), torch.zeros(1, 1, c.kernel), stride=c.stride, padding=c.padding,
                       dilation=c.dilation)
        assert out.shape[-1] == 112
    inv = cg.inverse_transpose(cg.conv(8, 3, 2, 1))
    assert inv.output_padding == (1,) and inv.output == (8,)
    assert cg.same_profile(3, 2, sizes=range(1, 33)).asymmetric_inputs == tuple(range(2, 33, 2))


def _section(title: str) -> str:
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    start = text.index(f"\n## {title}")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else None]


def _bash_lines(section: str) -> list[str]:
    blocks = section.split("```bash\n")[1:]
    return [line for block in blocks for line in block.split("```")[0].splitlines() if line.strip()]


def test_command_line_examples_run(capsys: pytest.CaptureFixture[str]) -> None:
    """Every command of the README's command-line section runs, with the exit code it says."""
    import shlex

    from convgeom.cli import main

    lines = [line for line in _bash_lines(_section("Command line")) if line.startswith("convgeom ")]
    assert len(lines) >= 10
    for line in lines:
        command, _, comment = line.partition("#")
        code = main(shlex.split(command)[1:])
        captured = capsys.readouterr()
        assert code == (2 if "exit 2" in comment else 0), (line, captured.err)
        assert captured.out


def test_readme_same_example_matches_torch(capsys: pytest.CaptureFixture[str]) -> None:
    """`solve same --input 224 --kernel 3 --stride 2` (TensorFlow by default): its F.pad gives
    ceil(224 / 2) outputs in PyTorch, as TensorFlow's 'same' does."""
    import json

    from convgeom.cli import main

    assert main(["solve", "same", "--input", "224", "--kernel", "3", "--stride", "2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    x = F.pad(torch.zeros(1, 1, 224), tuple(data["torch_pad"]))
    assert data["framework"] == "tensorflow"
    assert F.conv1d(x, torch.zeros(1, 1, 3), stride=2).shape[-1] == data["output"][0] == 112


def test_ci_runs_the_readme_test_command() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    setup = _bash_lines(_section("Set-up: two commands"))
    assert "bash scripts/test.sh" in setup
    ci = [line for line in (root / ".ci" / "run").read_text().splitlines() if line and not line.startswith("#")]
    assert ci[-1] == "bash scripts/test.sh"
