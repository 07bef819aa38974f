"""The page's data, built from stored records: per device the measured rows (sweep/rows.py, the rows pick reads),
pick's answers for every budget (budgets.py), each file's history with the change between its runs, and the
devices side by side for the same variant. Typed records; `to_dict` is the page's JSON and `report --json`."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from ..bench.drift import Drift, between_runs
from ..bench.measurement import Estimate, confidences_text
from ..bench.record import BenchRecord
from ..sweep import rows as rows_mod
from ..sweep.cells import Row
from . import budgets
from .filters import Filters


@dataclass(frozen=True)
class Run:
    """One run of one file: the stored record's estimates, verdict and quietness."""

    time: str
    median: Estimate
    p90: Estimate
    verdict: str
    reason: str
    noise: str | None
    change: float | None = None      # the median against the previous run's (0.05 is 5% slower)
    beyond: bool | None = None       # outside where the previous run said another run lands (its interval and drift)

    def to_dict(self) -> dict:
        return {"time": self.time, "median_ms": self.median.value, "median_ci_ms": list(self.median.interval or ()) or None,
                "p90_ms": self.p90.value, "p90_ci_ms": list(self.p90.interval or ()) or None,
                "confidence": self.p90.confidence, "verdict": self.verdict, "reason": self.reason, "noise": self.noise,
                "change": self.change, "beyond": self.beyond}


@dataclass(frozen=True)
class FileHistory:
    """Every run of one file (same bytes, folder and thread count) on one device, oldest first."""

    label: str
    artifact: str
    file: str
    threads: int
    sha256: str | None
    runs: tuple[Run, ...]

    def to_dict(self) -> dict:
        return {"label": self.label, "artifact": self.artifact, "file": self.file, "threads": self.threads,
                "sha256": self.sha256, "runs": [r.to_dict() for r in self.runs]}


@dataclass
class DevicePage:
    """What the page shows for one device."""

    device: str
    rows: list[Row]                         # measured: the newest result of each file (as pick reads them)
    records: dict = field(default_factory=dict, repr=False)   # budgets.row_key(row) -> its BenchRecord
    steps: list = field(default_factory=list)                # budgets.Step
    drift: Drift | None = None
    histories: list[FileHistory] = field(default_factory=list)
    facts: dict = field(default_factory=dict)                # the newest record's device facts
    results: int = 0                                         # stored records of this device (every run)

    @property
    def not_quiet(self) -> list[Row]:
        return [r for r in self.rows if r.noise]

    @property
    def front(self) -> list[Row]:
        return [r for r in self.rows if r.on_front]

    def to_dict(self) -> dict:
        return {"device": self.device, "results": self.results, "variants": len(self.rows),
                "rows": [r.to_dict() for r in self.rows], "front": [r.label for r in self.front],
                "not_quiet": [{"label": r.label, "threads": r.threads, "noise": r.noise} for r in self.not_quiet],
                "budgets": [s.to_dict() for s in self.steps],
                "between_runs": {**self.drift.to_dict(), "text": self.drift.text()} if self.drift else None,
                "history": [h.to_dict() for h in self.histories], "facts": self.facts}


@dataclass
class Page:
    """The whole page: every device's part, the variants measured on several devices, and what it was made of."""

    devices: list[DevicePage]
    filters: Filters
    generated: str
    version: str
    records: int
    confidence: str | None

    def side_by_side(self) -> list[dict]:
        """Variants (label and threads) measured on two devices or more: each device's rows of it."""
        table: dict[tuple, dict] = {}
        for d in self.devices:
            for r in d.rows:
                table.setdefault((r.cell, r.precision, r.threads), {}).setdefault(d.device, []).append(r)
        out = []
        for (cell, precision, threads), by_device in sorted(table.items()):
            if len(by_device) > 1:
                out.append({"label": cell.variant(precision), "threads": threads, "devices": by_device})
        return out

    def to_dict(self) -> dict:
        return {"generated": self.generated, "mobiledeploy": self.version, "records": self.records,
                "filters": self.filters.to_dict(), "confidence": self.confidence,
                "devices": [d.to_dict() for d in self.devices],
                "side_by_side": [{"label": s["label"], "threads": s["threads"],
                                  "devices": {name: [r.to_dict() for r in rs] for name, rs in s["devices"].items()}}
                                 for s in self.side_by_side()]}

    def summary(self) -> dict:
        """`report --json`: what the page holds, without every row."""
        return {"generated": self.generated, "records": self.records, "filters": self.filters.to_dict(),
                "devices": [{"device": d.device, "results": d.results, "variants": len(d.rows),
                             "front": [r.label for r in d.front],
                             "not_quiet": len(d.not_quiet),
                             "between_runs": d.drift.to_dict() if d.drift else None,
                             "budgets": [{"from_ms": s.from_ms, "chosen": s.chosen["label"] if s.chosen else None,
                                          "threads": s.chosen["threads"] if s.chosen else None,
                                          "decided": s.decided} for s in d.steps]}
                            for d in self.devices],
                "side_by_side": [{"label": s["label"], "threads": s["threads"], "devices": sorted(s["devices"])}
                                 for s in self.side_by_side()]}


def _runs(records: list[BenchRecord], drift: Drift | None) -> tuple[Run, ...]:
    out, prev = [], None
    for r in sorted(records, key=lambda r: r.time):
        change = beyond = None
        if prev is not None:
            change = r.median_ms / prev.median_ms - 1
            reach = prev.measurement.median.widened(drift.sd if drift else 0.0)
            if reach is not None and r.measurement.median.has_interval:
                beyond = not reach.lower <= r.median_ms <= reach.upper
        out.append(Run(r.time, r.measurement.median, r.p90, r.measurement.verdict.word, r.measurement.verdict.reason,
                       r.noise, change, beyond))
        prev = r
    return tuple(out)


def _histories(records: list[BenchRecord], drift: Drift | None) -> list[FileHistory]:
    from ..sweep.cells import Cell

    groups: dict[tuple, list[BenchRecord]] = {}
    for r in records:
        groups.setdefault((r.sha256, r.artifact, r.file, r.threads), []).append(r)
    out = []
    for (sha, artifact, file, threads), recs in groups.items():
        m = recs[-1].model
        label = Cell(m.alpha, m.resolution, m.architecture).variant(recs[-1].precision) if m else file
        out.append(FileHistory(label, artifact, file, threads, sha, _runs(recs, drift)))
    return sorted(out, key=lambda h: (h.label, h.threads, h.artifact, h.file))


def _facts(records: list[BenchRecord]) -> dict:
    """The device as its newest record saw it."""
    if not records:
        return {}
    newest = max(records, key=lambda r: r.time)
    f = newest.device_facts
    return {"cpu_model": f.cpu_model, "machine": f.machine, "cores": f.cores, "governor": f.governor,
            "runtime": f.runtime, "runtime_version": f.runtime_version, "xnnpack": f.xnnpack,
            "mobiledeploy": newest.version, "time": newest.time}


def device_page(device: str, records: list[BenchRecord], acc: dict) -> DevicePage:
    """One device's part of the page, from its records (and every record: drift is the device's own)."""
    report = rows_mod.build(records, acc, [device])
    latest = {budgets.row_key(r): r for r in rows_mod.latest(records, [device])}   # a record keys as its row
    mine = [r for r in records if r.device == device]
    drift = between_runs(records, device)
    measured = [r for r in report.rows if r.measured]
    return DevicePage(device, measured, latest, budgets.steps(measured), drift, _histories(mine, drift),
                      _facts(mine), len(mine))


def build(records: list[BenchRecord], acc: dict, filters: Filters) -> Page:
    """The page from records already filtered (filters.select) and the accuracy store (sweep/accuracy.load)."""
    from ..version import __version__

    devices = sorted(dict.fromkeys(r.device for r in records))
    pages = [device_page(d, records, acc) for d in devices]
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    conf = confidences_text(r.p90 for p in pages for r in p.rows)
    return Page(pages, filters, now, __version__, len(records), conf)


def load(filters: Filters) -> Page:
    """The page of what the store holds now, through the filters."""
    from ..sweep import accuracy
    from .filters import select

    return build(select(filters), accuracy.load(), filters)
