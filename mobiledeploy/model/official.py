"""The official Keras ImageNet weight files for MobileNet v1 and V2, through Keras's own cache and downloader."""
from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

from ..errors import MobiledeployError
from ..home import keras_cache_dir
from . import families

#: Where Keras publishes them (one folder per family); MOBILEDEPLOY_WEIGHTS_URL overrides (mirrors, tests on
#: loopback) and then holds every family's files.
ROOT_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"


def file_name(alpha: float, resolution: int, family: families.Family = families.v1_family) -> str:
    """Official file name for this family, alpha and resolution (with top)."""
    if not family.official_alphas:
        raise MobiledeployError(f"{family.title} has no official Keras weight file (there is no Keras application "
                                f"for it): use {family.weights_hint}")
    if alpha not in family.official_alphas or resolution not in family.official_resolutions:
        raise MobiledeployError(
            f"official ImageNet weights of {family.title} exist only for alpha in {list(family.official_alphas)} "
            f"and resolution in {list(family.official_resolutions)}, not alpha {alpha:g} res {resolution}: use "
            "--weights PATH or none")
    return family.official_file(alpha, resolution)


def cache_dir() -> Path:
    """Keras's model cache, where the official files are looked for and downloaded to."""
    return keras_cache_dir()


def cached_path(alpha: float, resolution: int, family: families.Family = families.v1_family) -> Path | None:
    """The official file if it is already in Keras's cache."""
    path = cache_dir() / file_name(alpha, resolution, family)
    return path if path.is_file() else None


def base_url(family: families.Family = families.v1_family) -> str:
    """Where this family's official files are fetched from (MOBILEDEPLOY_WEIGHTS_URL: a mirror, for every family)."""
    return os.environ.get("MOBILEDEPLOY_WEIGHTS_URL", ROOT_URL + family.keras_folder).rstrip("/") + "/"


def fetch(alpha: float, resolution: int, family: families.Family = families.v1_family) -> Path:
    """The official file, downloaded into Keras's cache when missing; one clear error when offline."""
    name = file_name(alpha, resolution, family)
    hit = cached_path(alpha, resolution, family)
    if hit:
        return hit
    from keras.utils import get_file

    base = base_url(family)
    try:
        # Keras falls back to /tmp/.keras when the cache folder does not exist yet
        cache_dir().mkdir(parents=True, exist_ok=True)
        with contextlib.redirect_stdout(sys.stderr):  # Keras prints its progress; stdout is for --json
            return Path(get_file(name, base + name, cache_subdir="models",
                                 cache_dir=str(cache_dir().parent)))
    except Exception as exc:  # urllib and Keras raise several types for one cause
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MobiledeployError(
            f"cannot download {name} ({reason}): put the file in {cache_dir()}/ (mobiledeploy weights add FILE) "
            f"or pass --weights /path/to/{name}") from None
