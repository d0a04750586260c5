"""``convgeom quiz``: practice exercises whose answers and explanations come from the engine.

Without ``--json``/``--markdown`` it asks in the terminal (answers are read from standard input,
one per line), checks each answer, explains it and keeps score. ``--seed`` makes a set
reproducible (without it a seed is drawn and printed); ``--key`` asks given exercises again.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from . import args as values

if TYPE_CHECKING:
    from ..quiz.exercise import Exercise


def _caps() -> tuple[int, int]:
    from ..quiz.exercise import MAX_COUNT, MAX_SEED

    return MAX_COUNT, MAX_SEED


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..quiz.exercise import DIFFICULTIES, KINDS

    max_count, max_seed = _caps()
    parser.add_argument("--count", metavar="N", default=None,
                        help=f"number of exercises, 1 to {max_count} (default 10)")
    parser.add_argument("--kind", metavar="K", default=None,
                        help="kinds of exercise, comma-separated (default: all): " + ", ".join(KINDS))
    parser.add_argument("--framework", metavar="F", default=None,
                        help="torch, tensorflow, jax or onnx (aliases: pytorch, tf, keras, lax, ort); "
                             "default: all four in turn")
    parser.add_argument("--difficulty", choices=DIFFICULTIES, default=None, help="default medium")
    parser.add_argument("--seed", metavar="N", default=None,
                        help=f"0 to {max_seed}: the same seed gives the same exercises (default: drawn and printed)")
    parser.add_argument("--key", metavar="KEY", default=None,
                        help=f"ask these exercises again (their keys, comma-separated, at most {max_count}); "
                             "excludes --count, --kind, --framework, --difficulty and --seed")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true",
                        help="print the exercises with their parameters, answers and explanations as JSON")
    output.add_argument("--markdown", action="store_true", help="print a worksheet with an answer key")
    parser.epilog = ("In the terminal: type an answer as the command line writes values (4, (4, 4), 4,4, 1:2, "
                     "yes/no, a letter), 'skip' to see the answer, 'quit' to stop.")


def _exercises(args: argparse.Namespace) -> tuple[list[Exercise], dict[str, object], str]:
    """The exercises, the JSON header, and the command that regenerates them."""
    from ..quiz.exercise import exercise_from_key, generate

    max_count, max_seed = _caps()
    if args.key is not None:
        chosen = [n for n in ("count", "kind", "framework", "difficulty", "seed") if getattr(args, n) is not None]
        if chosen:
            raise values.CliError(f"--key names its exercises; {values.flag(chosen[0])} does not apply",
                                  fix=f"drop {values.flag(chosen[0])} or --key")
        keys = [k.strip() for k in args.key.split(",")]
        if len(keys) > max_count:
            raise values.CliError(f"--key lists {len(keys)} keys; at most {max_count} are accepted",
                                  fix="ask fewer exercises at once")
        exercises = [exercise_from_key(k) for k in keys]
        return exercises, {"keys": [e.key for e in exercises]}, f"convgeom quiz --key {','.join(keys)}"
    count = values.integer(values.or_default(args.count, "10"), "--count", minimum=1, maximum=max_count)
    kinds = None
    if args.kind is not None:
        kinds = [k.strip() for k in args.kind.split(",")]
        from ..quiz.exercise import KINDS

        for k in kinds:
            if k not in KINDS:
                raise values.CliError(f"unknown --kind {values.shown(k)}", fix="use one of " + ", ".join(KINDS))
    framework = values.framework(args.framework) if args.framework is not None else None
    difficulty = args.difficulty or "medium"
    if args.seed is not None:
        seed = values.integer(args.seed, "--seed", minimum=0, maximum=max_seed)
    else:
        import random

        seed = random.SystemRandom().randrange(1_000_000)
    exercises = generate(count=count, kinds=kinds, framework=framework, difficulty=difficulty, seed=seed)
    header: dict[str, object] = {"seed": seed, "difficulty": difficulty, "kinds": kinds, "framework": framework}
    command = f"convgeom quiz --seed {seed} --count {count} --difficulty {difficulty}"
    command += f" --kind {args.kind}" if kinds else ""
    command += f" --framework {framework}" if framework else ""
    return exercises, header, command


def run(args: argparse.Namespace) -> int:
    from ..quiz.session import ask, document, worksheet

    exercises, header, command = _exercises(args)
    if args.json:
        import json

        print(json.dumps(document(exercises, **header), indent=1))
        return 0
    if args.markdown:
        what = f"seed {header['seed']}, {header['difficulty']}" if "seed" in header else "by key"
        print(worksheet(exercises, f"convgeom practice: {len(exercises)} exercises ({what})", command + " --markdown"))
        return 0
    print(f"convgeom quiz: {len(exercises)} exercises; replay them with: {command}")
    print("Answer as the command line writes values (4, (4, 4), 1:2, yes/no, a letter); "
          "'skip' shows the answer, 'quit' stops.")
    ask(exercises, sys.stdin, sys.stdout)
    return 0
