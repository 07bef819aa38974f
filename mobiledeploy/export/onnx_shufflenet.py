"""Write ShuffleNet (V1, V2) as an ONNX graph from the Keras layers, batch norm folded in.

The same approach as onnx_writer.py (NHWC float input, one Transpose in front, softmax scores out), for
a graph with branches: grouped Convs keep their `group` (ONNX has it natively), the channel shuffle is
Reshape-Transpose-Reshape in NCHW, V2's split is a Split, pools are MaxPool/AveragePool with PyTorch's
padding (the average counts the padded zeros, as PyTorch's default and our Keras model do).
"""
from __future__ import annotations

import numpy as np

from ..model import architecture_shufflenet as shuffle
from ..model.shufflenet import input_affine
from .onnx_layers import OPSET, folded as _folded


def shufflenet_to_onnx(model, alpha: float, resolution: int, family):
    """An onnx.ModelProto computing the same softmax scores as the Keras ShuffleNet (batch 1, NHWC input)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], []
    by_name = {layer.name: layer for layer in family.layers(alpha, resolution, None)}

    def node(op, inputs, name, **attrs):
        nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
        return name

    def conv(x, name, relu=True):
        spec = by_name[name]
        depthwise = spec.kind == "dw"
        w, b = _folded(model, spec, depthwise)
        inits.extend([numpy_helper.from_array(w, f"{name}_W"), numpy_helper.from_array(b, f"{name}_B")])
        pad = spec.kernel // 2
        y = node("Conv", [x, f"{name}_W", f"{name}_B"], name, kernel_shape=[spec.kernel] * 2,
                 strides=[spec.stride] * 2, pads=[pad] * 4, group=spec.cin if depthwise else spec.groups)
        return node("Relu", [y], f"{name}_relu") if relu else y

    def channel_shuffle(x, name, groups, channels, size):
        inits.append(numpy_helper.from_array(np.array([1, groups, channels // groups, size, size], np.int64),
                                             f"{name}_grouped"))
        inits.append(numpy_helper.from_array(np.array([1, channels, size, size], np.int64), f"{name}_flat"))
        y = node("Reshape", [x, f"{name}_grouped"], f"{name}_reshape")
        y = node("Transpose", [y], f"{name}_transpose", perm=[0, 2, 1, 3, 4])
        return node("Reshape", [y, f"{name}_flat"], name)

    x = node("Transpose", ["input"], "x_nchw", perm=[0, 3, 1, 2])
    scale, offset = input_affine()
    inits += [numpy_helper.from_array(np.array(scale, np.float32).reshape(1, 3, 1, 1), "input_scale"),
              numpy_helper.from_array(np.array(offset, np.float32).reshape(1, 3, 1, 1), "input_offset")]
    x = node("Add", [node("Mul", [x, "input_scale"], "input_scaled"), "input_offset"], "input_norm")
    x = conv(x, "conv1")
    x = node("MaxPool", [x], "maxpool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    for u in shuffle.units(family.version, alpha, resolution, family.groups):
        n = u.name
        if u.version == 1:
            y = conv(x, f"{n}_gconv1")
            if u.groups > 1:
                y = channel_shuffle(y, f"{n}_shuffle", u.groups, u.mid, u.in_size)
            y = conv(y, f"{n}_dw", relu=False)
            if u.stride == 1:
                y = conv(y, f"{n}_gconv2", relu=False)
                x = node("Relu", [node("Add", [x, y], f"{n}_add")], f"{n}_relu")
            else:
                y = conv(y, f"{n}_gconv2")
                pooled = node("AveragePool", [x], f"{n}_pool", kernel_shape=[3, 3], strides=[2, 2],
                              pads=[1, 1, 1, 1], count_include_pad=1)
                x = node("Concat", [pooled, y], f"{n}_concat", axis=1)
            continue
        if u.stride == 1:
            nodes.append(helper.make_node("Split", [x], [f"{n}_kept", f"{n}_half"], name=f"{n}_split", axis=1,
                                          num_outputs=2) if OPSET >= 18 else
                         helper.make_node("Split", [x, f"{n}_sizes"], [f"{n}_kept", f"{n}_half"],
                                          name=f"{n}_split", axis=1))
            if OPSET < 18:
                inits.append(numpy_helper.from_array(np.array([u.mid, u.mid], np.int64), f"{n}_sizes"))
            kept, y = f"{n}_kept", f"{n}_half"
        else:
            kept = conv(conv(x, f"{n}_proj_dw", relu=False), f"{n}_proj_pw")
            y = x
        y = conv(conv(conv(y, f"{n}_pw1"), f"{n}_dw", relu=False), f"{n}_pw2")
        x = node("Concat", [kept, y], f"{n}_concat", axis=1)
        x = channel_shuffle(x, f"{n}_shuffle", 2, u.cout, u.out_size)
    if family.version == 2:
        x = conv(x, "conv5")
    x = node("GlobalAveragePool", [x], "global_pool")
    x = node("Flatten", [x], "flatten", axis=1)
    kernel, bias = model.get_layer(family.classifier).get_weights()
    name = family.classifier
    inits += [numpy_helper.from_array(kernel.T.astype(np.float32), f"{name}_W"),
              numpy_helper.from_array(bias.astype(np.float32), f"{name}_B")]
    x = node("Gemm", [x, f"{name}_W", f"{name}_B"], f"{name}_fc", transB=1)
    node("Softmax", [x], "predictions", axis=-1)
    outputs = int(kernel.shape[-1])
    graph = helper.make_graph(
        nodes, model.name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, resolution, resolution, 3])],
        [helper.make_tensor_value_info("predictions", TensorProto.FLOAT, [1, outputs])],
        initializer=inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="mobiledeploy")
    proto.ir_version = min(proto.ir_version, 8)
    onnx.checker.check_model(proto)
    return proto
