"""Keras 3 (the 'tensorflow' dialect: Keras layers, the same code on every backend): activations
``(N, *spatial, C)``; ``Conv*D`` kernels ``(*k, I/g, O)``, ``Conv*DTranspose`` kernels
``(*k, O, I)``, ``DepthwiseConv*D`` kernels ``(*k, I, M)`` (``keras/src/layers/convolutional/
base_conv.py``, ``base_conv_transpose.py``, ``base_depthwise_conv.py``); explicit pads as
``ZeroPadding*D`` / ``Cropping*D``, other pad values through a small ``Pad`` layer."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Optional

from ...optional import import_keras
from ..construction import Construction, SourceCall
from ..spec import LayerSpec, Pads
from .base import RUNNING, Channels, Emitter, Rendering, compact, execute, pairs_text

if TYPE_CHECKING:
    import numpy as np


def _keras_pads(pads: Pads) -> str:
    """``ZeroPadding*D``/``Cropping*D`` argument: ``(b, a)`` in 1-D, per-axis pairs above."""
    return str(tuple(pads[0])) if len(pads) == 1 else pairs_text(pads)


class KerasEmitter(Emitter):
    framework = "tensorflow"
    label = "Keras"
    channels_last = True
    no_padding = "valid"
    #: TensorFlow's MaxPool starts from float32's lowest (tests/golden/port_tensorflow.json);
    #: Keras on the torch backend returns -inf there
    empty_max_window = -3.4028234663852886e38

    # ----- proposals ---------------------------------------------------------------------
    def native_candidates(self, spec: LayerSpec) -> Iterator[Construction]:
        if spec.op == "conv_transpose":
            yield from self._transposed(spec)
            return
        modes = ["same", "valid"] + (["causal"] if spec.op == "conv" and spec.ndim == 1 else [])
        if spec.op == "avg_pool" and not (all(s == 1 for s in spec.stride) and all(b == a for b, a in spec.pads)):
            # Keras on the torch backend pads an asymmetric 'same' average pool with replicated
            # edge cells and counts them (keras/src/backend/torch/nn.py _apply_same_padding);
            # TensorFlow and JAX do not: write code that is exact on every backend
            modes.remove("same")
        for mode in modes:
            yield self.make(spec, {"padding": mode})

    def _transposed(self, spec: LayerSpec) -> Iterator[Construction]:
        """'same' and 'valid' as Keras computes them; then 'valid' with ``output_padding``
        (``< stride``: the only way to add cells) and ``Cropping*D`` for the rest; then, where
        Keras refuses stride with dilation or the cells to add reach the stride, zeros inserted
        between the input cells (``s - 1``, plus the cells to add at the end) before a stride-1
        layer: the definition of a strided transposed convolution."""
        yield self.make(spec, {"padding": "same"})
        yield self.make(spec, {"padding": "valid"})
        extra = tuple(max(0, -a.pad_after) for a in spec.axes)
        crop = tuple((a.pad_before, a.pad_after + x) for a, x in zip(spec.axes, extra))
        post = crop if any(c != (0, 0) for c in crop) else None
        yield self.make(spec, {"padding": "valid", "output_padding": extra}, post_crop=post)
        ones = tuple(1 for _ in spec.axes)
        zeros = tuple((a.stride, max(0, -a.pad_before), x) for a, x in zip(spec.axes, extra))
        crop = tuple((max(0, a.pad_before), a.pad_after + x) for a, x in zip(spec.axes, extra))
        yield self.make(spec, {"padding": "valid", "output_padding": tuple(0 for _ in spec.axes), "stride": ones},
                        zero_insert=zeros, post_crop=crop if any(c != (0, 0) for c in crop) else None)

    def explicit_candidates(self, spec: LayerSpec) -> Iterator[Construction]:
        """The shared explicit constructions; a convolution with stride and dilation (which
        Keras refuses together) also as a stride-1 dilated layer keeping every s-th output."""
        yield from super().explicit_candidates(spec)
        if spec.op == "conv" and max(spec.stride) > 1 and max(spec.dilation) > 1:
            ones = tuple(1 for _ in spec.axes)
            for c in super().explicit_candidates(spec):
                yield replace(c, native=tuple(sorted({**c.kwargs, "stride": ones}.items())), subsample=spec.stride)

    def unsupported(self, spec: LayerSpec, ch: Channels) -> Optional[str]:
        if spec.op in ("max_pool", "avg_pool") and any(d > 1 for d in spec.dilation):
            kind = "MaxPooling" if spec.op == "max_pool" else "AveragePooling"
            return (f"Keras {kind}{spec.ndim}D has no dilation: the closest layer, pool_size "
                    f"{compact(spec.kernel)} without dilation, pools {compact(spec.kernel)} adjacent cells instead "
                    f"of cells {compact(spec.dilation)} apart, a different result wherever neighbouring values differ")
        return None

    def target_notes(self, spec: LayerSpec, c: Construction) -> list[str]:
        if spec.op == "conv_transpose" and max(spec.dilation) > 1:
            return ["on TensorFlow, dilated transposed convolutions run with oneDNN (TF_ENABLE_ONEDNN_OPTS=1, "
                    "the x86 default where the CPU has it); its reference kernels refuse dilation > 1"]
        return []

    def source_notes(self, spec: LayerSpec) -> list[str]:
        if spec.op == "avg_pool" and any(a.pad_before != a.declared_after for a in spec.axes):
            return ["Keras on the torch backend pads this asymmetric 'same' average pool with replicated edge "
                    "cells and counts them (keras/src/backend/torch/nn.py _apply_same_padding); this port "
                    "follows TensorFlow and JAX, which do not"]
        return []

    # ----- code --------------------------------------------------------------------------
    def _layer(self, spec: LayerSpec, c: Construction, ch: Channels, cls: str = "") -> str:
        d, kw = spec.ndim, c.kwargs
        args: list[str] = []

        def opt(name: str, value: Any, default: Any) -> None:
            if value != default:
                args.append(f"{name}={value}")

        padding = repr(kw.get("padding", "valid"))
        if spec.op in ("conv", "conv_transpose"):
            name = cls or (f"keras.layers.Conv{d}D" if spec.op == "conv" else f"keras.layers.Conv{d}DTranspose")
            args.extend([str(ch.out_channels), compact(spec.kernel)])
            opt("strides", compact(kw.get("stride", spec.stride)), "1")
            opt("padding", padding, "'valid'")
            if kw.get("output_padding") is not None:
                args.append(f"output_padding={compact(kw['output_padding'])}")
            opt("dilation_rate", compact(spec.dilation), "1")
            if spec.op == "conv":
                opt("groups", spec.groups, 1)
            opt("use_bias", ch.bias, True)
            return f"{name}({', '.join(args)})"
        kind = "MaxPooling" if spec.op == "max_pool" else "AveragePooling"
        name = cls or f"keras.layers.{kind}{d}D"
        args.append(compact(spec.kernel))
        opt("strides", compact(spec.stride), compact(spec.kernel))
        opt("padding", padding, "'valid'")
        return f"{name}({', '.join(args)})"

    def _pad_layers(self, pads: Pads, mode: str) -> tuple[list[str], bool]:
        """Layers that pad (or crop, for negative values); True when the ``Pad`` class is used."""
        d = len(pads)
        if mode != "zeros":
            value = "float('-inf')" if mode == "-inf" else "0.0"
            mode_arg = "" if mode == "-inf" else f", mode={mode!r}"
            return [f"Pad({pairs_text(pads)}{mode_arg}, value={value})" if mode == "-inf"
                    else f"Pad({pairs_text(pads)}{mode_arg})"], True
        grow = tuple((max(0, b), max(0, a)) for b, a in pads)
        shrink = tuple((max(0, -b), max(0, -a)) for b, a in pads)
        layers = []
        if any(v for p in shrink for v in p):
            layers.append(f"keras.layers.Cropping{d}D({_keras_pads(shrink)})")
        if any(v for p in grow for v in p):
            layers.append(f"keras.layers.ZeroPadding{d}D({_keras_pads(grow)})")
        return layers, False

    def render(self, spec: LayerSpec, c: Construction, ch: Channels) -> Rendering:
        definitions: list[str] = []
        layers: list[str] = []
        if c.count is not None:
            definitions.append(_AVG_COUNTED)
            expression = (f"AvgPoolCounted({compact(spec.kernel)}, strides={compact(spec.stride)}, "
                          f"pads={pairs_text(c.pre_pad or tuple((0, 0) for _ in spec.axes))}, counted={pairs_text(c.count)})")
            return Rendering(("import keras",), expression, tuple(definitions))
        if c.pre_pad is not None:
            pad_layers, custom = self._pad_layers(c.pre_pad, c.pad_mode)
            layers.extend(pad_layers)
            if custom:
                definitions.append(_PAD)
        if c.zero_insert is not None:
            definitions.append(_ZERO_INSERT)
            strides, before, after = (tuple(v) for v in zip(*c.zero_insert))
            layers.append(f"ZeroInsert({strides}, before={before}, after={after})")
        main = len(layers)
        grouped = spec.op == "conv_transpose" and spec.groups > 1
        if grouped:
            definitions.append(_GROUPED.replace("CLASS", f"GroupedConv{spec.ndim}DTranspose")
                               .replace("LAYER", f"Conv{spec.ndim}DTranspose"))
            layers.append(self._layer(spec, c, ch, f"GroupedConv{spec.ndim}DTranspose").replace("(", f"({spec.groups}, ", 1))
        else:
            layers.append(self._layer(spec, c, ch))
        if c.subsample is not None:
            definitions.append(_SUBSAMPLE)
            layers.append(f"Subsample({tuple(c.subsample)})")
        if c.post_crop is not None:
            layers.append(f"keras.layers.Cropping{spec.ndim}D({_keras_pads(c.post_crop)})")
        if c.divisor is not None:
            layers.append(f"keras.layers.Rescaling({spec.window} / {c.divisor})")
        expression = layers[0] if len(layers) == 1 else f"keras.Sequential([{', '.join(layers)}])"
        weighted = "layer" if len(layers) == 1 else f"layer.layers[{main}]"
        return Rendering(("import keras",), expression, tuple(definitions),
                         self._tail(spec, ch, weighted, grouped=grouped))

    def _tail(self, spec: LayerSpec, ch: Channels, weighted: str = "layer", grouped: bool = False) -> str:
        if spec.op not in ("conv", "conv_transpose"):
            return ""
        shape = ", ".join(["None"] * (spec.ndim + 1) + [str(ch.in_channels)])
        load = (f"{weighted}.set_group_weights(kernel, bias)" if grouped
                else f"{weighted}.set_weights([kernel] if bias is None else [kernel, bias])")
        return f"layer.build(({shape}))\n\n\n" + _SET_WEIGHTS.replace("LOAD", load)

    def render_dynamic(self, spec: LayerSpec, c: Construction, ch: Channels, call: SourceCall) -> Optional[Rendering]:
        from .torch import _spec_call

        native = self._layer(spec, c, ch)
        base = native.partition("(")[0]
        cls = f"{base.removeprefix('keras.layers.')}{call.framework.capitalize()}Pads"
        spec_call = _spec_call(call, "tuple(x.shape[1:-1])")
        if spec.op == "avg_pool":
            body = (f"spec = {spec_call}\n"
                    "        width = [(0, 0), *spec.pads_to_apply, (0, 0)]\n"
                    "        sums = super().call(keras.ops.pad(x, width))\n"
                    "        if spec.divisor is not None:\n"
                    "            return sums * (spec.window / spec.divisor)\n"
                    "        mask = keras.ops.ones((1, *x.shape[1:-1], 1), dtype=x.dtype)\n"
                    "        mask = keras.ops.pad(mask, [(0, 0), *spec.counted, (0, 0)], constant_values=1.0)\n"
                    "        rest = [(p - c, q - e) for (p, q), (c, e) in zip(spec.pads_to_apply, spec.counted)]\n"
                    "        return sums / super().call(keras.ops.pad(mask, [(0, 0), *rest, (0, 0)]))")
        else:
            value = "float('-inf')" if spec.op == "max_pool" else "0.0"
            pad = (f"Pad(pads, mode={spec.pad_mode!r})(x)" if spec.op == "conv" and spec.pad_mode != "zeros"
                   else f"keras.ops.pad(x, [(0, 0), *pads, (0, 0)], constant_values={value})")
            body = f"pads = {spec_call}.pads_to_apply\n        return super().call({pad})"
        definition = (
            f"class {cls}({base}):\n"
            f'    """{base.removeprefix("keras.layers.")} that pads every input the way {call.framework} does, '
            f'whatever its size\n    (the pads come from convgeom for each input size; spatial sizes must be '
            f'known when it is called)."""\n\n'
            f"    def call(self, x):\n        {body}\n"
        )
        definitions = ([_PAD] if spec.op == "conv" and spec.pad_mode != "zeros" else []) + [definition]
        return Rendering(("import keras", "", "import convgeom"), f"{cls}({native.partition('(')[2]}",
                         tuple(definitions), self._tail(spec, ch))

    # ----- weights -----------------------------------------------------------------------
    def to_torch_layout(self, kernel: np.ndarray, op: str, groups: int) -> np.ndarray:
        import numpy as np

        d = kernel.ndim - 2
        if op == "conv":  # (*k, I/g, O) -> (O, I/g, *k)
            return np.ascontiguousarray(np.moveaxis(kernel, (-1, -2), (0, 1)))
        if op == "conv_transpose":  # (*k, O, I) -> (I, O, *k)
            return np.ascontiguousarray(np.moveaxis(kernel, (-1, -2), (0, 1)))
        # depthwise (*k, I, M) -> (I*M, 1, *k)
        spatial = kernel.shape[:d]
        moved = np.moveaxis(kernel, (-2, -1), (0, 1))  # (I, M, *k)
        return np.ascontiguousarray(moved.reshape(-1, 1, *spatial))

    def from_torch_layout(self, kernel: np.ndarray, op: str, groups: int) -> np.ndarray:
        import numpy as np

        if op in ("conv", "conv_transpose"):
            return np.ascontiguousarray(np.moveaxis(kernel, (0, 1), (-1, -2)))
        spatial = kernel.shape[2:]
        moved = kernel.reshape(groups, -1, *spatial)  # (I, M, *k)
        return np.ascontiguousarray(np.moveaxis(moved, (0, 1), (-2, -1)))


    # ----- running -----------------------------------------------------------------------
    def run_source(self, call: SourceCall, x: np.ndarray, kernel: Optional[np.ndarray],
                   bias: Optional[np.ndarray], ch: Channels) -> np.ndarray:
        keras = import_keras(RUNNING)
        kw, d = call.kwargs, x.ndim - 2
        padding = kw.get("padding", "valid")
        if call.op in ("conv", "conv_transpose"):
            options: dict[str, Any] = {"strides": kw.get("stride", 1), "padding": padding,
                                       "dilation_rate": kw.get("dilation", 1), "use_bias": bias is not None}
            if call.op == "conv":
                layer = getattr(keras.layers, f"Conv{d}D")(ch.out_channels, kw["kernel"],
                                                           groups=kw.get("groups", 1), **options)
            else:
                layer = getattr(keras.layers, f"Conv{d}DTranspose")(
                    ch.out_channels, kw["kernel"], output_padding=kw.get("output_padding"), **options)
            layer.build((None, *x.shape[2:], ch.in_channels))
            layer.set_weights([kernel] if bias is None else [kernel, bias])
        else:
            kind = "MaxPooling" if call.op == "max_pool" else "AveragePooling"
            layer = getattr(keras.layers, f"{kind}{d}D")(kw["kernel"], strides=kw.get("stride"), padding=padding)
        return self.from_native(keras.ops.convert_to_numpy(layer(self.to_native(x))))

    def run_code(self, code: str, x: np.ndarray, kernel: Optional[np.ndarray],
                 bias: Optional[np.ndarray]) -> np.ndarray:
        keras = import_keras(RUNNING)
        names = execute(code)
        if kernel is not None:
            names["set_weights"](kernel, bias)
        return self.from_native(keras.ops.convert_to_numpy(names["layer"](self.to_native(x))))


_SET_WEIGHTS = '''def set_weights(kernel, bias=None):
    """Load NumPy weights in Keras' layout (convgeom.port_weights(..., target="tensorflow"))."""
    LOAD'''

_SUBSAMPLE = '''class Subsample(keras.layers.Layer):
    """Keeps every s-th cell of each spatial axis (channels last), from the first: a stride-1
    layer followed by this is the strided layer (Keras refuses strides with dilation)."""

    def __init__(self, strides, **kwargs):
        super().__init__(**kwargs)
        self.strides = tuple(strides)

    def call(self, x):
        for axis, s in enumerate(self.strides, start=1):
            if s > 1:
                x = keras.ops.take(x, list(range(0, x.shape[axis], s)), axis=axis)
        return x

    def compute_output_shape(self, shape):
        spatial = [None if n is None else (n + s - 1) // s for n, s in zip(shape[1:-1], self.strides)]
        return (shape[0], *spatial, shape[-1])'''

_ZERO_INSERT = '''class ZeroInsert(keras.layers.Layer):
    """Puts s - 1 zeros between the cells of each spatial axis (channels last) and `before` /
    `after` zeros at its ends: a stride-1 transposed convolution of this is the strided one,
    with that many more output cells at each end (zeros plus bias, as output_padding adds)."""

    def __init__(self, strides, before, after, **kwargs):
        super().__init__(**kwargs)
        self.strides, self.before, self.after = tuple(strides), tuple(before), tuple(after)

    def call(self, x):
        for axis, (s, before, after) in enumerate(zip(self.strides, self.before, self.after), start=1):
            n = x.shape[axis]
            if s > 1:
                cells = keras.ops.stack([x] + [keras.ops.zeros_like(x)] * (s - 1), axis=axis + 1)
                shape = list(x.shape)
                shape[axis] = n * s
                x = keras.ops.take(keras.ops.reshape(cells, [-1 if v is None else v for v in shape]),
                                   list(range((n - 1) * s + 1)), axis=axis)
            if before or after:
                width = [(0, 0)] * len(x.shape)
                width[axis] = (before, after)
                x = keras.ops.pad(x, width)
        return x

    def compute_output_shape(self, shape):
        spatial = [None if n is None else (n - 1) * s + 1 + b + a
                   for n, s, b, a in zip(shape[1:-1], self.strides, self.before, self.after)]
        return (shape[0], *spatial, shape[-1])'''

_GROUPED = '''class CLASS(keras.layers.Layer):
    """LAYER with groups (Keras has none): one layer per group of input channels, outputs
    concatenated. The kernel is (*kernel_size, filters/groups, in_channels)."""

    def __init__(self, groups, filters, *args, **kwargs):
        super().__init__()
        self.groups = groups
        self.convs = [keras.layers.LAYER(filters // groups, *args, **kwargs) for _ in range(groups)]

    def build(self, input_shape):
        for conv in self.convs:
            conv.build((*input_shape[:-1], input_shape[-1] // self.groups))

    def call(self, x):
        step = x.shape[-1] // self.groups
        return keras.ops.concatenate([conv(x[..., g * step:(g + 1) * step]) for g, conv in enumerate(self.convs)],
                                     axis=-1)

    def set_group_weights(self, kernel, bias=None):
        step, out = kernel.shape[-1] // self.groups, kernel.shape[-2]
        for g, conv in enumerate(self.convs):
            weights = [kernel[..., g * step:(g + 1) * step]]
            conv.set_weights(weights if bias is None else weights + [bias[g * out:(g + 1) * out]])'''

_PAD = '''class Pad(keras.layers.Layer):
    """Pads the spatial axes of channels-last input: a constant `value`, or 'reflect',
    'replicate', 'circular' as PyTorch's F.pad does (gathered with keras.ops.take, which every
    backend implements alike)."""

    def __init__(self, pads, mode="constant", value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.pads, self.mode, self.value = [tuple(p) for p in pads], mode, value

    def call(self, x):
        if self.mode == "constant":
            return keras.ops.pad(x, [(0, 0), *self.pads, (0, 0)], constant_values=self.value)
        for axis, (before, after) in enumerate(self.pads, start=1):
            n = x.shape[axis]
            if self.mode == "reflect":
                index = [*range(before, 0, -1), *range(n), *range(n - 2, n - 2 - after, -1)]
            elif self.mode == "replicate":
                index = [0] * before + list(range(n)) + [n - 1] * after
            else:  # circular
                index = [*range(n - before, n), *range(n), *range(after)]
            x = keras.ops.take(x, index, axis=axis)
        return x

    def compute_output_shape(self, shape):
        spatial = [None if n is None else n + b + a for n, (b, a) in zip(shape[1:-1], self.pads)]
        return (shape[0], *spatial, shape[-1])'''

_AVG_COUNTED = '''class AvgPoolCounted(keras.layers.Layer):
    """Average pooling whose divisor counts the taps on the input and on the `counted` padding:
    window sums of the zero-padded input over window sums of a mask that is 1 on counted cells
    (the same 'valid' pool divides both by its window size)."""

    def __init__(self, pool_size, strides, pads, counted, **kwargs):
        super().__init__(**kwargs)
        d = len(pads)
        self.pool_size = tuple(pool_size) if isinstance(pool_size, (tuple, list)) else (pool_size,) * d
        self.strides = tuple(strides) if isinstance(strides, (tuple, list)) else (strides,) * d
        self.pads, self.counted = pads, counted

    def call(self, x):
        mask = keras.ops.ones((1, *x.shape[1:-1], 1), dtype=x.dtype)
        mask = keras.ops.pad(mask, [(0, 0), *self.counted, (0, 0)], constant_values=1.0)
        rest = [(p - c, q - e) for (p, q), (c, e) in zip(self.pads, self.counted)]
        mask = keras.ops.pad(mask, [(0, 0), *rest, (0, 0)])
        x = keras.ops.pad(x, [(0, 0), *self.pads, (0, 0)])
        sums = keras.ops.average_pool(x, self.pool_size, self.strides, "valid")
        return sums / keras.ops.average_pool(mask, self.pool_size, self.strides, "valid")

    def compute_output_shape(self, shape):
        sizes = zip(shape[1:-1], self.pads, self.pool_size, self.strides)
        spatial = [None if n is None else (n + b + a - k) // s + 1 for n, (b, a), k, s in sizes]
        return (shape[0], *spatial, shape[-1])'''
