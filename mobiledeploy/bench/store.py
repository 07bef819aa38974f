"""The results store: one JSON line per measurement in home/results.jsonl."""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from ..errors import MobiledeployError
from ..home import home

log = logging.getLogger("mobiledeploy")

# What `bench --history` (table, JSON, plot) reads from a record; a line without these is not one.
TEXT_FIELDS = ("device", "artifact", "artifact_name", "file", "format", "time")
NUMBER_FIELDS = ("median_ms", "std_ms", "cv")


def path() -> Path:
    """The store's file."""
    return home() / "results.jsonl"


def append(record: dict) -> None:
    """Append one complete result as one whole line.

    One write() on an O_APPEND descriptor, so concurrent runs never interleave; when an earlier crash left
    a line without its newline, the record starts on a new line instead of being glued to it; a write cut
    short (full disk) is truncated away, so the file never ends in half a record.
    """
    p = path()
    line = (json.dumps(record, default=str) + "\n").encode("utf-8")
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(p, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as exc:
        raise MobiledeployError(f"cannot write the results store {p}: {exc.strerror or exc} (free space or fix "
                                "its permissions)") from None
    try:
        size = os.fstat(fd).st_size
        if size:
            with open(p, "rb") as f:
                f.seek(size - 1)
                if f.read(1) != b"\n":
                    line = b"\n" + line
        try:
            written = os.write(fd, line)
        except OSError as exc:
            written, error = -1, exc
        else:
            error = None
        if written != len(line):
            os.ftruncate(fd, size)
            reason = error.strerror if error is not None and error.strerror else "short write"
            raise MobiledeployError(f"cannot write the results store {p}: {reason} (free space on its disk); "
                                    "the result was not stored")
    finally:
        os.close(fd)


def is_record(doc) -> bool:
    """True when a parsed line has what every reader of the store needs."""
    if not isinstance(doc, dict):
        return False
    if not all(isinstance(doc.get(k), str) for k in TEXT_FIELDS):
        return False
    if not all(isinstance(doc.get(k), (int, float)) and not isinstance(doc.get(k), bool) for k in NUMBER_FIELDS):
        return False
    p90 = doc.get("p90_ms")
    if p90 is not None and (not isinstance(p90, (int, float)) or isinstance(p90, bool)):
        return False
    settings = doc.get("settings")
    return isinstance(settings, dict) and type(settings.get("threads")) is int


def history() -> list[dict]:
    """Every stored record, oldest first; lines that are not records are skipped with one warning."""
    p = path()
    if not p.is_file():
        return []
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise MobiledeployError(f"cannot read the results store {p}: {exc.strerror or exc}") from None
    out, skipped = [], 0
    for raw in data.splitlines():
        if not raw.strip():
            continue
        try:
            doc = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            doc = None
        if is_record(doc):
            out.append(doc)
        else:
            skipped += 1
    if skipped:
        log.warning("skipped %d line%s of %s that %s not bench records (kept the other %d)", skipped,
                    "s" if skipped > 1 else "", p, "are" if skipped > 1 else "is", len(out))
    return out
