"""The official Keras ImageNet weight files for MobileNet v1, through Keras's own cache and downloader."""
from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

from ..errors import MobiledeployError
from ..home import keras_cache_dir

#: Where Keras publishes them; MOBILEDEPLOY_WEIGHTS_URL overrides (mirrors, tests on loopback).
BASE_URL = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet/"
ALPHAS = {1.0: "1_0", 0.75: "7_5", 0.5: "5_0", 0.25: "2_5"}
RESOLUTIONS = (128, 160, 192, 224)


def file_name(alpha: float, resolution: int) -> str:
    """Official file name for this alpha and resolution (with top)."""
    if alpha not in ALPHAS or resolution not in RESOLUTIONS:
        raise MobiledeployError(
            f"official ImageNet weights exist only for alpha in {sorted(ALPHAS)} and resolution in "
            f"{list(RESOLUTIONS)}, not alpha {alpha:g} res {resolution}: use --weights PATH or none")
    return f"mobilenet_{ALPHAS[alpha]}_{resolution}_tf.h5"


def cache_dir() -> Path:
    """Keras's model cache, where the official files are looked for and downloaded to."""
    return keras_cache_dir()


def cached_path(alpha: float, resolution: int) -> Path | None:
    """The official file if it is already in Keras's cache."""
    path = cache_dir() / file_name(alpha, resolution)
    return path if path.is_file() else None


def fetch(alpha: float, resolution: int) -> Path:
    """The official file, downloaded into Keras's cache when missing; one clear error when offline."""
    name = file_name(alpha, resolution)
    hit = cached_path(alpha, resolution)
    if hit:
        return hit
    from keras.utils import get_file

    base = os.environ.get("MOBILEDEPLOY_WEIGHTS_URL", BASE_URL)
    try:
        # Keras falls back to /tmp/.keras when the cache folder does not exist yet
        cache_dir().mkdir(parents=True, exist_ok=True)
        with contextlib.redirect_stdout(sys.stderr):  # Keras prints its progress; stdout is for --json
            return Path(get_file(name, base.rstrip("/") + "/" + name, cache_subdir="models",
                                 cache_dir=str(cache_dir().parent)))
    except Exception as exc:  # urllib and Keras raise several types for one cause
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MobiledeployError(
            f"cannot download {name} ({reason}): put the file in {cache_dir()}/ or pass "
            f"--weights /path/to/{name}") from None
