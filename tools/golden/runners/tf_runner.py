"""Keras 3 layers on the TensorFlow backend, executed eagerly (and symbolically on request),
plus the tf.nn numeric cases of tensorflow_ops.json. One process runs with oneDNN on or off,
decided before TensorFlow is imported (see isolation.TFDual)."""
from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from ..calls import keras_layer
from ..data import Data, make_datas
from ..numeric import KINDS, NumericCase, draw_case
from ..reference import FloatArray
from ..schema import Config, Extras, Result
from .base import Runner, base_versions, err_str, load, observe


class TFRunner(Runner):
    name = "tensorflow"

    def __init__(self, onednn: str = "1") -> None:
        os.environ["KERAS_BACKEND"] = "tensorflow"
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        os.environ["TF_ENABLE_ONEDNN_OPTS"] = onednn
        tf = load("tensorflow")
        tf.get_logger().setLevel("ERROR")
        try:
            tf.config.threading.set_intra_op_parallelism_threads(1)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:
            pass
        keras = load("keras")
        if keras.backend.backend() != "tensorflow":
            raise SystemExit("KERAS_BACKEND must be tensorflow (import keras after setting it)")
        self.tf, self.keras = tf, keras
        self.versions = {"tensorflow": tf.__version__, "keras": keras.__version__,
                         **base_versions(), "TF_ENABLE_ONEDNN_OPTS": onednn}

    def _make_layer(self, cfg: Config) -> Any:
        call = keras_layer(cfg)
        return getattr(self.keras.layers, call.function)(*call.args, **call.kwargs)

    def _eager(self, cfg: Config, datas: list[Data]) -> Callable[[], Callable[[Data], FloatArray]]:
        n = cfg["input"]

        def prepare() -> Callable[[Data], FloatArray]:
            layer = self._make_layer(cfg)
            if datas[0].w is not None:
                layer.build((1, *n, 1))
                layer.set_weights([datas[0].w.reshape((*cfg["kernel"], 1, 1)).astype(np.float32)])

            def run(dt: Data) -> FloatArray:
                y = np.asarray(layer(dt.x.reshape((1, *n, 1)).astype(np.float32)))
                return y.reshape(y.shape[1:-1])
            return run
        return prepare

    def _symbolic(self, cfg: Config) -> Result:
        """The output size when the layer is called on keras.Input (shape inference)."""
        try:
            out = self._make_layer(cfg)(self.keras.Input(shape=(*cfg["input"], 1), batch_size=1))
            return {"output": [None if v is None else int(v) for v in out.shape[1:-1]]}
        except Exception as e:  # noqa: BLE001
            return {"error": err_str(e)}

    def run(self, cfg: Config, seed: int, do_symbolic: bool) -> tuple[Result, Extras]:
        datas = make_datas(cfg, seed)
        result = observe(cfg, datas, self._eager(cfg, datas))
        if do_symbolic:
            return result, {"sym": self._symbolic(cfg)}
        return result, {}

    def _numeric(self, case: NumericCase) -> Any:
        nn = self.tf.nn
        if case.f is not None and case.dilations is not None:
            return nn.conv2d(case.x, case.f, strides=[1, *case.strides, 1], padding=case.padding,
                             dilations=[1, *case.dilations, 1]).numpy()
        return getattr(nn, case.op)(case.x, ksize=case.ksize, strides=case.strides,
                                    padding=case.padding).numpy()

    def numeric_ops(self, rng: np.random.Generator, count: int) -> list[dict[str, Any]]:
        """count numeric cases (see numeric.py); cases TensorFlow rejects or that come out
        empty are skipped."""
        cases: list[dict[str, Any]] = []
        while len(cases) < count:
            case = draw_case(rng, KINDS[len(cases) % len(KINDS)])
            if case is None:
                continue
            try:
                y = self._numeric(case)
            except Exception:  # noqa: BLE001
                continue
            if y.size > 0:
                cases.append(case.record(y))
        return cases
