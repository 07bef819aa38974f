"""pick's answer for every budget a reader may choose, computed by the one Python pick (sweep/pick.py `choose`)
and looked up by the page: no second pick in JavaScript.

`choose` compares the budget only with bounds of the rows' p90s (their interval, and where another run may land:
`x <= budget`), so its answer is the same for every budget from one of those bounds up to the next. The steps
below are those ranges; the page shows the step that holds the reader's budget. pick's reason names the budget:
it is computed with a budget that prints as a mark (`BUDGET_MARK`), which the page replaces by the reader's.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..sweep import front
from ..sweep.cells import Row
from ..sweep.pick import choose

BUDGET_MARK = "\u2063budget\u2063"   # invisible separators around a word: no stored text is likely to hold it


class _Budget(float):
    """A budget that compares as its value and prints as BUDGET_MARK (pick writes it into its reason with :g)."""

    def __format__(self, spec: str) -> str:
        return BUDGET_MARK


def break_points(rows: list[Row]) -> list[float]:
    """Every budget at which pick's answer may change: the bounds of each measured row's p90 interval and of
    where another run's p90 may land (Row.p90_rerun), sorted, each once."""
    points = set()
    for r in rows:
        if not r.measured:
            continue
        points.update((r.p90_low, r.p90_high))
        if r.p90_rerun is not None:
            points.update((r.p90_rerun.lower, r.p90_rerun.upper))
    return sorted(p for p in points if p > 0)


def _brief(r: Row | None) -> dict | None:
    """What the page says about a row in an answer."""
    if r is None:
        return None
    from ..model.families import family

    return {"label": r.label, "family": family(r.arch).title, "threads": r.threads, "p90": r.p90.text("p90"), "p90_ms": r.p90_ms,
            "p90_high": r.p90_high, "top1": r.top1, "top1_source": r.top1_source, "artifact": r.artifact,
            "file": r.file, "noise": r.noise, "key": row_key(r)}


def row_key(r: Row) -> str:
    """One row's identity on the page (its point on the front): device, artifact folder, file, threads."""
    return "\x1f".join((r.device, r.artifact or "", r.file or "", str(r.threads)))


@dataclass(frozen=True)
class Step:
    """pick's answer for every budget from `from_ms` (0 for the first step) up to the next step's."""

    from_ms: float
    chosen: dict | None
    why: str                 # pick's reason, with BUDGET_MARK where it names the budget
    decided: bool
    contenders: list = field(default_factory=list)
    noisy: list = field(default_factory=list)
    tied: list = field(default_factory=list)
    faster: dict | None = None
    more_accurate: dict | None = None
    ranked_by: str | None = None

    def answer(self) -> dict:
        return {"chosen": self.chosen, "why": self.why, "decided": self.decided, "contenders": self.contenders,
                "noisy": self.noisy, "tied": self.tied, "faster": self.faster, "more_accurate": self.more_accurate,
                "ranked_by": self.ranked_by}

    def to_dict(self) -> dict:
        return {"from_ms": self.from_ms, **self.answer()}

    def why_at(self, budget_ms: float) -> str:
        """The reason as pick prints it for this budget."""
        return self.why.replace(BUDGET_MARK, f"{budget_ms:g}")


def answer_at(rows: list[Row], budget_ms: float) -> Step:
    """pick's answer for one budget (from_ms is the budget itself)."""
    c = choose(rows, _Budget(budget_ms))
    faster = better = None
    if c.chosen is not None:
        # the chosen one's neighbours on the front of its thread count and accuracy source, as pick names them
        fr = front.pareto([r for r in rows if r.threads == c.chosen.threads
                           and (c.ranked_by is None or r.top1_source == c.ranked_by)])
        faster, better = front.neighbours(fr, c.chosen)
    return Step(float(budget_ms), _brief(c.chosen), c.why, c.decided, [_brief(r) for r in c.contenders],
                [{"label": r.label, "noise": r.noise} for r in c.noisy], [_brief(r) for r in c.tied],
                _brief(faster), _brief(better), c.ranked_by)


def steps(rows: list[Row]) -> list[Step]:
    """pick's answers for every budget: one step per range of budgets with the same answer, lowest first (the
    first from 0 ms: below every bound, nothing fits)."""
    measured = [r for r in rows if r.measured]
    if not measured:
        return []
    points = break_points(measured)
    out: list[Step] = []
    for i, b in enumerate([points[0] / 2] + points):
        step = replace(answer_at(measured, b), from_ms=0.0 if i == 0 else b)
        if out and out[-1].answer() == step.answer():
            continue   # a bound that does not change the answer
        out.append(step)
    return out


def lookup(table: list[Step], budget_ms: float) -> Step | None:
    """The step holding `budget_ms` (what the page's budget control does, in Python: for tests and --json)."""
    found = None
    for s in table:
        if s.from_ms <= budget_ms:
            found = s
    return found
