"""The Pareto front of accuracy against latency: a pure function of points."""
from __future__ import annotations


def pareto(points: list[dict], latency: str = "p90_ms", accuracy: str = "top1") -> list[dict]:
    """The points no other point beats: none is at least as fast and as accurate, and better in one.

    Points without a latency or an accuracy cannot be placed and are never on the front. The result is
    sorted by latency, so its accuracy rises strictly along it.
    """
    placed = sorted((p for p in points if p.get(latency) is not None and p.get(accuracy) is not None),
                    key=lambda p: (p[latency], -p[accuracy]))
    front, best = [], float("-inf")
    for p in placed:
        if p[accuracy] > best:  # faster points came first, so only a gain in accuracy keeps it
            front.append(p)
            best = p[accuracy]
    return front


def neighbours(front: list[dict], chosen: dict) -> tuple[dict | None, dict | None]:
    """(the next faster, the next more accurate) point on the front around `chosen`."""
    if chosen not in front:
        return None, None
    i = front.index(chosen)
    return (front[i - 1] if i > 0 else None), (front[i + 1] if i + 1 < len(front) else None)
