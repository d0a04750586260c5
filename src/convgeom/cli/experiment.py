"""``convgeom experiment``: train small CNN variants over a grid and say what the tutorials'
claims look like on real data. The options become a configuration (:func:`overrides`) and sweep
options (:func:`options`); the work is :mod:`convgeom.experiments`' (``presets.assemble``,
``sweep.dry_run``, ``sweep.run``, ``report.write_outputs``), imported only when the command runs."""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import sys
from typing import Any

_GRID_OPTIONS = (
    ("kernel", "kernel sizes, e.g. 3,5,7"),
    ("padding", "valid, same (TensorFlow's split), N or B:A (before:after), e.g. valid,same,1,0:1"),
    ("padding-mode", "zeros, reflect, replicate, circular (comma list)"),
    ("downsample", "maxpool, avgpool, stride (a stride-2 conv) or none (comma list)"),
    ("dilation", "dilations, e.g. 1,2"),
    ("depth", "numbers of conv blocks, e.g. 2,3"),
    ("width", "channels per block, e.g. 16,32"),
    ("norm", "batch or none"),
    ("head", "gap (global average pooling) or flatten"),
)
_TRAIN_OPTIONS = (
    ("epochs", "epochs per run (default 5; 1..100)"),
    ("batch-size", "mini-batch size (default 64; 1..4096)"),
    ("lr", "Adam learning rate (default 0.003)"),
    ("weight-decay", "Adam weight decay (default 0)"),
    ("threads", "torch threads per trial, and Ray CPUs per trial (default 1)"),
)

DESCRIPTION = ("Train small CNNs over a grid of kernel size, stride vs pooling, padding, padding mode, "
               "dilation and depth, on digits, a border task, a position task or your images; report "
               "accuracy with 95% CIs, paired tests, params/MACs/receptive fields from convgeom.trace, "
               "and a verdict on each tutorial claim.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``convgeom experiment`` (see ``--help``)."""
    parser.description = DESCRIPTION
    what = parser.add_argument_group("what to run (a preset, a file, options; later ones override earlier ones)")
    what.add_argument("--preset", metavar="NAME", help="a named experiment (see --list-presets)")
    what.add_argument("--quick", action="store_true", help="the quick preset: digits + border, 4 padding modes, 3 seeds")
    what.add_argument("--config", metavar="FILE", help="a .yaml, .toml or .json configuration")
    what.add_argument("--list-presets", action="store_true", help="list the presets and exit")
    data = parser.add_argument_group("data")
    data.add_argument("--dataset", action="append", metavar="NAME",
                      help="digits, border, position, npz:FILE or folder:DIR (repeat or comma-separate)")
    data.add_argument("--size", metavar="N", help="image side for every data set (8..128)")
    data.add_argument("--samples", metavar="N", help="images generated for border/position (60..20000)")
    grid = parser.add_argument_group("model grid (comma lists: every combination is trained)")
    for name, text in _GRID_OPTIONS:
        grid.add_argument(f"--{name}", metavar="LIST", help=text)
    train = parser.add_argument_group("training")
    for name, text in _TRAIN_OPTIONS:
        train.add_argument(f"--{name}", metavar="X" if name in ("lr", "weight-decay") else "N", help=text)
    train.add_argument("--seeds", metavar="N", help="seeds per configuration: a count (1..20) or a list like 0,1,7")
    train.add_argument("--device", choices=("cpu", "cuda", "auto"), help="default cpu; auto takes a GPU if torch sees one")
    run_group = parser.add_argument_group("running")
    run_group.add_argument("--out", metavar="DIR", help="output folder (default ./experiment-NAME)")
    run_group.add_argument("--resume", action="store_true", help="keep the finished runs in --out and run the rest")
    run_group.add_argument("--overwrite", action="store_true", help="delete earlier results in --out first")
    run_group.add_argument("--backend", choices=("local", "ray"), default="local",
                           help="local: in this process (default); ray: one Ray task per trial")
    run_group.add_argument("--address", metavar="ADDR", help="Ray cluster address (default: start a local Ray)")
    run_group.add_argument("--ray-cpus", metavar="N", help="CPUs of the local Ray (default: all)")
    run_group.add_argument("--gpus-per-trial", metavar="X", help="Ray GPUs per trial (default 1 with cuda, else 0)")
    run_group.add_argument("--dry-run", action="store_true", help="check everything, show the models, train nothing")
    run_group.add_argument("--no-plots", action="store_true", help="skip the matplotlib plots")
    run_group.add_argument("--quiet", action="store_true", help="no progress bars (also off when stderr is no terminal)")
    run_group.add_argument("--json", action="store_true", help="print one JSON object (no progress bars)")


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _datasets(values: list[str]) -> list[Any]:
    out: list[Any] = []
    for value in values:
        if value.startswith(("npz:", "folder:")):
            out.append(value)          # a path may hold commas
        else:
            out += _split(value)
    return out


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The configuration keys the command-line options set."""
    data: dict[str, Any] = {}
    grid = {name.replace("-", "_"): _split(getattr(args, name.replace("-", "_")))
            for name, _ in _GRID_OPTIONS if getattr(args, name.replace("-", "_")) is not None}
    if grid:
        data["grid"] = grid
    training = {name.replace("-", "_"): getattr(args, name.replace("-", "_"))
                for name, _ in _TRAIN_OPTIONS if getattr(args, name.replace("-", "_")) is not None}
    if args.device is not None:
        training["device"] = args.device
    if training:
        data["training"] = training
    if args.seeds is not None:
        seeds = _split(args.seeds)
        data["seeds"] = seeds[0] if len(seeds) == 1 else seeds
    if args.dataset:
        data["datasets"] = _datasets(args.dataset)
    return data


def build_experiment(args: argparse.Namespace) -> Any:
    """Preset, then ``--config``, then the options, merged and validated."""
    from ..experiments.config import ConfigError
    from ..experiments.presets import assemble

    if args.quick and args.preset and args.preset != "quick":
        raise ConfigError(f"--quick and --preset {args.preset} disagree", fix="give one of them")
    return assemble("quick" if args.quick else args.preset, args.config, overrides(args),
                    size=args.size, samples=args.samples)


def options(args: argparse.Namespace, name: str) -> Any:
    """How to run the sweep (:class:`convgeom.experiments.sweep.Options`) for experiment ``name``."""
    from ..experiments.config import MAX_GPUS_PER_TRIAL, ConfigError, check_float, check_int
    from ..experiments.sweep import Options

    if args.resume and args.overwrite:
        raise ConfigError("--resume and --overwrite contradict each other", fix="give one of them")
    if args.backend != "ray":
        for flag, value in (("--address", args.address), ("--ray-cpus", args.ray_cpus),
                            ("--gpus-per-trial", args.gpus_per_trial)):
            if value is not None:
                raise ConfigError(f"{flag} needs --backend ray", fix=f"add --backend ray or drop {flag}")
    cpus = None
    if args.ray_cpus is not None:
        cpus = check_int(args.ray_cpus, "ray_cpus")
    gpus = None if args.gpus_per_trial is None else check_float(args.gpus_per_trial, "gpus_per_trial",
                                                                  (0.0, MAX_GPUS_PER_TRIAL))
    return Options(out=args.out or f"experiment-{name}", backend=args.backend, address=args.address, cpus=cpus,
                   gpus_per_trial=gpus, resume=args.resume, overwrite=args.overwrite,
                   progress=not (args.quiet or args.json), plots=not args.no_plots)


def _list_presets(as_json: bool) -> int:
    from ..experiments.presets import table

    rows = table()
    if as_json:
        print(json.dumps({"presets": rows}))
    else:
        for r in rows:
            print(f"{r['name']:<18} {r['trials']:>3} runs  {r['description']}")
    return 0


def _command_line() -> str:
    argv = sys.argv[1:]
    if argv[:1] == ["experiment"]:
        return shlex.join(["convgeom", *argv])
    return "convgeom experiment (called from Python; the configuration is in experiment.json)"


def _dry_run(experiment: Any, sweep_options: Any, as_json: bool) -> int:
    from ..experiments.sweep import dry_run

    experiment, rows = dry_run(experiment, sweep_options)
    trials = len(experiment.trials())
    if as_json:
        print(json.dumps({"experiment": experiment.to_dict(), "trials": trials, "models": rows}))
        return 0
    print(f"{experiment.name}: {trials} runs = {len(experiment.datasets)} data sets x {len(experiment.variants())} "
          f"variants x {len(experiment.seeds)} seeds, {experiment.train.epochs} epochs each, on {experiment.train.device}")
    for r in rows:
        rf = r["receptive_field"][0] if r["receptive_field"] else "-"
        print(f"  {r['dataset']:<10} {r['variant']:<40} params {r['params']:>8,}  MACs {r['macs']:>11,}  RF {rf}")
        for f in r["findings"]:
            print(f"      finding: {f}")
    return 0


def _print_human(outcome: Any, found: Any, out: str) -> None:
    print(f"{len(outcome.records)} of {outcome.total} runs in {out}"
          + (f" ({outcome.reused} from an earlier call)" if outcome.reused else ""))
    for s in found.summaries:
        half = "" if math.isnan(s.accuracy.half) else f" ± {100 * s.accuracy.half:.1f}"
        print(f"  {s.dataset:<10} {s.variant:<36} accuracy {100 * s.accuracy.mean:5.1f}{half}%  "
              f"(n={s.accuracy.n}, RF {s.receptive_field[0] if s.receptive_field else '-'}, "
              f"{s.train_ms.mean:.2f} ms/image training)")
    for v in found.verdicts:
        print(f"  claim {v.claim.id}: {v.verdict}")
    print(f"report: {os.path.join(out, 'report.md')}")


def run(args: argparse.Namespace) -> int:
    """Run the command; 0 when done, 130 when interrupted (finished runs kept), errors raise
    :class:`~convgeom.GeometryError` (the CLI prints one line and exits 2)."""
    if args.list_presets:
        return _list_presets(args.json)
    experiment = build_experiment(args)
    sweep_options = options(args, experiment.name)
    if args.dry_run:
        return _dry_run(experiment, sweep_options, args.json)
    from ..experiments.report import write_outputs
    from ..experiments.store import clean_json
    from ..experiments.sweep import run as run_sweep

    outcome = run_sweep(experiment, sweep_options)
    found = write_outputs(experiment, outcome, sweep_options.out, sweep_options.plots, _command_line())
    if args.json:
        print(json.dumps(clean_json({
            "out": sweep_options.out, "trials": outcome.total, "finished": len(outcome.records),
            "reused": outcome.reused, "ran": outcome.ran, "interrupted": outcome.interrupted, "files": found.files,
            "summary": [s.to_dict() for s in found.summaries], "claims": [v.to_dict() for v in found.verdicts],
        })))
    else:
        _print_human(outcome, found, sweep_options.out)
    if outcome.interrupted:
        print(f"convgeom: interrupted: {len(outcome.records)} of {outcome.total} runs saved in {sweep_options.out}; "
              "run the same command with --resume to continue", file=sys.stderr)
        return 130
    return 0
