"""Frame sources behind one interface: every source yields HxWx3 uint8 **RGB** frames.

OpenCV decodes to BGR; the conversion happens here, once, so the model never sees BGR (TensorFlow's Pi
example feeds BGR to an RGB model). picamera2 is asked for RGB888-ordered buffers directly.
"""
from __future__ import annotations

import glob
import http.client
import os
import stat
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

from mobiledeploy.artifact.labels import printable
from mobiledeploy.errors import MobiledeployError

from . import names
from .imagesize import PNG_SIGNATURE, check_pixels, jpeg_size


class Source:
    """Iterate to get RGB frames; `close()` releases the device.

    `where` names what the frame just yielded came from (the image file of a folder, the video, the URL): the
    --json-lines records carry it, so a line can be traced back to its input.
    """

    name = "source"
    where = ""

    def __iter__(self):
        raise NotImplementedError

    def close(self):
        pass


def _cv2():
    try:
        import cv2
    except ImportError:
        raise MobiledeployError("OpenCV is missing: sudo apt install python3-opencv "
                                "(or pip install opencv-python-headless)") from None
    return cv2


class OpenCVSource(Source):
    """A video file, or a V4L2/USB camera by index or /dev/videoN, through OpenCV."""

    def __init__(self, target, loop: bool = False, width: int | None = None, height: int | None = None):
        cv2 = _cv2()
        self.cv2, self.target, self.loop = cv2, target, loop
        self.live = isinstance(target, int) or str(target).startswith("/dev/")  # a camera, not a file
        self.where = str(target)
        self.name = f"camera {printable(self.where)}" if self.live else f"video {printable(self.where)}"
        if not self.live and not Path(target).is_file():
            raise MobiledeployError(f"video file not found: {printable(self.where)}")
        opened, fd = (target, None) if isinstance(target, int) else names.for_reading(target)
        try:
            self.cap = cv2.VideoCapture(opened, cv2.CAP_V4L2) if self.live else cv2.VideoCapture(opened)
        finally:
            if fd is not None:  # OpenCV opened its own descriptor from /proc/self/fd/N
                os.close(fd)
        if width and height and self.live:
            self.cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
            self.cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        # the container's frame size, known before the first frame is decoded: refuse a bomb before reading it
        size = (int(self.cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(self.cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        try:
            check_pixels(size, self.name)
        except MobiledeployError:
            self.cap.release()
            raise
        ok, first = self.cap.read() if self.cap.isOpened() else (False, None)
        if not ok:
            self.cap.release()
            raise MobiledeployError(f"cannot read frames from {self.name}: not a readable video or camera")
        self.first = first
        self.fps = self.cap.get(cv2.CAP_PROP_FPS) or None

    def __iter__(self):
        frame, cv2 = self.first, self.cv2
        while True:
            while frame is not None:
                yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
                ok, frame = self.cap.read()
                if not ok:
                    frame = None
            if not self.loop or self.live:
                return
            self.cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self.cap.read()
            if not ok:
                return

    def close(self):
        self.cap.release()


class FolderSource(Source):
    """Every image of a folder, in name order (a slideshow; handy on a desk without a camera), or one image file.

    Images are read by mobiledeploy's one image reader, which checks the pixel limit from the header.
    """

    def __init__(self, folder, loop: bool = False):
        from mobiledeploy.runtime.images import find_images

        folder = Path(folder)
        self.paths = find_images(folder) if folder.is_dir() else [folder]
        if not self.paths:
            raise MobiledeployError(f"no images (jpg, png, bmp) in {printable(str(folder))}")
        self.name = f"{'folder' if folder.is_dir() else 'image'} {printable(str(folder))}"
        self.loop = loop

    def __iter__(self):
        from mobiledeploy.runtime.images import load_rgb

        while True:
            for path in self.paths:
                rgb = load_rgb(path)  # an oversized or broken image is a MobiledeployError, one line in main
                self.where = str(path)
                yield rgb
            if not self.loop:
                return


class MJPEGSource(Source):
    """An HTTP multipart MJPEG stream (IP cameras, another Pi's web view): JPEGs cut at SOI/EOI markers.

    A stream that sends bytes but no frame (not MJPEG, a stalled camera) must not hang the loop or grow
    memory: the buffer holds at most one frame of MAX_FRAME_BYTES, and no frame within `timeout`
    seconds ends the run with an error.
    """

    live = True
    MAX_FRAME_BYTES = 8 << 20  # a 4K JPEG at high quality is 2-4 MB

    def __init__(self, url: str, timeout: float = 10.0):
        self.name, self.url, self.timeout = f"stream {printable(url)}", url, timeout
        self.where = url
        try:
            self.response = urllib.request.urlopen(url, timeout=timeout)
        except urllib.error.HTTPError as exc:  # a redirect loop ends here too ("... would lead to an infinite loop")
            reason = " ".join(str(exc.reason or exc).split())[:120]
            raise MobiledeployError(f"cannot open MJPEG stream {url}: HTTP {exc.code} {reason}") from None
        except (OSError, ValueError, http.client.HTTPException) as exc:  # HTTPException: > 100 headers, bad status
            reason = " ".join(str(getattr(exc, "reason", None) or exc or type(exc).__name__).split())[:120]
            raise MobiledeployError(f"cannot open MJPEG stream {url}: {reason or type(exc).__name__}") from None
        kind = self.response.headers.get("Content-Type", "")
        if "multipart" not in kind and "jpeg" not in kind:
            self.response.close()
            raise MobiledeployError(f"{url} is not an MJPEG stream (Content-Type {kind or 'missing'})")

    def _read(self) -> bytes:
        try:
            return self.response.read1(65536)
        except TimeoutError:
            raise MobiledeployError(f"stream {self.url} sent nothing for {self.timeout:g} s "
                                    "(raise --source-timeout for a slow camera)") from None
        except (OSError, ValueError, http.client.HTTPException) as exc:  # IncompleteRead, resets
            raise MobiledeployError(f"stream {self.url} broke off: {exc}") from None

    def __iter__(self):
        cv2 = _cv2()
        buf = bytearray()
        scanned = 0          # bytes of buf already searched for the end marker
        last_frame = time.monotonic()
        while True:
            if time.monotonic() - last_frame > self.timeout:
                raise MobiledeployError(f"no JPEG frame from {self.url} in {self.timeout:g} s: it sends data but "
                                        "no MJPEG frames (raise --source-timeout for a slow camera)")
            chunk = self._read()
            if not chunk:
                return
            buf += chunk
            while True:
                start = buf.find(b"\xff\xd8")
                if start < 0:
                    del buf[:-1]     # keep a trailing 0xff: it may start a marker split across chunks
                    scanned = 0
                    break
                if start:
                    del buf[:start]
                    scanned = 0
                end = buf.find(b"\xff\xd9", max(2, scanned - 1))
                if end < 0:
                    scanned = len(buf)
                    if len(buf) > self.MAX_FRAME_BYTES:
                        raise MobiledeployError(f"stream {self.url}: no JPEG frame end within "
                                                f"{self.MAX_FRAME_BYTES >> 20} MB: not an MJPEG stream")
                    break
                jpeg = bytes(buf[:end + 2])
                del buf[:end + 2]
                scanned = 0
                size = jpeg_size(jpeg)
                if size is None:  # no frame header: the decoder would find none either (and must not guess)
                    continue
                check_pixels(size, f"a frame of {self.name}", "make the camera send smaller frames")
                frame = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
                if frame is not None:
                    last_frame = time.monotonic()
                    yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)

    def close(self):
        self.response.close()


class Picamera2Source(Source):
    """A Pi camera module through libcamera (picamera2's documented API: configure, start, capture_array).

    Tested here for import errors only: there is no camera module on the CI machine.
    """

    def __init__(self, width: int = 640, height: int = 480):
        try:
            from picamera2 import Picamera2
        except ImportError:
            raise MobiledeployError("picamera2 is not installed: sudo apt install python3-picamera2 (and create the "
                                    "virtual environment with --system-site-packages)") from None
        try:
            self.cam = Picamera2()
            # "RGB888" in libcamera's naming is B,G,R in memory; "BGR888" gives R,G,B order (picamera2 manual)
            config = self.cam.create_video_configuration(main={"size": (width, height), "format": "BGR888"})
            self.cam.configure(config)
            self.cam.start()
        except (RuntimeError, IndexError) as exc:
            raise MobiledeployError(f"cannot start the Pi camera: {exc}") from None
        self.name, self.live, self.where = "picamera2", True, "picamera2"

    def __iter__(self):
        while True:
            yield self.cam.capture_array("main")[..., :3]

    def close(self):
        self.cam.stop()
        self.cam.close()


def available() -> list[str]:
    """Sources that exist on this machine, for the "no camera" message."""
    found = sorted(glob.glob("/dev/video*"))
    try:
        import picamera2  # noqa: F401
        found.insert(0, "picamera2 (python3-picamera2 installed)")
    except ImportError:
        pass
    return found


def open_source(spec: str, loop: bool = False, width: int = 640, height: int = 480,
                timeout: float = 10.0) -> Source:
    """`camera` (picamera2, else the first V4L2 camera), `picamera2`, `/dev/videoN` or an index, a video file,
    an image folder, or an http(s) MJPEG URL (`timeout`: seconds without a frame before giving up)."""
    if spec.startswith(("http://", "https://")):
        return MJPEGSource(spec, timeout)
    if spec == "picamera2":
        return Picamera2Source(width, height)
    if spec == "camera":
        try:
            return Picamera2Source(width, height)
        except MobiledeployError:
            pass
        devices = sorted(glob.glob("/dev/video*"))
        for dev in devices:
            try:
                return OpenCVSource(dev, width=width, height=height)
            except MobiledeployError:
                continue
        found = available()
        raise MobiledeployError("no camera found (no picamera2 camera, no readable /dev/video*); sources here: "
                                f"{', '.join(found) if found else 'none'}; or use --source VIDEO, FOLDER or URL")
    # isascii: "²" and "٣" are digits to str.isdigit() but not to int()
    if spec.isascii() and spec.isdigit():
        return OpenCVSource(int(spec), width=width, height=height)
    if spec.startswith("/dev/video"):
        return OpenCVSource(spec, width=width, height=height)
    path = Path(spec)
    if path.is_dir():
        return FolderSource(path, loop)
    if path.is_file():
        # a still image goes to the image reader (pixel limit from the header), not to a video decoder
        return FolderSource(path, loop) if _is_image(path) else OpenCVSource(str(path), loop)
    if path.exists():  # a FIFO, a socket, a device that is not a camera
        kind = "a FIFO" if stat.S_ISFIFO(path.stat().st_mode) else "not a regular file"
        raise MobiledeployError(f"source {printable(spec)} is {kind}: give a video file, a folder of images, a camera "
                                "(/dev/videoN) or an http:// MJPEG URL")
    raise MobiledeployError(f"source not found: {printable(spec)} (camera, picamera2, /dev/videoN, a video file, a "
                            "folder of images, or an http:// MJPEG URL)")


def _is_image(path: Path) -> bool:
    """A JPEG, PNG or BMP by its first bytes (a name can lie either way)."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        return False  # the video reader says what is wrong with it
    return head.startswith((b"\xff\xd8\xff", PNG_SIGNATURE, b"BM"))
