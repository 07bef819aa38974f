"""Measured accuracy of model files, kept in the results store beside the latencies (bench/store.py), one
result per (file sha256, data folder, ...): the newest of a file is the one the sweep and pick rank by."""
from __future__ import annotations

from ..bench import store


def append(record: dict) -> None:
    """Store one measured accuracy (its sha256 and top1 at least)."""
    store.add_accuracy(record)


def load() -> dict[str, dict]:
    """sha256 of a model file -> its newest measured accuracy."""
    out: dict[str, dict] = {}
    for rec in store.accuracy_docs():
        out[rec["sha256"]] = rec
    return out
