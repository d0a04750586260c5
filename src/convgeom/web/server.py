"""The playground's HTTP server: one page and a JSON API, on Starlette (ASGI) served by uvicorn.

Routes (every error is ``{"error": "one line"}`` with a 4xx status):

* ``GET /`` the page; ``GET /static/NAME`` its script and style sheet (shipped in the wheel);
* ``GET /api`` this list;
* ``POST /api/shape`` ``convgeom shape --json``; ``POST /api/draw`` the SVG; ``POST /api/layer``
  everything the page shows; ``POST /api/port`` the layer in every framework's code;
* ``POST /api/trace?input=1,3,224,224`` an ONNX file as the body: ``convgeom trace --json``;
* ``GET /api/quiz?count=&kind=&framework=&difficulty=&seed=`` exercises without answers;
  ``POST /api/quiz/check`` ``{"key", "answer"}``: the verdict.

Every request is bounded: the body by :data:`~convgeom.web.fields.MAX_BODY_BYTES` (uploads by
``max_upload``) and a time to arrive, the work by the engine's caps, the picture caps and a time
limit. ``/api/shape`` and ``/api/quiz/check`` (microseconds of work) are answered in the server's
own process; pictures, the page's layer view, code and exercises run in a pool of ``workers``
processes (:mod:`convgeom.web.pool`), at most ``queue`` waiting (then 429), each killed and
replaced past ``work_seconds``; each ONNX trace runs in its own limited process, one at a time.
Only ``Host`` names of this machine are served when bound to a loopback address (a web page
elsewhere cannot reach the API by DNS rebinding).
"""

from __future__ import annotations

import contextlib
import logging
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import GeometryError
from . import practice, upload, views
from .fields import MAX_BODY_BYTES, RequestError, parse_json
from .pool import Pool, WorkerError

log = logging.getLogger("convgeom.web")

STATIC_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                                 b"script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]

API_INDEX = {
    "GET /api": "this list",
    "GET /api/options": "the ops and the fields each takes, frameworks, padding names, caps (what the page's form is built from)",
    "POST /api/shape": "the fields of `convgeom shape` as JSON -> what `convgeom shape --json` prints",
    "POST /api/draw": "the same fields (+ step, view, values) -> the SVG of convgeom.draw",
    "POST /api/layer": "the same fields -> everything the page shows (shape, explanation, findings, frameworks, picture)",
    "POST /api/port": "the same fields (+ in_channels, out_channels) -> the layer's code in every framework",
    "POST /api/trace?input=1,3,224,224": "an ONNX file as the body -> what `convgeom trace --json` prints",
    "GET /api/quiz?count=&kind=&framework=&difficulty=&seed=": "exercises without their answers",
    "POST /api/quiz/check": '{"key": ..., "answer": ...} -> the verdict and the explanation',
}


@dataclass(frozen=True)
class Limits:
    """Per-request bounds (see the module docstring)."""

    max_upload: int = upload.MAX_UPLOAD_BYTES
    #: seconds a request body may take to arrive
    body_seconds: float = 30.0
    #: seconds one request's work may take in a worker (pictures, code) before the worker is killed
    work_seconds: float = 20.0
    trace_seconds: float = upload.TRACE_SECONDS
    #: worker processes (picture/code requests computed at once), and requests waiting before 429
    workers: int = 2
    queue: int = 64


def error(message: str, status: int, **details: Any) -> JSONResponse:
    return JSONResponse({"error": message, **details}, status_code=status)


class _Guard:
    """Host check and security headers, as a plain ASGI middleware (answers in JSON)."""

    def __init__(self, app: ASGIApp, allowed_hosts: tuple[str, ...]) -> None:
        self.app = app
        self.allowed = allowed_hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.allowed:
            host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
            name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            if name not in self.allowed:
                response = error(f"host {host[:60]!r} is not served: this server answers only for this machine; "
                                 "open http://127.0.0.1:PORT/ (or start it with --host to serve others)", 400)
                await response(scope, receive, send)
                return

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def read_body(request: Request, cap: int, seconds: float) -> bytes:
    """The request body, at most ``cap`` bytes (413 beyond, checked on Content-Length first and
    while it arrives) and within ``seconds`` (408)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise RequestError("the Content-Length header is not a number", fix="send a valid HTTP request")
        if int(declared) > cap:
            raise RequestError(f"the request body has {int(declared):,} bytes, more than the cap of {cap:,}",
                               fix="send a smaller body", status=413)
    chunks: list[bytes] = []
    size = 0
    with anyio.move_on_after(seconds) as scope:
        async for chunk in request.stream():
            size += len(chunk)
            if size > cap:
                raise RequestError(f"the request body is larger than the cap of {cap:,} bytes",
                                   fix="send a smaller body", status=413)
            chunks.append(chunk)
    if scope.cancelled_caught:
        raise RequestError(f"the request body did not arrive within {seconds:g} s", fix="send it faster", status=408)
    return b"".join(chunks)


Handler = Callable[[Request], Awaitable[Response]]


def guarded(handler: Handler) -> Handler:
    """``handler`` with every failure as one JSON line: RequestError -> its status, the engine's
    GeometryError -> 422, a bug -> 500 (logged with its traceback; tests look for these)."""

    async def run(request: Request) -> Response:
        try:
            return await handler(request)
        except RequestError as err:
            return error(str(err), err.status, **err.details)
        except GeometryError as err:
            return error(str(err), 422)
        except WorkerError as err:  # the worker printed the traceback to the server's stderr
            log.error("internal error in a worker on %s %s: %s", request.method, request.url.path, err)
            return error(f"internal error, {err} (a bug in convgeom: please report it)", 500)
        except Exception as err:  # a bug in convgeom: one line to the client, the traceback to the log
            log.error("internal error on %s %s\n%s", request.method, request.url.path, traceback.format_exc())
            detail = str(err).strip().splitlines()[0][:200] if str(err).strip() else ""
            return error(f"internal error, {type(err).__name__}: {detail} (a bug in convgeom: please report it)", 500)

    return run


class Server:
    """The routes, bound to one set of :class:`Limits`, the worker pool and the page's files."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.pool = Pool(limits.workers, limits.work_seconds, limits.queue)
        self.trace_limiter = anyio.CapacityLimiter(1)
        self.static = _static_files()

    def json_route(self, work: Callable[[dict[str, Any]], Any] | str) -> Handler:
        """A POST route reading a JSON object: ``work`` runs here, or a pool route's name."""

        async def handler(request: Request) -> Response:
            data = parse_json(await read_body(request, MAX_BODY_BYTES, self.limits.body_seconds))
            result = await self.pool.run(work, data) if isinstance(work, str) else work(data)
            if isinstance(result, str):
                return Response(result, media_type="image/svg+xml")
            return JSONResponse(result)

        return guarded(handler)

    async def trace(self, request: Request) -> Response:
        shapes = upload.parse_shapes(request.query_params.getlist("input"))
        unknown = [k for k in request.query_params if k != "input"]
        if unknown:
            raise RequestError(f"unknown query field {unknown[0][:40]!r}", fix="use only input=1,3,224,224")
        if self.trace_limiter.statistics().tasks_waiting >= 2:
            raise RequestError("the server is tracing other models", fix="try again in a moment", status=429)
        data = await read_body(request, self.limits.max_upload, self.limits.body_seconds)
        async with self.trace_limiter:
            text = await upload.trace(data, shapes, seconds=self.limits.trace_seconds)
        return Response(text, media_type="application/json")

    async def quiz(self, request: Request) -> Response:
        return JSONResponse(await self.pool.run("quiz", dict(request.query_params)))

    async def index(self, request: Request) -> Response:
        return self._file("index.html")

    async def static_file(self, request: Request) -> Response:
        return self._file(request.path_params["name"])

    def _file(self, name: str) -> Response:
        found = self.static.get(name)
        if found is None:
            raise RequestError(f"no file {name[:60]!r}", fix="open /", status=404)
        body, media_type = found
        return Response(body, media_type=media_type, headers={"cache-control": "no-cache"})

    async def api_index(self, request: Request) -> Response:
        return JSONResponse(API_INDEX)

    async def options(self, request: Request) -> Response:
        return JSONResponse({**views.options(), "max_upload": self.limits.max_upload})


def _static_files() -> dict[str, tuple[bytes, str]]:
    """The page's files from the package (``convgeom/web/static``), read once."""
    files = {}
    for entry in resources.files("convgeom.web").joinpath("static").iterdir():
        suffix = "." + entry.name.rpartition(".")[2]
        if entry.is_file() and suffix in STATIC_TYPES:
            files[entry.name] = (entry.read_bytes(), STATIC_TYPES[suffix])
    return files


async def _not_found(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    words = {404: f"no route {request.url.path[:60]!r}", 405: f"{request.method} is not allowed on {request.url.path[:60]}"}
    return error(words.get(status, f"HTTP {status}") + "; see GET /api", status)


def create_app(limits: Limits = Limits(), *, host: str = "127.0.0.1") -> Starlette:
    """The ASGI application. ``host`` is the address served: a loopback address answers only
    requests whose ``Host`` names this machine."""
    server = Server(limits)
    routes = [
        Route("/", guarded(server.index), methods=["GET"]),
        Route("/static/{name}", guarded(server.static_file), methods=["GET"]),
        Route("/api", guarded(server.api_index), methods=["GET"]),
        Route("/api/options", guarded(server.options), methods=["GET"]),
        Route("/api/shape", server.json_route(views.shape), methods=["POST"]),
        Route("/api/draw", server.json_route("draw"), methods=["POST"]),
        Route("/api/layer", server.json_route("layer"), methods=["POST"]),
        Route("/api/port", server.json_route("port"), methods=["POST"]),
        Route("/api/trace", guarded(server.trace), methods=["POST"]),
        Route("/api/quiz", guarded(server.quiz), methods=["GET"]),
        Route("/api/quiz/check", server.json_route(practice.check), methods=["POST"]),
    ]
    allowed = LOOPBACK_HOSTS if host in LOOPBACK_HOSTS else ()
    middleware = [Middleware(_Guard, allowed_hosts=allowed), Middleware(GZipMiddleware, minimum_size=2048)]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await server.pool.start()
        try:
            yield
        finally:
            await server.pool.close()

    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan,
                     exception_handlers={HTTPException: _not_found, 404: _not_found, 405: _not_found})
