"""The README's pictures are committed, current, and its `convgeom draw` lines run."""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

import pytest

from convgeom.cli import main

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text()


def _make_pictures():  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(ROOT / "docs"))
    try:
        import make_pictures
    finally:
        sys.path.pop(0)
    return make_pictures


def test_readme_pictures_exist() -> None:
    linked = re.findall(r"\]\((docs/pictures/[^)]+)\)", README)
    assert {"docs/pictures/seed001_pipeline.svg", "docs/pictures/same_tensorflow.svg",
            "docs/pictures/same_pytorch.svg"} <= set(linked)
    for path in linked:
        assert (ROOT / path).is_file(), path


def test_committed_svgs_are_what_the_engine_draws_today(tmp_path: Path) -> None:
    """SVGs need only the standard library, so they are byte-identical everywhere."""
    pictures = _make_pictures().pictures()
    svgs = [name for name in pictures if name.endswith(".svg")]
    assert len(svgs) >= 8
    for name in svgs:
        pictures[name](tmp_path / name)
        assert (tmp_path / name).read_bytes() == (ROOT / "docs" / "pictures" / name).read_bytes(), (
            f"docs/pictures/{name} is stale: run python docs/make_pictures.py")


def test_readme_draw_commands_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("PIL")
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    lines = [line.split("#")[0].strip() for line in README.splitlines() if line.startswith("convgeom draw ")]
    ran = 0
    for line in lines:
        args = shlex.split(line)[1:]
        if args[1] in ("rf", "rf-growth"):  # need a model file (tests/test_draw_cli.py draws one)
            continue
        assert main(args) == 0, line
        ran += 1
    capsys.readouterr()
    assert ran >= 9
