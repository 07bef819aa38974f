"""Camera2 YUV_420_888 frames to RGB: the one rule the Android app's Frames.yuv420ToRgb reproduces bit for bit.

The rule: pixel (x, y) takes chroma sample (x // 2, y // 2), no interpolation; BT.601 full range (JFIF) in
16.16 fixed point with Cb = U - 128 and Cr = V - 128:

    R = Y + ((91881 * Cr + 32768) >> 16)
    G = Y + ((-22554 * Cb - 46802 * Cr + 32768) >> 16)
    B = Y + ((116130 * Cb + 32768) >> 16)

each clamped to 0..255; `>>` is an arithmetic shift (floor), in numpy as in Java. Integer math, so both sides
agree exactly on every CPU. Planes come as Camera2 hands them over: flat bytes with a row stride, U and V
sharing a row stride and a pixel stride (1 planar, 2 interleaved), the last row not padded.
Numpy only: the Raspberry Pi and Android sides never need TensorFlow.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# 16.16 fixed-point BT.601 full-range coefficients: round(1.402, 0.344136, 0.714136, 1.772 * 65536)
CR_R, CB_G, CR_G, CB_B = 91881, -22554, -46802, 116130
HALF = 1 << 15


@dataclass
class Planes:
    """One YUV_420_888 frame as Camera2 delivers it (Image.getPlanes()), planes as flat uint8 arrays."""

    width: int
    height: int
    y: np.ndarray
    u: np.ndarray
    v: np.ndarray
    y_row_stride: int
    uv_row_stride: int
    uv_pixel_stride: int


def to_rgb(frame: Planes) -> np.ndarray:
    """The HxWx3 uint8 RGB image of a frame, by the module's rule."""
    h, w = frame.height, frame.width
    rows, cols = np.arange(h)[:, None], np.arange(w)[None, :]
    luma = frame.y[rows * frame.y_row_stride + cols].astype(np.int32)
    at = (rows // 2) * frame.uv_row_stride + (cols // 2) * frame.uv_pixel_stride
    cb = frame.u[at].astype(np.int32) - 128
    cr = frame.v[at].astype(np.int32) - 128
    r = luma + ((CR_R * cr + HALF) >> 16)
    g = luma + ((CB_G * cb + CR_G * cr + HALF) >> 16)
    b = luma + ((CB_B * cb + HALF) >> 16)
    return np.clip(np.stack([r, g, b], axis=-1), 0, 255).astype(np.uint8)


def rotate(rgb: np.ndarray, degrees: int) -> np.ndarray:
    """Rotate clockwise by a multiple of 90 degrees (the sensor's orientation relative to the display)."""
    if degrees % 90:
        raise ValueError(f"rotation must be a multiple of 90, got {degrees}")
    return np.ascontiguousarray(np.rot90(rgb, k=-(degrees // 90) % 4))


def from_rgb(rgb: np.ndarray, row_padding: int = 0, interleaved: bool = False) -> Planes:
    """A YUV_420_888 frame of an RGB image (for tests): BT.601 full range, chroma of each 2x2 block's top-left
    pixel, rows padded by row_padding bytes, U and V interleaved (pixel stride 2, like NV21 buffers) or planar.
    Filler bytes are 0xEE so that reading padding shows up as a wrong colour."""
    h, w = rgb.shape[:2]
    f = rgb.astype(np.float64)
    luma = np.clip(np.rint(0.299 * f[..., 0] + 0.587 * f[..., 1] + 0.114 * f[..., 2]), 0, 255)
    cb = np.clip(np.rint(128 - 0.168736 * f[..., 0] - 0.331264 * f[..., 1] + 0.5 * f[..., 2]), 0, 255)[::2, ::2]
    cr = np.clip(np.rint(128 + 0.5 * f[..., 0] - 0.418688 * f[..., 1] - 0.081312 * f[..., 2]), 0, 255)[::2, ::2]
    ch, cw = cb.shape
    y_stride = w + row_padding
    y = np.full(y_stride * (h - 1) + w, 0xEE, np.uint8)
    for row in range(h):
        y[row * y_stride:row * y_stride + w] = luma[row]
    pixel = 2 if interleaved else 1
    uv_stride = cw * pixel + row_padding
    # interleaved: one buffer V U V U ..., with u starting one byte after v (Camera2 on NV21 sensors)
    size = uv_stride * (ch - 1) + (cw - 1) * pixel + 1
    u = np.full(size + (1 if interleaved else 0), 0xEE, np.uint8)
    v = np.full(size + (1 if interleaved else 0), 0xEE, np.uint8)
    for row in range(ch):
        at = row * uv_stride + np.arange(cw) * pixel
        u[at], v[at] = cb[row], cr[row]
        if interleaved:  # the neighbour byte each plane also sees in an NV21 buffer
            u[at + 1], v[at + 1] = cr[row, :], cb[row, :]
    return Planes(w, h, y[:y_stride * (h - 1) + w], u[:size], v[:size], y_stride, uv_stride, pixel)
