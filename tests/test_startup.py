"""Cold start stays cheap, checked by what a fresh interpreter imports (never by timing):
``import convgeom`` adds nothing but itself to a bare interpreter, and ``convgeom shape`` loads
no module whose import costs more than the command (``typing``, ``dataclasses`` with ``inspect``,
``fractions`` with ``decimal``, ``json``, ``shutil``, the tracing frontends, NumPy). The timings
these guard are in the "CLI start-up" section of BENCHMARKS.md."""

from __future__ import annotations

import subprocess
import sys

import pytest

#: never imported by ``convgeom shape conv ...`` (each is a few ms to tens of ms of a ~50 ms start)
NOT_FOR_SHAPE = ("typing", "dataclasses", "inspect", "ast", "dis", "tokenize", "fractions", "decimal", "json",
                 "shutil", "numpy", "torch", "onnx", "keras", "convgeom.tracing", "convgeom.ops",
                 "convgeom.receptive_field", "convgeom.formatting", "convgeom.solve", "convgeom.optional")
SHAPE = ["shape", "conv", "--input", "7", "--kernel", "3"]


def imported(*args: str) -> tuple[list[str], str]:
    """The modules a fresh ``python -X importtime ARGS`` imports, in order, and its stdout."""
    proc = subprocess.run([sys.executable, "-X", "importtime", *args], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    names = [line.rpartition("|")[2].strip() for line in proc.stderr.splitlines()
             if line.startswith("import time:") and "[us]" not in line]
    return names, proc.stdout


def test_import_convgeom_imports_nothing_but_itself() -> None:
    bare, _ = imported("-c", "pass")
    names, _ = imported("-c", "import convgeom")
    assert set(names) - set(bare) == {"convgeom"}


@pytest.mark.parametrize("how", ["-m", "console script"])
def test_shape_imports_none_of_the_heavy_modules(how: str) -> None:
    if how == "-m":
        names, out = imported("-m", "convgeom", *SHAPE)
    else:  # what the installed `convgeom` script runs
        names, out = imported("-c", f"import sys; from convgeom.cli import main; sys.exit(main({SHAPE!r}))")
    assert "floor((7 + 2*0 - 3) / 1) + 1 = floor(4 / 1) + 1 = 5" in out
    assert "convgeom.geometry" in names and "argparse" in names  # the check sees the imports
    heavy = [n for n in names if n in NOT_FOR_SHAPE or n.startswith(tuple(f"{m}." for m in NOT_FOR_SHAPE))]
    assert heavy == [], heavy


def test_the_lazy_parts_still_load_when_used() -> None:
    """Receptive fields, dataclasses' own view and the type aliases work after a cold import."""
    code = ("import dataclasses, convgeom\n"
            "g = convgeom.conv(7, 3, stride=2)\n"
            "print(g.rf_steps[0].stride, [f.name for f in dataclasses.fields(g)][:2], "
            "convgeom.adaptive_avg_pool(7, 3).rf_steps[0].stride, convgeom.interpolate(4, size=6).rf_steps[0].stride)\n"
            "from convgeom.params import IntOrTuple, PaddingArg\n"
            "print(isinstance(3, IntOrTuple), isinstance('same', PaddingArg))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["2 ['op', 'framework'] 7/3 2/3", "True True"]
