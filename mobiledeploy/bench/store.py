"""The results store: one JSON line per measurement in home/results.jsonl."""
from __future__ import annotations

import json
from pathlib import Path

from ..home import home


def path() -> Path:
    return home() / "results.jsonl"


def append(record: dict) -> None:
    """Append one complete result (written in one call, so a crash leaves no half line)."""
    p = path()
    p.parent.mkdir(parents=True, exist_ok=True)
    with open(p, "a", encoding="utf-8") as f:
        f.write(json.dumps(record, default=str) + "\n")


def history() -> list[dict]:
    p = path()
    if not p.is_file():
        return []
    out = []
    for line in p.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out
