"""The SVG contract of ``convgeom.draw``, checked cell by cell.

For hundreds of random configurations in every framework dialect, the SVG is parsed and the
positions of its ``pad``, ``input``, ``overhang`` and ``output`` cells and the window's taps
are compared with what the geometry says, derived here from Dumoulin & Visin's formulas: input
cell ``i`` sits at padded coordinate ``i + pad_before``, window ``p`` reads ``p*s + j*d``, the
grid reaches ``(o-1)*s + e`` (ceil-mode overhang beyond ``n + pad_before + pad_after``). The
pads come from the frameworks themselves where possible: live PyTorch (the window's input
cells are exactly the support of the output's gradient) and the golden records of
TensorFlow, JAX and ONNX Runtime (``tests/golden``: output sizes and ``pad_before`` measured
from the frameworks' values).
"""

from __future__ import annotations

import itertools
import json
import random
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

import convgeom as cg
from convgeom import GeometryError

NS = "{http://www.w3.org/2000/svg}"
GOLDEN = Path(__file__).parent / "golden"
FRAMEWORKS = ("torch", "tensorflow", "jax", "onnx")
ROLES = {"input", "pad", "overhang", "output", "kernel"}


# ----- reading the SVG back (the contract, independent of convgeom's code) ------------------
def parse(svg: str) -> dict[str, dict[str, Any]]:
    """Per ``data-grid``: its shape and every cell as pos -> (role, class, [texts], fill)."""
    root = ET.fromstring(svg)
    grids: dict[str, dict[str, Any]] = {}
    for g in root.iter(f"{NS}g"):
        name = g.get("data-grid")
        if name is None:
            continue
        cells: dict[tuple[int, ...], tuple[str, str, list[str], str]] = {}
        for cell in g.findall(f"{NS}g"):
            rect = cell.find(f"{NS}rect")
            assert rect is not None and rect.get("data-role") in ROLES, ET.tostring(cell)
            pos = tuple(int(v) for v in rect.get("data-pos", "").split(","))
            assert pos not in cells, f"two cells at {pos} in grid {name}"
            texts = [t.text or "" for t in cell.findall(f"{NS}text")]
            cells[pos] = (rect.get("data-role", ""), rect.get("class", ""), texts, rect.get("data-fill", ""))
        grids[name] = {"shape": tuple(int(v) for v in g.get("data-shape", "").split(",")), "cells": cells}
    return grids


def with_role(grid: dict[str, Any], role: str) -> set[tuple[int, ...]]:
    return {p for p, (r, _, _, _) in grid["cells"].items() if r == role}


def with_class(grid: dict[str, Any], klass: str) -> set[tuple[int, ...]]:
    return {p for p, (_, k, _, _) in grid["cells"].items() if k == klass}


def box(*ranges: range) -> set[tuple[int, ...]]:
    return set(itertools.product(*ranges))


# ----- what the picture must show, from the layer's numbers ----------------------------------
def expected(n: tuple[int, ...], k: tuple[int, ...], s: tuple[int, ...], d: tuple[int, ...],
             pb: tuple[int, ...], pa: tuple[int, ...], o: tuple[int, ...], step: tuple[int, ...]) -> dict[str, Any]:
    e = [dd * (kk - 1) + 1 for kk, dd in zip(k, d)]
    length = [nn + b + a for nn, b, a in zip(n, pb, pa)]
    reach = [max(ln, (oo - 1) * ss + ee if oo else 0) for ln, oo, ss, ee in zip(length, o, s, e)]
    inputs = box(*(range(max(0, b), min(ln, b + nn)) for b, nn, ln in zip(pb, n, length)))
    padded = box(*(range(ln) for ln in length))
    taps = box(*(range(p * ss, p * ss + kk * dd, dd) for p, ss, kk, dd in zip(step, s, k, d)))
    return {"input": inputs, "pad": padded - inputs, "overhang": box(*(range(r) for r in reach)) - padded,
            "output": box(*(range(oo) for oo in o)), "taps": taps}


def check_picture(r: cg.LayerGeometry, step: tuple[int, ...], pad_before: tuple[int, ...] | None = None) -> None:
    """The SVG of ``r`` at ``step`` shows the cells and taps its numbers say."""
    svg = cg.draw(r, step=step)
    grids = parse(svg)
    want = expected(r.input, r.kernel, r.stride, r.dilation, pad_before or r.pad_before, r.pad_after, r.output, step)
    padded, out = grids["input"], grids["output"]
    for role in ("input", "pad", "overhang"):
        assert with_role(padded, role) == want[role], (role, r)
    assert with_role(out, "output") == want["output"]
    assert with_class(padded, "window") == want["taps"], r
    assert with_class(out, "focus") == {step}
    if r.op == "conv":
        assert with_role(grids["kernel"], "kernel") == box(*(range(kk) for kk in r.kernel))


# ----- random configurations in every dialect -----------------------------------------------
def random_layer(rng: random.Random, fw: str) -> tuple[cg.LayerGeometry, tuple[int, ...]] | None:
    ndim = rng.choice((1, 1, 2, 2, 2, 3))
    op = rng.choice(("conv", "conv", "max_pool", "avg_pool"))
    n = tuple(rng.randint(1, 9 if ndim < 3 else 5) for _ in range(ndim))
    k = tuple(rng.randint(1, 4) for _ in range(ndim))
    s = tuple(rng.randint(1, 3) for _ in range(ndim))
    d = tuple(rng.choice((1, 1, 2)) for _ in range(ndim))
    padding: Any = rng.choice(["valid", "same", "same_lower", "causal", "full", 0, 1, 2, "pairs"])
    if padding == "pairs":
        padding = tuple((rng.randint(0, 2), rng.randint(0, 2)) for _ in range(ndim))
    try:
        if op == "conv":
            r = cg.conv(n, k, s, padding, d, framework=fw)
        elif op == "max_pool":
            r = cg.max_pool(n, k, s, padding, d, ceil_mode=rng.random() < 0.4, framework=fw)
        else:
            r = cg.avg_pool(n, k, s, padding, ceil_mode=rng.random() < 0.4, framework=fw)
    except GeometryError:
        return None
    if 0 in r.output:
        return None
    return r, tuple(rng.randrange(o) for o in r.output)


@pytest.mark.parametrize("fw", FRAMEWORKS)
def test_cells_and_taps_match_the_geometry(fw: str) -> None:
    rng = random.Random(f"draw-{fw}")
    checked = 0
    overhangs = 0
    while checked < 250:
        drawn = random_layer(rng, fw)
        if drawn is None:
            continue
        r, step = drawn
        check_picture(r, step)
        checked += 1
        overhangs += any(a.output and (a.output - 1) * a.stride + a.effective_kernel > a.padded_input for a in r.axes)
    if fw in ("torch", "onnx"):  # ceil mode and ONNX's truncating pools drew some overhang
        assert overhangs >= 5


def _golden(fw: str) -> list[dict[str, Any]]:
    path = GOLDEN / f"{fw}.json"
    if not path.exists():
        pytest.skip(f"{path} missing")
    return json.loads(path.read_text())["records"]


def _golden_call(fw: str, rec: dict[str, Any]) -> cg.LayerGeometry:
    t = lambda v: None if v is None else tuple(v)  # noqa: E731
    p = rec["padding"]
    padding = p if isinstance(p, str) else tuple(tuple(x) for x in p)
    common = {"stride": t(rec["stride"]), "padding": padding, "framework": fw}
    if rec["op"] == "conv":
        return cg.conv(t(rec["input"]), t(rec["kernel"]), dilation=t(rec["dilation"]), **common)
    if rec["op"] == "max_pool":
        return cg.max_pool(t(rec["input"]), t(rec["kernel"]), dilation=t(rec["dilation"]),
                           ceil_mode=bool(rec["ceil_mode"]), **common)
    return cg.avg_pool(t(rec["input"]), t(rec["kernel"]), ceil_mode=bool(rec["ceil_mode"]),
                       count_include_pad=rec["count_include_pad"], dilation=t(rec["dilation"]), **common)


@pytest.mark.parametrize("fw", ("tensorflow", "jax", "onnx"))
def test_golden_records_draw_the_frameworks_pads_and_sizes(fw: str) -> None:
    """Output cells = the framework's measured output; input cells start at its measured pad_before."""
    rng = random.Random(f"golden-{fw}")
    records = [r for r in _golden(fw) if r["op"] in ("conv", "max_pool", "avg_pool") and "output" in r["result"]
               and isinstance(r["padding"], (str, list)) and all(v is not None for v in r["result"].get("pad_before") or [None])
               and 0 not in r["result"]["output"] and "onednn_off" not in r]
    sample = rng.sample(records, min(300, len(records)))
    assert len(sample) >= 200
    for rec in sample:
        r = _golden_call(fw, rec)
        measured = tuple(rec["result"]["pad_before"])
        assert r.output == tuple(rec["result"]["output"])
        step = tuple(rng.randrange(o) for o in r.output)
        check_picture(r, step, pad_before=measured)


# ----- live PyTorch: the window's input cells are what the output depends on -------------------
torch = pytest.importorskip("torch")


def _support(grad: Any) -> set[tuple[int, ...]]:
    return {tuple(int(v) for v in idx) for idx in torch.nonzero(grad[0, 0])}


def _small_layer(rng: random.Random, lo: int, hi: int) -> tuple[Any, ...]:
    """ndim (1 or 2) and per-axis input (lo..hi), kernel, stride, dilation, padding."""
    ndim = rng.choice((1, 2))
    return (ndim, tuple(rng.randint(lo, hi) for _ in range(ndim)), tuple(rng.randint(1, 4) for _ in range(ndim)),
            tuple(rng.randint(1, 3) for _ in range(ndim)), tuple(rng.choice((1, 2)) for _ in range(ndim)),
            tuple(rng.randint(0, 2) for _ in range(ndim)))


def test_window_input_cells_are_the_torch_gradient_support() -> None:
    rng = random.Random("torch-support")
    F = torch.nn.functional
    checked = 0
    while checked < 150:
        ndim, n, k, s, d, p = _small_layer(rng, 2, 9)
        pool = rng.random() < 0.4
        try:
            r = cg.avg_pool(n, k, s, p, ceil_mode=rng.random() < 0.5) if pool else cg.conv(n, k, s, p, d)
        except GeometryError:
            continue
        step = tuple(rng.randrange(o) for o in r.output)
        x = torch.ones((1, 1) + n, dtype=torch.float64, requires_grad=True)
        if pool:
            fn = (F.avg_pool1d, F.avg_pool2d)[ndim - 1]
            y = fn(x, k, s, p, ceil_mode=r.ceil_mode)
        else:
            fn = (F.conv1d, F.conv2d)[ndim - 1]
            y = fn(x, torch.ones((1, 1) + k, dtype=torch.float64), None, s, p, d)
        assert tuple(y.shape[2:]) == r.output
        y[(0, 0) + step].backward()
        grids = parse(cg.draw(r, step=step))
        window = with_class(grids["input"], "window") & with_role(grids["input"], "input")
        assert {tuple(g - b for g, b in zip(pos, r.pad_before)) for pos in window} == _support(x.grad), (r, step)
        checked += 1


def test_conv_transpose_views_match_torch() -> None:
    """Zeros inserted: output y's window reads exactly the input cells torch's y depends on.
    Scatter: input i's window covers exactly the output cells torch's x[i] writes."""
    rng = random.Random("torch-transpose")
    F = torch.nn.functional
    checked = 0
    while checked < 120:
        ndim, n, k, s, d, p = _small_layer(rng, 1, 5)
        op = tuple(rng.randint(0, max(ss, dd) - 1) for ss, dd in zip(s, d))
        try:
            r = cg.conv_transpose(n, k, s, p, op, d)
        except GeometryError:
            continue
        fn = (F.conv_transpose1d, F.conv_transpose2d)[ndim - 1]
        w = torch.ones((1, 1) + k, dtype=torch.float64)
        step = tuple(rng.randrange(o) for o in r.output)
        x = torch.ones((1, 1) + n, dtype=torch.float64, requires_grad=True)
        y = fn(x, w, None, s, p, op, 1, d)
        assert tuple(y.shape[2:]) == r.output
        y[(0, 0) + step].backward()
        grids = parse(cg.draw(r, step=step, mode="zeros-inserted"))
        stretched = grids["input"]
        border = [a.effective_kernel - 1 - a.pad_before for a in r.axes]
        window = with_class(stretched, "window") & with_role(stretched, "input")
        got = {tuple((g - b) // a.stride for g, b, a in zip(pos, border, r.axes)) for pos in window}
        assert got == _support(x.grad), (r, step)
        assert with_role(grids["output"], "output") == box(*(range(o) for o in r.output))

        i = tuple(rng.randrange(v) for v in n)
        one_hot = torch.zeros((1, 1) + n, dtype=torch.float64)
        one_hot[(0, 0) + i] = 1.0
        written = _support(fn(one_hot, w, None, s, p, op, 1, d))
        grids = parse(cg.draw(r, step=i, mode="scatter"))
        full = grids["output"]
        lo = [min(0, a.pad_before) for a in r.axes]
        kept = with_class(full, "window") & with_role(full, "output")
        assert {tuple(g + low - a.pad_before for g, low, a in zip(pos, lo, r.axes)) for pos in kept} == written
        assert with_class(grids["input"], "focus") == {i}
        assert len(with_role(full, "output")) == len(box(*(range(o) for o in r.output)))
        checked += 1


def test_values_are_torch_outputs() -> None:
    """--values: the output cells show what torch computes, the padded cells what F.pad makes."""
    F = torch.nn.functional
    rng = random.Random("values")
    for _ in range(40):
        n = (rng.randint(3, 6), rng.randint(3, 6))
        k = (rng.randint(1, 3), rng.randint(1, 3))
        s, p = rng.randint(1, 2), rng.randint(0, 1)
        mode = rng.choice(("zeros", "reflect", "replicate", "circular"))
        r = cg.conv(n, k, s, p, padding_mode=mode)
        data = [[rng.randint(-9, 9) for _ in range(n[1])] for _ in range(n[0])]
        weight = [[rng.randint(-3, 3) for _ in range(k[1])] for _ in range(k[0])]
        grids = parse(cg.draw(r, data=data, weight=weight))
        x = torch.tensor(data, dtype=torch.float64)[None, None]
        w = torch.tensor(weight, dtype=torch.float64)[None, None]
        padded = F.pad(x, (p, p, p, p), mode="constant" if mode == "zeros" else mode)
        want = F.conv2d(padded, w, stride=s)
        for pos, (_, _, texts, _) in grids["output"]["cells"].items():
            assert texts[0] == str(int(want[(0, 0) + pos])), (pos, r)
        for pos, (_, _, texts, _) in grids["input"]["cells"].items():
            assert texts[0] == str(int(padded[(0, 0) + pos])), (pos, mode)


def test_coverage_counts_are_torch_gradient_counts() -> None:
    """With an all-ones kernel, d(sum of outputs)/d(input cell) counts the windows reading it."""
    F = torch.nn.functional
    rng = random.Random("coverage")
    for _ in range(40):
        n = (rng.randint(3, 12), rng.randint(3, 12))
        k, s, d, p = rng.randint(1, 3), rng.randint(1, 4), rng.randint(1, 2), rng.randint(0, 1)
        try:
            r = cg.conv(n, k, s, p, d)
        except GeometryError:
            continue
        x = torch.ones((1, 1) + n, dtype=torch.float64, requires_grad=True)
        F.conv2d(x, torch.ones(1, 1, k, k, dtype=torch.float64), None, s, p, d).sum().backward()
        grids = parse(cg.draw(r, coverage=True))
        cells = grids["input"]["cells"]
        for i, j in itertools.product(range(n[0]), range(n[1])):
            role, _, texts, _ = cells[(i + p, j + p)]
            assert role == "input" and texts == [str(int(x.grad[0, 0, i, j]))]
        assert len(with_role(grids["input"], "pad")) == (n[0] + 2 * p) * (n[1] + 2 * p) - n[0] * n[1]


def test_pad_copies_name_the_cell_torch_copies() -> None:
    """F.pad pictures: each padded cell's value is torch's, and a copy names its source cell."""
    F = torch.nn.functional
    from convgeom.draw.build import pad_scene

    for mode in ("reflect", "replicate", "circular", "zeros", "constant"):
        for pads in (((1, 2), (2, 0)), ((2, 2), (1, 1)), ((0, 1), (2, 2))):
            data = [[10 * r + c for c in range(4)] for r in range(3)]
            svg = cg.draw(pad_scene(data, pads, mode, 7.0 if mode == "constant" else 0.0))
            grids = parse(svg)["input"]
            torch_pads = (pads[1][0], pads[1][1], pads[0][0], pads[0][1])
            x = torch.tensor(data, dtype=torch.float64)[None, None]
            want = F.pad(x, torch_pads, mode="constant" if mode in ("zeros", "constant") else mode,
                         value=7.0 if mode == "constant" else 0.0)[0, 0]
            for pos, (role, _, texts, fill) in grids["cells"].items():
                assert texts[0] == str(int(want[pos]))
                if role == "pad" and mode in ("reflect", "replicate", "circular"):
                    value = int(want[pos])
                    assert texts[1] == f"[{value // 10},{value % 10}]" and fill == mode


def test_receptive_field_is_the_gradient_support_of_the_unit() -> None:
    nn = torch.nn
    model = nn.Sequential(nn.Conv2d(1, 1, 3, 2, 1, bias=False), nn.Conv2d(1, 1, 3, 1, 1, bias=False),
                          nn.AvgPool2d(2), nn.Conv2d(1, 1, (3, 1), 1, (0, 1), dilation=2, bias=False))
    for m in model:
        if isinstance(m, nn.Conv2d):
            nn.init.ones_(m.weight)
    from convgeom.draw.receptive import rf_scene

    t = cg.trace(model, (1, 1, 23, 19))
    # units whose paths stay inside every intermediate tensor (Araujo et al.'s field of a unit
    # that reads an intermediate padding cell still counts the input cells behind that cell)
    for layer, unit in (("0", (3, 4)), ("0", (0, 0)), ("1", (0, 0)), ("3", (1, 1)), ("3", (0, 3))):
        x = torch.ones(1, 1, 23, 19, requires_grad=True)
        y = model[: int(layer) + 1](x)
        y[(0, 0) + unit].backward()
        scene = rf_scene(t, layer, unit)
        grids = parse(cg.draw(scene))
        assert with_class(grids["output"], "focus") == {unit}
        window = with_class(grids["input"], "window") & with_role(grids["input"], "input")
        shift = scene.sweep.shift
        assert {tuple(g + sh for g, sh in zip(pos, shift)) for pos in window} == _support(x.grad), (layer, unit)
