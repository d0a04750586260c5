"""``convgeom trace``: trace a model file or a Python factory from the command line.

    convgeom trace model.onnx --input 1,3,224,224
    convgeom trace package.module:factory --input 1,3,224,224 --depth 2
    convgeom trace "efficientnet_pytorch:EfficientNet.from_name('efficientnet-b0')" --input 1,3,224,224 --json
    convgeom trace path/to/file.py:build --input 1,1,64,64 --valid-sizes 16:129

A ``module:factory`` or ``file.py:factory`` spec runs that code (see :mod:`convgeom.cli.model_spec`).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from typing import Any, Optional

from . import args as values

#: Most input sizes one --valid-sizes may try (each is one shape-only trace of the model).
MAX_VALID_SIZES = 1_024
#: Deepest --depth (module nesting levels shown).
MAX_DEPTH = 1_000
#: Most axes of one --input shape (batch and channels included).
MAX_SHAPE_DIMS = 16

DESCRIPTION = (
    "Trace a PyTorch, ONNX or Keras model without allocating activations. "
    "A module:factory or file.py:factory spec RUNS THAT CODE: the module is imported (the current "
    "directory first on sys.path; for file.py, the file's directory) and the factory called, as "
    "Python would, so give only specs you trust. Factory arguments must be literals (numbers, "
    "strings, tuples, lists, dicts), never expressions.")


def parse_shape(text: str) -> tuple[int, ...]:
    """'1,3,224,224', '1x3x224x224' or '(1, 3, 224, 224)' -> a tuple of positive ints."""
    body = text.strip(" \t")
    if body[:1] in "([" and body[-1:] in ")]":
        body = body[1:-1]
    parts = re.split(r"[,xX]", body)
    if not body.strip(" \t"):
        raise values.CliError("--input is empty", fix="write the shape like 1,3,224,224")
    if len(parts) > MAX_SHAPE_DIMS:
        raise values.CliError(f"--input {values.shown(text)} has {len(parts)} axes; at most {MAX_SHAPE_DIMS}",
                              fix="write the shape like 1,3,224,224")
    for p in parts:
        if not re.fullmatch(r"[ \t]*-?[0-9]+[ \t]*", p):
            raise values.CliError(f"--input {values.shown(text)} is not a shape: {values.what_is_wrong(p.strip())}",
                                  fix="write it like 1,3,224,224 (ASCII digits, commas or x between axes)")
    return tuple(values.integer(p, "--input", whole=text) for p in parts)


def _positive_shape(text: str) -> tuple[int, ...]:
    shape = parse_shape(text)
    if any(s < 1 for s in shape):
        raise values.CliError(f"--input {values.shown(text)} needs positive sizes", fix="write it like 1,3,224,224")
    return shape


def parse_valid_sizes(text: str) -> range:
    """``START:STOP[:STEP]`` (STOP excluded, as Python's range), at most :data:`MAX_VALID_SIZES` sizes."""
    parts = text.split(":")
    if len(parts) not in (2, 3):
        raise values.CliError(f"--valid-sizes {values.shown(text)} is not START:STOP[:STEP]",
                              fix="write it like 16:257")
    nums = [values.integer(p, "--valid-sizes", minimum=1, whole=text) for p in parts]
    sizes = range(*nums)
    if not sizes:
        raise values.CliError(f"--valid-sizes {values.shown(text)} is empty", fix="write START:STOP with START < STOP")
    if len(sizes) > MAX_VALID_SIZES:
        raise values.CliError(f"--valid-sizes {values.shown(text)} tries {len(sizes)} sizes; at most "
                              f"{MAX_VALID_SIZES} (each is one trace)", fix="narrow the range or add a STEP")
    return sizes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = DESCRIPTION
    parser.add_argument("model", help="model.onnx, model.keras, package.module:factory[(literal args)] or "
                                      "file.py:factory (a factory spec runs that code)")
    parser.add_argument("--input", "-i", action="append", metavar="SHAPE",
                        help="input shape incl. batch and channels, e.g. 1,3,224,224 (repeat for several inputs; "
                             f"at most {MAX_SHAPE_DIMS} axes, each 1 to 2**63-1)")
    parser.add_argument("--framework", choices=("torch", "onnx", "keras"), help="override the detected framework")
    parser.add_argument("--depth", default=None, metavar="N",
                        help=f"fold layers deeper than this into their module (0 to {MAX_DEPTH})")
    parser.add_argument("--dtype", default=None, help="activation dtype (default float32)")
    fmt = parser.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print the whole trace as JSON")
    fmt.add_argument("--csv", action="store_true", help="print one CSV row per layer")
    parser.add_argument("--plain", action="store_true", help="plain-text table even if rich is installed")
    parser.add_argument("--no-findings", action="store_true", help="skip the diagnostics")
    parser.add_argument("--valid-sizes", metavar="START:STOP[:STEP]",
                        help="instead of one trace, list the input sizes that pass and keep their size "
                             f"(STOP excluded; at most {MAX_VALID_SIZES} sizes)")


def _ranges(numbers: tuple[int, ...]) -> str:
    """(1, 2, 3, 7) -> '1-3, 7'."""
    if not numbers:
        return "none"
    parts = []
    start = prev = numbers[0]
    for v in numbers[1:]:
        if v == prev + 1:
            prev = v
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = v
    parts.append(str(start) if start == prev else f"{start}-{prev}")
    return ", ".join(parts)


def _valid_sizes(model: Any, fw: str, shapes: list[tuple[int, ...]], sizes: range, args: argparse.Namespace) -> str:
    from ..tracing.valid_sizes import valid_input_sizes

    result = valid_input_sizes(model, shapes if len(shapes) > 1 else shapes[0], sizes, framework=fw,
                               dtype=args.dtype)
    if args.json:
        import json

        return json.dumps(result.to_dict(), indent=2) + "\n"
    text = (f"valid sizes ({len(result.valid)} of {len(result.tried)}): {_ranges(result.valid)}\n"
            f"output size == input size: {_ranges(result.same_size)}\n")
    if result.period and result.period > 1:
        text += f"valid sizes repeat every {result.period}\n"
    return text


def run(args: argparse.Namespace) -> int:
    """The ``trace`` subcommand."""
    from . import model_spec

    shapes = [_positive_shape(s) for s in (args.input or [])]
    depth = None if args.depth is None else values.integer(args.depth, "--depth", minimum=0, maximum=MAX_DEPTH)
    sizes = None if args.valid_sizes is None else parse_valid_sizes(args.valid_sizes)
    if sizes is not None and not shapes:
        raise values.CliError("--valid-sizes needs an --input template", fix="add --input 1,3,64,64")
    module_part = args.model.partition(":")[0]
    is_file = module_part.endswith(".py")
    path_entry = os.path.dirname(os.path.abspath(module_part)) if is_file else os.getcwd()
    with model_spec.user_code(module_part, path_entry, replay_on_error=getattr(args, "traceback", False)):
        model, fw = model_spec.load_model(args.model, args.framework)
        if sizes is not None:
            text = _valid_sizes(model, fw, shapes, sizes, args)
        else:
            from ..tracing.api import trace

            t = trace(model, shapes if len(shapes) > 1 else (shapes[0] if shapes else None), fw, dtype=args.dtype,
                      findings=not args.no_findings)
    # printed only once the user's code is done: its own output was held back (see user_code)
    if sizes is not None:
        sys.stdout.write(text)
    else:
        _print_trace(t, depth, args)
    return 0


def _print_trace(t: Any, depth: Optional[int], args: argparse.Namespace) -> None:
    if args.json:
        sys.stdout.write(t.to_json() + "\n")
    elif args.csv:
        sys.stdout.write(t.to_csv())
    else:
        if not args.plain:
            try:
                from ..tracing.report import render_rich
            except ImportError:
                pass
            else:
                render_rich(t, depth=depth, findings=not args.no_findings)
                return
        from ..tracing.report import summary

        sys.stdout.write(summary(t, depth=depth) + "\n")
