"""The one implementation of preprocessing, driven by the manifest's `input` section.

Every step is defined so another language can reproduce it exactly (the Android module does):
1. central crop: start = int((side - side * fraction) / 2) per axis, size = side - 2 * start
   (tf.image.central_crop's rule);
2. bilinear resize with half-pixel centres and no antialiasing (tf.image.resize's rule), computed
   in float64 as top = p00 + (p01 - p00) * wx, bottom likewise, value = top + (bottom - top) * wy;
3. normalise (value - mean) / std in float64, then float32;
4. for an integer input: q = clip(floor(x / scale + zero_point + 0.5)), x being the float64 value.
"""
from __future__ import annotations

import numpy as np

from ..artifact.manifest import InputSpec

DEFAULT_CROP = 0.875              # Google's MobileNet evaluation crop
DEFAULT_MEAN = (127.5, 127.5, 127.5)
DEFAULT_STD = (127.5, 127.5, 127.5)


def input_spec(resolution: int, crop: float = DEFAULT_CROP) -> InputSpec:
    """The manifest's preprocessing block for a model with this input side (crop 1.0: none)."""
    return InputSpec((1, resolution, resolution, 3), crop if crop < 1 else None, DEFAULT_MEAN, DEFAULT_STD)


def central_crop(rgb: np.ndarray, fraction: float) -> np.ndarray:
    """Centre box of `fraction` of each side (tf.image.central_crop's integer rule)."""
    if not 0 < fraction <= 1:
        raise ValueError(f"crop fraction must be in (0, 1], got {fraction}")
    h, w = rgb.shape[:2]
    top = int((h - h * fraction) / 2)
    left = int((w - w * fraction) / 2)
    return rgb[top:h - top, left:w - left]


def _axis(in_size: int, out_size: int):
    scale = in_size / out_size
    src = (np.arange(out_size, dtype=np.float64) + 0.5) * scale - 0.5
    src = np.clip(src, 0.0, in_size - 1)
    lo = np.floor(src).astype(np.int64)
    hi = np.minimum(lo + 1, in_size - 1)
    return lo, hi, src - lo


def resize_bilinear(img: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize with half-pixel centres, no antialias; returns float64 HxWxC."""
    y0, y1, wy = _axis(img.shape[0], height)
    x0, x1, wx = _axis(img.shape[1], width)
    # one gather of the four neighbours (p00, p01, p10, p11) while still uint8, then float64 in place
    p = img[np.stack([y0, y0, y1, y1])[:, :, None], np.stack([x0, x1, x0, x1])[:, None, :]].astype(np.float64)
    wx = wx[None, :, None]
    top = p[1] - p[0]
    top *= wx
    top += p[0]                      # top = p00 + (p01 - p00) * wx
    bottom = p[3] - p[2]
    bottom *= wx
    bottom += p[2]                   # bottom = p10 + (p11 - p10) * wx
    bottom -= top
    bottom *= wy[:, None, None]
    bottom += top                    # value = top + (bottom - top) * wy
    return bottom


def to_float64(rgb: np.ndarray, spec: InputSpec) -> np.ndarray:
    """Crop, resize and normalise an HxWx3 uint8 RGB image; float64 1xRxRx3."""
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 RGB image, got shape {rgb.shape}")
    if spec.crop_fraction is not None:
        rgb = central_crop(rgb, spec.crop_fraction)
    values = resize_bilinear(rgb, spec.height, spec.width)
    values = (values - np.asarray(spec.mean, np.float64)) / np.asarray(spec.std, np.float64)
    return values[None]


def quantize(values: np.ndarray, scale: float, zero_point: int, dtype) -> np.ndarray:
    """Float64 values to an integer tensor: clip(floor(x / scale + zero_point + 0.5))."""
    info = np.iinfo(dtype)
    q = np.floor(values / scale + zero_point + 0.5)
    return np.clip(q, info.min, info.max).astype(dtype)


def preprocess(rgb: np.ndarray, spec: InputSpec) -> np.ndarray:
    """The float32 model input for an image (the tensor a float model is fed)."""
    return to_float64(rgb, spec).astype(np.float32)
