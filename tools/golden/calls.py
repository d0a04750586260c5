"""The framework call each configuration makes, as data: the runners execute it and the record's
"call" describes it from the same data (no framework import needed to describe)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from .schema import ONNX_OPSET, Config


class Call(NamedTuple):
    """function(*args, **kwargs) of a framework, by name."""

    function: str  # e.g. "Conv2D" (a keras.layers class) or "conv_transpose" (a jax.lax function)
    args: tuple[Any, ...]
    kwargs: dict[str, Any]

    def describe(self, prefix: str, args: str | None = None) -> str:
        """prefix.function(args, key=value, ...); args replaces the positional arguments."""
        parts = [args] if args is not None else [repr(a) for a in self.args]
        parts += [f"{key}={val!r}" for key, val in self.kwargs.items()]
        return f"{prefix}{self.function}({', '.join(parts)})"


def _ints(v: list[int] | None) -> tuple[int, ...] | None:
    return None if v is None else tuple(v)


def keras_layer(cfg: Config) -> Call:
    """The Keras 3 layer (channels_last, one filter, no bias) that runs cfg."""
    rank = len(cfg["input"])
    op, pad = cfg["op"], cfg["padding"]
    k, s, d = _ints(cfg["kernel"]), _ints(cfg["stride"]), _ints(cfg["dilation"])
    if op == "conv":
        return Call(f"Conv{rank}D", (1, k), {"strides": s, "padding": pad, "dilation_rate": d,
                                              "use_bias": False})
    if op == "conv_transpose":
        return Call(f"Conv{rank}DTranspose", (1, k), {
            "strides": s, "padding": pad, "output_padding": _ints(cfg["output_padding"]),
            "dilation_rate": d, "use_bias": False})
    name = "MaxPooling" if op == "max_pool" else "AveragePooling"
    return Call(f"{name}{rank}D", (), {"pool_size": k, "strides": s, "padding": pad})


def tf_desc(cfg: Config) -> str:
    """Human description of the Keras call made for cfg."""
    n = ",".join(map(str, cfg["input"]))
    return (f"{keras_layer(cfg).describe('keras.layers.')}(x[1,{n},1]) eager, "
            "KERAS_BACKEND=tensorflow")


def jax_padding(pad: object) -> str | list[tuple[int, ...]]:
    """lax padding: a string mode in upper case, or (lo, hi) per axis (raw pads for the
    transposed conv)."""
    if isinstance(pad, str):
        return pad.upper()
    pairs = pad["raw"] if isinstance(pad, dict) else pad
    if not isinstance(pairs, list):
        raise TypeError(f"padding {pad!r} is neither a mode nor a list of pairs")
    return [tuple(p) for p in pairs]


def jax_dimension_numbers(rank: int) -> tuple[str, str, str]:
    sp = "DHW"[3 - rank:]
    return ("NC" + sp, "OI" + sp, "NC" + sp)


def lax_call(cfg: Config) -> Call:
    """The jax.lax function and keyword arguments that run cfg (after the operand and
    weights, or the operand, init value and computation for reduce_window)."""
    k, s, d = cfg["kernel"], tuple(cfg["stride"]), tuple(cfg["dilation"])
    jpad = jax_padding(cfg["padding"])
    dn = jax_dimension_numbers(len(k))
    if cfg["op"] == "conv":
        return Call("conv_general_dilated", (), {
            "window_strides": s, "padding": jpad, "rhs_dilation": d, "dimension_numbers": dn})
    if cfg["op"] == "conv_transpose":
        return Call("conv_transpose", (), {
            "strides": s, "padding": jpad, "rhs_dilation": d, "dimension_numbers": dn})
    wpad = jpad if isinstance(jpad, str) else [(0, 0), (0, 0)] + jpad
    return Call("reduce_window", (), {
        "window_dimensions": (1, 1, *k), "window_strides": (1, 1, *s), "padding": wpad,
        "window_dilation": (1, 1, *d)})


# reduce_window's init value and computation (a jax.lax function name) per pool
LAX_REDUCTION = {"max_pool": (float("-inf"), "max"), "avg_pool": (0.0, "add")}


def jax_desc(cfg: Config) -> str:
    """Human description of the lax call made for cfg."""
    xs = f"x[1,1,{','.join(map(str, cfg['input']))}]"
    if cfg["op"] in LAX_REDUCTION:
        init, comp = LAX_REDUCTION[cfg["op"]]
        return lax_call(cfg).describe("jax.lax.", f"{xs}, {init!r}, lax.{comp}")
    return lax_call(cfg).describe("jax.lax.", f"{xs}, w[1,1,{','.join(map(str, cfg['kernel']))}]")


ONNX_OPTYPE = {"conv": "Conv", "conv_transpose": "ConvTranspose", "max_pool": "MaxPool",
               "avg_pool": "AveragePool"}
_ONNX_ATTR_ORDER = ["kernel_shape", "strides", "dilations", "pads", "auto_pad", "output_padding",
                    "output_shape", "ceil_mode", "count_include_pad", "storage_order"]


def onnx_attributes(cfg: Config) -> dict[str, Any]:
    """The ONNX node's attributes (those the config sets, and kernel_shape)."""
    return dict(cfg.get("_attrs", {}), kernel_shape=list(cfg["kernel"]))


def onnx_desc(cfg: Config) -> str:
    """Human description of the ONNX node executed for cfg."""
    attrs = onnx_attributes(cfg)
    attr_s = ", ".join(f"{a}={attrs[a]!r}" for a in _ONNX_ATTR_ORDER if a in attrs)
    return (f"onnxruntime {ONNX_OPTYPE[cfg['op']]}(opset {ONNX_OPSET}; X[1,1,"
            f"{','.join(map(str, cfg['input']))}]; {attr_s})")


DESCRIBE: dict[str, Callable[[Config], str]] = {
    "tensorflow": tf_desc, "jax": jax_desc, "onnx": onnx_desc}


def describe(fw: str, cfg: Config) -> str:
    return DESCRIBE[fw](cfg)
