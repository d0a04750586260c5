"""convgeom.trace vs torchinfo.summary on EfficientNet-B0 (efficientnet_pytorch, random weights).

Every (tool, resolution) runs in its own subprocess: import, build the model, one warm-up call at
64 px, then ``--reps`` timed calls at the resolution. Reported: the median and the minimum wall
time, and the peak resident memory the calls added (``ru_maxrss`` after the calls minus the
resident size before the first call). torchinfo runs one real forward pass (activations
allocated); convgeom traces on the meta device (nothing allocated) and includes its diagnostics.

    python benchmarks/bench_trace.py                  # print the table
    python benchmarks/bench_trace.py --write          # also update BENCHMARKS.md (own section only)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

SECTION = "## Model tracing vs torchinfo"
ROOT = Path(__file__).resolve().parent.parent


def _rss_kb() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def worker(tool: str, px: int, reps: int, threads: int) -> dict[str, object]:
    import torch
    from efficientnet_pytorch import EfficientNet

    if threads > 0:
        torch.set_num_threads(threads)

    torch.manual_seed(0)
    model = EfficientNet.from_name("efficientnet-b0").eval()
    if tool == "torchinfo":
        import torchinfo

        def call(size: int) -> None:
            torchinfo.summary(model, input_size=(1, 3, size, size), verbose=0)
    else:
        import convgeom.tracing as ct

        def call(size: int) -> None:
            ct.trace(model, (1, 3, size, size))

    call(64)
    base = _rss_kb()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        call(px)
        times.append(time.perf_counter() - t0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    extra: dict[str, object] = {}
    if tool == "convgeom":
        import convgeom.tracing as ct

        t = ct.trace(model, (1, 3, px, px))
        extra = {"peak_activation_bytes": t.peak_activation_bytes, "macs": t.macs, "params": t.params}
    return {"tool": tool, "px": px, "threads": torch.get_num_threads(), "times": times,
            "peak_added_mb": max(0, peak - base) / 1024, **extra}


def run(tool: str, px: int, reps: int, threads: int) -> dict[str, object]:
    out = subprocess.run([sys.executable, __file__, "--worker", tool, str(px), str(reps), str(threads)], check=True,
                         capture_output=True, text=True)
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def table(results: list[dict[str, object]]) -> str:
    by = {(r["tool"], r["px"], r["threads"]): r for r in results}
    lines = [
        "| input | torch threads | torchinfo.summary median (min) | torchinfo peak RSS added | convgeom.trace median (min) | "
        "convgeom peak RSS added | speed-up (median) | activations a forward pass holds at peak |",
        "|---|---|---|---|---|---|---|---|",
    ]
    keys = sorted({(int(r["threads"]), int(r["px"])) for r in results}, reverse=True)  # type: ignore[call-overload]
    for threads, px in sorted(keys, key=lambda k: (-k[0], k[1])):
        ti = by.get(("torchinfo", px, threads))
        cg = by.get(("convgeom", px, threads))
        if cg is None:
            continue

        def fmt(r: dict[str, object] | None) -> tuple[str, str, float]:
            if r is None:
                return "not run", "--", float("nan")
            ts = r["times"]
            assert isinstance(ts, list)
            med = statistics.median(ts)
            return f"{med * 1000:.0f} ms ({min(ts) * 1000:.0f} ms)", f"{r['peak_added_mb']:.0f} MB", med

        ti_t, ti_m, ti_med = fmt(ti)
        cg_t, cg_m, cg_med = fmt(cg)
        speed = f"{ti_med / cg_med:.0f}x" if ti is not None else "--"
        peak = int(cg.get("peak_activation_bytes", 0))  # type: ignore[call-overload]
        lines.append(f"| {px}x{px} | {threads} | {ti_t} | {ti_m} | {cg_t} | {cg_m} | {speed} | {peak / 1e6:,.0f} MB |")
    return "\n".join(lines)


def write_section(body: str) -> None:
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    start = text.find(SECTION)
    if start >= 0:
        nxt = text.find("\n## ", start + len(SECTION))
        text = text[:start] + body + ("\n" + text[nxt + 1:] if nxt >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + body
    path.write_text(text.rstrip("\n") + "\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker", nargs=4, metavar=("TOOL", "PX", "REPS", "THREADS"))
    parser.add_argument("--threads", default="0,1", help="torch intra-op threads per variant (0: torch's default)")
    parser.add_argument("--sizes", default="224,512,1024")
    parser.add_argument("--big", default="4096", help="convgeom-only sizes")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--torchinfo-reps", type=int, default=3)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    if args.worker:
        tool, px, reps, threads = args.worker
        print(json.dumps(worker(tool, int(px), int(reps), int(threads))))
        return
    load_before = os.getloadavg()[0]
    results = []
    for threads in [int(t) for t in args.threads.split(",")]:
        for px in [int(s) for s in args.sizes.split(",")]:
            results.append(run("torchinfo", px, args.torchinfo_reps, threads))
            results.append(run("convgeom", px, args.reps, threads))
        for px in [int(s) for s in args.big.split(",") if s]:
            results.append(run("convgeom", px, args.reps, threads))
    load_after = os.getloadavg()[0]
    import torch

    cmd = "python benchmarks/bench_trace.py --write"
    body = "\n".join([
        SECTION,
        "",
        f"EfficientNet-B0 (`efficientnet_pytorch`, `EfficientNet.from_name('efficientnet-b0')`, eval mode, batch 1), "
        f"`torchinfo.summary(model, input_size=..., verbose=0)` vs `convgeom.trace(model, shape)` (diagnostics "
        "included). One subprocess per row and tool; one warm-up call at 64 px, then timed calls "
        f"(torchinfo {args.torchinfo_reps}, convgeom {args.reps}). Peak RSS added = `ru_maxrss` after the calls "
        "minus the resident size before them. The last column is convgeom's peak-activation estimate from tensor "
        "lifetimes: what a real forward pass must hold at once (torchinfo is not run at 4096 px). Each size runs "
        "with torch's default intra-op threads and with one thread (`torch.set_num_threads(1)`): on a busy "
        "machine the multi-threaded forward pass suffers from oversubscription, the one-thread rows do not.",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, torch {torch.__version__} (CPU); 1-minute load average "
        f"{load_before:.1f} before, {load_after:.1f} after (a shared machine: other jobs ran meanwhile).",
        "",
        table(results),
        "",
        f"Command: `{cmd}`",
        "",
    ])
    print(body)
    if args.write:
        write_section(body)


if __name__ == "__main__":
    main()
