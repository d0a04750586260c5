"""One layer of an exercise: its parameters, the engine's answer for it, its explanation, and
how the command line writes it; and the random draws that make layers of each difficulty.

A :class:`Layer` holds exactly what a question states. Everything computed about it comes from
the geometry engine (:func:`convgeom.conv`, :func:`convgeom.conv_transpose`,
:func:`convgeom.max_pool`, :func:`convgeom.avg_pool`) and :func:`convgeom.explain_call`; what a
framework accepts is what its dialect accepts, so drawing a layer for a framework is drawing
until the engine takes it (:func:`draw`), never a rule written here.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Optional, Union

from ..errors import GeometryError
from ..geometry import LayerGeometry, avg_pool, conv, conv_transpose, max_pool

#: symmetric pads (one int per axis), per-side pads ((before, after) per axis) or a mode name
Pad = Union[str, tuple[int, ...], tuple[tuple[int, int], ...]]

#: engine function name -> the command line's op name (``convgeom shape OP``)
CLI_OPS = {"conv": "conv", "conv_transpose": "conv-transpose", "max_pool": "max-pool", "avg_pool": "avg-pool"}
_ENGINE: dict[str, Callable[..., LayerGeometry]] = {
    "conv": conv, "conv_transpose": conv_transpose, "max_pool": max_pool, "avg_pool": avg_pool,
}
#: draws per exercise before giving up (a bug: every generator finds its layers in a few dozen)
MAX_DRAWS = 5_000


def is_pairs(padding: Pad) -> bool:
    """Whether ``padding`` is written per side, ``((before, after), ...)``."""
    return isinstance(padding, tuple) and bool(padding) and isinstance(padding[0], tuple)


def cli_values(values: Sequence[int]) -> str:
    """Per-axis ints as the command line writes them: ``3`` when every axis agrees, else ``3,5``."""
    return str(values[0]) if len(set(values)) == 1 else ",".join(map(str, values))


def cli_sizes(values: Sequence[int]) -> str:
    """Sizes as ``--input`` takes them: one per axis always (``7,7``), since the input's count
    decides the number of axes."""
    return ",".join(map(str, values))


def side_pairs(padding: Pad) -> tuple[tuple[int, int], ...]:
    """(before, after) per axis of an integer padding."""
    if isinstance(padding, str):
        raise ValueError(f"padding {padding!r} is a mode, not pads")
    return tuple((p, p) if isinstance(p, int) else (p[0], p[1]) for p in padding)


def symmetric_pads(padding: Pad) -> tuple[int, ...]:
    """One int per axis of a symmetric padding."""
    return tuple(b for b, _ in side_pairs(padding))


def cli_padding(padding: Pad) -> str:
    """``same``, ``1`` / ``1,2`` (symmetric) or ``0:1,1:1`` (before:after per axis)."""
    if isinstance(padding, str):
        return padding
    if is_pairs(padding):
        return ",".join(f"{b}:{a}" for b, a in side_pairs(padding))
    return cli_values(symmetric_pads(padding))


@dataclass(frozen=True)
class Layer:
    """A windowed layer as a question states it; ``op`` is the engine's name
    (``conv``, ``conv_transpose``, ``max_pool``, ``avg_pool``)."""

    op: str
    framework: str
    input: tuple[int, ...]
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    padding: Pad
    dilation: tuple[int, ...]
    output_padding: Optional[tuple[int, ...]] = None
    ceil_mode: bool = False

    @property
    def ndim(self) -> int:
        return len(self.input)

    @property
    def pooling(self) -> bool:
        return self.op in ("max_pool", "avg_pool")

    def kwargs(self) -> dict[str, Any]:
        """The engine's keyword arguments for this layer."""
        kw: dict[str, Any] = {"input": self.input, "kernel": self.kernel, "stride": self.stride,
                              "padding": self.padding, "dilation": self.dilation, "framework": self.framework}
        if self.op == "conv_transpose" and self.output_padding is not None:
            kw["output_padding"] = self.output_padding
        if self.pooling:
            kw["ceil_mode"] = self.ceil_mode
        return kw

    def run(self) -> LayerGeometry:
        """The engine's geometry (GeometryError where the framework refuses the layer)."""
        return _ENGINE[self.op](**self.kwargs())

    def outcome(self) -> Union[LayerGeometry, GeometryError]:
        """The geometry, or the refusal."""
        try:
            return self.run()
        except GeometryError as err:
            return err

    def explanation(self) -> str:
        """:func:`convgeom.explain_call`: the derivation, or the rule that refuses the layer."""
        from ..explanation import explain_call

        return explain_call(self.op, **self.kwargs())

    def params(self, prefix: str = "") -> dict[str, str]:
        """The layer in ``convgeom shape``'s option names, values as the command line takes them."""
        out = {"op": CLI_OPS[self.op], "input": cli_sizes(self.input), "kernel": cli_values(self.kernel),
               "stride": cli_values(self.stride), "padding": cli_padding(self.padding)}
        if any(d != 1 for d in self.dilation):
            out["dilation"] = cli_values(self.dilation)
        if self.output_padding is not None:
            out["output_padding"] = cli_values(self.output_padding)
        if self.ceil_mode:
            out["ceil_mode"] = "true"
        out["framework"] = self.framework
        return {f"{prefix}{k}": v for k, v in out.items()}

    def command(self, verb: str = "explain") -> str:
        """The ``convgeom`` command line that shows this layer."""
        words = ["convgeom", verb]
        for name, value in self.params().items():
            if name == "op":
                words.append(value)
            elif name == "ceil_mode":
                words.append("--ceil-mode")
            else:
                words += [f"--{name.replace('_', '-')}", value]
        return " ".join(words)

    def with_input(self, sizes: tuple[int, ...]) -> Layer:
        return replace(self, input=sizes)


# ----- difficulty --------------------------------------------------------------------------
@dataclass(frozen=True)
class Level:
    """The ranges one difficulty draws from."""

    ndims: tuple[int, ...]
    sizes: tuple[int, int]
    #: input sizes of 3-D layers (kept small: the tests run them through PyTorch)
    sizes_3d: tuple[int, int]
    kernels: tuple[int, ...]
    strides: tuple[int, ...]
    pads: tuple[int, ...]
    dilations: tuple[int, ...]
    #: every axis has the same input size
    square: bool
    #: every axis has the same kernel, stride, padding and dilation
    uniform: bool


LEVELS: dict[str, Level] = {
    "easy": Level((1, 2), (4, 16), (4, 8), (1, 2, 3, 5), (1, 2), (0, 1), (1,), True, True),
    "medium": Level((2,), (6, 64), (4, 12), (1, 2, 3, 4, 5, 7), (1, 2, 3), (0, 1, 2, 3), (1,), False, True),
    "hard": Level((2, 3), (5, 160), (4, 16), (2, 3, 4, 5, 6, 7, 9, 11), (1, 2, 3, 4), (0, 1, 2, 3, 4, 5),
                  (1, 2, 3), False, False),
}


def per_axis(rng: random.Random, level: Level, ndim: int, choices: Sequence[int]) -> tuple[int, ...]:
    """One value for every axis (``level.uniform``) or one each."""
    if level.uniform:
        return (rng.choice(choices),) * ndim
    return tuple(rng.choice(choices) for _ in range(ndim))


def input_sizes(rng: random.Random, level: Level, ndim: int) -> tuple[int, ...]:
    low, high = level.sizes_3d if ndim == 3 else level.sizes
    if level.square:
        return (rng.randint(low, high),) * ndim
    return tuple(rng.randint(low, high) for _ in range(ndim))


def padding(rng: random.Random, level: Level, ndim: int, form: str) -> Pad:
    """A padding of ``form``: ``int`` (symmetric), ``pairs`` (per side) or a mode name."""
    if form == "int":
        return per_axis(rng, level, ndim, level.pads)
    if form == "pairs":
        return tuple((rng.choice(level.pads), rng.choice(level.pads)) for _ in range(ndim))
    return form


def layer(rng: random.Random, level: Level, framework: str, op: str, forms: Sequence[str], *,
          ndim: Optional[int] = None, sizes: Optional[tuple[int, ...]] = None,
          dilate: bool = True) -> Layer:
    """A random ``op`` layer of ``level`` with its padding in one of ``forms`` (not yet checked
    by the engine: :func:`draw` does that)."""
    nd = ndim if ndim is not None else (len(sizes) if sizes is not None else rng.choice(level.ndims))
    kernel = per_axis(rng, level, nd, level.kernels)
    dilation = per_axis(rng, level, nd, level.dilations) if dilate and op != "avg_pool" else (1,) * nd
    if rng.random() < 0.5:  # dilation is the exception, not the rule, even in hard exercises
        dilation = (1,) * nd
    return Layer(op=op, framework=framework, input=sizes if sizes is not None else input_sizes(rng, level, nd),
                 kernel=kernel, stride=per_axis(rng, level, nd, level.strides),
                 padding=padding(rng, level, nd, rng.choice(forms)), dilation=dilation)


def draw(rng: random.Random, make: Callable[[random.Random], Layer],
         accept: Callable[[Layer, LayerGeometry], bool] = lambda layer, r: True) -> tuple[Layer, LayerGeometry]:
    """The first layer ``make`` draws that the engine accepts with every output >= 1 and that
    ``accept`` takes."""
    for _ in range(MAX_DRAWS):
        candidate = make(rng)
        result = candidate.outcome()
        if isinstance(result, LayerGeometry) and min(result.output) >= 1 and accept(candidate, result):
            return candidate, result
    raise RuntimeError(f"no layer found in {MAX_DRAWS} draws (a bug in the quiz generator)")
