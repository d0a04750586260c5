"""The child process that traces one uploaded ONNX model for ``POST /api/trace``.

    python -m convgeom.web.trace_worker [SHAPE ...] < model.onnx

It reads the model's bytes from stdin and parses them as protobuf only (``onnx``'s
``ModelProto``; external data files are never read, no code is imported or run), traces it as
``convgeom trace --json`` does and prints that JSON. It runs apart from the server, under a
memory limit and a CPU-time limit (:mod:`resource`, where the platform has it) set before the
model is read, and the server kills it past its wall-clock limit: a hostile model can fail
only its own request. A refusal is one line on stderr and exit status 2.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Optional

#: Address space the child may use (bytes), CPU seconds it may spend; the server passes both.
DEFAULT_MEMORY = 3 * 1024**3
DEFAULT_CPU_SECONDS = 60


def limit(memory: int, cpu_seconds: int) -> None:
    """Cap this process's address space and CPU time (no-op where :mod:`resource` is missing),
    and lower its priority: the server's own process, which answers ``/api/shape`` in
    microseconds, gets the CPU first when both want it."""
    if hasattr(os, "nice"):
        try:
            os.nice(10)
        except OSError:  # pragma: no cover - not permitted
            pass
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return
    for name, value in (("RLIMIT_AS", memory), ("RLIMIT_CPU", cpu_seconds)):
        kind = getattr(resource, name, None)
        if kind is None:  # pragma: no cover - platform without it
            continue
        _, hard = resource.getrlimit(kind)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(kind, (value, hard))


def read_model(data: bytes) -> Any:
    """``data`` parsed as an ONNX ``ModelProto`` (protobuf only), or a one-line GeometryError."""
    import onnx

    from ..errors import GeometryError

    if not data:
        raise GeometryError("the upload is empty", fix="upload an .onnx file")
    try:
        model = onnx.load_model_from_string(data)
    except Exception as exc:  # protobuf's DecodeError and friends: the bytes are not a model
        detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else "malformed protobuf"
        raise GeometryError(f"the upload is not an ONNX model ({type(exc).__name__}: {detail})",
                            fix="upload an .onnx file (onnx.save(model, 'model.onnx'))") from None
    if not model.graph.node:
        raise GeometryError("the upload is not an ONNX model with a graph (no nodes)",
                            fix="upload an .onnx file (onnx.save(model, 'model.onnx'))")
    return model


def run(data: bytes, shapes: list[tuple[int, ...]]) -> str:
    """The JSON ``convgeom trace --json`` prints for the model in ``data``."""
    from ..tracing.api import trace

    model = read_model(data)
    shape: Optional[Any] = shapes if len(shapes) > 1 else (shapes[0] if shapes else None)
    return str(trace(model, shape, "onnx").to_json())


def main(argv: list[str]) -> int:
    from ..errors import GeometryError

    memory = int(os.environ.get("CONVGEOM_TRACE_MEMORY", DEFAULT_MEMORY))
    cpu = int(os.environ.get("CONVGEOM_TRACE_CPU_SECONDS", DEFAULT_CPU_SECONDS))
    limit(memory, cpu)
    shapes = [tuple(int(v) for v in arg.split(",")) for arg in argv]  # the server checked them
    data = sys.stdin.buffer.read()
    try:
        text = run(data, shapes)
    except GeometryError as err:
        print(str(err), file=sys.stderr)
        return 2
    except MemoryError:
        print(f"tracing this model needs more than {memory // 1024**2:,} MiB", file=sys.stderr)
        return 2
    except RecursionError:
        print("the model nests too deeply to trace", file=sys.stderr)
        return 2
    except Exception as exc:  # a bug in convgeom: one line, status 1
        detail = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
        print(f"internal error while tracing: {type(exc).__name__}: {detail}", file=sys.stderr)
        return 1
    sys.stdout.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
