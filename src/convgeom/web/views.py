"""What each API route computes, as plain functions of the request's JSON (no web framework
here: :mod:`convgeom.web.server` only moves bytes). Every refusal is a :class:`RequestError`
with a one-line message; every result is bounded by the engine's caps and the picture caps.

* :func:`shape` -- ``POST /api/shape``: exactly ``convgeom shape --json`` for the same fields.
* :func:`draw` -- ``POST /api/draw``: the SVG of ``convgeom.draw`` (``step``, ``view``, ``values``).
* :func:`layer` -- ``POST /api/layer``: everything the page shows for one layer.
* :func:`port` -- ``POST /api/port``: the layer's code in every framework (``convgeom.port``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional

from ..cli import args as values
from ..cli import layer as cli_layer
from ..errors import GeometryError
from .fields import RequestError, field_text, layer_fields

#: fields the page adds to a layer's: the picture's and the channels of the code
PICTURE_FIELDS = ("step", "view", "values")
#: Largest stride and dilated kernel the page writes code for: ``convgeom.port`` checks every
#: input size modulo the layer's period, in time proportional to them (a 3-D max pool with
#: kernel 64 and stride 32 takes about 2 s on a loaded 2-core machine).
MAX_PORT_STRIDE = 32
MAX_PORT_KERNEL = 64
CHANNEL_FIELDS = ("in_channels", "out_channels")
_CHANNEL_OPS = ("conv", "conv_transpose")


def options() -> dict[str, Any]:
    """What the page builds its form from: the command line's table of ops and the options each
    takes and needs (:data:`convgeom.cli.layer.OPS`), the options' help, the frameworks, the
    padding names and modes, and the caps."""
    from ..dialects import DIALECTS
    from ..params import PADDING_MODES
    from . import picture
    from .fields import MAX_BODY_BYTES

    return {
        "ops": {op: {"function": function, "takes": list(takes), "needs": list(needs)}
                for op, (function, takes, needs) in cli_layer.OPS.items()},
        "options": {name: text for name, (text, _) in cli_layer.OPTIONS.items()},
        "frameworks": {name: dialect.label for name, dialect in DIALECTS.items()},
        "padding_names": list(values.PADDING_NAMES), "padding_modes": list(PADDING_MODES),
        "views": list(picture.TRANSPOSE_VIEWS), "values_ops": ["conv", "max-pool", "avg-pool"],
        "channel_ops": [op for op, (function, _, _) in cli_layer.OPS.items() if function in _CHANNEL_OPS],
        "caps": {"picture_axis": picture.MAX_PICTURE_AXIS, "body_bytes": MAX_BODY_BYTES,
                 "axes": values.MAX_AXES, "integer": values.INT64_MAX},
    }


def shape(data: Mapping[str, Any]) -> dict[str, Any]:
    """``convgeom shape --json`` for the layer in ``data`` (422 when the engine refuses it)."""
    fields = layer_fields(data)
    try:
        return cli_layer.shape_json(fields)
    except values.CliError as err:
        raise RequestError(str(err)) from err
    except GeometryError as err:
        raise RequestError.refused(err) from err


def _params(data: Mapping[str, Any], extra: tuple[str, ...]) -> tuple[str, dict[str, Any]]:
    """(engine function, keyword arguments) of the layer in ``data``, channels included."""
    fields = layer_fields(data, extra)
    try:
        function, params = cli_layer.params_from_fields(fields)
    except values.CliError as err:
        raise RequestError(str(err)) from err
    for name in CHANNEL_FIELDS:
        text = field_text(name, data.get(name)) if name in extra else None
        if text is None:
            continue
        if function not in _CHANNEL_OPS:
            raise RequestError(f"{name} does not apply to {fields['op']}", fix=f"drop {name}")
        try:
            params[name] = values.integer(str(text), name, minimum=1)
        except values.CliError as err:
            raise RequestError(str(err)) from err
    return function, params


def _compute(function: str, params: dict[str, Any], *, explain_refusal: bool = False) -> Any:
    try:
        return cli_layer.compute(function, params)
    except GeometryError as err:
        if not explain_refusal:
            raise RequestError.refused(err) from err
        from ..explanation import explain_call

        details: dict[str, Any] = {"explanation": explain_call(function, **params)}
        if "framework" in params:
            from .compare import side_by_side

            details["frameworks"] = side_by_side(function, params, cli_layer.compute)
        raise RequestError.refused(err, **details) from err


def _view(data: Mapping[str, Any]) -> str:
    view = data.get("view", "zeros-inserted")
    from .picture import TRANSPOSE_VIEWS

    if view not in TRANSPOSE_VIEWS:
        raise RequestError(f"unknown view {view!r}", fix="use " + " or ".join(TRANSPOSE_VIEWS))
    return str(view)


def _flag(data: Mapping[str, Any], name: str) -> bool:
    value = data.get(name, False)
    if not isinstance(value, bool):
        raise RequestError(f"{name} must be true or false", fix=f"send {name}: true")
    return value


def draw(data: Mapping[str, Any]) -> str:
    """The SVG of ``convgeom.draw`` for the layer in ``data`` (``step`` "i,j" highlights that
    output position, ``view`` picks the transposed-convolution view, ``values`` adds numbers)."""
    from . import picture

    function, params = _params(data, PICTURE_FIELDS)
    result = _compute(function, params)
    try:
        step = picture.parse_step(data.get("step"), len(result.output))
        return picture.svg(result, step=step, view=_view(data), show_values=_flag(data, "values"))
    except values.CliError as err:
        raise RequestError(str(err)) from err
    except GeometryError as err:
        raise RequestError.refused(err) from err


def layer(data: Mapping[str, Any]) -> dict[str, Any]:
    """Everything the page shows for one layer: the ``shape --json`` object, the output size as
    the CLI prints it, ``explain``'s derivation, the diagnostics, the layer in every framework
    and the picture (or why there is none). A refusal is a 422 whose JSON also holds the
    explanation up to the rule that refuses it and the other frameworks' answers."""
    from ..explanation import explain
    from ..geometry import LayerGeometry
    from . import compare, picture

    function, params = _params(data, PICTURE_FIELDS + CHANNEL_FIELDS)
    view, show_values = _view(data), _flag(data, "values")
    result = _compute(function, params, explain_refusal=True)
    out: dict[str, Any] = {"shape": cli_layer.result_json(result), "output_text": str(result.output),
                           "explanation": explain(result), "findings": [], "frameworks": None}
    if isinstance(result, LayerGeometry):
        out["findings"] = compare.findings(result)
    if "framework" in params:
        out["frameworks"] = compare.side_by_side(function, params, cli_layer.compute)
    try:
        out["picture"] = picture.page_picture(result, view=view, show_values=show_values)
    except GeometryError as err:
        out["picture"] = {"error": str(err)}
    return out


def port(data: Mapping[str, Any]) -> dict[str, Any]:
    """The layer in ``data`` written for every framework by ``convgeom.port`` (each target's
    code, the input sizes where it is exact and its notes, or why it cannot be ported)."""
    from ..dialects import DIALECTS
    from ..geometry import LayerGeometry
    from ..port import port_geometry

    function, params = _params(data, CHANNEL_FIELDS + PICTURE_FIELDS)
    result = _compute(function, params)
    if not isinstance(result, LayerGeometry):
        raise RequestError(f"cannot port {function}", fix="port conv, conv-transpose, max-pool or avg-pool",
                           status=422)
    if max(result.stride) > MAX_PORT_STRIDE or max(result.effective_kernel) > MAX_PORT_KERNEL:
        raise RequestError(f"the page writes code for strides up to {MAX_PORT_STRIDE} and dilated kernels up to "
                           f"{MAX_PORT_KERNEL} (the exactness check takes time proportional to them)",
                           fix="run convgeom port on the command line for this layer", status=422)
    targets = []
    for name, dialect in DIALECTS.items():
        entry: dict[str, Any] = {"framework": name, "label": dialect.label}
        try:
            ported = port_geometry(result, name, in_channels=params.get("in_channels"),
                                   out_channels=params.get("out_channels"))
        except GeometryError as err:
            entry["error"] = str(err)
        else:
            entry.update(code=ported.code, exact_for=ported.exact_for, notes=list(ported.notes),
                         dynamic_code=ported.dynamic_code, error=None)
        targets.append(entry)
    return {"source": result.framework, "targets": targets}


def optional_text(data: Mapping[str, Any], name: str) -> Optional[str]:
    """A text field of ``data`` (None when absent), refused unless it is a string."""
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise RequestError(f"{name} must be a string", fix=f'send {name}: "..."')
    return value
