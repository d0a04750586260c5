"""How long ``convgeom experiment`` takes, and what Ray costs per trial against in-process.

1. ``--quick``: the quick preset end to end (a fresh ``python -m convgeom experiment --quick``
   process: imports, data, tracing, 24 trainings, tables, plots, report), with the wall time
   and the CPU time of the process and its children (``resource.getrusage``), and the load
   average before and after (the machine may be shared: the CPU time is the figure that does
   not depend on other jobs).
2. ``--overhead``: ``--trials`` tiny trials (1 epoch, 100 images, one 4-channel conv block, so
   training is short and the overhead shows) in one process, run by the local backend and by a
   local Ray started with one CPU (so its trials also run one at a time): Ray's start-up, the
   first pass of each backend (Ray's cold workers import torch and convgeom; the local process
   warms up torch) and the median of ``--repeats`` warm passes. Per-trial overhead = (warm Ray
   pass - warm local pass) / trials. The two backends' results are checked to be identical.

Usage: python benchmarks/bench_experiments.py [--quick] [--overhead] [--trials 16] [--backend local|ray]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any


def _cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def quick(backend: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as out:
        load = os.getloadavg()[0]
        cpu0, t0 = _cpu_children(), time.perf_counter()
        cmd = [sys.executable, "-m", "convgeom", "experiment", "--quick", "--out", out, "--quiet", "--backend", backend]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall, cpu = time.perf_counter() - t0, _cpu_children() - cpu0
        if proc.returncode != 0:
            raise SystemExit(f"quick preset failed: {proc.stderr.strip()}")
        return {"backend": backend, "wall_s": wall, "cpu_s": cpu, "load_before": load, "load_after": os.getloadavg()[0],
                "command": " ".join(["python -m convgeom experiment --quick --quiet --backend", backend])}


def overhead(trials: int, repeats: int) -> dict[str, Any]:
    from convgeom.experiments.backends import LocalBackend, RayBackend
    from convgeom.experiments.config import parse
    from convgeom.experiments.store import comparable
    from convgeom.experiments.sweep import DataCache

    experiment = parse({"name": "overhead", "datasets": [{"name": "border", "size": 16, "samples": 100}],
                        "model": {"depth": 1, "width": 4}, "training": {"epochs": 1, "batch_size": 32},
                        "seeds": trials})
    todo = experiment.trials()
    cache = DataCache()
    cache_all = {(t.dataset, t.seed): cache(t) for t in todo}      # data made before the clocks start

    def data_for(t: Any) -> Any:
        return cache_all[(t.dataset, t.seed)]

    def timed(backend: Any) -> tuple[float, list[dict[str, Any]]]:
        t0 = time.perf_counter()
        results = [r for _, r in sorted(backend.run(todo, data_for, lambda t: None), key=lambda p: todo.index(p[0]))]
        return time.perf_counter() - t0, results

    load = os.getloadavg()[0]
    local = LocalBackend()
    local_cold_s, local_results = timed(local)
    local_warm = [timed(local)[0] for _ in range(repeats)]
    t0 = time.perf_counter()
    ray = RayBackend(cpus=1)
    init_s = time.perf_counter() - t0
    try:
        cold_s, ray_results = timed(ray)
        warm = [timed(ray)[0] for _ in range(repeats)]
    finally:
        ray.close()
    identical = [comparable(r) for r in local_results] == [comparable(r) for r in ray_results]
    local_s, warm_s = statistics.median(local_warm), statistics.median(warm)
    return {"trials": trials, "repeats": repeats, "local_cold_s": local_cold_s, "local_s": local_s,
            "ray_init_s": init_s, "ray_cold_s": cold_s, "ray_warm_s": warm_s,
            "per_trial_local_ms": 1000 * local_s / trials, "per_trial_ray_ms": 1000 * warm_s / trials,
            "per_trial_overhead_ms": 1000 * (warm_s - local_s) / trials,
            "identical": identical, "load_before": load, "load_after": os.getloadavg()[0]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--overhead", action="store_true")
    ap.add_argument("--trials", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3, help="warm passes per backend (the median is reported)")
    ap.add_argument("--backend", choices=("local", "ray"), action="append")
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    if args.quick:
        print("| run | wall | CPU (user + system) | load average before / after |")
        print("|---|---|---|---|")
        for backend in args.backend or ["local"]:
            r = quick(backend)
            # Ray's workers are not children of the command (its raylet starts them): their CPU is not counted
            cpu = f"{r['cpu_s']:.0f} s" if backend == "local" else f"{r['cpu_s']:.0f} s (driver only)"
            print(f"| quick preset, --backend {backend} | {r['wall_s']:.0f} s | {cpu} | "
                  f"{r['load_before']:.1f} / {r['load_after']:.1f} |", flush=True)
    if args.overhead:
        r = overhead(args.trials, args.repeats)
        print(f"{r['trials']} tiny trials, median of {r['repeats']} warm passes; load {r['load_before']:.1f} / "
              f"{r['load_after']:.1f}; identical results: {r['identical']}")
        print("| | first pass | warm pass (median) | per trial (warm) |")
        print("|---|---|---|---|")
        print(f"| local (in-process) | {r['local_cold_s']:.2f} s | {r['local_s']:.2f} s | {r['per_trial_local_ms']:.0f} ms |")
        print(f"| Ray, 1 CPU per trial (start-up {r['ray_init_s']:.1f} s) | {r['ray_cold_s']:.2f} s | "
              f"{r['ray_warm_s']:.2f} s | {r['per_trial_ray_ms']:.0f} ms |")
        print(f"| Ray - local, per trial | | | {r['per_trial_overhead_ms']:+.0f} ms |")


if __name__ == "__main__":
    main()
