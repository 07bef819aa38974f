"""A .tflite file as an editable flatbuffer object model: the operators and tensors the int8 steps work on.

Shared by the range setting, the float fallback and the bias correction (each edits the same object form).
"""
from __future__ import annotations

from .quant_debug import COMPUTE_OPS, layer_name


def flatbuffer_module():
    """TensorFlow's flatbuffer reader/writer for .tflite files (object form, editable)."""
    from tensorflow.lite.tools import flatbuffer_utils

    return flatbuffer_utils


def op_name(model, op) -> str:
    """The builtin operator name of `op` (CONV_2D, RESHAPE, ...) in a flatbuffer object model."""
    from tensorflow.lite.python import schema_py_generated as schema

    code = model.operatorCodes[op.opcodeIndex]
    number = max(code.builtinCode, code.deprecatedBuiltinCode)
    return next((k for k, v in vars(schema.BuiltinOperator).items() if v == number and not k.startswith("_")), "?")


def compute_ops(model) -> list[tuple[str, object, object, str]]:
    """(layer, op, output tensor, op name) for every compute op of the first subgraph."""
    g = model.subgraphs[0]
    out = []
    for op in g.operators:
        name = op_name(model, op)
        if name in COMPUTE_OPS:
            tensor = g.tensors[op.outputs[0]]
            out.append((layer_name(tensor.name.decode(), name), op, tensor, name))
    return out
