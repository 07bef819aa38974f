"""A sweep's cell and its table row as typed records; every label is written here, from the lossless alpha text."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from ..model.architecture import alpha_text
from ..model.families import DEFAULT


@dataclass(frozen=True, order=True)
class Cell:
    """One (alpha, resolution) of the grid, of one family (model.families)."""

    alpha: float
    resolution: int
    arch: str = DEFAULT

    @property
    def label(self) -> str:
        """a0.25-128, a1.0-224 (v1, as before families); v2-a1.0-224: two cells never share a label."""
        text = f"a{alpha_text(self.alpha)}-{self.resolution}"
        return text if self.arch == DEFAULT else f"{self.arch.removeprefix('mobilenet_')}-{text}"

    def variant(self, precision: str) -> str:
        """The label of one file of the cell: a0.5-128-int8."""
        return f"{self.label}-{precision}"


@dataclass
class Row:
    """One line of the sweep's table: a measured or predicted latency, and the accuracy known for it."""

    device: str
    alpha: float
    resolution: int
    precision: str
    threads: int
    macs: int | None
    params: int | None
    median_ms: float
    p90_ms: float
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
    p90_ci_ms: tuple[float, float] | None = None   # measured with the protocol: the p90's confidence interval
    median_ci_ms: tuple[float, float] | None = None
    arch: str = DEFAULT              # the family (the result's model.architecture)
    noise: str | None = None         # why the measured latency may not be the device's own (BenchRecord.noise)
    median_rerun_ms: tuple[float, float] | None = None   # where another run's median may land (bench/drift.py)
    p90_rerun_ms: tuple[float, float] | None = None

    @property
    def cell(self) -> Cell:
        return Cell(self.alpha, self.resolution, self.arch)

    @property
    def label(self) -> str:
        return self.cell.variant(self.precision)

    @property
    def p90_high(self) -> float:
        """What "fits the budget" is judged on: the p90's upper confidence bound (the p90 itself for results
        without an interval, and for predictions)."""
        return self.p90_ci_ms[1] if self.p90_ci_ms else self.p90_ms

    @property
    def p90_low(self) -> float:
        """The p90's lower confidence bound (the p90 itself without an interval)."""
        return self.p90_ci_ms[0] if self.p90_ci_ms else self.p90_ms

    def top1_interval(self) -> tuple[float, float] | None:
        """The top-1's 95% interval when measured on n images (Wilson); a published number has none."""
        if self.top1 is None or self.top1_source != "measured" or not self.top1_n:
            return None
        n, p, z = self.top1_n, self.top1, 1.96
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * ((p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5) / (1 + z * z / n)
        return centre - half, centre + half

    @property
    def measured(self) -> bool:
        return self.latency == "measured"

    def to_dict(self) -> dict:
        """The JSON form (`sweep --json`, `pick --json`)."""
        return {**asdict(self), "label": self.label}
