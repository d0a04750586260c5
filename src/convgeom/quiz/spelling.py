"""How each framework writes a layer: the code a question shows, in the framework's own API
(``nn.Conv2d``, ``keras.layers.Conv2D``, ``lax.conv_general_dilated``, an ONNX ``Conv`` node),
and the shape of its input (channels first, or last for Keras).

This is wording, not geometry: which layers a framework accepts and what they compute is the
dialects' business (:mod:`convgeom.dialects`). One small class per framework, as there.
Every piece of code written here is an expression the tests run (PyTorch, Keras and ONNX
Runtime) to check that the layer the learner reads is the layer whose answer is given. A field
the learner has to find is written ``?``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

from ..dialects import get_dialect
from .layers import Layer, Pad, is_pairs, side_pairs, symmetric_pads

AXIS_NAMES = {1: "length", 2: "height, width", 3: "depth, height, width"}


def value(values: Sequence[int]) -> str:
    """``3`` when every axis agrees, else ``(3, 5)`` (PyTorch and Keras broadcast an int)."""
    return str(values[0]) if len(set(values)) == 1 else str(tuple(values))


def shape(values: Sequence[int]) -> str:
    """A tuple as Python prints it."""
    return str(tuple(values))


def written(padding: Pad) -> str:
    """Integer padding as PyTorch and Keras take it: ``1``, ``(1, 2)`` or ``((0, 1), (1, 1))``."""
    return str(side_pairs(padding)) if is_pairs(padding) else value(symmetric_pads(padding))


def axes_phrase(ndim: int) -> str:
    """``(height, width)``."""
    return f"({AXIS_NAMES[ndim]})"


class Spelling:
    """The wording shared by every framework; subclasses write the code."""

    name = "generic"
    channels_last = False

    @property
    def label(self) -> str:
        return get_dialect(self.name).label

    def input_shape(self, sizes: Sequence[int], channels: int) -> tuple[int, ...]:
        """The full input shape: batch 1, then channels first (or last)."""
        return (1, *sizes, channels) if self.channels_last else (1, channels, *sizes)

    def code(self, layer: Layer, c_in: int, c_out: int, hide: Optional[str] = None) -> str:
        raise NotImplementedError

    def sentence(self, layer: Layer, c_in: int, c_out: int, hide: Optional[str] = None) -> str:
        """One sentence: the layer's code and the input it runs on, in the framework's words."""
        code = self.code(layer, c_in, c_out, hide)
        return f"`{code}` is applied to an input of shape {shape(self.input_shape(layer.input, c_in))}."

    def option(self, layer: Layer, c_in: int, c_out: int) -> str:
        """The layer as one choice of a multiple-choice question (its code, and what the code
        leaves out)."""
        return self.code(layer, c_in, c_out)

    def described(self, layer: Layer, c_in: int, c_out: int) -> str:
        """The layer's code in backticks, and what the code leaves out (JAX: the kernel's shape)."""
        return f"`{self.code(layer, c_in, c_out)}`"

    def stack(self, layers: Sequence[Layer], channels: Sequence[int]) -> str:
        """Several layers in order (``channels[i]`` feeds layer ``i``)."""
        return ", then ".join(self.described(x, channels[i], channels[i + 1]) for i, x in enumerate(layers))


class TorchSpelling(Spelling):
    name = "torch"

    def code(self, layer: Layer, c_in: int, c_out: int, hide: Optional[str] = None) -> str:
        nd = layer.ndim
        names = {"conv": f"nn.Conv{nd}d", "conv_transpose": f"nn.ConvTranspose{nd}d",
                 "max_pool": f"nn.MaxPool{nd}d", "avg_pool": f"nn.AvgPool{nd}d"}
        args = [str(c_in), str(c_out)] if not layer.pooling else []
        args += [f"kernel_size={value(layer.kernel)}", f"stride={value(layer.stride)}"]
        before = ""
        if hide == "padding":
            args.append("padding=?")
        elif isinstance(layer.padding, str):
            args.append(f'padding="{layer.padding}"')
        elif is_pairs(layer.padding) and layer.op == "conv":
            # per-side pads are F.pad (nn.ZeroPad*d, last axis first) before a padding=0 conv
            pads = tuple(v for pair in reversed(side_pairs(layer.padding)) for v in pair)
            before = f"nn.ZeroPad{nd}d({pads})"
        else:
            args.append(f"padding={written(layer.padding)}")
        if any(d != 1 for d in layer.dilation):
            args.append(f"dilation={value(layer.dilation)}")
        if hide == "output_padding":
            args.append("output_padding=?")
        elif layer.output_padding is not None:
            args.append(f"output_padding={value(layer.output_padding)}")
        if layer.ceil_mode:
            args.append("ceil_mode=True")
        code = f"{names[layer.op]}({', '.join(args)})"
        return f"nn.Sequential({before}, {code})" if before else code

    def sentence(self, layer: Layer, c_in: int, c_out: int, hide: Optional[str] = None) -> str:
        code = self.code(layer, c_in, c_out, hide)
        return f"`{code}` is applied to a tensor of shape {shape(self.input_shape(layer.input, c_in))}."


class KerasSpelling(Spelling):
    name = "tensorflow"
    channels_last = True

    def code(self, layer: Layer, c_in: int, c_out: int, hide: Optional[str] = None) -> str:
        nd = layer.ndim
        names = {"conv": f"Conv{nd}D", "conv_transpose": f"Conv{nd}DTranspose",
                 "max_pool": f"MaxPooling{nd}D", "avg_pool": f"AveragePooling{nd}D"}
        if layer.pooling:
            args = [f"pool_size={value(layer.kernel)}"]
        else:
            args = [str(c_out), f"kernel_size={value(layer.kernel)}"]
        args.append(f"strides={value(layer.stride)}")
        if hide == "padding":
            args.append("padding=?")
        elif isinstance(layer.padding, str):
            args.append(f'padding="{layer.padding}"')
        else:
            args.append(f"padding={written(layer.padding)}")
        if any(d != 1 for d in layer.dilation):
            args.append(f"dilation_rate={value(layer.dilation)}")
        if hide == "output_padding":
            args.append("output_padding=?")
        elif layer.output_padding is not None:
            args.append(f"output_padding={value(layer.output_padding)}")
        if layer.ceil_mode:
            args.append("ceil_mode=True")
        return f"keras.layers.{names[layer.op]}({', '.join(args)})"

    def sentence(self, layer: Layer, c_in: int, c_out: int, hide: Optional[str] = None) -> str:
        code = self.code(layer, c_in, c_out, hide)
        return (f"`{code}` (Keras 3 on TensorFlow) is applied to an input of shape "
                f"{shape(self.input_shape(layer.input, c_in))} (channels last).")

    def stack(self, layers: Sequence[Layer], channels: Sequence[int]) -> str:
        inner = ", ".join(self.code(x, channels[i], channels[i + 1]) for i, x in enumerate(layers))
        return f"`keras.Sequential([{inner}])`"


class JaxSpelling(Spelling):
    name = "jax"

    def _padding(self, layer: Layer, hide: Optional[str], lead: int) -> str:
        """``"SAME"``, or explicit ``(lo, hi)`` pairs (``lead`` leading (0, 0) pairs for batch
        and channels, as ``reduce_window`` pads every dimension)."""
        nd = layer.ndim
        if hide == "padding":
            items = ["(0, 0)"] * lead + ["(?, ?)"] * nd
            return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
        if isinstance(layer.padding, str):
            return f'"{layer.padding.upper()}"'
        return str(((0, 0),) * lead + side_pairs(layer.padding))

    def code(self, layer: Layer, c_in: int, c_out: int, hide: Optional[str] = None) -> str:
        nd = layer.ndim
        spec = {1: ("NCH", "OIH"), 2: ("NCHW", "OIHW"), 3: ("NCDHW", "OIDHW")}[nd]
        extra = []
        if any(d != 1 for d in layer.dilation):
            key = "window_dilation" if layer.pooling else "rhs_dilation"
            extra.append(f"{key}={shape(((1, 1) if layer.pooling else ()) + layer.dilation)}")
        # lax has no output_padding: a zero one is no argument (as the dialect reads it), any
        # other is an argument lax refuses
        if hide == "output_padding":
            extra.append("output_padding=?")
        elif layer.output_padding is not None and any(layer.output_padding):
            extra.append(f"output_padding={shape(layer.output_padding)}")
        if layer.ceil_mode:
            extra.append("ceil_mode=True")
        tail = "".join(f", {e}" for e in extra)
        if layer.op == "conv":
            return (f"lax.conv_general_dilated(x, w, window_strides={shape(layer.stride)}, "
                    f"padding={self._padding(layer, hide, 0)}{tail})")
        if layer.op == "conv_transpose":
            return (f"lax.conv_transpose(x, w, strides={shape(layer.stride)}, padding={self._padding(layer, hide, 0)}, "
                    f"dimension_numbers={(spec[0], spec[1], spec[0])}{tail})")
        init, reducer = ("-jnp.inf", "lax.max") if layer.op == "max_pool" else ("0.0", "lax.add")
        return (f"lax.reduce_window(x, {init}, {reducer}, window_dimensions={shape((1, 1) + layer.kernel)}, "
                f"window_strides={shape((1, 1) + layer.stride)}, padding={self._padding(layer, hide, 2)}{tail})")

    def sentence(self, layer: Layer, c_in: int, c_out: int, hide: Optional[str] = None) -> str:
        code = self.code(layer, c_in, c_out, hide)
        x = f"x of shape {shape(self.input_shape(layer.input, c_in))}"
        if layer.pooling:
            what = " (a sum pool: dividing by the window size makes it an average pool)" if layer.op == "avg_pool" else ""
            return f"`{code}`{what} runs on {x}."
        return f"`{code}` runs on {x} with a kernel w of shape {self._kernel(layer, c_in, c_out)}."

    def _kernel(self, layer: Layer, c_in: int, c_out: int) -> str:
        return shape((c_out, c_in) + layer.kernel)

    def option(self, layer: Layer, c_in: int, c_out: int) -> str:
        code = self.code(layer, c_in, c_out)
        return code if layer.pooling else f"{code}  # w: {self._kernel(layer, c_in, c_out)}"

    def described(self, layer: Layer, c_in: int, c_out: int) -> str:
        code = f"`{self.code(layer, c_in, c_out)}`"
        return code if layer.pooling else f"{code} with w of shape {self._kernel(layer, c_in, c_out)}"


class OnnxSpelling(Spelling):
    name = "onnx"

    def code(self, layer: Layer, c_in: int, c_out: int, hide: Optional[str] = None) -> str:
        nd = layer.ndim
        names = {"conv": "Conv", "conv_transpose": "ConvTranspose", "max_pool": "MaxPool", "avg_pool": "AveragePool"}
        args = [f"kernel_shape={list(layer.kernel)}", f"strides={list(layer.stride)}"]
        if hide == "padding":
            args.append("pads=[" + ", ".join(["?"] * 2 * nd) + "]")
        elif isinstance(layer.padding, str):
            mode = {"same": "SAME_UPPER"}.get(layer.padding, layer.padding.upper())
            args.append(f'auto_pad="{mode}"')
        else:
            pairs = side_pairs(layer.padding)
            args.append(f"pads={[b for b, _ in pairs] + [a for _, a in pairs]}")
        if any(d != 1 for d in layer.dilation):
            args.append(f"dilations={list(layer.dilation)}")
        if hide == "output_padding":
            args.append("output_padding=[" + ", ".join(["?"] * nd) + "]")
        elif layer.output_padding is not None:
            args.append(f"output_padding={list(layer.output_padding)}")
        if layer.ceil_mode:
            args.append("ceil_mode=1")
        return f"{names[layer.op]}({', '.join(args)})"

    def sentence(self, layer: Layer, c_in: int, c_out: int, hide: Optional[str] = None) -> str:
        code = self.code(layer, c_in, c_out, hide)
        weight = ""
        if not layer.pooling:
            w = (c_out, c_in) if layer.op == "conv" else (c_in, c_out)
            weight = f" with a weight of shape {shape(w + layer.kernel)}"
        return (f"The ONNX node `{code}` (opset 19, run by ONNX Runtime){weight} runs on an input of shape "
                f"{shape(self.input_shape(layer.input, c_in))}.")


SPELLINGS: dict[str, Spelling] = {s.name: s for s in (TorchSpelling(), KerasSpelling(), JaxSpelling(), OnnxSpelling())}


def spelling(framework: str) -> Spelling:
    return SPELLINGS[framework]
