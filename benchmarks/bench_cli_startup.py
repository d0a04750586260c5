"""Cold start of the command line: whole-process time of ``convgeom shape conv --input 7 --kernel 3``
(as ``python -m convgeom`` and as the console script's code), of ``import convgeom`` and of a bare
``python -c pass``, for this checkout (A) and, with ``--baseline SRC``, another checkout's ``src``
(B), run in turn A B A B ... so that drift of a shared machine hits both alike.

Each run is a fresh interpreter (bytecode compiled beforehand, as an installed package has it);
wall time from just before the start to the child's exit, CPU time from the operating system's
accounting of the finished child (``resource.getrusage(RUSAGE_CHILDREN)``). Medians are printed.

    python benchmarks/bench_cli_startup.py --baseline /path/to/old/checkout/src -n 20
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
SHAPE = ["shape", "conv", "--input", "7", "--kernel", "3"]
CASES = {
    "python -m convgeom shape conv --input 7 --kernel 3": ["-m", "convgeom", *SHAPE],
    "console script (convgeom shape ...)": ["-c", "import sys; from convgeom.cli import main; "
                                                  f"sys.argv = ['convgeom', *{SHAPE!r}]; sys.exit(main())"],
    "python -c 'import convgeom'": ["-c", "import convgeom"],
    "python -c 'import argparse' (the floor of any argparse CLI)": ["-c", "import argparse"],
    "python -c pass": ["-c", "pass"],
}


def one_run(args: list[str], src: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one fresh interpreter."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=20, help="timed runs per command and checkout (default 20)")
    parser.add_argument("--baseline", type=Path, help="the src directory of the checkout to compare with")
    options = parser.parse_args()
    sources = {"A": SRC} | ({"B": options.baseline} if options.baseline else {})
    for src in sources.values():
        compileall.compile_dir(str(src), quiet=1)
    print("| command | " + " | ".join(f"{k} wall ms | {k} cpu ms" for k in sources)
          + (" | A/B cpu |" if len(sources) > 1 else " |"))
    print("|---|" + "---:|" * (2 * len(sources) + (len(sources) > 1)))
    for name, args in CASES.items():
        for src in sources.values():
            one_run(args, src)  # warm-up: file cache
        walls: dict[str, list[float]] = {k: [] for k in sources}
        cpus: dict[str, list[float]] = {k: [] for k in sources}
        ratios = []
        for _ in range(options.n):
            pair = {}
            for key, src in sources.items():
                wall, cpu = one_run(args, src)
                walls[key].append(wall)
                cpus[key].append(cpu)
                pair[key] = cpu
            if len(sources) > 1 and pair["B"] > 0:
                ratios.append(pair["A"] / pair["B"])
        cells = [f"{statistics.median(walls[k]) * 1e3:.0f} | {statistics.median(cpus[k]) * 1e3:.0f}" for k in sources]
        ratio = f" | {statistics.median(ratios):.2f}" if ratios else ""
        print(f"| {name} | " + " | ".join(cells) + ratio + " |", flush=True)


if __name__ == "__main__":
    main()
