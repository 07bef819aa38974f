"""Resolve `--weights` (auto, imagenet, none, a Keras .h5 file, a TFLite model) into a built Keras model."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from ..artifact.bundle import file_sha256 as sha256
from ..errors import MobiledeployError
from . import architecture as arch
from . import official

log = logging.getLogger("mobiledeploy")

CHOICES = "auto, imagenet, none, or a path to a Keras .h5 / .weights.h5 or a MobileNet v1 .tflite"


@dataclass
class Loaded:
    """A model with weights, where they came from, and labels the weights carried (if any)."""

    model: object
    origin: dict
    labels: list[str] | None = field(default=None)
    background: bool = False


def build_with_weights(alpha: float, resolution: int, weights: str = "auto",
                       background: bool = False) -> Loaded:
    """Build MobileNet v1 and load `weights` into it; one MobiledeployError for every user mistake."""
    from .mobilenet import build_mobilenet_v1

    alpha = arch.check_alpha(alpha)
    resolution = arch.check_resolution(resolution)
    spec = str(weights)
    if spec == "none":
        return Loaded(build_mobilenet_v1(alpha, resolution, background=background), {"kind": "random"},
                      background=background)
    if spec in ("imagenet", "auto"):
        if spec == "auto":
            try:
                official.file_name(alpha, resolution)
                path = official.fetch(alpha, resolution)
            except MobiledeployError as exc:
                log.warning("weights: random initialisation (%s)", exc)
                return Loaded(build_mobilenet_v1(alpha, resolution, background=background),
                              {"kind": "random", "reason": str(exc)}, background=background)
        else:
            path = official.fetch(alpha, resolution)
        loaded = _from_h5(path, alpha, resolution, background)
        loaded.origin["kind"] = "imagenet"
        return loaded
    path = Path(spec)
    if not path.exists():
        raise MobiledeployError(f"weights file not found: {path} (--weights takes {CHOICES})")
    if not path.is_file():
        raise MobiledeployError(f"--weights {path} is a folder; it takes {CHOICES}")
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(b"\x89HDF"):
        return _from_h5(path, alpha, resolution, background)
    if head[4:8] == b"TFL3" or path.suffix == ".tflite":
        return _from_tflite(path, alpha, resolution, background)
    raise MobiledeployError(f"{path} is neither a Keras HDF5 weights file nor a TFLite model "
                            f"(--weights takes {CHOICES})")


def _from_h5(path: Path, alpha: float, resolution: int, background: bool) -> Loaded:
    from .keras_h5 import assign_by_name, is_keras3_layout, read_h5_weights
    from .mobilenet import build_mobilenet_v1

    origin = {"kind": "keras-h5", "path": str(path), "sha256": sha256(path)}
    try:
        keras3 = is_keras3_layout(path)
    except OSError as exc:
        raise MobiledeployError(f"cannot read Keras weights file {path}: {exc}") from None
    if keras3:
        model = build_mobilenet_v1(alpha, resolution, background=background)
        try:
            model.load_weights(str(path))
        except (ValueError, KeyError) as exc:
            first = (str(exc).strip().splitlines() or ["layout mismatch"])[0]
            raise MobiledeployError(f"{path} does not fit MobileNet v1 alpha {alpha:g} res {resolution}: "
                                    f"{first}") from None
        return Loaded(model, origin, background=background)

    arrays = read_h5_weights(path)
    preds = arrays.get("conv_preds")
    outputs = preds[-1].shape[0] if preds else arch.IMAGENET_CLASSES
    classes = outputs - int(background)
    model = build_mobilenet_v1(alpha, resolution, classes=classes, background=background)
    assign_by_name(model, arrays, str(path))
    return Loaded(model, origin, background=background)


def _from_tflite(path: Path, alpha: float, resolution: int, background: bool) -> Loaded:
    from .mobilenet import build_mobilenet_v1
    from .tflite_import import assign_tflite, read_tflite

    imported = read_tflite(path)
    drops = imported.outputs == arch.IMAGENET_CLASSES + 1 and not background
    classes = imported.outputs - 1 if (drops or background) else imported.outputs
    model = build_mobilenet_v1(alpha, resolution, classes=classes, background=background)
    labels = assign_tflite(model, imported, alpha, resolution, background, str(path))
    return Loaded(model, {"kind": "tflite", "path": str(path), "sha256": sha256(path),
                          "dropped_background": drops}, labels=labels, background=background)
