"""A worker process of the server's pool (:mod:`convgeom.web.pool`): pictures, the page's layer
view, code and exercises are computed here, apart from the process that answers HTTP, so that
they never hold up ``/api/shape`` and a request that runs past its time limit is stopped by
ending its process (a thread cannot be stopped).

    python -m convgeom.web.worker

Protocol: one JSON object per line on stdin, ``{"route": NAME, "data": {...}}``; one JSON object
per line on stdout, ``{"result": ...}`` or ``{"error": "one line", "status": 4xx, "details": {}}``
or ``{"bug": "one line"}``. The memory limit is set before anything is read.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any

#: Address space of a worker (bytes): a picture of 65,536 cells needs a few hundred MiB.
DEFAULT_MEMORY = 2 * 1024**3


def routes() -> dict[str, Callable[[Any], Any]]:
    from . import practice, views

    return {"layer": views.layer, "draw": views.draw, "port": views.port, "quiz": practice.exercises,
            "ping": lambda data: "pong"}


def answer(table: dict[str, Callable[[Any], Any]], line: str) -> dict[str, Any]:
    """The reply to one request line."""
    from ..errors import GeometryError
    from .fields import RequestError

    try:
        request = json.loads(line)
        work = table[request["route"]]
        return {"result": work(request["data"])}
    except RequestError as err:
        return {"error": str(err), "status": err.status, "details": err.details}
    except GeometryError as err:
        return {"error": str(err), "status": 422, "details": {}}
    except MemoryError:
        return {"error": "this request needs more memory than a worker may use", "status": 422, "details": {}}
    except RecursionError:
        return {"error": "this request nests too deeply", "status": 400, "details": {}}
    except Exception as exc:  # a bug in convgeom: one line back, the server logs it
        import traceback

        traceback.print_exc(file=sys.stderr)
        detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        return {"bug": f"{type(exc).__name__}: {detail}"}


#: requests answered once before serving, so that imports (tracing's diagnostics, the picture
#: code, the porting emitters, the exercises) are not paid by the first user's request
WARM_UP = ({"route": "layer", "data": {"op": "conv", "input": "5,5", "kernel": "3", "stride": "2"}},
           {"route": "port", "data": {"op": "conv", "input": "5", "kernel": "3"}},
           {"route": "quiz", "data": {"count": "1", "seed": "0"}})


def main() -> int:
    from .trace_worker import limit

    limit(int(os.environ.get("CONVGEOM_WORKER_MEMORY", DEFAULT_MEMORY)), 10**9)
    table = routes()
    for request in WARM_UP:
        answer(table, json.dumps(request))
    out = sys.stdout
    sys.stdout = sys.stderr  # nothing but replies goes to the pipe
    for line in sys.stdin:
        out.write(json.dumps(answer(table, line)) + "\n")
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
