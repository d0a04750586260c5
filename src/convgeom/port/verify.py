"""Run a port against its source: random input and weights, the source layer built with its
own framework's API, the ported code in the target framework, the largest difference."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

from ..errors import GeometryError
from .api import Ported
from .emitters import get_emitter
from .weights import port_weights

if TYPE_CHECKING:
    import numpy as np


MAX_VERIFY_ELEMENTS = 2**24
"""Cap on the elements of each array ``verify`` builds or gets back (input, kernel, output: 64 MiB
of float32 each) and on its multiply-adds divided by 64: sizes over it are refused before
anything is allocated."""


def _check_sizes(p: Ported, batch: int, in_channels: int) -> None:
    """Refuse, in O(1), a verification whose arrays or work exceed :data:`MAX_VERIFY_ELEMENTS`."""
    out_channels = p.channels.out_channels if p.op in ("conv", "conv_transpose") else in_channels
    taps = math.prod(p.spec.kernel)
    sizes = {
        "input": batch * in_channels * math.prod(p.spec.input),
        "kernel": out_channels * (in_channels // p.spec.groups) * taps if p.op in ("conv", "conv_transpose") else 0,
        "output": batch * out_channels * math.prod(p.spec.output),
    }
    sizes["work / 64"] = (max(sizes["input"], sizes["output"]) * taps * max(1, in_channels // p.spec.groups)) // 64
    for what, count in sizes.items():
        if count > MAX_VERIFY_ELEMENTS:
            raise GeometryError(
                f"verifying this port needs {count} elements of {what}, more than the cap of {MAX_VERIFY_ELEMENTS}",
                fix="verify at a smaller input size, kernel or channel count (the port itself is exact at any size)")


@dataclass(frozen=True)
class Verification:
    """``error``: max |target - source| / max |source| (equal infinities count as equal)."""

    source: str
    target: str
    shape: tuple[int, ...]
    error: float


def relative_error(ours: np.ndarray, ref: np.ndarray) -> float:
    """``max |ours - ref| / max |ref|`` over finite values; equal infinities (max-pool windows
    that read only padding) and NaNs on both sides (an average over no counted cell, 0/0) are
    equal; a shape mismatch or a NaN on one side only is an infinite error."""
    import numpy as np

    if ours.shape != ref.shape:
        return float("inf")
    if (np.isnan(ours) != np.isnan(ref)).any():
        return float("inf")
    same = (ours == ref) | np.isnan(ref)
    a = np.where(same, 0.0, ours.astype(np.float64))
    b = np.where(same, 0.0, ref.astype(np.float64))
    scale = float(np.abs(np.where(np.isfinite(b), b, 0.0)).max(initial=0.0))
    return float(np.abs(a - b).max(initial=0.0)) / max(scale, 1e-30)


def random_weights(p: Ported, rng: np.random.Generator) -> tuple[Optional[np.ndarray], Optional[np.ndarray]]:
    """A kernel in the source framework's layout, and a bias, for a ported convolution."""
    import numpy as np

    if p.op not in ("conv", "conv_transpose"):
        return None, None
    shape = get_emitter(p.source).kernel_shape(p.op, p.channels.in_channels, p.channels.out_channels,
                                               p.spec.kernel, p.spec.groups)
    kernel = rng.standard_normal(shape).astype(np.float32)
    bias = rng.standard_normal(p.channels.out_channels).astype(np.float32) if p.channels.bias else None
    return kernel, bias


def verify(p: Ported, *, seed: int = 0, batch: int = 2, channels: int = 2) -> Verification:
    """Runs the source layer (its framework's own API) and ``p.code`` (the target's) on the same
    random float32 input (``channels`` for pooling) with the same weights, converted by
    :func:`~convgeom.port.port_weights`. Needs both frameworks installed. Arrays and work over
    :data:`MAX_VERIFY_ELEMENTS` are refused before anything is allocated."""
    import numpy as np

    if p.call is None:
        raise GeometryError("this port has no source call to verify against", fix="use convgeom.port(...)")
    rng = np.random.default_rng(seed)
    in_channels = p.channels.in_channels if p.op in ("conv", "conv_transpose") else channels
    _check_sizes(p, batch, in_channels)
    x = rng.standard_normal((batch, in_channels, *p.spec.input)).astype(np.float32)
    kernel, bias = random_weights(p, rng)
    expected = get_emitter(p.source).run_source(p.call, x, kernel, bias, p.channels)
    ported_kernel, ported_bias = (None, None) if kernel is None else port_weights(
        kernel, bias, op=p.op, source=p.source, target=p.target, groups=p.spec.groups)
    got = get_emitter(p.target).run_code(p.code, x, ported_kernel, ported_bias)
    return Verification(p.source, p.target, tuple(expected.shape), relative_error(got, expected))
