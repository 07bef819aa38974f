"""What int8 costs in top-1 against its own fp32 file, on the same images: a paired difference with its interval.

Two files of one artifact evaluated on the same n images disagree on some of them: b images only the fp32 file
gets right, c only the int8 file. The drop is (b - c) / n. Its interval is the adjusted Wald interval for paired
proportions of Bonett and Price (2012): one image added to each discordant count, (b + 1) / (n + 2) and
(c + 1) / (n + 2), which keeps the nominal coverage with the few discordant images a good int8 file has (a plain
Wald interval collapses to zero width when b = c = 0). Pairing is what makes it narrow: two separate top-1
intervals on 300 images are +-5 points each, the paired drop's interval is about +-1 point when the files agree
on all but a few images. Pure functions.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

CONFIDENCE = 0.95   # of every accuracy interval (a top-1's, a drop's); a latency interval's is the bench's own


@dataclass(frozen=True)
class PairedDrop:
    """fp32 top-1 minus int8 top-1 on the same images (fractions: 0.01 is one point), with its interval."""

    drop: float
    low: float
    high: float
    n: int
    only_fp32: int      # images only the fp32 file classified right
    only_int8: int      # images only the int8 file classified right
    confidence: float = CONFIDENCE

    def text(self) -> str:
        return (f"int8 drop {100 * self.drop:+.1f} points [{100 * self.confidence:.0f}% CI {100 * self.low:+.1f}, "
                f"{100 * self.high:+.1f}] on {self.n} images")

    def to_dict(self) -> dict:
        return {"drop": self.drop, "low": self.low, "high": self.high, "n": self.n, "only_fp32": self.only_fp32,
                "only_int8": self.only_int8, "confidence": self.confidence}


def paired_drop(fp32_correct, int8_correct, confidence: float = CONFIDENCE) -> PairedDrop:
    """The drop from fp32 to int8 on the same images, with the Bonett-Price adjusted Wald interval."""
    from statistics import NormalDist

    a, b = np.asarray(fp32_correct, dtype=bool), np.asarray(int8_correct, dtype=bool)
    if a.shape != b.shape or a.size == 0:
        raise ValueError("the two files were not evaluated on the same images")
    n = int(a.size)
    only_fp32, only_int8 = int((a & ~b).sum()), int((b & ~a).sum())
    p12, p21 = (only_fp32 + 1) / (n + 2), (only_int8 + 1) / (n + 2)
    d = p12 - p21
    se = math.sqrt(max(0.0, (p12 + p21 - d * d) / (n + 2)))
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    low, high = max(-1.0, d - z * se), min(1.0, d + z * se)
    return PairedDrop((only_fp32 - only_int8) / n, low, high, n, only_fp32, only_int8, confidence)
