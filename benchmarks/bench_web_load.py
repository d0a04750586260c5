"""Load test of ``convgeom serve``: N mixed requests (valid and malformed) from C concurrent
clients against a real server process; latency per kind of request (p50, p99, max), every
status, 5xx and connection errors, and the server's resident memory before and after.

    python benchmarks/bench_web_load.py                      # 2,000 requests, 16 clients
    python benchmarks/bench_web_load.py -n 300 -c 8 --json out.json
    python benchmarks/bench_web_load.py --url http://127.0.0.1:8000/   # a server already running

Without ``--url`` it starts ``python -m convgeom serve --port 0`` itself and reads its memory
from ``/proc/PID/status`` (VmRSS): once after a warm-up (one request of every kind, so imports
are not counted as growth) and once after the run. Clients are threads with keep-alive
``http.client`` connections (the lightest client in the standard library, so that the clients
take as little as possible of a small machine's CPU from the server), each client thread in its
own process (``--threads`` puts them all in one process: fewer processes, but the client's GIL
then adds to the latencies measured). The mix is drawn with
a fixed seed: mostly ``POST /api/shape`` (what scripts call), pages' ``/api/layer``, pictures,
code, exercises, a few ONNX uploads, and malformed requests of every class (bad JSON, unknown
fields, wrong types, absurd sizes, an oversized body, unknown routes, wrong methods).

For comparison, ``--cli N`` also times N runs of ``python -m convgeom shape ... --json``, what a
script without the server would run per question.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Optional
from urllib.parse import urlsplit


def _tiny_onnx() -> bytes:
    """A two-layer ONNX model (Conv, MaxPool), built with onnx.helper when onnx is installed."""
    try:
        from onnx import TensorProto, helper
    except ImportError:
        return b""
    w = helper.make_tensor("w", TensorProto.FLOAT, [4, 1, 3, 3], [0.0] * 36)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["a"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
         helper.make_node("MaxPool", ["a"], ["y"], kernel_shape=[2, 2], strides=[2, 2])],
        "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 32, 32])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializer=[w])
    return bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())


@dataclass(frozen=True)
class Request:
    kind: str
    method: str
    path: str
    body: bytes
    ok: tuple[int, ...]  # the statuses that are right for this request
    content_type: str = "application/json"


def _json(kind: str, path: str, data: Any, ok: tuple[int, ...] = (200,)) -> Request:
    return Request(kind, "POST", path, json.dumps(data).encode(), ok)


def requests_mix(n: int, seed: int, onnx: bytes) -> list[Request]:
    """``n`` requests drawn with ``seed``: kind -> weight below; values vary per request."""
    rng = random.Random(seed)

    def shape() -> Request:
        op = rng.choice(["conv", "conv-transpose", "max-pool", "avg-pool"])
        data: dict[str, Any] = {"op": op, "input": f"{rng.randint(8, 256)},{rng.randint(8, 256)}",
                                "kernel": rng.randint(1, 5), "stride": rng.randint(1, 3),
                                "framework": rng.choice(["torch", "tensorflow", "jax", "onnx"])}
        data["padding"] = rng.choice(["valid", "same", 0, 1]) if data["framework"] != "tensorflow" else \
            rng.choice(["valid", "same"])
        return _json("shape", "/api/shape", data, (200, 422))

    def malformed() -> Request:
        body, path = rng.choice([
            (b"{", "/api/shape"), (b"[1, 2]", "/api/shape"), (b"", "/api/shape"), (b"\xff\xfe", "/api/shape"),
            (b'{"op": "conv", "input": 7, "kernal": 3}', "/api/shape"),
            (b'{"op": "conv", "input": 7.5, "kernel": 3}', "/api/shape"),
            (b'{"op": "conv", "input": NaN, "kernel": 3}', "/api/shape"),
            (b'{"op": "conv", "input": 99999999999999999999999, "kernel": 3}', "/api/shape"),
            (b'{"op": "conv", "input": "1000000000000,1000000000000", "kernel": 3}', "/api/draw"),
            (b'{"op": "conv", "input": 7, "kernel": 3, "stride": 100000}', "/api/port"),
            (b"[" * 20_000, "/api/layer"),
            (b'{"op": "conv", "input": "7", "kernel": "3", "x": "' + b" " * 70_000 + b'"}', "/api/shape"),
            (b'{"key": "garbage", "answer": "3"}', "/api/quiz/check"),
        ])
        return Request("malformed", "POST", path, body, (400, 413, 422))

    def layer() -> Request:
        n = rng.randint(4, 24)
        return _json("layer", "/api/layer", {"op": rng.choice(["conv", "max-pool", "avg-pool", "conv-transpose"]),
                                             "input": f"{n},{n}", "kernel": rng.randint(1, 4), "stride": rng.randint(1, 2),
                                             "padding": rng.choice([0, 1])}, (200, 422))

    def draw() -> Request:
        n = rng.randint(4, 16)
        return _json("draw", "/api/draw", {"op": "conv", "input": f"{n},{n}", "kernel": 3, "stride": rng.randint(1, 2),
                                           "padding": 1}, (200,))

    def port() -> Request:
        return _json("port", "/api/port", {"op": rng.choice(["conv", "max-pool"]), "input": rng.randint(8, 64),
                                           "kernel": rng.randint(1, 4), "stride": rng.randint(1, 2)}, (200, 422))

    def quiz() -> Request:
        return Request("quiz", "GET", f"/api/quiz?count=5&seed={rng.randint(0, 10**6)}", b"", (200,))

    def route() -> Request:
        method, path = rng.choice([("GET", "/api/shape"), ("POST", "/api/nothing"), ("DELETE", "/api/layer"),
                                   ("GET", "/static/../../etc/passwd"), ("GET", "/")])
        return Request("routes", method, path, b"", (200, 404, 405) if path == "/" else (404, 405))

    def trace() -> Request:
        body = rng.choice([onnx, b"not a model"]) if onnx else b"not a model"
        return Request("trace", "POST", "/api/trace", body, (200, 422, 429), "application/octet-stream")  # 429: tracing others

    kinds = [(shape, 62), (malformed, 14), (layer, 8), (draw, 5), (port, 3), (quiz, 4), (route, 3.5), (trace, 0.5)]
    makers, weights = zip(*kinds)
    return [rng.choices(makers, weights)[0]() for _ in range(n)]


@dataclass
class Result:
    kind: str
    status: int
    seconds: float
    ok: bool


@dataclass
class Report:
    results: list[Result] = field(default_factory=list)
    #: (server process, its workers) resident bytes
    rss_start: Optional[tuple[int, int]] = None
    rss_before: Optional[tuple[int, int]] = None
    rss_after: Optional[tuple[int, int]] = None
    seconds: float = 0.0

    @property
    def server_errors(self) -> int:
        return sum(1 for r in self.results if r.status >= 500 or r.status == 0)

    @property
    def unexpected(self) -> int:
        return sum(1 for r in self.results if not r.ok)

    def by_kind(self) -> dict[str, dict[str, Any]]:
        groups: dict[str, list[Result]] = defaultdict(list)
        for r in self.results:
            groups[r.kind].append(r)
        table = {}
        for kind, rs in sorted(groups.items(), key=lambda kv: -len(kv[1])):
            ms = sorted(r.seconds * 1000 for r in rs)
            table[kind] = {"count": len(rs), "p50_ms": _percentile(ms, 50), "p99_ms": _percentile(ms, 99),
                           "max_ms": ms[-1], "5xx": sum(1 for r in rs if r.status >= 500),
                           "unexpected": sum(1 for r in rs if not r.ok),
                           "statuses": dict(sorted(_count(r.status for r in rs).items()))}
        return table

    def to_dict(self) -> dict[str, Any]:
        return {"requests": len(self.results), "seconds": self.seconds, "server_errors": self.server_errors,
                "unexpected": self.unexpected, "rss_start": self.rss_start, "rss_before": self.rss_before,
                "rss_after": self.rss_after, "kinds": self.by_kind()}


def _count(values: Any) -> dict[int, int]:
    out: dict[int, int] = defaultdict(int)
    for v in values:
        out[v] += 1
    return out


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[index]


def _rss(pid: int) -> Optional[int]:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux /proc)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry))
    return out


def rss_of(pid: int) -> Optional[tuple[int, int]]:
    """Resident memory in bytes (Linux /proc) of the server process ``pid`` and of its worker
    processes together, or None elsewhere."""
    own = _rss(pid)
    if own is None:
        return None
    return own, sum(_rss(child) or 0 for child in children(pid))


def _client_process(url: str, work: list[Request]) -> list[Result]:
    results: list[Result] = []
    _client(url, work, results, threading.Lock())
    return results


def _client(url: str, work: list[Request], results: list[Result], lock: threading.Lock) -> None:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=120)
    for request in work:
        start = time.perf_counter()
        try:
            conn.request(request.method, request.path, body=request.body or None,
                         headers={"content-type": request.content_type} if request.body else {})
            response = conn.getresponse()
            response.read()
            status = response.status
            if response.getheader("connection", "").lower() == "close":
                conn.close()
        except (OSError, http.client.HTTPException):
            status = 0
            conn.close()
            conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=120)
        elapsed = time.perf_counter() - start
        with lock:
            results.append(Result(request.kind, status, elapsed, status in request.ok))
    conn.close()


def warm_up(url: str, onnx: bytes) -> None:
    """One request of every kind (imports happen here, not during the measured run)."""
    results: list[Result] = []
    work = [m for m in requests_mix(200, 0, onnx)]
    seen: dict[str, Request] = {}
    for r in work:
        seen.setdefault(r.kind, r)
    _client(url, list(seen.values()), results, threading.Lock())


def run_load(url: str, n: int = 2000, clients: int = 16, seed: int = 1, pid: Optional[int] = None,
             threads: bool = False) -> Report:
    """Send ``n`` mixed requests from ``clients`` concurrent clients (processes, or threads of
    this process with ``threads``) to the server at ``url``."""
    onnx = _tiny_onnx()
    report = Report()
    report.rss_start = rss_of(pid) if pid else None
    warm_up(url, onnx)
    report.rss_before = rss_of(pid) if pid else None
    work = requests_mix(n, seed, onnx)
    shares = [work[i::clients] for i in range(clients)]
    if threads:
        lock = threading.Lock()
        pool = [threading.Thread(target=_client, args=(url, share, report.results, lock)) for share in shares]
        start = time.perf_counter()
        for t in pool:
            t.start()
        for t in pool:
            t.join()
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
        with ProcessPoolExecutor(clients, mp_context=context) as executor:
            executor.submit(time.sleep, 0).result()  # the pool's processes exist before the clock starts
            start = time.perf_counter()
            for results in executor.map(_client_process, [url] * clients, shares):
                report.results.extend(results)
    report.seconds = time.perf_counter() - start
    report.rss_after = rss_of(pid) if pid else None
    return report


def start_server(extra_env: Optional[dict[str, str]] = None) -> tuple[subprocess.Popen[str], str]:
    """``python -m convgeom serve --port 0`` and its URL (from its first line)."""
    proc = subprocess.Popen([sys.executable, "-m", "convgeom", "serve", "--port", "0"], stdout=subprocess.PIPE,
                            text=True, env={**os.environ, **(extra_env or {})})
    line = proc.stdout.readline() if proc.stdout else ""
    url = next((w for w in line.split() if w.startswith("http://")), None)
    if url is None:
        proc.kill()
        raise RuntimeError(f"the server did not start: {line!r}")
    return proc, url


def time_cli(runs: int) -> float:
    """Median wall seconds of ``python -m convgeom shape conv --input 224,224 ... --json``."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "convgeom", "shape", "conv", "--input", "224,224", "--kernel", "3",
                        "--stride", "2", "--padding", "1", "--json"], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _mib(value: Optional[int]) -> str:
    return "n/a" if value is None else f"{value / 2**20:.1f} MiB"


def _pair(value: Optional[tuple[int, int]]) -> str:
    return "n/a" if value is None else f"{_mib(value[0])} (+ workers {_mib(value[1])})"


def print_report(report: Report, clients: int) -> None:
    print(f"{len(report.results)} requests from {clients} clients in {report.seconds:.1f} s "
          f"({len(report.results) / report.seconds:.0f} requests/s)")
    print(f"{'kind':<10} {'count':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'5xx':>4} {'wrong':>6}  statuses")
    for kind, row in report.by_kind().items():
        print(f"{kind:<10} {row['count']:>6} {row['p50_ms']:>8.1f} {row['p99_ms']:>8.1f} {row['max_ms']:>8.1f} "
              f"{row['5xx']:>4} {row['unexpected']:>6}  {row['statuses']}")
    print(f"5xx or connection errors: {report.server_errors}; statuses other than expected: {report.unexpected}")
    print(f"server RSS: {_pair(report.rss_start)} at start, {_pair(report.rss_before)} after warm-up, "
          f"{_pair(report.rss_after)} after the run")
    if report.rss_before is not None and report.rss_after is not None:
        print(f"growth during the run: server {_mib(report.rss_after[0] - report.rss_before[0])}, "
              f"workers {_mib(report.rss_after[1] - report.rss_before[1])}")


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--requests", type=int, default=2000)
    parser.add_argument("-c", "--clients", type=int, default=16)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--url", help="a running server (default: start one)")
    parser.add_argument("--threads", action="store_true", help="clients as threads of one process")
    parser.add_argument("--cli", type=int, default=0, metavar="N", help="also time N runs of convgeom shape --json")
    parser.add_argument("--json", metavar="FILE", help="write the report as JSON")
    args = parser.parse_args(argv)
    proc = None
    url = args.url
    if url is None:
        proc, url = start_server()
    try:
        report = run_load(url, args.requests, args.clients, args.seed, proc.pid if proc else None, args.threads)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
    print_report(report, args.clients)
    data = report.to_dict()
    if args.cli:
        cli = time_cli(args.cli)
        shape_p50 = report.by_kind()["shape"]["p50_ms"] / 1000
        data["cli_shape_median_s"] = cli
        print(f"convgeom shape --json as a process: median {cli * 1000:.0f} ms over {args.cli} runs; "
              f"the server's /api/shape p50 under load is {cli / shape_p50:.0f}x faster")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(data, handle, indent=1)
    return 1 if report.server_errors else 0


if __name__ == "__main__":
    sys.exit(main())
