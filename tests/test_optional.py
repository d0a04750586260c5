"""convgeom.optional: the one place that imports optional dependencies. A missing one is one line
naming the extra that installs it (a GeometryError and a ModuleNotFoundError); a missing module
that is no optional dependency is a bug and stays a plain ModuleNotFoundError; no other module
of src/ writes the "pip install" line itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from convgeom import optional
from convgeom.errors import GeometryError, MissingExtraError

SRC = Path(__file__).resolve().parent.parent / "src" / "convgeom"
#: packages allowed to write their own install line (none: every package uses convgeom.optional)
NOT_YET: tuple[str, ...] = ()


@pytest.mark.parametrize("module, feature, extra, line", [
    ("numpy", "convgeom trace-op", None,
     "convgeom trace-op needs the numpy package, which is not installed; pip install 'convgeom[ops]'"),
    ("numpy", "convgeom experiment", "experiments",
     "convgeom experiment needs the numpy package, which is not installed; pip install 'convgeom[experiments]'"),
    ("yaml", "reading YAML", None,
     "reading YAML needs the PyYAML package, which is not installed; pip install 'convgeom[experiments]'"),
    ("jax.numpy", "running ported code", None,
     "running ported code needs the jax package, which is not installed; pip install 'convgeom[jax]'"),
])
def test_a_missing_module_is_one_line_naming_the_extra(monkeypatch: pytest.MonkeyPatch, module: str, feature: str,
                                                       extra: str | None, line: str) -> None:
    monkeypatch.delitem(sys.modules, module, raising=False)
    monkeypatch.setitem(sys.modules, module.partition(".")[0], None)  # importing it raises ModuleNotFoundError
    with pytest.raises(MissingExtraError) as info:
        optional.require(module, feature, extra)
    assert str(info.value) == line
    assert isinstance(info.value, GeometryError) and isinstance(info.value, ModuleNotFoundError)
    assert (info.value.name or "").partition(".")[0] == module.partition(".")[0]  # the module that failed
    assert isinstance(info.value.__cause__, ModuleNotFoundError)


@pytest.mark.parametrize("hidden, call, line", [
    ("PIL", lambda cg: cg.draw.api.render(cg.draw.make_scene(cg.conv(5, 3)), "png"),
     "drawing PNG and GIF pictures needs the Pillow package, which is not installed; pip install 'convgeom[draw]'"),
    ("matplotlib", lambda cg: cg.draw.plots.staircase("conv", range(1, 9), ("torch",), kernel=3),
     "plotting needs the matplotlib package, which is not installed; pip install 'convgeom[draw]'"),
    ("uvicorn", lambda cg: __import__("convgeom.cli", fromlist=["main"]).main(["serve", "--port", "0"]), None),
])
def test_features_name_their_extra(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                   hidden: str, call: Any, line: str | None) -> None:
    """Pictures, plots and the web server go through convgeom.optional like every other feature."""
    import convgeom as cg
    import convgeom.draw.api
    import convgeom.draw.plots  # noqa: F401

    for name in [m for m in sys.modules if m == hidden or m.startswith(hidden + ".")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, hidden, None)
    if line is None:  # the command line: exit 2, one line
        assert call(cg) == 2
        assert capsys.readouterr().err == ("convgeom: error: convgeom serve needs the uvicorn package, which is not "
                                           "installed; pip install 'convgeom[web]'\n")
        return
    with pytest.raises(MissingExtraError) as info:
        call(cg)
    assert str(info.value) == line


def test_an_installed_module_is_returned() -> None:
    assert optional.require("json", "a test") is json


def test_needed_keeps_the_types_of_import_statements(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(MissingExtraError, match=r"^tracing ONNX models needs the onnxruntime package.*convgeom\[onnx\]'$"):
        with optional.needed("tracing ONNX models"):
            import onnxruntime  # noqa: F401


def test_a_module_that_is_no_optional_dependency_is_a_bug(monkeypatch: pytest.MonkeyPatch) -> None:
    """A typo in convgeom's own imports must not be reported as a missing extra."""
    monkeypatch.setitem(sys.modules, "convgeom_no_such_module", None)
    with pytest.raises(ModuleNotFoundError) as info:
        with optional.needed("a feature", "ops"):
            import convgeom_no_such_module  # noqa: F401
    assert not isinstance(info.value, MissingExtraError)


def test_every_extra_named_is_one_that_pyproject_defines() -> None:
    text = (SRC.parent.parent / "pyproject.toml").read_text()
    extras = text.split("[project.optional-dependencies]")[1].split("\n[")[0]
    defined = {line.split("=")[0].strip() for line in extras.splitlines() if "= [" in line}
    assert set(optional.EXTRAS.values()) <= defined, set(optional.EXTRAS.values()) - defined


def test_only_convgeom_optional_writes_the_install_line() -> None:
    """One module for optional dependencies: no other module builds the 'pip install' fix."""
    writers = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        if rel.parts[0] in NOT_YET or rel.as_posix() in ("errors.py", "optional.py"):
            continue
        for number, text in enumerate(path.read_text().splitlines(), 1):
            if "fix=" in text and "pip install 'convgeom[" in text:
                writers.append(f"{rel}:{number}")
    assert writers == []


def test_import_keras_picks_an_installed_backend(tmp_path: Path) -> None:
    """No KERAS_BACKEND and a keras.json naming TensorFlow, which is not installed: PyTorch's
    backend is chosen before Keras is imported (Keras would fail on import otherwise)."""
    pytest.importorskip("keras")
    pytest.importorskip("torch")
    import importlib.util

    if importlib.util.find_spec("tensorflow") is not None:
        pytest.skip("TensorFlow is installed: Keras' default backend works")
    (tmp_path / "keras.json").write_text(json.dumps({"backend": "tensorflow"}))
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env["KERAS_HOME"] = str(tmp_path)
    code = textwrap.dedent("""
        from convgeom.optional import import_keras
        keras = import_keras()
        print(keras.backend.backend())
    """)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines()[-1] == "torch"
