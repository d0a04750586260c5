"""``convgeom explain``: the step-by-step derivation of one layer, then its grids (the padded
input with the first window, the kernel, the output) when they fit a terminal; a configuration the framework
refuses is explained up to the rule that refuses it (on stdout) and fails with that rule's one
line (on stderr, exit code 2)."""

from __future__ import annotations

import argparse

from ..errors import GeometryError
from . import layer

add_arguments = layer.add_arguments


def run(args: argparse.Namespace) -> int:
    import json

    from ..explanation import explain, explain_call

    function, params = layer.layer_params(args)
    try:
        result = layer.compute(function, params)
    except GeometryError as err:
        text = explain_call(function, **params)
        print(json.dumps({"accepted": False, "error": str(err), "explanation": text}) if args.json else text)
        raise
    text = explain(result)
    if args.json:
        print(json.dumps({"accepted": True, "explanation": text, **layer.result_json(result)}))
        return 0
    from ..draw.terminal import render_geometry

    grids = render_geometry(result, fit=True)
    print(f"{text}\n\n{grids}" if grids else text)
    return 0
