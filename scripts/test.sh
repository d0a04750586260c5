#!/usr/bin/env bash
# Installs everything the tests need into a virtual environment, then runs lint, types and tests.
# Usage: bash scripts/test.sh [pytest args]
#
# PyTorch: on Linux, PyPI's torch wheel is the CUDA build (several GB of NVIDIA packages). For the
# CPU build, name PyTorch's CPU wheel index:
#   TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu bash scripts/test.sh
# (torch alone is installed from that index), or set pip's own PIP_INDEX_URL / PIP_EXTRA_INDEX_URL,
# which every pip call below honours. CONVGEOM_VENV picks the virtual environment (default .venv).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${CONVGEOM_VENV:-.venv}"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
PY="$VENV/bin/python"
export PIP_DISABLE_PIP_VERSION_CHECK=1
# torch first and pinned, so that the packages below find it installed and never pull another build
if [ -n "${TORCH_INDEX_URL:-}" ]; then
  "$PY" -m pip install -q --index-url "$TORCH_INDEX_URL" torch==2.13.0
else
  "$PY" -m pip install -q torch==2.13.0
fi
"$PY" -m pip install -q -e ".[test,torch,onnx,keras,rich,experiments,ray,jax,web,draw]" monai efficientnet-pytorch torchinfo playwright
# the browser tests drive Debian's chromium (test tools' own browser downloads do not work offline)
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium
fi
export KERAS_BACKEND=torch
# in CI a missing browser fails the browser tests instead of skipping them
export CONVGEOM_REQUIRE_BROWSER="${CONVGEOM_REQUIRE_BROWSER:-${CI:+1}}"
echo "== ruff"; "$VENV/bin/ruff" check src tests tools benchmarks
echo "== mypy --strict"; "$VENV/bin/mypy"
echo "== pytest"; "$PY" -m pytest "$@"
