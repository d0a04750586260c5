"""What the page is sent, against the engine: the picture's sweep names exactly each window's
taps (from the engine's window starts) and exactly the SVG's cells, the diagnostics fire where
the geometry says they must, and the side-by-side rows are the engine's answers."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import convgeom as cg
from convgeom.cli.layer import compute
from convgeom.web import compare, picture

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))
FRAMEWORKS = ("torch", "tensorflow", "jax", "onnx")


@st.composite
def layers(draw: st.DrawFn) -> Any:
    ndim = draw(st.integers(1, 2))
    op = draw(st.sampled_from(["conv", "max_pool", "avg_pool", "conv_transpose"]))
    framework = draw(st.sampled_from(FRAMEWORKS))
    n = tuple(draw(st.integers(3, 9)) for _ in range(ndim))
    k = tuple(draw(st.integers(1, 4)) for _ in range(ndim))
    s = draw(st.integers(1, 3))
    padding = draw(st.sampled_from(["same", "valid"] if framework == "tensorflow" else
                                   [0, 1, "same", "valid", ((0, 1),) * ndim]))
    d = draw(st.integers(1, 2)) if op in ("conv", "conv_transpose") else 1
    extra: dict[str, Any] = {"ceil_mode": draw(st.booleans())} if op in ("max_pool", "avg_pool") else {}
    try:
        return getattr(cg, op)(n, k, s, padding, d, framework=framework, **extra) if op != "max_pool" or d == 1 \
            else None
    except (cg.GeometryError, TypeError):
        return None


def svg_cells(svg: str) -> dict[str, dict[str, dict[str, str]]]:
    """grid name -> data-pos -> the rect's attributes."""
    root = ET.fromstring(svg)
    out: dict[str, dict[str, dict[str, str]]] = {}
    for g in root.iter("{http://www.w3.org/2000/svg}g"):
        if "data-grid" in g.attrib:
            out[g.attrib["data-grid"]] = {r.attrib["data-pos"]: r.attrib for r in g.iter("{http://www.w3.org/2000/svg}rect")
                                          if "data-pos" in r.attrib}
    return out


@SETTINGS
@given(layers())
def test_sweep_is_the_engines_windows_and_names_only_drawn_cells(result: Any) -> None:
    if result is None or 0 in result.output:
        return
    data = picture.page_picture(result)
    sweep = data["sweep"]
    cells = svg_cells(data["svg"])
    assert sweep["shape"] == list(result.output)
    assert all(len(cells[name]) for name in (sweep["grid"], sweep["target"]))
    if result.op != "conv_transpose":  # windows over the padded input: start + pad_before + j * dilation
        for axis, (a, taps) in enumerate(zip(result.axes, sweep["taps"])):
            assert taps == [[a.window_start(i) + a.pad_before + j * a.dilation for j in range(a.kernel)]
                            for i in range(a.output)], axis
    for position in itertools.product(*(range(o) for o in result.output)):
        window = itertools.product(*(sweep["taps"][a][p] for a, p in enumerate(position)))
        for cell in window:
            assert ",".join(map(str, cell)) in cells[sweep["grid"]]
        target = tuple(p + o for p, o in zip(position, sweep["offset"]))
        assert ",".join(map(str, target)) in cells[sweep["target"]]
    assert not any("class" in attrs for grid in cells.values() for attrs in grid.values())


def test_transposed_sweep_matches_the_still_pictures_of_convgeom_draw() -> None:
    """The page's highlight of position p names the cells convgeom.draw marks for step p."""
    for result in (cg.conv_transpose((3, 4), 3, 2, 1, 1), cg.conv((5, 6), 3, 2, 1, 2), cg.max_pool(7, 3, 2, 1,
                                                                                                   ceil_mode=True)):
        sweep = picture.page_picture(result)["sweep"]
        for position in itertools.product(*(range(o) for o in result.output)):
            still = svg_cells(cg.draw(result, step=position))
            lit = {pos for pos, attrs in still[sweep["grid"]].items() if attrs.get("class") == "window"}
            window = {",".join(map(str, c)) for c in itertools.product(*(sweep["taps"][a][p]
                                                                          for a, p in enumerate(position)))}
            assert lit == window & set(still[sweep["grid"]]), position
            focus = [pos for pos, attrs in still[sweep["target"]].items() if attrs.get("class") == "focus"]
            assert focus == [",".join(str(p + o) for p, o in zip(position, sweep["offset"]))]


def test_paints_are_the_palettes() -> None:
    from convgeom.draw.palette import STYLES, lit_style

    paints = picture.paints()
    for role, key in paints["window"].items():
        assert key == lit_style("window", role) and paints["lit"][key]["stroke"] == STYLES[key].stroke


@pytest.mark.parametrize("result, side", [
    (cg.conv((64, 64), 3, 1, 1), 66), (cg.conv(200, 3), 200), (cg.conv_transpose(40, 4, 4), 4 * 39 + 8),
    (cg.max_pool(100, 3, 2, ceil_mode=True), 101), (cg.conv(10, 3, 10**12), 10),
])
def test_grid_sides_bound_the_drawn_grids(result: Any, side: int) -> None:
    sides = picture.grid_sides(result)
    assert max(sides) == side
    if max(sides) <= picture.MAX_PICTURE_AXIS:
        drawn = svg_cells(picture.page_picture(result)["svg"])
        for name, grid in drawn.items():
            shape = [max(int(p.split(",")[a]) for p in grid) + 1 for a in range(result.ndim)]
            assert max(shape) <= max(sides), name
    else:
        with pytest.raises(cg.GeometryError, match="cap of 160"):
            picture.page_picture(result)


@SETTINGS
@given(st.integers(1, 40), st.integers(1, 6), st.integers(1, 6), st.integers(0, 2))
def test_dropped_rows_are_reported_exactly_when_the_engine_drops_rows(n: int, k: int, s: int, p: int) -> None:
    try:
        result = cg.conv(n, k, s, p)
    except cg.GeometryError:
        return
    codes = [f["code"] for f in compare.findings(result)]
    assert ("dropped-input" in codes) == (result.axes[0].dropped > 0)
    assert ("gap" in codes) == (s > k)


@SETTINGS
@given(st.integers(1, 8), st.integers(1, 6), st.integers(1, 4))
def test_checkerboard_is_reported_exactly_when_the_kernel_is_not_a_multiple_of_the_stride(n: int, k: int, s: int) -> None:
    codes = [f["code"] for f in compare.findings(cg.conv_transpose(n, k, s))]
    assert ("checkerboard" in codes) == (s > 1 and k % s != 0)


def test_asymmetric_same_is_reported() -> None:
    codes = [f["code"] for f in compare.findings(cg.conv(8, 4, 1, "same", framework="tensorflow"))]
    assert "even-kernel-same" in codes
    codes = [f["code"] for f in compare.findings(cg.conv(8, 3, 2, "same", framework="tensorflow"))]
    assert "same-padding-differs" in codes


@SETTINGS
@given(layers())
def test_side_by_side_rows_are_the_engines_answers(result: Any) -> None:
    if result is None:
        return
    function = result.op
    p = result.padding
    padding: Any = (p.written or p.name) if p.kind == "string" else tuple(p.pairs)
    params = {"input": result.input, "kernel": result.kernel, "stride": result.stride, "padding": padding,
              "framework": result.framework}
    table = compare.side_by_side(function, params, compute)
    assert [row["framework"] for row in table["rows"]] == list(FRAMEWORKS)
    answers: dict[str, Any] = {}
    for row in table["rows"]:
        try:
            expected = getattr(cg, function)(**{**params, "framework": row["framework"]})
        except cg.GeometryError as err:
            assert row["error"] == str(err)
            answers[row["framework"]] = None
            continue
        assert row["output"] == list(expected.output)
        answers[row["framework"]] = (expected.output, expected.pad)
        assert (row["pad_before"], row["pad_after"]) == ([a.pad_before for a in expected.axes],
                                                         [a.pad_after for a in expected.axes])
    chosen = answers[result.framework]
    for row in table["rows"]:
        answer = answers[row["framework"]]
        differs = answer != chosen and not (answer is None and chosen is None)
        assert bool(row["differences"]) == differs, (row, chosen)
