"""onnxruntime CPUExecutionProvider: one single-node model per configuration, and what
onnx.shape_inference says about the same model."""
from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from ..calls import ONNX_OPTYPE, onnx_attributes
from ..data import Data, make_datas
from ..reference import FloatArray
from ..schema import ONNX_OPSET, Config, Extras, Result
from .base import Runner, base_versions, err_str, load, observe

IR_VERSION = 10


class OnnxRunner(Runner):
    name = "onnx"

    def __init__(self) -> None:
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        onnx, ort = load("onnx"), load("onnxruntime")
        self.onnx, self.ort = onnx, ort
        ort.set_default_logger_severity(4)
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        so.log_severity_level = 4
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        self.so = so
        self.versions = {"onnx": onnx.__version__, "onnxruntime": ort.__version__,
                         "opset": ONNX_OPSET, **base_versions()}

    def build(self, cfg: Config, data: Data) -> Any:
        """The model: X[1,1,*n] -> node -> Y, the weights (convolutions) as an initializer."""
        helper, tp = self.onnx.helper, self.onnx.TensorProto
        inputs, inits = ["X"], []
        if data.w is not None:
            inputs.append("W")
            w = data.w.reshape((1, 1, *cfg["kernel"])).astype(np.float32)
            inits.append(helper.make_tensor("W", tp.FLOAT, w.shape, w.ravel().tolist()))
        node = helper.make_node(ONNX_OPTYPE[cfg["op"]], inputs, ["Y"], **onnx_attributes(cfg))
        graph = helper.make_graph(
            [node], "g", [helper.make_tensor_value_info("X", tp.FLOAT, [1, 1, *cfg["input"]])],
            [helper.make_tensor_value_info("Y", tp.FLOAT, None)], initializer=inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", ONNX_OPSET)])
        model.ir_version = IR_VERSION
        return model

    def shape_inference(self, model: Any) -> Result:
        """onnx.shape_inference's spatial output size (strict mode), or its error."""
        try:
            m2 = self.onnx.shape_inference.infer_shapes(model, strict_mode=True)
            for vi in m2.graph.output:
                if vi.name == "Y":
                    if not vi.type.tensor_type.HasField("shape"):
                        return {"output": None}
                    return {"output": [dd.dim_value if dd.HasField("dim_value") else None
                                       for dd in vi.type.tensor_type.shape.dim][2:]}
            return {"output": None}
        except Exception as e:  # noqa: BLE001
            return {"error": err_str(e)}

    def run(self, cfg: Config, seed: int, do_symbolic: bool) -> tuple[Result, Extras]:
        datas = make_datas(cfg, seed)
        model = self.build(cfg, datas[0])

        def prepare() -> Callable[[Data], FloatArray]:
            sess = self.ort.InferenceSession(model.SerializeToString(), self.so,
                                             providers=["CPUExecutionProvider"])

            def run(dt: Data) -> FloatArray:
                x = dt.x.reshape((1, 1, *cfg["input"])).astype(np.float32)
                y = sess.run(None, {"X": x})[0]
                out: FloatArray = np.asarray(y).reshape(y.shape[2:])
                return out
            return run
        result = observe(cfg, datas, prepare)
        si = self.shape_inference(model)
        if _disagree(si, result):
            return result, {"shape_inference": si}
        return result, {}


def _disagree(si: Result, result: Result) -> bool:
    """Whether shape inference and the run differ (one failed, or the output sizes)."""
    if ("error" in si) != ("error" in result):
        return True
    return "error" not in si and si.get("output") != result.get("output")
