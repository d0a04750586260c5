"""ONNX (opset 19, as ONNX Runtime runs it): nodes as attribute dicts. Activations
``(N, C, *spatial)``; ``W`` is ``(O, I/g, *k)`` for Conv and ``(I, O/g, *k)`` for
ConvTranspose, as PyTorch (``onnx/defs/nn/defs.cc``); ``pads`` lists all begins, then all ends.
A layer dict becomes a model with :func:`convgeom.port.onnx_model`."""

from __future__ import annotations

import pprint
from collections.abc import Iterator
from itertools import product
from typing import TYPE_CHECKING, Any, Optional

from ...optional import require
from ..construction import Construction, SourceCall
from ..spec import LayerSpec, Pads
from .base import ONNX_OPSET, RUNNING, Channels, Emitter, Rendering, execute, per_axis_values

if TYPE_CHECKING:
    import numpy as np

_AUTO_PAD = {"same": "SAME_UPPER", "same_lower": "SAME_LOWER", "valid": "VALID"}
_PAD_MODES = {"zeros": "constant", "-inf": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}
_OP_TYPES = {"conv": "Conv", "conv_transpose": "ConvTranspose", "max_pool": "MaxPool", "avg_pool": "AveragePool"}


def onnx_pads(pads: Pads) -> list[int]:
    """``[x1_begin, x2_begin, ..., x1_end, x2_end, ...]``."""
    return [b for b, _ in pads] + [a for _, a in pads]


def _tensor(dtype: str, values: list[Any], dims: Optional[list[int]] = None) -> dict[str, Any]:
    return {"dtype": dtype, "dims": [len(values)] if dims is None else dims, "values": values}


class _Graph:
    """Collects nodes and constants, naming intermediate values."""

    def __init__(self) -> None:
        self.nodes: list[dict[str, Any]] = []
        self.constants: dict[str, dict[str, Any]] = {}

    def add(self, op_type: str, inputs: list[str], output: str, **attributes: Any) -> str:
        self.nodes.append({"op_type": op_type, "inputs": inputs, "outputs": [output], "attributes": attributes})
        return output

    def pad(self, value: str, pads: Pads, mode: str, output: str, fill: float = 0.0) -> str:
        rank_pads = [(0, 0), (0, 0), *pads]
        name = f"{output}_pads"
        self.constants[name] = _tensor("int64", onnx_pads(tuple(rank_pads)))
        inputs = [value, name]
        if _PAD_MODES[mode] == "constant":
            self.constants[f"{output}_value"] = _tensor("float32", [float("-inf") if mode == "-inf" else fill], [])
            inputs.append(f"{output}_value")
        return self.add("Pad", inputs, output, mode=_PAD_MODES[mode])


class OnnxEmitter(Emitter):
    framework = "onnx"
    label = "ONNX"
    #: ONNX Runtime's MaxPool starts from float32's lowest (measured: tests/test_port_exactness.py)
    empty_max_window = -3.4028234663852886e38

    # ----- proposals ---------------------------------------------------------------------
    def native_candidates(self, spec: LayerSpec) -> Iterator[Construction]:
        if spec.op == "conv_transpose":
            extra = tuple(max(0, -a.pad_after) for a in spec.axes)
            crop = tuple((a.pad_before, max(0, a.pad_after)) for a in spec.axes)
            yield self.make(spec, {"padding": crop, "output_padding": extra})
            return
        symmetric = tuple((b, b) for b, _ in spec.pads_to_apply)
        options: list[Any] = [spec.source_pads, "same", "same_lower", "valid", spec.declared_pads,
                              spec.pads_to_apply, symmetric]
        ceil_modes = (False,) if spec.op == "conv" else (False, True)
        include_pad = (False, True) if spec.op == "avg_pool" else (None,)
        for padding, ceil, cip in product(options, ceil_modes, include_pad):
            native: dict[str, Any] = {"padding": padding}
            if spec.op != "conv":
                native["ceil_mode"] = ceil
            if spec.op == "avg_pool":
                native["count_include_pad"] = cip
            yield self.make(spec, native)

    # ----- code --------------------------------------------------------------------------
    def _attributes(self, spec: LayerSpec, c: Construction) -> dict[str, Any]:
        kw = c.kwargs
        attrs: dict[str, Any] = {"kernel_shape": list(spec.kernel), "strides": list(spec.stride),
                                 "dilations": list(spec.dilation)}
        if spec.op in ("conv", "conv_transpose"):
            attrs["group"] = spec.groups
        padding = kw.get("padding", 0)
        if isinstance(padding, str):
            attrs["auto_pad"] = _AUTO_PAD[padding]
        elif padding != 0 and any(v for p in padding for v in p):
            attrs["pads"] = onnx_pads(padding)
        if kw.get("output_padding") and any(kw["output_padding"]):
            attrs["output_padding"] = list(kw["output_padding"])
        if kw.get("ceil_mode"):
            attrs["ceil_mode"] = 1
        if spec.op == "avg_pool":
            attrs["count_include_pad"] = int(bool(kw.get("count_include_pad")))
        return attrs

    def layer_dict(self, spec: LayerSpec, c: Construction, ch: Channels) -> dict[str, Any]:
        g = _Graph()
        value = "x"
        if c.pre_pad is not None:
            value = g.pad(value, c.pre_pad, c.pad_mode, "x_padded")
        inputs = [value]
        weights: list[str] = []
        if spec.op in ("conv", "conv_transpose"):
            weights = ["W", "B"] if ch.bias else ["W"]
            inputs += weights
        last = c.post_crop is None and c.divisor is None and c.count is None
        attrs = self._attributes(spec, c)
        value = g.add(_OP_TYPES[spec.op], inputs, "y" if last else "y_layer", **attrs)
        if c.post_crop is not None:
            g.pad(value, tuple((-b, -a) for b, a in c.post_crop), "zeros", "y")
        elif c.divisor is not None:
            g.constants["scale"] = _tensor("float32", [spec.window / c.divisor], [])
            g.add("Mul", [value, "scale"], "y")
        elif c.count is not None:
            self._counts(g, spec, c, attrs)
            g.add("Div", [value, "counts"], "y")
        return {"opset": ONNX_OPSET, "input": "x", "output": "y", "layout": self.layout(spec.ndim),
                "weights": weights, "constants": g.constants, "nodes": g.nodes}

    def _counts(self, g: _Graph, spec: LayerSpec, c: Construction, attrs: dict[str, Any]) -> None:
        """Window sums of a mask that is 1 on the input and the counted padding (both pools
        average over the whole window, so their quotient is sum / count)."""
        assert c.count is not None
        pads = c.pre_pad or tuple((0, 0) for _ in spec.axes)
        g.add("Shape", ["x"], "x_shape")
        g.add("ConstantOfShape", ["x_shape"], "ones", value=_tensor("float32", [1.0], [1]))
        mask = g.pad("ones", c.count, "zeros", "mask_counted", fill=1.0)
        rest = tuple((p - cb, q - ca) for (p, q), (cb, ca) in zip(pads, c.count))
        mask = g.pad(mask, rest, "zeros", "mask")
        g.add(_OP_TYPES[spec.op], [mask], "counts", **attrs)

    def render(self, spec: LayerSpec, c: Construction, ch: Channels) -> Rendering:
        data = self.layer_dict(spec, c, ch)
        text = pprint.pformat(data, width=100, sort_dicts=False).replace("-inf", "float('-inf')")
        tail = ("# model = convgeom.port.onnx_model(layer, input_shape"
                + (", kernel, bias)" if data["weights"] else ")")
                + "  # an onnx.ModelProto (needs the onnx package)")
        return Rendering((), text, (), tail)

    # ----- running -----------------------------------------------------------------------
    def source_dict(self, call: SourceCall, ndim: int, bias: bool) -> dict[str, Any]:
        """The source layer as one ONNX node, its attributes straight from the call."""
        kw = call.kwargs
        attrs: dict[str, Any] = {"kernel_shape": list(per_axis_values(call, "kernel", ndim, 1))}
        stride = per_axis_values(call, "stride", ndim, None)
        attrs["strides"] = list(attrs["kernel_shape"] if stride[0] is None else stride)
        attrs["dilations"] = list(per_axis_values(call, "dilation", ndim, 1))
        padding = kw.get("padding", 0)
        if isinstance(padding, str):
            attrs["auto_pad"] = _AUTO_PAD[padding.lower()]
        elif isinstance(padding, int):
            attrs["pads"] = [padding] * (2 * ndim)
        elif padding and isinstance(padding[0], (tuple, list)):
            attrs["pads"] = onnx_pads(tuple((int(b), int(a)) for b, a in padding))
        else:
            attrs["pads"] = list(padding) * 2
        inputs, weights = ["x"], []
        if call.op in ("conv", "conv_transpose"):
            attrs["group"] = kw.get("groups", 1)
            weights = ["W", "B"] if bias else ["W"]
            inputs += weights
        if kw.get("output_padding") is not None:
            attrs["output_padding"] = list(per_axis_values(call, "output_padding", ndim, 0))
        if kw.get("output_size") is not None:
            attrs["output_shape"] = list(per_axis_values(call, "output_size", ndim, 0))
        if kw.get("ceil_mode"):
            attrs["ceil_mode"] = 1
        if call.op == "avg_pool":
            attrs["count_include_pad"] = int(bool(kw.get("count_include_pad")))
        node = {"op_type": _OP_TYPES[call.op], "inputs": inputs, "outputs": ["y"], "attributes": attrs}
        return {"opset": ONNX_OPSET, "input": "x", "output": "y", "layout": self.layout(ndim),
                "weights": weights, "constants": {}, "nodes": [node]}

    def run_source(self, call: SourceCall, x: np.ndarray, kernel: Optional[np.ndarray],
                   bias: Optional[np.ndarray], ch: Channels) -> np.ndarray:
        return _run_onnx(self.source_dict(call, x.ndim - 2, bias is not None), x, kernel, bias)

    def run_code(self, code: str, x: np.ndarray, kernel: Optional[np.ndarray],
                 bias: Optional[np.ndarray]) -> np.ndarray:
        return _run_onnx(execute(code)["layer"], x, kernel, bias)


def _run_onnx(layer: dict[str, Any], x: np.ndarray, kernel: Optional[np.ndarray],
              bias: Optional[np.ndarray]) -> np.ndarray:
    from ..onnx_model import onnx_model

    ort = require("onnxruntime", RUNNING)

    model = onnx_model(layer, x.shape, kernel, bias)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3  # no warnings about shapes ONNX's inference gets wrong in ceil mode
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return session.run(None, {layer["input"]: x})[0]  # type: ignore[no-any-return]
