"""The server's pool of worker processes (:mod:`convgeom.web.worker`), driven from asyncio.

Each worker answers one request at a time. A request waits for an idle worker (at most
``queue`` wait: beyond that the server is busy, 429); a worker that runs past ``seconds`` is
killed and replaced, and its request gets a one-line 422; one that dies is replaced too.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any, Optional

from .fields import RequestError
from .upload import package_environment

#: Longest reply line read from a worker (a picture of 65,536 cells is about 12 MB of JSON).
MAX_REPLY_BYTES = 64 * 1024**2


class WorkerError(RuntimeError):
    """A worker ended or answered with a bug (the server logs it and answers 500)."""


class _Worker:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    async def ask(self, route: str, data: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write((json.dumps({"route": route, "data": data}) + "\n").encode())
        await self.proc.stdin.drain()
        line = await self.proc.stdout.readline()
        if not line:
            raise WorkerError(f"a worker process ended (status {await self.proc.wait()}) during {route}")
        reply: dict[str, Any] = json.loads(line)
        return reply

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


class Pool:
    """``size`` worker processes; :meth:`run` sends one request to an idle one."""

    def __init__(self, size: int = 2, seconds: float = 20.0, queue: int = 64,
                 memory: Optional[int] = None) -> None:
        self.size = size
        self.seconds = seconds
        self.queue = queue
        self.memory = memory
        self.idle: asyncio.Queue[_Worker] = asyncio.Queue()
        self.waiting = 0
        self.workers: set[_Worker] = set()
        self._starting: set[asyncio.Task[None]] = set()

    async def _spawn(self) -> _Worker:
        env = package_environment()
        if self.memory is not None:
            env["CONVGEOM_WORKER_MEMORY"] = str(self.memory)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "convgeom.web.worker", stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, env=env, limit=MAX_REPLY_BYTES)
        worker = _Worker(proc)
        self.workers.add(worker)
        await worker.ask("ping", None)  # ready: its imports are done (not counted in a request's time)
        return worker

    async def start(self) -> None:
        for worker in await asyncio.gather(*(self._spawn() for _ in range(self.size))):
            self.idle.put_nowait(worker)

    async def close(self) -> None:
        for task in list(self._starting):
            task.cancel()
        for worker in list(self.workers):
            await worker.stop()
        self.workers.clear()

    async def _replace(self, worker: _Worker) -> None:
        """Kill ``worker`` now; its successor joins the idle workers once it has started."""
        self.workers.discard(worker)
        await worker.stop()

        async def respawn() -> None:
            try:
                self.idle.put_nowait(await self._spawn())
            except Exception:  # noqa: BLE001 - logged; requests then wait, and say so after their limit
                import logging

                logging.getLogger("convgeom.web").exception("a worker process could not be restarted")

        task = asyncio.get_running_loop().create_task(respawn())
        self._starting.add(task)
        task.add_done_callback(self._starting.discard)

    async def run(self, route: str, data: Any) -> Any:
        """The worker's result for ``route`` on ``data``; its refusal as a RequestError."""
        if self.waiting >= self.queue:
            raise RequestError("the server is busy", fix="try again in a moment", status=429)
        self.waiting += 1
        try:
            worker = await asyncio.wait_for(self.idle.get(), timeout=max(60.0, 3 * self.seconds))
        except asyncio.TimeoutError:  # every worker is gone and none restarts: the server is broken
            raise RequestError("no worker process is available", fix="restart convgeom serve", status=503) from None
        finally:
            self.waiting -= 1
        try:
            reply = await asyncio.wait_for(worker.ask(route, data), timeout=self.seconds)
        except asyncio.TimeoutError:
            await self._replace(worker)
            raise RequestError(f"this request took longer than {self.seconds:g} s, the limit",
                               fix="ask for a smaller layer or picture", status=422) from None
        except (WorkerError, OSError, ValueError):
            await self._replace(worker)
            raise
        except BaseException:  # cancelled (the client left): the worker may be mid-request
            await asyncio.shield(self._replace(worker))
            raise
        self.idle.put_nowait(worker)
        if "bug" in reply:
            raise WorkerError(reply["bug"])
        if "error" in reply:
            raise RequestError(reply["error"], status=int(reply["status"]), details=reply.get("details") or {})
        return reply["result"]
