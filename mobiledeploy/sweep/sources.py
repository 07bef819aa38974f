"""Real weights for the grid's cells from --weights-dir: Google's published TFLite files, Keras .h5 files and
torchvision's ShuffleNet V2.

Recognised names (as Google, Keras and torchvision name them):
  mobilenet_v1_<alpha>_<res>[_quant].tflite      mobilenet_<a>_<res>_tf.h5 (a: 2_5, 5_0, 7_5, 1_0)
  mobilenet_v2_<alpha>_<res>[_quant].tflite      tf2_mobilenet_v2_<alpha>_<res>_ptq.tflite
  mobilenet_v2_weights_tf_dim_ordering_tf_kernels_<alpha>_<res>.h5
  shufflenet_v2_x<w>.npz, shufflenet_v2_x<w>.onnx (w: 0_5, 1_0, 1_5, 2_0): one width at every resolution (its
  weights do not depend on the input size), the state dict saved by numpy or the ONNX file (docs/families.md)
"""
from __future__ import annotations

import re
import stat
from pathlib import Path

from ..errors import MobiledeployError
from ..readers import kind_of
from ..model.architecture import KERAS_ALPHAS

NUMBER = r"(\d+(?:\.\d+)?)"
#: (pattern, family, kind): groups are alpha and resolution
PATTERNS = (
    (re.compile(rf"^mobilenet_v1_{NUMBER}_(\d+)\.tflite$"), "mobilenet_v1", "tflite"),
    (re.compile(rf"^mobilenet_v1_{NUMBER}_(\d+)_quant\.tflite$"), "mobilenet_v1", "tflite-quant"),
    (re.compile(r"^mobilenet_(\d_\d)_(\d+)_tf\.h5$"), "mobilenet_v1", "keras-h5"),
    (re.compile(rf"^mobilenet_v2_{NUMBER}_(\d+)\.tflite$"), "mobilenet_v2", "tflite"),
    (re.compile(rf"^mobilenet_v2_{NUMBER}_(\d+)_quant\.tflite$"), "mobilenet_v2", "tflite-quant"),
    (re.compile(rf"^tf2_mobilenet_v2_{NUMBER}_(\d+)_ptq\.tflite$"), "mobilenet_v2", "tflite-quant"),
    (re.compile(rf"^mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{NUMBER}_(\d+)\.h5$"), "mobilenet_v2",
     "keras-h5"),
    (re.compile(r"^shufflenet_v2_x(\d_\d)\.npz$"), "shufflenet_v2", "torchvision"),
    (re.compile(r"^shufflenet_v2_x(\d_\d)\.onnx$"), "shufflenet_v2", "onnx"),
)
ANY_RESOLUTION = 0   # the resolution of a key whose weights serve every resolution (ShuffleNet's)
EXPECTED = ("Google's mobilenet_v1_<alpha>_<res>[_quant].tflite, mobilenet_v2_<alpha>_<res>[_quant].tflite, "
            "tf2_mobilenet_v2_<alpha>_<res>_ptq.tflite, the Keras .h5 files, or torchvision's "
            "shufflenet_v2_x<w>.npz/.onnx (w: 0_5, 1_0, 1_5, 2_0)")
# a float file keeps every weight exactly; a quant file's weights are dequantized int8/uint8
PREFERENCE = ("tflite", "keras-h5", "torchvision", "onnx", "tflite-quant")


def recognise(name: str) -> tuple[tuple[str, float, int], str] | None:
    """((family, alpha, resolution), kind) for a recognised weights file name, else None."""
    for pattern, arch, kind in PATTERNS:
        m = pattern.match(name)
        if not m:
            continue
        text = m.group(1)
        if arch == "shufflenet_v2":   # torchvision's widths: x0_5 ... x2_0
            return (arch, float(text.replace("_", ".")), ANY_RESOLUTION), kind
        if "_" in text:  # Keras v1 spells alpha 2_5, 5_0, 7_5, 1_0
            alpha = {v: k for k, v in KERAS_ALPHAS.items()}.get(text)
            if alpha is None:
                return None
        else:
            alpha = float(text)
        return (arch, round(alpha, 4), int(m.group(2))), kind
    return None


def scan(folder) -> dict[tuple[str, float, int], Path]:
    """(family, alpha, resolution) -> the best weights file in `folder`; an error when it holds none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise MobiledeployError(f"--weights-dir {folder} is not a folder: give the folder holding {EXPECTED}")
    found: dict[tuple[str, float, int], tuple[int, Path]] = {}
    for path in sorted(folder.iterdir()):
        known = recognise(path.name)
        if known is None:
            continue
        try:
            mode = path.stat().st_mode
        except (OSError, RuntimeError) as exc:  # a dangling link, a link loop
            reason = "a link to nothing" if isinstance(exc, FileNotFoundError) else "a link loop or unreadable"
            raise MobiledeployError(f"--weights-dir entry {path} is {reason}: replace it with the weights file or "
                                    "remove it") from None
        if not stat.S_ISREG(mode):
            raise MobiledeployError(f"--weights-dir entry {path} is {kind_of(mode)}, not a weights file: replace it "
                                    "with the file or remove it")
        key, kind = known
        rank = PREFERENCE.index(kind)
        if key not in found or rank < found[key][0]:
            found[key] = (rank, path)
    if not found:
        others = sorted(p.name for p in folder.iterdir())[:5]
        listing = f" (it holds {', '.join(others)}{', ...' if len(others) == 5 else ''})" if others else " (it is empty)"
        raise MobiledeployError(f"--weights-dir {folder} has no weights file it recognises{listing}: expected "
                                f"{EXPECTED}")
    return {key: path for key, (_, path) in found.items()}


def describe(key: tuple[str, float, int]) -> str:
    """A found key as a cell's label, or the family's width at any resolution."""
    from .cells import Cell

    arch, alpha, res = key
    return f"{arch} x{alpha:g} (every resolution)" if res == ANY_RESOLUTION else Cell(alpha, res, arch).label


def for_cell(found: dict[tuple[str, float, int], Path], cell) -> Path | None:
    """The weights file for one cell (a sweep Cell), or None (it then gets random weights: latency only)."""
    key = (cell.arch, round(float(cell.alpha), 4))
    return found.get((*key, int(cell.resolution))) or found.get((*key, ANY_RESOLUTION))
