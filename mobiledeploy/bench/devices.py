"""Devices: names mapped to how to reach them, in a TOML file the user can edit (home/devices.toml)."""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from ..errors import MobiledeployError
from ..fsutil import editing
from ..readers import read_bytes, read_text
from ..home import home

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
LOCAL = {"kind": "local"}
KINDS = ("local", "ssh", "adb")
MAX_BYTES = 1 << 20  # a hand-edited device list; anything bigger is not one


def _text(value) -> bool:
    # one line, no NUL: these strings end up in messages, paths and remote argument lists
    return isinstance(value, str) and 0 < len(value) <= 4096 and not any(c in value for c in "\0\n\r")


def _number(lo: float, hi: float):
    def check(value) -> bool:
        return (isinstance(value, (int, float)) and not isinstance(value, bool) and value == value and abs(value) != float("inf")
                and lo <= value <= hi)
    return check


def _port(value) -> bool:
    return type(value) is int and 1 <= value <= 65535


def _flag(value) -> bool:
    return isinstance(value, bool)


#: the ranges of the timing fields, held once: the file's check and `devices add`'s options read them
RANGES = {"connect_timeout": (0.1, 600), "keepalive": (0.1, 3600), "dead_timeout": (0.5, 3600), "timeout": (1, 86400)}


def _seconds(field: str):
    lo, hi = RANGES[field]
    return _number(lo, hi), f"seconds between {lo:g} and {hi:g}"


# The file is checked whole when it is read: every field of every device has a known name and type, so a
# typo or a wrong type is one line naming the file, the device, the field and the fix, never a KeyError or
# a TypeError deep inside an SSH connection. field -> (check, what it must be); `kind` is checked first.
FIELDS = {
    "local": {"python": (_text, "a path to a Python interpreter")},
    "ssh": {
        "host": (_text, "a host name or address"),
        "user": (_text, "a user name"),
        "port": (_port, "an integer 1-65535"),
        "key": (_text, "the path of a private key file"),
        "known_hosts": (_text, "the path of a known_hosts file"),
        "python": (_text, "the path of Python on the board"),
        "workdir": (_text, "an absolute folder on the board, such as /tmp"),
        "insecure": (_flag, "true or false"),
        "connect_timeout": _seconds("connect_timeout"),
        "keepalive": _seconds("keepalive"),
        "dead_timeout": _seconds("dead_timeout"),
    },
    "adb": {
        "serial": (_text, "an adb serial (from adb devices) or auto"),
        "benchmark_binary": (_text, "the local path of benchmark_model"),
        "timeout": _seconds("timeout"),
    },
}
REQUIRED = {"local": (), "ssh": ("host", "user"), "adb": ("serial",)}


def config_path() -> Path:
    """Where the device list lives: devices.toml in the mobiledeploy home."""
    return home() / "devices.toml"


def _show(value) -> str:
    text = repr(value)
    return (text[:40] + "...") if len(text) > 43 else text


def check_entry(name: str, entry, where: str = "") -> dict:
    """The entry itself when every field is known and well typed, else one MobiledeployError saying which."""
    shown = name if isinstance(name, str) and NAME.fullmatch(name) else repr(name)   # a hostile name stays one line
    fix = f"edit {where} or re-add it with mobiledeploy devices add {shown}" if where else \
        f"re-add it with mobiledeploy devices add {shown}"
    prefix = f"{where}: device {name!r}" if where else f"device {name!r}"
    if not isinstance(entry, dict):
        raise MobiledeployError(f"{prefix} must be a table ([devices.{shown}]), got {_show(entry)}: {fix}")
    kind = entry.get("kind")
    if kind is None:
        raise MobiledeployError(f"{prefix} has no 'kind' (one of {', '.join(KINDS)}): {fix}")
    if kind not in KINDS:
        raise MobiledeployError(f"{prefix}: unknown kind {_show(kind)} (one of {', '.join(KINDS)}): {fix}")
    fields = FIELDS[kind]
    for field, value in entry.items():
        if field == "kind":
            continue
        if field not in fields:
            import difflib

            close = difflib.get_close_matches(str(field), list(fields), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f" ({kind} devices take {', '.join(fields)})"
            raise MobiledeployError(f"{prefix}: unknown field {_show(field)}{hint}: {fix}")
        check, expected = fields[field]
        if not check(value):
            raise MobiledeployError(f"{prefix}: field {field!r} must be {expected}, got {_show(value)}: {fix}")
    for field in REQUIRED[kind]:
        if field not in entry:
            raise MobiledeployError(f"{prefix}: field {field!r} is missing ({fields[field][1]}): {fix}")
    if kind == "ssh" and "workdir" in entry and not entry["workdir"].startswith("/"):
        raise MobiledeployError(f"{prefix}: field 'workdir' must be {fields['workdir'][1]}, got "
                                f"{_show(entry['workdir'])}: {fix}")
    return entry


def parse(data: bytes, where: str, check: bool = True) -> dict[str, dict]:
    """The devices a devices.toml body holds; `check=False` keeps broken entries (to remove them)."""
    if len(data) > MAX_BYTES:
        raise MobiledeployError(f"{where} is {len(data)} bytes, not a device list: fix or delete it")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MobiledeployError(f"{where} is not UTF-8 text (byte {data[exc.start]:#04x} at offset {exc.start}): "
                                "fix or delete it") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        detail = " ".join(str(exc).split())
        raise MobiledeployError(f"{where} is not valid TOML ({detail}): fix or delete it") from None
    except RecursionError:
        raise MobiledeployError(f"{where} nests too deeply to be a device list: fix or delete it") from None
    for key in doc:
        if key != "devices":
            raise MobiledeployError(f"{where}: unknown top-level key {_show(key)} (devices go in [devices.NAME] "
                                    "tables): fix or delete it")
    devices = doc.get("devices", {})
    if not isinstance(devices, dict):
        raise MobiledeployError(f"{where}: 'devices' must be a table of [devices.NAME] tables, got "
                                f"{_show(devices)}: fix or delete it")
    for name, entry in devices.items():
        if not check:
            continue
        if not NAME.fullmatch(name):
            raise MobiledeployError(f"{where}: device name {_show(name)} is not usable (letters, digits, '.', '_' "
                                    "or '-'): rename it in the file")
        if name == "local":
            raise MobiledeployError(f"{where}: 'local' is built in and cannot be redefined: remove "
                                    "[devices.local] from the file")
        check_entry(name, entry, str(where))
    return devices


def load(check: bool = True) -> dict[str, dict]:
    """Every configured device, plus `local`, which always exists."""
    path = config_path()
    devices = {}
    data = read_bytes(path, "device list", MAX_BYTES, "fix or delete it", missing_ok=True)
    if data is not None:
        devices = parse(data, str(path), check)
    return {"local": dict(LOCAL), **{k: v for k, v in devices.items() if k != "local"}}


def save(devices: dict[str, dict]) -> None:
    """Write the config atomically (temporary file, then rename; no temporary left on a full disk).

    The file is edited, not rewritten: comments, order and the entries left alone keep their text
    (tomlkit); only the device tables that changed are replaced or removed. Call it inside
    `fsutil.editing(config_path())`, holding the lock since `devices` was loaded (as add and remove do).
    """
    import tomlkit

    from ..fsutil import atomic_write

    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    wanted = {k: v for k, v in devices.items() if k != "local"}
    doc = tomlkit.document()
    text = read_text(path, "device list", MAX_BYTES, "fix or delete it", missing_ok=True)
    if text is not None:
        try:
            doc = tomlkit.parse(text)
        except tomlkit.exceptions.TOMLKitError:
            doc = tomlkit.document()  # load() already said what is wrong; a broken file is replaced whole
    table = doc.get("devices")
    if not isinstance(table, dict):
        table = tomlkit.table(is_super_table=True)
        doc["devices"] = table
    for name in [n for n in table if n not in wanted]:
        del table[name]
    for name, entry in wanted.items():
        if name not in table or table[name].unwrap() != entry:
            table[name] = entry
    atomic_write(path, tomlkit.dumps(doc), mode=0o600)  # private, as before


def parse_ssh(spec: str) -> dict:
    """USER@HOST[:PORT] (HOST may be [IPv6]) -> {user, host, port}."""
    m = re.fullmatch(r"(?:([^@\s]+)@)?(\[[0-9a-fA-F:.]+\]|[^:@\s\[\]]+)(?::(\d{1,5}))?", spec or "")
    if not m or not 1 <= int(m.group(3) or 22) <= 65535:
        v6 = (spec or "").rpartition("@")[2]
        hint = f": write an IPv6 address in brackets, e.g. [{v6}]:22" if v6.count(":") > 1 and "[" not in v6 else ""
        raise MobiledeployError(f"--ssh takes USER@HOST[:PORT] (port 1-65535), got {spec!r}{hint}")
    user, host, port = m.groups()
    return {"user": user or os.environ.get("USER", "root"), "host": host.strip("[]"), "port": int(port or 22)}


def add(name: str, entry: dict) -> None:
    """Add or replace device `name` (the entry is checked like the file)."""
    if not NAME.fullmatch(name):
        raise MobiledeployError(f"device name {name!r}: use letters, digits, '.', '_' or '-'")
    if name == "local":
        raise MobiledeployError("'local' is built in and cannot be redefined")
    if name == "all":
        raise MobiledeployError("'all' means every device (bench --history --device all): give the device another name")
    check_entry(name, entry)
    _check_local_files(entry)
    with editing(config_path()):  # another add or remove at the same time must not lose this one, or its own
        devices = load()
        devices[name] = entry
        save(devices)


def _check_local_files(entry: dict) -> None:
    """A file the entry names on this machine must be there now, not only at the first bench on the device."""
    binary = entry.get("benchmark_binary")
    if binary is not None and not Path(binary).is_file():
        what = "is not a regular file" if Path(binary).exists() else "does not exist"
        raise MobiledeployError(f"--benchmark-binary {binary} {what}: give the local path of TensorFlow's "
                                "benchmark_model built for the phone (or leave it out)")


def remove(name: str) -> None:
    """Remove device `name`; works even when that entry is broken (that is how one fixes the file)."""
    if name == "local":
        raise MobiledeployError("'local' is this machine, built in: it cannot be removed (nor redefined); "
                                "remove the devices you added (mobiledeploy devices list)")
    with editing(config_path()):
        devices = load(check=False)
        if name not in devices:
            raise MobiledeployError(f"no device {name!r} to remove (configured: {', '.join(sorted(devices))})")
        del devices[name]
        save(devices)


def get(name: str) -> dict:
    """The checked entry of device `name`, or one line naming the configured ones."""
    devices = load()
    if name not in devices:
        import difflib

        close = difflib.get_close_matches(name, list(devices), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise MobiledeployError(f"unknown device {name!r}{hint}: add it with mobiledeploy devices add "
                                f"(configured: {', '.join(sorted(devices))})")
    return devices[name]
