"""Calibration and evaluation on different images: the overlap of two folders, and a deterministic split of one.

Int8 calibrated on the images it is then evaluated on scores itself on what it was fitted to: the measured
top-1 is optimistic. A sweep warns when --calib and --data share images (the same file, or the same bytes under
another name), and `--holdout F` splits one --data folder itself: an image goes to evaluation when the sha256 of
its file name falls below F, so the split does not depend on the order of listing, and adding images moves none.
"""
from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from ..errors import MobiledeployError
from ..fsutil import sha256_file
from ..runtime.images import find_images

log = logging.getLogger("mobiledeploy")


def overlap(calib, data) -> int:
    """How many images of `data` are also in `calib` (same file or same content)."""
    seen = {sha256_file(p) for p in find_images(calib)}
    return sum(1 for p in find_images(data) if sha256_file(p) in seen)


def warn_overlap(calib, data) -> int:
    """One warning naming the count when the calibration and evaluation images overlap; the count."""
    shared = overlap(calib, data)
    if shared:
        total = len(find_images(data))
        log.warning("%d of the %d --data images are also --calib images: int8 is then evaluated on what it was "
                    "calibrated on, and its top-1 is optimistic; give folders without common images, or one "
                    "folder with --holdout 0.5", shared, total)
    return shared


def _evaluation_share(name: str) -> float:
    return int.from_bytes(hashlib.sha256(name.encode("utf-8", "surrogateescape")).digest()[:8], "big") / 2 ** 64


def holdout(data, fraction: float, into: Path) -> tuple[Path, Path, int, int]:
    """Split `data` into calib/ and eval/ folders of links to its images, in a folder under `into` named by the
    data folder and the fraction (so the sweep's cache, which knows calibration by its path, never reuses files
    calibrated on another split); the tree below `data` is kept (class folders keep labelling their images):
    (calib, eval, n_calib, n_eval)."""
    if not isinstance(fraction, (int, float)) or isinstance(fraction, bool) or not 0 < fraction < 1:
        raise MobiledeployError(f"--holdout must be a fraction between 0 and 1 (0.5: half evaluates, half "
                                f"calibrates), got {str(fraction)[:40]!r}")
    images = find_images(data)
    parts = {"calib": [], "eval": []}
    for p in images:
        parts["eval" if _evaluation_share(p.relative_to(data).as_posix()) < fraction else "calib"].append(p)
    if not parts["calib"] or not parts["eval"]:
        raise MobiledeployError(f"--holdout {fraction:g} of the {len(images)} images in {data} leaves "
                                f"{'no calibration' if not parts['calib'] else 'no evaluation'} image: give more "
                                "images or another fraction")
    root = Path(data).resolve()
    tag = hashlib.sha256(f"{root}\0{fraction!r}".encode("utf-8", "surrogateescape")).hexdigest()[:12]
    out = {}
    for name, files in parts.items():
        folder = Path(into) / f"{root.name}-{fraction:g}-{tag}" / name
        for p in files:
            link = folder / p.relative_to(data)
            target = p.resolve()
            if link.is_symlink() and link.resolve() == target:
                continue   # made by an earlier run of the same split
            if link.exists() or link.is_symlink():
                raise MobiledeployError(f"{link} is in the way of the --holdout split: remove {folder.parent}")
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(target)
        out[name] = folder
    return out["calib"], out["eval"], len(parts["calib"]), len(parts["eval"])
