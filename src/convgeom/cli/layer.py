"""The one-layer options shared by ``shape`` and ``explain``: which option each op takes (one
table), parsing them into the geometry engine's keywords, and the JSON view of a result.

The number of spatial axes comes from ``--input``; every per-axis option has one value or one
per axis. An option the chosen op does not take is an error, never silently ignored.
"""

from __future__ import annotations

import argparse

from . import args as values

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see convgeom/__init__.py)
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

#: option -> (help, the engine's keyword)
OPTIONS: dict[str, tuple[str, str]] = {
    "kernel": ("kernel size: one int, or one per axis", "kernel"),
    "stride": ("stride: one int or one per axis (default 1 for conv, the kernel for pooling)", "stride"),
    "padding": ("an int, per-axis ints (1,2), before:after pairs per axis (0:1,1:1), or "
                "valid/same/same_lower/causal/full", "padding"),
    "dilation": ("dilation: one int or one per axis (default 1)", "dilation"),
    "groups": ("number of groups (default 1)", "groups"),
    "output_padding": ("extra cells after the last window, one int or one per axis", "output_padding"),
    "output_size": ("the output size to produce (PyTorch output_size=, ONNX output_shape)", "output_size"),
    "output": ("output size: one int or one per axis", "output_size"),
    "size": ("output size: one int or one per axis (give --size or --scale)", "size"),
    "scale": ("scale factor(s): positive numbers, e.g. 2 or 1.5,2 (give --size or --scale)", "scale_factor"),
    "ceil_mode": ("ceil instead of floor for the number of windows", "ceil_mode"),
    "count_include_pad": ("true/false: count padded cells in the divisor (default: the framework's)",
                          "count_include_pad"),
    "divisor": ("divide every window by this (PyTorch divisor_override)", "divisor"),
    "padding_mode": ("zeros, reflect, replicate or circular (PyTorch conv)", "padding_mode"),
    "framework": ("torch (default), tensorflow, jax or onnx (aliases: pytorch, tf, keras, lax, ort)",
                  "framework"),
}

_WINDOWED = ("kernel", "stride", "padding", "dilation", "framework")

#: CLI op -> (engine function in convgeom.geometry, options it takes, options it needs)
OPS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "conv": ("conv", _WINDOWED + ("groups", "padding_mode"), ("kernel",)),
    "conv-transpose": ("conv_transpose", _WINDOWED + ("groups", "output_padding", "output_size"), ("kernel",)),
    "max-pool": ("max_pool", _WINDOWED + ("ceil_mode",), ("kernel",)),
    "avg-pool": ("avg_pool", _WINDOWED + ("ceil_mode", "count_include_pad", "divisor"), ("kernel",)),
    "unfold": ("unfold", _WINDOWED, ("kernel",)),
    # PyTorch's own ops: convgeom models them for PyTorch only, so they take no --framework
    "adaptive-avg-pool": ("adaptive_avg_pool", ("output",), ("output",)),
    "adaptive-max-pool": ("adaptive_max_pool", ("output",), ("output",)),
    "interpolate": ("interpolate", ("size", "scale"), ()),
}

#: Largest total output for which ``--json`` lists every adaptive-pooling window.
MAX_LISTED_WINDOWS = 10_000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The op, ``--input``, every option of the table, and ``--json``."""
    takers: dict[str, list[str]] = {name: [op for op, (_, opts, _) in OPS.items() if name in opts] for name in OPTIONS}
    parser.add_argument("op", choices=list(OPS), help="layer type")
    parser.add_argument("--input", required=True, metavar="N",
                        help="spatial input size, one int per axis, e.g. 7 or 224,160 (decides the number of axes)")
    for name, (text, _) in OPTIONS.items():
        where = "all but the adaptive pools and interpolate" if name == "framework" else ", ".join(takers[name])
        help_text = f"{text} [{where}]"
        if name == "ceil_mode":
            parser.add_argument("--ceil-mode", action="store_true", default=None, help=help_text)
        elif name == "count_include_pad":
            parser.add_argument("--count-include-pad", choices=("true", "false"), default=None, help=help_text)
        else:
            parser.add_argument(values.flag(name), default=None, metavar="V", help=help_text)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.epilog = (f"Every integer is ASCII digits and fits in int64 (at most {values.INT64_MAX}); "
                     f"at most {values.MAX_AXES} axes. Negative values may follow a space: --padding -1:-1.")


def _convert(name: str, text: Any, ndim: int) -> Any:
    option = values.flag(name)
    if name == "padding":
        return values.padding(text, ndim)
    if name == "scale":
        return values.floats(text, option, ndim)
    if name in ("groups", "divisor"):
        return values.integer(text, option)
    if name == "ceil_mode":
        return True
    if name == "count_include_pad":
        return text == "true"
    if name == "framework":
        return values.framework(text)
    if name == "padding_mode":
        return text
    return values.per_axis(text, option, ndim)


def params_from_fields(fields: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """(engine function name, keyword arguments) for a layer given as the command line gives it:
    ``op``, ``input`` and the options of :data:`OPTIONS` as text (``ceil_mode`` True; None or
    missing: not given). The one reading of a layer's fields: ``convgeom shape``/``explain`` and
    the web API (:mod:`convgeom.web`) all call it."""
    op = fields.get("op")
    if op not in OPS:
        raise values.CliError(f"unknown op {values.shown(str(op))}", fix="use one of " + ", ".join(OPS))
    if fields.get("input") is None:
        raise values.CliError(f"{op} needs --input", fix="e.g. --input 7 or --input 224,160")
    args = argparse.Namespace(op=op, input=fields["input"], **{name: fields.get(name) for name in OPTIONS})
    function, takes, needs = OPS[op]
    framework = values.framework(args.framework) if args.framework is not None else None
    if "framework" not in takes and framework not in (None, "torch"):
        raise values.CliError(f"--framework {args.framework} does not apply to {op}: convgeom models "
                              f"PyTorch's {op} only", fix="drop --framework")
    values.reject_unused(args, [n for n in OPTIONS if n != "framework"], takes, op)
    for name in needs:
        if getattr(args, name) is None:
            raise values.CliError(f"{op} needs {values.flag(name)}", fix=f"e.g. {values.flag(name)} 3")
    sizes = values.int_list(args.input, "--input")
    params: dict[str, Any] = {"input": sizes[0] if len(sizes) == 1 else sizes}
    for name in values.given(args, takes):
        params[OPTIONS[name][1]] = _convert(name, getattr(args, name), len(sizes))
    if "framework" in takes and framework is None:
        params["framework"] = "torch"
    return function, params


def layer_params(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """(engine function name, keyword arguments) for the op and options on the command line."""
    return params_from_fields(vars(args))


def shape_json(fields: Mapping[str, Any]) -> dict[str, Any]:
    """What ``convgeom shape --json`` prints for ``fields`` (see :func:`params_from_fields`);
    the web API's ``POST /api/shape`` returns the same object."""
    return result_json(compute(*params_from_fields(fields)))


def compute(function: str, params: dict[str, Any]) -> Any:
    """The engine's result for ``function(**params)`` (GeometryError when refused)."""
    from .. import geometry

    return getattr(geometry, function)(**params)


def result_json(result: Any) -> dict[str, Any]:
    """The JSON view of a result: bounded in the output size (adaptive windows are listed only
    up to :data:`MAX_LISTED_WINDOWS`)."""
    from ..geometry import AdaptivePoolGeometry, LayerGeometry

    if isinstance(result, LayerGeometry):
        return result.to_dict()
    data: dict[str, Any] = {"input": list(result.input), "output": list(result.output)}
    if isinstance(result, AdaptivePoolGeometry):
        data["op"] = result.op
        data["windows"] = ([[list(w) for w in axis] for axis in result.windows]
                           if sum(result.output) <= MAX_LISTED_WINDOWS else None)
    else:
        data["op"] = "interpolate"
        data["mode"] = result.mode
        data["scale"] = list(result.scale)
    return data
