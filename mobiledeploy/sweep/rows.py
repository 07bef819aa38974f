"""The sweep's table rows, from stored results: measured latency, measured / published / no accuracy,
predicted latency for cells not measured, and which rows are on each device's front.

Facts come from each result's `model` block (written by the bench from the manifest), never from
folder names; results without one (older mobiledeploy) are left out.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..bench.measurement import Estimate
from ..bench.record import BenchRecord
from . import front, predictor, published
from .cells import Cell, Row


@dataclass
class Report:
    """The rows of a sweep's table and the latency predictor's honest error per group."""

    rows: list[Row] = field(default_factory=list)
    predictor: list[dict] = field(default_factory=list)
    drift: dict = field(default_factory=dict)   # device -> its Drift between runs, where the store shows one

    def to_dict(self) -> dict:
        return {"rows": [r.to_dict() for r in self.rows], "predictor": self.predictor,
                "between_runs": [d.to_dict() for d in self.drift.values()]}


def latest(records: list[BenchRecord], devices=None, threads=None, precisions=None, cells=None, within=None,
           real_only: bool = False) -> list[BenchRecord]:
    """The newest TFLite result per (device, artifact folder, file, threads) that passes the filters.

    Results of different artifacts (other weights, another sweep's folder) at the same cell are different
    rows: one never hides the other. `threads`: a count or a list of counts; `within`: only artifacts under this
    folder (a sweep's --out); `real_only`: only artifacts with real (not random) weights."""
    from pathlib import Path

    wanted_threads = None if threads is None else ({threads} if isinstance(threads, int) else set(threads))
    folder = Path(within).resolve() if within else None
    out = {}
    for r in records:
        if r.model is None or r.format != "tflite":
            continue
        cell = Cell(r.model.alpha, r.model.resolution, r.model.architecture)
        if (devices and r.device not in devices) or (wanted_threads and r.threads not in wanted_threads) \
                or (precisions and r.precision not in precisions) or (cells and cell not in cells):
            continue
        if real_only and r.model.weights_kind in (None, "random"):
            continue
        if folder is not None and not Path(r.artifact).resolve().is_relative_to(folder):
            continue
        out[(r.device, r.artifact, r.file, r.threads)] = r
    return list(out.values())


def _top1(cell: Cell, precision: str, sha: str | None, acc: dict) -> tuple[float | None, str | None, int | None]:
    hit = acc.get(sha) if sha else None
    if hit:
        return hit["top1"], "measured", hit.get("n")
    pub = published.top1(cell.alpha, cell.resolution, precision, cell.arch)
    return (pub, "published", None) if pub is not None else (None, None, None)


def measured_row(r: BenchRecord, acc: dict) -> Row:
    """A table row for one stored result."""
    cell = Cell(r.model.alpha, r.model.resolution, r.model.architecture)
    top1, source, n = _top1(cell, r.precision, r.sha256, acc)
    return Row(device=r.device, cell=cell, precision=r.precision, threads=r.threads, macs=r.model.macs,
               params=r.model.params, median=r.measurement.median, p90=r.p90, latency="measured", top1=top1,
               top1_source=source, top1_n=n, size=r.size, weights=r.model.weights_kind, artifact=r.artifact,
               file=r.file, sha256=r.sha256, time=r.time, unstable=r.unstable, noise=r.noise)


def build(records: list[BenchRecord], acc: dict, devices=None, threads=None, precisions=None, cells=None, within=None,
          real_only: bool = False) -> Report:
    """Measured rows, predicted rows for the grid's unmeasured cells, fronts marked.

    The latency predictor is fitted per device x precision x threads x family (a family's layers set how
    latency follows cost); the front is one per device and thread count, across families."""
    from ..model.cost import summary
    from ..model.families import family

    cells = [c if isinstance(c, Cell) else Cell(*c) for c in cells] if cells else None
    rows = [measured_row(r, acc) for r in latest(records, devices, threads, precisions, cells, within, real_only)]
    models = []
    groups: dict[tuple, list[Row]] = {}
    for row in rows:
        groups.setdefault((row.device, row.precision, row.threads, row.arch), []).append(row)
    for (device, prec, thr, arch), members in sorted(groups.items()):
        fam = family(arch)
        feats = [predictor.features(r.alpha, r.resolution, prec, fam) for r in members]
        fits = {k: predictor.fit(feats, [getattr(r, k) for r in members]) for k in ("median_ms", "p90_ms")}
        p90 = fits["p90_ms"]
        models.append({"device": device, "precision": prec, "threads": thr, "arch": arch, "measured": len(members),
                       "form": p90.form if p90 else None, "loo_median_abs_pct": p90.loo_median_pct if p90 else None,
                       "loo_max_abs_pct": p90.loo_max_pct if p90 else None,
                       "loo_within_10pct": p90.loo_within_10 if p90 else None,
                       "noise_floor_pct": predictor.noise_floor([r.p90_ms for r in members],
                                                                [r.p90.interval for r in members])})
        if not cells or not all(fits.values()):
            continue
        have = {r.cell for r in members}
        for cell in sorted(c for c in set(cells) - have if c.arch == arch):
            f = predictor.features(cell.alpha, cell.resolution, prec, fam)
            cost = summary(cell.alpha, cell.resolution, family=fam)
            top1, source, _ = _top1(cell, prec, None, acc)
            rows.append(Row(device=device, cell=cell, precision=prec, threads=thr, macs=cost["macs"],
                            params=cost["params"], median=Estimate(fits["median_ms"].predict(f)),
                            p90=Estimate(fits["p90_ms"].predict(f)), latency="predicted", top1=top1,
                            top1_source=source))
    for row in rows:
        row.on_front = None if not row.measured or row.top1 is None else False
    for key in sorted({(r.device, r.threads) for r in rows}):  # one front per device and thread count
        for r in front.pareto([r for r in rows if (r.device, r.threads) == key and r.measured]):
            r.on_front = True
    rows.sort(key=lambda r: (r.device, r.threads, r.precision, r.macs or 0))
    _int8_drops(rows, acc)
    return Report(rows, models, _rerun(records, rows))


def _int8_drops(rows: list[Row], acc: dict) -> None:
    """Each measured int8 row's top-1 drop against its own artifact's fp32 file, paired on the same images."""
    from ..eval import unpack
    from .paired import paired_drop

    fp32 = {(r.device, r.artifact, r.threads): r for r in rows if r.measured and r.precision == "fp32"}
    for r in rows:
        f = fp32.get((r.device, r.artifact, r.threads)) if r.measured and r.precision == "int8" else None
        if f is None or r.top1_source != "measured" or f.top1_source != "measured":
            continue
        a, b = acc.get(f.sha256) or {}, acc.get(r.sha256) or {}
        if a.get("data") != b.get("data") or a.get("n") != b.get("n"):
            continue   # evaluated on other images: not a pair
        bits_a, bits_b = unpack(a.get("correct"), a.get("n")), unpack(b.get("correct"), b.get("n"))
        if bits_a is not None and bits_b is not None:
            r.int8_drop = paired_drop(bits_a, bits_b)


def _rerun(records: list[BenchRecord], rows: list[Row]) -> dict:
    """Each device's drift between runs from the whole store, and each measured row's rerun estimates (at the
    confidence each was measured with)."""
    from ..bench.drift import between_runs

    drift = {d: between_runs(records, d) for d in sorted({r.device for r in rows if r.measured})}
    drift = {d: v for d, v in drift.items() if v is not None}
    for r in rows:
        d = drift.get(r.device)
        if d is not None and r.measured:
            r.median_rerun, r.p90_rerun = r.median.widened(d.sd), r.p90.widened(d.sd)
    return drift
