"""Measured accuracy of model files: one JSON line per (file sha256, data folder) in home/accuracy.jsonl.

Kept apart from results.jsonl (latency), which every bench reader expects to hold latency only.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..home import home


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
    if not p.is_file():
        return out
    for line in p.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
            out[rec["sha256"]] = rec
        except (json.JSONDecodeError, KeyError, TypeError):
            continue
    return out
