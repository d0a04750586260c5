"""The Keras/TensorFlow dialect's refusals say what TensorFlow actually does, as recorded in
``tests/golden/tensorflow.json`` (real Keras 3 on the TensorFlow backend, oneDNN on, the x86-64
default; ``onednn_off`` where the portable Eigen kernels differ)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

import convgeom
from convgeom import GeometryError

GOLDEN = Path(__file__).parent / "golden" / "tensorflow.json"


def _records() -> list[dict[str, Any]]:
    if not GOLDEN.exists():
        pytest.skip("tests/golden/tensorflow.json not present (python -m tools.golden)")
    records: list[dict[str, Any]] = json.loads(GOLDEN.read_text())["records"]
    return records


def _transpose(rec: dict[str, Any], output_padding: Any = "recorded") -> convgeom.LayerGeometry:
    op = rec["output_padding"] if output_padding == "recorded" else output_padding
    return convgeom.conv_transpose(tuple(rec["input"]), tuple(rec["kernel"]), tuple(rec["stride"]), rec["padding"],
                                   None if op is None else tuple(op), tuple(rec["dilation"]), framework="tensorflow")


def _same_with_output_padding(rejected: bool) -> list[dict[str, Any]]:
    return [r for r in _records() if r["op"] == "conv_transpose" and r["padding"] == "same"
            and r["output_padding"] is not None and ("error" in r["result"]) == rejected]


def test_same_transpose_output_padding_refusal_says_what_tensorflow_does() -> None:
    """Conv*DTranspose 'same' + an output_padding whose output does not convolve back to the
    input: the golden run records AbortedError from the oneDNN kernel (and Eigen refuses it too:
    no ``onednn_off`` alternative). The message names that, the rule, and an output_padding
    range that works, not a reference-kernel message that is not the one running."""
    aborted = [r for r in _same_with_output_padding(rejected=True) if r["result"]["error"].startswith("AbortedError")]
    assert len(aborted) >= 10
    for rec in aborted:
        assert "onednn_off" not in rec, rec  # Eigen refuses it as well
        with pytest.raises(GeometryError) as info:
            _transpose(rec)
        message = str(info.value)
        assert "AbortedError" in message and "oneDNN" in message, message
        assert "ceil(output/stride) == input" in message, message
        assert "Size of out_backprop doesn't match computed" not in message, message
        axis = info.value.axis
        assert axis is not None
        fix = re.search(r"output_padding in \[(\d+), (\d+)\]", message)
        if fix is None:  # no output_padding fits: an even kernel at stride 1
            assert "leave output_padding unset" in message and rec["stride"][axis] == 1, message
            assert rec["kernel"][axis] % 2 == 0, message
            continue
        for value in range(int(fix[1]), int(fix[2]) + 1):  # every value offered is accepted on that axis
            op = list(rec["output_padding"])
            op[axis] = value
            try:
                _transpose(rec, op)
            except GeometryError as exc:
                assert exc.axis != axis, (rec, value, str(exc))


def test_same_transpose_output_padding_range_matches_golden() -> None:
    """Every output_padding that real TensorFlow accepted with 'same' (a non-empty output) lies in
    the range the refusal offers, ``[1 - e%2, s - 1]``, and every one it refused with
    AbortedError lies outside it."""
    checked = 0
    for rec in _same_with_output_padding(rejected=False) + _same_with_output_padding(rejected=True):
        error = rec["result"].get("error", "")
        if error and not error.startswith("AbortedError"):
            continue  # refused by another rule (strides with dilation, output_padding >= strides)
        if not error and 0 in rec["result"]["output"]:
            continue  # oneDNN returns an empty output of 0 (Eigen refuses dilation); the engine follows Eigen
        dilation, kernel, stride = rec["dilation"], rec["kernel"], rec["stride"]
        fits = all(1 - (d * (k - 1) + 1) % 2 <= v <= s - 1
                   for v, k, s, d in zip(rec["output_padding"], kernel, stride, dilation))
        assert fits == (not error), rec
        checked += 1
    assert checked >= 30
