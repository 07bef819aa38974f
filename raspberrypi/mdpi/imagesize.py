"""An image's width and height from its header bytes, before any pixel is decoded.

A JPEG's frame header says 20000x20000 in four bytes; decoding it allocates 1.2 GB (2.4 GB with OpenCV's
copies) whatever the file's size. So every encoded frame is sized here first and refused above the project's
pixel limit (mobiledeploy.runtime.images.MAX_PIXELS), the limit every image file already has.
"""
from __future__ import annotations

from mobiledeploy.errors import MobiledeployError
from mobiledeploy.runtime.images import MAX_PIXELS

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# start-of-frame markers (baseline, progressive, lossless, arithmetic); C4 DHT, C8 JPG and CC DAC are not frames
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_STANDALONE = frozenset(range(0xD0, 0xD8)) | {0x01}   # RSTn and TEM carry no length


def jpeg_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a JPEG's first frame header; None when there is none before the scan.

    Markers are found as libjpeg finds them (bytes before a marker and 0xFF fill bytes are skipped), so the
    size read here is the size the decoder would allocate.
    """
    if data[:2] != b"\xff\xd8":
        return None
    i, n = 2, len(data)
    while i < n:
        j = data.find(b"\xff", i)
        if j < 0:
            return None
        while j < n and data[j] == 0xFF:
            j += 1
        if j >= n:
            return None
        marker, i = data[j], j + 1
        if marker == 0x00 or marker in _STANDALONE:
            continue
        if marker in (0xD8, 0xD9, 0xDA):  # a second start, the end, or the scan before any frame header
            return None
        if i + 2 > n:
            return None
        length = int.from_bytes(data[i:i + 2], "big")
        if marker in _SOF:
            if length < 7 or i + 7 > n:
                return None
            return int.from_bytes(data[i + 5:i + 7], "big"), int.from_bytes(data[i + 3:i + 5], "big")
        if length < 2:
            return None
        i += length
    return None


def png_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG's IHDR chunk, which the format puts first."""
    if data[:8] != PNG_SIGNATURE or data[12:16] != b"IHDR" or len(data) < 24:
        return None
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of an encoded JPEG or PNG; None when the header does not say."""
    return jpeg_size(data) or png_size(data)


def check_pixels(size: tuple[int, int], what: str, fix: str = "downscale it first") -> None:
    """Refuse a frame above the pixel limit with one line naming `what` and its size."""
    width, height = size
    if width * height > MAX_PIXELS:
        raise MobiledeployError(f"{what} is {width}x{height} ({width * height / 1e6:.0f} megapixels), more than the "
                                f"{MAX_PIXELS // 10**6}-megapixel limit (a decompression bomb?): {fix}")
