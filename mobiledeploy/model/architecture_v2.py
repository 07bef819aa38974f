"""MobileNetV2 as in Table 2 of Sandler et al. (2018): inverted residuals with linear bottlenecks, as data.

The same `Layer` records as MobileNet v1 (architecture.py), so the builder, the cost model, the ONNX
writer and the importers walk both families alike. Channel rounding is the paper's and Keras's: a width
is rounded to the nearest multiple of 8, never below 90% of alpha x base; the last 1x1 convolution keeps
1280 channels for alpha <= 1. Layer names are those of `keras.applications.MobileNetV2`.
"""
from __future__ import annotations

from .architecture import IMAGENET_CLASSES, Layer, same_out

#: The first full convolution: (output channels at alpha 1, stride).
STEM = (32, 2)
#: The bottleneck sequences of Table 2: (expansion t, output channels c, repeats n, first stride s).
SEQUENCES = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
             (6, 320, 1, 1))
#: The last 1x1 convolution before pooling.
LAST = 1280
CLASSIFIER = "predictions"


def divisible(value: float, divisor: int = 8) -> int:
    """The nearest multiple of `divisor` (at least `divisor`), raised once more if rounding lost over 10%."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def last_channels(alpha: float) -> int:
    """The last convolution's width: 1280, widened only for alpha > 1 (narrow models keep their classifier)."""
    return divisible(LAST * alpha) if alpha > 1.0 else LAST


def blocks():
    """(block id, expansion, base channels, stride) of the 17 bottleneck blocks, in order."""
    block = 0
    for t, c, n, s in SEQUENCES:
        for i in range(n):
            yield block, t, c, s if i == 0 else 1
            block += 1


def layers(alpha: float, resolution: int, outputs: int | None = IMAGENET_CLASSES) -> list[Layer]:
    """Every weighted layer for this alpha and input side; the classifier only when outputs is set."""
    stem = divisible(STEM[0] * alpha)
    size = same_out(resolution, STEM[1])
    # the stem's output feeds only the first depthwise layer: Section 5 lets it stream (the paper's Table 3)
    result = [Layer("Conv1", "conv", 3, STEM[1], resolution, size, 3, stem, "bn_Conv1", "Conv1_relu",
                    streamed=True)]
    cin = stem
    for block, t, base, stride in blocks():
        prefix = f"block_{block}_" if block else "expanded_conv_"
        cout = divisible(int(base * alpha))
        residual = stride == 1 and cin == cout
        wide = cin * t
        start = True
        if t != 1:
            result.append(Layer(f"{prefix}expand", "pw", 1, 1, size, size, cin, wide, f"{prefix}expand_BN",
                                f"{prefix}expand_relu", block_start=True, streamed=True))
            start = False
        out = same_out(size, stride)
        result.append(Layer(f"{prefix}depthwise", "dw", 3, stride, size, out, wide, wide, f"{prefix}depthwise_BN",
                            f"{prefix}depthwise_relu", block_start=start, streamed=True))
        result.append(Layer(f"{prefix}project", "pw", 1, 1, out, out, wide, cout, f"{prefix}project_BN", None,
                            add=f"{prefix}add" if residual else None))
        size, cin = out, cout
    result.append(Layer("Conv_1", "pw", 1, 1, size, size, cin, last_channels(alpha), "Conv_1_bn", "out_relu"))
    if outputs:
        result.append(Layer(CLASSIFIER, "fc", 1, 1, 1, 1, last_channels(alpha), outputs))
    return result


def width_layers() -> tuple[str, ...]:
    """The layers whose width alpha sets directly: the stem, every projection, the last convolution."""
    return ("Conv1", *[f"{'block_%d_' % b if b else 'expanded_conv_'}project" for b, *_ in blocks()], "Conv_1")


def official_file(alpha: float, resolution: int) -> str:
    """The official Keras weight file (with top); keras.applications spells alpha as str(float(alpha))."""
    return f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_{resolution}.h5"
