"""Helpers for fault tests. Small real file systems: a tmpfs of a few kilobytes (a full disk) or remounted read-only.

Needs root (mount); tests skip with the reason otherwise. Root ignores permission bits, so "read-only" is
a read-only mount, not chmod.
"""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from pathlib import Path

import pytest


def _run(*cmd):
    return subprocess.run(list(cmd), capture_output=True, text=True)


@contextlib.contextmanager
def tmpfs(folder: Path, size: str = "1m", readonly: bool = False):
    """Mount a tmpfs of `size` on `folder` (created), read-only if asked; unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a small tmpfs (a real full / read-only disk)")
    folder.mkdir(parents=True, exist_ok=True)
    proc = _run("mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(folder))
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        if readonly:
            assert _run("mount", "-o", "remount,ro", str(folder)).returncode == 0
        yield folder
    finally:
        _run("umount", "-l", str(folder))


def fill(folder: Path) -> None:
    """Fill a small file system to the last block."""
    try:
        with open(folder / "filler", "wb", buffering=0) as f:
            while True:
                f.write(b"\0" * 4096)
    except OSError:
        pass


def leftovers(folder: Path, keep=()) -> list[str]:
    """Names under `folder` (recursively) other than `keep`: temporary files and folders left behind."""
    if not folder.exists():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.name not in keep)


def default_signals():
    """In the child: the handlers a terminal would give it. `make test &` ignores SIGINT and nohup ignores
    SIGHUP, and children inherit that (see test_ctrl_c_leaves_nothing)."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
