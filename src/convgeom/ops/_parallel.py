"""Worker threads for the memory-bound parts of the ops (copies, grouped small products).

NumPy releases the GIL in copies, ufunc loops and matrix products, so splitting one large copy
into ``num_threads()`` slices uses the cores that BLAS uses for the matrix products. The count
defaults to BLAS's own default (``OPENBLAS_NUM_THREADS`` / ``OMP_NUM_THREADS`` /
``MKL_NUM_THREADS``, else the CPUs this process may run on); ``CONVGEOM_NUM_THREADS`` or
:func:`set_num_threads` override it.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Optional

import numpy as np

from ..errors import GeometryError
from ._common import Array

_lock = threading.Lock()
_pool: Optional[ThreadPoolExecutor] = None
_threads: Optional[int] = None

# Copies smaller than this stay on the calling thread (task hand-off costs ~20 us).
_MIN_PARALLEL_BYTES = 512 * 2**10


def _default_threads() -> int:
    for var in ("CONVGEOM_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        value = os.environ.get(var, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def num_threads() -> int:
    """Threads the ops use for copies and grouped products (see the module docstring)."""
    global _threads
    if _threads is None:
        _threads = _default_threads()
    return _threads


def set_num_threads(count: int) -> None:
    """Use ``count`` threads (1 = everything on the calling thread)."""
    global _threads, _pool
    if not isinstance(count, int) or count < 1:
        raise GeometryError(f"thread count must be a positive integer, got {count!r}", fix="use 1 or more")
    with _lock:
        _threads = count
        if _pool is not None:
            _pool.shutdown(wait=False)
            _pool = None


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=num_threads(), thread_name_prefix="convgeom-ops")
        return _pool


def run_split(task: Callable[[int, int], None], count: int, pieces: Optional[int] = None) -> None:
    """Run ``task(lo, hi)`` over ``range(count)`` cut into ``pieces`` (default: twice the thread
    count). The calling thread works too, and worker threads that have not started when it runs
    out of pieces are cancelled, so a busy machine never makes it wait for a thread to wake up."""
    threads = num_threads()
    pieces = min(count, pieces if pieces is not None else 2 * threads)
    if threads <= 1 or pieces <= 1:
        task(0, count)
        return
    bounds = [count * i // pieces for i in range(pieces + 1)]
    counter = itertools.count()  # next() is atomic under the GIL

    def work() -> None:
        while True:
            i = next(counter)
            if i >= pieces:
                return
            task(bounds[i], bounds[i + 1])

    pool = _executor()
    futures = [pool.submit(work) for _ in range(threads - 1)]
    work()
    for future in futures:
        if not future.cancel():
            future.result()


def copy(dst: Array, src: Array) -> None:
    """``np.copyto(dst, src)``, split along the first axis that has at least two entries."""
    threads = num_threads()
    if threads <= 1 or dst.nbytes < _MIN_PARALLEL_BYTES:
        np.copyto(dst, src)
        return
    axis = next((a for a in range(dst.ndim - 1) if dst.shape[a] >= threads), None)
    if axis is None:
        np.copyto(dst, src)
        return

    def part(lo: int, hi: int) -> None:
        index = (slice(None),) * axis + (slice(lo, hi),)
        np.copyto(dst[index], src[index])

    run_split(part, dst.shape[axis])
