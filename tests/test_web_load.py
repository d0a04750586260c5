"""The load test of ``benchmarks/bench_web_load.py`` in a short form, against a real server
process: mixed valid and malformed requests from concurrent clients get no 5xx and no
connection error, every status is the one expected for its request, and the server's memory
stays bounded. No timing is asserted (the latencies are in BENCHMARKS.md)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_web_load.py"


def load_bench():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("bench_web_load", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_web_load"] = module
    spec.loader.exec_module(module)
    return module


def test_short_load_has_no_server_errors_and_bounded_memory() -> None:
    bench = load_bench()
    proc, url = bench.start_server()
    try:
        report = bench.run_load(url, n=400, clients=8, seed=3, pid=proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    kinds = report.by_kind()
    assert len(report.results) == 400
    assert report.server_errors == 0, kinds
    assert report.unexpected == 0, kinds
    assert {"shape", "malformed", "layer", "routes"} <= set(kinds)
    assert kinds["malformed"]["statuses"].keys() <= {400, 413, 422}
    if report.rss_before is not None:  # Linux: /proc
        server_growth = report.rss_after[0] - report.rss_before[0]
        worker_growth = report.rss_after[1] - report.rss_before[1]
        assert server_growth < 32 * 2**20, server_growth
        assert worker_growth < 256 * 2**20, worker_growth
