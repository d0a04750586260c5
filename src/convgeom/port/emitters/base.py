"""The interface every target framework implements, and what they share.

An emitter knows one framework's vocabulary: which of its layers and padding options to try
(:meth:`Emitter.candidates`, proposals the engine then checks), how to write the chosen one as
code (:meth:`Emitter.render`, :meth:`Emitter.render_dynamic`), what it cannot express at all
(:meth:`Emitter.unsupported`) and how its kernels are laid out (:meth:`Emitter.to_torch_layout`,
:meth:`Emitter.from_torch_layout`). The rest of :mod:`convgeom.port` never asks which
framework it is talking to.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Optional, Union

from ...errors import GeometryError
from ..construction import Construction, SourceCall
from ..spec import LayerSpec, Pads

if TYPE_CHECKING:
    import numpy as np

#: ONNX opset the ONNX emitter writes (AveragePool dilations need 19)
ONNX_OPSET = 19


@dataclass(frozen=True)
class Channels:
    """Channel counts and bias of a convolution (ignored by pooling)."""

    in_channels: int = 1
    out_channels: int = 1
    bias: bool = True


@dataclass(frozen=True)
class Rendering:
    """Code that binds ``layer``: ``imports``, then ``definitions`` (helper classes), then
    ``layer = expression`` (or ``statement``, a ``def layer``), then ``tail`` (a weight
    loader, a build call)."""

    imports: tuple[str, ...]
    expression: str
    definitions: tuple[str, ...] = ()
    tail: str = ""
    statement: str = ""

    @property
    def code(self) -> str:
        parts = ["\n".join(self.imports)]
        parts.extend(self.definitions)
        parts.append(self.statement or f"layer = {self.expression}")
        if self.tail:
            parts.append(self.tail)
        return "\n\n\n".join(p.strip("\n") for p in parts if p) + "\n"


def compact(values: Union[int, Sequence[int]]) -> str:
    """``3`` for ``(3, 3)``, ``(3, 1)`` otherwise: how a person writes a per-axis argument."""
    if isinstance(values, int):
        return str(values)
    if len(set(values)) == 1:
        return str(values[0])
    return tuple_text(values)


def tuple_text(values: Sequence[Any]) -> str:
    items = ", ".join(repr(v) if not isinstance(v, tuple) else tuple_text(v) for v in values)
    return f"({items},)" if len(values) == 1 else f"({items})"


def pairs_text(pads: Pads) -> str:
    return tuple_text([tuple(p) for p in pads])


class Emitter:
    """One target framework."""

    #: dialect name (``convgeom.dialects``)
    framework = "generic"
    label = "generic"
    #: activations are (N, *spatial, C) rather than (N, C, *spatial)
    channels_last = False
    #: the native padding argument meaning "no padding"
    no_padding: Any = 0
    #: what a max pool returns for a window that reads only padding (float32's lowest where the
    #: kernel starts from std::numeric_limits<float>::lowest() instead of -inf)
    empty_max_window = float("-inf")

    def layout(self, ndim: int) -> str:
        """Activation layout, e.g. 'NCHW' or 'NHWC'."""
        spatial = "DHW"[3 - ndim:] if ndim <= 3 else "".join(f"S{i}" for i in range(ndim))
        return f"N{spatial}C" if self.channels_last else f"NC{spatial}"

    # ----- proposals ---------------------------------------------------------------------
    def base_params(self, spec: LayerSpec) -> dict[str, Any]:
        params: dict[str, Any] = {"kernel": spec.kernel, "stride": spec.stride, "dilation": spec.dilation}
        if spec.op in ("conv", "conv_transpose"):
            params["groups"] = spec.groups
        return params

    def make(self, spec: LayerSpec, native: dict[str, Any], **kw: Any) -> Construction:
        params = {**self.base_params(spec), **native}
        return Construction(self.framework, spec.op, tuple(sorted(params.items())), **kw)

    def candidates(self, spec: LayerSpec) -> Iterator[Construction]:
        """Proposals in order of preference: the framework's own padding options first, then
        explicit constructions. The caller keeps the first the engine says is exact."""
        yield from self.native_candidates(spec)
        yield from self.explicit_candidates(spec)

    def native_candidates(self, spec: LayerSpec) -> Iterator[Construction]:
        raise NotImplementedError

    def explicit_candidates(self, spec: LayerSpec) -> Iterator[Construction]:
        """An explicit pad (zeros, -inf for max pooling, the pad mode for convolution) before
        an unpadded native layer; for average pooling the divisor is then fixed up to the
        source's (a fixed divisor, or the taps on the input and the counted padding)."""
        if spec.op == "conv_transpose":
            yield from self._extended(spec)
            return
        options: list[Optional[Pads]] = [spec.pads_to_apply] if spec.needs_padding else [None]
        if spec.declared_pads != spec.pads_to_apply:
            options.insert(0, spec.declared_pads)  # exact at every size when the source's pads are fixed
        if spec.op in ("max_pool", "avg_pool"):
            # s - 1 more cells after (-inf, or zeros no divisor counts): floor division then
            # rounds up as ceil mode does, at every input size
            ceil_like = tuple((b, a + s - 1) for (b, a), s in zip(spec.source_pads, spec.stride))
            if ceil_like not in options:
                options.insert(1, ceil_like)
        mode = {"conv": spec.pad_mode, "max_pool": "-inf"}.get(spec.op, "zeros")
        native = {"padding": self.no_padding}
        for pads in options:
            if spec.op != "avg_pool":
                yield self.make(spec, native, pre_pad=pads, pad_mode=mode)
            elif spec.divisor == spec.window:
                yield self.make(spec, native, pre_pad=pads)
            elif spec.divisor is not None:
                yield self.make(spec, native, pre_pad=pads, divisor=spec.divisor)
            else:
                yield self.make(spec, native, pre_pad=pads, count=spec.counted)

    def _extended(self, spec: LayerSpec) -> Iterator[Construction]:
        """A transposed convolution whose output reaches past the full output (output_padding
        beyond what the target allows, or JAX pads beyond ``e - 1``): ``ceil(cells / s)`` zero
        cells before/after the input extend the full output by cells only the bias reaches; an
        unpadded layer, then a crop."""
        from ...arithmetic import ceil_div

        extra = tuple((ceil_div(max(0, -a.pad_before), a.stride), ceil_div(max(0, -a.pad_after), a.stride))
                      for a in spec.axes)
        probe = self.make(spec, {"padding": self.no_padding}, pre_pad=extra)
        try:
            native = probe.geometry(spec.input)
        except GeometryError:
            return
        post = tuple((a.pad_before + xb * a.stride - n.pad_before, a.pad_after + xa * a.stride - n.pad_after)
                     for a, n, (xb, xa) in zip(spec.axes, native.axes, extra))
        if all(v >= 0 for p in post for v in p):
            yield replace(probe, post_crop=post if any(v for p in post for v in p) else None)

    def dynamic_construction(self, spec: LayerSpec) -> Optional[Construction]:
        """The construction a dynamic module repeats at run time with the pads of each input
        (the explicit one with the pads the windows read); None for a transposed convolution
        (its crop never depends on the input size)."""
        return list(self.explicit_candidates(spec))[-1] if spec.op != "conv_transpose" else None

    # ----- code --------------------------------------------------------------------------
    def render(self, spec: LayerSpec, c: Construction, ch: Channels) -> Rendering:
        raise NotImplementedError

    def render_dynamic(self, spec: LayerSpec, c: Construction, ch: Channels, call: SourceCall) -> Optional[Rendering]:
        """A module that asks convgeom for the source's pads of every input it sees."""
        return None

    def target_notes(self, spec: LayerSpec, c: Construction) -> list[str]:
        """What a user of the code written for ``spec`` should know about this framework."""
        return []

    def source_notes(self, spec: LayerSpec) -> list[str]:
        """What this framework does with the source layer that the port does not reproduce."""
        return []

    def unsupported(self, spec: LayerSpec, ch: Channels) -> Optional[str]:
        """Why no layer of this framework can compute ``spec`` (None: the engine decides)."""
        return None

    # ----- weights (NumPy only) ----------------------------------------------------------
    def to_torch_layout(self, kernel: np.ndarray, op: str, groups: int) -> np.ndarray:
        """This framework's kernel in PyTorch's layout: conv ``(O, I/g, *k)``, transposed conv
        ``(I, O/g, *k)``, depthwise ``(I*M, 1, *k)``."""
        return kernel

    def from_torch_layout(self, kernel: np.ndarray, op: str, groups: int) -> np.ndarray:
        return kernel

    def kernel_shape(self, op: str, in_channels: int, out_channels: int, kernel: Sequence[int],
                     groups: int) -> tuple[int, ...]:
        """The kernel shape this framework stores for a layer."""
        import numpy as np

        torch_shape = ((in_channels, out_channels // groups) if op == "conv_transpose"
                       else (out_channels, in_channels // groups)) + tuple(kernel)
        return tuple(self.from_torch_layout(np.empty(torch_shape, np.float32), op, groups).shape)

    # ----- running (verification: these import the framework) ---------------------------
    def to_native(self, x: np.ndarray) -> np.ndarray:
        """``(N, C, *spatial)`` to this framework's activation layout."""
        import numpy as np

        return np.ascontiguousarray(np.moveaxis(x, 1, -1)) if self.channels_last else x

    def from_native(self, y: Any) -> np.ndarray:
        import numpy as np

        y = np.asarray(y)
        return np.ascontiguousarray(np.moveaxis(y, -1, 1)) if self.channels_last else y

    def run_source(self, call: SourceCall, x: np.ndarray, kernel: Optional[np.ndarray],
                   bias: Optional[np.ndarray], ch: Channels) -> np.ndarray:
        """The source layer built with this framework's own API from the engine parameters of
        ``call``, on ``x`` ``(N, C, *spatial)``; the output as ``(N, C, *spatial)``."""
        raise NotImplementedError

    def run_code(self, code: str, x: np.ndarray, kernel: Optional[np.ndarray],
                 bias: Optional[np.ndarray]) -> np.ndarray:
        """Executes ported ``code`` (which binds ``layer``) on ``x`` ``(N, C, *spatial)``."""
        raise NotImplementedError


#: what needs a framework that is not installed, in :mod:`convgeom.optional`'s one line
RUNNING = "running ported code"


def execute(code: str) -> dict[str, Any]:
    """The names a ported snippet binds."""
    namespace: dict[str, Any] = {"__name__": "convgeom_ported"}
    exec(compile(code, "<ported>", "exec"), namespace)  # noqa: S102 - the code convgeom itself wrote
    return namespace


def per_axis_values(call: SourceCall, name: str, ndim: int, default: Any) -> tuple[Any, ...]:
    """A parameter of ``call`` as one value per axis (an int is broadcast)."""
    value = call.kwargs.get(name, default)
    if value is None:
        return (default,) * ndim
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * ndim
