"""In CI every optional module the tests use is installed: a test that would skip for a missing
module (``pytest.importorskip``) fails here instead, so a dependency left out of
``scripts/test.sh`` cannot turn a whole test file into silent skips (it did once: httpx, which
the web API tests need, was installed by hand only, and 76 tests skipped in CI).
Outside CI (``CI`` unset) partial installs may skip, as the tests themselves allow."""

from __future__ import annotations

import importlib
import os
import re
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
#: the module named by each importorskip call in the test files
_SKIP = re.compile(r"""importorskip\(\s*["']([A-Za-z_][\w.]*)["']""")


def skipped_modules() -> list[str]:
    found = {m for path in TESTS.glob("*.py") for m in _SKIP.findall(path.read_text(encoding="utf-8"))}
    return sorted(found)


def test_the_scan_finds_the_modules_the_tests_skip_on() -> None:
    modules = skipped_modules()
    assert {"torch", "onnxruntime", "httpx", "starlette", "keras"} <= set(modules), modules


@pytest.mark.skipif(not os.environ.get("CI"), reason="only in CI (CI set), where scripts/test.sh installed everything")
@pytest.mark.parametrize("module", skipped_modules())
def test_every_module_the_tests_need_is_installed_in_ci(module: str) -> None:
    importlib.import_module(module)
