#!/usr/bin/env bash
# Installs everything the tests need into a virtual environment, then runs lint, types and tests.
# Usage: bash scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${CONVGEOM_VENV:-.venv}"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
PY="$VENV/bin/python"
export PIP_DISABLE_PIP_VERSION_CHECK=1
# The CPU build of torch first: a bare 'torch' requirement would pull gigabytes of CUDA packages.
"$PY" -m pip install -q torch==2.13.0
"$PY" -m pip install -q -e ".[test,torch,onnx,keras,rich]" onnxruntime monai efficientnet-pytorch torchinfo
export KERAS_BACKEND=torch
echo "== ruff"; "$VENV/bin/ruff" check src tests tools benchmarks
echo "== mypy --strict"; "$VENV/bin/mypy" src/convgeom
echo "== pytest"; "$PY" -m pytest "$@"
