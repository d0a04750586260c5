"""``convgeom trace``: trace a model file or a Python factory from the command line.

    convgeom trace model.onnx --input 1,3,224,224
    convgeom trace package.module:factory --input 1,3,224,224 --depth 2
    convgeom trace "efficientnet_pytorch:EfficientNet.from_name('efficientnet-b0')" --input 1,3,224,224 --json
    convgeom trace path/to/file.py:build --input 1,1,64,64 --valid-sizes 16:129

``register(subparsers)`` adds the subcommand to the main parser; bad input raises
:class:`convgeom.GeometryError` (one line on stderr, exit status 2, in the main CLI).
"""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import os
import sys
from typing import Any, Optional

from ..errors import GeometryError


def parse_shape(text: str) -> tuple[int, ...]:
    """'1,3,224,224', '1x3x224x224' or '(1, 3, 224, 224)' -> a tuple of positive ints."""
    cleaned = text.strip().strip("()[]").replace("x", ",").replace("X", ",").replace(" ", "")
    parts = [p for p in cleaned.split(",") if p]
    try:
        shape = tuple(int(p) for p in parts)
    except ValueError:
        raise GeometryError(f"--input {text!r} is not a shape", fix="write it like 1,3,224,224") from None
    if not shape or any(s < 1 for s in shape):
        raise GeometryError(f"--input {text!r} needs positive sizes", fix="write it like 1,3,224,224")
    return shape


def _call_parts(spec: str) -> tuple[str, list[Any], dict[str, Any]]:
    """``name`` or ``name(literal, key=literal)`` -> (dotted name, args, kwargs); literals only."""
    if "(" not in spec:
        return spec, [], {}
    try:
        node = ast.parse(spec, mode="eval").body
    except SyntaxError:
        raise GeometryError(f"cannot parse the factory call {spec!r}", fix="write it like factory(1, size=64)") from None
    if not isinstance(node, ast.Call):
        raise GeometryError(f"{spec!r} is not a call", fix="write it like factory(1, size=64)")
    try:
        args = [ast.literal_eval(a) for a in node.args]
        kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg is not None}
    except ValueError:
        raise GeometryError(f"factory arguments in {spec!r} must be literals", fix="use numbers, strings, tuples") from None
    return ast.unparse(node.func), args, kwargs


def load_factory(spec: str) -> Any:
    """Import ``package.module:factory`` (or ``path/file.py:factory``) and return the model it
    builds; ``factory`` may be a dotted attribute and carry literal call arguments."""
    module_part, sep, attr_part = spec.partition(":")
    if not sep or not module_part or not attr_part:
        raise GeometryError(f"{spec!r} is not a model file or module:factory",
                            fix="give model.onnx, model.keras, package.module:factory or file.py:factory")
    name, args, kwargs = _call_parts(attr_part)
    if module_part.endswith(".py"):
        if not os.path.exists(module_part):
            raise GeometryError(f"no such file {module_part!r}", fix="check the path")
        mod_name = os.path.splitext(os.path.basename(module_part))[0]
        loader_spec = importlib.util.spec_from_file_location(mod_name, module_part)
        if loader_spec is None or loader_spec.loader is None:
            raise GeometryError(f"cannot import {module_part!r}", fix="give a Python source file")
        module = importlib.util.module_from_spec(loader_spec)
        sys.path.insert(0, os.path.dirname(os.path.abspath(module_part)))
        try:
            loader_spec.loader.exec_module(module)
        except Exception as exc:
            raise GeometryError(f"importing {module_part!r} raised {type(exc).__name__}: {exc}",
                                fix="fix the file") from None
        finally:
            sys.path.pop(0)
    else:
        if os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())
        try:
            module = importlib.import_module(module_part)
        except ImportError as exc:
            raise GeometryError(f"cannot import module {module_part!r}: {exc}",
                                fix="check the module name and that its package is installed") from None
    obj: Any = module
    for part in name.split("."):
        if not hasattr(obj, part):
            raise GeometryError(f"{module_part!r} has no attribute {name!r}", fix="check the factory name")
        obj = getattr(obj, part)
    from .api import detect_framework

    is_model = True
    try:
        detect_framework(obj)
    except GeometryError:
        is_model = False
    if is_model and not args and not kwargs:
        return obj
    if not callable(obj):
        raise GeometryError(f"{spec!r} is neither a model nor a callable", fix="point at a function that returns a model")
    try:
        return obj(*args, **kwargs)
    except Exception as exc:
        raise GeometryError(f"factory {spec!r} raised {type(exc).__name__}: {exc}", fix="check its arguments") from None


def _sizes(text: str) -> range:
    parts = text.split(":")
    try:
        nums = [int(p) for p in parts]
    except ValueError:
        raise GeometryError(f"--valid-sizes {text!r} is not START:STOP[:STEP]", fix="write it like 16:257") from None
    if len(nums) not in (2, 3) or nums[0] < 1 or nums[1] <= nums[0] or (len(nums) == 3 and nums[2] < 1):
        raise GeometryError(f"--valid-sizes {text!r} is not START:STOP[:STEP]", fix="write it like 16:257")
    return range(*nums)


def resolve_model(spec: str, framework: Optional[str]) -> tuple[Any, str]:
    """(model object, framework) for a CLI model argument."""
    from .api import detect_framework, get_frontend

    if os.path.exists(spec) and not spec.endswith(".py"):
        fw = framework or detect_framework(spec)
        frontend = get_frontend(fw)
        if frontend.load is None:
            raise GeometryError(f"{fw} models cannot be loaded from files", fix="use module:factory")
        return frontend.load(spec), fw
    if spec.lower().endswith((".onnx", ".keras", ".h5")) and ":" not in spec:
        raise GeometryError(f"no such file {spec!r}", fix="check the path")
    model = load_factory(spec)
    return model, framework or detect_framework(model)


def run(args: argparse.Namespace) -> int:
    """The ``trace`` subcommand."""
    from .api import trace
    from .valid_sizes import valid_input_sizes

    shapes = [parse_shape(s) for s in (args.input or [])]
    model, fw = resolve_model(args.model, args.framework)
    out = sys.stdout
    if args.valid_sizes:
        if not shapes:
            raise GeometryError("--valid-sizes needs an --input template", fix="add --input 1,3,64,64")
        result = valid_input_sizes(model, shapes if len(shapes) > 1 else shapes[0], _sizes(args.valid_sizes),
                                   framework=fw, dtype=args.dtype)
        if args.json:
            import json

            out.write(json.dumps(result.to_dict(), indent=2) + "\n")
        else:
            out.write(f"valid sizes ({len(result.valid)} of {len(result.tried)}): {_ranges(result.valid)}\n")
            out.write(f"output size == input size: {_ranges(result.same_size)}\n")
            if result.period and result.period > 1:
                out.write(f"valid sizes repeat every {result.period}\n")
        return 0
    t = trace(model, shapes if len(shapes) > 1 else (shapes[0] if shapes else None), fw, dtype=args.dtype,
              findings=not args.no_findings)
    if args.json:
        out.write(t.to_json() + "\n")
    elif args.csv:
        out.write(t.to_csv())
    else:
        use_rich = not args.plain
        if use_rich:
            try:
                from .report import render_rich

                render_rich(t, depth=args.depth, findings=not args.no_findings)
                return 0
            except ImportError:
                pass
        from .report import summary

        out.write(summary(t, depth=args.depth) + "\n")
    return 0


def _ranges(values: tuple[int, ...]) -> str:
    if not values:
        return "none"
    parts = []
    start = prev = values[0]
    for v in values[1:]:
        if v == prev + 1:
            prev = v
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = v
    parts.append(str(start) if start == prev else f"{start}-{prev}")
    return ", ".join(parts)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="model.onnx, model.keras, package.module:factory[(args)] or file.py:factory")
    parser.add_argument("--input", "-i", action="append", metavar="SHAPE",
                        help="input shape incl. batch and channels, e.g. 1,3,224,224 (repeat for several inputs)")
    parser.add_argument("--framework", choices=("torch", "onnx", "keras"), help="override the detected framework")
    parser.add_argument("--depth", type=int, default=None, help="fold layers deeper than this into their module")
    parser.add_argument("--dtype", default=None, help="activation dtype (default float32)")
    fmt = parser.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print the whole trace as JSON")
    fmt.add_argument("--csv", action="store_true", help="print one CSV row per layer")
    parser.add_argument("--plain", action="store_true", help="plain-text table even if rich is installed")
    parser.add_argument("--no-findings", action="store_true", help="skip the diagnostics")
    parser.add_argument("--valid-sizes", metavar="START:STOP[:STEP]",
                        help="instead of one trace, list the input sizes that pass and keep their size")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``trace`` to the main CLI's subcommands."""
    parser = subparsers.add_parser(
        "trace", help="trace a model: shapes, params, MACs, receptive fields, findings",
        description="Trace a PyTorch, ONNX or Keras model without allocating activations.")
    add_arguments(parser)
    parser.set_defaults(handler=run)
