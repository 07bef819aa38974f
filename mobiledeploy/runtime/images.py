"""Read images as HxWx3 uint8 RGB, whatever their mode (greyscale, RGBA, CMYK, 16-bit).

`load_rgb` is the one image reader of every command (predict, eval, calibration, test vectors, the Pi
classifier's folder source), so its limits are the project's limits:
- only regular files (a folder, FIFO or device named like an image is refused without reading it);
- at most MAX_FILE_BYTES on disk;
- at most MAX_PIXELS once decoded, checked from the header before any pixel is decoded: a PNG of
  20000x20000 compresses to a few hundred KB but decodes to 1.2 GB (a "decompression bomb").
"""
from __future__ import annotations

import os
import re
import stat
import warnings
from pathlib import Path

import numpy as np

from ..errors import MobiledeployError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
#: Decoded size limit: 64 megapixels (a 8000x8000 photo; phone cameras give 12-50), 192 MB as RGB.
#: Below Pillow's own 89-megapixel warning threshold, so Pillow never warns before we refuse.
MAX_PIXELS = 64_000_000
#: On-disk size limit: an uncompressed 64-megapixel 16-bit RGBA image is 512 MB.
MAX_FILE_BYTES = 512 * 1024 * 1024


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _open_regular(path: Path):
    """A binary file object for a regular, non-empty file within the size limit; never blocks on a FIFO."""
    try:
        # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise MobiledeployError(f"image not found: {path}") from None
    except IsADirectoryError:
        raise MobiledeployError(f"{path} is a folder, not an image") from None
    except OSError as exc:
        raise MobiledeployError(f"cannot open image {path}: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)  # of what was opened, not of what the name points to a moment later
        if not stat.S_ISREG(info.st_mode):
            raise MobiledeployError(f"{path} is {_kind(info.st_mode)}, not an image file")
        if info.st_size == 0:
            raise MobiledeployError(f"image {path} is empty (0 bytes)")
        if info.st_size > MAX_FILE_BYTES:
            raise MobiledeployError(f"image {path} is {info.st_size / 2**20:.0f} MB, more than the "
                                    f"{MAX_FILE_BYTES // 2**20} MB limit: convert it to a smaller JPEG or PNG")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _check_pixels(path: Path, width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise MobiledeployError(f"image {path} is {width}x{height} ({width * height / 1e6:.0f} megapixels), more "
                                f"than the {MAX_PIXELS // 10**6}-megapixel limit (a decompression bomb?): "
                                "downscale it first")


def load_rgb(path) -> np.ndarray:
    """Decode an image file to RGB uint8; a clear MobiledeployError when it is not a usable image."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with _open_regular(path) as f, warnings.catch_warnings():
            # the pixel limit below is ours; Pillow's warning (or its error, above twice its limit) is not shown
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(f) as img:
                _check_pixels(path, *img.size)
                img.load()
                return _to_rgb(_upright(img))
    except Image.DecompressionBombError as exc:
        size = re.search(r"\((\d+) pixels\)", str(exc))  # Pillow refused at open, before img.size was ours
        pixels = f" ({int(size.group(1)) / 1e6:.0f} megapixels)" if size else ""
        raise MobiledeployError(f"image {path}{pixels} is larger than the {MAX_PIXELS // 10**6}-megapixel limit "
                                "(a decompression bomb?): downscale it first") from None
    except MemoryError:
        raise MobiledeployError(f"image {path} does not fit in memory: downscale it first") from None
    except UnidentifiedImageError:
        raise MobiledeployError(f"cannot read image {path}: not a JPEG, PNG, BMP or other image Pillow "
                                "knows") from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise MobiledeployError(f"cannot read image {path}: {detail} (truncated or damaged?)") from None


def _upright(img):
    """The image as it is meant to be seen: a phone photo's EXIF orientation applied (as every viewer does)."""
    from PIL import ImageOps

    try:
        return ImageOps.exif_transpose(img)
    except (OSError, ValueError, SyntaxError, KeyError, TypeError):  # a damaged EXIF block: the pixels as stored
        return img


def _to_rgb(img) -> np.ndarray:
    from PIL import Image

    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        peak = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        img = Image.fromarray(np.clip(arr / peak * 255.0 + 0.5, 0, 255).astype(np.uint8))
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        img = img.convert("RGBA")
        background = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, img)  # transparent areas read as white
    return np.asarray(img.convert("RGB"), dtype=np.uint8)


def find_images(folder) -> list[Path]:
    """Regular image files below a folder, recursively, in a stable order (FIFOs, devices, folders left out)."""
    root = Path(folder)
    if not root.is_dir():
        kind = "is not a folder" if root.exists() else "not found"
        raise MobiledeployError(f"image folder {root} {kind}: give a folder of jpg/png/bmp images")
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
