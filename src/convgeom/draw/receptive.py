"""The receptive field of one unit of a traced model's layer, drawn on the model input
(Araujo, Norris & Sim, Distill 2019): the cells the unit sees, the part of them lying in the
padding, and the centres of its neighbours (the effective stride grid).

Unit ``u`` of a layer with receptive field size ``r``, effective stride ``S`` and effective
padding ``P`` sees input cells ``u*S - P .. u*S - P + r - 1`` on each axis (rounded outwards
where upsampling makes them fractional); every number comes from :func:`convgeom.trace`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Optional

from ..errors import GeometryError
from .build import grouped, shape_text
from .scene import Cell, Grid, Scene, Sweep, check_cells, pos_text

if TYPE_CHECKING:
    from ..tracing import Trace


def _show(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else str(value)


def _layer(trace: Trace, name: str) -> Any:
    try:
        return trace.layer(name)
    except KeyError:
        names = [r.name for r in trace.layers if r.receptive_field is not None]
        shown = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
        raise GeometryError(f"the traced model has no layer {name!r}", fix=f"use one of: {shown}") from None


def _spans(sizes: tuple[int, ...], outs: tuple[int, ...], rf: Any,
           only_last: bool = False) -> list[list[tuple[int, int]]]:
    """Per axis, the first and last input cell each unit sees: ``u*S - P .. u*S - P + r - 1``
    rounded outwards (the whole input on an axis a layer mixed away); ``only_last``: the last
    unit's alone."""
    spans = []
    for n, o, f, whole in zip(sizes, outs, rf.fields, rf.whole):
        units = range(o - 1, o) if only_last else range(o)
        if whole:
            spans.append([(0, n - 1)] * len(units))
        else:
            spans.append([(math.floor(u * f.stride - f.padding), math.ceil(u * f.stride - f.padding + f.size - 1))
                          for u in units])
    return spans


def rf_scene(trace: Trace, layer: str, unit: Optional[Sequence[int]] = None) -> Scene:
    """The receptive field of ``unit`` (output position of ``layer``, default the middle one)
    on the model input, with every unit's field one frame of an animation."""
    rec = _layer(trace, layer)
    rf = rec.receptive_field
    if rf is None or rec.output_shape is None:
        raise GeometryError(f"layer {layer!r} has no receptive field (its output is not a spatial tensor)",
                            fix="pick a convolution or pooling layer (see convgeom trace)")
    sizes = tuple(trace.input_shape[d] for d in trace.input_spatial_dims)
    outs = tuple(1 if d is None else rec.output_shape[d] for d in rf.dims)
    if len(sizes) != len(rf.fields) or not 1 <= len(sizes) <= 3:
        raise GeometryError(f"cannot draw a receptive field over {len(sizes)} spatial axes",
                            fix="trace a model with 1-D to 3-D spatial input")
    position = tuple(o // 2 for o in outs) if unit is None else tuple(unit)
    # the spans move right with the unit (stride > 0): the first and last unit bound the picture,
    # so its size is checked before any unit's span is listed
    ends = _spans(sizes, (1,) * len(outs), rf), _spans(sizes, outs, rf, only_last=True)
    lows = [min(0, first[0][0]) for first in ends[0]]
    highs = [max(n - 1, last[0][1]) for n, last in zip(sizes, ends[1])]
    extents = tuple(hi - lo + 1 for lo, hi in zip(lows, highs))
    check_cells(math.prod(extents) + math.prod(outs), f"the receptive field of layer {layer!r}")
    spans = _spans(sizes, outs, rf)
    cells = tuple(
        Cell(p, "input" if all(0 <= g + lo < n for g, lo, n in zip(p, lows, sizes)) else "pad")
        for p in itertools.product(*(range(e) for e in extents)))
    marks = tuple(
        tuple(Fraction(n - 1, 2) - lo for _ in range(1)) if whole else
        tuple(u * f.stride - f.padding + (f.size - 1) / 2 - lo for u in range(o))
        for n, o, f, whole, lo in zip(sizes, outs, rf.fields, rf.whole, lows))
    taps = tuple(tuple(tuple(range(a - lo, b - lo + 1)) for a, b in s) for s, lo in zip(spans, lows))
    before = [-lo for lo in lows]
    title = f"model input {shape_text(sizes)}" + (
        f", padded coordinates (the fields reach {shape_text(tuple(before))} before)" if any(before) else "")
    grids = (
        Grid("input", title, extents, cells, marks=marks),
        Grid("output", f"layer {layer} output {shape_text(outs)}", outs,
             tuple(Cell(p, "output") for p in itertools.product(*(range(o) for o in outs)))),
    )
    sweep = Sweep("input", "output", outs, taps, (0,) * len(outs), noun="unit", template="{noun} ({pos}) sees {where}",
                  shift=tuple(lows))
    sweep.check(position)
    labels = grouped(len(sizes), [
        "the whole input (mixed by global pooling, flatten or a linear layer)" if whole else
        f"size r = {_show(f.size)}, effective stride S = {_show(f.stride)}, effective padding P = {_show(f.padding)}; "
        f"unit u sees u*S - P .. u*S - P + r - 1"
        for f, whole in zip(rf.fields, rf.whole)])
    labels.append("dots: the centres of all units' fields (u*S - P + (r-1)/2), one effective stride apart")
    if not rf.exact:
        labels.append("approximate: a layer on the way is not known exactly (see convgeom trace's findings)")
    head = f"receptive field of layer {layer} ({rec.type}), unit ({pos_text(position)}), {trace.framework} model"
    meanings = (("window", "the unit's receptive field"), ("focus", "the unit"),
                ("outline", "receptive field"), ("pad", "outside the input (the model's padding)"),
                ("stride-mark", "field centres of all units (effective stride)"))
    return Scene("rf", head, len(sizes), grids, tuple(labels), sweep, position, meanings=meanings)
