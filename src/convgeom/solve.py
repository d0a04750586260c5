"""Inverse solving: from a wanted output back to the parameters that give it.

Every candidate is checked by running it through the framework dialect, so a solution is
always something the framework accepts, never a formula's guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product
from typing import Optional

from .arithmetic import ceil_div, effective_kernel
from .errors import GeometryError
from .geometry import LayerGeometry, conv, conv_transpose
from .padding import same_total
from .params import IntOrTuple, PaddingArg, ndim_of, per_axis

#: Safety bound on how many configurations one search may evaluate.
MAX_CANDIDATES = 200_000


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
    PyTorch. TF: ``total = max(0, (ceil(n/s)-1)*s + e - n)``, extra cell after."""
    padding = "same_lower" if lower else "same"
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
    the total is ``e - 1``: static, symmetric iff ``d*(k-1)`` is even (timm ``is_static_pad``)."""
    e = effective_kernel(kernel, dilation)
    table = []
    for n in sizes:
        total = same_total(n, stride, e)
        table.append((n, total // 2, total - total // 2))
    return SameProfile(kernel, stride, dilation, stride == 1, tuple(table))


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
    with the extra cell after. Solves ``floor((n + pb + pa - e)/s) + 1 = o`` for ``pb + pa``."""
    ndim = ndim_of(input=input, output=output, kernel=kernel, stride=stride, dilation=dilation)
    ns, os_, ks = per_axis("input", input, ndim), per_axis("output", output, ndim), per_axis("kernel", kernel, ndim)
    ss, ds = per_axis("stride", stride, ndim), per_axis("dilation", dilation, ndim)
    pads: list[tuple[int, int]] = []
    for axis, (n, o, k, s, d) in enumerate(zip(ns, os_, ks, ss, ds)):
        e = effective_kernel(k, d)
        # totals T with (n + T - e)//s + 1 == o form the range [(o-1)s + e - n, (o-1)s + e - n + s - 1]
        low = (o - 1) * s + e - n
        totals = [t for t in range(max(0, low), low + s) if t <= 2 * max_pad]
        if not totals:
            raise GeometryError(
                f"no padding gives output {o} on axis {axis} (input {n}, kernel {k}, stride {s}, dilation {d})",
                fix=f"outputs reachable with non-negative padding start at {(n - e) // s + 1}; crop the input or pick a larger kernel/stride",
                axis=axis,
            )
        even = [t for t in totals if t % 2 == 0]
        total = even[0] if even else totals[0]
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
    'max_pool' or 'avg_pool'. Padding here is PyTorch-style symmetric."""
    from .geometry import avg_pool, max_pool

    count = len(kernels) * len(strides) * len(paddings) * len(dilations)
    if count > MAX_CANDIDATES:
        raise GeometryError(
            f"search space of {count} configurations is too large",
            fix=f"narrow the ranges to at most {MAX_CANDIDATES} combinations",
        )
    found = []
    for k, s, p, d in product(kernels, strides, paddings, dilations):
        if k == 1 and d > 1:
            continue  # dilation changes nothing for a 1-tap kernel; keep the list free of repeats
        try:
            if op == "conv":
                r = conv(input, k, s, p, d, framework=framework)
            elif op == "max_pool":
                r = max_pool(input, k, s, p, d, framework=framework)
            elif op == "avg_pool":
                if d != 1:
                    continue
                r = avg_pool(input, k, s, p, framework=framework)
            else:
                raise GeometryError(f"unknown op {op!r}", fix="use 'conv', 'max_pool' or 'avg_pool'")
        except GeometryError:
            continue
        if r.output[0] == output:
            found.append(Candidate(k, s, p, d, output))
    return tuple(found)


def inverse_transpose(forward: LayerGeometry) -> LayerGeometry:
    """The transposed conv (same kernel, stride, dilation, padding) whose output_padding restores
    the forward conv's input size exactly: ``output_padding = n - ((o-1)*s + e - 2p)``, i.e.
    the rows the forward conv's floor division dropped. Checked by the framework dialect."""
    if forward.op != "conv":
        raise GeometryError(f"inverse_transpose takes a conv geometry, got {forward.op}", fix="pass cg.conv(...)")
    if forward.framework == "torch":
        if any(b != a for b, a in forward.pad):
            raise GeometryError(
                "PyTorch ConvTranspose has symmetric padding only; this conv pads asymmetrically",
                fix="crop the transposed output instead, or use symmetric padding",
            )
        op = tuple(
            a.input - ((a.output - 1) * a.stride + a.effective_kernel - 2 * a.pad_before) for a in forward.axes
        )
        return conv_transpose(
            forward.output, forward.kernel, forward.stride, forward.pad_before, op, forward.dilation,
            framework="torch",
        )
    if forward.framework == "tensorflow":
        padding = forward.padding.name
        full = [(o - 1) * s + e for o, s, e in zip(forward.output, forward.stride, forward.effective_kernel)]
        if padding == "same":
            op = tuple(n - ((o - 1) * s + e % 2) for n, o, s, e in zip(
                forward.input, forward.output, forward.stride, forward.effective_kernel))
        else:
            op = tuple(n - f for n, f in zip(forward.input, full))
        return conv_transpose(forward.output, forward.kernel, forward.stride, padding, op, forward.dilation,
                              framework="tensorflow")
    if forward.framework == "onnx":
        return conv_transpose(forward.output, forward.kernel, forward.stride, forward.pad, None, forward.dilation,
                              output_size=forward.input, framework="onnx")
    raise GeometryError(
        f"inverse_transpose is not defined for framework {forward.framework!r}",
        fix="use framework 'torch', 'tensorflow' or 'onnx'",
    )


def output_range(n: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """Smallest and largest 'same'-free outputs: valid conv ``(n-e)//s + 1`` to full-padding
    ``(n + 2(e-1) - e)//s + 1``; a helper for messages."""
    e = effective_kernel(kernel, dilation)
    return (max(0, (n - e) // stride + 1), (n + e - 2) // stride + 1)


def nearest_same_multiple(n: int, factor: int) -> tuple[int, int]:
    """The multiples of ``factor`` just below and above ``n`` (sizes an encoder-decoder with
    ``factor`` total downsampling maps back to themselves)."""
    return (max(factor, (n // factor) * factor), ceil_div(n, factor) * factor)
