"""Calibration and verification inputs from a folder of images, preprocessed by the runtime's one rule."""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import MobiledeployError
from ..runtime.images import find_images, load_rgb
from ..runtime.preprocess import preprocess

log = logging.getLogger("mobiledeploy")
MIN_RECOMMENDED = 100
CALIB_COUNT = 200       # calibration images used by default (export and sweep alike)
DATAFREE_COUNT = 32     # synthetic calibration images of a data-free int8 export
DATAFREE_VERIFY = 8     # synthetic verification images held back when no real ones are given


@dataclass
class ImageSet:
    """Preprocessed inputs plus what happened while reading them."""

    inputs: np.ndarray
    files: list[str]
    skipped: list[str] = field(default_factory=list)


def read_images(paths: list[Path], spec, progress=None) -> ImageSet:
    """Decode and preprocess; unreadable files are skipped with a warning and counted."""
    inputs, used, skipped = [], [], []
    for path in paths:
        try:
            inputs.append(preprocess(load_rgb(path), spec)[0])
            used.append(str(path))
        except MobiledeployError as exc:
            log.warning("skipped: %s", exc)
            skipped.append(str(path))
        if progress:
            progress(1)
    empty = np.zeros((0, *spec.shape[1:]), np.float32)
    return ImageSet(np.stack(inputs) if inputs else empty, used, skipped)


def split(folder: Path, count: int, verify_count: int, has_verify_dir: bool, seed: int = 0):
    """(calibration paths, held-back verification paths) from one folder, in a fixed shuffled order."""
    paths = find_images(folder)
    if not paths:
        raise MobiledeployError(f"no images (jpg, png, bmp) in calibration folder {folder}")
    random.Random(seed).shuffle(paths)
    if has_verify_dir:
        return paths[:count], []
    held = min(verify_count, max(1, len(paths) // 5)) if len(paths) > 1 else 0
    calib = paths[held:held + count]
    if not calib:
        raise MobiledeployError(f"calibration folder {folder} has only {len(paths)} image(s): need at least 2 "
                                "(or pass --verify DIR)")
    return calib, paths[:held]


def warn_if_few(count: int) -> None:
    """Post-training quantization with fewer than ~100 images gives noisy activation ranges."""
    if count < MIN_RECOMMENDED:
        log.warning("calibrating on %d images; %d or more give stabler int8 ranges", count, MIN_RECOMMENDED)
