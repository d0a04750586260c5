"""``convgeom trace-op``: print the stages of a small convolution or pooling, window by window.

With no data options it reproduces seed 001 (a PyTorch tutorial's pipeline): the 5x5 image,
zero padding 1 (7x7), an all-ones 3x3 kernel (the tutorial prints none) with stride 2, a 3x3
output. NumPy is imported only when the command runs.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..errors import GeometryError

OPS = ("conv", "max_pool", "avg_pool")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``trace-op`` subcommand; its handler is ``set_defaults(handler=...)``."""
    p = subparsers.add_parser(
        "trace-op",
        help="print every stage of a small conv/pool: input, padded input, each window, output",
        description=(
            "Trace a small convolution or pooling step by step (NumPy). With no options: the "
            "5x5 image of the PyTorch tutorial, zero padding 1, an all-ones 3x3 kernel, stride 2."
        ),
    )
    p.add_argument("--op", choices=OPS, default="conv", help="operation (default conv)")
    p.add_argument("--input", metavar="JSON",
                   help="input as a nested JSON list: spatial axes only (one image, one channel), "
                        "or (N, C, *spatial) with --batched; default: the tutorial's 5x5 image")
    p.add_argument("--batched", action="store_true", help="--input (and --weight) include the N, C axes")
    p.add_argument("--weight", metavar="JSON",
                   help="conv kernel as nested JSON: spatial axes only (one in/out channel) or "
                        "(C_out, C_in/groups, *k); default: all ones of --kernel-size")
    p.add_argument("--kernel-size", default="3", metavar="K",
                   help="kernel size: int or comma list (pools, and the default all-ones conv kernel)")
    p.add_argument("--bias", metavar="JSON", help="conv bias: a number or a list, one per output channel")
    p.add_argument("--stride", default=None, metavar="S",
                   help="int or comma list (default 2 for the tutorial input, else 1; pools: the kernel)")
    p.add_argument("--padding", default=None, metavar="P",
                   help="int, comma list, JSON pairs like [[1,2],[0,1]], or a string such as same/valid "
                        "(default 1 for the tutorial input, else 0)")
    p.add_argument("--dilation", default="1", metavar="D", help="int or comma list")
    p.add_argument("--groups", type=int, default=1)
    p.add_argument("--padding-mode", default="zeros", choices=("zeros", "reflect", "replicate", "circular"))
    p.add_argument("--framework", default="torch", help="torch, tensorflow, jax or onnx (default torch)")
    p.add_argument("--ceil-mode", action="store_true", help="pools: ceil mode")
    p.add_argument("--count-include-pad", choices=("true", "false"), default=None,
                   help="avg_pool: count padded cells (default: the framework's)")
    p.add_argument("--divisor", type=int, default=None, help="avg_pool: divisor_override")
    p.add_argument("--max-windows", type=int, default=None, metavar="N", help="print at most N windows")
    p.add_argument("--json", action="store_true", help="print the trace as JSON")
    p.set_defaults(handler=handle)


def _json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise GeometryError(f"{what} is not valid JSON: {exc.msg} at character {exc.pos}",
                            fix=f"quote the JSON, e.g. --{what} '[[1, 2], [3, 4]]'") from None


def _numbers(text: str, what: str) -> Any:
    """A JSON nested list (or number) of numbers as a float64 array."""
    import numpy as np

    value = _json(text, what)
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise GeometryError(f"--{what} must be a number or a rectangular nested list of numbers (every row the "
                            f"same length), got {text[:60]!r}",
                            fix=f"write e.g. --{what} '[[1, 2], [3, 4]]'") from None


def _ints(text: str, what: str) -> Any:
    """``"2"`` -> 2, ``"2,1"`` -> (2, 1), JSON lists as given."""
    text = text.strip()
    if text.startswith("["):
        value = _json(text, what)
        return [tuple(v) if isinstance(v, list) else v for v in value]
    try:
        parts = [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        if what == "padding":
            return text
        raise GeometryError(f"--{what} {text!r} is not an integer or a comma list of integers",
                            fix=f"write --{what} 2 or --{what} 2,1") from None
    if not parts:
        raise GeometryError(f"--{what} is empty", fix=f"write --{what} 1")
    return parts[0] if len(parts) == 1 else tuple(parts)


def handle(args: argparse.Namespace) -> int:
    import numpy as np

    from . import trace as tr

    default_input = args.input is None
    if default_input:
        x = np.array(tr.SEED_001_IMAGE, dtype=np.float64)[None, None]
    else:
        raw = _numbers(args.input, "input")
        x = raw if args.batched else raw[None, None]
    nd = x.ndim - 2
    stride = _ints(args.stride, "stride") if args.stride is not None else (
        tr.SEED_001_STRIDE if default_input and args.op == "conv" else None)
    padding = _ints(args.padding, "padding") if args.padding is not None else (
        tr.SEED_001_PADDING if default_input else 0)
    dilation = _ints(args.dilation, "dilation")
    if args.op == "conv":
        if args.weight is not None:
            w = _numbers(args.weight, "weight")
            if w.ndim == nd:
                w = w[None, None]
        else:
            ksize = _ints(args.kernel_size, "kernel-size")
            k = (ksize,) * nd if isinstance(ksize, int) else tuple(ksize)
            w = np.ones((x.shape[1], x.shape[1] // max(args.groups, 1)) + k)
        bias = None
        if args.bias is not None:
            b = _numbers(args.bias, "bias")
            bias = np.full(w.shape[0], float(b)) if b.ndim == 0 else b
        trace = tr.trace_conv(x, w, bias, 1 if stride is None else stride, padding, dilation, args.groups,
                              args.padding_mode, args.framework)
    elif args.op == "max_pool":
        trace = tr.trace_max_pool(x, _ints(args.kernel_size, "kernel-size"), stride, padding, dilation,
                                  args.ceil_mode, framework=args.framework)
    else:
        cip = None if args.count_include_pad is None else args.count_include_pad == "true"
        trace = tr.trace_avg_pool(x, _ints(args.kernel_size, "kernel-size"), stride, padding, args.ceil_mode,
                                  cip, args.divisor, framework=args.framework)
    if args.max_windows is not None and args.max_windows < 0:
        raise GeometryError(f"--max-windows must be >= 0, got {args.max_windows}", fix="write --max-windows 5")
    if args.json:
        print(json.dumps(trace.to_dict(), indent=2))
    else:
        print(trace.render(max_windows=args.max_windows))
    return 0
