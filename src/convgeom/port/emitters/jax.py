"""JAX ``lax``: ``conv_general_dilated`` (a transposed convolution as ``lhs_dilation`` with
explicit pads on the stride-dilated input, what ``lax.conv_transpose`` does), ``reduce_window``
for pooling. Activations ``(N, *spatial, C)``; kernels ``(*k, I/g, O)`` (flax's ``HWIO``), for
a transposed convolution in ``lax.conv_transpose(transpose_kernel=False)`` form, i.e. the
spatially flipped PyTorch kernel (``jax/_src/lax/convolution.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Optional

from ...arithmetic import effective_kernel
from ...optional import require
from ...params import RawPads
from ..construction import Construction, SourceCall
from ..spec import LayerSpec
from .base import RUNNING, Channels, Emitter, Rendering, execute, pairs_text, per_axis_values, tuple_text

if TYPE_CHECKING:
    import numpy as np

_JNP_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}
_STRINGS = ("same", "same_lower", "valid")


def _dimension_numbers(ndim: int) -> str:
    spatial = "DHW"[3 - ndim:]
    return tuple_text((f"N{spatial}C", f"{spatial}IO", f"N{spatial}C"))


def _padding_text(padding: Any) -> str:
    if isinstance(padding, str):
        return repr(padding.upper())
    if isinstance(padding, RawPads):
        return pairs_text(padding.pairs)
    return pairs_text(padding)


class JaxEmitter(Emitter):
    framework = "jax"
    label = "JAX"
    channels_last = True
    no_padding = "valid"

    # ----- proposals ---------------------------------------------------------------------
    def native_candidates(self, spec: LayerSpec) -> Iterator[Construction]:
        if spec.op == "conv_transpose":
            # pads on the stride-dilated input that leave the wanted crop: e - 1 - crop
            pads = tuple((effective_kernel(a.kernel, a.dilation) - 1 - a.pad_before,
                          effective_kernel(a.kernel, a.dilation) - 1 - a.pad_after) for a in spec.axes)
            yield self.make(spec, {"padding": RawPads(pads)})
            return
        options: list[Any] = [spec.declared_pads, *_STRINGS, spec.pads_to_apply]
        for padding in options:
            if spec.op == "avg_pool":
                for cip in (True, False):
                    yield self.make(spec, {"padding": padding, "count_include_pad": cip})
            else:
                yield self.make(spec, {"padding": padding})

    # ----- code --------------------------------------------------------------------------
    def _call(self, spec: LayerSpec, c: Construction, padding: str, operand: str = "x") -> str:
        d = spec.ndim
        if spec.op in ("conv", "conv_transpose"):
            args = [operand, "kernel", f"window_strides={tuple_text(spec.stride)}" if spec.op == "conv"
                    else f"window_strides={tuple_text((1,) * d)}", f"padding={padding}"]
            if spec.op == "conv_transpose":
                args.append(f"lhs_dilation={tuple_text(spec.stride)}")
            args += [f"rhs_dilation={tuple_text(spec.dilation)}", f"dimension_numbers={_dimension_numbers(d)}",
                     f"feature_group_count={spec.groups}"]
            return f"lax.conv_general_dilated({', '.join(args)})"
        init, fn = ("-jnp.inf", "lax.max") if spec.op == "max_pool" else ("0.0", "lax.add")
        window = tuple_text((1, *spec.kernel, 1))
        strides = tuple_text((1, *spec.stride, 1))
        dilation = tuple_text((1, *spec.dilation, 1))
        if not padding.startswith("'"):  # explicit pairs (or a name holding them), batch and channels unpadded
            padding = f"((0, 0), *{padding}, (0, 0))"
        return f"lax.reduce_window({operand}, {init}, {fn}, {window}, {strides}, {padding}, window_dilation={dilation})"

    def _folded(self, spec: LayerSpec, c: Construction) -> tuple[str, Optional[str]]:
        """The padding argument of the lax call and an optional ``jnp.pad`` line: zero and
        -inf pads go into the lax call (its pads read zeros / the -inf init), others first."""
        if c.pre_pad is None:
            return _padding_text(c.kwargs["padding"]), None
        if c.pad_mode in ("zeros", "-inf"):
            return pairs_text(c.pre_pad), None
        width = f"((0, 0), *{pairs_text(c.pre_pad)}, (0, 0))"
        return "'VALID'", f"x = jnp.pad(x, {width}, mode={_JNP_MODES[c.pad_mode]!r})"

    def render(self, spec: LayerSpec, c: Construction, ch: Channels) -> Rendering:
        padding, pad_line = self._folded(spec, c)
        call = self._call(spec, c, padding)
        lines = [pad_line] if pad_line else []
        if spec.op in ("conv", "conv_transpose"):
            signature = "x, kernel, bias=None"
            lines += [f"y = {call}", "return y if bias is None else y + bias"]
            doc = (f"x: {self.layout(spec.ndim)}; kernel: (*kernel_size, in/groups, out)"
                   + (", spatially flipped against PyTorch's (convgeom.port_weights flips it)"
                      if spec.op == "conv_transpose" else ""))
        else:
            signature = "x"
            doc = f"x: {self.layout(spec.ndim)}"
            if spec.op == "max_pool":
                lines.append(f"return {call}")
            else:
                lines += [f"sums = {call}", f"return sums / {self._divisor(spec, c, padding)}"]
        body = "\n    ".join(lines)
        statement = f'def layer({signature}):\n    """{doc}"""\n    {body}'
        return Rendering(("import jax.numpy as jnp", "from jax import lax"), call, (), "", statement)

    def _divisor(self, spec: LayerSpec, c: Construction, padding: str) -> str:
        """The average's divisor: fixed, or the window sums of a mask of the counted cells."""
        if c.divisor is not None:
            return str(c.divisor)
        counted = c.count
        if counted is None:
            if c.pre_pad is not None or c.kwargs.get("count_include_pad"):
                return str(spec.window)
            counted = tuple((0, 0) for _ in spec.axes)
        ones = "jnp.ones((1, *x.shape[1:-1], 1), x.dtype)"
        if any(v for p in counted for v in p):
            ones = f"jnp.pad({ones}, ((0, 0), *{pairs_text(counted)}, (0, 0)), constant_values=1.0)"
            if c.pre_pad is not None:
                padding = pairs_text(tuple((p - cb, q - ca) for (p, q), (cb, ca) in zip(c.pre_pad, counted)))
        return self._call(spec, c, padding, ones)

    def render_dynamic(self, spec: LayerSpec, c: Construction, ch: Channels, call: SourceCall) -> Optional[Rendering]:
        from .torch import _spec_call

        spec_call = _spec_call(call, "tuple(x.shape[1:-1])")
        lines = [f"spec = {spec_call}", "pads = spec.pads_to_apply"]
        if spec.op == "conv":
            if spec.pad_mode != "zeros":
                lines.append(f"x = jnp.pad(x, ((0, 0), *pads, (0, 0)), mode={_JNP_MODES[spec.pad_mode]!r})")
                lines.append("pads = 'VALID'")
            lines += [f"y = {self._call(spec, c, 'pads')}", "return y if bias is None else y + bias"]
            signature = "x, kernel, bias=None"
        elif spec.op == "max_pool":
            lines.append(f"return {self._call(spec, c, 'pads')}")
            signature = "x"
        else:
            sums = self._call(spec, c, "pads")
            ones = ("jnp.pad(jnp.ones((1, *x.shape[1:-1], 1), x.dtype), ((0, 0), *spec.counted, (0, 0)), "
                    "constant_values=1.0)")
            counts = self._call(spec, c, "rest", ones)
            lines += [f"sums = {sums}", "if spec.divisor is not None:", "    return sums / spec.divisor",
                      "rest = [(p - c, q - e) for (p, q), (c, e) in zip(pads, spec.counted)]",
                      f"return sums / {counts}"]
            signature = "x"
        body = "\n    ".join(lines)
        statement = (f'def layer({signature}):\n    """Pads every input the way {call.framework} does, whatever its '
                     f'size (the pads come from convgeom at trace time)."""\n    {body}')
        return Rendering(("import jax.numpy as jnp", "from jax import lax", "", "import convgeom"),
                         "layer", (), "", statement)

    # ----- weights -----------------------------------------------------------------------
    def to_torch_layout(self, kernel: np.ndarray, op: str, groups: int) -> np.ndarray:
        import numpy as np

        d = kernel.ndim - 2
        if op != "conv_transpose":  # (*k, I/g, O) -> (O, I/g, *k)
            return np.ascontiguousarray(np.moveaxis(kernel, (-1, -2), (0, 1)))
        # (*k, I/g, O) flipped -> (I, O/g, *k)
        spatial, in_per_group, out = kernel.shape[:d], kernel.shape[-2], kernel.shape[-1]
        k = np.flip(kernel, axis=tuple(range(d))).reshape(*spatial, in_per_group, groups, out // groups)
        k = np.moveaxis(k, (d + 1, d, d + 2), (0, 1, 2))  # (g, I/g, O/g, *k)
        return np.ascontiguousarray(k.reshape(groups * in_per_group, out // groups, *spatial))

    def from_torch_layout(self, kernel: np.ndarray, op: str, groups: int) -> np.ndarray:
        import numpy as np

        d = kernel.ndim - 2
        if op != "conv_transpose":
            return np.ascontiguousarray(np.moveaxis(kernel, (0, 1), (-1, -2)))
        spatial, in_channels, out_per_group = kernel.shape[2:], kernel.shape[0], kernel.shape[1]
        k = kernel.reshape(groups, in_channels // groups, out_per_group, *spatial)
        k = np.moveaxis(k, (0, 1, 2), (d + 1, d, d + 2))  # (*k, I/g, g, O/g)
        k = k.reshape(*spatial, in_channels // groups, groups * out_per_group)
        return np.ascontiguousarray(np.flip(k, axis=tuple(range(d))))

    # ----- running -----------------------------------------------------------------------
    def run_source(self, call: SourceCall, x: np.ndarray, kernel: Optional[np.ndarray],
                   bias: Optional[np.ndarray], ch: Channels) -> np.ndarray:
        jax = require("jax", RUNNING)
        d = x.ndim - 2

        def forward(xs: Any, w: Any, b: Any) -> Any:  # one jit: one XLA compilation per layer
            return self._source_lax(call, d, xs, w, b)

        y = jax.jit(forward)(self.to_native(x), kernel, bias)
        return self.from_native(y)

    def _source_lax(self, call: SourceCall, d: int, xs: Any, kernel: Any, bias: Any) -> Any:
        """The source layer with lax's own padding arguments (strings, pairs, raw pads)."""
        import numpy as np

        jnp, lax = require("jax.numpy", RUNNING), require("jax.lax", RUNNING)
        kw = call.kwargs
        stride = per_axis_values(call, "stride", d, None)
        if stride[0] is None:
            stride = per_axis_values(call, "kernel", d, 1)
        dilation = per_axis_values(call, "dilation", d, 1)
        padding = _lax_padding(kw.get("padding", 0), d)
        dims = ("N" + "DHW"[3 - d:] + "C", "DHW"[3 - d:] + "IO", "N" + "DHW"[3 - d:] + "C")
        if call.op == "conv":
            y = lax.conv_general_dilated(xs, kernel, stride, padding, rhs_dilation=dilation,
                                         dimension_numbers=dims, feature_group_count=kw.get("groups", 1))
        elif call.op == "conv_transpose":
            if isinstance(padding, str) and kw.get("groups", 1) == 1:
                y = lax.conv_transpose(xs, kernel, stride, padding, rhs_dilation=dilation, dimension_numbers=dims)
            else:  # pads on the stride-dilated input, what lax.conv_transpose passes on
                y = lax.conv_general_dilated(xs, kernel, (1,) * d, padding, lhs_dilation=stride,
                                             rhs_dilation=dilation, dimension_numbers=dims,
                                             feature_group_count=kw.get("groups", 1))
        else:
            window = (1, *per_axis_values(call, "kernel", d, 1), 1)
            strides, dil = (1, *stride, 1), (1, *dilation, 1)
            full = padding if isinstance(padding, str) else ((0, 0), *padding, (0, 0))
            if call.op == "max_pool":
                return lax.reduce_window(xs, -jnp.inf, lax.max, window, strides, full, window_dilation=dil)
            sums = lax.reduce_window(xs, 0.0, lax.add, window, strides, full, window_dilation=dil)
            if kw.get("count_include_pad", True) is not False:
                return sums / float(np.prod(window))
            ones = jnp.ones((1, *xs.shape[1:-1], 1), xs.dtype)
            return sums / lax.reduce_window(ones, 0.0, lax.add, window, strides, full, window_dilation=dil)
        return y if bias is None else y + bias

    def run_code(self, code: str, x: np.ndarray, kernel: Optional[np.ndarray],
                 bias: Optional[np.ndarray]) -> np.ndarray:
        jax = require("jax", RUNNING)
        layer = jax.jit(execute(code)["layer"])
        xs = self.to_native(x)
        return self.from_native(layer(xs) if kernel is None else layer(xs, kernel, bias))


def _lax_padding(padding: Any, d: int) -> Any:
    """A convgeom padding argument as lax takes it: 'SAME'/'SAME_LOWER'/'VALID' or pairs."""
    if isinstance(padding, str):
        return padding.upper()
    if isinstance(padding, RawPads):
        return padding.pairs
    if isinstance(padding, int):
        return ((padding, padding),) * d
    if padding and isinstance(padding[0], (tuple, list)):
        return tuple(tuple(p) for p in padding)
    return tuple((p, p) for p in padding)
