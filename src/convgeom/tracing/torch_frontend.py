"""PyTorch frontend: trace an ``nn.Module`` on the meta device, without activation memory.

How it works
------------
* The input is a ``meta`` tensor. A :class:`torch.overrides.TorchFunctionMode`
  (:class:`~convgeom.tracing.torch_tracer.Tracer`) sees every torch function and tensor method
  the model calls (``F.conv2d``, ``torch.cat``, ``x + y``, ``x.view(...)``, ``F.interpolate``,
  ...). Windowed ops (conv, transposed conv, pooling, adaptive pooling, resize, pad), norms,
  activations, element-wise arithmetic, ``cat`` and ``linear`` are *not executed*: their output
  shape comes from the geometry engine through the builder (:mod:`convgeom.tracing.torch_ops`)
  and a fresh meta tensor of that shape is returned, so trace time does not depend on the input
  resolution. Every other op runs on meta tensors (parameters and buffers are replaced by cached
  meta stand-ins for that call only), so shapes stay exact.
* Global module pre/post hooks (registered for the duration of the trace and always removed in
  ``finally``) attribute ops to modules: all ops inside a leaf module form one record named by
  its qualified name from ``named_modules()``; ops called directly in a container's ``forward``
  (``torch.cat`` in a UNet, residual adds, ``F.conv2d`` in a TF-style "same" conv) form their own
  records named ``<module>.<op>`` (``_1``, ``_2``... for repeats), or the module's own name when
  the op uses that module's parameters.
* The model is never modified: it is not moved, nothing is registered on it, parameters and
  buffers are never written (even ``BatchNorm``'s ``num_batches_tracked.add_(1)`` in training mode
  runs on a meta stand-in).
* Ops without a meta kernel, or whose control flow needs values (``.item()``, ``bool(x)``),
  run once on zero-filled CPU tensors and are reported as ``unknown-op`` / ``data-dependent``
  findings; unknown ops never stop the trace.
* An exception raised by the model's own code (not by an op convgeom traces) is a one-line
  :class:`~convgeom.errors.UserCodeError` naming the file and line.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional

import torch

from ..errors import GeometryError, GeometryTypeError, UserCodeError
from .failures import TraceFailure
from .frontend import Frontend
from .records import Finding, Trace
from .rf import Shape
from .torch_ops import TABLES
from .torch_tracer import DTYPES, Tracer, flat


def _spatial_dims(shape: Shape) -> list[int]:
    return list(range(2, len(shape))) if len(shape) >= 3 else []


def trace_torch(model: torch.nn.Module, input_shapes: Sequence[Shape], *, dtype: Optional[torch.dtype] = None,
                model_name: Optional[str] = None) -> Trace:
    """Trace ``model`` on meta tensors of ``input_shapes`` (NC... layout; the receptive field is
    measured on the spatial axes ``2..`` of the first input). Raises :class:`TraceFailure` where
    the real forward pass would fail."""
    if not isinstance(model, torch.nn.Module):
        raise GeometryTypeError(f"expected a torch.nn.Module, got {type(model).__name__}")
    tracer = Tracer(model, len(_spatial_dims(input_shapes[0])), TABLES)
    dt = dtype or torch.get_default_dtype()
    inputs = [torch.empty(shape, dtype=dt, device="meta") for shape in input_shapes]
    tids = tracer.builder.add_inputs(list(input_shapes), [str(dt).removeprefix("torch.")] * len(inputs), _spatial_dims)
    for x, tid in zip(inputs, tids):
        tracer.register(x, tid)
    output = _forward(model, tracer, inputs)
    out_ids = [tracer.act[id(o)] for o in flat(output) if id(o) in tracer.act]
    tracer.builder.report_unknown()
    for name, count in sorted(tracer.data_dependent.items()):
        tracer.builder.add_finding(Finding(
            "data-dependent", "warning", name,
            f"the model needs tensor values at {name} ({count} call{'s' if count > 1 else ''}); convgeom ran it on "
            "zeros, so shapes after it assume all-zero data",
            "avoid value-dependent control flow in forward for exact static shapes"))
    params = list(model.parameters())
    return tracer.builder.finish(
        model=model_name or type(model).__name__, outputs=out_ids,
        params=sum(p.numel() for p in params),
        trainable_params=sum(p.numel() for p in params if p.requires_grad),
        param_bytes=sum(p.numel() * p.element_size() for p in params))


def _forward(model: torch.nn.Module, tracer: Tracer, inputs: list[torch.Tensor]) -> Any:
    """``model(*inputs)`` under the tracer, with the module hooks registered for this call only.
    Where the model's own code raises, :class:`UserCodeError` says where."""
    pre = torch.nn.modules.module.register_module_forward_pre_hook(tracer.pre_hook)
    post = torch.nn.modules.module.register_module_forward_hook(tracer.post_hook)
    try:
        with torch.no_grad(), tracer:
            return model(*inputs)
    except (TraceFailure, GeometryError):
        raise
    except Exception as exc:
        raise UserCodeError(f"the forward pass of {type(model).__name__}", exc) from exc
    finally:
        pre.remove()
        post.remove()


def _run(model: Any, shapes: list[Shape], dtype: Optional[str]) -> Trace:
    return trace_torch(model, shapes, dtype=None if dtype is None else DTYPES[dtype])


def spatial_dims(model: Any, shape: Shape) -> tuple[int, ...]:
    """NC... layout: the spatial dims are 2.."""
    return tuple(_spatial_dims(shape))


def declared_shapes(model: Any) -> list[Shape]:
    raise GeometryError("an input shape is needed to trace a PyTorch model", fix="pass input_shape=(1, 3, 224, 224)")


FRONTEND = Frontend("torch", _run, spatial_dims, declared_shapes)

__all__ = ["FRONTEND", "trace_torch"]
