"""Plots with matplotlib (the ``draw`` extra): output size against input size for one layer in
every framework (the floor staircase, one line per group of frameworks that agree), and the
receptive field's growth through a traced model.

Figures are built with matplotlib's object API (no pyplot, no global backend) and saved with
fixed metadata, so the same call writes the same bytes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Optional

from ..errors import GeometryError

if TYPE_CHECKING:
    from ..tracing import Trace

FRAMEWORKS = ("torch", "tensorflow", "jax", "onnx")
STAIRCASE_OPS = ("conv", "conv_transpose", "max_pool", "avg_pool", "unfold")
MAX_SIZES = 4_096
"""Most input sizes one staircase plot tries."""

_LABELS = {"torch": "PyTorch", "tensorflow": "TensorFlow/Keras", "jax": "JAX", "onnx": "ONNX Runtime"}
_COLOURS = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#d55e00", "#56b4e9")
_MARKERS = ("o", "s", "^", "D", "v", "P")


def _matplotlib() -> Any:
    from ..optional import needed

    with needed("plotting", extra="draw"):
        import matplotlib
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    return matplotlib, Figure, FigureCanvasAgg


def output_sizes(op: str, sizes: Sequence[int], frameworks: Sequence[str] = FRAMEWORKS,
                 **params: Any) -> dict[str, list[Optional[int]]]:
    """Per framework, the output size for each input size (``None`` where it refuses), one axis."""
    from ..explanation import OPS

    if op not in STAIRCASE_OPS:
        raise GeometryError(f"cannot plot output sizes of {op}", fix="use conv, conv_transpose, max_pool, avg_pool")
    if len(sizes) > MAX_SIZES:
        raise GeometryError(f"{len(sizes)} input sizes are more than the cap of {MAX_SIZES:,}",
                            fix="plot a smaller range of sizes")
    table: dict[str, list[Optional[int]]] = {}
    for fw in frameworks:
        column: list[Optional[int]] = []
        for n in sizes:
            try:
                column.append(OPS[op](input=n, framework=fw, **params).output[0])
            except GeometryError:
                column.append(None)
        table[fw] = column
    return table


def agreeing(table: dict[str, list[Optional[int]]]) -> list[tuple[tuple[str, ...], list[Optional[int]]]]:
    """Frameworks grouped by identical columns, in the order first seen."""
    groups: list[tuple[tuple[str, ...], list[Optional[int]]]] = []
    for fw, column in table.items():
        for i, (names, values) in enumerate(groups):
            if values == column:
                groups[i] = (names + (fw,), values)
                break
        else:
            groups.append(((fw,), column))
    return groups


def staircase(op: str, sizes: Sequence[int], frameworks: Sequence[str] = FRAMEWORKS, **params: Any) -> Any:
    """A matplotlib Figure: output size against input size, one step line per group of frameworks
    that agree, refused sizes marked with x on the axis."""
    _, figure_class, canvas_class = _matplotlib()
    table = output_sizes(op, sizes, frameworks, **params)
    fig = figure_class(figsize=(7.5, 4.6), dpi=100)
    canvas_class(fig)
    ax = fig.add_subplot()
    groups = agreeing(table)
    lines = [i for i, (_, column) in enumerate(groups) if any(v is not None for v in column)]
    # lines that overlap where they agree are nudged apart a little (said in a footnote)
    offsets = [0.1 * (lines.index(i) - (len(lines) - 1) / 2) if i in lines and len(lines) > 1 else 0.0
               for i in range(len(groups))]
    for i, ((names, column), dy) in enumerate(zip(groups, offsets)):
        label = " = ".join(_LABELS.get(n, n) for n in names)
        xs = [n for n, v in zip(sizes, column) if v is not None]
        ys = [v + dy for v in column if v is not None]
        colour, marker = _COLOURS[i % len(_COLOURS)], _MARKERS[i % len(_MARKERS)]
        if xs:
            ax.step(xs, ys, where="post", color=colour, linewidth=1.6, label=label)
            ax.plot(xs, ys, linestyle="none", marker=marker, markersize=4, color=colour)
        refused = [n for n, v in zip(sizes, column) if v is None]
        if refused:
            ax.plot(refused, [-0.4 - 0.25 * i] * len(refused), linestyle="none", marker="x", color=colour,
                    markersize=5, label=f"{label}: refused")
    words = ", ".join(f"{k}={v}" for k, v in params.items())
    ax.set_title(f"{op} output size against input size ({words})", fontsize=11)
    ax.set_xlabel("input size n")
    ax.set_ylabel("output size")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, color="#dddddd", linewidth=0.6)
    ax.legend(fontsize=9, loc="upper left", frameon=False)
    if len(lines) > 1:
        fig.text(0.99, 0.01, "frameworks that agree share a line; lines are nudged up or down by 0.1 to stay visible",
                 ha="right", fontsize=8, color="#555555")
    fig.tight_layout()
    return fig


def rf_growth(trace: Trace) -> Any:
    """A matplotlib Figure: receptive field size (left axis) and effective stride (right axis, the
    jump) after each layer of a traced model, per spatial axis where the axes differ."""
    _, figure_class, canvas_class = _matplotlib()
    rows = [(f"{r.name} ({r.op})", r.receptive_field) for r in trace.layers if r.receptive_field is not None]
    if not rows:
        raise GeometryError("the trace has no layer with a receptive field", fix="trace a convolutional model")
    names = [n for n, _ in rows]
    axes_names = trace.spatial_axes or tuple(f"axis {a}" for a in range(len(rows[0][1].fields)))
    fig = figure_class(figsize=(max(7.0, 0.28 * len(rows) + 3), 4.8), dpi=100)
    canvas_class(fig)
    ax = fig.add_subplot()
    ax2 = ax.twinx()
    series = []
    for a, axis in enumerate(axes_names):
        sizes = [float(rf.fields[a].size) for _, rf in rows]
        strides = [float(rf.fields[a].stride) for _, rf in rows]
        whole = [rf.whole[a] for _, rf in rows]
        series.append((axis, sizes, strides, whole))
    if all(s[1:] == series[0][1:] for s in series):
        series = [("/".join(axes_names), *series[0][1:])]
    xs = list(range(len(rows)))
    for i, (axis, sizes, strides, whole) in enumerate(series):
        ax.plot(xs, sizes, color=_COLOURS[i * 2 % len(_COLOURS)], marker="o", markersize=3.5,
                label=f"receptive field size ({axis})")
        ax2.step(xs, strides, where="post", color=_COLOURS[(i * 2 + 1) % len(_COLOURS)], linestyle="--",
                 label=f"effective stride ({axis})")
        marked = [x for x, w in zip(xs, whole) if w]
        if marked:
            ax.plot(marked, [sizes[x] for x in marked], linestyle="none", marker="*", markersize=9, color="#d55e00",
                    label=f"whole input from here on ({axis})")
    ax.set_xticks(xs)
    ax.set_xticklabels(names, rotation=60, ha="right", fontsize=7 if len(rows) > 30 else 8)
    ax.set_ylabel("receptive field size (input cells)")
    ax2.set_ylabel("effective stride (jump)")
    ax.set_title(f"receptive field through {trace.model or 'the model'} (input {'x'.join(map(str, trace.input_shape))})",
                 fontsize=11)
    ax.grid(True, color="#dddddd", linewidth=0.6)
    handles = ax.get_legend_handles_labels()
    handles2 = ax2.get_legend_handles_labels()
    ax.legend(handles[0] + handles2[0], handles[1] + handles2[1], fontsize=8, loc="upper left", frameon=False)
    fig.tight_layout()
    return fig


def save(fig: Any, path: str) -> str:
    """Write ``fig`` as .png, .svg or .pdf with fixed metadata (byte-identical reruns)."""
    matplotlib, _, _ = _matplotlib()
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    metadata: dict[str, Optional[str]]
    if ext == "png":
        metadata = {"Software": None}
    elif ext == "svg":
        metadata = {"Date": None, "Creator": None}
    elif ext == "pdf":
        metadata = {"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None}
    else:
        raise GeometryError(f"cannot write a plot as {ext or 'a file without a suffix'!r}",
                            fix="name the file .png, .svg or .pdf")
    with matplotlib.rc_context({"svg.hashsalt": "convgeom", "svg.fonttype": "none"}):
        fig.savefig(path, metadata=metadata)
    return path


def staircase_text(op: str, sizes: Sequence[int], frameworks: Sequence[str] = FRAMEWORKS, **params: Any) -> str:
    """The staircase as a table, one column per group of frameworks that agree (terminal)."""
    groups = agreeing(output_sizes(op, sizes, frameworks, **params))
    headers = ["input"] + [" = ".join(names) for names, _ in groups]
    rows = [[str(n)] + ["refused" if col[i] is None else str(col[i]) for _, col in groups]
            for i, n in enumerate(sizes)]
    widths = [max(len(r[c]) for r in [headers] + rows) for c in range(len(headers))]
    lines = ["  ".join(h.rjust(w) for h, w in zip(headers, widths))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths)) for r in rows]
    return "\n".join(lines)


def rf_growth_text(trace: Trace) -> str:
    """Receptive field size and effective stride per layer and axis, as a table."""
    from fractions import Fraction

    def show(v: Fraction) -> str:
        return str(v.numerator) if v.denominator == 1 else str(v)

    rows = [(r.name, r.receptive_field) for r in trace.layers if r.receptive_field is not None]
    axes = trace.spatial_axes or tuple(f"axis{a}" for a in range(len(rows[0][1].fields) if rows else 0))
    headers = ["layer"] + [f"r {a}" for a in axes] + [f"S {a}" for a in axes]
    body = [[name] + [("whole" if rf.whole[a] else show(rf.fields[a].size)) for a in range(len(axes))]
            + [show(rf.fields[a].stride) for a in range(len(axes))] for name, rf in rows]
    widths = [max(len(r[c]) for r in [headers] + body) for c in range(len(headers))]
    return "\n".join("  ".join(v.ljust(w) if c == 0 else v.rjust(w) for c, (v, w) in enumerate(zip(r, widths)))
                     for r in [headers] + body)
