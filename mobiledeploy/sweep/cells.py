"""A sweep's cell and its table row as typed records; every label is written here, from the lossless alpha text."""
from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

from ..bench.measurement import Estimate
from ..model.families import DEFAULT, family
from .paired import CONFIDENCE as ACCURACY_CONFIDENCE

#: the normal quantile of the top-1 interval (pick compares intervals pair by pair: computed once, here)
TOP1_Z = NormalDist().inv_cdf(0.5 + ACCURACY_CONFIDENCE / 2)


@dataclass(frozen=True, order=True)
class Cell:
    """One (alpha, resolution) of the grid, of one family (model.families)."""

    alpha: float
    resolution: int
    arch: str = DEFAULT

    @property
    def label(self) -> str:
        """a0.25-128, a1.0-224 (v1, as before families); v2-a1.0-224: two cells never share a label."""
        return family(self.arch).label(self.alpha, self.resolution)

    def variant(self, precision: str) -> str:
        """The label of one file of the cell: a0.5-128-int8."""
        return f"{self.label}-{precision}"


@dataclass
class Row:
    """One line of the sweep's table: a measured or predicted latency of one cell's file, and its accuracy."""

    device: str
    cell: Cell
    precision: str
    threads: int
    macs: int | None
    params: int | None
    median: Estimate                 # measured: with its interval and confidence; predicted: a bare value
    p90: Estimate
    latency: str                     # "measured" or "predicted"
    top1: float | None = None
    top1_source: str | None = None   # "measured", "published" or None
    top1_n: int | None = None
    size: int | None = None
    weights: str | None = None       # the weights' kind ("random", "tflite", ...)
    artifact: str | None = None
    file: str | None = None
    sha256: str | None = None
    time: str | None = None
    unstable: bool | None = None
    on_front: bool | None = None
    noise: str | None = None         # why the measured latency may not be the device's own (BenchRecord.noise)
    median_rerun: Estimate | None = None   # where another run's estimate may land (Estimate.widened by the drift)
    p90_rerun: Estimate | None = None
    int8_drop: object = None         # an int8 row's PairedDrop against its fp32 file on the same images (paired.py)

    @property
    def alpha(self) -> float:
        return self.cell.alpha

    @property
    def resolution(self) -> int:
        return self.cell.resolution

    @property
    def arch(self) -> str:
        return self.cell.arch

    @property
    def label(self) -> str:
        return self.cell.variant(self.precision)

    @property
    def median_ms(self) -> float:
        return self.median.value

    @property
    def p90_ms(self) -> float:
        return self.p90.value

    @property
    def p90_high(self) -> float:
        """What "fits the budget" is judged on: the p90's upper confidence bound (the p90 itself for results
        without an interval, and for predictions)."""
        return self.p90.upper

    @property
    def p90_low(self) -> float:
        """The p90's lower confidence bound (the p90 itself without an interval)."""
        return self.p90.lower

    def top1_interval(self) -> tuple[float, float] | None:
        """The top-1's interval when measured on n images (Wilson, at paired.CONFIDENCE); a published number has
        none."""
        if self.top1 is None or self.top1_source != "measured" or not self.top1_n:
            return None
        n, p, z = self.top1_n, self.top1, TOP1_Z
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * ((p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5) / (1 + z * z / n)
        return centre - half, centre + half

    @property
    def measured(self) -> bool:
        return self.latency == "measured"

    def to_dict(self) -> dict:
        """The JSON form (`sweep --json`, `pick --json`): flat, one key per fact."""
        interval = lambda e: list(e.interval) if e is not None and e.interval else None  # noqa: E731
        return {"device": self.device, "alpha": self.alpha, "resolution": self.resolution, "arch": self.arch,
                "precision": self.precision, "threads": self.threads, "label": self.label, "macs": self.macs,
                "params": self.params, "latency": self.latency, "median_ms": self.median_ms,
                "median_ci_ms": interval(self.median), "p90_ms": self.p90_ms, "p90_ci_ms": interval(self.p90),
                "confidence": self.p90.confidence, "median_rerun_ms": interval(self.median_rerun),
                "p90_rerun_ms": interval(self.p90_rerun), "top1": self.top1, "top1_source": self.top1_source,
                "top1_n": self.top1_n, "size": self.size, "weights": self.weights, "artifact": self.artifact,
                "file": self.file, "sha256": self.sha256, "time": self.time, "unstable": self.unstable,
                "on_front": self.on_front, "noise": self.noise,
                "int8_drop": self.int8_drop.to_dict() if self.int8_drop is not None else None}
