"""Recording the annotated video: a temporary file beside the target, renamed into place when complete.

OpenCV's VideoWriter never reports a failed write: on a full disk it keeps accepting frames and leaves
a truncated file. So the recorder watches the file grow, checks the finished file's frame count, and
only then renames it into place; on any failure the partial file is removed and the reason is raised.
"""
from __future__ import annotations

import os
from pathlib import Path

from mobiledeploy.errors import MobiledeployError

FPS = 15.0
#: frames written without the file growing before the recording is declared stuck. An encoder buffers
#: at most tens of kilobytes; even tiny annotated frames (about 1 kB of JPEG) fill that within 30 frames.
STALL_FRAMES = 30


def _space_reason(folder: Path) -> str:
    try:
        st = os.statvfs(folder)
    except OSError:
        return "the folder is gone"
    if st.f_bavail * st.f_frsize < (1 << 20):
        return "No space left on device (free some space or record elsewhere)"
    return "the video writer stopped writing (check the disk)"


class Recorder:
    """A VideoWriter (MJPG) opened at the first frame, when its size is known."""

    def __init__(self, path: str):
        self.path = Path(path)
        if self.path.is_dir():
            raise MobiledeployError(f"--record {self.path} is a folder: give a file name such as "
                                    f"{self.path / 'out.avi'}")
        if not self.path.parent.is_dir():
            raise MobiledeployError(f"--record {self.path}: folder {self.path.parent} does not exist")
        if not os.access(self.path.parent, os.W_OK):
            readonly = os.statvfs(self.path.parent).f_flag & os.ST_RDONLY
            raise MobiledeployError(f"--record {self.path}: cannot write in {self.path.parent} "
                                    f"({'read-only file system' if readonly else 'permission denied'}): "
                                    "record elsewhere")
        # OpenCV picks the container by the suffix, so the temporary name keeps it
        self.tmp = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}{self.path.suffix or '.avi'}")
        self.writer, self.frames, self._size, self._stalled = None, 0, -1, 0

    def write(self, frame) -> None:
        """Append one BGR frame; raises when the file stops growing (full disk)."""
        import cv2

        if self.writer is None:
            h, w = frame.shape[:2]
            self.shape = (w, h)
            self.writer = cv2.VideoWriter(str(self.tmp), cv2.VideoWriter_fourcc(*"MJPG"), FPS, self.shape)
            if not self.writer.isOpened():
                self.discard()
                raise MobiledeployError(f"cannot write video {self.path}: {_space_reason(self.path.parent)}")
        if (frame.shape[1], frame.shape[0]) != self.shape:  # OpenCV silently drops frames of another size
            frame = cv2.resize(frame, self.shape)
        self.writer.write(frame)
        self.frames += 1
        try:
            size = self.tmp.stat().st_size
        except OSError:
            size = 0
        self._stalled = 0 if size > self._size else self._stalled + 1
        self._size = max(size, self._size)
        if self._stalled >= STALL_FRAMES:
            raise MobiledeployError(f"recording {self.path} failed after {self.frames} frames: "
                                    f"{_space_reason(self.path.parent)}")

    def finish(self) -> None:
        """Close the file, check that every frame is in it, and rename it into place."""
        import cv2

        if self.writer is None:
            return
        self.writer.release()
        self.writer = None
        cap = cv2.VideoCapture(str(self.tmp))
        found = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if cap.isOpened() else 0
        cap.release()
        # a signal can land between the writer's write and the count: one frame more than counted is whole
        if found < self.frames:
            reason = _space_reason(self.path.parent)
            self.discard()
            raise MobiledeployError(f"recording {self.path} is incomplete ({found} of {self.frames} frames): "
                                    f"{reason}")
        try:
            os.replace(self.tmp, self.path)
        except OSError as exc:
            self.discard()
            raise MobiledeployError(f"cannot write video {self.path}: {exc.strerror}") from None

    def discard(self) -> None:
        """Drop the partial recording."""
        if self.writer is not None:
            self.writer.release()
            self.writer = None
        try:
            self.tmp.unlink()
        except OSError:
            pass

    def close(self) -> None:
        """Remove whatever was not finished (an error, or Ctrl-C before the end)."""
        self.discard()
