"""PyTorch 2.x: ``torch.nn`` modules, explicit pads as ``nn.ZeroPad*d``/``nn.ConstantPad*d``
(``F.pad`` order: last axis first), activations ``(N, C, *spatial)``, kernels ``(O, I/g, *k)``
and, for ``ConvTranspose*d``, ``(I, O/g, *k)`` (``torch/nn/modules/conv.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import product
from typing import TYPE_CHECKING, Any, Optional

from ...optional import require
from ..construction import Construction, SourceCall
from ..spec import LayerSpec, Pads
from .base import RUNNING, Channels, Emitter, Rendering, compact, execute

if TYPE_CHECKING:
    import numpy as np

_PAD_MODULES = {
    "zeros": "ZeroPad",
    "reflect": "ReflectionPad",
    "replicate": "ReplicationPad",
    "circular": "CircularPad",
}


def torch_pad(pads: Pads) -> tuple[int, ...]:
    """``F.pad`` order: ``(before, after)`` of the last axis first."""
    return tuple(v for b, a in reversed(pads) for v in (b, a))


class TorchEmitter(Emitter):
    framework = "torch"
    label = "PyTorch"

    # ----- proposals ---------------------------------------------------------------------
    def native_candidates(self, spec: LayerSpec) -> Iterator[Construction]:
        before = tuple(b for b, _ in spec.pads)
        if spec.op == "conv":
            yield self.make(spec, {"padding": before, "padding_mode": spec.pad_mode})
            if all(s == 1 for s in spec.stride):
                yield self.make(spec, {"padding": "same", "padding_mode": spec.pad_mode})
        elif spec.op == "conv_transpose":
            yield self._transposed(spec)
        elif spec.op == "max_pool":
            for ceil in (False, True):
                yield self.make(spec, {"padding": before, "ceil_mode": ceil})
        else:
            divisors = [None] + ([spec.divisor] if spec.divisor is not None and spec.ndim > 1 else [])
            for divisor, cip, ceil in product(divisors, (True, False), (False, True)):
                yield self.make(spec, {"padding": before, "ceil_mode": ceil, "count_include_pad": cip,
                                       "divisor": divisor})

    def _transposed(self, spec: LayerSpec) -> Construction:
        """``padding=p`` crops ``p`` before and ``p - output_padding`` after, with
        ``output_padding < max(stride, dilation)``; a larger crop is done after the layer."""
        padding, output_padding, crops = [], [], []
        for a in spec.axes:
            room = max(a.stride, a.dilation) - 1
            p = max(0, min(a.pad_before, a.pad_after + room))
            op = max(0, p - a.pad_after)
            padding.append(p)
            output_padding.append(op)
            crops.append((a.pad_before - p, a.pad_after - (p - op)))
        post = tuple(crops) if any(c != (0, 0) for c in crops) else None
        return self.make(spec, {"padding": tuple(padding), "output_padding": tuple(output_padding)}, post_crop=post)

    def unsupported(self, spec: LayerSpec, ch: Channels) -> Optional[str]:
        if spec.op == "avg_pool" and any(d > 1 for d in spec.dilation):
            return ("PyTorch's AvgPool*d has no dilation: the closest module, AvgPool without dilation, "
                    f"averages {compact(spec.kernel)} adjacent cells instead of cells {compact(spec.dilation)} "
                    "apart, a different average wherever neighbouring values differ")
        return None

    # ----- code --------------------------------------------------------------------------
    def _layer(self, spec: LayerSpec, c: Construction, ch: Channels) -> str:
        d, kw = spec.ndim, c.kwargs
        args = []

        def opt(name: str, value: Any, default: Any) -> None:
            if value != default:
                args.append(f"{name}={value}")

        if spec.op in ("conv", "conv_transpose"):
            name = "Conv" if spec.op == "conv" else "ConvTranspose"
            args.extend([str(ch.in_channels), str(ch.out_channels), compact(spec.kernel)])
            opt("stride", compact(spec.stride), "1")
            padding = kw["padding"]
            opt("padding", repr(padding) if isinstance(padding, str) else compact(padding), "0")
            if spec.op == "conv_transpose":
                opt("output_padding", compact(kw.get("output_padding", 0)), "0")
            opt("dilation", compact(spec.dilation), "1")
            opt("groups", spec.groups, 1)
            opt("bias", ch.bias, True)
            if spec.op == "conv":
                opt("padding_mode", repr(kw.get("padding_mode", "zeros")), "'zeros'")
            return f"nn.{name}{d}d({', '.join(args)})"
        name = "MaxPool" if spec.op == "max_pool" else "AvgPool"
        args.append(compact(spec.kernel))
        opt("stride", compact(spec.stride), compact(spec.kernel))
        opt("padding", compact(kw.get("padding", 0)), "0")
        if spec.op == "max_pool":
            opt("dilation", compact(spec.dilation), "1")
        opt("ceil_mode", kw.get("ceil_mode", False), False)
        if spec.op == "avg_pool":
            opt("count_include_pad", kw.get("count_include_pad", True), True)
            divisor = kw.get("divisor")
            if c.divisor is not None and spec.ndim > 1:
                divisor = c.divisor  # a fixed divisor is divisor_override where the module has one
            opt("divisor_override", divisor, None)
        return f"nn.{name}{d}d({', '.join(args)})"

    def _pad(self, pads: Pads, mode: str) -> str:
        d = len(pads)
        if mode == "-inf":
            return f"nn.ConstantPad{d}d({torch_pad(pads)}, float('-inf'))"
        return f"nn.{_PAD_MODULES[mode]}{d}d({torch_pad(pads)})"

    def render(self, spec: LayerSpec, c: Construction, ch: Channels) -> Rendering:
        imports = ["import torch", "from torch import nn"]
        layer = self._layer(spec, c, ch)
        if c.count is not None or (c.divisor is not None and spec.ndim == 1):
            imports.append("import torch.nn.functional as F")
            pad = torch_pad(c.pre_pad or tuple((0, 0) for _ in spec.axes))
            if c.count is not None:
                return Rendering(tuple(imports), f"AvgPoolCounted({layer}, pad={pad}, counted={torch_pad(c.count)})",
                                 (_AVG_COUNTED,))
            return Rendering(tuple(imports), f"AvgPoolDivisor({layer}, pad={pad}, scale={spec.window} / {c.divisor})",
                             (_AVG_DIVISOR,))
        modules = []
        if c.pre_pad is not None:
            modules.append(self._pad(c.pre_pad, c.pad_mode))
        modules.append(layer)
        position = len(modules) - 1
        if c.post_crop is not None:
            modules.append(f"nn.ZeroPad{spec.ndim}d({tuple(-v for v in torch_pad(c.post_crop))})")
        weighted = "layer" if len(modules) == 1 else f"layer[{position}]"
        expression = modules[0] if len(modules) == 1 else f"nn.Sequential({', '.join(modules)})"
        tail = _SET_WEIGHTS.format(module=weighted) if spec.op in ("conv", "conv_transpose") else ""
        return Rendering(tuple(imports), expression, (), tail)

    def render_dynamic(self, spec: LayerSpec, c: Construction, ch: Channels, call: SourceCall) -> Optional[Rendering]:
        imports = ("import torch", "import torch.nn.functional as F", "from torch import nn", "", "import convgeom")
        spec_call = _spec_call(call, "tuple(x.shape[2:])")
        native = self._layer(spec, c, ch)
        base, _, args = native.partition("(")
        cls = f"{base.removeprefix('nn.')}{call.framework.capitalize()}Pads"
        if spec.op == "conv":
            body = (f"pads = {spec_call}.pads_to_apply\n"
                    f"        return super().forward(F.pad(x, _torch_pad(pads), mode={_F_MODES[spec.pad_mode]!r}))")
            tail = _SET_WEIGHTS.format(module="layer")
        elif spec.op == "max_pool":
            body = (f"pads = {spec_call}.pads_to_apply\n"
                    "        return super().forward(F.pad(x, _torch_pad(pads), value=float('-inf')))")
            tail = ""
        else:
            body = (f"spec = {spec_call}\n"
                    "        sums = super().forward(F.pad(x, _torch_pad(spec.pads_to_apply)))\n"
                    "        if spec.divisor is not None:\n"
                    "            return sums * (spec.window / spec.divisor)\n"
                    "        mask = x.new_ones((1, 1) + tuple(x.shape[2:]))\n"
                    "        mask = F.pad(mask, _torch_pad(spec.counted), value=1.0)\n"
                    "        rest = tuple((p - c, q - e) for (p, q), (c, e) in zip(spec.pads_to_apply, spec.counted))\n"
                    "        return sums / super().forward(F.pad(mask, _torch_pad(rest)))")
            tail = ""
        definition = (
            f"def _torch_pad(pads):\n    return [v for b, a in reversed(pads) for v in (b, a)]\n\n\n"
            f"class {cls}({base}):\n"
            f'    """{base} that pads every input the way {call.framework} does, whatever its size\n'
            f'    (the pads come from convgeom for each input size, as timm\'s Conv2dSame computes TF \'same\')."""\n\n'
            f"    def forward(self, x):\n        {body}\n"
        )
        return Rendering(imports, f"{cls}({args}", (definition,), tail)

    # weights: PyTorch's layout is the reference layout (identity)

    # ----- running -----------------------------------------------------------------------
    def run_source(self, call: SourceCall, x: np.ndarray, kernel: Optional[np.ndarray],
                   bias: Optional[np.ndarray], ch: Channels) -> np.ndarray:
        torch = require("torch", RUNNING)
        F = require("torch.nn.functional", RUNNING)
        kw, d = call.kwargs, x.ndim - 2
        t = torch.as_tensor(x)
        with torch.no_grad():
            if call.op in ("conv", "conv_transpose"):
                padding = kw.get("padding", 0)
                mode = kw.get("padding_mode", "zeros")
                if isinstance(padding, tuple) and padding and isinstance(padding[0], tuple):
                    # (before, after) pairs: F.pad, then an unpadded convolution
                    t = F.pad(t, torch_pad(padding), mode="constant" if mode == "zeros" else mode)
                    padding = 0
                options: dict[str, Any] = {"stride": kw.get("stride", 1), "padding": padding,
                                           "dilation": kw.get("dilation", 1), "groups": kw.get("groups", 1),
                                           "bias": bias is not None}
                if call.op == "conv":
                    module = getattr(torch.nn, f"Conv{d}d")(ch.in_channels, ch.out_channels, kw["kernel"],
                                                            padding_mode=mode, **options)
                else:
                    module = getattr(torch.nn, f"ConvTranspose{d}d")(
                        ch.in_channels, ch.out_channels, kw["kernel"], output_padding=kw.get("output_padding", 0),
                        **options)
                module.weight.copy_(torch.as_tensor(kernel))
                if bias is not None:
                    module.bias.copy_(torch.as_tensor(bias))
                if call.op == "conv_transpose" and kw.get("output_size") is not None:
                    return self.from_native(module(t, output_size=list(kw["output_size"])).numpy())
                return self.from_native(module(t).numpy())
            common = {"kernel_size": kw["kernel"], "stride": kw.get("stride"), "padding": kw.get("padding", 0),
                      "ceil_mode": bool(kw.get("ceil_mode", False))}
            if call.op == "max_pool":
                return self.from_native(getattr(F, f"max_pool{d}d")(t, dilation=kw.get("dilation", 1), **common).numpy())
            extra = {} if d == 1 else {"divisor_override": kw.get("divisor")}
            cip = kw.get("count_include_pad")
            return self.from_native(getattr(F, f"avg_pool{d}d")(t, count_include_pad=True if cip is None else cip,
                                                                **common, **extra).numpy())

    def run_code(self, code: str, x: np.ndarray, kernel: Optional[np.ndarray],
                 bias: Optional[np.ndarray]) -> np.ndarray:
        torch = require("torch", RUNNING)
        names = execute(code)
        if kernel is not None:
            names["set_weights"](kernel, bias)
        with torch.no_grad():
            return self.from_native(names["layer"](torch.as_tensor(x)).numpy())


_F_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "replicate", "circular": "circular"}


def _spec_call(call: SourceCall, input_text: str) -> str:
    params = ", ".join(f"{k}={v!r}" for k, v in call.params)
    return f"convgeom.port.layer_spec({call.op!r}, {input_text}, framework={call.framework!r}, {params})"


_SET_WEIGHTS = '''def set_weights(kernel, bias=None):
    """Load NumPy weights in PyTorch's layout (convgeom.port_weights(..., target="torch"))."""
    module = {module}
    with torch.no_grad():
        module.weight.copy_(torch.as_tensor(kernel))
        if bias is not None:
            module.bias.copy_(torch.as_tensor(bias))'''

_AVG_COUNTED = '''class AvgPoolCounted(nn.Module):
    """Average pooling whose divisor counts the taps on the input and on the `counted` padding:
    window sums of the zero-padded input over window sums of a mask that is 1 on counted cells
    (the same pool divides both by its window size)."""

    def __init__(self, pool, pad, counted):
        super().__init__()
        self.pool, self.pad, self.counted = pool, pad, counted

    def forward(self, x):
        mask = F.pad(x.new_ones((1, 1) + tuple(x.shape[2:])), self.counted, value=1.0)
        mask = F.pad(mask, [p - c for p, c in zip(self.pad, self.counted)])
        return self.pool(F.pad(x, self.pad)) / self.pool(mask)'''

_AVG_DIVISOR = '''class AvgPoolDivisor(nn.Module):
    """Window sums over a fixed divisor: the pool's average (over its whole window) times `scale`."""

    def __init__(self, pool, pad, scale):
        super().__init__()
        self.pool, self.pad, self.scale = pool, pad, scale

    def forward(self, x):
        return self.pool(torch.nn.functional.pad(x, self.pad)) * self.scale'''
