"""A sweep's options as one typed record that owns their defaults."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..bench.settings import DEFAULTS, BenchSettings
from ..export.calibration import CALIB_COUNT
from ..export.formats import SWEEP_PRECISIONS
from ..model.families import DEFAULT
from .cells import Cell


@dataclass
class SweepOptions:
    """Everything a sweep needs, already checked; each default is written here once (the CLI's options and the
    API read them from SWEEP_DEFAULTS)."""

    alphas: list[float] = field(default_factory=lambda: [0.25, 0.5, 0.75, 1.0])
    resolutions: list[int] = field(default_factory=lambda: [128, 160, 192, 224])
    precisions: list[str] = field(default_factory=lambda: list(SWEEP_PRECISIONS))
    devices: list[str] = field(default_factory=lambda: ["local"])
    out: Path = Path("models/sweep")
    weights_dir: str | None = None
    data: str | None = None
    wnids: str | None = None
    calib: str | None = None
    calib_count: int = CALIB_COUNT
    settings: BenchSettings = DEFAULTS       # how each file is measured (its threads: see `threads`)
    threads: list[int] = field(default_factory=lambda: [DEFAULTS.threads])   # a sweep axis: every file at each
    jobs: int = 0
    insecure: bool = False
    cells: list[Cell] | None = None   # measure only these (sweep --measure K); else the whole grid
    archs: list[str] = field(default_factory=lambda: [DEFAULT])   # the families (--arch)
    again: bool = False               # measure files that have a result stored at these settings too (--again)

    @property
    def grid(self) -> list[Cell]:
        """Every cell of the grid, in order: family x alpha x resolution."""
        return [Cell(a, r, f) for f in self.archs for a in self.alphas for r in self.resolutions]

    def settings_for(self, threads: int) -> BenchSettings:
        """The bench settings of one thread count of the sweep."""
        return self.settings.with_(threads=threads)

    def only(self, cells: list[Cell]) -> "SweepOptions":
        """The same sweep measuring only these cells (sweep --measure K, then the cells near the budget)."""
        from dataclasses import replace

        return replace(self, cells=list(cells))


SWEEP_DEFAULTS = SweepOptions()
