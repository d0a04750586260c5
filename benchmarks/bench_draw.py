"""convgeom.draw against what a Python user would otherwise write, in one process, tools taking
turns (the first to run in a round alternates).

* SVG of a 32x32 input and its 16x16 output (conv k3 s2 p1): ``convgeom.draw(result)`` (scene,
  layout, SVG text) vs the same grids as matplotlib ``Rectangle`` patches saved as SVG.
* Animated GIF with 256 frames (one per output position of the same layer): ``convgeom.draw(result,
  "x.gif")`` vs ``matplotlib.animation.FuncAnimation`` recolouring the patches, ``PillowWriter``.
* Coverage heat map of a 1024x1024 input (conv k3 s2): ``convgeom.draw(result, "x.png",
  coverage=True)`` (counts from the engine, image with Pillow) vs NumPy counts (``np.outer`` of
  the per-axis coverage, as fast as it gets) and ``matplotlib imshow`` + ``savefig``.

    python benchmarks/bench_draw.py                     # print the table
    python benchmarks/bench_draw.py --write BENCHMARKS.md   # also (re)write its section there
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

SECTION = "## Pictures (convgeom.draw)"
BEGIN, END = "<!-- bench_draw.py:begin -->", "<!-- bench_draw.py:end -->"
TARGETS = {"svg": 0.050, "gif": 2.0, "heat": 1.0}


def _matplotlib_grids(ax, result, cell=1.0):  # type: ignore[no-untyped-def]
    """The picture a user would draw by hand: padded input, kernel and output as patches."""
    from matplotlib.patches import Rectangle

    a0, a1 = result.axes
    rows, cols = a0.padded_input, a1.padded_input
    patches = {}
    for r in range(rows):
        for c in range(cols):
            inside = a0.pad_before <= r < a0.pad_before + a0.input and a1.pad_before <= c < a1.pad_before + a1.input
            p = Rectangle((c, -r), cell, cell, facecolor="#a9d3f0" if inside else "#f1f1f1", edgecolor="#2b6a99")
            ax.add_patch(p)
            patches[("in", r, c)] = p
    for r in range(result.kernel[0]):
        for c in range(result.kernel[1]):
            ax.add_patch(Rectangle((cols + 2 + c, -r), cell, cell, facecolor="#a8e0cc", edgecolor="#00694d"))
    for r in range(result.output[0]):
        for c in range(result.output[1]):
            p = Rectangle((cols + 7 + c, -r), cell, cell, facecolor="#f6d38d", edgecolor="#a66f00")
            ax.add_patch(p)
            patches[("out", r, c)] = p
    ax.set_xlim(-1, cols + 8 + result.output[1])
    ax.set_ylim(-rows - 1, 2)
    ax.set_aspect("equal")
    ax.axis("off")
    return patches


def matplotlib_svg(result, path: str) -> None:  # type: ignore[no-untyped-def]
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 8))
    FigureCanvasAgg(fig)
    _matplotlib_grids(fig.add_subplot(), result)
    fig.savefig(path, format="svg")


def matplotlib_gif(result, path: str) -> None:  # type: ignore[no-untyped-def]
    from matplotlib.animation import FuncAnimation, PillowWriter
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 8), dpi=100)
    FigureCanvasAgg(fig)
    patches = _matplotlib_grids(fig.add_subplot(), result)
    a0, a1 = result.axes
    positions = [(i, j) for i in range(result.output[0]) for j in range(result.output[1])]
    lit: list = []

    def frame(n: int) -> list:
        for p in lit:
            p.set_facecolor(p.base)
        lit.clear()
        i, j = positions[n]
        for r in range(i * a0.stride, i * a0.stride + a0.kernel):
            for c in range(j * a1.stride, j * a1.stride + a1.kernel):
                p = patches[("in", r, c)]
                p.base = p.get_facecolor()
                p.set_facecolor("#0072b2")
                lit.append(p)
        p = patches[("out", i, j)]
        p.base = p.get_facecolor()
        p.set_facecolor("#d55e00")
        lit.append(p)
        return lit

    FuncAnimation(fig, frame, frames=len(positions), blit=False).save(path, writer=PillowWriter(fps=2))


def matplotlib_heat(result, path: str) -> None:  # type: ignore[no-untyped-def]
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    counts = np.outer(np.asarray(result.axes[0].coverage()), np.asarray(result.axes[1].coverage()))
    fig = Figure(figsize=(10.24, 10.24), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.imshow(counts, cmap="Blues", interpolation="nearest")
    ax.axis("off")
    fig.savefig(path, format="png")


def _time(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def run(repeats: int, gif_repeats: int, alt_gif_repeats: int) -> list[dict[str, object]]:
    import convgeom as cg

    layer = cg.conv((32, 32), 3, 2, 1)
    big = cg.conv((1024, 1024), 3, 2)
    tmp = tempfile.mkdtemp(prefix="bench_draw_")
    cases = [
        ("svg", "SVG, 32x32 -> 16x16 conv (k3 s2 p1)", (repeats, repeats),
         lambda: cg.draw(layer), lambda: matplotlib_svg(layer, os.path.join(tmp, "m.svg")),
         "matplotlib Rectangle patches, savefig SVG"),
        ("gif", "GIF, 256 frames (one per output position), same layer", (gif_repeats, alt_gif_repeats),
         lambda: cg.draw(layer, os.path.join(tmp, "c.gif")), lambda: matplotlib_gif(layer, os.path.join(tmp, "m.gif")),
         "matplotlib FuncAnimation + PillowWriter"),
        ("heat", "coverage heat map, 1024x1024 input (conv k3 s2), PNG", (repeats, repeats),
         lambda: cg.draw(big, os.path.join(tmp, "c.png"), coverage=True),
         lambda: matplotlib_heat(big, os.path.join(tmp, "m.png")),
         "NumPy np.outer of the coverage + matplotlib imshow, savefig PNG"),
    ]
    rows = []
    for key, what, reps, ours, theirs, other in cases:
        ours()
        if key != "gif":
            theirs()  # warm-up: imports, font caches (matplotlib's animation is warm after the SVG case)
        t_ours: list[float] = []
        t_theirs: list[float] = []
        for i in range(max(reps)):
            pair = [(t_ours, ours, reps[0]), (t_theirs, theirs, reps[1])]
            for bucket, call, wanted in (pair if i % 2 == 0 else pair[::-1]):
                if len(bucket) < wanted:
                    bucket.append(_time(call))
        rows.append({"key": key, "what": what, "reps": f"{reps[0]} / {reps[1]}", "ours": statistics.median(t_ours),
                     "ours_min": min(t_ours), "theirs": statistics.median(t_theirs), "other": other})
        print(f"{key}: convgeom {statistics.median(t_ours) * 1000:.0f} ms, alternative "
              f"{statistics.median(t_theirs) * 1000:.0f} ms", file=sys.stderr, flush=True)
    return rows


def table(rows: list[dict[str, object]], command: str) -> str:
    load_before = getattr(table, "load_before", None)
    lines = [
        f"Produced by `{command}` (medians; convgeom and the alternative take turns, each after a warm-up).",
        "",
        "| picture | runs (convgeom / alternative) | convgeom.draw median (min) | target | alternative | alternative median | ratio alternative/convgeom |",
        "|---|---:|---:|---:|---|---:|---:|",
    ]
    for r in rows:
        ours, theirs = float(r["ours"]), float(r["theirs"])  # type: ignore[arg-type]
        lines.append(
            f"| {r['what']} | {r['reps']} | {ours * 1000:.0f} ms ({float(r['ours_min']) * 1000:.0f} ms) "  # type: ignore[arg-type]
            f"| < {TARGETS[str(r['key'])] * 1000:.0f} ms | {r['other']} | {theirs * 1000:.0f} ms | {theirs / ours:.1f}x |"
        )
    import matplotlib
    import PIL

    load_after = os.getloadavg()
    lines += [
        "",
        f"- Python {platform.python_version()}, Pillow {PIL.__version__}, matplotlib {matplotlib.__version__}, "
        f"{platform.machine()} with {os.cpu_count()} CPUs",
        f"- load average (1, 5, 15 min) before: {', '.join(f'{v:.2f}' for v in load_before or ())}; "
        f"after: {', '.join(f'{v:.2f}' for v in load_after)} (a shared machine: other jobs slow both sides)",
    ]
    return "\n".join(lines)


def write_section(path: Path, body: str) -> None:
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    block = f"{SECTION}\n\n{BEGIN}\n{body}\n{END}\n"
    if BEGIN in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        text = head + BEGIN + "\n" + body + "\n" + END + tail
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=15, help="timed runs of the SVG and heat map cases")
    parser.add_argument("--gif-repeats", type=int, default=3,
                        help="timed runs of the GIF case (matplotlib's animation takes minutes under load)")
    parser.add_argument("--alt-gif-repeats", type=int, default=1,
                        help="timed runs of matplotlib's GIF (minutes each on a busy machine)")
    parser.add_argument("--write", metavar="FILE", help=f"replace the section '{SECTION}' of FILE")
    args = parser.parse_args()
    table.load_before = os.getloadavg()  # type: ignore[attr-defined]
    rows = run(args.repeats, args.gif_repeats, args.alt_gif_repeats)
    command = "python benchmarks/bench_draw.py" + (f" --repeats {args.repeats}" if args.repeats != 15 else "") + (
        f" --gif-repeats {args.gif_repeats}" if args.gif_repeats != 3 else "") + (
        f" --alt-gif-repeats {args.alt_gif_repeats}" if args.alt_gif_repeats != 1 else "")
    body = table(rows, command)
    print(body)
    if args.write:
        write_section(Path(args.write), body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
