"""The Pareto front of accuracy against latency: a pure function of rows."""
from __future__ import annotations


def pareto(points: list) -> list:
    """The points no other point beats: none is at least as fast and as accurate, and better in one.

    Points are anything with `p90_ms` and `top1`; those without either cannot be placed and are never on
    the front. The result is sorted by latency, so its accuracy rises strictly along it.
    """
    placed = sorted((p for p in points if p.p90_ms is not None and p.top1 is not None),
                    key=lambda p: (p.p90_ms, -p.top1))
    front, best = [], float("-inf")
    for p in placed:
        if p.top1 > best:  # faster points came first, so only a gain in accuracy keeps it
            front.append(p)
            best = p.top1
    return front


def neighbours(front: list, chosen) -> tuple:
    """(the next faster, the next more accurate) point on the front around `chosen`."""
    if not any(p is chosen for p in front):
        return None, None
    i = next(i for i, p in enumerate(front) if p is chosen)
    return (front[i - 1] if i > 0 else None), (front[i + 1] if i + 1 < len(front) else None)
