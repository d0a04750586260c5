"""``convgeom draw``: pictures from the command line.

    convgeom draw conv --input 5,5 --kernel 3 --stride 2 --padding 1            # terminal grids
    convgeom draw conv --input 8 --kernel 3 --stride 2 --padding same --framework tensorflow -o same.svg
    convgeom draw conv --input 5,5 --kernel 3 --stride 2 --padding 1 --values -o conv.gif
    convgeom draw conv-transpose --input 3 --kernel 3 --stride 2 --mode scatter -o scatter.png
    convgeom draw max-pool --input 6,6 --kernel 3 --stride 2 --ceil-mode --step 2,2 -o pool.svg
    convgeom draw conv --input 64,64 --kernel 3 --stride 4 --coverage -o coverage.png
    convgeom draw pad --input 3,3 --padding 2 --padding-mode reflect -o reflect.svg
    convgeom draw pipeline -o seed001.gif                                          # seed 001, animated
    convgeom draw rf model.onnx --input 1,3,64,64 --layer conv3 --unit 4,4 -o rf.svg
    convgeom draw staircase conv --kernel 3 --stride 2 --padding same --sizes 1-32 -o staircase.png
    convgeom draw rf-growth "pkg.models:build" --input 1,3,224,224 -o growth.png

The layer options are those of ``convgeom shape``; the format comes from the suffix of ``-o``
(.svg, .png, .gif, .txt, .json; plots .png, .svg, .pdf); without ``-o`` the picture is printed.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Optional

from ..errors import GeometryError
from . import args as values

LAYERS = ("conv", "conv-transpose", "max-pool", "avg-pool", "unfold")
WHATS = LAYERS + ("pad", "pipeline", "rf", "staircase", "rf-growth")
PAD_MODES = ("zeros", "constant", "reflect", "replicate", "circular")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The layer options of ``convgeom shape`` plus the picture options."""
    from .layer import add_arguments as add_layer_arguments  # the options of convgeom shape

    add_layer_arguments(parser)
    for action in parser._actions:
        if action.dest == "op":
            action.choices = WHATS
            action.help = "what to draw: a layer (" + ", ".join(LAYERS) + "), pad, pipeline, rf, staircase, rf-growth"
        elif action.dest == "input":
            action.required = False
            action.help = "layers: spatial input size (e.g. 5,5); rf, rf-growth: the model input shape (1,3,64,64)"
        elif action.dest == "json":
            action.help = "print the scene (every cell with its role and position) as JSON"
        elif action.dest == "padding_mode":
            action.help = "conv: zeros, reflect, replicate, circular; pad: also constant"
        elif action.dest in ("output", "size", "scale"):  # adaptive pools and interpolate
            action.help = argparse.SUPPRESS
    parser.add_argument("target", nargs="?", metavar="MODEL_OR_OP",
                        help="rf, rf-growth: the model (file or module:factory); staircase: the layer op")
    parser.add_argument("-o", "--out", metavar="FILE", help="write FILE (.svg, .png, .gif, .txt, .json)")
    # defaults None: an option given is one that is not None (cli.args.reject_unused)
    parser.add_argument("--values", action="store_true", default=None,
                        help="draw numbers (convgeom.ops' trace): input 1..9 repeating and an all-ones kernel "
                             "unless --data / --weight")
    parser.add_argument("--data", metavar="JSON", help="the input values, spatial axes only, e.g. '[[1,2],[3,4]]'")
    parser.add_argument("--weight", metavar="JSON", help="conv: the kernel values, spatial axes only")
    parser.add_argument("--step", metavar="I,J", help="highlight the window of this output position (default 0,0)")
    parser.add_argument("--mode", choices=("zeros-inserted", "scatter"), default=None,
                        help="conv-transpose: zeros inserted between input cells, or each input cell stamping")
    parser.add_argument("--coverage", action="store_true", default=None, help="draw the coverage heat map instead of the windows")
    parser.add_argument("--pad-value", type=float, default=0.0, help="pad --padding-mode constant: the fill value")
    parser.add_argument("--layer", help="rf: the traced layer's name (see convgeom trace)")
    parser.add_argument("--unit", metavar="I,J", help="rf: the output position of the layer (default: the middle)")
    parser.add_argument("--sizes", default="1-32", metavar="LOW-HIGH", help="staircase: the input sizes (default 1-32)")
    parser.add_argument("--zoom", type=int, default=1, choices=(1, 2, 3), help="PNG: pixels per layout point")
    parser.add_argument("--plain", action="store_true", help="terminal: no colours even if rich is installed")


def _ints(text: Optional[str], name: str) -> Optional[tuple[int, ...]]:
    return None if text is None else values.int_list(text, values.flag(name))


def _json_array(text: Optional[str], name: str) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise GeometryError(f"--{name} is not valid JSON: {exc.msg} at character {exc.pos}",
                            fix=f"quote the JSON, e.g. --{name} '[[1, 2], [3, 4]]'") from None


#: the picture options, each for some of what can be drawn
PICTURE_OPTIONS = ("values", "data", "weight", "step", "coverage", "layer", "unit", "mode")


def _refuse(args: argparse.Namespace, allowed: set[str]) -> None:
    """One clear line for an option (or MODEL_OR_OP) that does not apply to what is drawn."""
    if args.target is not None and "target" not in allowed:
        raise GeometryError(f"MODEL_OR_OP does not apply to 'convgeom draw {args.op}'", fix="drop it")
    values.reject_unused(args, PICTURE_OPTIONS, allowed, f"convgeom draw {args.op}")


def _layer_scene(args: argparse.Namespace) -> Any:
    from ..draw.api import make_scene
    from .layer import compute, layer_params

    allowed = {"values", "data", "weight", "step", "coverage"} | ({"mode"} if args.op == "conv-transpose" else set())
    _refuse(args, allowed)
    if args.input is None:
        raise GeometryError(f"convgeom draw {args.op} needs --input", fix="e.g. --input 5,5")
    if args.coverage and (args.values or args.step):
        raise GeometryError("--coverage draws counts, not one window's values", fix="drop --values and --step")
    result = compute(*layer_params(args))  # refuses the options the op does not take (--size, ...)
    return make_scene(result, step=_ints(args.step, "step"), mode=args.mode or "zeros-inserted",
                      coverage=bool(args.coverage), values=bool(args.values), data=_json_array(args.data, "data"), weight=_json_array(args.weight, "weight"))


def _pad_scene(args: argparse.Namespace) -> Any:
    from ..draw.build import default_data, pad_scene

    _refuse(args, {"data"})
    mode = args.padding_mode or "zeros"
    if mode not in PAD_MODES:
        raise GeometryError(f"unknown padding mode {mode!r}", fix="use one of " + ", ".join(PAD_MODES))
    if args.padding is None:
        raise GeometryError("convgeom draw pad needs --padding", fix="e.g. --padding 2 or --padding 1:2,0:1")
    data = _json_array(args.data, "data")
    if data is None:
        shape = _ints(args.input, "input")
        if shape is None:
            raise GeometryError("convgeom draw pad needs --input (or --data)", fix="e.g. --input 3,3")
        data = default_data(shape)
    padding = values.padding(args.padding, _ndim(data))
    if isinstance(padding, str):
        raise GeometryError(f"pad takes amounts, not {padding!r}", fix="e.g. --padding 2 or --padding 1:2,0:1")
    return pad_scene(data, padding, mode, args.pad_value)


def _ndim(data: Any) -> int:
    """The number of axes of nested lists (their depth)."""
    depth = 0
    while isinstance(data, list) and data:
        data, depth = data[0], depth + 1
    return max(depth, 1)


def _model(args: argparse.Namespace) -> Any:
    """The trace of MODEL (a file, or a factory spec whose code runs as ``convgeom trace`` runs it)."""
    import os

    from ..tracing.api import trace
    from . import model_spec
    from .trace import parse_shape

    if args.target is None:
        raise GeometryError(f"convgeom draw {args.op} needs a MODEL", fix="e.g. convgeom draw rf model.onnx --input 1,3,64,64")
    framework = args.framework  # any name or alias; the tracing registry picks the frontend
    shape = parse_shape(args.input) if args.input else None
    module_part = args.target.partition(":")[0]
    path_entry = os.path.dirname(os.path.abspath(module_part)) if module_part.endswith(".py") else os.getcwd()
    with model_spec.user_code(module_part, path_entry, replay_on_error=getattr(args, "traceback", False)):
        model, fw = model_spec.load_model(args.target, framework)
        return trace(model, shape, fw, findings=False)


def _plot(args: argparse.Namespace) -> int:
    from ..draw import plots

    if args.op == "staircase":
        from .layer import OPS, layer_params

        _refuse(args, {"target"})
        if args.target not in OPS or OPS[args.target][0] not in plots.STAIRCASE_OPS:
            raise GeometryError(f"staircase needs the layer op, got {args.target!r}",
                                fix="e.g. convgeom draw staircase conv --kernel 3 --stride 2")
        layer = argparse.Namespace(**{**vars(args), "op": args.target, "input": "1"})
        op, params = layer_params(layer)
        params.pop("input")
        # no --framework: one line per framework, so where they differ shows
        frameworks = plots.FRAMEWORKS if args.framework is None else (values.framework(args.framework),)
        params.pop("framework", None)
        sizes = values.int_range(args.sizes, "--sizes", minimum=1, max_values=plots.MAX_SIZES)
        if args.out is None:
            print(plots.staircase_text(op, sizes, frameworks, **params))
            return 0
        plots.save(plots.staircase(op, sizes, frameworks, **params), args.out)
    else:
        _refuse(args, {"target"})
        t = _model(args)
        if args.out is None:
            print(plots.rf_growth_text(t))
            return 0
        plots.save(plots.rf_growth(t), args.out)
    print(f"wrote {args.out}")
    return 0


def run(args: argparse.Namespace) -> int:
    """Build the scene, then print it or write ``-o``."""
    from ..draw.api import format_of, render

    if args.op in ("staircase", "rf-growth"):
        return _plot(args)
    if args.op in LAYERS:
        scene = _layer_scene(args)
    elif args.op == "pad":
        scene = _pad_scene(args)
    elif args.op == "pipeline":
        from ..draw.build import pipeline_scene
        from ..ops.trace import seed_001

        _refuse(args, {"step"})
        scene = pipeline_scene(seed_001(), _ints(args.step, "step"))
    else:
        from ..draw.receptive import rf_scene

        _refuse(args, {"target", "layer", "unit"})
        if args.layer is None:
            raise GeometryError("convgeom draw rf needs --layer", fix="name a layer shown by convgeom trace")
        scene = rf_scene(_model(args), args.layer, _ints(args.unit, "unit"))
    if args.json:
        print(json.dumps(scene.to_dict()))
        return 0
    if args.out is None:
        from ..draw.terminal import render as text
        from ..draw.terminal import use_color

        print(text(scene, color=not args.plain and use_color(sys.stdout)))
        return 0
    payload = render(scene, format_of(args.out), scale=args.zoom)
    with open(args.out, "wb") as handle:
        handle.write(payload)
    print(f"wrote {args.out}")
    return 0
