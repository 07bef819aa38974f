"""Bench records as JSON lines, one record a line: the results file of versions before 0.3 (results.jsonl,
imported into the database on first use), the spool of results a database could not take yet (unsent.jsonl)
and `results export --format jsonl`. Appends are whole lines or nothing; reading skips what is not a record."""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from ..errors import MobiledeployError
from ..readers import parse_json, read_bytes
from .record import BadRecord, BenchRecord

log = logging.getLogger("mobiledeploy")

MAX_STORE_BYTES = 1 << 30   # a million results is ~1 GB with their latencies; larger is not a results file


def append(p: Path, record: BenchRecord) -> None:
    """Append one complete result as one whole line.

    One write() on an O_APPEND descriptor, so concurrent runs never interleave; when an earlier crash left
    a line without its newline, the record starts on a new line instead of being glued to it; a write cut
    short (full disk) is truncated away, so the file never ends in half a record.
    """
    line = (json.dumps(record.to_dict(), default=str, allow_nan=False) + "\n").encode("utf-8")
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(p, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as exc:
        raise MobiledeployError(f"cannot write the results file {p}: {exc.strerror or exc} (free space or fix "
                                "its permissions)") from None
    try:
        size = os.fstat(fd).st_size
        if size + len(line) > MAX_STORE_BYTES:
            raise MobiledeployError(_full(p, size) + "; the result was not stored")
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
            raise MobiledeployError(f"cannot write the results file {p}: {reason} (free space on its disk); "
                                    "the result was not stored")
    finally:
        os.close(fd)


def check_writable(p: Path, what: str = "results file", size_cap: bool = True) -> None:
    """Refuse before measuring when the file cannot take a result (a folder or a read-only home, a link to
    nothing; with size_cap, a file past the size every reader takes). The store checks its SQLite file here too
    (what="results store", no size cap)."""
    folder = p.parent
    fix = "set MOBILEDEPLOY_HOME (or MOBILEDEPLOY_STORE) to a writable place, or fix its permissions"
    if folder.exists() and not folder.is_dir():
        raise MobiledeployError(f"the {what}'s folder {folder} is not a folder: {fix}")
    if p.exists() and not p.is_file() or p.is_symlink() and not p.exists():
        raise MobiledeployError(f"the {what} {p} is not a regular file: move it away or {fix}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MobiledeployError(f"cannot create the {what}'s folder {folder}: {exc.strerror or exc} "
                                f"({fix})") from None
    if not os.access(folder, os.W_OK | os.X_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise MobiledeployError(f"the {what} {p} is not writable: {fix}")
    if size_cap and p.exists() and p.stat().st_size > MAX_STORE_BYTES - (1 << 20):
        raise MobiledeployError(_full(p, p.stat().st_size))


def _full(p: Path, size: int) -> str:
    """Why a store past the size every reader takes cannot take more (a reader would refuse all of it)."""
    return (f"the results file {p} is full ({size / 2**20:.0f} MiB; readers take at most "
            f"{MAX_STORE_BYTES / 2**20:.0f} MiB): move it away (a new one is started) or set MOBILEDEPLOY_HOME")


def read(p: Path) -> list[BenchRecord]:
    """Every record of the file, oldest first; lines that are not records are skipped with one warning."""
    data = read_bytes(p, "results file", MAX_STORE_BYTES, "move it away (a new one is started) or set "
                      "MOBILEDEPLOY_HOME", missing_ok=True)
    if data is None:
        return []
    out, skipped = [], []
    for number, raw in enumerate(data.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            doc = parse_json(raw.decode("utf-8"), "results line", number, "")
            out.append(BenchRecord.from_dict(doc))
        except (UnicodeDecodeError, MobiledeployError) as exc:
            skipped.append((number, "not UTF-8 JSON" if isinstance(exc, UnicodeDecodeError) else "not JSON"))
        except BadRecord as exc:
            skipped.append((number, str(exc)))
        except (ValueError, TypeError, OverflowError, RecursionError, KeyError, AttributeError) as exc:
            # whatever else is wrong with a line (it is untrusted input) costs that line, never the store
            skipped.append((number, f"{type(exc).__name__}: {str(exc)[:80]}"))
    if skipped:
        where = ", ".join(str(n) for n, _ in skipped[:5]) + (", ..." if len(skipped) > 5 else "")
        log.warning("skipped %d line%s of %s that %s not bench records (line %s: %s; kept the other %d)",
                    len(skipped), "s" if len(skipped) > 1 else "", p, "are" if len(skipped) > 1 else "is", where,
                    skipped[0][1], len(out))
    return out
