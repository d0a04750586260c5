"""Terminal grids: the ones ``convgeom trace-op`` and ``convgeom explain`` print, and colour."""

from __future__ import annotations

import re

import pytest

import convgeom as cg
from convgeom.draw.terminal import render, render_geometry

np = pytest.importorskip("numpy")
torch = pytest.importorskip("torch")
F = torch.nn.functional


def _grid_after(lines: list[str], heading: str, rows: int) -> np.ndarray:
    start = next(i for i, line in enumerate(lines) if line.startswith(heading))
    body = [line for line in lines[start + 1:] if line.startswith("  ") and not line.startswith("  window")][:rows]
    return np.array([[float(v) for v in line.split()] for line in body])


def test_trace_op_grids_are_the_traced_arrays_and_torch_output() -> None:
    rng = np.random.default_rng(7)
    x = rng.integers(-5, 6, (1, 1, 6, 7)).astype(np.float64)
    w = rng.integers(-2, 3, (1, 1, 3, 2)).astype(np.float64)
    trace = cg.ops.trace_conv(x, w, stride=(2, 1), padding=1)
    text = trace.render()
    lines = text.splitlines()
    assert np.array_equal(_grid_after(lines, "1 Input image", 6), x[0, 0])
    assert np.array_equal(_grid_after(lines, "2 Apply padding", 8), trace.padded[0, 0])
    want = F.conv2d(torch.tensor(x), torch.tensor(w), stride=(2, 1), padding=1).numpy()[0, 0]
    assert np.array_equal(_grid_after(lines, "4 Output", want.shape[0]), want)
    assert text.count("  window (") == want.size
    # each window: its values grid equals the padded cells it reads, its sum the output cell
    for w_step in trace.windows:
        head = f"  window ({','.join(map(str, w_step.position))}):"
        i = next(k for k, line in enumerate(lines) if line.startswith(head))
        assert lines[i + 1].split() == ["values", "products"]
        rows = [line.split() for line in lines[i + 2:i + 5]]
        values = np.array([[float(v) for v in r[:2]] for r in rows])
        assert np.array_equal(values, w_step.values[0])
        assert lines[i + 5] == f"    sum = {int(w_step.total)} -> {int(want[w_step.position])}"


def test_trace_op_pools_and_batches() -> None:
    x = np.arange(2 * 3 * 5.0).reshape(1, 2, 3, 5)
    text = cg.ops.trace_avg_pool(x, 2, 2, 1, count_include_pad=False).render(max_windows=2)
    assert "[image 0, channel 1]" in text and "... " in text and "/ " in text
    assert "max = " in cg.ops.trace_max_pool(x, 2).render()
    one_d = cg.ops.trace_conv(np.arange(5.0)[None, None], np.ones((1, 1, 3)), stride=2).render()
    assert "  0 1 2 3 4" in one_d.splitlines()


def test_explain_grids_bracket_the_taps() -> None:
    text = render_geometry(cg.conv(8, 3, 2, "same", framework="tensorflow"), step=(3,))
    lines = text.splitlines()
    assert lines[0] == "output (3) reads input cols 6..8"
    # taps 6 and 7 are input cells, tap 8 the extra padding cell TensorFlow puts after
    assert lines[2] == " o  o  o  o  o  o [o][o][0]"
    huge = render_geometry(cg.conv((200, 200), 3), fit=True)
    assert huge.startswith("(grids not drawn:") and "\n" not in huge


def test_dilation_holes_are_not_taps() -> None:
    text = render_geometry(cg.conv(9, 3, dilation=3))
    assert text.splitlines()[2].split() == ["[o]", "o", "o", "[o]", "o", "o", "[o]", "o", "o"]


def test_colour_only_with_rich() -> None:
    pytest.importorskip("rich")
    scene = cg.draw.make_scene(cg.conv((4, 4), 3, 1, 1))
    coloured = render(scene, color=True)
    plain = render(scene)
    assert "\x1b[" in coloured and "\x1b[" not in plain
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured).split() == plain.split()


def test_render_geometry_for_explain_never_raises_with_fit() -> None:
    """What `convgeom explain` prints under its derivation: grids, a note, or nothing."""
    import random

    rng = random.Random("explain")
    shown = 0
    for _ in range(400):
        fw = rng.choice(("torch", "tensorflow", "jax", "onnx"))
        ndim = rng.choice((1, 2, 3))
        n = tuple(rng.randint(1, 40) for _ in range(ndim))
        try:
            r = rng.choice((cg.conv, cg.max_pool))(n, rng.randint(1, 5), rng.randint(1, 3),
                                                   rng.choice(("valid", "same", 0, 1)), framework=fw)
        except cg.GeometryError:
            continue
        text = render_geometry(r, fit=True)
        assert text.startswith("(grids not drawn:") or "legend:" in text
        shown += "legend:" in text
    assert shown > 50
    assert render_geometry(cg.adaptive_avg_pool(5, 2), fit=True) == ""
    assert "output 0 x 0" in render_geometry(cg.conv((2, 2), 3, framework="jax"), fit=True)
    with pytest.raises(TypeError):
        render_geometry(cg.interpolate(4, 8))
