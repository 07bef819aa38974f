"""Real weights for the grid's cells from --weights-dir: Google's published TFLite files and Keras .h5 files."""
from __future__ import annotations

import re
import stat
from pathlib import Path

from ..errors import MobiledeployError
from ..readers import kind_of
from ..model import official

TFLITE = re.compile(r"^mobilenet_v1_(\d+(?:\.\d+)?)_(\d+)(_quant)?\.tflite$")
KERAS = re.compile(r"^mobilenet_(\d_\d)_(\d+)_tf\.h5$")
EXPECTED = "mobilenet_v1_<alpha>_<res>[_quant].tflite or Keras's mobilenet_<a>_<res>_tf.h5"
# a float file keeps every weight exactly; a quant file's weights are dequantized uint8
PREFERENCE = ("tflite", "keras-h5", "tflite-quant")


def scan(folder) -> dict[tuple[float, int], Path]:
    """(alpha, resolution) -> the best weights file in `folder`; an error when it holds none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise MobiledeployError(f"--weights-dir {folder} is not a folder: give the folder holding {EXPECTED}")
    found: dict[tuple[float, int], tuple[int, Path]] = {}
    alpha_of = {v: k for k, v in official.ALPHAS.items()}
    for path in sorted(folder.iterdir()):
        if not (TFLITE.match(path.name) or KERAS.match(path.name)):
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
        m = TFLITE.match(path.name)
        if m:
            key, kind = (float(m.group(1)), int(m.group(2))), "tflite-quant" if m.group(3) else "tflite"
        else:
            m = KERAS.match(path.name)
            if not m or m.group(1) not in alpha_of:
                continue
            key, kind = (alpha_of[m.group(1)], int(m.group(2))), "keras-h5"
        rank = PREFERENCE.index(kind)
        if key not in found or rank < found[key][0]:
            found[key] = (rank, path)
    if not found:
        others = sorted(p.name for p in folder.iterdir())[:5]
        listing = f" (it holds {', '.join(others)}{', ...' if len(others) == 5 else ''})" if others else " (it is empty)"
        raise MobiledeployError(f"--weights-dir {folder} has no MobileNet v1 weights file{listing}: expected "
                                f"{EXPECTED}")
    return {key: path for key, (_, path) in found.items()}


def for_cell(found: dict[tuple[float, int], Path], alpha: float, resolution: int) -> Path | None:
    """The weights file for one cell, or None (the cell then gets random weights: latency only)."""
    return found.get((round(float(alpha), 4), int(resolution)))
