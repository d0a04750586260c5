"""Pictures refuse over their caps from the sizes alone, before building anything: the window
scene counts its cells in O(1) (and the count is exactly what the scene then builds), pictures
with values check the cap before making the default data and the ops trace, coverage heat maps
check theirs before computing any coverage line.

The big cases run in a child process with an address-space limit and a hang guard
(tests/_fuzz.py; far above what a refusal needs: not a timing assertion)."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import convgeom
from _fuzz import run_child
from convgeom import GeometryError
from convgeom.draw import MAX_CELLS, MAX_HEAT_CELLS
from convgeom.draw.build import window_cells, window_scene

#: a hang detector for the child running the big cases: far above its cost
HANG_GUARD_S = 300


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["conv", "max_pool", "avg_pool", "unfold"]), st.lists(st.integers(1, 9), min_size=1, max_size=2),
       st.integers(1, 4), st.integers(1, 3), st.integers(1, 2), st.integers(0, 2), st.booleans(), st.booleans())
def test_window_cells_is_what_the_scene_builds(op: str, input: list[int], k: int, s: int, d: int, p: int,
                                               ceil_mode: bool, image: bool) -> None:
    kwargs = {"ceil_mode": ceil_mode} if op in ("max_pool", "avg_pool") else {}
    try:
        result = getattr(convgeom, op)(tuple(input), k, s, p, d, **kwargs) if op != "avg_pool" else \
            convgeom.avg_pool(tuple(input), k, s, p, **kwargs)
        scene = window_scene(result, image=image)
    except GeometryError:
        assume(False)
        raise
    assert window_cells(result, image=image) == sum(len(g.cells) for g in scene.grids)


def test_a_huge_window_picture_is_refused_with_the_cells_counted() -> None:
    with pytest.raises(GeometryError, match=f"19,999,600,013 cells, more than the cap of {MAX_CELLS:,}"):
        convgeom.draw(convgeom.conv((100_000, 100_000), 3))


def test_a_huge_coverage_map_is_refused_by_its_own_cap() -> None:
    with pytest.raises(GeometryError, match=f"coverage heat map .* cap of {MAX_HEAT_CELLS:,}"):
        convgeom.draw(convgeom.conv(10**8, 3), coverage=True)


CHILD = """
import _fuzz, convgeom
_fuzz.limit_memory(512 * 2**20)
cases = [
    lambda: convgeom.draw(convgeom.conv((100_000, 100_000), 3)),
    lambda: convgeom.draw(convgeom.conv((10_000, 10_000), 3), values=True),
    lambda: convgeom.draw(convgeom.max_pool((10**9, 10**9), 2), values=True),
    lambda: convgeom.draw(convgeom.conv((100_000, 100_000), 3), coverage=True),
    lambda: convgeom.draw(convgeom.conv_transpose((100_000, 100_000), 3, 2), coverage=True),
    lambda: convgeom.draw(convgeom.conv_transpose(10**9, 3, 2)),
]
for case in cases:
    print(_fuzz.outcome(case, 120.0))
"""


def test_big_pictures_refuse_before_allocating() -> None:
    pytest.importorskip("numpy")
    done = run_child(["-c", CHILD], timeout=HANG_GUARD_S)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["refused"] * 6, done.stdout


RF_CHILD = """
import _fuzz, torch, convgeom
from convgeom.draw.receptive import rf_scene
model = torch.nn.Sequential(torch.nn.Conv1d(1, 1, 3))
trace = convgeom.trace(model, (1, 1, 10**9), findings=False)   # shapes only: no activations
_fuzz.limit_memory(512 * 2**20)
print(_fuzz.outcome(lambda: rf_scene(trace, trace.layers[0].name), 120.0))
"""


def test_a_huge_receptive_field_picture_is_refused_before_listing_spans() -> None:
    """A layer with 10**9 units: the picture's size comes from the first and last unit,
    so it is refused before a span per unit is listed (that list alone would not fit in 512 MB)."""
    pytest.importorskip("torch")
    done = run_child(["-c", RF_CHILD], timeout=HANG_GUARD_S)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["refused"], done.stdout
