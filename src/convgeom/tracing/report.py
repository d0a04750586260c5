"""Tables for a :class:`~convgeom.tracing.records.Trace` in the style of torchinfo / Keras
``summary()``: :func:`summary` (plain text, no dependencies) and :func:`render_rich` (a ``rich``
table). The records never import this module: ``print(convgeom.tracing.summary(t))``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from .. import formatting as fmt
from ..errors import GeometryError, GeometryTypeError, shown
from .records import LayerRecord, Trace
from .rf import TensorRF

HEADERS = ("Layer (type)", "Output shape", "Kernel / stride / pad", "Param #", "MACs", "Receptive field")


@dataclass(frozen=True)
class Row:
    name: str
    type: str
    depth: int
    output: str
    geometry: str
    params: int
    macs: int
    rf: str


def _geometry(rec: LayerRecord) -> str:
    parts = []
    if rec.kernel is not None:
        parts.append("k" + "x".join(map(str, rec.kernel)))
    if rec.stride is not None and any(s != 1 for s in rec.stride):
        parts.append("s" + "x".join(map(str, rec.stride)))
    if rec.padding is not None and any(b or a for b, a in rec.padding):
        if all(b == a for b, a in rec.padding):
            parts.append("p" + "x".join(str(b) for b, _ in rec.padding))
        else:
            parts.append("p" + ",".join(f"({b},{a})" for b, a in rec.padding))
    if rec.dilation is not None and any(d != 1 for d in rec.dilation):
        parts.append("d" + "x".join(map(str, rec.dilation)))
    if rec.groups is not None and rec.groups != 1:
        parts.append(f"g{rec.groups}")
    return " ".join(parts) or "--"


def describe_rf(rf: Optional[TensorRF]) -> str:
    """Compact per-axis receptive field: ``r`` (size), ``S`` (effective stride), ``P`` (effective
    padding), joined by x when all axes agree; "global" where each unit sees the whole input."""
    if rf is None:
        return "--"
    if all(rf.whole):
        return "global"

    def one(i: int) -> str:
        if rf.dims[i] is None:
            return "global"
        f = rf.fields[i]
        return f"{fmt.fraction(f.size)}/{fmt.fraction(f.stride)}/{fmt.fraction(f.padding)}"

    parts = [one(i) for i in range(len(rf.fields))]
    text = parts[0] if len(set(parts)) == 1 else " x ".join(parts)
    if not rf.exact:
        text += " ~"
    if rf.global_context:
        text += " +g"
    return text


def rows(trace: Trace, depth: Optional[int] = None) -> list[Row]:
    """Records at ``depth`` or shallower; consecutive deeper records are folded into their
    ancestor module at ``depth`` (params and MACs summed, the last output and receptive field
    shown); a record named like that ancestor (a module's own op) joins the fold."""

    def row(rec: LayerRecord) -> Row:
        return Row(rec.name, rec.type, rec.depth, fmt.shape(rec.output_shape), _geometry(rec), rec.params, rec.macs,
                   describe_rf(rec.receptive_field))

    if depth is None:
        return [row(rec) for rec in trace.layers]
    types = {m.name: m.type for m in trace.modules}
    groups: list[tuple[str, list[LayerRecord]]] = []
    for rec in trace.layers:
        if rec.depth <= depth:
            if groups and groups[-1][0] == rec.name and all(m.depth > depth for m in groups[-1][1]):
                groups[-1][1].append(rec)  # a module's own op right after its folded children
            else:
                groups.append((rec.name, [rec]))
            continue
        key = ".".join(rec.name.split(".")[:max(depth, 1)])
        if groups and groups[-1][0] == key and any(m.depth > depth for m in groups[-1][1]):
            groups[-1][1].append(rec)
        else:
            groups.append((key, [rec]))
    out: list[Row] = []
    for key, members in groups:
        if len(members) == 1 and members[0].depth <= depth:
            out.append(row(members[0]))
            continue
        own = next((m for m in members if m.name == key), None)
        last = members[-1]
        out.append(Row(key, own.type if own is not None else types.get(key, "Module"), min(depth, key.count(".") + 1),
                       fmt.shape(last.output_shape), _geometry(own) if own is not None else "--",
                       sum(m.params for m in members), sum(m.macs for m in members),
                       describe_rf(last.receptive_field)))
    return out


def footer(trace: Trace) -> list[str]:
    rf = trace.receptive_field
    lines = [
        f"Total params: {fmt.count(trace.params)} ({fmt.nbytes(trace.param_bytes)})",
        f"Trainable params: {trace.trainable_params:,}",
        f"MACs: {fmt.count(trace.macs)}   FLOPs = 2 x MACs: {fmt.count(trace.flops)}   bias adds: {trace.bias_adds:,}",
        f"Input: {fmt.shape(trace.input_shape)} ({fmt.nbytes(trace.input_bytes)})   Output: {fmt.shape(trace.output_shape)}",
        f"Peak activation memory: {fmt.nbytes(trace.peak_activation_bytes)}"
        + (f" (at {trace.peak_layer})" if trace.peak_layer else "")
        + f"   sum of all outputs: {fmt.nbytes(trace.activation_bytes)}",
    ]
    if rf is not None:
        axes = ", ".join(f"{a}: {rf.describe(i)}" for i, a in enumerate(trace.spatial_axes) if i < len(rf.fields))
        lines.append(f"Output receptive field (r size / S stride / P padding): {axes or '--'}"
                     + ("  [+ global context]" if rf.global_context else ""))
        last = trace.last_spatial_receptive_field
        if any(rf.whole) and last is not None:
            lines.append("Last spatial feature map: " + ", ".join(
                f"{a}: {last.describe(i)}" for i, a in enumerate(trace.spatial_axes) if i < len(last.fields)))
    counts: dict[str, int] = {}
    for f in trace.findings:
        counts[f.severity] = counts.get(f.severity, 0) + 1
    if trace.findings:
        lines.append("Findings: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
    return lines


def summary(trace: Trace, depth: Optional[int] = None, findings: bool = True) -> str:
    """A fixed-width table of ``trace`` (no dependencies): one row per record (``depth``: rows
    deeper than that folded into their module), the totals, and the findings."""
    _check(trace, depth)
    body = [(("  " * max(r.depth - 1, 0)) + f"{r.name} ({r.type})", r.output, r.geometry,
             f"{r.params:,}" if r.params else "--", f"{r.macs:,}" if r.macs else "--", r.rf) for r in rows(trace, depth)]
    widths = [max(len(h), *(len(row[i]) for row in body)) if body else len(h) for i, h in enumerate(HEADERS)]
    rule = "=" * (sum(widths) + 2 * (len(widths) - 1))
    lines = [f"{trace.model} ({trace.framework})", rule,
             "  ".join(h.ljust(w) for h, w in zip(HEADERS, widths)), rule]
    for row in body:
        lines.append("  ".join(c.ljust(w) if i in (0, 1, 2, 5) else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
    lines.append(rule)
    lines.extend(footer(trace))
    if findings and trace.findings:
        lines.append(rule)
        lines.extend(str(f) for f in trace.findings)
    return "\n".join(lines)


def render_rich(trace: Trace, depth: Optional[int] = None, findings: bool = True, console: Any = None) -> None:
    """Print a rich table (raises ImportError when rich is missing)."""
    _check(trace, depth)
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    if console is None:
        import sys

        console = Console() if sys.stdout.isatty() else Console(width=200)
    table = Table(title=f"{trace.model} ({trace.framework})", show_lines=False)
    for i, h in enumerate(HEADERS):
        table.add_column(h, justify="right" if i in (3, 4) else "left", no_wrap=i != 0,
                         min_width=24 if i == 0 else None, overflow="fold")
    for r in rows(trace, depth):
        table.add_row(("  " * max(r.depth - 1, 0)) + f"{escape(r.name)} [dim]({escape(r.type)})[/dim]",
                      escape(r.output), r.geometry,
                      f"{r.params:,}" if r.params else "--", f"{r.macs:,}" if r.macs else "--", r.rf)
    console.print(table)
    for line in footer(trace):
        console.print(escape(line), highlight=False)
    if findings and trace.findings:
        style = {"error": "bold red", "warning": "yellow", "info": "cyan"}
        for f in trace.findings:
            console.print(f"[{style.get(f.severity, 'default')}]{f.severity}[/] {f.code}"
                          + (f" [bold]{escape(f.layer)}[/bold]" if f.layer else "") + f": {escape(f.message)}",
                          highlight=False)
            if f.fix:
                console.print(f"    fix: {escape(f.fix)}", highlight=False, style="dim")


def _check(trace: Any, depth: Any) -> None:
    if not isinstance(trace, Trace):
        raise GeometryTypeError(f"expected a Trace (from convgeom.trace), got {type(trace).__name__}")
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int)):
        raise GeometryTypeError(f"depth must be an int or None, got {shown(depth)}")
    if depth is not None and depth < 0:
        raise GeometryError(f"depth must be >= 0, got {shown(depth)}", fix="use 0 for the top level, 1 for its children")
