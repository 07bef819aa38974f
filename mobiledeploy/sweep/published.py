"""Published ImageNet top-1 of Google's MobileNet v1 checkpoints: a table of facts, with its source.

Source: TF-slim's model card, tensorflow/models research/slim/nets/mobilenet_v1.md (commit 02c04f4),
"Pre-trained Models" table (checkpoints mobilenet_v1_2018_02_22, single-crop ILSVRC-2012 validation).
The "quant" checkpoints were trained quantization-aware (TF1 contrib/quantize) and run as uint8
TFLite; an int8 file exported here is post-training quantized, so for int8 the published number is
Google's quantization-aware result, not a claim about our file. Every use says "published".
"""
from __future__ import annotations

SOURCE = ("TF-slim mobilenet_v1.md (tensorflow/models research/slim/nets, checkpoints 2018_02_22), "
          "ImageNet val top-1")

#: (alpha, resolution) -> (float checkpoint top-1 %, quantization-aware quant checkpoint top-1 %)
TOP1 = {
    (1.0, 224): (70.9, 69.7), (1.0, 192): (70.0, 69.0), (1.0, 160): (68.0, 67.3), (1.0, 128): (65.2, 64.0),
    (0.75, 224): (68.4, 67.9), (0.75, 192): (67.2, 66.2), (0.75, 160): (65.3, 63.9), (0.75, 128): (62.1, 59.8),
    (0.5, 224): (63.3, 62.2), (0.5, 192): (61.7, 60.4), (0.5, 160): (59.1, 57.7), (0.5, 128): (56.3, 54.9),
    (0.25, 224): (49.8, 48.2), (0.25, 192): (47.7, 45.8), (0.25, 160): (45.5, 43.5), (0.25, 128): (41.5, 39.9),
}


def top1(alpha: float, resolution: int, precision: str) -> float | None:
    """Published top-1 as a fraction (float checkpoint for fp32, quant checkpoint for int8), or None."""
    row = TOP1.get((round(float(alpha), 4), int(resolution)))
    if row is None:
        return None
    return (row[1] if precision == "int8" else row[0]) / 100.0
