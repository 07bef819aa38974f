"""Read images as HxWx3 uint8 RGB, whatever their mode (greyscale, RGBA, CMYK, 16-bit)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import MobiledeployError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


def load_rgb(path) -> np.ndarray:
    """Decode an image file to RGB uint8; a clear MobiledeployError when it is not an image."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
                arr = np.asarray(img, dtype=np.float64)
                peak = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
                img = Image.fromarray(np.clip(arr / peak * 255.0 + 0.5, 0, 255).astype(np.uint8))
            if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
                img = img.convert("RGBA")
                background = Image.new("RGBA", img.size, (255, 255, 255, 255))
                img = Image.alpha_composite(background, img)  # transparent areas read as white
            return np.asarray(img.convert("RGB"), dtype=np.uint8)
    except FileNotFoundError:
        raise MobiledeployError(f"image not found: {path}") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise MobiledeployError(f"cannot read image {path}: {str(exc).splitlines()[0] if str(exc) else 'not an image'}") from None


def find_images(folder) -> list[Path]:
    """Image files below a folder, recursively, in a stable order."""
    root = Path(folder)
    if not root.is_dir():
        raise MobiledeployError(f"image folder not found: {root}")
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
