"""TensorFlow NHWC results (``tests/golden/tensorflow_ops.json``, written from real TensorFlow
by ``tools/make_golden.py``): ``tf.nn.conv2d`` / ``max_pool2d`` / ``avg_pool2d`` with 'SAME' and
'VALID', reproduced by ``convgeom.ops`` with ``framework="tensorflow"`` and ``channels_last``.

Filters are stored as TF's HWIO; convgeom takes PyTorch's ``(C_out, C_in, kH, kW)``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from convgeom.ops import avg_pool, conv, max_pool

GOLDEN = Path(__file__).parent / "golden" / "tensorflow_ops.json"


def load_records() -> list[dict[str, Any]]:
    if not GOLDEN.exists():
        return []
    return list(json.loads(GOLDEN.read_text())["records"])


RECORDS = load_records()
pytestmark = pytest.mark.skipif(not RECORDS, reason=f"{GOLDEN} is absent (run tools/make_golden.py)")


def run(record: dict[str, Any]) -> np.ndarray:
    x = np.asarray(record["input"], dtype=np.float32)
    padding = record["padding"].lower()
    if record["op"] == "conv2d":
        hwio = np.asarray(record["filter"], dtype=np.float32)
        weight = np.ascontiguousarray(hwio.transpose(3, 2, 0, 1))
        return conv(x, weight, None, tuple(record["strides"]), padding, tuple(record["dilations"]),
                    framework="tensorflow", channels_last=True)
    pool = max_pool if record["op"] == "max_pool2d" else avg_pool
    return pool(x, tuple(record["ksize"]), tuple(record["strides"]), padding, framework="tensorflow",
                channels_last=True)


@pytest.mark.parametrize("index", range(len(RECORDS)) if RECORDS else [0])
def test_tensorflow_golden(index: int) -> None:
    record = RECORDS[index]
    expected = np.asarray(record["output"], dtype=np.float32)
    ours = run(record)
    assert ours.dtype == np.float32
    assert list(ours.shape) == record["output_shape"] == list(expected.shape), record["call"]
    scale = max(float(np.abs(expected).max(initial=0.0)), 1e-6)
    assert float(np.abs(ours - expected).max(initial=0.0)) / scale < 1e-5, record["call"]


def test_golden_covers_same_and_valid() -> None:
    kinds = {(r["op"], r["padding"]) for r in RECORDS}
    assert ("conv2d", "SAME") in kinds and ("conv2d", "VALID") in kinds
    assert any(op == "max_pool2d" for op, _ in kinds) and any(op == "avg_pool2d" for op, _ in kinds)
