"""Worker threads for the ops, and how they share the cores with BLAS.

A convolution here is many independent chunks (im2col copy, one matrix product, a copy into
the result). The fastest and sturdiest way to use several cores is one chunk per thread with a
single-threaded matrix product in each: NumPy releases the GIL in copies, ufunc loops and
``matmul``. Leaving the threading to BLAS instead costs a wake-up of every BLAS thread for each
of hundreds of small products, which on a busy machine (more runnable threads than cores)
turns a 40 ms convolution into seconds.

So, when NumPy's BLAS is OpenBLAS (as in NumPy's wheels) and its thread count can be read and
set through its C API, :func:`single_threaded_blas` sets it to 1 for the duration of an op
(restoring it after; nested and concurrent ops share one save/restore) and the ops run their
chunks on ``num_threads()`` threads. Otherwise BLAS keeps its threads and the ops make fewer,
larger products. ``CONVGEOM_BLAS_CONTROL=0`` turns the control off.

``num_threads()`` defaults to BLAS's own thread count (so the ops use as many threads as
``numpy.matmul`` does); ``CONVGEOM_NUM_THREADS`` or :func:`set_num_threads` override it.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Optional

from ..errors import GeometryError
from ._common import Array
from ._numpy import np

_lock = threading.Lock()
_pool: Optional[ThreadPoolExecutor] = None
_threads: Optional[int] = None

# Copies smaller than this stay on the calling thread (task hand-off costs ~20 us).
_MIN_PARALLEL_BYTES = 512 * 2**10

# ----- BLAS thread control -------------------------------------------------------------------
_OPENBLAS_SYMBOLS = (
    ("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
    ("scipy_openblas_get_num_threads", "scipy_openblas_set_num_threads"),
    ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
    ("openblas_get_num_threads", "openblas_set_num_threads"),
)
_blas_probed = False
_blas_get: Optional[Callable[[], int]] = None
_blas_set: Optional[Callable[[int], None]] = None
_blas_depth = 0
_blas_saved = 0


def _probe_openblas() -> None:
    """Find NumPy's OpenBLAS among the loaded libraries (``/proc/self/maps``) and its
    get/set-num-threads entry points; leave the control off when anything is unclear."""
    global _blas_probed, _blas_get, _blas_set
    _blas_probed = True
    if os.environ.get("CONVGEOM_BLAS_CONTROL", "1").strip() == "0":
        return
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.lower()}
    except OSError:
        return
    numpy_dir = os.path.dirname(os.path.dirname(np.__file__))
    libraries = sorted((p for p in paths if ".so" in os.path.basename(p)), key=lambda p: not p.startswith(numpy_dir))
    for path in libraries:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for get_name, set_name in _OPENBLAS_SYMBOLS:
            if hasattr(lib, get_name) and hasattr(lib, set_name):
                getter, setter = getattr(lib, get_name), getattr(lib, set_name)
                getter.restype, getter.argtypes = ctypes.c_int, []
                setter.restype, setter.argtypes = None, [ctypes.c_int]
                _blas_get, _blas_set = getter, setter
                return


def blas_threads() -> Optional[int]:
    """BLAS's current thread count, when convgeom can read it (OpenBLAS), else None."""
    with _lock:
        if not _blas_probed:
            _probe_openblas()
        if _blas_get is None:
            return None
        return int(_blas_get()) if _blas_depth == 0 else _blas_saved


@contextmanager
def single_threaded_blas() -> Iterator[bool]:
    """Run BLAS with one thread inside the block; yields whether that took effect."""
    global _blas_depth, _blas_saved
    with _lock:
        if not _blas_probed:
            _probe_openblas()
        active = _blas_get is not None and _blas_set is not None and num_threads() > 1
        if active:
            assert _blas_get is not None and _blas_set is not None
            if _blas_depth == 0:
                _blas_saved = int(_blas_get())
                if _blas_saved > 1:
                    _blas_set(1)
            _blas_depth += 1
    try:
        yield active
    finally:
        if active:
            with _lock:
                _blas_depth -= 1
                if _blas_depth == 0 and _blas_saved > 1 and _blas_set is not None:
                    _blas_set(_blas_saved)


# ----- worker threads ------------------------------------------------------------------------
def _default_threads() -> int:
    value = os.environ.get("CONVGEOM_NUM_THREADS", "").strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    if not _blas_probed:
        _probe_openblas()
    if _blas_get is not None:
        return max(1, int(_blas_get()) if _blas_depth == 0 else _blas_saved)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        value = os.environ.get(var, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def num_threads() -> int:
    """Threads the ops use (see the module docstring)."""
    global _threads
    if _threads is None:
        _threads = _default_threads()
    return _threads


def set_num_threads(count: int) -> None:
    """Use ``count`` threads (1 = everything on the calling thread, BLAS left as it is)."""
    global _threads, _pool
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
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


def run_workers(count: int, make_worker: Callable[[], Callable[[int], None]], threads: Optional[int] = None) -> None:
    """Call ``work(i)`` for every ``i`` in ``range(count)``, each ``work`` made by ``make_worker``
    once per thread (so it can own scratch buffers). Items are handed out one at a time; the
    calling thread works too, and worker threads that have not started when it runs out of
    items are cancelled, so a busy machine never makes it wait for a thread to wake up."""
    threads = min(count, num_threads() if threads is None else threads)
    if threads <= 1:
        work = make_worker()
        for i in range(count):
            work(i)
        return
    counter = itertools.count()  # next() is atomic under the GIL
    stop = threading.Event()

    def loop() -> None:
        work: Optional[Callable[[int], None]] = None
        while not stop.is_set():
            i = next(counter)
            if i >= count:
                return
            if work is None:
                work = make_worker()
            try:
                work(i)
            except BaseException:
                stop.set()
                raise

    pool = _executor()
    futures = [pool.submit(loop) for _ in range(threads - 1)]
    try:
        loop()
    finally:
        errors: list[BaseException] = []
        for future in futures:
            if future.cancel():
                continue
            error = future.exception()
            if error is not None:
                errors.append(error)
    if errors:
        raise errors[0]


def run_split(task: Callable[[int, int], None], count: int, pieces: Optional[int] = None) -> None:
    """Run ``task(lo, hi)`` over ``range(count)`` cut into ``pieces`` (default: twice the thread
    count), shared out as in :func:`run_workers`."""
    pieces = min(count, pieces if pieces is not None else 2 * num_threads())
    if pieces <= 1:
        task(0, count)
        return
    bounds = [count * i // pieces for i in range(pieces + 1)]
    run_workers(pieces, lambda: (lambda i: task(bounds[i], bounds[i + 1])))


def copy(dst: Array, src: Array) -> None:
    """``np.copyto(dst, src)`` (same shapes), split along the first axis with enough entries."""
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
