"""The small CNNs an experiment trains, planned with convgeom's geometry engine and described
with ``convgeom.trace`` (params, MACs, receptive field, per-layer output sizes, findings).

:func:`plan` needs no torch: it runs every layer through :func:`convgeom.conv` and the pools in
the PyTorch dialect (padding modes included), so a configuration PyTorch would refuse is
refused with one line before anything is built. ``same`` padding takes TensorFlow's per-side
split (``convgeom.conv(..., padding="same", framework="tensorflow")``), which is uneven for
stride 2 on even sizes and for even kernels: the model pads explicitly there
(``nn.ZeroPad2d``/``ReflectionPad2d``/``ReplicationPad2d``/``CircularPad2d``, then a
convolution without padding); symmetric padding stays in ``nn.Conv2d(padding=p, padding_mode=...)``.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Optional

from ..errors import GeometryError
from ..geometry import avg_pool, conv, max_pool
from .config import ConfigError, ModelSpec, pad_sides

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class BlockPlan:
    """One block on a ``size`` x ``size`` input: per-side ``pad`` (the same on both axes),
    conv ``stride``, the conv's output side, the pool (or None) and the block's output side."""

    index: int
    input: int
    pad: tuple[int, int]
    stride: int
    conv_output: int
    pool: Optional[str]
    output: int


def plan(spec: ModelSpec, size: int) -> tuple[BlockPlan, ...]:
    """Every block's geometry, or :class:`ConfigError` naming the block that cannot work."""
    blocks = []
    n = size
    stride = 2 if spec.downsample == "stride" else 1
    pool = spec.downsample if spec.downsample in ("maxpool", "avgpool") else None
    for i in range(spec.depth):
        try:
            sides = pad_sides(spec.padding)
            if sides is None:
                sides = conv(n, spec.kernel, stride, "same", spec.dilation, framework="tensorflow").pad[0]
            geometry = conv((n, n), spec.kernel, stride, (sides, sides), spec.dilation, padding_mode=spec.padding_mode)
            conv_out = geometry.output[0]
            out = conv_out
            if pool is not None:
                out = (max_pool if pool == "maxpool" else avg_pool)((conv_out, conv_out), 2).output[0]
        except GeometryError as err:
            raise ConfigError(f"model ({describe_spec(spec)}) cannot take a {size}x{size} input: block {i + 1} of "
                              f"{spec.depth} gets {n}x{n}: {err.problem}", err.rule,
                              err.fix or "use fewer blocks, a larger size or more padding") from None
        blocks.append(BlockPlan(i + 1, n, (int(sides[0]), int(sides[1])), stride, conv_out, pool, out))
        n = out
    return tuple(blocks)


def describe_spec(spec: ModelSpec) -> str:
    return (f"kernel {spec.kernel}, padding {spec.padding}, {spec.padding_mode}, {spec.downsample}, "
            f"dilation {spec.dilation}, depth {spec.depth}")


def build(spec: ModelSpec, in_channels: int, classes: int, size: int) -> torch.nn.Module:
    """The ``torch.nn.Sequential`` for ``spec`` (initialised from torch's global RNG: seed it,
    or wrap the call in ``torch.random.fork_rng``, first)."""
    import torch.nn as nn

    pads = {"zeros": nn.ZeroPad2d, "reflect": nn.ReflectionPad2d, "replicate": nn.ReplicationPad2d,
            "circular": nn.CircularPad2d}
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    channels = in_channels
    blocks = plan(spec, size)
    for b in blocks:
        before, after = b.pad
        bias = spec.norm == "none"
        if before == after:
            layers[f"conv{b.index}"] = nn.Conv2d(channels, spec.width, spec.kernel, b.stride, before, spec.dilation,
                                                 bias=bias, padding_mode=spec.padding_mode)  # type: ignore[arg-type]
        else:
            layers[f"pad{b.index}"] = pads[spec.padding_mode]((before, after, before, after))
            layers[f"conv{b.index}"] = nn.Conv2d(channels, spec.width, spec.kernel, b.stride, 0, spec.dilation, bias=bias)
        if spec.norm == "batch":
            layers[f"bn{b.index}"] = nn.BatchNorm2d(spec.width)
        layers[f"relu{b.index}"] = nn.ReLU()
        if b.pool == "maxpool":
            layers[f"pool{b.index}"] = nn.MaxPool2d(2)
        elif b.pool == "avgpool":
            layers[f"pool{b.index}"] = nn.AvgPool2d(2)
        channels = spec.width
    if spec.head == "gap":
        layers["gap"] = nn.AdaptiveAvgPool2d(1)
        features = spec.width
    else:
        features = spec.width * blocks[-1].output ** 2
    layers["flatten"] = nn.Flatten()
    layers["fc"] = nn.Linear(features, classes)
    return nn.Sequential(layers)


def _number(value: Fraction) -> Any:
    return int(value) if value.denominator == 1 else float(value)


def geometry(spec: ModelSpec, in_channels: int, classes: int, size: int) -> dict[str, Any]:
    """What ``convgeom.trace`` says about the model: params, MACs, the receptive field of the
    last spatial layer (before the head mixes the axes) per axis with its jump, every layer's
    output shape and the findings (unread rows, aliasing, ...)."""
    import torch

    from ..tracing.api import trace

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = build(spec, in_channels, classes, size)
    t = trace(model, (1, in_channels, size, size))
    rf = t.last_spatial_receptive_field
    return {
        "params": t.params,
        "macs": t.macs,
        "receptive_field": None if rf is None else [_number(v) for v in rf.size],
        "rf_stride": None if rf is None else [_number(v) for v in rf.stride],
        "layers": [{"name": r.name, "op": r.op, "output": list((r.output_shape or ())[1:])} for r in t.layers],
        "findings": sorted({f"{f.code}: {f.message}" for f in t.findings if f.severity != "info"}),
    }
