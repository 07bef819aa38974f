"""Empirical bias correction of an int8 TFLite file, layer by layer (Nagel et al. 2019, "Data-free
quantization", section 4.2, with measured rather than analytic means).

Int8 activations are rounded at every layer; ReLU6 rectifies the rounding noise near 0 and 6, so the
int8 network drifts from the float one by a per-channel offset that grows with depth. For each
convolution in execution order, the mean over the calibration inputs of its int8 output (dequantized)
minus the float output is subtracted from its int32 bias, then the next layer is measured on the
corrected model (sequential: a layer sees its inputs as the corrected network delivers them). The
outputs are after the fused ReLU6, so a channel that spends most of its time clipped is corrected less
than its true pre-activation offset; a correction only moves the bias, never the scales, so the file's
ops, sizes and latency are unchanged.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from .quant_debug import tflite_activations
from .tflite_graph import compute_ops, flatbuffer_module

CORRECTED_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D")
INT32 = 2  # TFLite TensorType


def channel_offsets(quantized: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Mean int8-minus-float difference per channel (last axis) over every input and position. Pure."""
    diff = np.asarray(quantized, np.float64) - np.asarray(reference, np.float64)
    return diff.reshape(-1, diff.shape[-1]).mean(0)


def _outputs(data: bytes, inputs: np.ndarray, folder: Path, name: str) -> dict[str, np.ndarray]:
    path = folder / name
    path.write_bytes(data)
    return {a.layer: a.values for a in tflite_activations(path, inputs) if a.op in CORRECTED_OPS}


def _shift_bias(model, op, offsets: np.ndarray) -> bool:
    """Subtract `offsets` (real units, per output channel) from `op`'s int32 bias in the object model."""
    if len(op.inputs) < 3 or op.inputs[2] < 0:
        return False
    bias = model.subgraphs[0].tensors[op.inputs[2]]
    if bias.type != INT32 or bias.quantization is None or bias.quantization.scale is None:
        return False  # a float fallback layer: nothing was rounded inside it
    old = np.frombuffer(bytes(model.buffers[bias.buffer].data), np.int32).astype(np.float64)
    scale = np.asarray(bias.quantization.scale, np.float64)
    new = np.clip(np.round(old - offsets / scale), np.iinfo(np.int32).min, np.iinfo(np.int32).max)
    model.buffers[bias.buffer].data = np.frombuffer(new.astype(np.int32).tobytes(), np.uint8)
    return True


def correct_biases(quantized: bytes, float_model: bytes, inputs: np.ndarray) -> tuple[bytes, list[str]]:
    """(corrected int8 flatbuffer, layers corrected); `float_model` is the same network in float."""
    fb = flatbuffer_module()
    model = fb.convert_bytearray_to_object(quantized)  # parsed once, its biases edited in place
    ops = {}
    for layer, op, _, kind in compute_ops(model):
        if kind in CORRECTED_OPS:
            ops.setdefault(layer, op)
    done = []
    with tempfile.TemporaryDirectory(prefix="mobiledeploy-bias-") as tmp:
        folder = Path(tmp)
        reference = _outputs(float_model, inputs, folder, "float.tflite")
        for layer, op in ops.items():
            current = _outputs(quantized, inputs, folder, "int8.tflite")
            if layer in current and layer in reference and current[layer].shape == reference[layer].shape:
                if _shift_bias(model, op, channel_offsets(current[layer], reference[layer])):
                    quantized = bytes(fb.convert_object_to_bytearray(model))
                    done.append(layer)
    return quantized, done
