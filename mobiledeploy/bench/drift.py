"""How far a device's results move between runs, from the results store's own history: pure functions.

An interval measured within one run (bench/intervals.py) holds that run's noise: samples, processes, rounds.
It cannot hold what changes between runs minutes or days apart: a VM's neighbours, the host's clocks, a
phone's temperature. ISO 5725 calls the two repeatability and intermediate precision. The store sees the
second whenever the same file (same bytes at the same path, device and thread count) was measured in two
runs: one run measures a file once, so two records of it are two runs. From those pairs:

    d = log(m2 / m1),   Var(d) = 2 sd^2 + se1^2 + se2^2

with se the within-run standard error of each median (its interval's half-width on the log scale over z, at
the record's own confidence: Estimate.se), so sd^2 = mean(d^2 - se1^2 - se2^2) / 2 (at least 0): the between-run
spread of a file's median beyond what its own intervals already hold. Where another run's estimate falls is
`Estimate.widened(drift.sd)`: +-z sqrt(2 (se^2 + sd^2)) at the estimate's own confidence.
Results that were not measured quietly (record.noise) say nothing about the quiet device and are left out.
"""
from __future__ import annotations

import math
from dataclasses import dataclass


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


@dataclass(frozen=True)
class History:
    """Stored records, oldest first, and the drift between runs of each device among them."""

    records: list
    between_runs: list[Drift]

    def to_dict(self) -> dict:
        return {"results": [r.to_dict() for r in self.records], "between_runs": [d.to_dict() for d in self.between_runs]}


def between_runs(records, device: str) -> Drift | None:
    """The drift of `device` from every pair of quiet records of the same file; None below MIN_FILES files."""
    by_file: dict[tuple, list] = {}
    for r in records:
        se = r.measurement.median.se if r.device == device and r.sha256 and not r.noise else None
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
