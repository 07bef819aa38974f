"""Write MobileNet v1 as an ONNX graph straight from the Keras layers, batch norm folded in.

Why not tf2onnx: it pins protobuf < 4 while TensorFlow 2.21 needs a current protobuf, and the network
is five operator types. The graph keeps the artifact's NHWC float input (one Transpose in front), so
every consumer feeds every file the same tensor.
"""
from __future__ import annotations

import numpy as np

from ..model import architecture as arch
from ..model.mobilenet import BN_EPSILON

OPSET = 17


def _folded(model, name: str, depthwise: bool):
    """Kernel in ONNX layout (O, I/group, kh, kw) and bias, with the layer's batch norm folded in."""
    kernel = model.get_layer(name).get_weights()[0].astype(np.float64)
    gamma, beta, mean, var = (w.astype(np.float64) for w in model.get_layer(f"{name}_bn").get_weights())
    eps = model.get_layer(f"{name}_bn").epsilon if hasattr(model.get_layer(f"{name}_bn"), "epsilon") else BN_EPSILON
    factor = gamma / np.sqrt(var + eps)
    if depthwise:                       # Keras (kh, kw, C, 1) -> ONNX (C, 1, kh, kw)
        w = kernel.transpose(2, 3, 0, 1) * factor[:, None, None, None]
    else:                               # Keras (kh, kw, I, O) -> ONNX (O, I, kh, kw)
        w = kernel.transpose(3, 2, 0, 1) * factor[:, None, None, None]
    return w.astype(np.float32), (beta - mean * factor).astype(np.float32)


def keras_to_onnx(model, alpha: float, resolution: int):
    """An onnx.ModelProto computing the same softmax scores as the Keras model (batch 1, NHWC input)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    outputs = model.get_layer("conv_preds").filters
    nodes, inits = [], []
    nodes.append(helper.make_node("Transpose", ["input"], ["x_nchw"], perm=[0, 3, 1, 2], name="to_nchw"))
    x = "x_nchw"
    for spec in arch.layers(alpha, resolution, outputs=None):
        dw = spec.kind == "dw"
        w, b = _folded(model, spec.name, dw)
        inits += [numpy_helper.from_array(w, f"{spec.name}_W"), numpy_helper.from_array(b, f"{spec.name}_B")]
        pt, pb = arch.same_pads(spec.in_size, spec.kernel, spec.stride)
        nodes.append(helper.make_node(
            "Conv", [x, f"{spec.name}_W", f"{spec.name}_B"], [f"{spec.name}_out"], name=spec.name,
            kernel_shape=[spec.kernel] * 2, strides=[spec.stride] * 2, pads=[pt, pt, pb, pb],
            group=spec.cin if dw else 1))
        nodes.append(helper.make_node("Clip", [f"{spec.name}_out", "relu6_min", "relu6_max"],
                                      [f"{spec.name}_relu"], name=f"{spec.name}_relu"))
        x = f"{spec.name}_relu"
    inits += [numpy_helper.from_array(np.array(0.0, np.float32), "relu6_min"),
              numpy_helper.from_array(np.array(6.0, np.float32), "relu6_max")]
    kernel, bias = model.get_layer("conv_preds").get_weights()
    inits += [numpy_helper.from_array(kernel.transpose(3, 2, 0, 1).astype(np.float32), "conv_preds_W"),
              numpy_helper.from_array(bias.astype(np.float32), "conv_preds_B"),
              numpy_helper.from_array(np.array([1, outputs], np.int64), "logits_shape")]
    nodes += [
        helper.make_node("GlobalAveragePool", [x], ["pooled"], name="global_pool"),
        helper.make_node("Conv", ["pooled", "conv_preds_W", "conv_preds_B"], ["logits4d"], name="conv_preds",
                         kernel_shape=[1, 1]),
        helper.make_node("Reshape", ["logits4d", "logits_shape"], ["logits"], name="reshape"),
        helper.make_node("Softmax", ["logits"], ["predictions"], name="predictions", axis=-1),
    ]
    graph = helper.make_graph(
        nodes, model.name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, resolution, resolution, 3])],
        [helper.make_tensor_value_info("predictions", TensorProto.FLOAT, [1, outputs])],
        initializer=inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="mobiledeploy")
    proto.ir_version = min(proto.ir_version, 8)  # readable by onnxruntime releases back to 1.14
    onnx.checker.check_model(proto)
    return proto
