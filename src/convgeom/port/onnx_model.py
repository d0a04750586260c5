"""An ``onnx.ModelProto`` from a ported ONNX layer dict (``convgeom.port(..., target='onnx')``)."""

from __future__ import annotations

from typing import Any, Optional

from ..errors import GeometryError
from ..optional import needed


def onnx_model(layer: dict[str, Any], input_shape: tuple[int, ...], kernel: Any = None, bias: Any = None) -> Any:
    """One-layer model: input ``x`` of ``input_shape`` (float32), output ``y``, the layer's
    nodes and constants, ``kernel``/``bias`` as the initializers ``W``/``B`` (ONNX layout:
    :func:`convgeom.port_weights` with ``target='onnx'``)."""
    with needed("onnx_model", "onnx"):
        import numpy as np
        import onnx
        from onnx import TensorProto, helper, numpy_helper

    def tensor(name: str, spec: dict[str, Any]) -> Any:
        values = np.array(spec["values"], dtype=spec["dtype"]).reshape(spec["dims"])
        return numpy_helper.from_array(values, name)

    initializers = [tensor(name, spec) for name, spec in layer["constants"].items()]
    arrays: dict[str, Optional[Any]] = {"W": kernel, "B": bias}
    for name in layer["weights"]:
        if arrays[name] is None:
            raise GeometryError(f"the layer needs its {'kernel' if name == 'W' else 'bias'}",
                                fix="pass kernel= and bias= (convgeom.port_weights(..., target='onnx'))")
        initializers.append(numpy_helper.from_array(np.asarray(arrays[name], dtype=np.float32), name))
    nodes = []
    for node in layer["nodes"]:
        attributes = {k: tensor("value", v) if isinstance(v, dict) else v for k, v in node["attributes"].items()}
        nodes.append(helper.make_node(node["op_type"], node["inputs"], node["outputs"], **attributes))
    graph = helper.make_graph(
        nodes, "ported",
        [helper.make_tensor_value_info(layer["input"], TensorProto.FLOAT, list(input_shape))],
        [helper.make_tensor_value_info(layer["output"], TensorProto.FLOAT,
                                       [f"y{i}" for i in range(len(input_shape))])],
        initializer=initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", layer["opset"])])
    model.ir_version = min(model.ir_version, 9)  # readable by ONNX Runtime builds a little older than onnx
    onnx.checker.check_model(model)
    return model
