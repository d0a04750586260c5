"""jax.lax on CPU with 64-bit floats: conv_general_dilated, conv_transpose, reduce_window."""
from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from ..calls import LAX_REDUCTION, lax_call
from ..data import Data, make_datas
from ..reference import FloatArray
from ..schema import Config, Extras, Result
from .base import Runner, base_versions, load, observe


class JaxRunner(Runner):
    name = "jax"

    def __init__(self) -> None:
        os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                              "intra_op_parallelism_threads=1")
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
        jax = load("jax")
        jax.config.update("jax_enable_x64", True)
        jax.config.update("jax_platforms", "cpu")
        jaxlib = load("jaxlib")
        self.jax, self.lax = jax, load("jax.lax")
        self.versions = {"jax": jax.__version__, "jaxlib": jaxlib.__version__, **base_versions()}

    def _call(self, cfg: Config, w: Any) -> Callable[[Any], Any]:
        """x -> the lax call of cfg (weights w for the convolutions)."""
        call = lax_call(cfg)
        fn = getattr(self.lax, call.function)
        if cfg["op"] in LAX_REDUCTION:
            init, comp = LAX_REDUCTION[cfg["op"]]
            return lambda x: fn(x, init, getattr(self.lax, comp), **call.kwargs)
        return lambda x: fn(x, w, **call.kwargs)

    def run(self, cfg: Config, seed: int, do_symbolic: bool) -> tuple[Result, Extras]:
        n, k = cfg["input"], cfg["kernel"]
        datas = make_datas(cfg, seed, dtype=np.float64)
        w = datas[0].w
        call = self._call(cfg, None if w is None else w.reshape((1, 1, *k)))

        def run(dt: Data) -> FloatArray:
            y = np.asarray(self.jax.block_until_ready(call(dt.x.reshape((1, 1, *n)))))
            return y.reshape(y.shape[2:])
        return observe(cfg, datas, lambda: run), {}
