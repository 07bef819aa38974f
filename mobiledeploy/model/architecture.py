"""MobileNet v1 as in Table 1 of Howard et al. (2017): the one description of the layer stack.

The Keras builder, the cost model, the TFLite weight importer and the ONNX writer all walk this
table, so they cannot disagree about channel counts or strides.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

from ..errors import MobiledeployError

#: The first full convolution: (output channels at alpha 1, stride).
STEM = (32, 2)
#: The 13 depthwise separable blocks: (pointwise output channels at alpha 1, depthwise stride).
BLOCKS = (
    (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
    (512, 1), (512, 1), (512, 1), (512, 1), (512, 1),
    (1024, 2), (1024, 1),
)
IMAGENET_CLASSES = 1000
MIN_RESOLUTION = 32


def channels(base: int, alpha: float) -> int:
    """Channels of a layer under width multiplier alpha (Keras's rule: int(base * alpha), at least 1)."""
    return max(1, int(base * alpha))


def same_out(size: int, stride: int) -> int:
    """Spatial output size of a TensorFlow "SAME" padded layer."""
    return -(-size // stride)


def same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """(before, after) padding TensorFlow's "SAME" applies along one axis."""
    total = max((same_out(size, stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def alpha_text(alpha: float) -> str:
    """Alpha as names show it, losslessly: the shortest text that reads back as the same float (0.25, 1.0)."""
    return repr(float(alpha))


def check_alpha(alpha) -> float:
    """Validate the width multiplier; larger than 1 is allowed with a warning."""
    try:
        value = float(alpha)
    except (TypeError, ValueError):
        raise MobiledeployError(f"alpha must be a number in (0, 1], got {alpha!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise MobiledeployError(f"alpha must be a number in (0, 1], got {alpha!r}")
    if value > 1:
        warnings.warn(f"alpha {value} > 1 widens the network beyond the paper's models", stacklevel=2)
    return value


def check_resolution(resolution) -> int:
    """Validate the input side in pixels (>= 32); a side that is not a multiple of 32 warns."""
    try:
        value = int(resolution)
        if value != float(resolution):
            raise ValueError
    except (TypeError, ValueError):
        raise MobiledeployError(f"resolution must be a whole number of pixels >= {MIN_RESOLUTION}, "
                                f"got {resolution!r}") from None
    if value < MIN_RESOLUTION:
        raise MobiledeployError(f"resolution must be >= {MIN_RESOLUTION} pixels (five stride-2 layers), "
                                f"got {value}")
    if value % 32:
        warnings.warn(f"resolution {value} is not a multiple of 32: feature maps get odd sizes "
                      "and the paper's models use 128, 160, 192 or 224", stacklevel=2)
    return value


def check_classes(classes) -> int:
    """Validate the number of real classes (background excluded)."""
    try:
        value = int(classes)
    except (TypeError, ValueError):
        value = 0
    if value < 1:
        raise MobiledeployError(f"classes must be a positive whole number, got {classes!r}")
    return value


@dataclass(frozen=True)
class Layer:
    """One weighted layer of the network, in execution order."""

    name: str          # Keras layer name (conv1, conv_dw_1, conv_pw_1, ..., conv_preds)
    kind: str          # "conv" (full 3x3), "dw" (depthwise 3x3), "pw" (pointwise 1x1), "fc" (classifier)
    kernel: int
    stride: int
    in_size: int       # input side
    out_size: int      # output side
    cin: int
    cout: int


def layers(alpha: float, resolution: int, outputs: int | None = IMAGENET_CLASSES) -> list[Layer]:
    """Every weighted layer for this alpha and input side; the classifier only when outputs is set."""
    result = []
    cout, stride = channels(STEM[0], alpha), STEM[1]
    size = same_out(resolution, stride)
    result.append(Layer("conv1", "conv", 3, stride, resolution, size, 3, cout))
    cin = cout
    for block, (base, stride) in enumerate(BLOCKS, start=1):
        out = same_out(size, stride)
        result.append(Layer(f"conv_dw_{block}", "dw", 3, stride, size, out, cin, cin))
        cout = channels(base, alpha)
        result.append(Layer(f"conv_pw_{block}", "pw", 1, 1, out, out, cin, cout))
        size, cin = out, cout
    if outputs:
        result.append(Layer("conv_preds", "fc", 1, 1, 1, 1, cin, outputs))
    return result
