"""Command line and driver: draw the configurations, run them in workers, write the files."""
from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from . import __doc__ as PACKAGE_DOC
from .configs import draw_items, framework_seed
from .isolation import Isolated, TFDual, serve
from .numeric import COUNT as NUMERIC_COUNT
from .schema import FRAMEWORKS, Item, cfg_key, clean_record
from .writing import framework_meta, numeric_meta, write_json

VERBOSE = os.environ.get("GOLDEN_VERBOSE") == "1"  # print every record


def make_isolated(fw: str, jobs: int) -> Isolated:
    """TensorFlow always runs two workers (oneDNN on and off); the others `jobs`."""
    return TFDual(jobs) if fw == "tensorflow" else Isolated(fw, jobs)


def _progress(fw: str, done: int, count: int, n_err: int, t0: float) -> None:
    if done % 50 == 0 or done == count:
        print(f"\r[{fw}] {done}/{count} ({n_err} rejected, {time.time() - t0:.0f}s)", end="",
              file=sys.stderr, flush=True)


def run_records(fw: str, runner: Isolated, items: Sequence[Item],
                t0: float) -> list[dict[str, Any]]:
    """One record per item, in order, with progress on stderr."""
    records = []
    n_err = 0
    for item, (result, extras) in zip(items, runner.run_many(items)):
        n_err += "error" in result
        rec = clean_record(item.cfg, result)
        rec.update(extras)
        records.append(rec)
        if VERBOSE:
            print(f"\n{len(records)}: {cfg_key(item.cfg)} -> {result}", file=sys.stderr,
                  flush=True)
        _progress(fw, len(records), len(items), n_err, t0)
    print(file=sys.stderr)
    return records


def generate(fw: str, count: int, seed: int, out_dir: str, ops: bool = True,
             jobs: int = 2) -> float:
    """Write out_dir/<fw>.json (and tensorflow_ops.json); returns the seconds taken."""
    t0 = time.time()
    runner = make_isolated(fw, jobs)
    items = draw_items(fw, count, seed)
    records = run_records(fw, runner, items, t0)
    meta = dict(framework_meta(fw, runner.versions or {}, seed, records), **runner.counters())
    os.makedirs(out_dir, exist_ok=True)
    write_json(os.path.join(out_dir, f"{fw}.json"), meta, records)
    if fw == "tensorflow" and ops:
        cases = runner.numeric_ops(framework_seed(fw, seed) + 1, NUMERIC_COUNT)
        write_json(os.path.join(out_dir, "tensorflow_ops.json"),
                   numeric_meta(runner.versions or {}, seed), cases)
    runner.close()
    dt = time.time() - t0
    n_err = meta["n_rejected"]
    print(f"[{fw}] wrote {count} records ({count - n_err} valid, {n_err} rejected) "
          f"in {dt:.1f}s", file=sys.stderr)
    return dt


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=(PACKAGE_DOC or "").split("\n")[0])
    ap.add_argument("--framework", default="all", choices=[*FRAMEWORKS, "all"])
    ap.add_argument("--count", type=int, default=2400)
    ap.add_argument("--seed", type=int, default=20240521)
    ap.add_argument("--out", default=os.path.join("tests", "golden"))
    ap.add_argument("--no-ops", action="store_true",
                    help="do not (re)write tensorflow_ops.json")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                    help="worker processes for jax/onnx (tensorflow always uses two: oneDNN "
                         "on and off)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    return ap.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.worker is not None:
        serve(args.worker)
        return
    fws = FRAMEWORKS if args.framework == "all" else (args.framework,)
    for fw in fws:
        generate(fw, args.count, args.seed, args.out, ops=not args.no_ops, jobs=args.jobs)
