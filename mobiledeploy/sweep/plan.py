"""The sweep as a user asks for it: measure the grid (or K spanning cells, then confirm near the budget),
then report it from the stores and draw its plot. The measuring itself is run.py's."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import MobiledeployError
from . import accuracy
from .cells import Cell
from .run import SweepOptions, run


@dataclass
class SweepResult:
    """A whole sweep: the report of the grid (rows, predictor), the runs made, the plot, what failed."""

    report: object
    runs: list[dict]
    plot: str | None
    errors: list[str]

    def to_dict(self) -> dict:
        return {**self.report.to_dict(), "run": self.runs, "plot": self.plot}


def report_for(opts: SweepOptions):
    """The grid's report from the stores: this sweep's measured rows (its --out: results of artifacts elsewhere,
    another sweep's, never stand in for its own), predictions for the rest, fronts."""
    from ..bench import store
    from . import rows

    return rows.build(store.history(), accuracy.load(), opts.devices, opts.threads, opts.precisions, opts.grid,
                      within=opts.out)


def near_budget(report, budget_ms: float) -> list[Cell]:
    """Cells whose predicted p90 fits the budget and are the most accurate (two per device): measure to confirm."""
    picks: list[Cell] = []
    for device in sorted({r.device for r in report.rows}):
        predicted = sorted((r for r in report.rows if r.device == device and not r.measured
                            and r.p90_ms <= budget_ms), key=lambda r: -(r.top1 or 0))
        for r in predicted[:2]:
            if r.cell not in picks:
                picks.append(r.cell)
    return picks


def measure_grid(opts: SweepOptions, measure: int | None = None, budget_ms: float | None = None, log=None,
                 runner=None) -> list[dict]:
    """The sweep's runs: every cell, or K cells spanning the grid (then the predicted best near the budget).
    `runner` replaces run.run (a lab's: mobiledeploy.lab.sweep.runner benches on its workers).

    Ctrl-C keeps every result stored so far: it ends as `Interrupted`, which says so.
    """
    from ..bench import store
    from ..outcome import Interrupted
    from . import grid

    run_ = runner or run
    done = []
    try:
        if measure and measure < len(opts.grid):
            # K cells per family: each family's predictor is fitted on its own measurements
            spanning = [Cell(a, r, f) for f in opts.archs
                        for a, r in grid.spanning([(c.alpha, c.resolution) for c in opts.grid if c.arch == f], measure)]
            done.append(run_(opts.only(spanning), log))
            if budget_ms:
                confirm = near_budget(report_for(opts), budget_ms)
                if confirm:
                    done.append(run_(opts.only(confirm), log))
        else:
            done.append(run_(opts, log))
    except KeyboardInterrupt:
        raise Interrupted(f"every result finished so far is kept in {store.where()}; run the same command again "
                          "to resume") from None
    return done


def sweep(opts: SweepOptions, measure: int | None = None, budget_ms: float | None = None, plot: Path | None = None,
          report_only: bool = False, log=None, runner=None) -> SweepResult:
    """Measure what the stores lack (unless report_only), then report the grid and draw its plot."""
    from ..plotting import check_target
    from . import report as report_mod

    plot_path = Path(plot) if plot else Path(opts.out) / "sweep.png"
    if plot_path.parent.is_dir():
        check_target(plot_path)   # before measuring: a plot path that cannot be written wastes no sweep
    runs = [] if report_only else measure_grid(opts, measure, budget_ms, log, runner)
    doc = report_for(opts)
    failures = [line for rd in runs for line in rd["errors"]]
    if not doc.rows and failures:
        raise MobiledeployError(f"{failures[0]}" + (f" (and {len(failures) - 1} more failures)" if len(failures) > 1 else ""))
    if not doc.rows:
        raise MobiledeployError("no stored results for this grid on " + ", ".join(opts.devices) +
                                ": run the sweep without --report first")
    plot_path.parent.mkdir(parents=True, exist_ok=True)
    report_mod.plot(doc, plot_path)
    return SweepResult(doc, runs, str(plot_path), failures)
