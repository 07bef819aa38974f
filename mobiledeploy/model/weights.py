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

CHOICES = ("auto, imagenet, none, or a path to a Keras .h5 / .weights.h5, a MobileNet v1/V2 .tflite, or "
           "torchvision's ShuffleNet V2 as a state dict saved as .npz or as an ONNX file")


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
    if head.startswith(b"PK\x03\x04"):  # a zip: NumPy's .npz (a torchvision state dict) or torch.save's file
        return _from_state_dict(path, alpha, resolution, background, family)
    if head[4:8] == b"TFL3" or path.suffix == ".tflite":
        if family.builder:
            raise MobiledeployError(f"{path} is a TFLite model: importing one reads MobileNet v1/V2 files only; "
                                    f"{family.title} takes {family.weights_hint}")
        return _from_tflite(path, alpha, resolution, background, family)
    if path.suffix.lower() == ".onnx" or head[:1] == b"\x08":  # ModelProto's first field, ir_version, is tag 0x08
        return _from_onnx(path, alpha, resolution, background, family)
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


def _from_state_dict(path: Path, alpha: float, resolution: int, background: bool, family: families.Family) -> Loaded:
    """torchvision's ShuffleNet V2 state dict, saved as .npz (see torchvision_import)."""
    from .mobilenet import build
    from .torchvision_import import MARK, describe, load_into, read_state_dict, width_of

    state = read_state_dict(path)
    holds = describe(state)
    if MARK not in state:
        raise MobiledeployError(f"{path} is not a torchvision ShuffleNet V2 state dict: it holds {holds}")
    if family.version != 2:
        raise MobiledeployError(f"{path} is not a {family.title} file: it holds {holds}; pass --arch shufflenet_v2")
    held = width_of(state)
    if held != alpha:
        raise MobiledeployError(f"{path} does not fit {family.title} alpha {alpha:g}: it holds {holds}"
                                + (f"; pass --alpha {held:g}" if held else ""))
    fc = state.get("fc.weight")
    outputs = int(fc.shape[0]) if fc is not None and fc.ndim == 2 else arch.IMAGENET_CLASSES
    model = build(family, alpha, resolution, classes=_classes(outputs, background, path), background=background)
    load_into(model, state, alpha, str(path))
    return Loaded(model, {"kind": "torchvision", "path": str(path), "sha256": sha256(path)}, background=background)


def _from_onnx(path: Path, alpha: float, resolution: int, background: bool, family: families.Family) -> Loaded:
    """torchvision's ShuffleNet V2 as an ONNX file (see onnx_import: both its batch-norm layouts)."""
    from .mobilenet import build
    from .onnx_import import read_onnx
    from .torchvision_import import load_into

    imported = read_onnx(path)
    holds = imported.describe()
    if family is not families.shufflenet_v2_family:
        raise MobiledeployError(f"{path} is not a {family.title} file: it holds {holds}; pass --arch shufflenet_v2"
                                + ("" if family.builder else f" (importing ONNX reads ShuffleNet V2 only; {family.title} "
                                                             f"takes {family.real_weights})"))
    if imported.alpha != alpha:
        raise MobiledeployError(f"{path} does not fit {family.title} alpha {alpha:g}: it holds {holds}; "
                                f"pass --alpha {imported.alpha:g}")
    model = build(family, alpha, resolution, classes=_classes(imported.outputs, background, path), background=background)
    load_into(model, imported.state, alpha, str(path))
    return Loaded(model, {"kind": "onnx", "path": str(path), "sha256": sha256(path), "layout": (
        "folded" if imported.folded else "conv+bn"), "matched": "names" if imported.by_name else "structure"},
        background=background)
