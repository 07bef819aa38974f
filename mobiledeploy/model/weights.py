"""Resolve `--weights` (auto, imagenet, none, a Keras .h5 file, a TFLite model) into a built Keras model."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from ..fsutil import sha256_file as sha256
from ..errors import MobiledeployError
from . import architecture as arch
from . import families, official

log = logging.getLogger("mobiledeploy")

CHOICES = "auto, imagenet, none, or a path to a Keras .h5 / .weights.h5 or a MobileNet v1/V2 .tflite"


@dataclass
class Loaded:
    """A model with weights, where they came from, and labels the weights carried (if any)."""

    model: object
    origin: dict
    labels: list[str] | None = field(default=None)
    background: bool = False


def build_with_weights(alpha: float, resolution: int, weights: str = "auto", background: bool = False,
                       family: families.Family = families.v1_family) -> Loaded:
    """Build `family` and load `weights` into it; one MobiledeployError for every user mistake."""
    from .mobilenet import build

    alpha = arch.check_alpha(alpha)
    resolution = arch.check_resolution(resolution)
    spec = str(weights)
    if spec == "none":
        return Loaded(build(family, alpha, resolution, background=background), {"kind": "random"},
                      background=background)
    if spec in ("imagenet", "auto"):
        if spec == "auto":
            try:
                official.file_name(alpha, resolution, family)
                path = official.fetch(alpha, resolution, family)
            except MobiledeployError as exc:
                log.warning("weights: random initialisation (%s)", exc)
                return Loaded(build(family, alpha, resolution, background=background),
                              {"kind": "random", "reason": str(exc)}, background=background)
        else:
            path = official.fetch(alpha, resolution, family)
        loaded = _from_h5(path, alpha, resolution, background, family)
        loaded.origin["kind"] = "imagenet"
        return loaded
    path = Path(spec)
    if not path.exists():
        raise MobiledeployError(f"weights file not found: {path} (--weights takes {CHOICES})")
    if not path.is_file():  # a folder, FIFO or device: never opened (a FIFO would block, /dev/zero never ends)
        kind = "a folder" if path.is_dir() else "not a regular file"
        raise MobiledeployError(f"--weights {path} is {kind}; it takes {CHOICES}")
    if path.stat().st_size == 0:
        raise MobiledeployError(f"--weights {path} is empty (0 bytes); it takes {CHOICES}")
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError as exc:
        raise MobiledeployError(f"cannot read --weights {path}: {exc.strerror or exc}") from None
    if head.startswith(b"\x89HDF"):
        return _from_h5(path, alpha, resolution, background, family)
    if head[4:8] == b"TFL3" or path.suffix == ".tflite":
        return _from_tflite(path, alpha, resolution, background, family)
    raise MobiledeployError(f"{path} is neither a Keras HDF5 weights file nor a TFLite model "
                            f"(--weights takes {CHOICES})")


def _from_h5(path: Path, alpha: float, resolution: int, background: bool, family: families.Family) -> Loaded:
    """Keras 2 (by layer name) or Keras 3 (`.weights.h5`, by order) weights; the classifier size comes from the file."""
    from .keras_h5 import assign_by_name, describe, is_keras3_layout, keras3_shapes, read_h5_weights
    from .mobilenet import build

    origin = {"kind": "keras-h5", "path": str(path), "sha256": sha256(path)}
    keras3 = is_keras3_layout(path)
    if keras3:
        shapes = keras3_shapes(path)
    else:
        arrays = read_h5_weights(path)
        shapes = {name: a[0].shape for name, a in arrays.items() if a}
    holds = describe(shapes)
    held = families.of_layer_names(shapes)
    if held is not None and held is not family:
        raise MobiledeployError(f"{path} is not a {family.title} file: it holds {holds}; pass --arch {held.name} "
                                f"or a {family.title} file")
    wanted = family.widths(alpha)
    if {name: int(shapes[name][-1]) for name in wanted if name in shapes} != wanted:
        raise MobiledeployError(f"{path} does not fit {family.title} alpha {alpha:g}: it holds {holds}")
    classifier = family.classifier
    outputs = int(shapes[classifier][-1]) if classifier in shapes else arch.IMAGENET_CLASSES
    classes = _classes(outputs, background, path)
    model = build(family, alpha, resolution, classes=classes, background=background)
    if keras3:
        try:
            model.load_weights(str(path))
        except (ValueError, KeyError, OSError, TypeError) as exc:
            first = (str(exc).strip().splitlines() or ["layout mismatch"])[0]
            raise MobiledeployError(f"{path} does not fit {family.title} alpha {alpha:g}: {first}; it holds "
                                    f"{holds}") from None
    else:
        assign_by_name(model, arrays, str(path))
    return Loaded(model, origin, background=background)


def _classes(outputs: int, background: bool, path: Path) -> int:
    """Real classes of a file's classifier; a class count other than ImageNet's is said once."""
    classes = outputs - int(background)
    if classes < 1:
        raise MobiledeployError(f"{path} has a classifier with {outputs} output(s): too few for "
                                f"{'--keep-background' if background else 'a classifier'}")
    if outputs not in (arch.IMAGENET_CLASSES, arch.IMAGENET_CLASSES + 1):
        log.info("%s has a %d-output classifier (not ImageNet's 1000): the model gets %d outputs; pass --labels "
                 "with %d names", path, outputs, outputs, classes)
    return classes


def _from_tflite(path: Path, alpha: float, resolution: int, background: bool, family: families.Family) -> Loaded:
    from .mobilenet import build
    from .tflite_import import assign_tflite, read_tflite

    try:
        imported = read_tflite(path)
    except (KeyError, IndexError, ValueError, TypeError) as exc:  # a graph shaped unlike a MobileNet
        raise MobiledeployError(f"{path} is not a {family.title} TFLite model ({type(exc).__name__}: "
                                f"{(str(exc).strip().splitlines() or [''])[0]})") from None
    drops = imported.outputs == arch.IMAGENET_CLASSES + 1 and not background
    classes = imported.outputs - 1 if (drops or background) else imported.outputs
    model = build(family, alpha, resolution, classes=classes, background=background)
    labels = assign_tflite(model, family, imported, alpha, resolution, background, str(path))
    return Loaded(model, {"kind": "tflite", "path": str(path), "sha256": sha256(path),
                          "dropped_background": drops}, labels=labels, background=background)
