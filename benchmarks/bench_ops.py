"""convgeom.ops.conv against torch.nn.functional.conv*d on the CPU, side by side in one process.

    python benchmarks/bench_ops.py                 # markdown table on stdout
    python benchmarks/bench_ops.py --write BENCHMARKS.md   # also (re)write our section there

float32; torch.set_num_threads() is set to NumPy's BLAS thread count (both are printed). After a
warm-up, rounds run every shape once (torch and convgeom, in turns first) and medians are
reported, so a burst of load from other jobs touches one sample per shape and both sides alike.
GFLOP/s counts 2 * MACs of the direct convolution. The NumPy peak is the best float32 matrix
product rate over a few square sizes. A second table times transposed convolutions and pools,
which the speed target does not cover.
"""

from __future__ import annotations

import argparse
import functools
import math
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SECTION = "## NumPy reference ops vs torch"


@dataclass(frozen=True)
class Case:
    name: str
    x: tuple[int, ...]
    w: tuple[int, ...]
    stride: int
    padding: int
    groups: int = 1

    @property
    def flops(self) -> float:
        """2 * N * C_out * prod(out) * C_in/groups * prod(k)."""
        n, _, *spatial = self.x
        c_out, c_per, *k = self.w
        out = [(s + 2 * self.padding - kk) // self.stride + 1 for s, kk in zip(spatial, k)]
        return 2.0 * n * c_out * math.prod(out) * c_per * math.prod(k)


CASES = (
    Case("ResNet 3x3, 64->64, 56x56, batch 8", (8, 64, 56, 56), (64, 64, 3, 3), 1, 1),
    Case("7x7 stride-2 stem, 3->64, 224x224, batch 8", (8, 3, 224, 224), (64, 3, 7, 7), 2, 3),
    Case("depthwise 3x3, 128 ch, 56x56, batch 8", (8, 128, 56, 56), (128, 1, 3, 3), 1, 1, groups=128),
    Case("1x1, 256->512, 28x28, batch 8", (8, 256, 28, 28), (512, 256, 1, 1), 1, 0),
    Case("1-D k9, 64->64, length 16000, batch 8", (8, 64, 16000), (64, 64, 9), 1, 4),
    Case("3-D 3x3x3, 16->32, 32x64x64, batch 1", (1, 16, 32, 64, 64), (32, 16, 3, 3, 3), 1, 1),
)


@dataclass(frozen=True)
class OtherCase:
    """An op outside the speed target, timed for reference: ``op`` is conv_transpose (``w`` is
    its weight shape), max_pool or avg_pool (``w`` is the window)."""

    name: str
    op: str
    x: tuple[int, ...]
    w: tuple[int, ...]
    stride: int
    padding: int


OTHER_CASES = (
    OtherCase("conv_transpose 2x2 stride 2, 64->32, 56x56, batch 8", "conv_transpose", (8, 64, 56, 56),
              (64, 32, 2, 2), 2, 0),
    OtherCase("conv_transpose 4x4 stride 2 pad 1, 64->32, 56x56, batch 8", "conv_transpose", (8, 64, 56, 56),
              (64, 32, 4, 4), 2, 1),
    OtherCase("max_pool 3x3 stride 2 pad 1, 64 ch, 112x112, batch 8", "max_pool", (8, 64, 112, 112), (3, 3), 2, 1),
    OtherCase("avg_pool 2x2 stride 2, 64 ch, 112x112, batch 8", "avg_pool", (8, 64, 112, 112), (2, 2), 2, 0),
)


def blas_threads() -> tuple[int, str]:
    """NumPy's BLAS thread count and how it was found (threadpoolctl, the library, or env)."""
    try:
        from threadpoolctl import threadpool_info  # type: ignore[import-not-found]

        for info in threadpool_info():
            if info.get("user_api") == "blas":
                return int(info["num_threads"]), f"threadpoolctl ({info.get('internal_api')})"
    except ImportError:
        pass
    try:
        import ctypes

        with open("/proc/self/maps") as maps:
            paths = sorted({line.split()[-1] for line in maps if "openblas" in line.lower() and ".so" in line})
        for path in paths:
            lib = ctypes.CDLL(path)
            for symbol in ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_",
                           "openblas_get_num_threads"):
                if hasattr(lib, symbol):
                    return int(getattr(lib, symbol)()), f"{Path(path).name}:{symbol}"
    except OSError:
        pass
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        if os.environ.get(var, "").isdigit():
            return int(os.environ[var]), var
    return os.cpu_count() or 1, "os.cpu_count()"


def matmul_peak(np: object, seconds: float = 2.0) -> float:
    """Best float32 GFLOP/s of NumPy's matrix product over a few square sizes."""
    numpy = np
    best = 0.0
    rng = numpy.random.default_rng(0)  # type: ignore[attr-defined]
    for size in (512, 1024, 2048):
        a = rng.standard_normal((size, size), dtype=numpy.float32)  # type: ignore[attr-defined]
        b = rng.standard_normal((size, size), dtype=numpy.float32)  # type: ignore[attr-defined]
        out = numpy.empty_like(a)  # type: ignore[attr-defined]
        numpy.matmul(a, b, out=out)  # type: ignore[attr-defined]
        deadline = time.perf_counter() + seconds / 3
        while time.perf_counter() < deadline:
            t = time.perf_counter()
            numpy.matmul(a, b, out=out)  # type: ignore[attr-defined]
            best = max(best, 2.0 * size**3 / (time.perf_counter() - t) / 1e9)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=15, help="timed runs per side and shape (default 15)")
    parser.add_argument("--only", default="", help="comma list of case numbers (1-based) to run")
    parser.add_argument("--write", metavar="FILE", help=f"replace the generated table in the section '{SECTION}' of FILE")
    args = parser.parse_args()

    import numpy as np
    import torch
    import torch.nn.functional as F

    from convgeom.ops import _parallel, conv, num_threads

    threads, source = blas_threads()
    torch.set_num_threads(threads)
    with _parallel.single_threaded_blas() as active:
        own = "yes" if active else "no"
    peak = matmul_peak(np)
    cases = [c for i, c in enumerate(CASES, 1) if not args.only or str(i) in args.only.split(",")]
    rng = np.random.default_rng(0)
    functional = {3: F.conv1d, 4: F.conv2d, 5: F.conv3d}
    prepared: list[tuple[Any, ...]] = []
    for case in cases:
        x = rng.standard_normal(case.x, dtype=np.float32)
        w = rng.standard_normal(case.w, dtype=np.float32)
        run_torch = functools.partial(_torch_call, torch, functional[len(case.x)], torch.from_numpy(x),
                                      torch.from_numpy(w), case)
        run_ours = functools.partial(conv, x, w, None, case.stride, case.padding, 1, case.groups)
        ref = run_torch().numpy()  # the first calls are the warm-up
        err = float(np.abs(run_ours() - ref).max() / np.abs(ref).max())
        prepared.append((case, run_torch, run_ours, err, [], []))
    for other in OTHER_CASES if not args.only else ():
        run_torch, run_ours = _other_calls(torch, np, rng, other)
        ref = run_torch().numpy()
        err = float(np.abs(run_ours() - ref).max() / np.abs(ref).max())
        prepared.append((other, run_torch, run_ours, err, [], []))
    # rounds over all shapes, so that a burst of load from other jobs hits one sample per shape
    # The side that runs first in a round can pay for what the other freed (a large free hands
    # memory back to the OS, the next allocation faults it in), so the order flips every round.
    for round_index in range(args.repeats):
        for _case, run_torch, run_ours, _err, t_torch, t_ours in prepared:
            sides = [(run_torch, t_torch), (run_ours, t_ours)]
            for run, samples in sides if round_index % 2 == 0 else sides[::-1]:
                t = time.perf_counter()
                run()
                samples.append(time.perf_counter() - t)
    rows = []
    ratios = []
    others = []
    for case, _, _, err, t_torch, t_ours in prepared:
        mt, mo = float(np.median(t_torch)), float(np.median(t_ours))
        if isinstance(case, OtherCase):
            others.append((case, mt, mo, err))
        else:
            ratios.append(mo / mt)
            rows.append((case, mt, mo, err))
        print(f"  {case.name}: torch {mt * 1e3:.1f} ms, convgeom {mo * 1e3:.1f} ms", file=sys.stderr, flush=True)
    geo = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
    worst = max(zip(ratios, (c.name for c, *_ in rows)))
    lines = [
        "| shape | torch median ms | convgeom median ms | ratio convgeom/torch | torch GFLOP/s |"
        " convgeom GFLOP/s | convgeom % of NumPy peak | max rel. error |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for case, mt, mo, err in rows:
        lines.append(
            f"| {case.name} | {mt * 1e3:.1f} | {mo * 1e3:.1f} | {mo / mt:.2f} | {case.flops / mt / 1e9:.1f} | "
            f"{case.flops / mo / 1e9:.1f} | {100 * case.flops / mo / 1e9 / peak:.0f}% | {err:.1e} |"
        )
    try:
        load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        load = "n/a"
    lines += [
        "",
        f"- geometric-mean ratio convgeom/torch: **{geo:.2f}**; worst: {worst[0]:.2f} ({worst[1]})",
        f"- NumPy float32 matmul peak: {peak:.1f} GFLOP/s",
        f"- threads: NumPy BLAS {threads} (read from {source}), torch.set_num_threads({threads}), "
        f"convgeom {num_threads()} worker threads (BLAS set to 1 thread inside each op: {own})",
        f"- NumPy {np.__version__}, torch {torch.__version__}, Python {platform.python_version()}, "
        f"{platform.machine()} with {os.cpu_count()} CPUs ({_cpu_name()})",
        f"- load average (1, 5, 15 min) before: {_load_before}; after: {load} (on a shared machine, "
        "jobs running meanwhile slow both sides)",
        f"- medians of {args.repeats} runs per side after one warm-up each; each round runs every shape "
        "once, torch and convgeom in turns first",
    ]
    if others:
        lines += [
            "",
            "Other ops, outside the speed target (same runs):",
            "",
            "| op | torch median ms | convgeom median ms | ratio convgeom/torch | max rel. error |",
            "|---|---:|---:|---:|---:|",
        ]
        lines += [f"| {c.name} | {mt * 1e3:.1f} | {mo * 1e3:.1f} | {mo / mt:.2f} | {err:.1e} |"
                  for c, mt, mo, err in others]
    table = "\n".join(lines)
    print(table)
    if args.write:
        command = "python benchmarks/bench_ops.py" + (f" --repeats {args.repeats}" if args.repeats != 15 else "")
        _write_section(Path(args.write), table, command)
    return 0


def _other_calls(torch: Any, np: Any, rng: Any, case: OtherCase) -> tuple[Any, Any]:
    """(torch call, convgeom call) for an :class:`OtherCase`."""
    from convgeom import ops

    x = rng.standard_normal(case.x, dtype=np.float32)
    xt = torch.from_numpy(x)
    F = torch.nn.functional
    if case.op == "conv_transpose":
        w = rng.standard_normal(case.w, dtype=np.float32)
        wt = torch.from_numpy(w)
        ours = functools.partial(ops.conv_transpose, x, w, None, case.stride, case.padding)
        theirs = functools.partial(F.conv_transpose2d, xt, wt, None, case.stride, case.padding)
    elif case.op == "max_pool":
        ours = functools.partial(ops.max_pool, x, case.w, case.stride, case.padding)
        theirs = functools.partial(F.max_pool2d, xt, case.w, case.stride, case.padding)
    else:
        ours = functools.partial(ops.avg_pool, x, case.w, case.stride, case.padding)
        theirs = functools.partial(F.avg_pool2d, xt, case.w, case.stride, case.padding)

    def run_torch() -> Any:
        with torch.no_grad():
            return theirs()

    return run_torch, ours


def _torch_call(torch: Any, fn: Any, xt: Any, wt: Any, case: Case) -> Any:
    with torch.no_grad():
        return fn(xt, wt, None, case.stride, case.padding, 1, case.groups)


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


BEGIN, END = "<!-- bench_ops.py:begin -->", "<!-- bench_ops.py:end -->"


def _write_section(path: Path, table: str, command: str) -> None:
    """Replace the generated block of our section (between BEGIN and END), keeping any prose
    around it; create the section (or the file) if missing. Other sections are not touched."""
    block = f"{BEGIN}\nProduced by `{command}` (float32, one process, torch and convgeom alternating).\n\n{table}\n{END}"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + block + rest.split(END, 1)[1]
    elif SECTION in text:
        text = text.replace(SECTION, f"{SECTION}\n\n{block}", 1)
    else:
        text = text.rstrip("\n") + f"\n\n{SECTION}\n\n{block}\n"
    path.write_text(text)


try:
    _load_before = ", ".join(f"{v:.2f}" for v in os.getloadavg())
except OSError:
    _load_before = "n/a"

if __name__ == "__main__":
    raise SystemExit(main())
