"""Plots of stored bench results: latency against multiply-adds, one series per device and file kind."""
from __future__ import annotations

import logging
from pathlib import Path

from ..artifact.bundle import Artifact
from ..errors import MobiledeployError
from ..model.families import family
from ..plotting import check_target, pyplot, save
from .record import BenchRecord, ModelFacts

log = logging.getLogger("mobiledeploy")


def result_model(row: BenchRecord) -> ModelFacts | None:
    """The model facts of a bench result: stored with it, else read from its artifact's manifest (older
    results); None when neither is there. Artifact names are never parsed: they are not facts."""
    if row.model is not None:
        return row.model
    try:
        return ModelFacts.from_dict(Artifact.load(row.artifact).manifest.model.to_dict())
    except (MobiledeployError, ValueError):
        return None


def latency_plot(rows: list[BenchRecord], path: Path) -> Path:
    """Median latency (with p90 whisker) against mult-adds; the newest result per (device, artifact, file, threads).

    The image format follows the file's suffix (png when it has none); the file appears whole or not at all.
    """
    check_target(path)  # before any work: a folder or an unknown suffix is the user's to fix
    plt = pyplot()
    latest = {}
    for r in rows:
        latest[(r.device, r.artifact_name, r.file, r.threads)] = r
    if not latest:
        raise MobiledeployError("no bench results to plot: run mobiledeploy bench first")
    series: dict[str, list] = {}
    titles: set[str] = set()
    unknown = 0
    for (device, name, file, threads), r in sorted(latest.items()):
        model = result_model(r)
        if model is None:
            unknown += 1
            continue
        if model.macs is None:
            unknown += 1
            continue
        series.setdefault(f"{device}: {file} ({threads} thr)", []).append(
            (model.macs / 1e6, r.median_ms, r.p90_ms, family(model.architecture).label(model.alpha, model.resolution)))
        titles.add(family(model.architecture).title)
    if unknown:
        log.warning("%d results left out of the plot: their artifact is gone and they predate stored model facts",
                    unknown)
    if not series:
        raise MobiledeployError("no bench result to plot has known multiply-adds: re-run mobiledeploy bench")
    fig, ax = plt.subplots(figsize=(8, 5), dpi=120)
    for label, points in series.items():
        points.sort()
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        err = [[0] * len(points), [max(0.0, (p[2] or p[1]) - p[1]) for p in points]]
        ax.errorbar(xs, ys, yerr=err, marker="o", capsize=3, label=label)
        for x, y, _, name in points:
            ax.annotate(name, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
    ax.set_xlabel("multiply-adds (millions)")
    ax.set_ylabel("median latency (ms); whisker to p90")
    ax.set_title(f"{' and '.join(sorted(titles))}: latency against cost")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return save(fig, path)
