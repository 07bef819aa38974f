"""Which stored records the page is about: the filters of `report` and `serve`, and the one function that
applies them (`select`), so the store's own keyword filters can take its place without touching the rest."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import MobiledeployError

_AGO = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([mhdw])\s*$")
_UNIT = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


@dataclass(frozen=True)
class Filters:
    """What the page shows: only these devices, artifact folders, folders under `within`, families, and
    records measured at `since` or later (None: no limit)."""

    devices: tuple[str, ...] = ()
    artifacts: tuple[str, ...] = ()      # artifact folders, absolute
    within: str | None = None            # a folder, absolute: artifacts under it (a sweep's --out)
    families: tuple[str, ...] = ()
    since: dt.datetime | None = None     # aware, UTC

    def to_dict(self) -> dict:
        return {"device": list(self.devices), "artifact": list(self.artifacts), "within": self.within,
                "family": list(self.families), "since": self.since.isoformat() if self.since else None}

    def text(self) -> str:
        """One line for the page's header ("" without filters)."""
        parts = [f"{k} {', '.join(v) if isinstance(v, list) else v}" for k, v in self.to_dict().items() if v]
        return "; ".join(parts)


def parse_since(text: str | None, now: dt.datetime | None = None) -> dt.datetime | None:
    """--since: an ISO date or time (2024-05-01, 2024-05-01T12:00, UTC unless it says) or an age (30m, 12h, 7d,
    2w); a UTC datetime, or None."""
    if text is None or not str(text).strip():
        return None
    text = str(text).strip()
    now = now or dt.datetime.now(dt.timezone.utc)
    m = _AGO.match(text)
    if m:
        return now - dt.timedelta(seconds=float(m.group(1)) * _UNIT[m.group(2)])
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise MobiledeployError(f"--since {text[:40]!r} is neither a date (2024-05-01), a time (2024-05-01T12:00) "
                                "nor an age (30m, 12h, 7d, 2w)") from None
    return when.replace(tzinfo=dt.timezone.utc) if when.tzinfo is None else when.astimezone(dt.timezone.utc)


def make(devices=(), artifacts=(), within=None, families=(), since=None) -> Filters:
    """Checked filters from what a user typed (comma lists or sequences); one error line for a bad one."""
    from ..model.families import FAMILIES

    def items(value) -> tuple[str, ...]:
        if value is None:
            return ()
        values = value.split(",") if isinstance(value, str) else [x for v in value for x in str(v).split(",")]
        return tuple(dict.fromkeys(v.strip() for v in values if v.strip()))

    from ..choices import choose

    fams = tuple(dict.fromkeys(choose(name, tuple(FAMILIES), "family", "--family") for name in items(families)))
    folders = tuple(str(Path(a).expanduser().resolve()) for a in items(artifacts))
    if within is not None:
        if not Path(within).expanduser().is_dir():
            raise MobiledeployError(f"--within {within} is not a folder (give a sweep's --out, e.g. models/sweep)")
        within = str(Path(within).expanduser().resolve())
    return Filters(items(devices), folders, within, fams, since if isinstance(since, dt.datetime) or since is None
                   else parse_since(since))


def _time(text: str) -> dt.datetime | None:
    try:
        when = dt.datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    return when.replace(tzinfo=dt.timezone.utc) if when.tzinfo is None else when


def keep(record, f: Filters) -> bool:
    """Whether one record passes the filters (a record whose time does not read is not "since" anything)."""
    if f.devices and record.device not in f.devices:
        return False
    if f.families and (record.model is None or record.model.architecture not in f.families):
        return False
    if f.artifacts or f.within:
        folder = Path(record.artifact).resolve()
        if f.artifacts and str(folder) not in f.artifacts:
            return False
        if f.within and not folder.is_relative_to(f.within):
            return False
    if f.since is not None:
        when = _time(record.time)
        if when is None or when < f.since:
            return False
    return True


def select(f: Filters) -> list:
    """The stored records the page is about, oldest first (today: the whole store, filtered here; the store's
    keyword filters take this function's place when it has them)."""
    from ..bench import store

    return [r for r in store.history() if keep(r, f)]
