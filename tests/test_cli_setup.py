"""scripts/test.sh, run against a stub virtual environment that records every command: torch
comes from the CPU wheel index when one is named, and pytest gets the script's arguments."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_script(tmp_path: Path, **env: str) -> list[str]:
    if shutil.which("bash") is None:
        pytest.skip("needs bash")
    log = tmp_path / "calls.log"
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    for tool in ("python", "ruff", "mypy"):
        stub = bin_dir / tool
        seen = ' [PIP_EXTRA_INDEX_URL=$PIP_EXTRA_INDEX_URL]' if tool == "python" else ""
        stub.write_text(f'#!/usr/bin/env bash\nif [ -n "${{PIP_EXTRA_INDEX_URL:-}}" ]; then echo "{tool} $*{seen}"; '
                        f'else echo "{tool} $*"; fi >> "{log}"\n')
        stub.chmod(stub.stat().st_mode | stat.S_IEXEC)
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "TORCH_INDEX"))}
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "test.sh"), "-k", "readme"], capture_output=True,
                          text=True, timeout=60, env={**clean, "CONVGEOM_VENV": str(tmp_path / "venv"), **env})
    assert proc.returncode == 0, proc.stderr
    return log.read_text().splitlines()


def test_cpu_index_is_used_for_torch(tmp_path: Path) -> None:
    calls = run_script(tmp_path, TORCH_INDEX_URL="https://download.pytorch.org/whl/cpu")
    assert calls[0] == "python -m pip install -q --index-url https://download.pytorch.org/whl/cpu torch==2.13.0"
    assert calls[1].startswith("python -m pip install -q -e .[test,")
    assert "--index-url" not in calls[1]
    assert calls[-1] == "python -m pytest -k readme"
    assert "ruff check src tests tools benchmarks" in calls and any(c.split()[0] == "mypy" for c in calls)


def test_without_an_index_pip_decides(tmp_path: Path) -> None:
    calls = run_script(tmp_path)
    assert calls[0] == "python -m pip install -q torch==2.13.0"


def test_pips_own_variables_reach_pip(tmp_path: Path) -> None:
    """PIP_EXTRA_INDEX_URL is pip's own setting: every pip call must see it."""
    calls = run_script(tmp_path, PIP_EXTRA_INDEX_URL="https://download.pytorch.org/whl/cpu")
    pip_calls = [c for c in calls if " -m pip " in c]
    assert len(pip_calls) == 2
    assert all(c.endswith("[PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu]") for c in pip_calls)
