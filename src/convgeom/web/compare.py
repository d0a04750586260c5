"""The same layer in every framework, side by side, and what the tracer's diagnostics say about
it: both straight from the engine (the dialects decide; nothing here knows a framework's rules).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import GeometryError
from ..geometry import LayerGeometry


def _framework_names() -> dict[str, str]:
    from ..dialects import DIALECTS

    return {name: dialect.label for name, dialect in DIALECTS.items()}


def side_by_side(function: str, params: dict[str, Any], compute: Callable[[str, dict[str, Any]], Any]) -> dict[str, Any]:
    """``params`` (with ``framework``) computed in every framework: per framework its output and
    pads or its refusal, and sentences saying where each differs from the chosen one."""
    names = _framework_names()
    chosen = params.get("framework", "torch")
    rows: list[dict[str, Any]] = []
    for name, label in names.items():
        try:
            r = compute(function, {**params, "framework": name})
        except GeometryError as err:
            rows.append({"framework": name, "label": label, "error": str(err)})
            continue
        rows.append({"framework": name, "label": label, "output": list(r.output),
                     "pad_before": [a.pad_before for a in r.axes], "pad_after": [a.pad_after for a in r.axes],
                     "rounding": [a.rounding for a in r.axes], "error": None})
    base = next(row for row in rows if row["framework"] == chosen)
    for row in rows:
        row["chosen"] = row is base
        row["differences"] = [] if row is base else _differences(base, row)
    return {"chosen": chosen, "rows": rows}


def _pads(row: dict[str, Any]) -> str:
    return ", ".join(f"({b}, {a})" for b, a in zip(row["pad_before"], row["pad_after"]))


def _shape(values: list[int]) -> str:
    return str(tuple(values))


def _differences(base: dict[str, Any], row: dict[str, Any]) -> list[str]:
    """Where ``row`` differs from ``base``, in words."""
    if base["error"] and row["error"]:
        return []
    if row["error"]:
        return [f"refuses this layer, which {base['label']} accepts"]
    if base["error"]:
        return [f"accepts this layer (output {_shape(row['output'])}), which {base['label']} refuses"]
    out = []
    if row["output"] != base["output"]:
        out.append(f"output {_shape(row['output'])} instead of {_shape(base['output'])}")
    if (row["pad_before"], row["pad_after"]) != (base["pad_before"], base["pad_after"]):
        out.append(f"pads {_pads(row)} instead of {_pads(base)} (before, after per axis)")
    return out


def findings(result: LayerGeometry) -> list[dict[str, Any]]:
    """The tracer's per-layer diagnostics for ``result`` alone (dropped rows, gaps, ceil-mode
    windows, asymmetric 'same', 'same' that differs between TensorFlow and PyTorch,
    checkerboard risk, aliasing): ``convgeom.tracing.diagnostics.diagnose`` on a one-layer
    trace, so the page and ``convgeom trace`` say the same things (each check is O(1) in the
    stride and the kernel)."""
    from ..formatting import axis_labels
    from ..tracing import LayerRecord, Trace
    from ..tracing.diagnostics import diagnose

    shape_in = (1, 1, *result.input)
    shape_out = (1, 1, *result.output)
    record = LayerRecord(0, "layer", result.op, result.op, 0, (shape_in,), (shape_out,), kernel=result.kernel,
                         stride=result.stride, padding=result.pad, dilation=result.dilation,
                         geometry=(result,), inputs=(0,), outputs=(1,), framework=result.framework)
    trace = Trace(result.framework, "layer", (shape_in,), (shape_out,), (record,), 0, 0, 0, 0, 0, 0, 0, "layer",
                  None, axis_labels(result.ndim), input_spatial_dims=tuple(range(2, 2 + result.ndim)))
    return [{"code": f.code, "severity": f.severity, "message": f.message, "fix": f.fix} for f in diagnose(trace)]
