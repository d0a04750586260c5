"""Step-by-step derivations, written the way the tutorials write them, with the numbers in.

``explain(result)`` works on any result object; ``explain_call(op, **params)`` also explains a
configuration the framework rejects (the derivation up to the rule that refuses it). Every line
states what the framework's dialect recorded (the padding note, the rounding rule), so nothing
here asks which framework it is; the cost is O(1) in the sizes (windows are listed first and
last, with their count; per-cell checks run only up to :data:`DETAIL_CELLS` cells).
"""

from __future__ import annotations

from .dialects import get_dialect
from .errors import GeometryError, GeometryTypeError, shown
from .geometry import (
    AdaptivePoolGeometry,
    AxisGeometry,
    LayerGeometry,
    ResizeGeometry,
    adaptive_avg_pool,
    adaptive_max_pool,
    avg_pool,
    conv,
    conv_transpose,
    interpolate,
    max_pool,
    unfold,
)
from .params import as_name

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see convgeom/__init__.py)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

#: per-cell observations (gaps between windows, uneven transposed overlap) are made up to this
#: many cells on an axis and skipped beyond
DETAIL_CELLS = 4096
#: window starts listed before and after the "..." of a long list
HEAD, TAIL = 5, 2

Result = LayerGeometry | AdaptivePoolGeometry | ResizeGeometry

OPS: dict[str, Callable[..., Result]] = {
    "conv": conv,
    "conv_transpose": conv_transpose,
    "max_pool": max_pool,
    "avg_pool": avg_pool,
    "unfold": unfold,
    "adaptive_avg_pool": adaptive_avg_pool,
    "adaptive_max_pool": adaptive_max_pool,
    "interpolate": interpolate,
}

_TITLES = {
    "conv": "convolution",
    "conv_transpose": "transposed convolution",
    "max_pool": "max pooling",
    "avg_pool": "average pooling",
    "unfold": "unfold (sliding blocks)",
}


def _shape(values: tuple[int, ...]) -> str:
    return " x ".join(map(str, values))


def output_formula(a: AxisGeometry) -> str:
    """The output-size line with the numbers plugged in, e.g.
    ``floor((7 + 2*1 - 3) / 2) + 1 = floor(6 / 2) + 1 = 4``, for the rounding rule the
    dialect recorded (:data:`convgeom.arithmetic.Rounding`)."""
    n, s, e = a.input, a.stride, a.effective_kernel
    if a.rounding == "exact":
        full = (n - 1) * s + e
        return (
            f"(n-1)*s + e - crop_before - crop_after = ({n}-1)*{s} + {e} - {a.pad_before} - ({a.pad_after}) "
            f"= {full} - {a.pad_before + a.pad_after} = {a.output}"
        )
    pads = f"2*{a.pad_before}" if a.pad_before == a.pad_after else f"{a.pad_before} + {a.pad_after}"
    numerator = n + a.pad_before + a.pad_after - e
    if a.rounding == "ceil":
        raw = -((-numerator) // s) + 1
        line = f"ceil(({n} + {pads} - {e}) / {s}) + 1 = ceil({numerator} / {s}) + 1 = {raw}"
        if raw != a.output:
            line += (
                f"; the last window would start at ({raw}-1)*{s} - {a.pad_before} = "
                f"{(raw - 1) * s - a.pad_before} >= {n}, inside the right padding, so it is dropped: {a.output}"
            )
        return line
    if a.rounding == "trunc":
        return (f"trunc(({n} + {pads} - {e}) / {s}) + 1 = trunc({numerator} / {s}) + 1 = {a.output}"
                " (C++ division truncates toward zero)")
    if a.rounding == "trunc_shifted":
        return (f"trunc(({n} + {pads} - {e} + {s}) / {s}) = trunc({numerator + s} / {s}) = {a.output}"
                " (C++ division truncates toward zero)")
    value = numerator // s + 1
    line = f"floor(({n} + {pads} - {e}) / {s}) + 1 = floor({numerator} / {s}) + 1 = {value}"
    if a.rounding == "floor_clamped" and value != a.output:
        line += f" -> {a.output} (empty axis)"
    return line


def window_list(a: AxisGeometry) -> str:
    """The window starts, all of them up to ``HEAD + TAIL + 1``, else the first and last few
    and how many there are: O(1) at any size."""
    starts = a.window_start_range
    count = len(starts)
    if count <= HEAD + TAIL + 1:
        shown_starts = ", ".join(map(str, starts))
        return f"{shown_starts} (i*{a.stride} - {a.pad_before})"
    head = ", ".join(map(str, starts[:HEAD]))
    tail = ", ".join(map(str, starts[-TAIL:]))
    return f"{head}, ..., {tail} (i*{a.stride} - {a.pad_before}; {count} windows)"


def _axis_lines(r: LayerGeometry, i: int, a: AxisGeometry) -> list[str]:
    lines = [f"axis {i}: n={a.input}, k={a.kernel}, s={a.stride}, d={a.dilation}"]
    if a.dilation != 1:
        lines.append(
            f"  effective kernel e = d*(k-1) + 1 = {a.dilation}*({a.kernel}-1) + 1 = {a.effective_kernel}"
        )
    else:
        lines.append(f"  effective kernel e = k = {a.effective_kernel}")
    if a.pad_note:
        lines.append(f"  padding: {a.pad_note}")
    lines.append(f"  output = {output_formula(a)}")
    if not a.transposed and a.output > 0:
        lines.append(f"  windows start at input index {window_list(a)}")
        if a.remainder:
            lines.append(
                f"  floor division leaves {a.remainder} padded cell(s) unused"
                + (f"; {a.dropped} trailing input cell(s) are never read" if a.dropped else "")
            )
        if a.input <= DETAIL_CELLS:
            gaps = a.gaps()
            if gaps:
                lines.append(f"  {len(gaps)} input cell(s) between windows are never read (stride > window)")
    elif a.transposed and a.output <= DETAIL_CELLS:
        cov = a.coverage()
        if cov and min(cov) != max(cov):
            lines.append(
                f"  output cells receive between {min(cov)} and {max(cov)} kernel taps (uneven overlap:"
                " checkerboard risk when k is not a multiple of s)"
            )
    step = a.rf_step
    lines.append(f"  receptive-field step: {step}")
    return lines


def explain(result: Result) -> str:
    """The derivation of ``result``, per axis, with the framework rule that chose the padding."""
    if not isinstance(result, (LayerGeometry, AdaptivePoolGeometry, ResizeGeometry)):
        raise GeometryTypeError(
            f"result must be what convgeom.conv/conv_transpose/max_pool/avg_pool/unfold/adaptive_*_pool/"
            f"interpolate returned, got {shown(result)} ({type(result).__name__})",
            fix="pass the result object, or use convgeom.explain_call(op, **params)")
    label = get_dialect(result.framework).label
    if isinstance(result, AdaptivePoolGeometry):
        lines = [f"{result.op} ({label}): input {_shape(result.input)} -> output {_shape(result.output)}"]
        for i, (n, o) in enumerate(zip(result.input, result.output)):
            lines.append(f"axis {i}: window j covers [floor(j*{n}/{o}), ceil((j+1)*{n}/{o}))")
            listed = [result.window(i, j) for j in range(min(o, 10))]
            lines.append("  windows: " + ", ".join(f"[{a},{b})" for a, b in listed) + (" ..." if o > 10 else ""))
        return "\n".join(lines)
    if isinstance(result, ResizeGeometry):
        lines = [f"interpolate ({result.mode}): input {_shape(result.input)} -> output {_shape(result.output)}"]
        for i, (n, o, f) in enumerate(zip(result.input, result.output, result.scale)):
            lines.append(f"axis {i}: output = floor({n} * {f:g}) = {o}; source index of output y = floor(y*{n}/{o})")
        return "\n".join(lines)
    title = _TITLES.get(result.op, result.op)
    lines = [
        f"{title} ({label}), {result.ndim}-D: input {_shape(result.input)} -> output {_shape(result.output)}",
        f"padding requested: {result.padding.describe()}"
        + (f", padding_mode={result.padding_mode!r}" if result.padding_mode != "zeros" else ""),
    ]
    for i, a in enumerate(result.axes):
        lines.extend(_axis_lines(result, i, a))
    if result.op == "avg_pool":
        if result.divisor:
            lines.append(f"average divisor: divisor_override = {result.divisor}")
        elif result.count_include_pad:
            lines.append("average divisor: window size including padded cells (count_include_pad=True);"
                         " a ceil-mode overhang beyond the padding is not counted")
        else:
            lines.append("average divisor: number of real (non-padded) cells in the window")
    lines.extend(f"note: {n}" for n in result.notes)
    return "\n".join(lines)


def explain_call(op: str, **params: Any) -> str:
    """Explain a configuration by name; a rejected one is explained up to its rule and fix."""
    if as_name("op", op) not in OPS:
        raise GeometryError(f"unknown op {shown(op)}", fix="use one of " + ", ".join(OPS))
    try:
        return explain(OPS[op](**params))
    except GeometryError as err:
        framework = params.get("framework", "torch")
        return "\n".join([
            f"{_TITLES.get(op, op)} ({get_dialect(framework).label}) with {_describe(params)}",
            f"rejected: {err.problem}",
            f"rule: {err.rule}" if err.rule else "rule: (parameter check)",
            f"fix: {err.fix}" if err.fix else "",
        ]).rstrip()


def _describe(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={shown(v)}" for k, v in params.items() if k != "framework")
