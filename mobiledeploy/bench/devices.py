"""Devices: names mapped to how to reach them, in a TOML file the user can edit (home/devices.toml)."""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from ..errors import MobiledeployError
from ..home import home

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
LOCAL = {"kind": "local"}


def config_path() -> Path:
    return home() / "devices.toml"


def load() -> dict[str, dict]:
    """Every configured device, plus `local`, which always exists."""
    path = config_path()
    devices = {}
    if path.is_file():
        try:
            devices = tomllib.loads(path.read_text(encoding="utf-8")).get("devices", {})
        except tomllib.TOMLDecodeError as exc:
            raise MobiledeployError(f"{path} is not valid TOML ({exc}): fix or delete it") from None
    return {"local": dict(LOCAL), **devices}


def save(devices: dict[str, dict]) -> None:
    """Write the config atomically (temporary file, then rename; no temporary left on a full disk)."""
    import tomli_w

    from ..fsutil import atomic_write

    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"devices": {k: v for k, v in devices.items() if k != "local"}}
    atomic_write(path, tomli_w.dumps(body), mode=0o600)  # private, as before


def parse_ssh(spec: str) -> dict:
    """USER@HOST[:PORT] (HOST may be [IPv6]) -> {user, host, port}."""
    m = re.fullmatch(r"(?:([^@\s]+)@)?(\[[0-9a-fA-F:.]+\]|[^:@\s\[\]]+)(?::(\d{1,5}))?", spec or "")
    if not m:
        raise MobiledeployError(f"--ssh takes USER@HOST[:PORT], got {spec!r}")
    user, host, port = m.groups()
    return {"user": user or os.environ.get("USER", "root"), "host": host.strip("[]"), "port": int(port or 22)}


def add(name: str, entry: dict) -> None:
    if not NAME.match(name):
        raise MobiledeployError(f"device name {name!r}: use letters, digits, '.', '_' or '-'")
    if name == "local":
        raise MobiledeployError("'local' is built in and cannot be redefined")
    devices = load()
    devices[name] = entry
    save(devices)


def remove(name: str) -> None:
    devices = load()
    if name == "local" or name not in devices:
        raise MobiledeployError(f"no device {name!r} to remove (configured: {', '.join(sorted(devices))})")
    del devices[name]
    save(devices)


def get(name: str) -> dict:
    devices = load()
    if name not in devices:
        import difflib

        close = difflib.get_close_matches(name, list(devices), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise MobiledeployError(f"unknown device {name!r}{hint}: add it with mobiledeploy devices add "
                                f"(configured: {', '.join(sorted(devices))})")
    return devices[name]
