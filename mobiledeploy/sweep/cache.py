"""Reuse an exported artifact when its manifest says it was built from the same inputs.

Same family, alpha, resolution, weights (the sha256 of the weights file, or random), calibration (source,
folder, count, generator) and every TFLite precision the sweep needs, each file intact (sha256).
This is the one place the sweep reads an artifact's manifest.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..artifact.bundle import Artifact, artifact_name
from ..artifact.manifest import FileEntry, Manifest
from ..errors import MobiledeployError
from ..model.families import DEFAULT
from .cells import Cell


@dataclass(frozen=True)
class Recipe:
    """What an artifact must have been built from for the sweep to reuse it."""

    alpha: float
    resolution: int
    weights: str | None          # path of a real weights file, or None for random weights
    weights_sha256: str | None
    calib: str | None            # image folder, or None for data-free
    calib_count: int
    datafree_steps: int
    precisions: tuple[str, ...]
    arch: str = DEFAULT         # the family (model.families)

    @property
    def cell(self) -> Cell:
        return Cell(self.alpha, self.resolution, self.arch)

    def folder(self, out: Path) -> Path:
        """Where the artifact for this recipe lives."""
        return Path(out) / artifact_name(self.alpha, self.resolution, self.arch)


def matches(manifest: Manifest, recipe: Recipe) -> bool:
    """True when the manifest records exactly this recipe (a pure check on the manifest)."""
    m, calib = manifest.model, manifest.calibration_info
    if m.alpha != recipe.alpha or m.resolution != recipe.resolution or m.architecture != recipe.arch:
        return False
    w = m.weights or {}
    if recipe.weights_sha256 is None:
        if w.get("kind") != "random":
            return False
    elif w.get("sha256") != recipe.weights_sha256:
        return False
    have = {(e.format, e.precision) for e in manifest.files}
    if any(("tflite", p) not in have for p in recipe.precisions):
        return False
    if "int8" in recipe.precisions:
        if recipe.calib:
            if calib.source != "images" or calib.path is None or \
                    Path(calib.path).resolve() != Path(recipe.calib).resolve():
                return False
        elif calib.source != "data-free" or calib.count != recipe.calib_count \
                or calib.optimised is None or calib.optimised != (recipe.datafree_steps > 0):
            return False
    return True


def reusable(recipe: Recipe, out: Path) -> Artifact | None:
    """The existing artifact for this recipe when it matches and its files are intact, else None."""
    folder = recipe.folder(out)
    if not (folder / "manifest.json").is_file():
        return None
    try:
        artifact = Artifact.load(folder)
        if not matches(artifact.manifest, recipe):
            return None
        for p in recipe.precisions:
            artifact.path(artifact.manifest.file("tflite", p))
    except (MobiledeployError, KeyError, TypeError, ValueError):
        return None  # stale, damaged or foreign: export again
    return artifact


def file_entry(artifact: Artifact, precision: str) -> FileEntry:
    """The TFLite file entry of one precision."""
    return artifact.manifest.file("tflite", precision)
