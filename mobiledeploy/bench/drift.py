"""How far a device's results move between runs, from the results store's own history: pure functions.

An interval measured within one run (bench/intervals.py) holds that run's noise: samples, processes, rounds.
It cannot hold what changes between runs minutes or days apart: a VM's neighbours, the host's clocks, a
phone's temperature. ISO 5725 calls the two repeatability and intermediate precision. The store sees the
second whenever the same file (same bytes at the same path, device and thread count) was measured in two
runs: one run measures a file once, so two records of it are two runs. From those pairs:

    d = log(m2 / m1),   Var(d) = 2 sd^2 + se1^2 + se2^2

with se the within-run standard error of each median (its interval's half-width on the log scale over z), so
sd^2 = mean(d^2 - se1^2 - se2^2) / 2 (at least 0): the between-run spread of a file's median beyond what its
own intervals already hold. A rerun interval is where another run's median falls: +-z sqrt(2 (se^2 + sd^2)).
Results that were not measured quietly (record.noise) say nothing about the quiet device and are left out.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .intervals import log_half_width, z_score

MIN_FILES = 3   # fewer files measured twice is no estimate of a device's drift


@dataclass(frozen=True)
class Drift:
    """The between-run spread of one device's medians, and what it rests on."""

    device: str
    sd: float       # log scale (0.04 is about +-4% at one standard deviation)
    files: int      # distinct files measured in two runs or more
    pairs: int      # consecutive pairs of runs of the same file

    def to_dict(self) -> dict:
        return {"device": self.device, "sd_pct": round(100 * self.sd, 2), "files": self.files, "pairs": self.pairs}

    def text(self) -> str:
        return (f"between runs, medians on {self.device} moved +-{self.sd:.1%} (one sd, beyond their own "
                f"intervals; from {self.files} files measured in 2+ runs)")


def _se(record) -> float | None:
    """The within-run standard error of a record's median on the log scale, from its interval."""
    ci = record.protocol.get("median_ci_ms")
    if not ci or record.median_ms <= 0 or ci[0] <= 0:
        return None
    return log_half_width(record.median_ms, ci) / z_score(record.protocol.get("confidence") or 0.95)


def between_runs(records, device: str) -> Drift | None:
    """The drift of `device` from every pair of quiet records of the same file; None below MIN_FILES files."""
    by_file: dict[tuple, list] = {}
    for r in records:
        se = _se(r) if r.device == device and r.sha256 and not r.noise else None
        if se is not None:
            by_file.setdefault((r.sha256, r.artifact, r.file, r.threads), []).append((r.time, r.median_ms, se))
    terms, files = [], 0
    for runs in by_file.values():
        if len(runs) < 2:
            continue
        files += 1
        runs.sort(key=lambda run: run[0])
        for (_, m1, se1), (_, m2, se2) in zip(runs, runs[1:]):
            terms.append(math.log(m2 / m1) ** 2 - se1 ** 2 - se2 ** 2)
    if files < MIN_FILES:
        return None
    return Drift(device, math.sqrt(max(0.0, sum(terms) / len(terms) / 2)), files, len(terms))


def rerun_interval(estimate: float, ci: tuple[float, float], drift: Drift, confidence: float = 0.95
                   ) -> tuple[float, float]:
    """Where another run's estimate falls with `confidence`: this run's within-run error and the device's drift,
    each twice (this run's and the other's), on the log scale around `estimate`."""
    z = z_score(confidence)
    se = log_half_width(estimate, ci) / z
    half = z * math.sqrt(2 * (se * se + drift.sd * drift.sd))
    return estimate * math.exp(-half), estimate * math.exp(half)
