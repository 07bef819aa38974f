"""Import MobileNet v1 or V2 weights from a TFLite flatbuffer (Google's float, quantized and post-training
quantized models, or ours). The family is read from the graph: how many convolutions it has.

Weights are read through the interpreter's tensor API; quantized tensors are dequantized (per tensor
or per channel). TFLite folds batch norm into the convolutions, so each convolution maps to a Keras
convolution plus an identity batch norm that carries the folded bias.
"""
from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import MobiledeployError
from ..litert import open_interpreter
from . import architecture as arch
from . import families
from .mobilenet import BN_EPSILON

CONV_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


@dataclass
class TFLiteWeights:
    """What a TFLite MobileNet holds."""

    family: families.Family
    alpha: float | None   # the shortest decimal alpha that builds its channel counts (None: no alpha does)
    resolution: int
    outputs: int
    layers: dict          # Keras layer name -> (kernel in Keras layout, bias)
    labels: list[str] | None


def layer_ops(it, path) -> tuple[families.Family, list[tuple[str, dict]]]:
    """The file's family and (Keras layer name, TFLite op) for every convolution, in execution order."""
    ops = it._get_ops_details()
    convs = [op for op in ops if op["op_name"] in CONV_OPS]
    family = families.of_convolutions(len(convs))
    if family is None:
        known = ", ".join(f"{f.title} has {f.convolutions()}" for f in families.FAMILIES.values())
        raise MobiledeployError(f"{path} is not a MobileNet this tool knows: it has {len(convs)} convolutions "
                                f"({known})")
    names = [layer.name for layer in family.layers(1.0, arch.MIN_RESOLUTION, 1)]
    return family, list(zip(names, convs))


def read_tflite(path: Path) -> TFLiteWeights:
    """Parse a TFLite MobileNet into Keras-layout float weights."""
    path = Path(path)
    it = open_interpreter(path, delegates=False)
    details = {t["index"]: t for t in it.get_tensor_details()}
    producer = {o: op for op in it._get_ops_details() for o in op["outputs"]}
    family, convs = layer_ops(it, path)
    inp = details[it.get_input_details()[0]["index"]]
    resolution = int(inp["shape"][1])

    def const(index):
        op = producer.get(index)
        if op is not None and op["op_name"] == "DEQUANTIZE":  # float16 weights
            index = op["inputs"][0]
        t = details[index]
        data = it.get_tensor(index).astype(np.float64)
        q = t["quantization_parameters"]
        if len(q["scales"]):
            shape = [1] * data.ndim
            if len(q["scales"]) > 1:
                shape[q["quantized_dimension"]] = -1
            data = (data - np.reshape(q["zero_points"], shape)) * np.reshape(q["scales"], shape)
        return data.astype(np.float32)

    out = {}
    for name, op in convs:
        kernel = const(op["inputs"][1])
        bias = const(op["inputs"][2]) if len(op["inputs"]) > 2 and op["inputs"][2] >= 0 else None
        if op["op_name"] == "DEPTHWISE_CONV_2D":      # [1, kh, kw, C] -> [kh, kw, C, 1]
            kernel = kernel[0][..., None]
        elif op["op_name"] == "FULLY_CONNECTED":     # [O, C] -> [1, 1, C, O]
            kernel = kernel.T[None, None]
        else:                                        # [O, kh, kw, I] -> [kh, kw, I, O]
            kernel = kernel.transpose(1, 2, 3, 0)
        if bias is None:
            bias = np.zeros(kernel.shape[-1] if op["op_name"] != "DEPTHWISE_CONV_2D" else kernel.shape[2],
                            np.float32)
        out[name] = (kernel, bias)
    widths = {name: int(kernel.shape[-1]) for name, (kernel, _) in out.items() if name in family.width_layers}
    alpha = family.alpha_of(widths)
    classifier = out[family.classifier][0]
    if family.head == "dense":   # a 1x1 convolution or a fully connected layer in the file: Dense's (C, O)
        out[family.classifier] = (classifier.reshape(-1, classifier.shape[-1]), out[family.classifier][1])
    return TFLiteWeights(family, alpha, resolution, classifier.shape[-1], out, _embedded_labels(path))


def _embedded_labels(path: Path) -> list[str] | None:
    """Labels from TFLite metadata: a zip appended to the flatbuffer holding a .txt file."""
    try:
        with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as z:
            for name in z.namelist():
                if name.endswith(".txt"):
                    lines = z.read(name).decode("utf-8", "replace").splitlines()
                    return [line.strip() for line in lines if line.strip()]
    except zipfile.BadZipFile:
        pass
    return None


def assign_tflite(model, family: families.Family, weights: TFLiteWeights, alpha: float, resolution: int,
                  background: bool, source: str) -> list[str] | None:
    """Load imported weights into a Keras model of this alpha/resolution; returns the matching labels."""
    width = f"alpha {weights.alpha:g}" if weights.alpha is not None else "channel counts no alpha builds"
    holds = (f"it holds {weights.family.title} {width} at {weights.resolution}x{weights.resolution} "
             f"with {weights.outputs} outputs")
    classifier = family.classifier
    if weights.family is not family:
        raise MobiledeployError(f"{source} is not a {family.title} ({holds}): pass --arch {weights.family.name} "
                                f"or a {family.title} file")
    # the layer shapes decide, not a re-derived alpha: channel counts are int(base * alpha), so the file of
    # an alpha-0.3 export holds 0.2998..0.3008 and only the shapes say whether it is what 0.3 builds
    wrong = [name for name, (kernel, _) in weights.layers.items()
             if name != classifier and tuple(kernel.shape) != tuple(model.get_layer(name).weights[0].shape)]
    if wrong or weights.resolution != resolution:
        raise MobiledeployError(f"{source} does not fit alpha {alpha:g} res {resolution}: {holds}")
    model_outputs = int(model.get_layer(classifier).weights[0].shape[-1])
    drop = 0
    if weights.outputs == model_outputs + 1 and not background:
        drop = 1  # the file's index 0 is background; this model has none
    elif weights.outputs != model_outputs:
        raise MobiledeployError(f"{source} does not fit a model with {model_outputs} outputs: {holds}")
    for name, (kernel, bias) in weights.layers.items():
        layer = model.get_layer(name)
        if name == classifier:
            layer.set_weights([kernel[..., drop:], bias[drop:]])
            continue
        expected = tuple(layer.weights[0].shape)
        if tuple(kernel.shape) != expected:
            raise MobiledeployError(f"{source}: layer {name} has shape {kernel.shape}, "
                                    f"the model needs {expected}; {holds}")
        layer.set_weights([kernel])
        n = bias.shape[0]
        # identity batch norm carrying the folded bias: (x - 0) / sqrt(1 - eps + eps) * 1 + bias
        model.get_layer(family.layers_by_name()[name].bn).set_weights(
            [np.ones(n, np.float32), bias, np.zeros(n, np.float32),
             np.full(n, 1.0 - BN_EPSILON, np.float32)])
    labels = weights.labels
    if labels and drop and len(labels) == weights.outputs:
        labels = labels[1:]
    return labels
