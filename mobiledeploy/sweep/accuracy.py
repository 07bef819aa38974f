"""Measured accuracy of model files: one JSON line per (file sha256, data folder) in home/accuracy.jsonl.

Kept apart from results.jsonl (latency), which every bench reader expects to hold latency only.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..home import home
from ..readers import read_text

MAX_BYTES = 256 << 20


def path() -> Path:
    """The accuracy store."""
    return home() / "accuracy.jsonl"


def append(record: dict) -> None:
    """Append one measured accuracy (one write call: a crash leaves no half line)."""
    p = path()
    p.parent.mkdir(parents=True, exist_ok=True)
    with open(p, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


def load() -> dict[str, dict]:
    """sha256 of a model file -> its newest measured accuracy."""
    p = path()
    out: dict[str, dict] = {}
    text = read_text(p, "accuracy store", MAX_BYTES, "move it away (a new one is started) or set MOBILEDEPLOY_HOME",
                     missing_ok=True)
    for line in (text or "").splitlines():
        try:
            rec = json.loads(line, parse_constant=lambda name: None)
        except (ValueError, RecursionError):
            continue
        top1 = rec.get("top1") if isinstance(rec, dict) else None
        if isinstance(rec.get("sha256") if isinstance(rec, dict) else None, str) and isinstance(top1, (int, float)) \
                and not isinstance(top1, bool) and 0 <= top1 <= 1:
            out[rec["sha256"]] = rec
    return out
