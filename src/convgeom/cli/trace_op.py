"""``convgeom trace-op``: print the stages of a small convolution or pooling, window by window.

With no data options it reproduces seed 001 (a PyTorch tutorial's pipeline): the 5x5 image,
zero padding 1 (7x7), an all-ones 3x3 kernel (the tutorial prints none) with stride 2, a 3x3
output. Needs NumPy (``pip install 'convgeom[ops]'``), imported only when the command runs.

Sizes are checked with the geometry engine before anything is allocated: a kernel larger than
the padded input is refused by the framework's rule, and a trace is capped at
``convgeom.ops.trace.DEFAULT_MAX_CELLS`` window cells.
"""

from __future__ import annotations

import argparse
import math
from typing import Any

from . import args as values

OPS = ("conv", "max_pool", "avg_pool")
_EVERY_OP = ("stride", "padding", "framework", "kernel_size")
#: op -> options it takes besides --input, --batched, --max-windows and --json
TAKES: dict[str, tuple[str, ...]] = {
    "conv": _EVERY_OP + ("weight", "bias", "dilation", "groups", "padding_mode"),
    "max_pool": _EVERY_OP + ("dilation", "ceil_mode"),
    "avg_pool": _EVERY_OP + ("dilation", "ceil_mode", "count_include_pad", "divisor"),
}
_OPTIONS = sorted({name for takes in TAKES.values() for name in takes})
#: the most cells --max-windows may ask for: no trace records more
MAX_WINDOWS = 200_000


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Trace a small convolution or pooling step by step (NumPy). With no options: the "
        "5x5 image of the PyTorch tutorial, zero padding 1, an all-ones 3x3 kernel, stride 2.")
    p.add_argument("--op", choices=OPS, default="conv", help="operation (default conv)")
    p.add_argument("--input", metavar="JSON",
                   help="input as a nested JSON list: spatial axes only (one image, one channel), "
                        "or (N, C, *spatial) with --batched; default: the tutorial's 5x5 image")
    p.add_argument("--batched", action="store_true", help="--input (and --weight) include the N, C axes")
    p.add_argument("--weight", metavar="JSON",
                   help="conv kernel as nested JSON: spatial axes only (one in/out channel) or "
                        "(C_out, C_in/groups, *k); default: all ones of --kernel-size")
    p.add_argument("--kernel-size", default=None, metavar="K",
                   help="kernel size: int or comma list (pools, and the all-ones conv kernel; default 3)")
    p.add_argument("--bias", metavar="JSON", help="conv bias: a number or a list, one per output channel")
    p.add_argument("--stride", default=None, metavar="S",
                   help="int or comma list (default 2 for the tutorial input, else 1; pools: the kernel)")
    p.add_argument("--padding", default=None, metavar="P",
                   help="int, comma list, before:after pairs (0:1,1:1), JSON pairs like [[1,2],[0,1]], or "
                        "same/valid/... (default 1 for the tutorial input, else 0)")
    p.add_argument("--dilation", default=None, metavar="D", help="int or comma list (default 1)")
    p.add_argument("--groups", default=None, metavar="G", help="conv groups (default 1)")
    p.add_argument("--padding-mode", default=None, choices=("zeros", "reflect", "replicate", "circular"))
    p.add_argument("--framework", default=None, help="torch (default), tensorflow, jax or onnx")
    p.add_argument("--ceil-mode", action="store_true", default=None, help="pools: ceil mode")
    p.add_argument("--count-include-pad", choices=("true", "false"), default=None,
                   help="avg_pool: count padded cells (default: the framework's)")
    p.add_argument("--divisor", default=None, metavar="N", help="avg_pool: divisor_override")
    p.add_argument("--max-windows", default=None, metavar="N",
                   help=f"print at most N windows (0 to {MAX_WINDOWS})")
    p.add_argument("--json", action="store_true", help="print the trace as JSON")
    p.epilog = ("A trace records at most 200000 window cells (windows x kernel cells x channels); "
                "sizes are checked before anything is allocated.")


def _json(text: str, what: str) -> Any:
    import json

    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise values.CliError(f"--{what} is not valid JSON: {exc.msg} at character {exc.pos}",
                              fix=f"quote the JSON, e.g. --{what} '[[1, 2], [3, 4]]'") from None
    except RecursionError:
        raise values.CliError(f"--{what} is nested too deeply", fix="give at most (N, C, *spatial) levels") from None


def _numbers(np: Any, text: str, what: str) -> Any:
    """A JSON nested list (or number) of numbers as a float64 array."""
    value = _json(text, what)
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise values.CliError(f"--{what} must be a number or a rectangular nested list of numbers (every row the "
                              f"same length), got {text[:60]!r}",
                              fix=f"write e.g. --{what} '[[1, 2], [3, 4]]'") from None


def _input(np: Any, args: argparse.Namespace) -> Any:
    from ..ops import trace as tr

    if args.input is None:
        return np.array(tr.SEED_001_IMAGE, dtype=np.float64)[None, None]
    raw = _numbers(np, args.input, "input")
    x = raw if args.batched else raw[None, None]
    if not 1 <= x.ndim - 2 <= 3:
        layout = "(N, C, *spatial)" if args.batched else "spatial axes only"
        raise values.CliError(f"--input has {max(x.ndim - 2, 0)} spatial axes; trace-op takes 1 to 3",
                              fix=f"give a nested list with {layout}, e.g. '[[1, 2], [3, 4]]'")
    return x


def _check_size(x: Any, geo: Any, channels_out: int, per_group: int) -> None:
    """Refuse a trace larger than the cap before anything is allocated: the window cells it
    records (windows x kernel cells x channels) and the padded cells it touches (the padded
    input, or as far as the last window reaches)."""
    from ..ops.trace import DEFAULT_MAX_CELLS

    batch, channels = x.shape[0], x.shape[1]
    recorded = batch * channels_out * math.prod(geo.output) * per_group * math.prod(geo.kernel)
    touched = batch * channels * math.prod(
        max(a.padded_input, (a.output - 1) * a.stride + a.effective_kernel) for a in geo.axes)
    for what, cells in (("record", recorded), ("pad the input to", touched)):
        if cells > DEFAULT_MAX_CELLS:
            raise values.CliError(f"the trace would {what} {cells} cells, more than {DEFAULT_MAX_CELLS}",
                                  fix="trace a smaller input, kernel or padding (a trace is for explaining a few "
                                      "windows)")


def _conv(np: Any, tr: Any, x: Any, args: argparse.Namespace, stride: Any, padding: Any, dilation: Any,
          framework: str) -> Any:
    """The conv trace; the default all-ones weight is allocated only once the engine accepts its
    size and the trace fits under the cap (a kernel of 100000 is refused before any allocation)."""
    from .. import geometry

    nd, channels = x.ndim - 2, x.shape[1]
    groups = values.integer(values.or_default(args.groups, "1"), "--groups", minimum=1)
    padding_mode = values.or_default(args.padding_mode, "zeros")
    stride = 1 if stride is None else stride
    if args.weight is not None:
        w = _numbers(np, args.weight, "weight")
        w = w[None, None] if w.ndim == nd else w
        kernel, channels_out = tuple(w.shape[2:]), (w.shape[0] if w.ndim == nd + 2 else channels)
    else:
        k = values.per_axis(values.or_default(args.kernel_size, "3"), "--kernel-size", nd, axes_from="the --input array")
        kernel, channels_out, w = ((k,) * nd if isinstance(k, int) else tuple(k)), channels, None
    if len(kernel) == nd:
        geo = geometry.conv(tuple(x.shape[2:]), kernel, stride, padding, dilation, groups, framework=framework,
                            padding_mode=padding_mode, in_channels=channels, out_channels=channels_out)
        _check_size(x, geo, channels_out, channels // groups)
    if w is None:
        w = np.ones((channels, channels // groups) + kernel)
    bias = None
    if args.bias is not None:
        b = _numbers(np, args.bias, "bias")
        bias = np.full(w.shape[0], float(b)) if b.ndim == 0 else b
    return tr.trace_conv(x, w, bias, stride, padding, dilation, groups, padding_mode, framework)


def _pool(tr: Any, x: Any, args: argparse.Namespace, stride: Any, padding: Any, dilation: Any,
          framework: str) -> Any:
    from .. import geometry

    kernel = values.per_axis(values.or_default(args.kernel_size, "3"), "--kernel-size", x.ndim - 2, axes_from="the --input array")
    ceil_mode = bool(args.ceil_mode)
    spatial = tuple(x.shape[2:])
    if args.op == "max_pool":
        geo = geometry.max_pool(spatial, kernel, stride, padding, dilation, ceil_mode, framework=framework)
        _check_size(x, geo, x.shape[1], 1)
        return tr.trace_max_pool(x, kernel, stride, padding, dilation, ceil_mode, framework=framework)
    cip = None if args.count_include_pad is None else args.count_include_pad == "true"
    divisor = None if args.divisor is None else values.integer(args.divisor, "--divisor")
    geo = geometry.avg_pool(spatial, kernel, stride, padding, ceil_mode, cip, divisor, dilation=dilation,
                            framework=framework)
    _check_size(x, geo, x.shape[1], 1)
    return tr.trace_avg_pool(x, kernel, stride, padding, ceil_mode, cip, divisor, dilation=dilation,
                             framework=framework)


def run(args: argparse.Namespace) -> int:
    from ..optional import require

    np = require("numpy", "convgeom trace-op")
    from ..ops import trace as tr

    values.reject_unused(args, _OPTIONS, TAKES[args.op], f"trace-op --op {args.op}")
    if args.op == "conv" and args.weight is not None and args.kernel_size is not None:
        raise values.CliError("give --weight or --kernel-size, not both", fix="drop --kernel-size")
    max_windows = None if args.max_windows is None else values.integer(
        args.max_windows, "--max-windows", minimum=0, maximum=MAX_WINDOWS)
    framework = values.framework(values.or_default(args.framework, "torch"))
    x = _input(np, args)
    nd, tutorial = x.ndim - 2, args.input is None
    axes = "the --input array"
    stride = (values.per_axis(args.stride, "--stride", nd, axes_from=axes) if args.stride is not None
              else tr.SEED_001_STRIDE if tutorial and args.op == "conv" else None)
    padding = (values.padding(args.padding, nd) if args.padding is not None
               else tr.SEED_001_PADDING if tutorial else 0)
    dilation = values.per_axis(values.or_default(args.dilation, "1"), "--dilation", nd, axes_from=axes)
    if args.op == "conv":
        trace = _conv(np, tr, x, args, stride, padding, dilation, framework)
    else:
        trace = _pool(tr, x, args, stride, padding, dilation, framework)
    if args.json:
        import json

        print(json.dumps(trace.to_dict(), indent=2))
    else:
        print(trace.render(max_windows=max_windows))
    return 0
