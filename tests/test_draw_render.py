"""PNG, GIF and terminal pictures, the Python API, caps and byte-identical output."""

from __future__ import annotations

import io
import itertools
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

import convgeom as cg
from convgeom import GeometryError
from convgeom.draw import scene as scene_module
from convgeom.draw.build import pipeline_scene
from convgeom.draw.coverage import coverage_scene

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

from test_draw_svg import parse, with_class  # noqa: E402

LAYERS = [
    cg.conv((5, 5), 3, 2, 1),
    cg.conv(8, 3, 2, "same", framework="tensorflow"),
    cg.max_pool((6, 7), 3, 2, ceil_mode=True),
    cg.avg_pool(7, 3, 2, 1, count_include_pad=False),
    cg.conv((4, 5, 6), (2, 3, 2), (1, 2, 2), 1, framework="onnx"),
    cg.conv_transpose((3, 3), 3, 2, 1, 1),
    cg.unfold((6, 6), 2, 2),
]


def _frames(data: bytes) -> list[Image.Image]:
    gif = Image.open(io.BytesIO(data))
    frames = []
    for i in range(gif.n_frames):
        gif.seek(i)
        frames.append(gif.convert("RGB"))
    return frames


@pytest.mark.parametrize("layer", LAYERS, ids=lambda r: f"{r.op}-{r.framework}-{r.ndim}d")
def test_gif_has_one_frame_per_output_position(layer: cg.LayerGeometry, tmp_path: Path) -> None:
    path = cg.draw(layer, tmp_path / "a.gif")
    frames = _frames(Path(path).read_bytes())
    assert len(frames) == math.prod(layer.output)
    assert all(a.tobytes() != b.tobytes() for a, b in zip(frames, frames[1:]))  # every frame moves the window


def test_scatter_gif_has_one_frame_per_input_cell(tmp_path: Path) -> None:
    layer = cg.conv_transpose((2, 3), 2, 2)
    frames = _frames(Path(cg.draw(layer, tmp_path / "s.gif", mode="scatter")).read_bytes())
    assert len(frames) == 6


def test_gif_frame_shows_the_svg_highlight(tmp_path: Path) -> None:
    """Frame i of the GIF highlights the same window the SVG draws for step i (window colour)."""
    from convgeom.draw.layout import GIF_WIDTH_BUDGET, layout
    from convgeom.draw.palette import STYLES, rgb

    layer = cg.conv((6, 6), 3, 2, 1)
    scene = cg.draw.make_scene(layer)
    page = layout(scene, GIF_WIDTH_BUDGET)
    frames = _frames(Path(cg.draw(layer, tmp_path / "w.gif")).read_bytes())
    grid = page.grid("input")
    for index, step in enumerate(itertools.product(range(3), range(3))):
        taps = with_class(parse(cg.draw(layer, step=step))["input"], "window")
        for pos in itertools.product(range(8), range(8)):
            x, y = grid.corner(pos)
            pixel = frames[index].getpixel((int(x + grid.cell / 2), int(y + grid.cell / 4)))
            lit = pixel in (rgb(STYLES["window"].fill), rgb(STYLES["window-pad"].fill))
            assert lit == (pos in taps), (step, pos)


def test_same_input_same_bytes_in_a_fresh_interpreter(tmp_path: Path) -> None:
    code = (
        "import sys, convgeom as cg\n"
        "r = cg.conv((5, 6), 3, 2, 'same', framework='tensorflow')\n"
        "for ext in ('svg', 'png', 'gif', 'txt', 'json'):\n"
        "    cg.draw(r, sys.argv[1] + '/b.' + ext, values=True)\n"
        "cg.draw(cg.ops.seed_001(), sys.argv[1] + '/p.gif')\n"
    )
    r = cg.conv((5, 6), 3, 2, "same", framework="tensorflow")
    for ext in ("svg", "png", "gif", "txt", "json"):
        cg.draw(r, tmp_path / f"a.{ext}", values=True)
    cg.draw(cg.ops.seed_001(), tmp_path / "q.gif")
    env = {"PYTHONHASHSEED": "12345", "PYTHONPATH": str(Path(cg.__file__).parents[1])}
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    for ext in ("svg", "png", "gif", "txt", "json"):
        assert (tmp_path / f"a.{ext}").read_bytes() == (tmp_path / f"b.{ext}").read_bytes(), ext
    assert (tmp_path / "p.gif").read_bytes() == (tmp_path / "q.gif").read_bytes()


def test_png_is_the_svg_page() -> None:
    from convgeom.draw.layout import layout

    scene = pipeline_scene(cg.ops.seed_001())
    page = layout(scene)
    image = Image.open(io.BytesIO(cg.draw.api.render(scene, "png")))
    assert image.size == (page.width, page.height)
    big = Image.open(io.BytesIO(cg.draw.api.render(scene, "png", scale=2)))
    assert big.size == (2 * page.width, 2 * page.height)


def test_large_heat_map_is_an_image_with_the_counts(tmp_path: Path) -> None:
    """Above MAX_CELLS the coverage is one image: unread rows white, read cells from the ramp."""
    from convgeom.draw.palette import HEAT_RAMP, RASTER_PAD, STYLES, heat_colour, rgb

    layer = cg.conv((300, 260), 3, 4, 1)
    scene = coverage_scene(layer)
    assert not scene.grids[0].cells and scene.grids[0].heat is not None
    png = Image.open(io.BytesIO(cg.draw.api.render(scene, "png")))
    from convgeom.draw.layout import layout

    img = next(e for e in layout(scene).grids[0].extras if type(e).__name__ == "Image")
    rows, cols = layer.axes[0].coverage(), layer.axes[1].coverage()
    allowed = {rgb(c) for c in HEAT_RAMP}
    for r, c in [(0, 0), (1, 1), (2, 5), (150, 3), (299, 259), (7, 100), (301, 261)]:
        px = png.getpixel((int(img.x) + c * img.px, int(img.y) + r * img.py))
        if r in (0, 301) or c in (0, 261):
            assert px == rgb(RASTER_PAD)
            continue
        count = rows[r - 1] * cols[c - 1]
        want = rgb(heat_colour(count, scene.grids[0].heat.maximum)) if count else rgb(STYLES["unread"].fill)
        assert px == want and (count == 0 or px in allowed)
    # the SVG embeds the same image (written with zlib)
    svg = cg.draw(scene)
    assert svg.count("data:image/png;base64,") == 1 and 'data-grid="input"' in svg


def test_caps_refuse_before_building() -> None:
    with pytest.raises(GeometryError, match="cap of 65,536"):
        cg.draw(cg.conv((300, 300), 3))
    with pytest.raises(GeometryError, match="1,025 frames|cap of 1,024"):
        cg.draw.api.render(cg.draw.make_scene(cg.conv((33, 33), 3, 1, 1)), "gif")
    with pytest.raises(GeometryError, match="cap of 16,777,216"):
        coverage_scene(cg.conv((5000, 5000), 3))
    with pytest.raises(GeometryError, match="terminal picture"):
        cg.draw(cg.conv((70, 70), 3), "/dev/null", fmt="txt")
    for message in (str(e) for e in [GeometryError("x")]):
        assert "\n" not in message
    assert scene_module.MAX_CELLS == 65_536 and scene_module.MAX_FRAMES == 1_024


def test_one_line_errors_for_bad_arguments(tmp_path: Path) -> None:
    cases = [
        (lambda: cg.draw(cg.conv(5, 3), step=(3,)), "step 3 is outside"),
        (lambda: cg.draw(cg.conv(5, 3), step=(0, 0)), "outside"),
        (lambda: cg.draw(cg.conv(5, 3), tmp_path / "x.bmp"), "cannot write a picture as 'bmp'"),
        (lambda: cg.draw(cg.conv_transpose(3, 3), mode="sideways"), "unknown transposed"),
        (lambda: cg.draw(cg.conv_transpose(3, 3), values=True), "values are drawn"),
        (lambda: cg.draw(cg.conv((3, 3), 2), data=[[1, 2], [3, 4]]), "the data has shape 2 x 2"),
        (lambda: cg.draw(cg.conv((3, 3), 2), weight=[1, 2]), "the weight has shape 2"),
        (lambda: cg.draw(cg.adaptive_avg_pool(5, 2)), "LayerGeometry"),
        (lambda: cg.draw(cg.conv(5, 3), fmt="png"), "needs a file"),
    ]
    for call, text in cases:
        with pytest.raises((GeometryError, TypeError)) as info:
            call()
        assert text in str(info.value) and "\n" not in str(info.value)


def test_api_returns_svg_text_or_the_path(tmp_path: Path) -> None:
    svg = cg.draw(cg.conv(5, 3))
    assert svg.startswith("<svg") and svg.endswith("</svg>\n")
    from convgeom.draw import draw

    assert draw(cg.conv(5, 3)) == svg  # the typed spelling
    for ext in ("svg", "png", "gif", "txt", "json"):
        path = tmp_path / f"x.{ext}"
        assert cg.draw(cg.conv((4, 4), 3), path) == str(path) and path.stat().st_size > 0
    data = json.loads((tmp_path / "x.json").read_text())
    assert data["grids"][0]["shape"] == [4, 4] and data["frame"]["window"][0] == [0, 0]
    assert (tmp_path / "x.txt").read_text().startswith("convolution (PyTorch), 2-D: input 4 x 4")


def test_importing_draw_loads_no_heavy_package() -> None:
    code = ("import sys, convgeom, convgeom.draw\n"
            "convgeom.draw(convgeom.conv((5, 5), 3, 2, 1))\n"
            "print(sorted(m for m in ('PIL', 'matplotlib', 'rich', 'numpy') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(Path(cg.__file__).parents[1])})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_missing_pillow_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(GeometryError, match=r"pip install 'convgeom\[draw\]'"):
        cg.draw.api.render(cg.draw.make_scene(cg.conv(5, 3)), "png")


def test_text_is_never_below_10_px() -> None:
    import re

    for layer in LAYERS[:5] + [cg.conv((60, 60), 3, 1, 1)]:
        for svg in (cg.draw(layer), cg.draw(layer, coverage=True)):
            sizes = [float(v) for v in re.findall(r'font-size="([0-9.]+)"', svg)]
            assert sizes and min(sizes) >= 10


def test_palette_is_readable_in_greyscale() -> None:
    """Cells a picture puts side by side differ in lightness by at least 8 %, or in outline."""
    from convgeom.draw.palette import HEAT_RAMP, STYLES, luminance

    def grey(key: str) -> float:
        return luminance(STYLES[key].fill if STYLES[key].fill.startswith("#") else "#ffffff")

    neighbours = [("input", "pad"), ("input", "window"), ("pad", "window-pad"), ("window", "window-pad"),
                  ("output", "focus"), ("input", "overhang"), ("input", "pad-copy")]
    for a, b in neighbours:
        different_lines = (STYLES[a].dash, STYLES[a].hatch) != (STYLES[b].dash, STYLES[b].hatch)
        assert abs(grey(a) - grey(b)) >= 0.08 or different_lines, (a, b)
    ramp = [luminance(c) for c in HEAT_RAMP]
    assert ramp == sorted(ramp, reverse=True)  # darker means more windows, in greyscale too
