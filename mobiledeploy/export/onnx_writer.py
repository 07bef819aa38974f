"""Write MobileNet (v1, V2) as an ONNX graph straight from the Keras layers, batch norm folded in.

Why not tf2onnx: it pins protobuf < 4 while TensorFlow 2.21 needs a current protobuf, and the network
is seven operator types. The graph keeps the artifact's NHWC float input (one Transpose in front), so
every consumer feeds every file the same tensor.
"""
from __future__ import annotations

import numpy as np

from ..model import architecture as arch
from ..model.families import DEFAULT, FAMILIES
from .onnx_layers import OPSET, folded as _folded

def keras_to_onnx(model, alpha: float, resolution: int, family=None):
    """An onnx.ModelProto computing the same softmax scores as the Keras model (batch 1, NHWC input).

    Walks the family's layer table: each layer is a Conv (batch norm folded) and, when it has an
    activation, a ReLU6 Clip; a residual layer adds the block's input; the head is the family's
    (v1: 1x1 Conv + Reshape, v2: Flatten + Gemm)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    family = family or FAMILIES[DEFAULT]
    if family.builder == "shufflenet":  # branches, pools, shuffles: its own writer
        from .onnx_shufflenet import shufflenet_to_onnx

        return shufflenet_to_onnx(model, alpha, resolution, family)
    classifier = model.get_layer(family.classifier)
    nodes, inits = [], []
    nodes.append(helper.make_node("Transpose", ["input"], ["x_nchw"], perm=[0, 3, 1, 2], name="to_nchw"))
    x = block_input = "x_nchw"
    for spec in family.layers(alpha, resolution, outputs=None):
        if spec.block_start:
            block_input = x
        dw = spec.kind == "dw"
        w, b = _folded(model, spec, dw)
        inits += [numpy_helper.from_array(w, f"{spec.name}_W"), numpy_helper.from_array(b, f"{spec.name}_B")]
        pt, pb = arch.same_pads(spec.in_size, spec.kernel, spec.stride)
        nodes.append(helper.make_node(
            "Conv", [x, f"{spec.name}_W", f"{spec.name}_B"], [f"{spec.name}_out"], name=spec.name,
            kernel_shape=[spec.kernel] * 2, strides=[spec.stride] * 2, pads=[pt, pt, pb, pb],
            group=spec.cin if dw else 1))
        x = f"{spec.name}_out"
        if spec.act:
            nodes.append(helper.make_node("Clip", [x, "relu6_min", "relu6_max"], [f"{spec.name}_relu"],
                                          name=spec.act))
            x = f"{spec.name}_relu"
        if spec.add:
            nodes.append(helper.make_node("Add", [block_input, x], [f"{spec.add}_out"], name=spec.add))
            x = f"{spec.add}_out"
    inits += [numpy_helper.from_array(np.array(0.0, np.float32), "relu6_min"),
              numpy_helper.from_array(np.array(6.0, np.float32), "relu6_max")]
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["pooled"], name="global_pool"))
    kernel, bias = classifier.get_weights()
    name = family.classifier
    if family.head == "conv":
        outputs = classifier.filters
        inits += [numpy_helper.from_array(kernel.transpose(3, 2, 0, 1).astype(np.float32), f"{name}_W"),
                  numpy_helper.from_array(bias.astype(np.float32), f"{name}_B"),
                  numpy_helper.from_array(np.array([1, outputs], np.int64), "logits_shape")]
        nodes += [helper.make_node("Conv", ["pooled", f"{name}_W", f"{name}_B"], ["logits4d"], name=name,
                                   kernel_shape=[1, 1]),
                  helper.make_node("Reshape", ["logits4d", "logits_shape"], ["logits"], name="reshape")]
    else:                               # Dense: Keras (C, O) -> Gemm B with transB (O, C)
        outputs = classifier.units
        inits += [numpy_helper.from_array(kernel.T.astype(np.float32), f"{name}_W"),
                  numpy_helper.from_array(bias.astype(np.float32), f"{name}_B")]
        nodes += [helper.make_node("Flatten", ["pooled"], ["pooled_flat"], name="flatten", axis=1),
                  helper.make_node("Gemm", ["pooled_flat", f"{name}_W", f"{name}_B"], ["logits_fc"], name=f"{name}_fc",
                                   transB=1)]
    logits = "logits" if family.head == "conv" else "logits_fc"
    nodes.append(helper.make_node("Softmax", [logits], ["predictions"], name="softmax", axis=-1))
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
