"""What both ONNX writers (onnx_writer.py: MobileNet, onnx_shufflenet.py: ShuffleNet) share: the opset and a
Keras convolution with its batch norm folded in, in ONNX's layout."""
from __future__ import annotations

import numpy as np

from ..model.mobilenet import BN_EPSILON

OPSET = 17


def folded(model, spec, depthwise: bool):
    """Kernel in ONNX layout (O, I/group, kh, kw) and bias, with the layer's batch norm folded in."""
    kernel = model.get_layer(spec.name).get_weights()[0].astype(np.float64)
    norm = model.get_layer(spec.bn)
    gamma, beta, mean, var = (w.astype(np.float64) for w in norm.get_weights())
    factor = gamma / np.sqrt(var + getattr(norm, "epsilon", BN_EPSILON))
    if depthwise:                       # Keras (kh, kw, C, 1) -> ONNX (C, 1, kh, kw)
        w = kernel.transpose(2, 3, 0, 1) * factor[:, None, None, None]
    else:                               # Keras (kh, kw, I, O) -> ONNX (O, I, kh, kw)
        w = kernel.transpose(3, 2, 0, 1) * factor[:, None, None, None]
    return w.astype(np.float32), (beta - mean * factor).astype(np.float32)
