"""``convgeom solve``: inverse problems, one small function per solver returning an
:class:`Answer` (its JSON and its text). Each solver has its own option set (one table): an option
it does not take is an error, and every range has a cap.

Each answer is for the framework asked: ``solve same --framework torch --stride 2`` is refused
with PyTorch's rule and a fix, never answered for another framework.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, NamedTuple

from . import args as values

#: Most values in each of --kernels, --strides, --paddings, --dilations (their product is capped
#: again by convgeom.solve.MAX_CANDIDATES).
MAX_SEARCH_VALUES = 1_000
#: Most input sizes in --sizes.
MAX_PROFILE_SIZES = 10_000


class Answer(NamedTuple):
    """What a solver prints: ``data`` with ``--json``, ``text`` without."""

    data: dict[str, Any]
    text: str


def _axes(args: argparse.Namespace) -> tuple[Any, int]:
    sizes = values.int_list(args.input, "--input", minimum=1)
    return (sizes[0] if len(sizes) == 1 else sizes), len(sizes)


def _opt(args: argparse.Namespace, name: str, ndim: int, default: str = "1") -> Any:
    """A per-axis option; every one the solvers take (kernel, stride, dilation, output) is >= 1."""
    text = getattr(args, name)
    return values.per_axis(default if text is None else text, values.flag(name), ndim, minimum=1)


def solve_same(args: argparse.Namespace, framework: str) -> Answer:
    from ..solve import same_padding

    n, ndim = _axes(args)
    sp = same_padding(n, _opt(args, "kernel", ndim), _opt(args, "stride", ndim), _opt(args, "dilation", ndim),
                      framework=framework, lower=bool(args.lower))
    data = {"framework": sp.framework, "input": list(sp.input), "output": list(sp.output),
            "pad_before": [b for b, _ in sp.pad], "pad_after": [a for _, a in sp.pad],
            "symmetric": sp.symmetric, "static": sp.static,
            "torch_padding": None if sp.torch_padding is None else list(sp.torch_padding),
            "torch_pad": list(sp.torch_pad)}
    text = "\n".join([
        f"{sp.framework} 'same' for input {sp.input}: pads {sp.pad} -> output {sp.output}",
        f"PyTorch: padding={sp.torch_padding}" if sp.symmetric
        else f"PyTorch: F.pad(x, {sp.torch_pad}) then padding=0 (asymmetric)",
        "static: the same pads for every input size" if sp.static
        else "input-dependent: pads change with input size mod stride",
    ])
    return Answer(data, text)


def solve_padding(args: argparse.Namespace, framework: str) -> Answer:
    from ..solve import padding_for_output

    n, ndim = _axes(args)
    r = padding_for_output(n, _opt(args, "output", ndim), _opt(args, "kernel", ndim), _opt(args, "stride", ndim),
                           _opt(args, "dilation", ndim), framework=framework)
    return Answer(r.to_dict(), f"padding {r.pad} gives output {r.output} from input {r.input}")


def solve_search(args: argparse.Namespace, framework: str) -> Answer:
    from ..solve import search
    from .shape import table

    n = values.integer(args.input, "--input", minimum=1)
    o = values.integer(args.output, "--output", minimum=0)
    ranges = [values.int_range(values.or_default(getattr(args, name), default), values.flag(name), minimum=low,
                               max_values=MAX_SEARCH_VALUES)
              for name, default, low in (("kernels", "1-7", 1), ("strides", "1-4", 1), ("paddings", "0-3", 0),
                                         ("dilations", "1-2", 1))]
    found = search(n, o, *ranges, framework=framework, op=(values.or_default(args.op, "conv")).replace("-", "_"))
    rows = [(c.kernel, c.stride, c.padding, c.dilation) for c in found]
    text = "\n".join([f"{len(found)} configurations map {n} -> {o} ({framework}):",
                      table(["kernel", "stride", "padding", "dilation"], rows) if found else "(none)"])
    return Answer({"input": n, "output": o, "solutions": [c.__dict__ for c in found]}, text)


def solve_transpose(args: argparse.Namespace, framework: str) -> Answer:
    from ..geometry import conv
    from ..solve import inverse_transpose

    n, ndim = _axes(args)
    forward = conv(n, _opt(args, "kernel", ndim), _opt(args, "stride", ndim),
                   values.padding(values.or_default(args.padding, "0"), ndim), _opt(args, "dilation", ndim), framework=framework)
    inv = inverse_transpose(forward)
    text = (f"conv: {forward.input} -> {forward.output}; conv_transpose with kernel {inv.kernel}, stride "
            f"{inv.stride}, crop {inv.pad}, output_padding {inv.output_padding} restores {inv.output}")
    return Answer({"conv": forward.to_dict(), "conv_transpose": inv.to_dict()}, text)


def solve_profile(args: argparse.Namespace, framework: str) -> Answer:
    """TF/Keras, JAX and ONNX 'same' (SAME_UPPER) agree; PyTorch's 'same' agrees where it exists
    (stride 1): the framework is checked by the engine on the first size, which refuses for it."""
    from ..geometry import conv
    from ..solve import same_profile

    k, s, d = (values.integer(values.or_default(getattr(args, name), "1"), values.flag(name), minimum=1)
               for name in ("kernel", "stride", "dilation"))
    sizes = values.int_range(values.or_default(args.sizes, "1-32"), "--sizes", minimum=1, max_values=MAX_PROFILE_SIZES)
    conv(sizes[0], k, s, "same", d, framework=framework)
    prof = same_profile(k, s, d, sizes)
    data = {"static": prof.static, "asymmetric_inputs": list(prof.asymmetric_inputs),
            "table": [list(t) for t in prof.table]}
    text = "\n".join(["static (independent of input size)" if prof.static else "input-dependent",
                      f"asymmetric for inputs: {list(prof.asymmetric_inputs) or 'none'}"])
    return Answer(data, text)


Solver = Callable[[argparse.Namespace, str], Answer]
#: solver -> (function, options it takes, options it needs, default framework)
SOLVERS: dict[str, tuple[Solver, tuple[str, ...], tuple[str, ...], str]] = {
    "same": (solve_same, ("input", "kernel", "stride", "dilation", "lower", "framework"), ("input", "kernel"),
             "tensorflow"),
    "padding": (solve_padding, ("input", "output", "kernel", "stride", "dilation", "framework"),
                ("input", "output", "kernel"), "torch"),
    "search": (solve_search, ("input", "output", "kernels", "strides", "paddings", "dilations", "op", "framework"),
               ("input", "output"), "torch"),
    "transpose": (solve_transpose, ("input", "kernel", "stride", "padding", "dilation", "framework"),
                  ("input", "kernel"), "torch"),
    "profile": (solve_profile, ("kernel", "stride", "dilation", "sizes", "framework"), ("kernel",), "tensorflow"),
}

#: option -> help (every default is None, so "given" means given)
OPTIONS: dict[str, str] = {
    "input": "input size, one int per axis (search: one int)",
    "output": "wanted output size (padding: per axis; search: one int)",
    "kernel": "kernel size, one int or one per axis",
    "stride": "stride, one int or one per axis (default 1)",
    "padding": "transpose: the forward conv's padding (int, per axis, before:after pairs, or a mode)",
    "dilation": "dilation, one int or one per axis (default 1)",
    "lower": "same: SAME_LOWER (the extra cell before)",
    "op": "search: conv (default), max-pool or avg-pool",
    "kernels": f"search: kernel sizes N or LOW-HIGH, >= 1, at most {MAX_SEARCH_VALUES} (default 1-7)",
    "strides": f"search: strides N or LOW-HIGH, >= 1, at most {MAX_SEARCH_VALUES} (default 1-4)",
    "paddings": f"search: paddings N or LOW-HIGH, >= 0, at most {MAX_SEARCH_VALUES} (default 0-3)",
    "dilations": f"search: dilations N or LOW-HIGH, >= 1, at most {MAX_SEARCH_VALUES} (default 1-2)",
    "sizes": f"profile: input sizes N or LOW-HIGH, >= 1, at most {MAX_PROFILE_SIZES} (default 1-32)",
    "framework": "torch, tensorflow, jax or onnx (default tensorflow for same and profile, else torch)",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("what", choices=list(SOLVERS), help="which inverse problem")
    for name, help_text in OPTIONS.items():
        takers = ", ".join(s for s, (_, takes, _, _) in SOLVERS.items() if name in takes)
        if name == "lower":
            parser.add_argument("--lower", action="store_true", default=None, help=help_text)
        elif name == "op":
            parser.add_argument("--op", choices=("conv", "max-pool", "avg-pool"), default=None,
                                help=f"{help_text} [{takers}]")
        else:
            parser.add_argument(values.flag(name), default=None, metavar="V", help=f"{help_text} [{takers}]")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.epilog = (f"Every integer is ASCII digits and fits in int64; the search evaluates at most "
                     f"{MAX_SEARCH_VALUES} values per range and 200000 configurations in all.")


def run(args: argparse.Namespace) -> int:
    solver, takes, needs, default_framework = SOLVERS[args.what]
    framework = values.framework(values.or_default(args.framework, default_framework))
    what = f"solve {args.what}"
    values.reject_unused(args, OPTIONS, takes, what)
    for name in needs:
        if getattr(args, name) is None:
            raise values.CliError(f"{what} needs {values.flag(name)}", fix=f"e.g. {values.flag(name)} 3")
    answer = solver(args, framework)
    if args.json:
        import json

        print(json.dumps(answer.data))
    else:
        print(answer.text)
    return 0
