"""Reading the files the tool is given or finds by a fixed name: every one is untrusted input.

One reader for every text, JSON and TOML file mobiledeploy opens (manifest.json, labels.txt, devices.toml,
mobiledeploy.toml, the results and accuracy stores, known_hosts, --wnids): it must be a regular file (a
FIFO would block, /dev/zero never ends, a folder is not a file), at most `limit` bytes, UTF-8; what is
wrong is one MobiledeployError naming the path and the fix. Opened without blocking, checked with fstat
on the descriptor itself, so a path swapped between the check and the read cannot slip through.
"""
from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

from .errors import MobiledeployError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

MiB = 1 << 20
MAX_DEPTH = 32   # real manifests and stores nest 5 deep; deeper is hostile (json and TOML recurse)


def kind_of(mode: int) -> str:
    """What a file that is not a regular one is, in words."""
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def read_bytes(path, what: str, limit: int, fix: str, missing_ok: bool = False) -> bytes | None:
    """The bytes of a regular file of at most `limit` bytes; None when it is absent and `missing_ok`."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        if missing_ok and not path.is_symlink():
            return None
        broken = " (a link to nothing)" if path.is_symlink() else ""
        raise MobiledeployError(f"{what} {path} not found{broken}: {fix}") from None
    except IsADirectoryError:
        raise MobiledeployError(f"{what} {path} is a folder, not a regular file: {fix}") from None
    except OSError as exc:
        raise MobiledeployError(f"cannot read {what} {path}: {exc.strerror or exc} ({fix})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise MobiledeployError(f"{what} {path} is {kind_of(st.st_mode)}, not a regular file: {fix}")
        if st.st_size > limit:
            raise MobiledeployError(f"{what} {path} is larger than {_size(limit)} ({st.st_size} bytes): not a "
                                    f"{what} ({fix})")
        chunks, total = [], 0
        while True:  # read to the end, not to st_size: the file may still grow (its limit still holds)
            chunk = os.read(fd, min(MiB, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise MobiledeployError(f"{what} {path} is larger than {_size(limit)}: not a {what} ({fix})")
        return b"".join(chunks)
    except OSError as exc:
        raise MobiledeployError(f"cannot read {what} {path}: {exc.strerror or exc} ({fix})") from None
    finally:
        os.close(fd)


def decode(data: bytes, what: str, path, fix: str) -> str:
    """UTF-8 text, or one line naming the first bad byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MobiledeployError(f"{what} {path} is not UTF-8 text (byte {data[exc.start]:#04x} at offset "
                                f"{exc.start}): {fix}") from None


def read_text(path, what: str, limit: int, fix: str, missing_ok: bool = False) -> str | None:
    """A regular UTF-8 text file of at most `limit` bytes (None when absent and `missing_ok`)."""
    data = read_bytes(path, what, limit, fix, missing_ok)
    return None if data is None else decode(data, what, path, fix)


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def check_depth(text: str, what: str, path, fix: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH before a recursive parser meets it."""
    depth = peak = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            escaped, in_string = (False, True) if escaped else (ch == "\\", ch != '"')
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            peak = max(peak, depth)
            if peak > MAX_DEPTH:
                raise MobiledeployError(f"{what} {path} nests deeper than {MAX_DEPTH} levels: not a {what} ({fix})")
        elif ch in "]}":
            depth -= 1


def parse_json(text: str, what: str, path, fix: str):
    """Untrusted JSON text: no NaN/Infinity, bounded nesting; one-line errors."""
    check_depth(text, what, path, fix)
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        detail = " ".join(str(exc).split())[:160]
        raise MobiledeployError(f"{what} {path} is not valid JSON ({detail}): {fix}") from None


def read_json(path, what: str, limit: int, fix: str):
    """A regular UTF-8 JSON file of at most `limit` bytes, parsed as untrusted input."""
    return parse_json(read_text(path, what, limit, fix), what, path, fix)


def parse_toml(text: str, what: str, path, fix: str) -> dict:
    """Untrusted TOML text; one-line errors."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        detail = " ".join(str(exc).split())[:160]
        raise MobiledeployError(f"{what} {path} is not valid TOML ({detail}): {fix}") from None
    except RecursionError:
        raise MobiledeployError(f"{what} {path} nests too deeply: {fix}") from None


def read_toml(path, what: str, limit: int, fix: str, missing_ok: bool = False) -> dict | None:
    """A regular UTF-8 TOML file of at most `limit` bytes (None when absent and `missing_ok`)."""
    text = read_text(path, what, limit, fix, missing_ok)
    return None if text is None else parse_toml(text, what, path, fix)


def _size(limit: int) -> str:
    return f"{limit >> 20} MiB" if limit >= MiB and limit % MiB == 0 else f"{limit} bytes"
