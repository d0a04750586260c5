"""Inverse solving: from a wanted output back to the parameters that give it.

Every candidate is checked by running it through the framework dialect, so a solution is
always something the framework accepts, never a formula's guess. Every parameter is validated
the way :func:`convgeom.conv` validates its own, and every range has a documented cap:
:data:`MAX_CANDIDATES` configurations per :func:`search`, :data:`MAX_PROFILE_SIZES` input sizes
per :func:`same_profile`, ``max_pad`` in the int64 range for :func:`padding_for_output`.
"""

from __future__ import annotations

from itertools import product

from .arithmetic import ceil_div, effective_kernel
from .dialects import get_dialect
from .errors import GeometryError, GeometryTypeError, shown
from .geometry import LayerGeometry, avg_pool, conv, layer_from_request, max_pool
from .padding import same_total
from .params import IntOrTuple, PaddingArg, as_flag, as_int, bounded_values, one_of, per_axis, spatial_sizes

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see convgeom/__init__.py)
if TYPE_CHECKING:
    from dataclasses import dataclass
    from typing import Optional
else:
    from .frozen import dataclass  # the same frozen dataclasses, without importing dataclasses

#: Cap on how many configurations one search may evaluate (a GeometryError beyond it).
MAX_CANDIDATES = 200_000
#: Cap on how many input sizes one same_profile lists (a GeometryError beyond it).
MAX_PROFILE_SIZES = 100_000


@dataclass(frozen=True)
class SamePadding:
    """The padding that reproduces one framework's 'same' for a given input."""

    framework: str
    input: tuple[int, ...]
    output: tuple[int, ...]
    pad: tuple[tuple[int, int], ...]
    symmetric: bool
    #: the int padding that gives the same pads in PyTorch's Conv, or None when asymmetric
    torch_padding: Optional[tuple[int, ...]]
    #: the F.pad tuple (last axis first) for an explicit asymmetric pad
    torch_pad: tuple[int, ...]
    #: True when the pads do not depend on the input size (stride 1 on every axis)
    static: bool


def same_padding(
    input: IntOrTuple,
    kernel: IntOrTuple,
    stride: IntOrTuple = 1,
    dilation: IntOrTuple = 1,
    *,
    framework: str = "tensorflow",
    lower: bool = False,
) -> SamePadding:
    """Pads of ``framework``'s 'same' (``lower``: SAME_LOWER) for this input, and how to get them in
    PyTorch. TF: ``total = max(0, (ceil(n/s)-1)*s + e - n)``, extra cell after.

    Answers for the framework asked, exactly as ``conv(..., padding='same', framework=...)``:
    ``framework='torch'`` gives PyTorch's own 'same' at stride 1 (``total = d*(k-1)``, extra
    cell after) and, at stride > 1, the GeometryError PyTorch's rule gives ("padding='same' is
    not supported for strided convolutions") with the pads of TensorFlow's 'same' as the fix.
    """
    padding = "same_lower" if as_flag("lower", lower) else "same"
    r = conv(input, kernel, stride, padding, dilation, framework=framework)
    symmetric = all(b == a for b, a in r.pad)
    return SamePadding(
        framework=r.framework,
        input=r.input,
        output=r.output,
        pad=r.pad,
        symmetric=symmetric,
        torch_padding=r.pad_before if symmetric else None,
        torch_pad=r.torch_pad,
        static=all(s == 1 for s in r.stride),
    )


@dataclass(frozen=True)
class SameProfile:
    """How TF-style 'same' padding behaves over a range of input sizes (one axis)."""

    kernel: int
    stride: int
    dilation: int
    static: bool
    #: (input size, pad_before, pad_after) for every size in the range
    table: tuple[tuple[int, int, int], ...]

    @property
    def asymmetric_inputs(self) -> tuple[int, ...]:
        return tuple(n for n, b, a in self.table if b != a)


def same_profile(kernel: int, stride: int = 1, dilation: int = 1, sizes: range = range(1, 65)) -> SameProfile:
    """Whether TF/Keras/ONNX 'same' padding is static (the same for every input: stride 1) or
    input-dependent, and the input sizes for which it is asymmetric (odd total). With stride 1
    the total is ``e - 1``: static, symmetric iff ``d*(k-1)`` is even (timm ``is_static_pad``).
    ``sizes``: a range (or tuple) of input sizes >= 1, at most :data:`MAX_PROFILE_SIZES`."""
    k, s, d = (as_int("kernel", kernel, low=1), as_int("stride", stride, low=1),
               as_int("dilation", dilation, low=1))
    e = effective_kernel(k, d)
    table = []
    for n in bounded_values("sizes", sizes, MAX_PROFILE_SIZES, low=1):
        total = same_total(n, s, e)
        table.append((n, total // 2, total - total // 2))
    return SameProfile(k, s, d, s == 1, tuple(table))


def padding_for_output(
    input: IntOrTuple,
    output: IntOrTuple,
    kernel: IntOrTuple,
    stride: IntOrTuple = 1,
    dilation: IntOrTuple = 1,
    *,
    framework: str = "torch",
    max_pad: int = 64,
) -> LayerGeometry:
    """The smallest padding giving ``output``: symmetric if possible, else the smallest total
    with the extra cell after. Solves ``floor((n + pb + pa - e)/s) + 1 = o`` for ``pb + pa``:
    the totals ``T`` that work form ``[(o-1)s + e - n, (o-1)s + e - n + s - 1]``, searched in
    O(1) within ``[0, 2*max_pad]``."""
    ns = spatial_sizes("input", input)
    ndim = len(ns)
    os_, ks = per_axis("output", output, ndim, single=False), per_axis("kernel", kernel, ndim, single=False)
    ss, ds = per_axis("stride", stride, ndim, single=False), per_axis("dilation", dilation, ndim, single=False)
    limit = 2 * as_int("max_pad", max_pad, low=0)
    pads: list[tuple[int, int]] = []
    for axis, (n, o, k, s, d) in enumerate(zip(ns, os_, ks, ss, ds)):
        for name, value in (("input", n), ("output", o), ("kernel", k), ("stride", s), ("dilation", d)):
            if value < 1:
                raise GeometryError(f"{name} must be >= 1, got {value} on axis {axis}", fix=f"use a positive {name}",
                                    axis=axis)
        e = effective_kernel(k, d)
        low = (o - 1) * s + e - n
        first, last = max(0, low), min(low + s - 1, limit)
        if first > last:
            raise GeometryError(
                f"no padding gives output {o} on axis {axis} (input {n}, kernel {k}, stride {s}, dilation {d})",
                fix=f"outputs reachable with non-negative padding start at {(n - e) // s + 1}; crop the input or pick a larger kernel/stride",
                axis=axis,
            )
        total = first if first % 2 == 0 or first == last else first + 1
        pads.append((total // 2, total - total // 2))
    symmetric = all(b == a for b, a in pads)
    padding: PaddingArg = tuple(b for b, _ in pads) if symmetric else tuple(pads)
    return conv(ns, ks, ss, padding, ds, framework=framework)


@dataclass(frozen=True)
class Candidate:
    kernel: int
    stride: int
    padding: int
    dilation: int
    output: int


def search(
    input: int,
    output: int,
    kernels: range = range(1, 8),
    strides: range = range(1, 5),
    paddings: range = range(0, 4),
    dilations: range = range(1, 3),
    *,
    framework: str = "torch",
    op: str = "conv",
) -> tuple[Candidate, ...]:
    """Every (kernel, stride, padding, dilation) within the ranges that maps ``input`` to
    ``output`` and that the framework accepts (1-D; apply per axis). ``op`` may be 'conv',
    'max_pool' or 'avg_pool'. Padding here is PyTorch-style symmetric. The ranges may hold at
    most :data:`MAX_CANDIDATES` combinations (a GeometryError beyond)."""
    n, o = as_int("input", input, low=1), as_int("output", output, low=0)
    dialect = get_dialect(framework)
    kind = one_of("op", op, ("conv", "max_pool", "avg_pool"))
    values = [bounded_values(name, r, MAX_CANDIDATES) for name, r in
              (("kernels", kernels), ("strides", strides), ("paddings", paddings), ("dilations", dilations))]
    count = len(values[0]) * len(values[1]) * len(values[2]) * len(values[3])
    if count > MAX_CANDIDATES:
        raise GeometryError(
            f"search space of {count} configurations is too large",
            fix=f"narrow the ranges to at most {MAX_CANDIDATES} combinations",
        )
    found = []
    for k, s, p, d in product(*values):
        if (k == 1 and d > 1) or (kind == "avg_pool" and d != 1):
            continue  # dilation changes nothing for a 1-tap kernel; average pools take none
        try:
            if kind == "conv":
                r = conv(n, k, s, p, d, framework=dialect.name)
            elif kind == "max_pool":
                r = max_pool(n, k, s, p, d, framework=dialect.name)
            else:
                r = avg_pool(n, k, s, p, framework=dialect.name)
        except GeometryError:
            continue
        if r.output[0] == o:
            found.append(Candidate(k, s, p, d, o))
    return tuple(found)


def inverse_transpose(forward: LayerGeometry) -> LayerGeometry:
    """The transposed conv (same kernel, stride, dilation) that restores the forward conv's
    input size exactly, in the forward conv's framework (the dialect's ``inverse_transpose``:
    PyTorch ``output_padding = n - ((o-1)*s + e - 2p)``, Keras the same padding mode with the
    matching output_padding, ONNX ``output_shape``). Checked by the framework dialect."""
    if not isinstance(forward, LayerGeometry):
        raise GeometryTypeError(
            f"forward must be a LayerGeometry (the result of convgeom.conv), got {shown(forward)} "
            f"({type(forward).__name__})", fix="pass cg.conv(...)")
    if forward.op != "conv":
        raise GeometryError(f"inverse_transpose takes a conv geometry, got {forward.op}", fix="pass cg.conv(...)")
    return layer_from_request(get_dialect(forward.framework).inverse_transpose(forward), forward.framework)


def output_range(n: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """Smallest and largest 'same'-free outputs: valid conv ``(n-e)//s + 1`` to full-padding
    ``(n + 2(e-1) - e)//s + 1``; a helper for messages."""
    e = effective_kernel(kernel, dilation)
    return (max(0, (n - e) // stride + 1), (n + e - 2) // stride + 1)


def nearest_same_multiple(n: int, factor: int) -> tuple[int, int]:
    """The multiples of ``factor`` just below and above ``n`` (sizes an encoder-decoder with
    ``factor`` total downsampling maps back to themselves)."""
    return (max(factor, (n // factor) * factor), ceil_div(n, factor) * factor)
