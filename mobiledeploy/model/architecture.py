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
#: The largest side any command accepts: 512x512 final feature maps, 73x the multiply-adds of 224 (whether
#: an export of it fits in this machine's memory is checked separately, with an estimate).
MAX_RESOLUTION = 16384
MIN_ALPHA = 1 / 32
#: Alpha 16 puts 16384 channels in the last layer (over a billion parameters): beyond any MobileNet.
MAX_ALPHA = 16.0


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
    """Validate the width multiplier: [1/32, 16] (Family.check_alpha adds the warning past the paper's widest)."""
    try:
        value = float(alpha)
    except (TypeError, ValueError, OverflowError):
        raise MobiledeployError(f"alpha must be a number from 1/32 to {MAX_ALPHA:g} (the paper's: 0.25 to 1), "
                                f"got {alpha!r}") from None
    if not math.isfinite(value) or value <= 0:  # NaN fails every comparison: test finiteness first
        raise MobiledeployError(f"alpha must be a positive finite number (the paper's: 0.25 to 1), got {alpha!r}")
    if value < MIN_ALPHA:
        raise MobiledeployError(f"alpha must be at least 1/32 = {MIN_ALPHA} (below it conv1 has less than one "
                                f"channel and every smaller alpha builds the same network), got {alpha!r}")
    if value > MAX_ALPHA:
        raise MobiledeployError(f"alpha must be at most {MAX_ALPHA:g} ({int(BLOCKS[-1][0] * MAX_ALPHA)} channels "
                                f"in the last layer, over a billion parameters), got {alpha!r}")
    return value


def _whole_number(resolution) -> int | float | None:
    """int for 224, "224", "224.0" or 224.0; None for anything else (NaN, inf, 12.5, "abc")."""
    if isinstance(resolution, bool):
        return None
    if isinstance(resolution, int):
        return resolution
    text = str(resolution).strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except (ValueError, OverflowError):
        return None
    if number == math.inf:
        return number  # "1e999" or a 5000-digit side: refused below as too large
    return int(number) if number.is_integer() else None


def check_resolution(resolution) -> int:
    """Validate the input side in pixels (32 to 16384); a side that is not a multiple of 32 warns."""
    value = _whole_number(resolution)
    if value is None:
        raise MobiledeployError(f"resolution must be a whole number of pixels >= {MIN_RESOLUTION}, "
                                f"got {resolution!r}")
    if value < MIN_RESOLUTION:
        raise MobiledeployError(f"resolution must be >= {MIN_RESOLUTION} pixels (five stride-2 layers), "
                                f"got {value}")
    if value > MAX_RESOLUTION:
        text = str(resolution).strip()
        shown = text if len(text) <= 12 else f"{text[:6]}... ({len(text)} characters)"
        raise MobiledeployError(f"resolution must be at most {MAX_RESOLUTION} pixels (a "
                                f"{MAX_RESOLUTION // 32}x{MAX_RESOLUTION // 32} final feature map), got {shown}")
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
    bn: str = ""               # its batch norm's Keras name ("" for the classifier)
    act: str | None = None     # its ReLU6's Keras name; None for a linear layer (MobileNetV2's projections)
    add: str | None = None     # MobileNetV2: the Add that sums this (projection) output with its block's input
    block_start: bool = False  # the first layer of a residual block: its input is what `add` adds back
    streamed: bool = False     # Table 3 of Sandler et al.: an output an inference engine need not materialise
    groups: int = 1            # a grouped convolution's groups (ShuffleNet V1's pointwise group convolutions)


def layers(alpha: float, resolution: int, outputs: int | None = IMAGENET_CLASSES) -> list[Layer]:
    """Every weighted layer for this alpha and input side; the classifier only when outputs is set."""
    result = []
    cout, stride = channels(STEM[0], alpha), STEM[1]
    size = same_out(resolution, stride)
    result.append(Layer("conv1", "conv", 3, stride, resolution, size, 3, cout, "conv1_bn", "conv1_relu"))
    cin = cout
    for block, (base, stride) in enumerate(BLOCKS, start=1):
        out = same_out(size, stride)
        result.append(Layer(f"conv_dw_{block}", "dw", 3, stride, size, out, cin, cin, f"conv_dw_{block}_bn",
                            f"conv_dw_{block}_relu"))
        cout = channels(base, alpha)
        result.append(Layer(f"conv_pw_{block}", "pw", 1, 1, out, out, cin, cout, f"conv_pw_{block}_bn",
                            f"conv_pw_{block}_relu"))
        size, cin = out, cout
    if outputs:
        result.append(Layer("conv_preds", "fc", 1, 1, 1, 1, cin, outputs))
    return result


#: keras.applications.MobileNet's alpha spelling in its weight file names
KERAS_ALPHAS = {1.0: "1_0", 0.75: "7_5", 0.5: "5_0", 0.25: "2_5"}


def official_file(alpha: float, resolution: int) -> str:
    """The official Keras weight file (with top) of this alpha and resolution."""
    return f"mobilenet_{KERAS_ALPHAS[alpha]}_{resolution}_tf.h5"


def width_bases() -> dict[str, int]:
    """Channels at alpha 1 of every layer whose width alpha sets: conv1 and the 13 pointwise layers."""
    return {"conv1": STEM[0], **{f"conv_pw_{i}": base for i, (base, _) in enumerate(BLOCKS, start=1)}}


def alpha_of(widths: dict[str, int]) -> float | None:
    """The shortest decimal alpha that builds these output channel counts (layer name -> channels).

    Channel counts are int(base * alpha), so a file only bounds alpha to an interval (an alpha-0.3
    model's last layer has 307 = int(1024 * 0.3) channels, i.e. 0.2998 <= alpha < 0.3008); the
    shortest decimal in it is what a user typed. None when no alpha builds these counts.
    """
    bases = width_bases()
    lo, hi = 0.0, math.inf
    for name, count in widths.items():
        base = bases.get(name)
        if base is None or count < 1:
            return None
        lo = max(lo, count / base)
        hi = min(hi, (count + 1) / base)
    if not lo < hi:
        return None
    for digits in range(1, 8):
        scale = 10 ** digits
        candidate = math.ceil(lo * scale - 1e-9) / scale
        if candidate > 0 and candidate < hi and all(channels(bases[n], candidate) == c for n, c in widths.items()):
            return candidate
    return lo
