"""``convgeom port OP --from FW --to FW [shape options] [--in-channels C --out-channels C] [--json]``:
the target framework's code for one layer of the source framework, exact. The port itself is
:func:`convgeom.port.port` (and :func:`convgeom.port.verify`), imported when the command runs."""

from __future__ import annotations

import argparse
import json
from typing import Any

#: ops ``convgeom port`` takes (the CLI spelling)
PORT_OPS = ("conv", "conv-transpose", "max-pool", "avg-pool")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``convgeom shape`` (``--framework`` is ``--from``) plus the port's own."""
    from .layer import add_arguments as add_layer_arguments  # the shared layer options

    add_layer_arguments(parser)
    for action in parser._actions:  # the shared options name every op and --framework
        if action.dest == "op":
            action.choices = PORT_OPS
        elif action.dest == "framework":
            action.help = argparse.SUPPRESS
        elif action.dest in ("output", "size", "scale"):  # adaptive pools and interpolate
            action.help = argparse.SUPPRESS
    parser.set_defaults(framework=None)
    parser.add_argument("--from", dest="source", required=True, help="source framework: torch, tensorflow, jax, onnx")
    parser.add_argument("--to", dest="target", required=True, help="target framework: torch, tensorflow, jax, onnx")
    parser.add_argument("--in-channels", type=int, default=None, help="convolutions: input channels")
    parser.add_argument("--out-channels", type=int, default=None, help="convolutions: output channels")
    parser.add_argument("--no-bias", action="store_true", help="convolutions: no bias")
    parser.add_argument("--verify", action="store_true",
                        help="run the source and the ported layer on random data and report the difference")


def run(args: argparse.Namespace) -> int:
    from ..errors import GeometryError
    from ..port import port, verify
    from .layer import layer_params

    if args.op not in PORT_OPS:
        raise GeometryError(f"cannot port {args.op}", fix="port one of " + ", ".join(PORT_OPS))
    if args.framework is not None and args.framework != args.source:
        raise GeometryError("--framework is --from for convgeom port", fix="drop --framework")
    args.framework = args.source
    op, params = layer_params(args)
    params.pop("framework", None)
    ported = port(op, source=args.source, target=args.target, in_channels=args.in_channels,
                  out_channels=args.out_channels, bias=not args.no_bias, **params)
    checked = verify(ported) if args.verify else None
    if args.json:
        payload: dict[str, Any] = ported.to_dict()
        if checked is not None:
            payload["verified"] = {"error": checked.error, "shape": list(checked.shape)}
        print(json.dumps(payload))
        return 0
    print(ported.code.rstrip())
    print(f"\n# exact for: {'every input size' if ported.exact_for == 'all' else ported.exact_for}")
    for note in ported.notes:
        print(f"# {note}")
    if ported.dynamic_code:
        print("\n# dynamic version (pads every input the way the source does):\n")
        print(ported.dynamic_code.rstrip())
    if checked is not None:
        print(f"\n# verified: max relative difference {checked.error:.2g} on output {checked.shape}")
    return 0
