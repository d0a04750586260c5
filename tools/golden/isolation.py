"""Crash isolation: every framework runs in worker subprocesses (``python -m tools.golden
--worker SPEC``), one JSON request per stdin line and one JSON reply per stdout line.

TensorFlow and XLA kill the process (SIGFPE, abort) on some configs; such a config is recorded
as {"error": "Crash: process killed by signal ..."} and the worker is restarted.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np

from .runners import make_runner
from .schema import Config, Extras, Item, Result

ROOT = Path(__file__).resolve().parents[2]  # where `python -m tools.golden` finds the package
_LOGPREFIX = re.compile(r"^[EFWI]\d{4} [\d:.]+\s+\d+ [^\]]*\]\s*")
_FATAL = re.compile(r"Check failed|RET_CHECK|INTERNAL:|Fatal Python error|FATAL")
_HLO_ID = re.compile(r'"([A-Za-z_]+)\.\d+"')
Reply = dict[str, Any]


def serve(spec: str) -> None:
    """Worker body: announce the versions, then answer requests until stdin closes."""
    runner = make_runner(spec)
    print(json.dumps({"versions": runner.versions}), flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        if req.get("cmd") == "ops":
            cases = runner.numeric_ops(np.random.default_rng(req["seed"]), req["count"])
            print(json.dumps({"cases": cases}), flush=True)
            continue
        try:
            result, extras = runner.run(req["cfg"], req["seed"], req["sym"])
            out: Reply = {"result": result, "extras": extras}
        except AssertionError as e:
            out = {"fatal": str(e)}
        print(json.dumps(out), flush=True)


def crash_reason(rc: int, stderr: str) -> str:
    """How a worker died: the signal or exit status, and the framework's fatal log line."""
    how = (f"process killed by signal {signal.Signals(-rc).name}" if rc < 0
           else f"process exited with status {rc}")
    for ln in stderr.splitlines():
        ln = _LOGPREFIX.sub("", ln.strip())
        if _FATAL.search(ln):
            ln = _HLO_ID.sub(r'"\1"', ln)  # HLO instruction ids vary between runs
            how += f" ({ln[:300]})"
            break
    return how


Process = tuple[subprocess.Popen[str], IO[str]]


class Worker:
    """A framework worker process; restarted when the framework kills it (SIGFPE, abort).

    After the first crash a spare process is kept importing in the background, so that a
    restart does not wait for the framework import.
    """

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self.proc: subprocess.Popen[str] | None = None
        self.errlog: IO[str] | None = None
        self.spare: Process | None = None
        self.versions: dict[str, Any] | None = None
        self.restarts = 0
        self._errpos = 0

    def _spawn(self) -> Process:
        # PYTHONHASHSEED: error messages print Python sets (Keras: "one of {'same', 'valid'}")
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONHASHSEED="0")
        if self.spec.startswith("tensorflow"):
            env.update(KERAS_BACKEND="tensorflow",
                       TF_ENABLE_ONEDNN_OPTS=self.spec.partition(":")[2] or "1")
        errlog = tempfile.TemporaryFile("w+")
        proc = subprocess.Popen(
            [sys.executable, "-m", "tools.golden", "--worker", self.spec], cwd=ROOT,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errlog, env=env,
            text=True, bufsize=1)
        return proc, errlog

    def _start(self) -> Process:
        if self.spare is not None:
            (proc, errlog), self.spare = self.spare, None
        else:
            proc, errlog = self._spawn()
        self.proc, self.errlog = proc, errlog
        if self.restarts:
            self.spare = self._spawn()
        line = _pipe(proc.stdout).readline()
        if not line:
            errlog.seek(0)
            raise RuntimeError(f"worker {self.spec} failed to start:\n{errlog.read()[-3000:]}")
        self.versions = json.loads(line)["versions"]
        return proc, errlog

    def send(self, req: dict[str, Any]) -> None:
        if self.proc is not None and self.errlog is not None:
            proc, errlog = self.proc, self.errlog
        else:
            proc, errlog = self._start()
        errlog.seek(0, 2)
        self._errpos = errlog.tell()
        try:
            _pipe(proc.stdin).write(json.dumps(req) + "\n")
            _pipe(proc.stdin).flush()
        except BrokenPipeError:
            pass

    def recv(self) -> Reply:
        if self.proc is None or self.errlog is None:
            raise RuntimeError(f"worker {self.spec}: recv() without send()")
        line = _pipe(self.proc.stdout).readline()
        if line:
            reply: Reply = json.loads(line)
            return reply
        rc = self.proc.wait()
        self.proc = None
        self.restarts += 1
        self.errlog.seek(self._errpos)
        how = crash_reason(rc, self.errlog.read())
        self.errlog.close()
        return {"crash": how}

    def close(self) -> None:
        for proc in (self.proc, self.spare[0] if self.spare else None):
            if proc is not None:
                _pipe(proc.stdin).close()
                proc.wait()
        self.proc = self.spare = None


def _pipe(stream: IO[str] | None) -> IO[str]:
    if stream is None:
        raise RuntimeError("worker pipe is not open")
    return stream


def reply_result(x: Reply) -> tuple[Result, Extras]:
    """A worker's reply as (result, extras); a crash is a recorded error, a failed N-D
    verification stops the run."""
    if "fatal" in x:
        raise AssertionError(x["fatal"])
    if "result" in x:
        return x["result"], x.get("extras", {})
    return {"error": f"Crash: {x['crash']}"}, {}


class Isolated:
    """Runs configs in crash-isolated worker processes (JAX, ONNX Runtime), `jobs` at a time."""

    def __init__(self, fw: str, jobs: int = 2) -> None:
        self.name = fw
        self.workers = [Worker(fw) for _ in range(max(1, jobs))]

    @property
    def versions(self) -> dict[str, Any] | None:
        return self.workers[0].versions

    def counters(self) -> dict[str, Any]:
        """The runner's entries of the file's meta."""
        return {"worker_crashes": sum(w.restarts for w in self.workers)}

    def run_many(self, items: Sequence[Item]) -> Iterator[tuple[Result, Extras]]:
        """Yields (result, extras) per item, in order."""
        for i in range(0, len(items), len(self.workers)):
            batch = items[i:i + len(self.workers)]
            for w, item in zip(self.workers, batch):
                w.send({"cfg": item.cfg, "seed": item.seed, "sym": item.symbolic})
            for w, _ in zip(self.workers, batch):
                yield reply_result(w.recv())

    def numeric_ops(self, seed: int, count: int) -> list[dict[str, Any]]:
        """The numeric cases of the first worker's framework (TensorFlow only)."""
        self.workers[0].send({"cmd": "ops", "seed": seed, "count": count})
        reply = self.workers[0].recv()
        if "cases" not in reply:
            raise RuntimeError(f"numeric ops failed: {reply}")
        cases: list[dict[str, Any]] = reply["cases"]
        return cases

    def close(self) -> None:
        for w in self.workers:
            w.close()


def differs(a: Result, b: Result) -> bool:
    """Whether two results of one config differ (error vs success, output, pad_before or
    divisor)."""
    if ("error" in a) != ("error" in b):
        return True
    if "error" in a:
        return False
    return any(a.get(key) != b.get(key) for key in ("output", "pad_before", "divisor"))


class TFDual(Isolated):
    """Runs every config with oneDNN ON (primary: the default of the x86-64 PyPI wheel) and
    OFF (portable Eigen kernels) in two crash-isolated worker processes, in parallel."""

    def __init__(self, jobs: int = 2) -> None:
        self.name = "tensorflow"
        self.on, self.off = Worker("tensorflow:1"), Worker("tensorflow:0")
        self.workers = [self.on, self.off]
        self.n_sym_disagree = 0
        self.n_onednn_differs = 0

    @property
    def versions(self) -> dict[str, Any] | None:
        if self.on.versions is None:
            return None
        return dict(self.on.versions,
                    TF_ENABLE_ONEDNN_OPTS="1 (records); 0 for the 'onednn_off' fields")

    def counters(self) -> dict[str, Any]:
        return {"symbolic_disagreements": self.n_sym_disagree,
                "onednn_off_differs": self.n_onednn_differs,
                "worker_crashes": {"onednn_on": self.on.restarts, "onednn_off": self.off.restarts}}

    def run_many(self, items: Sequence[Item]) -> Iterator[tuple[Result, Extras]]:
        for item in items:
            yield self.run(item.cfg, item.seed, item.symbolic)

    def run(self, cfg: Config, seed: int, do_symbolic: bool) -> tuple[Result, Extras]:
        req = {"cfg": cfg, "seed": seed, "sym": do_symbolic}
        self.on.send(req)
        self.off.send(req)
        (res_a, ext_a), (res_b, _) = reply_result(self.on.recv()), reply_result(self.off.recv())
        extras: Extras = {}
        sym = ext_a.get("sym")
        if do_symbolic and sym is not None:
            extras["symbolic"] = sym
            eager_ok, sym_ok = "error" not in res_a, "error" not in sym
            if eager_ok != sym_ok or (eager_ok and sym["output"] != res_a["output"]):
                self.n_sym_disagree += 1
                extras["symbolic_disagrees"] = True
        if differs(res_a, res_b):
            self.n_onednn_differs += 1
            extras["onednn_off"] = res_b
        return res_a, extras
