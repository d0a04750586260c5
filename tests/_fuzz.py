"""The harness of the Python-API fuzz tests (``test_api_fuzz.py``, ``test_ops_fuzz.py``): the cases
run in a child process whose address space is capped (``resource.setrlimit(RLIMIT_AS)``: a
regression that allocates gigabytes fails with MemoryError instead of taking the runner down),
each under a hang guard (an interval timer far above what any case needs: not a timing
assertion). A case's outcome is 'ok', 'refused' (GeometryError/TypeError with a one-line
message) or 'FAIL <what>'."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parent


def run_child(args: list[str], timeout: float, **env: str) -> subprocess.CompletedProcess[str]:
    """``python *args`` from the repository root, importing the convgeom under test, ``tests/``
    and the root; BLAS single-threaded (and ``env`` added)."""
    import convgeom

    src = str(Path(convgeom.__file__).resolve().parent.parent)
    path = os.pathsep.join([src, str(TESTS), str(TESTS.parent), os.environ.get("PYTHONPATH", "")])
    environ = dict(os.environ, PYTHONPATH=path, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", **env)
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout, env=environ,
                          cwd=TESTS.parent)


def limit_memory(headroom_bytes: int) -> None:
    """Cap this process's address space at what it holds now plus ``headroom_bytes`` (call it
    after the imports)."""
    import resource

    try:
        with open("/proc/self/status") as status:
            vm = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))
    except OSError:  # no /proc (not Linux): a fixed limit
        vm = 2 * 2**30
    limit = vm + headroom_bytes
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


class OverBudget(Exception):
    pass


_ARMED = [False]


def outcome(fn: Callable[[], Any], seconds: float) -> str:
    """'ok', 'refused' (GeometryError/TypeError with a one-line message) or 'FAIL <what>' (any
    other exception, or a call over ``seconds``)."""
    from convgeom import GeometryError

    def alarm(signum: int, frame: Any) -> None:
        if _ARMED[0]:
            raise OverBudget(f"a single call took more than {seconds}s")

    signal.signal(signal.SIGALRM, alarm)
    try:
        _ARMED[0] = True
        # repeating: an exception raised while a finaliser runs is swallowed as "unraisable"
        signal.setitimer(signal.ITIMER_REAL, seconds, 1.0)
        try:
            fn()
        finally:
            _ARMED[0] = False
            signal.setitimer(signal.ITIMER_REAL, 0)
    except (GeometryError, TypeError) as exc:
        text = str(exc)
        if not text.strip() or "\n" in text:
            return f"FAIL {type(exc).__name__} with a message that is not one line: {text[:200]!r}"
        return "refused"
    except BaseException as exc:  # noqa: BLE001 - anything else is the finding
        if isinstance(exc, KeyboardInterrupt):
            raise
        first = (str(exc).strip().splitlines() or [""])[0][:160]
        return f"FAIL {type(exc).__name__}: {first}"
    return "ok"
