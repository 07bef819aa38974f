"""Where the runner runs: this machine (local.py), a board over SSH (ssh.py) or a phone over adb (adb.py)."""
from __future__ import annotations

from ..errors import MobiledeployError


def open_target(name: str, entry: dict, insecure: bool = False):
    """A connected target for a device entry."""
    kind = entry.get("kind")
    if kind == "local":
        from .local import LocalTarget

        return LocalTarget(entry.get("python"), name)
    if kind == "ssh":
        from .ssh import SSHTarget

        return SSHTarget(name, entry, insecure)
    if kind == "adb":
        from .adb import AdbTarget

        return AdbTarget(name, entry)
    raise MobiledeployError(f"device {name!r} has unknown kind {kind!r} (local, ssh, adb)")
