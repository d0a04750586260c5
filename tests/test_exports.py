"""The lazily exported names (PEP 562 ``__getattr__``) stay the functions and classes they name.

Importing a submodule sets an attribute of that name on its package, so a submodule named like
one of the package's exports (``convgeom/ops/conv.py`` next to the function ``ops.conv``) turns
the export into the module as soon as anything imports it.
"""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
import types

import pytest

PACKAGES = ["convgeom", "convgeom.ops", "convgeom.tracing"]


def exported(package: types.ModuleType) -> list[str]:
    """The lazily exported names, or ``__all__`` for an eager package."""
    return list(getattr(package, "_EXPORTS", None) or package.__all__)


@pytest.mark.parametrize("package_name", PACKAGES)
def test_no_submodule_is_named_like_an_export(package_name: str) -> None:
    package = importlib.import_module(package_name)
    submodules = {info.name for info in pkgutil.iter_modules(package.__path__)}
    assert not submodules & set(exported(package))


@pytest.mark.parametrize("package_name", PACKAGES)
def test_exports_survive_importing_every_submodule(package_name: str) -> None:
    pytest.importorskip("numpy")
    package = importlib.import_module(package_name)
    for info in pkgutil.iter_modules(package.__path__):
        if info.name == "__main__":  # runs the command line
            continue
        try:
            importlib.import_module(f"{package_name}.{info.name}")
        except ImportError:  # a module that needs an optional framework that is not installed
            pass
    for name in exported(package):
        assert not isinstance(getattr(package, name), types.ModuleType), f"{package_name}.{name} is a module"


def test_ops_conv_is_the_function_after_conv_transpose() -> None:
    """The reported sequence, in a fresh interpreter: conv_transpose first, then conv."""
    pytest.importorskip("numpy")
    code = (
        "import numpy as np\n"
        "from convgeom import ops\n"
        "ops.conv_transpose(np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)))\n"
        "print(ops.conv(np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2))).shape)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(1, 1, 2, 2)"
