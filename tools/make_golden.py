#!/usr/bin/env python3
"""Regenerates tests/golden/ from the real TensorFlow/Keras 3, JAX and ONNX Runtime.

    python tools/make_golden.py [--framework tensorflow|jax|onnx|all] [--count N] [--seed S]
                                [--out tests/golden] [--no-ops] [--jobs J]

The same as ``python -m tools.golden`` from the repository root; the generator is the package
``tools/golden`` (its docstring says how the records are made and what they mean).
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.golden.cli import main  # noqa: E402

if __name__ == "__main__":
    main()
