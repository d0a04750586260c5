"""Without NumPy, ``convgeom.ops`` says in one line which extra installs it.

A child process hides NumPy (``sys.modules['numpy'] = None``, or a ``sys.meta_path`` finder that
refuses it, as when it is not installed); ``import convgeom`` and ``import convgeom.ops`` still
work, and the first op (however it is reached) raises ``MissingExtraError``: a GeometryError
whose message is one line ending in ``pip install 'convgeom[ops]'``, and a ModuleNotFoundError,
so ``except ImportError`` callers keep working.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import convgeom

HIDE = {
    "sys.modules": "sys.modules['numpy'] = None",
    "meta_path": """
class _NoNumPy:
    def find_spec(self, name, path=None, target=None):
        if name == 'numpy' or name.startswith('numpy.'):
            raise ModuleNotFoundError(f'No module named {name!r}', name=name)
        return None
sys.meta_path.insert(0, _NoNumPy())
""",
}

CHILD = """
import json, sys
{hide}
import convgeom
import convgeom.ops
from convgeom import GeometryError
from convgeom.errors import MissingExtraError

def attribute():
    convgeom.ops.conv

def from_import():
    from convgeom.ops import pad  # noqa: F401

def submodule():
    import convgeom.ops.pooling  # noqa: F401

def call_twice():
    for _ in range(2):
        try:
            convgeom.ops.max_pool
        except ImportError:
            pass
    convgeom.ops.trace_conv

report = {{"numpy loaded": "numpy" in sys.modules and sys.modules["numpy"] is not None,
          "dir": "conv" in dir(convgeom.ops)}}
for probe in (attribute, from_import, submodule, call_twice):
    try:
        probe()
        report[probe.__name__] = None
    except ImportError as exc:
        report[probe.__name__] = dict(type=type(exc).__name__, message=str(exc), name=exc.name,
                                      geometry=isinstance(exc, GeometryError),
                                      missing=isinstance(exc, (MissingExtraError, ModuleNotFoundError)))
print(json.dumps(report))
"""


@pytest.mark.parametrize("how", sorted(HIDE))
def test_ops_without_numpy_name_the_extra(how: str) -> None:
    src = str(Path(convgeom.__file__).resolve().parent.parent)
    env = dict(os.environ, PYTHONPATH=src)
    done = subprocess.run([sys.executable, "-c", CHILD.format(hide=HIDE[how])], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report.pop("numpy loaded") is False
    assert report.pop("dir") is True
    for probe, outcome in report.items():
        assert outcome is not None, f"{probe} did not raise"
        assert outcome["type"] == "MissingExtraError", (probe, outcome)
        assert outcome["message"] == ("convgeom.ops needs the numpy package, which is not installed; "
                                      "pip install 'convgeom[ops]'"), (probe, outcome)
        assert outcome["name"] == "numpy"
        assert outcome["geometry"] and outcome["missing"]


def test_missing_extra_error_is_both_kinds() -> None:
    from convgeom.errors import MissingExtraError

    exc = MissingExtraError("convgeom.ops", "numpy", "ops")
    assert isinstance(exc, convgeom.GeometryError) and isinstance(exc, ModuleNotFoundError)
    assert exc.name == "numpy" and "\n" not in str(exc)
