"""``convgeom port`` costs are bounded before any work starts: the exactness scan has a documented
cap (:data:`convgeom.port.exactness.MAX_SCAN_SIZES`), the empty-window test is closed-form
(agreeing with the loop over every window and tap it replaced, kept here as the reference), and
``verify`` refuses arrays over :data:`convgeom.port.verify.MAX_VERIFY_ELEMENTS` before allocating.

The CLI cases run in a child process under a hang guard (far above what they need: not a timing
assertion)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import convgeom
from _fuzz import run_child
from convgeom import GeometryError
from convgeom.arithmetic import window_starts
from convgeom.port.exactness import MAX_SCAN_SIZES, Scanner, scan_count
from convgeom.port.spec import AxisSpec, LayerSpec, _floor_sum

#: a hang detector for one `convgeom port` run: far above its cost
HANG_GUARD_S = 300


def old_has_empty_window(spec: LayerSpec) -> bool:
    for a in spec.axes:
        for start in window_starts(a.output, a.stride, a.pad_before):
            if not any(0 <= start + j * a.dilation < a.input for j in range(a.kernel)):
                return True
    return False


@settings(max_examples=600, deadline=None)
@given(st.integers(1, 20), st.integers(1, 40), st.integers(1, 6), st.integers(1, 9), st.integers(1, 12),
       st.integers(-4, 40))
def test_empty_window_matches_the_loop_over_windows(n: int, o: int, k: int, s: int, d: int, pb: int) -> None:
    spec = LayerSpec("max_pool", (AxisSpec(n, o, k, s, d, pb, 0),))
    assert spec.has_empty_window == old_has_empty_window(spec)


@settings(max_examples=400, deadline=None)
@given(st.integers(0, 60), st.integers(1, 30), st.integers(0, 80), st.integers(0, 80))
def test_floor_sum_is_the_sum(count: int, m: int, a: int, b: int) -> None:
    assert _floor_sum(count, m, a, b) == sum((a * i + b) // m for i in range(count))


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 300), st.integers(1, 7), st.integers(1, 9), st.integers(1, 4))
def test_scan_count_is_the_length_of_the_scan(n: int, k: int, s: int, d: int) -> None:
    spec = LayerSpec("conv", (AxisSpec(n, 1, k, s, d, 0, 0),))
    assert scan_count(spec, 0) == len(Scanner(lambda sizes: spec, (n,)).sizes(0, spec))


def test_a_huge_stride_is_refused_naming_the_cap() -> None:
    with pytest.raises(GeometryError, match=f"cap of {MAX_SCAN_SIZES}"):
        convgeom.port("conv", source="tensorflow", target="torch", input=224, kernel=3, stride=10**11, padding="same")


def test_the_largest_scan_under_the_cap_still_ports() -> None:
    # 1 .. 3 + 4s and 224 - 2s .. 224 + 2s: s = 300 scans 1 .. 1203, under the cap
    p = convgeom.port("conv", source="tensorflow", target="torch", input=224, kernel=3, stride=300, padding="same")
    assert p.exact_for and p.code


def test_cli_refuses_a_huge_stride_in_one_line() -> None:
    done = run_child(["-m", "convgeom", "port", "conv", "--from", "tensorflow", "--to", "torch", "--input", "224",
                      "--kernel", "3", "--stride", "100000000000", "--padding", "same"], timeout=HANG_GUARD_S)
    assert done.returncode == 2 and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and str(MAX_SCAN_SIZES) in done.stderr


def test_cli_ports_a_max_pool_on_a_huge_input() -> None:
    """The empty-window test used to loop over all 10**9 windows."""
    done = run_child(["-m", "convgeom", "port", "max-pool", "--from", "torch", "--to", "onnx", "--input",
                      "1000000000", "--kernel", "3", "--stride", "1", "--padding", "1"], timeout=HANG_GUARD_S)
    assert done.returncode == 0, done.stderr
    assert "MaxPool" in done.stdout


def test_verify_refuses_a_huge_input_before_allocating() -> None:
    pytest.importorskip("torch")
    from convgeom.port.verify import MAX_VERIFY_ELEMENTS, verify

    p = convgeom.port("conv", source="torch", target="onnx", input=(100_000, 100_000), kernel=3)
    with pytest.raises(GeometryError, match=f"cap of {MAX_VERIFY_ELEMENTS}"):
        verify(p)
