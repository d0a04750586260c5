"""The ``convgeom`` command line: ``shape``, ``explain``, ``solve`` here; ``trace-op`` and
``trace`` are registered by the ops and tracing packages (imported only to add their parsers).

Every bad input ends with exactly one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, Optional

from .errors import GeometryError

#: Largest total output for which ``--json`` lists every adaptive-pooling window.
MAX_LISTED_WINDOWS = 10_000

#: Modules that add subcommands: each has ``register(subparsers)``.
PLUGINS = ("convgeom.ops.cli", "convgeom.tracing.cli", "convgeom.draw.command")

OP_NAMES = {
    "conv": "conv",
    "conv-transpose": "conv_transpose",
    "max-pool": "max_pool",
    "avg-pool": "avg_pool",
    "unfold": "unfold",
    "adaptive-avg-pool": "adaptive_avg_pool",
    "adaptive-max-pool": "adaptive_max_pool",
    "interpolate": "interpolate",
}


class CliError(GeometryError):
    """Bad command-line input."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise CliError(f"{self.prog}: {message}", fix=f"see '{self.prog} --help'")


# ----- value parsing -----------------------------------------------------------------------
def parse_ints(text: str, name: str = "value") -> int | tuple[int, ...]:
    """``'7'`` -> 7, ``'224,160'`` -> (224, 160)."""
    parts = [p.strip() for p in text.split(",")]
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        raise CliError(f"--{name} must be integers separated by commas, got {text!r}", fix="e.g. 7 or 224,160") from None
    return values[0] if len(values) == 1 else values


def parse_padding(text: str) -> Any:
    """An int, per-axis ints ``1,2``, per-axis pairs ``1:2,0:1`` (before:after), or a string."""
    if text.strip().lower() in ("valid", "same", "same_lower", "same-lower", "causal", "full"):
        return text.strip().lower().replace("-", "_")
    if ":" in text:
        pairs = []
        for part in text.split(","):
            before, sep, after = part.partition(":")
            try:
                pairs.append((int(before), int(after)))
            except ValueError:
                raise CliError(f"bad padding pair {part!r}", fix="write pairs as before:after, e.g. 0:1,1:1") from None
        return tuple(pairs)
    try:
        return parse_ints(text, "padding")
    except CliError:
        raise CliError(
            f"unknown padding {text!r}",
            fix="use an int, per-axis ints (1,2), pairs (0:1,1:1) or valid/same/same_lower/causal/full",
        ) from None


def parse_range(text: str, name: str) -> range:
    """``'1-7'`` -> range(1, 8); ``'3'`` -> range(3, 4)."""
    lo, sep, hi = text.partition("-")
    try:
        start, stop = int(lo), int(hi) if sep else int(lo)
    except ValueError:
        raise CliError(f"--{name} must be N or LOW-HIGH, got {text!r}", fix="e.g. --kernels 1-7") from None
    if stop < start:
        raise CliError(f"--{name} range {text!r} is empty", fix="write LOW-HIGH with LOW <= HIGH")
    return range(start, stop + 1)


# ----- the layer arguments shared by shape/explain ------------------------------------------
def _add_layer_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("op", choices=sorted(OP_NAMES), help="layer type")
    p.add_argument("--input", required=True, help="spatial input size, e.g. 7 or 224,160")
    p.add_argument("--kernel", help="kernel size (int or per axis)")
    p.add_argument("--stride", help="stride (default 1 for conv, the kernel for pooling)")
    p.add_argument("--padding", default=None, help="int, per-axis ints, before:after pairs, or a mode string")
    p.add_argument("--dilation", default=None)
    p.add_argument("--groups", type=int, default=None)
    p.add_argument("--output-padding", default=None)
    p.add_argument("--output-size", default=None, help="conv-transpose: requested output (PyTorch output_size)")
    p.add_argument("--output", default=None, help="adaptive pools: output size")
    p.add_argument("--size", default=None, help="interpolate: output size")
    p.add_argument("--scale", default=None, help="interpolate: scale factor(s), e.g. 2 or 1.5,2")
    p.add_argument("--ceil-mode", action="store_true")
    p.add_argument("--count-include-pad", choices=["true", "false"], default=None)
    p.add_argument("--divisor", type=int, default=None)
    p.add_argument("--padding-mode", default=None, help="zeros, reflect, replicate, circular (PyTorch conv)")
    p.add_argument("--framework", default="torch", help="torch, tensorflow, jax or onnx")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def layer_params(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    op = OP_NAMES[args.op]
    params: dict[str, Any] = {"input": parse_ints(args.input, "input")}
    if op in ("adaptive_avg_pool", "adaptive_max_pool"):
        if args.output is None:
            raise CliError(f"{args.op} needs --output", fix="e.g. --output 7")
        params["output_size"] = parse_ints(args.output, "output")
        return op, params
    if op == "interpolate":
        if args.size is not None:
            params["size"] = parse_ints(args.size, "size")
        if args.scale is not None:
            try:
                scales = tuple(float(v) for v in args.scale.split(","))
            except ValueError:
                raise CliError(f"--scale must be numbers, got {args.scale!r}", fix="e.g. --scale 2") from None
            params["scale_factor"] = scales[0] if len(scales) == 1 else scales
        return op, params
    if args.kernel is None:
        raise CliError(f"{args.op} needs --kernel", fix="e.g. --kernel 3")
    params["kernel"] = parse_ints(args.kernel, "kernel")
    if args.stride is not None:
        params["stride"] = parse_ints(args.stride, "stride")
    if args.padding is not None:
        params["padding"] = parse_padding(args.padding)
    if args.dilation is not None:
        params["dilation"] = parse_ints(args.dilation, "dilation")
    if args.framework:
        params["framework"] = args.framework
    options = {
        "groups": (args.groups, ("conv", "conv_transpose")),
        "output_padding": (args.output_padding and parse_ints(args.output_padding, "output-padding"), ("conv_transpose",)),
        "output_size": (args.output_size and parse_ints(args.output_size, "output-size"), ("conv_transpose",)),
        "ceil_mode": (args.ceil_mode or None, ("max_pool", "avg_pool")),
        "count_include_pad": (
            None if args.count_include_pad is None else args.count_include_pad == "true", ("avg_pool",)),
        "divisor": (args.divisor, ("avg_pool",)),
        "padding_mode": (args.padding_mode, ("conv",)),
    }
    for name, (value, ops) in options.items():
        if value is None:
            continue
        if op not in ops:
            raise CliError(f"--{name.replace('_', '-')} does not apply to {args.op}", fix="drop it")
        params[name] = value
    return op, params


# ----- output -----------------------------------------------------------------------------
def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [list(map(str, headers))] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def fmt(r: list[str]) -> str:
        return "  ".join(c.rjust(w) for c, w in zip(r, widths))

    return "\n".join([fmt(cells[0]), fmt(["-" * w for w in widths])] + [fmt(r) for r in cells[1:]])


def _result_json(result: Any) -> dict[str, Any]:
    from .geometry import AdaptivePoolGeometry, LayerGeometry

    if isinstance(result, LayerGeometry):
        return result.to_dict()
    data: dict[str, Any] = {"input": list(result.input), "output": list(result.output)}
    if isinstance(result, AdaptivePoolGeometry):
        data["op"] = result.op
        # listing every window is O(output): only for outputs a person could read
        data["windows"] = ([[list(w) for w in axis] for axis in result.windows]
                           if sum(result.output) <= MAX_LISTED_WINDOWS else None)
    else:
        data["op"] = "interpolate"
        data["mode"] = result.mode
        data["scale"] = list(result.scale)
    return data


def cmd_shape(args: argparse.Namespace) -> int:
    from .explanation import OPS, output_formula
    from .geometry import LayerGeometry

    op, params = layer_params(args)
    result = OPS[op](**params)
    if args.json:
        print(json.dumps(_result_json(result)))
        return 0
    if not isinstance(result, LayerGeometry):
        from .explanation import explain

        print(explain(result))
        return 0
    rows = [
        (i, a.input, a.kernel, a.stride, a.dilation, a.pad_before, a.pad_after, a.output)
        for i, a in enumerate(result.axes)
    ]
    crop = result.op == "conv_transpose"
    print(f"{result.op} [{result.framework}]: input {result.input} -> output {result.output}")
    print(_table(["axis", "input", "kernel", "stride", "dilation",
                  "crop before" if crop else "pad before", "crop after" if crop else "pad after", "output"], rows))
    for i, a in enumerate(result.axes):
        print(f"axis {i}: output = {output_formula(a)}")
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    from .explanation import OPS, explain, explain_call

    op, params = layer_params(args)
    try:
        result = OPS[op](**params)
    except GeometryError as err:
        text = explain_call(op, **params)
        if args.json:
            print(json.dumps({"accepted": False, "error": str(err), "explanation": text}))
        else:
            print(text)
        raise
    text = explain(result)
    if args.json:
        print(json.dumps({"accepted": True, "explanation": text, **_result_json(result)}))
    else:
        print(text)
    return 0


def cmd_solve(args: argparse.Namespace) -> int:
    from . import solve
    from .geometry import conv

    fw = args.framework
    payload: dict[str, Any]
    if args.what == "same":
        if args.kernel is None:
            raise CliError("solve same needs --kernel", fix="e.g. --kernel 3")
        sp = solve.same_padding(parse_ints(args.input, "input"), parse_ints(args.kernel, "kernel"),
                                parse_ints(args.stride or "1", "stride"), parse_ints(args.dilation or "1", "dilation"),
                                framework=fw if fw != "torch" else "tensorflow", lower=args.lower)
        payload = {"framework": sp.framework, "input": list(sp.input), "output": list(sp.output),
                   "pad_before": [b for b, _ in sp.pad], "pad_after": [a for _, a in sp.pad],
                   "symmetric": sp.symmetric, "static": sp.static,
                   "torch_padding": None if sp.torch_padding is None else list(sp.torch_padding),
                   "torch_pad": list(sp.torch_pad)}
        human = [f"{sp.framework} 'same' for input {sp.input}: pads {sp.pad} -> output {sp.output}",
                 f"PyTorch: padding={sp.torch_padding}" if sp.symmetric else
                 f"PyTorch: F.pad(x, {sp.torch_pad}) then padding=0 (asymmetric)",
                 "static: the same pads for every input size" if sp.static else
                 "input-dependent: pads change with input size mod stride"]
    elif args.what == "padding":
        if args.output is None or args.kernel is None:
            raise CliError("solve padding needs --output and --kernel", fix="e.g. --output 28 --kernel 5")
        r = solve.padding_for_output(parse_ints(args.input, "input"), parse_ints(args.output, "output"),
                                     parse_ints(args.kernel, "kernel"), parse_ints(args.stride or "1", "stride"),
                                     parse_ints(args.dilation or "1", "dilation"), framework=fw)
        payload = r.to_dict()
        human = [f"padding {r.pad} gives output {r.output} from input {r.input}"]
    elif args.what == "search":
        if args.output is None:
            raise CliError("solve search needs --output", fix="e.g. --output 112")
        n, o = parse_ints(args.input, "input"), parse_ints(args.output, "output")
        if not isinstance(n, int) or not isinstance(o, int):
            raise CliError("solve search works on one axis", fix="give single ints for --input and --output")
        found = solve.search(n, o, parse_range(args.kernels, "kernels"), parse_range(args.strides, "strides"),
                             parse_range(args.paddings, "paddings"), parse_range(args.dilations, "dilations"),
                             framework=fw, op=args.op.replace("-", "_"))
        payload = {"input": n, "output": o, "solutions": [c.__dict__ for c in found]}
        human = [f"{len(found)} configurations map {n} -> {o} ({fw}):",
                 _table(["kernel", "stride", "padding", "dilation"],
                        [(c.kernel, c.stride, c.padding, c.dilation) for c in found]) if found else "(none)"]
    elif args.what == "transpose":
        if args.kernel is None:
            raise CliError("solve transpose needs --kernel", fix="e.g. --kernel 3 --stride 2 --padding 1")
        fwd = conv(parse_ints(args.input, "input"), parse_ints(args.kernel, "kernel"),
                   parse_ints(args.stride or "1", "stride"), parse_padding(args.padding or "0"),
                   parse_ints(args.dilation or "1", "dilation"), framework=fw)
        inv = solve.inverse_transpose(fwd)
        payload = {"conv": fwd.to_dict(), "conv_transpose": inv.to_dict()}
        human = [f"conv: {fwd.input} -> {fwd.output}; conv_transpose with kernel {inv.kernel}, stride {inv.stride}, "
                 f"crop {inv.pad}, output_padding {inv.output_padding} restores {inv.output}"]
    else:  # profile
        if args.kernel is None:
            raise CliError("solve profile needs --kernel", fix="e.g. --kernel 3 --stride 2")
        k, s, d = (parse_ints(args.kernel, "kernel"), parse_ints(args.stride or "1", "stride"),
                   parse_ints(args.dilation or "1", "dilation"))
        if not all(isinstance(v, int) for v in (k, s, d)):
            raise CliError("solve profile works on one axis", fix="give single ints")
        assert isinstance(k, int) and isinstance(s, int) and isinstance(d, int)
        prof = solve.same_profile(k, s, d, parse_range(args.sizes, "sizes"))
        payload = {"static": prof.static, "asymmetric_inputs": list(prof.asymmetric_inputs),
                   "table": [list(t) for t in prof.table]}
        human = ["static (independent of input size)" if prof.static else "input-dependent",
                 f"asymmetric for inputs: {list(prof.asymmetric_inputs) or 'none'}"]
    print(json.dumps(payload) if args.json else "\n".join(human))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="convgeom", description="Exact convolution geometry for PyTorch, TensorFlow/Keras, JAX and ONNX.")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    sub.required = True
    shape = sub.add_parser("shape", help="output size and per-side padding of one layer")
    _add_layer_args(shape)
    shape.set_defaults(handler=cmd_shape)
    expl = sub.add_parser("explain", help="step-by-step derivation (also of a rejection)")
    _add_layer_args(expl)
    expl.set_defaults(handler=cmd_explain)
    solve = sub.add_parser("solve", help="inverse problems: same padding, padding for a size, search, transpose")
    solve.add_argument("what", choices=["same", "padding", "search", "transpose", "profile"])
    solve.add_argument("--input", default="1")
    solve.add_argument("--output")
    solve.add_argument("--kernel")
    solve.add_argument("--stride")
    solve.add_argument("--padding")
    solve.add_argument("--dilation")
    solve.add_argument("--lower", action="store_true", help="same: SAME_LOWER (extra cell before)")
    solve.add_argument("--op", default="conv", choices=["conv", "max-pool", "avg-pool"])
    solve.add_argument("--kernels", default="1-7")
    solve.add_argument("--strides", default="1-4")
    solve.add_argument("--paddings", default="0-3")
    solve.add_argument("--dilations", default="1-2")
    solve.add_argument("--sizes", default="1-32", help="profile: input sizes LOW-HIGH")
    solve.add_argument("--framework", default="torch")
    solve.add_argument("--json", action="store_true")
    solve.set_defaults(handler=cmd_solve)
    for name in PLUGINS:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        module.register(sub)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    handler: Optional[Callable[[argparse.Namespace], int]] = None
    try:
        args = build_parser().parse_args(argv)
        handler = args.handler
        assert handler is not None
        return handler(args)
    except GeometryError as err:
        print(f"convgeom: error: {err}", file=sys.stderr)
        return 2
    except (OSError, ValueError, TypeError, KeyError) as err:
        # bad files or values deep inside a command: still one line, never a traceback
        print(f"convgeom: error: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("convgeom: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
