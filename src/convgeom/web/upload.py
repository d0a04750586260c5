"""``POST /api/trace``: an uploaded ONNX model traced in a child process
(:mod:`convgeom.web.trace_worker`) under a memory, CPU-time and wall-clock limit, answering
what ``convgeom trace --json`` prints. The upload is parsed as protobuf only: no module spec,
no pickle, nothing imported or run from it.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ..errors import GeometryError
from .fields import RequestError

#: Largest upload read (bytes); ``convgeom serve --max-upload-mb`` changes it.
MAX_UPLOAD_BYTES = 64 * 1024**2
#: Wall-clock seconds one trace may take before its process is killed.
TRACE_SECONDS = 60
#: Address space of the tracing process (bytes).
TRACE_MEMORY = 3 * 1024**3
#: Most input shapes one request gives (one per model input).
MAX_SHAPES = 16


def parse_shapes(texts: Sequence[str]) -> list[str]:
    """The ``input`` shapes of the query (``1,3,224,224`` each, batch and channels included),
    checked as ``convgeom trace --input`` checks them, as comma-separated text for the worker."""
    from ..cli.trace import parse_shape

    if len(texts) > MAX_SHAPES:
        raise RequestError(f"{len(texts)} input shapes given; at most {MAX_SHAPES}", fix="give one per model input")
    out = []
    for text in texts:
        try:
            shape = parse_shape(text)
        except GeometryError as err:
            raise RequestError(str(err).replace("--input", "input", 1)) from err
        if any(s < 1 for s in shape):
            raise RequestError(f"input {text[:40]!r} needs positive sizes", fix="write it like 1,3,224,224")
        out.append(",".join(map(str, shape)))
    return out


def package_environment() -> dict[str, str]:
    """The environment of the server's child processes: this convgeom first on the path, one
    BLAS thread each (a pool of threads per child would only compete for the same cores)."""
    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join([package_root] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return env


async def trace(data: bytes, shapes: Sequence[str], *, seconds: float = TRACE_SECONDS) -> str:
    """The JSON text of ``convgeom trace --json`` for the ONNX model ``data``; a refusal, a
    crash or a timeout of the child is a one-line :class:`RequestError`."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "convgeom.web.trace_worker", *shapes, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**package_environment(), "CONVGEOM_TRACE_MEMORY": str(TRACE_MEMORY),
             "CONVGEOM_TRACE_CPU_SECONDS": str(TRACE_SECONDS)})
    try:
        out, err = await asyncio.wait_for(proc.communicate(data), timeout=seconds)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        raise RequestError(f"tracing this model took longer than {seconds:g} s, the web API's limit",
                           fix="trace it from the command line: convgeom trace model.onnx", status=422) from None
    finally:
        if proc.returncode is None:  # cancelled (the client left): never leave the child running
            proc.kill()
            await proc.wait()
    line = err.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
    if proc.returncode == 0:
        return out.decode("utf-8")
    if proc.returncode == 2:
        raise RequestError(line[0], status=422)
    if proc.returncode is not None and proc.returncode < 0:
        raise RequestError(f"tracing this model was stopped by signal {-proc.returncode} (its memory or CPU-time "
                           "limit)", fix="trace it from the command line: convgeom trace model.onnx", status=422)
    raise RuntimeError(line[0] or f"the tracing process ended with status {proc.returncode}")
