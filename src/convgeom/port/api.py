"""``convgeom.port``: the target framework's code for a source framework's layer, exact.

The source layer is asked through the engine what it computes (:mod:`.spec`); the target's
emitter proposes constructions in its own vocabulary, best first; the first one the engine
says computes the same function, for every input size if one does, is written out as code.
Where the source's padding depends on the input size the result says for which sizes the
fixed code is exact and adds a module that pads each input the way the source does.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Optional

from ..dialects import canonical_framework, get_dialect
from ..errors import GeometryError
from ..explanation import OPS
from ..geometry import LayerGeometry
from ..params import IntOrTuple, PaddingArg, RawPads, as_flag, as_int, as_name
from .construction import Construction, SourceCall
from .emitters import Channels, Emitter, get_emitter
from .exactness import ExactRule, Scanner
from .spec import PORTABLE_OPS, LayerSpec, describe, spec_dict


class PortError(GeometryError):
    """No construction in the target framework computes the source layer's function."""


@dataclass(frozen=True)
class Ported:
    """A ported layer. ``code`` binds ``layer`` (imports included); ``exact_for`` is "all" or
    the rule on input sizes where ``code`` is exact; ``dynamic_code``, where the source's pads
    depend on the input size, pads every input the way the source does (it calls convgeom)."""

    op: str
    source: str
    target: str
    code: str
    expression: str
    exact_for: str
    rule: ExactRule
    notes: tuple[str, ...]
    spec: LayerSpec
    layout: str
    weights: Optional[str]
    dynamic_code: Optional[str] = None
    #: the source layer's engine call and the channels written (for :func:`verify`)
    call: Optional[SourceCall] = field(default=None, compare=False, repr=False)
    channels: Channels = field(default=Channels(), compare=False, repr=False)
    #: what ``code`` builds, as the engine checked it
    construction: Optional[Construction] = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "op": self.op, "source": self.source, "target": self.target, "code": self.code,
            "expression": self.expression, "exact_for": self.exact_for,
            "exact_rule": [r.to_dict() for r in self.rule.axes], "notes": list(self.notes),
            "dynamic_code": self.dynamic_code, "layout": self.layout, "weights": self.weights,
            "function": spec_dict(self.spec),
        }


def layer_spec(op: str, input: IntOrTuple, *, framework: str, **params: Any) -> LayerSpec:
    """What ``OPS[op](input, **params, framework=framework)`` computes (the function dynamic
    modules call on every input: ``.pads_to_apply``, ``.counted``, ``.divisor``)."""
    result = OPS[op](input, **params, framework=framework)
    assert isinstance(result, LayerGeometry)
    return describe(result)


def port(
    op: str,
    *,
    source: str,
    target: str,
    input: IntOrTuple,
    kernel: IntOrTuple,
    stride: Optional[IntOrTuple] = None,
    padding: Optional[PaddingArg] = None,
    dilation: Optional[IntOrTuple] = None,
    groups: Optional[int] = None,
    output_padding: Optional[IntOrTuple] = None,
    output_size: Optional[IntOrTuple] = None,
    ceil_mode: Optional[bool] = None,
    count_include_pad: Optional[bool] = None,
    divisor: Optional[int] = None,
    padding_mode: Optional[str] = None,
    in_channels: Optional[int] = None,
    out_channels: Optional[int] = None,
    bias: bool = True,
) -> Ported:
    """The ``target`` framework's code for the ``source`` framework's layer ``op`` ('conv',
    'conv_transpose', 'max_pool', 'avg_pool'), with the source's parameters as
    ``convgeom.<op>(..., framework=source)`` takes them. Raises :class:`GeometryError` when the
    source refuses the layer and :class:`PortError` when no target construction is exact."""
    call = source_layer(op, source=source, kernel=kernel, stride=stride, padding=padding, dilation=dilation,
                        groups=groups, output_padding=output_padding, output_size=output_size, ceil_mode=ceil_mode,
                        count_include_pad=count_include_pad, divisor=divisor, padding_mode=padding_mode)
    return _port(call, call.geometry(_sizes(input)), target, in_channels, out_channels, bias)


def source_layer(op: str, *, source: str, **params: Any) -> SourceCall:
    """The source layer's engine call: ``op`` and the parameters given (None: not given),
    checked against what ``convgeom.<op>`` takes."""
    op = as_name("op", op).replace("-", "_")
    if op not in PORTABLE_OPS:
        raise GeometryError(f"cannot port {op!r}", fix="port one of " + ", ".join(PORTABLE_OPS))
    accepted = inspect.signature(OPS[op]).parameters
    if params.get("padding") is None:  # "no padding" in the source's own words ('valid' for Keras)
        params["padding"] = get_emitter(source).no_padding
    given = {}
    for name, value in params.items():
        if value is None:
            continue
        if name not in accepted or name in ("input", "framework"):
            raise GeometryError(f"{name} does not apply to {op}", fix=f"drop {name}")
        given[name] = tuple(value) if isinstance(value, list) else value
    return SourceCall(op, canonical_framework(source), tuple(sorted(given.items())))


def port_geometry(geometry: LayerGeometry, target: str, *, in_channels: Optional[int] = None,
                  out_channels: Optional[int] = None, bias: bool = True) -> Ported:
    """:func:`port` for an engine result (``convgeom.conv(..., framework=...)`` and friends, a
    traced layer's geometry): the source is ``geometry.framework``."""
    return _port(source_call(geometry), geometry, target, in_channels, out_channels, bias)


def finding_code(geometry: LayerGeometry, *, source: str = "tensorflow", padding: PaddingArg = "same",
                 input: Optional[IntOrTuple] = None, in_channels: Optional[int] = None,
                 out_channels: Optional[int] = None) -> str:
    """One line for a ``convgeom trace`` finding: ``geometry``'s layer (kernel, stride, dilation,
    groups; ``input``, default ``geometry.input``: pass the size before a folded explicit pad)
    written in its own framework so that it pads as ``source`` does with ``padding``
    (TensorFlow 'same' by default), with the input sizes where that code is exact.
    Raises :class:`GeometryError` when ``source`` refuses the layer or no code is exact."""
    groups = geometry.groups if geometry.op in ("conv", "conv_transpose") else None
    call = source_layer(geometry.op, source=source, kernel=geometry.kernel, stride=geometry.stride,
                        padding=padding, dilation=geometry.dilation, groups=groups)
    sizes = geometry.input if input is None else _sizes(input)
    ported = _port(call, call.geometry(sizes), geometry.framework, in_channels, out_channels, True)
    where = "every input size" if ported.rule.all else f"inputs with {ported.exact_for}"
    return f"{' '.join(ported.expression.split())} (exact for {where})"


def source_call(g: LayerGeometry) -> SourceCall:
    """The engine call that reproduces ``g`` (checked: it must give ``g``'s pads and output)."""
    p = g.padding
    padding: Any = {"string": p.written or p.name, "symmetric": tuple(b for b, _ in p.pairs),
                    "explicit": p.pairs, "raw": RawPads(p.pairs)}[p.kind]
    params: dict[str, Any] = {"kernel": g.kernel, "stride": g.stride, "padding": padding, "dilation": g.dilation}
    if g.op in ("conv", "conv_transpose"):
        params["groups"] = g.groups
    if g.op == "conv" and g.padding_mode != "zeros":
        params["padding_mode"] = g.padding_mode
    if g.op in ("max_pool", "avg_pool") and g.ceil_mode:
        params["ceil_mode"] = True
    if g.op == "avg_pool":
        params["count_include_pad"] = g.count_include_pad
        if g.divisor is not None:
            params["divisor"] = g.divisor
    options: list[dict[str, Any]] = [params]
    if g.op == "conv_transpose":
        if g.output_size_requested is not None:
            params["output_size"] = g.output_size_requested
        # the engine reports the output_padding it implies; the call may have left it unset
        options = [params, {**params, "output_padding": g.output_padding}]
    for option in options:
        call = SourceCall(g.op, g.framework, tuple(sorted(option.items())))
        try:
            again = call.geometry(g.input)
        except GeometryError:
            continue
        if again.pad == g.pad and again.output == g.output:
            return call
    raise GeometryError(f"cannot rebuild the {g.framework} call of this {g.op} geometry",
                        fix="use convgeom.port(...) with the layer's parameters")


def _sizes(input: IntOrTuple) -> tuple[int, ...]:
    return tuple(input) if isinstance(input, (tuple, list)) else (input,)


def _channels(spec: LayerSpec, in_channels: Optional[int], out_channels: Optional[int],
              bias: bool) -> tuple[Channels, list[str]]:
    notes: list[str] = []
    bias = as_flag("bias", bias)
    if spec.op not in ("conv", "conv_transpose"):
        return Channels(bias=bias), notes
    in_channels = None if in_channels is None else as_int("in_channels", in_channels, low=1)
    out_channels = None if out_channels is None else as_int("out_channels", out_channels, low=1)
    if in_channels is None or out_channels is None:
        notes.append(f"channels not given: in_channels={in_channels or spec.groups}, "
                     f"out_channels={out_channels or spec.groups} written (pass in_channels/out_channels)")
    ch = Channels(in_channels or spec.groups, out_channels or spec.groups, bias)
    for name, value in (("in_channels", ch.in_channels), ("out_channels", ch.out_channels)):
        if value < 1 or value % spec.groups:
            raise GeometryError(f"{name}={value} is not a positive multiple of groups={spec.groups}",
                                fix=f"use {name} divisible by {spec.groups}")
    return ch, notes


def _choose(spec: LayerSpec, emitter: Emitter, scanner: Scanner) -> tuple[Construction, ExactRule]:
    """The first proposal the engine says is exact for every input size, else the first that
    is exact for this one."""
    chosen: Optional[tuple[Construction, ExactRule]] = None
    refusal: Optional[GeometryError] = None
    for c in emitter.candidates(spec):
        try:
            if c.spec(spec.input) != spec:
                continue
        except GeometryError as err:
            refusal = err
            continue
        rule = scanner.rule(c.spec, spec)
        if rule.all:
            return c, rule
        chosen = chosen or (c, rule)
    if chosen is None:
        why = str(refusal) if refusal else "none of its layers reads the same cells"
        raise PortError(f"no {emitter.label} layer computes this {spec.op} exactly: {why}",
                        fix="port to another framework, or change the layer")
    return chosen


def _port(call: SourceCall, g: LayerGeometry, target: str, in_channels: Optional[int],
          out_channels: Optional[int], bias: bool) -> Ported:
    spec = describe(g)
    emitter, source_emitter = get_emitter(target), get_emitter(call.framework)
    ch, notes = _channels(spec, in_channels, out_channels, bias)
    reason = emitter.unsupported(spec, ch) or _empty_windows(spec, source_emitter, emitter)
    if reason:
        raise PortError(f"cannot port this {get_dialect(call.framework).label} {spec.op} to {emitter.label}: {reason}",
                        fix="port to another framework, or change the layer")
    scanner = Scanner(call.spec, spec.input)
    scanner.check(spec)
    c, rule = _choose(spec, emitter, scanner)
    rendering = emitter.render(spec, c, ch)
    dynamic = None
    if not rule.all:
        dc = emitter.dynamic_construction(spec)
        dynamic = emitter.render_dynamic(spec, dc, ch, call) if dc is not None else None
    notes = [*g.notes, *source_emitter.source_notes(spec), *_construction_notes(spec, c, emitter),
             *emitter.target_notes(spec, c), *notes]
    if not rule.all:
        notes.append(f"the {get_dialect(call.framework).label} padding depends on the input size: this code is "
                     f"exact for {rule} (n0, n1, ...: the input sizes along the spatial axes; ported for input "
                     f"{spec.input})"
                     + ("; dynamic_code pads every input as the source does" if dynamic else
                        f"; {emitter.label} graphs here have fixed pads: port once per input size"))
    if source_emitter.channels_last != emitter.channels_last:
        notes.append(f"activations: {source_emitter.layout(spec.ndim)} in {source_emitter.label}, "
                     f"{emitter.layout(spec.ndim)} in {emitter.label}")
    weights = None
    if spec.op in ("conv", "conv_transpose"):
        weights = (f"convgeom.port_weights(kernel, bias, op={spec.op!r}, source={call.framework!r}, "
                   f"target={emitter.framework!r}, groups={spec.groups})")
        notes.append(f"weights: {weights}")
    return Ported(spec.op, call.framework, emitter.framework, rendering.code, rendering.expression, str(rule),
                  rule, tuple(notes), spec, emitter.layout(spec.ndim), weights,
                  dynamic.code if dynamic else None, call, ch, c)


def _empty_windows(spec: LayerSpec, source: Emitter, target: Emitter) -> Optional[str]:
    if spec.op != "max_pool" or source.empty_max_window == target.empty_max_window or not spec.has_empty_window:
        return None
    def value(v: float) -> str:
        return "-inf" if v == float("-inf") else f"float32's lowest ({v:.8g})"

    return (f"some windows read only padding: {source.label} returns {value(source.empty_max_window)} there, "
            f"{target.label} {value(target.empty_max_window)}; every other output agrees")


def _construction_notes(spec: LayerSpec, c: Construction, emitter: Emitter) -> list[str]:
    notes = []
    if c.pre_pad is not None:
        what = {"zeros": "zeros", "-inf": "-inf (max pooling ignores it)"}.get(c.pad_mode, f"{c.pad_mode} padding")
        notes.append(f"no {emitter.label} padding option pads {spec.pads} here: the input is padded explicitly "
                     f"with {what} and the layer itself pads nothing")
    if c.post_crop is not None:
        notes.append(f"{emitter.label}'s transposed convolution crops less: its output is cropped by {c.post_crop} "
                     "afterwards")
    if c.divisor is not None:
        notes.append(f"every window is divided by {c.divisor} (the pool averages over {spec.window} cells, times "
                     f"{spec.window}/{c.divisor})")
    if c.count is not None:
        notes.append(f"every window is divided by its taps on the input and on the padding {c.count}: "
                     "window sums of the padded input over window sums of a mask of the counted cells")
    return notes
