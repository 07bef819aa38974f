"""Published ImageNet top-1 of Google's MobileNet v1 and V2 checkpoints: tables of facts, with their sources.

v1 source: TF-slim's model card, tensorflow/models research/slim/nets/mobilenet_v1.md (commit 02c04f4),
"Pre-trained Models" table (checkpoints mobilenet_v1_2018_02_22, single-crop ILSVRC-2012 validation).
The "quant" checkpoints were trained quantization-aware (TF1 contrib/quantize) and run as uint8
TFLite; an int8 file exported here is post-training quantized, so for int8 the published number is
Google's quantization-aware result, not a claim about our file. Every use says "published".

v2 source: TF-slim's tensorflow/models research/slim/nets/mobilenet/README.md, "Mobilenet V2 Imagenet
Checkpoints" (float checkpoints; multiply-adds, parameters and top-1 per alpha x resolution). It
publishes no quantized top-1, so an int8 v2 cell has no published number (it is measured or unknown).

ShuffleNet V1 and V2 sources: the papers' tables (SHUFFLENET_V1_SOURCE, SHUFFLENET_V2_SOURCE below), float
models at 224 only.
"""
from __future__ import annotations

from ..model.families import DEFAULT

SOURCE = ("TF-slim mobilenet_v1.md (tensorflow/models research/slim/nets, checkpoints 2018_02_22), "
          "ImageNet val top-1")

#: (alpha, resolution) -> (float checkpoint top-1 %, quantization-aware quant checkpoint top-1 %)
TOP1 = {
    (1.0, 224): (70.9, 69.7), (1.0, 192): (70.0, 69.0), (1.0, 160): (68.0, 67.3), (1.0, 128): (65.2, 64.0),
    (0.75, 224): (68.4, 67.9), (0.75, 192): (67.2, 66.2), (0.75, 160): (65.3, 63.9), (0.75, 128): (62.1, 59.8),
    (0.5, 224): (63.3, 62.2), (0.5, 192): (61.7, 60.4), (0.5, 160): (59.1, 57.7), (0.5, 128): (56.3, 54.9),
    (0.25, 224): (49.8, 48.2), (0.25, 192): (47.7, 45.8), (0.25, 160): (45.5, 43.5), (0.25, 128): (41.5, 39.9),
}


V2_SOURCE = ("TF-slim mobilenet/README.md (tensorflow/models research/slim/nets/mobilenet, MobileNetV2 "
             "checkpoints), ImageNet val top-1")

#: (alpha, resolution) -> (multiply-adds in millions, parameters in millions, float top-1 %), as published
V2_TABLE = {
    (1.4, 224): (582, 6.06, 75.0), (1.3, 224): (509, 5.34, 74.4),
    (1.0, 224): (300, 3.47, 71.8), (1.0, 192): (221, 3.47, 70.7), (1.0, 160): (154, 3.47, 68.8),
    (1.0, 128): (99, 3.47, 65.3), (1.0, 96): (56, 3.47, 60.3),
    (0.75, 224): (209, 2.61, 69.8), (0.75, 192): (153, 2.61, 68.7), (0.75, 160): (107, 2.61, 66.4),
    (0.75, 128): (69, 2.61, 63.2), (0.75, 96): (39, 2.61, 58.8),
    (0.5, 224): (97, 1.95, 65.4), (0.5, 192): (71, 1.95, 63.9), (0.5, 160): (50, 1.95, 61.0),
    (0.5, 128): (32, 1.95, 57.7), (0.5, 96): (18, 1.95, 51.2),
    (0.35, 224): (59, 1.66, 60.3), (0.35, 192): (43, 1.66, 58.2), (0.35, 160): (30, 1.66, 55.7),
    (0.35, 128): (20, 1.66, 50.8), (0.35, 96): (11, 1.66, 45.5),
}


def _v1(key: tuple, precision: str) -> float | None:
    row = TOP1.get(key)
    return None if row is None else (row[1] if precision == "int8" else row[0]) / 100.0


def _v2(key: tuple, precision: str) -> float | None:
    row = V2_TABLE.get(key)
    return row[2] / 100.0 if row is not None and precision != "int8" else None


SHUFFLENET_V1_SOURCE = ("Zhang et al. 2017, ShuffleNet (CVPR 2018 version), Table 2 (1x, 0.5x, 0.25x for each g) "
                        "and Table 5 (1.5x, 2x at g = 3): ImageNet val top-1 = 100 - the printed error, at 224")
#: (groups, alpha) -> float top-1 %, as published (single crop, 224x224)
SHUFFLENET_V1_TOP1 = {
    (1, 1.0): 66.4, (2, 1.0): 67.3, (3, 1.0): 67.4, (4, 1.0): 67.2, (8, 1.0): 67.6,
    (1, 0.5): 54.9, (2, 0.5): 55.6, (3, 0.5): 56.8, (4, 0.5): 58.4, (8, 0.5): 57.7,
    (1, 0.25): 42.9, (2, 0.25): 43.2, (3, 0.25): 45.0, (4, 0.25): 45.8, (8, 0.25): 47.3,
    (3, 1.5): 71.5, (3, 2.0): 73.7,
}
SHUFFLENET_V2_SOURCE = ("Ma et al. 2018, ShuffleNet V2 (ECCV), Table 8: ImageNet val top-1 = 100 - the printed "
                        "error, at 224")
#: alpha -> float top-1 %, as published
SHUFFLENET_V2_TOP1 = {0.5: 60.3, 1.0: 69.4, 1.5: 72.6, 2.0: 74.9}


def _shufflenet_v1(groups: int):
    def top1(key: tuple, precision: str) -> float | None:
        alpha, resolution = key
        row = SHUFFLENET_V1_TOP1.get((groups, alpha))
        return row / 100.0 if row is not None and resolution == 224 and precision != "int8" else None
    return top1


def _shufflenet_v2(key: tuple, precision: str) -> float | None:
    alpha, resolution = key
    row = SHUFFLENET_V2_TOP1.get(alpha)
    return row / 100.0 if row is not None and resolution == 224 and precision != "int8" else None


#: the family's name -> its published numbers (a family without a table has none). ShuffleNet's papers publish
#: float models at 224 only: another resolution or int8 has no published number (measured or unknown).
BY_ARCH = {"mobilenet_v1": _v1, "mobilenet_v2": _v2, "shufflenet_v2": _shufflenet_v2,
           "shufflenet_v1": _shufflenet_v1(3),
           **{f"shufflenet_v1_g{g}": _shufflenet_v1(g) for g in (1, 2, 4, 8)}}


def top1(alpha: float, resolution: int, precision: str, arch: str = DEFAULT) -> float | None:
    """Published top-1 as a fraction, or None. v1: the float checkpoint for fp32, the quantization-aware one
    for int8; v2: the float checkpoint for fp32 only."""
    table = BY_ARCH.get(arch)
    return table((round(float(alpha), 4), int(resolution)), precision) if table else None
