"""``convgeom shape``: output size and per-side padding of one layer, as a table or JSON."""

from __future__ import annotations

from . import layer

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see convgeom/__init__.py)
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

add_arguments = layer.add_arguments


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Right-aligned columns under a header and a rule."""
    cells = [list(map(str, headers))] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def fmt(r: list[str]) -> str:
        return "  ".join(c.rjust(w) for c, w in zip(r, widths))

    return "\n".join([fmt(cells[0]), fmt(["-" * w for w in widths])] + [fmt(r) for r in cells[1:]])


def run(args: argparse.Namespace) -> int:
    from ..explanation import explain, output_formula
    from ..geometry import LayerGeometry

    if args.json:
        import json

        print(json.dumps(layer.shape_json(vars(args))))
        return 0
    result = layer.compute(*layer.layer_params(args))
    if not isinstance(result, LayerGeometry):
        print(explain(result))
        return 0
    rows = [(i, a.input, a.kernel, a.stride, a.dilation, a.pad_before, a.pad_after, a.output)
            for i, a in enumerate(result.axes)]
    side = "crop" if result.op == "conv_transpose" else "pad"
    print(f"{result.op} [{result.framework}]: input {result.input} -> output {result.output}")
    print(table(["axis", "input", "kernel", "stride", "dilation", f"{side} before", f"{side} after", "output"], rows))
    for i, a in enumerate(result.axes):
        print(f"axis {i}: output = {output_formula(a)}")
    return 0
