"""Kernel layouts between frameworks, with NumPy only.

Every emitter maps its framework's layout to PyTorch's and back (PyTorch: convolution
``(O, I/g, *k)``, transposed convolution ``(I, O/g, *k)``, depthwise ``(I*M, 1, *k)`` with
``groups = I``); a conversion goes through PyTorch's layout. Bias is ``(O,)`` everywhere.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from ..errors import GeometryError
from ..optional import needed
from ..params import as_int, one_of
from .emitters import get_emitter

if TYPE_CHECKING:
    import numpy as np

WEIGHT_OPS = ("conv", "conv_transpose", "depthwise_conv")


def port_weights(
    kernel: Any,
    bias: Any = None,
    *,
    op: str = "conv",
    source: str,
    target: str,
    groups: int = 1,
) -> tuple[np.ndarray, Optional[np.ndarray]]:
    """``kernel`` (and ``bias``) of a ``source`` layer in the ``target`` framework's layout.

    ``op``: 'conv' (PyTorch/ONNX ``(O, I/g, *k)``; Keras/JAX ``(*k, I/g, O)``),
    'conv_transpose' (PyTorch/ONNX ``(I, O/g, *k)``; Keras ``(*k, O, I)``; JAX
    ``(*k, I/g, O)`` spatially flipped, as ``lax.conv_transpose(transpose_kernel=False)`` and
    convgeom's JAX code take it) or 'depthwise_conv' (a Keras ``DepthwiseConv*D`` kernel
    ``(*k, I, M)``; elsewhere a convolution with ``groups = I``, which ``groups`` must give
    unless the source is Keras).
    """
    with needed("port_weights", "port"):
        import numpy as np
    op = one_of("op", op, WEIGHT_OPS)
    groups = as_int("groups", groups, low=1)
    k = np.asarray(kernel)
    if k.ndim not in (3, 4, 5):
        raise GeometryError(f"kernel has {k.ndim} dims; a 1-3-d layer's kernel has 3 to 5",
                            fix="pass the layer's kernel array (channels and spatial axes)")
    src, dst = get_emitter(source), get_emitter(target)
    if op == "depthwise_conv" and src.framework == "tensorflow":
        groups = k.shape[-2]
    canonical = src.to_torch_layout(k, op, groups)
    first = canonical.shape[0]
    if first % groups or (op == "depthwise_conv" and canonical.shape[1] != 1):
        raise GeometryError(
            f"a {op} kernel of shape {k.shape} in {source}'s layout does not fit groups={groups}",
            fix="check op, source and groups (a depthwise kernel needs groups = input channels)")
    out_kernel = dst.from_torch_layout(canonical, op, groups)
    out_bias = None
    if bias is not None:
        out_bias = np.array(bias, copy=True)
        if out_bias.ndim != 1:
            raise GeometryError(f"bias must be 1-d, got shape {out_bias.shape}", fix="pass the (out_channels,) bias")
    return out_kernel, out_bias
