"""Writing the golden files: the notes and meta of each file, the compact JSON layout (one
record per line) and the float32 values as the shortest decimals that round-trip."""
from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .schema import GENERATOR, ONNX_OPSET

NOTES: dict[str, list[str]] = {
    "tensorflow": [
        "Keras 3 layers on the TensorFlow backend, channels_last, batch 1, 1 channel, "
        "executed eagerly: layer(x) on a real float32 tensor (use_bias=False).",
        "'symbolic' (subset) = the same layer called on keras.Input(shape=(*n, 1), batch_size=1);"
        " present only on records where it was run.",
        "Every config is run twice, in two crash-isolated worker processes: with oneDNN ON "
        "(TF_ENABLE_ONEDNN_OPTS=1, the default of the x86-64 PyPI wheel) -> 'result', and with "
        "oneDNN OFF (portable Eigen kernels, e.g. other CPUs or TF_ENABLE_ONEDNN_OPTS=0) -> "
        "'onednn_off', present only where the two differ (error vs success, output, "
        "pad_before or divisor). Known differences: a VALID max pool with an empty output "
        "kills the process with SIGFPE (oneDNN, recorded as 'Crash: ...') or raises "
        "AbortedError, where Eigen returns an empty tensor; 3-D SAME ops whose total padding "
        "(o-1)*s+e-n is negative (e < s) get a NEGATIVE pad_before floor(total/2) under Eigen "
        "(windows shifted right by one), 0 under oneDNN; Keras Conv*DTranspose with "
        "dilation > 1 works under oneDNN but raises under Eigen; a few oneDNN Conv3D SAME "
        "outputs are numerically wrong (garbage in some positions, varying between runs; "
        "no pad_before reproduces them, see result.inference; Eigen is correct there).",
        "avg_pool 'divisor' names the divisor rule that reproduced the values: exclude_pad = "
        "number of in-input taps; include_pad = taps inside the padded region; kernel = prod(k).",
    ],
    "jax": [
        "jax.lax with jax_enable_x64, CPU. padding strings are lowercased ('SAME_LOWER' -> "
        "'same_lower').",
        "conv_transpose explicit padding is recorded as {'raw': [[lo, hi], ...]}: the RAW pads "
        "that jax.lax.conv_transpose applies to the stride-dilated input (lax semantics), NOT "
        "PyTorch-style padding. pad_before is still the crop at the start of the full "
        "transposed output.",
        "jax.lax.conv_transpose uses transpose_kernel=False, i.e. it correlates the dilated "
        "input with the un-flipped kernel, which is the PyTorch/ONNX transposed conv with a "
        "flipped kernel; pad_before is inferred with that orientation (a record would carry "
        "result.unexpected_kernel_orientation=true if only the other one matched).",
        "avg_pool = reduce_window(lax.add, init 0.0): the output is the window SUM "
        "(divisor 'sum'); count_include_pad is null. No ceil mode in JAX.",
        "Configs run in a crash-isolated worker process; 'Crash: process killed by signal "
        "SIGABRT (...)' records an XLA compiler abort (not a Python exception): e.g. "
        "reduce_window with a size-1 window and net-negative padding.",
    ],
    "onnx": [
        f"onnxruntime CPUExecutionProvider, opset {ONNX_OPSET}, one model per config, "
        "graph optimizations disabled, 1 thread.",
        "auto_pad SAME_UPPER -> 'same', SAME_LOWER -> 'same_lower', VALID -> 'valid'; "
        "NOTSET -> explicit [[begin, end], ...] per axis (the ONNX pads attribute lists all "
        "begins then all ends). Records whose call says no pads attribute used the default "
        "(zeros).",
        "padding {'auto_pad': ..., 'pads': ...} = both attributes given (invalid per spec).",
        "output_size = ConvTranspose output_shape attribute (spatial dims).",
        "'shape_inference' (present only where it disagrees with onnxruntime) = the result of "
        "onnx.shape_inference.infer_shapes(strict_mode=True) for the output.",
        "count_include_pad null = attribute omitted (ONNX default 0). ceil_mode false includes "
        "the omitted attribute.",
        "max_pool is run on increasing and on decreasing data; avg_pool 'divisor' names the "
        "divisor rule that reproduced the values (exclude_pad = in-input taps, include_pad = "
        "taps inside [-pad_begin, n + pad_end), kernel = prod(k)).",
    ],
}


def f32list(a: ArrayLike) -> Any:
    """float32 array -> nested lists of the shortest decimals that round-trip to float32."""
    a = np.asarray(a, np.float32)
    flat = [float(np.format_float_positional(v, unique=True, trim="-")) for v in a.ravel()]
    return np.array(flat, dtype=np.float64).reshape(a.shape).tolist()


def dumps(meta: dict[str, Any], records: Sequence[dict[str, Any]]) -> str:
    """The file's text: meta with sorted keys, then one compact record per line."""
    return ('{"meta": ' + json.dumps(meta, separators=(",", ":"), sort_keys=True)
            + ',\n"records": [\n'
            + ",\n".join(json.dumps(r, separators=(",", ":")) for r in records)
            + "\n]}\n")


def write_json(path: str, meta: dict[str, Any], records: Sequence[dict[str, Any]]) -> None:
    with open(path, "w") as f:
        f.write(dumps(meta, records))


def per_op_counts(records: Sequence[dict[str, Any]]) -> dict[str, list[int]]:
    """op -> [valid, rejected]."""
    counts: dict[str, list[int]] = {}
    for r in records:
        counts.setdefault(r["op"], [0, 0])[0 if "error" not in r["result"] else 1] += 1
    return counts


def framework_meta(fw: str, versions: dict[str, Any], seed: int,
                   records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The meta object of tensorflow/jax/onnx.json (the runner adds its own counters)."""
    n_err = sum("error" in r["result"] for r in records)
    meta = {"framework": fw, "versions": versions, "seed": seed, "count": len(records),
            "n_valid": len(records) - n_err, "n_rejected": n_err,
            "per_op_valid_rejected": per_op_counts(records),
            "generator": GENERATOR, "notes": NOTES[fw]}
    if fw == "onnx":
        meta["opset"] = ONNX_OPSET
        meta["shape_inference_disagreements"] = sum("shape_inference" in r for r in records)
    return meta


def numeric_meta(versions: dict[str, Any], seed: int) -> dict[str, Any]:
    """The meta object of tensorflow_ops.json."""
    return {"framework": "tensorflow", "versions": versions, "seed": seed,
            "layout": "NHWC input, HWIO filter; outputs are TF's float32 results",
            "generator": GENERATOR}
