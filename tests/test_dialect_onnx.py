"""The ONNX dialect's auto_pad SAME_UPPER / SAME_LOWER against live ONNX Runtime, where the
kernel is smaller than the stride: ``pad_needed = (ceil(n/s) - 1)*s + k - n`` is then negative
for some input sizes, and ONNX Runtime does not clip it (``core/providers/common.h ComputePad``
has no ``max(0, ...)``; ONNX's shape inference does clip, with the same output size). A run
agrees when the accept/reject decision, the output shape and the output values (a direct
computation over convgeom's windows, or the full transposed output cropped by convgeom's crop)
all agree."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

import convgeom  # noqa: E402
from convgeom import GeometryError  # noqa: E402

OPSET = 19  # MaxPool and AveragePool both take dilations
ENGINE: dict[str, Callable[..., convgeom.LayerGeometry]] = {
    "Conv": convgeom.conv, "MaxPool": convgeom.max_pool, "AveragePool": convgeom.avg_pool,
    "ConvTranspose": convgeom.conv_transpose,
}


def _session_options() -> Any:
    ort.set_default_logger_severity(4)
    so = ort.SessionOptions()
    so.intra_op_num_threads = so.inter_op_num_threads = 1
    so.log_severity_level = 4
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return so


SO = _session_options()


def run_ort(op: str, x: np.ndarray, w: np.ndarray | None, attrs: dict[str, Any]) -> np.ndarray | str:
    """One node X[1,1,*n] -> Y on the CPU provider: Y[0, 0], or the error's first line."""
    helper, tp = onnx.helper, onnx.TensorProto
    inputs, inits = ["X"], []
    if w is not None:
        inputs.append("W")
        inits.append(helper.make_tensor("W", tp.FLOAT, (1, 1, *w.shape), w.ravel().tolist()))
    graph = helper.make_graph([helper.make_node(op, inputs, ["Y"], **attrs)], "g",
                              [helper.make_tensor_value_info("X", tp.FLOAT, (1, 1, *x.shape))],
                              [helper.make_tensor_value_info("Y", tp.FLOAT, None)], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 9
    try:
        sess = ort.InferenceSession(model.SerializeToString(), SO, providers=["CPUExecutionProvider"])
        y: np.ndarray = sess.run(None, {"X": x[None, None]})[0][0, 0]
    except Exception as exc:  # noqa: BLE001 - any refusal counts
        return f"{type(exc).__name__}: {str(exc).splitlines()[0][-160:]}"
    return y


def windows_reference(op: str, x: np.ndarray, w: np.ndarray | None, r: convgeom.LayerGeometry) -> np.ndarray:
    """Conv / max / average (pads excluded, ONNX's default) over convgeom's windows: output i
    reads taps ``i*s - pad_before + j*d``; taps outside the input are padding, and a negative
    pad crops (the padded input is ``[-pad_before, n + pad_after)``), except at the end of a
    dilated MaxPool, which reads up to ``n`` (the note convgeom gives there). A window of
    padding only gives ONNX Runtime's lowest float (max) or 0 (average)."""
    reads_to_end = op == "MaxPool" and dilated_maxpool_tail_note(r)
    out = np.zeros(r.output)
    for idx in itertools.product(*(range(o) for o in r.output)):
        taps = []
        for j in itertools.product(*(range(k) for k in r.kernel)):
            t = tuple(i * s - pb + jj * d for i, s, pb, jj, d in zip(idx, r.stride, r.pad_before, j, r.dilation))
            if all(max(0, -pb) <= a < n + (0 if reads_to_end else min(0, pa))
                   for a, n, pb, pa in zip(t, x.shape, r.pad_before, r.pad_after)):
                taps.append((j, t))
        if op == "Conv":
            assert w is not None
            out[idx] = sum(float(w[j]) * float(x[t]) for j, t in taps)
        elif op == "MaxPool":
            out[idx] = max((float(x[t]) for _, t in taps), default=float(np.finfo(np.float32).min))
        else:
            out[idx] = np.mean([float(x[t]) for _, t in taps]) if taps else 0.0
    return out


def dilated_maxpool_tail_note(r: convgeom.LayerGeometry) -> bool:
    return any("dilated MaxPool reads taps up to the end of the input" in note for note in r.notes)


def transpose_reference(x: np.ndarray, w: np.ndarray, r: convgeom.LayerGeometry) -> np.ndarray:
    """The full transposed output ``(n-1)*s + e`` (plus output_padding zeros) cropped by
    convgeom's ``pad_before`` / ``pad_after`` (a negative ``pad_after`` keeps extra cells)."""
    full = np.zeros([(n - 1) * s + k + max(0, -pa) for n, s, k, pa in zip(x.shape, r.stride, r.kernel, r.pad_after)])
    for idx in itertools.product(*(range(n) for n in x.shape)):
        full[tuple(slice(i * s, i * s + k) for i, s, k in zip(idx, r.stride, r.kernel))] += x[idx] * w
    return full[tuple(slice(pb, pb + o) for pb, o in zip(r.pad_before, r.output))]


def gen(rng: random.Random, op: str) -> dict[str, Any]:
    nd = rng.randint(1, 2)
    s = [rng.randint(2, 5) for _ in range(nd)]
    k = [rng.randint(1, si - 1) if rng.random() < 0.85 else rng.randint(si, 6) for si in s]
    d = [1] * nd
    if op in ("MaxPool", "AveragePool") and rng.random() < 0.3:
        d = [rng.randint(1, 3) for _ in range(nd)]
    cfg: dict[str, Any] = dict(op=op, n=[rng.randint(1, 11) for _ in range(nd)], k=k, s=s, d=d,
                               auto_pad=rng.choice(("SAME_UPPER", "SAME_LOWER")))
    if op == "ConvTranspose" and rng.random() < 0.4:
        cfg["output_padding"] = [rng.randint(0, si - 1) for si in s]
    return cfg


def check(cfg: dict[str, Any], rng: np.random.Generator) -> str | None:
    """None when ONNX Runtime and convgeom agree, else what differs."""
    op, n, k = cfg["op"], cfg["n"], cfg["k"]
    x = rng.uniform(1.0, 2.0, n).astype(np.float32)
    w = rng.uniform(1.0, 2.0, k).astype(np.float32) if op in ("Conv", "ConvTranspose") else None
    attrs: dict[str, Any] = dict(kernel_shape=k, strides=cfg["s"], auto_pad=cfg["auto_pad"], dilations=cfg["d"])
    if "output_padding" in cfg:
        attrs["output_padding"] = cfg["output_padding"]
    y = run_ort(op, x, w, attrs)
    padding = "same" if cfg["auto_pad"] == "SAME_UPPER" else "same_lower"
    kw: dict[str, Any] = {"framework": "onnx"}
    try:
        if op == "ConvTranspose":
            r = convgeom.conv_transpose(tuple(n), tuple(k), tuple(cfg["s"]), padding, cfg.get("output_padding"),
                                        tuple(cfg["d"]), **kw)
        elif op == "AveragePool":
            r = convgeom.avg_pool(tuple(n), tuple(k), tuple(cfg["s"]), padding, dilation=tuple(cfg["d"]), **kw)
        else:
            r = ENGINE[op](tuple(n), tuple(k), tuple(cfg["s"]), padding, tuple(cfg["d"]), **kw)
    except GeometryError as exc:
        return None if isinstance(y, str) else f"ORT gives {y.shape}, convgeom rejects: {exc}"
    if isinstance(y, str):
        return f"ORT rejects ({y}), convgeom gives {r.output} with pads {r.pad}"
    if y.shape != r.output:
        return f"ORT gives {y.shape}, convgeom {r.output}"
    assert w is not None or op not in ("Conv", "ConvTranspose")
    ref = transpose_reference(x, w, r) if op == "ConvTranspose" and w is not None else windows_reference(op, x, w, r)
    if not np.allclose(y, ref, rtol=1e-5, equal_nan=True):
        return f"values differ: convgeom's pads {r.pad} do not reproduce ORT's windows"
    return None


@pytest.mark.parametrize("op", ["Conv", "MaxPool", "AveragePool", "ConvTranspose"])
def test_same_auto_pad_with_kernel_smaller_than_stride(op: str) -> None:
    rng, data = random.Random(f"onnx-same-{op}"), np.random.default_rng(7)
    mismatches, negative, notes = [], 0, 0
    for _ in range(300):
        cfg = gen(rng, op)
        n, s, k = cfg["n"], cfg["s"], cfg["k"]
        negative += any((-(-ni // si) - 1) * si + ki - ni < 0 for ni, si, ki in zip(n, s, k))
        found = check(cfg, data)
        if op == "MaxPool" and any(d > 1 for d in cfg["d"]) and not found:
            try:
                notes += dilated_maxpool_tail_note(convgeom.max_pool(tuple(n), tuple(k), tuple(s), "same" if
                                                   cfg["auto_pad"] == "SAME_UPPER" else "same_lower",
                                                   tuple(cfg["d"]), framework="onnx"))
            except GeometryError:
                pass
        if found:
            mismatches.append(f"{cfg}: {found}")
    assert negative >= 40, "the grid must reach negative pad_needed"
    if op == "MaxPool":
        assert notes >= 3, "the grid must reach dilated MaxPools with a negative pad_after"
    assert not mismatches, f"{len(mismatches)} of 300 disagree with ONNX Runtime:\n" + "\n".join(mismatches[:8])


def test_same_padding_solver_is_the_dialects() -> None:
    """solve.same_padding for ONNX gives the pads conv(framework='onnx') uses (one rule)."""
    from convgeom.solve import same_padding

    for n, k, s, lower in itertools.product(range(1, 10), range(1, 4), range(2, 5), (False, True)):
        got = same_padding(n, k, s, framework="onnx", lower=lower)
        r = convgeom.conv(n, k, s, "same_lower" if lower else "same", framework="onnx")
        assert (got.pad, got.output) == (r.pad, r.output)
