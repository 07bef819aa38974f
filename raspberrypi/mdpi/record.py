"""Recording the annotated video: a temporary file beside the target, renamed into place when complete.

OpenCV's VideoWriter never reports a failed write: on a full disk it keeps accepting frames and leaves
a truncated file. So the recorder watches the file grow, checks the finished file's frame count, and
only then renames it into place; on any failure the partial file is removed and the reason is raised.

An existing file is never replaced unless asked (`force`, the --force of the command line): a second run with
the same command line must not silently destroy the first recording. The temporary name is ASCII whatever the
target's name, so OpenCV, which crashes on a file name that is not UTF-8, only ever sees names it can take.
"""
from __future__ import annotations

import os
from pathlib import Path

from mobiledeploy import fsutil
from mobiledeploy.artifact.labels import printable
from mobiledeploy.errors import MobiledeployError

from . import names

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

    def __init__(self, path: str, force: bool = False):
        self.path, self.force = Path(path), force
        shown = self.shown = printable(str(self.path))
        if self.path.is_dir():
            raise MobiledeployError(f"--record {shown} is a folder: give a file name such as "
                                    f"{printable(str(self.path / 'out.avi'))}")
        if not self.path.parent.is_dir():
            raise MobiledeployError(f"--record {shown}: folder {printable(str(self.path.parent))} does not exist")
        if os.path.lexists(self.path) and not force:
            raise MobiledeployError(f"--record {shown} exists: pass --force to replace it, or choose another name")
        if not os.access(self.path.parent, os.W_OK):
            readonly = os.statvfs(self.path.parent).f_flag & os.ST_RDONLY
            raise MobiledeployError(f"--record {shown}: cannot write in {printable(str(self.path.parent))} "
                                    f"({'read-only file system' if readonly else 'permission denied'}): "
                                    "record elsewhere")
        # OpenCV picks the container by the suffix, so the temporary name keeps it when it is plain ASCII
        suffix = self.path.suffix if self.path.suffix.isascii() and self.path.suffix.isprintable() else ".avi"
        self.tmp = self.path.with_name(f".record.tmp-{os.getpid()}{suffix or '.avi'}")
        self._folder_fd = None
        self.writer, self.frames, self._size, self._stalled = None, 0, -1, 0

    def write(self, frame) -> None:
        """Append one BGR frame; raises when the file stops growing (full disk)."""
        import cv2

        if self.writer is None:
            h, w = frame.shape[:2]
            self.shape = (w, h)
            folder, self._folder_fd = names.folder_for_writing(str(self.path.parent))
            self.writer = cv2.VideoWriter(os.path.join(folder, self.tmp.name), cv2.VideoWriter_fourcc(*"MJPG"), FPS,
                                          self.shape)
            if not self.writer.isOpened():
                self.discard()
                raise MobiledeployError(f"cannot write video {self.shown}: {_space_reason(self.path.parent)}")
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
            raise MobiledeployError(f"recording {self.shown} failed after {self.frames} frames: "
                                    f"{_space_reason(self.path.parent)}")

    def finish(self) -> None:
        """Close the file, check that every frame is in it, and rename it into place."""
        import cv2

        if self.writer is None:
            return
        self.writer.release()
        self.writer = None
        folder, fd = names.folder_for_writing(str(self.path.parent))
        try:
            cap = cv2.VideoCapture(os.path.join(folder, self.tmp.name))
            found = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if cap.isOpened() else 0
            cap.release()
        finally:
            if fd is not None:
                os.close(fd)
        # a signal can land between the writer's write and the count: one frame more than counted is whole
        if found < self.frames:
            reason = _space_reason(self.path.parent)
            self.discard()
            raise MobiledeployError(f"recording {self.shown} is incomplete ({found} of {self.frames} frames): "
                                    f"{reason}")
        try:
            if self.force:
                os.replace(self.tmp, self.path)
            else:  # atomically refuses a file that appeared since the start (another run's recording)
                fsutil.rename_noreplace(self.tmp, self.path)
        except FileExistsError:
            self.discard()
            raise MobiledeployError(f"--record {self.shown} appeared while recording (another run?): it was kept "
                                    "and this recording dropped; pass --force to replace it") from None
        except OSError as exc:
            self.discard()
            raise MobiledeployError(f"cannot write video {self.shown}: {exc.strerror}") from None
        self._close_folder()

    def discard(self) -> None:
        """Drop the partial recording."""
        if self.writer is not None:
            self.writer.release()
            self.writer = None
        try:
            self.tmp.unlink()
        except OSError:
            pass
        self._close_folder()

    def _close_folder(self) -> None:
        if self._folder_fd is not None:
            os.close(self._folder_fd)
            self._folder_fd = None

    def close(self) -> None:
        """Remove whatever was not finished (an error, or Ctrl-C before the end)."""
        self.discard()
