"""File names OpenCV can take.

OpenCV's Python binding converts a file name to UTF-8 without checking the result: a name that is not UTF-8
(Python holds its bytes as lone surrogates) crashed the process with SIGSEGV. Such a file is opened by
Python, which takes any bytes, and OpenCV is given /proc/self/fd/N, which names the same file in ASCII.
"""
from __future__ import annotations

import os

from mobiledeploy.artifact.labels import printable
from mobiledeploy.errors import MobiledeployError

_PROC_FD = "/proc/self/fd"


def is_utf8(name: str) -> bool:
    """True when OpenCV can take `name` as it is."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _proc_fd(fd: int, name: str) -> str:
    proxy = f"{_PROC_FD}/{fd}"
    if not os.path.exists(proxy):
        os.close(fd)
        raise MobiledeployError(f"{printable(name)}: the name is not UTF-8, which OpenCV cannot take, and this "
                                "system has no /proc to work around it: rename it")
    return proxy


def for_reading(path: str) -> tuple[str, int | None]:
    """(a name OpenCV can open `path` by, a descriptor to close once OpenCV has opened it, or None)."""
    if is_utf8(path):
        return path, None
    try:  # O_NONBLOCK: a FIFO named like a video must not hang here (open_source refuses FIFOs anyway)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise MobiledeployError(f"cannot open {printable(path)}: {exc.strerror or exc}") from None
    return _proc_fd(fd, path), fd


def folder_for_writing(folder: str) -> tuple[str, int | None]:
    """(a name OpenCV can create files in `folder` by, a descriptor to close when done with it, or None)."""
    if is_utf8(folder):
        return folder, None
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        raise MobiledeployError(f"cannot open folder {printable(folder)}: {exc.strerror or exc}") from None
    return _proc_fd(fd, folder), fd
