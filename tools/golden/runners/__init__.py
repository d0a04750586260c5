"""One runner per framework; each imports its framework only when constructed (in a worker)."""
from __future__ import annotations

from .base import Runner


def make_runner(spec: str) -> Runner:
    """spec: 'tensorflow:1' / 'tensorflow:0' (oneDNN on / off), 'jax' or 'onnx'."""
    fw, _, variant = spec.partition(":")
    if fw == "tensorflow":
        from .tf_runner import TFRunner
        return TFRunner(variant or "1")
    if fw == "jax":
        from .jax_runner import JaxRunner
        return JaxRunner()
    from .onnx_runner import OnnxRunner
    return OnnxRunner()
