"""Worker threads of convgeom.ops: same results on one or several threads, BLAS's thread count
restored after every op, errors in workers reach the caller."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from convgeom import GeometryError
from convgeom.ops import _parallel, conv, num_threads, set_num_threads


@pytest.fixture
def restore_threads():  # type: ignore[no-untyped-def]
    before = num_threads()
    yield
    set_num_threads(before)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_results_do_not_depend_on_threads(threads: int, restore_threads: None) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 8, 17, 19))
    w = rng.standard_normal((6, 8, 3, 3))
    dw = rng.standard_normal((8, 1, 3, 3))
    set_num_threads(1)
    ref = conv(x, w, None, 1, 1, max_buffer_bytes=20_000)
    ref_dw = conv(x, dw, None, 2, 1, groups=8)
    ref_pw = conv(x, w[:, :, :1, :1])
    set_num_threads(threads)
    # the buffer limit is shared by the workers, so chunk sizes (and roundings) may differ
    np.testing.assert_allclose(conv(x, w, None, 1, 1, max_buffer_bytes=20_000), ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(conv(x, dw, None, 2, 1, groups=8), ref_dw, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(conv(x, w[:, :, :1, :1]), ref_pw, rtol=1e-12)


def test_blas_thread_count_is_restored(restore_threads: None) -> None:
    before = _parallel.blas_threads()
    set_num_threads(2)
    x = np.ones((2, 4, 30, 30), dtype=np.float32)
    conv(x, np.ones((4, 4, 3, 3), dtype=np.float32), padding=1)
    assert _parallel.blas_threads() == before
    if _parallel._blas_get is not None:
        assert _parallel._blas_get() == before


def test_concurrent_ops_share_one_save_and_restore(restore_threads: None) -> None:
    before = _parallel.blas_threads()
    set_num_threads(2)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 4, 40, 40))
    w = rng.standard_normal((4, 4, 3, 3))
    ref = conv(x, w, padding=1)
    results: list[np.ndarray] = []

    def run() -> None:
        results.append(conv(x, w, padding=1))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4 and all(np.array_equal(r, ref) for r in results)
    assert _parallel.blas_threads() == before


def test_worker_errors_propagate(restore_threads: None) -> None:
    set_num_threads(2)

    def make() -> object:
        def work(i: int) -> None:
            if i == 5:
                raise RuntimeError("boom")
        return work

    with pytest.raises(RuntimeError, match="boom"):
        _parallel.run_workers(8, make)  # type: ignore[arg-type]


def test_set_num_threads_validates() -> None:
    with pytest.raises(GeometryError):
        set_num_threads(0)
