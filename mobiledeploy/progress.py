"""Steps and progress bars on stderr, so stdout stays clean for --json."""
from __future__ import annotations

import sys
import time
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

PIPED_WIDTH = 250   # a table piped to a file, `| tee` or a CI log is not cut at 80 columns: whole rows, not "…"


def _width(stream) -> int | None:
    """The terminal's own width on a terminal (rich reads it, and COLUMNS); piped: COLUMNS when set, else wide."""
    import os

    if stream.isatty():
        return None
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() and 20 <= int(columns) <= 10000 else PIPED_WIDTH


# progress and steps on stderr; result tables on stdout
console = Console(stderr=True, highlight=False, width=_width(sys.stderr))
out = Console(highlight=False, width=_width(sys.stdout))


def eta(done: int, total: int, seconds: float) -> str:
    """", about 2 min left" from the pace so far (empty before the first item or after the last)."""
    if done <= 0 or done >= total or seconds <= 0:
        return ""
    left = seconds / done * (total - done)
    return f", about {left:.0f} s left" if left < 120 else f", about {left / 60:.0f} min left"


class Steps:
    """Numbered, timed steps: `with steps.step("converting"): ...` prints `[2/5] converting  1.3 s`."""

    def __init__(self, total: int, quiet: bool = False):
        self.total, self.done, self.quiet = total, 0, quiet
        self.timings: dict[str, float] = {}

    @contextmanager
    def step(self, title: str):
        self.done += 1
        start = time.perf_counter()
        yield
        elapsed = time.perf_counter() - start
        self.timings[title] = round(elapsed, 3)
        if not self.quiet:
            console.print(f"[{self.done}/{self.total}] {title}  [dim]{elapsed:.1f} s[/dim]")


@contextmanager
def bar(title: str, total: int, quiet: bool = False):
    """A progress bar (only on a terminal); yields advance(n)."""
    show = not quiet and sys.stderr.isatty()
    with Progress(TextColumn("  {task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=console, transient=True, disable=not show) as progress:
        task = progress.add_task(title, total=total)
        yield lambda n=1: progress.advance(task, n)
