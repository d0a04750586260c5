"""One emitter per target framework behind one interface (:class:`~.base.Emitter`), the way
:mod:`convgeom.dialects` keeps one dialect per framework. Only :func:`get_emitter` picks one."""

from __future__ import annotations

from ...dialects import canonical_framework
from .base import Channels, Emitter, Rendering
from .jax import JaxEmitter
from .keras import KerasEmitter
from .onnx import OnnxEmitter
from .torch import TorchEmitter

EMITTERS: dict[str, Emitter] = {e.framework: e for e in (TorchEmitter(), KerasEmitter(), JaxEmitter(), OnnxEmitter())}


def get_emitter(framework: str) -> Emitter:
    """The emitter of a framework name or alias ('torch', 'keras', 'tf', 'jax', 'onnx', ...)."""
    return EMITTERS[canonical_framework(framework)]


__all__ = ["EMITTERS", "Channels", "Emitter", "Rendering", "get_emitter"]
