"""The sweep's grid: --alphas, --res, --precision and --device parsed and checked; cells that span it."""
from __future__ import annotations

import difflib

from ..errors import MobiledeployError
from ..model import architecture as arch

#: Precisions a sweep measures: TFLite files (the format every device kind runs).
PRECISIONS = ("fp32", "int8")


def _items(text: str, what: str, flag: str) -> list[str]:
    items = [i.strip() for i in (text or "").split(",") if i.strip()]
    if not items:
        raise MobiledeployError(f"{flag} is empty: give a comma list of {what}, e.g. {flag} "
                                + {"--alphas": "0.25,0.5", "--res": "128,160", "--precision": "fp32,int8"}[flag])
    return items


def _checked_list(text: str, what: str, option: str, check) -> list:
    """Comma list checked item by item with the model's own checks; duplicates dropped, sorted."""
    values = []
    for item in _items(text, what, option):
        try:
            values.append(check(item))
        except MobiledeployError as exc:
            raise MobiledeployError(f"{option}: {exc}") from None
    return sorted(set(values))


def parse_alphas(text: str) -> list[float]:
    """Comma list of width multipliers in (0, 1]; duplicates dropped, sorted."""
    return _checked_list(text, "width multipliers", "--alphas", arch.check_alpha)


def parse_resolutions(text: str) -> list[int]:
    """Comma list of input sides in pixels (>= 32); duplicates dropped, sorted."""
    return _checked_list(text, "input sides in pixels", "--res", arch.check_resolution)


def parse_precisions(text: str) -> list[str]:
    """Comma list of fp32 and int8 (the TFLite precisions a sweep compares)."""
    values = []
    for item in _items(text, "precisions", "--precision"):
        item = item.lower()
        if item not in PRECISIONS:
            close = difflib.get_close_matches(item, PRECISIONS, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise MobiledeployError(f"--precision: unknown precision {item!r}{hint}: choose from "
                                    f"{', '.join(PRECISIONS)}")
        if item not in values:
            values.append(item)
    return values


def parse_devices(text: str, known: dict) -> list[str]:
    """Comma list of configured device names; an unknown one is an error naming the configured ones."""
    names = [n.strip() for n in (text or "").split(",") if n.strip()]
    if not names:
        raise MobiledeployError("--device is empty: give one or more device names, e.g. --device local")
    for name in names:
        if name not in known:
            close = difflib.get_close_matches(name, list(known), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise MobiledeployError(f"unknown device {name!r} in --device{hint}: add it with mobiledeploy devices "
                                    f"add (configured: {', '.join(sorted(known))})")
    return list(dict.fromkeys(names))


def spanning(cells: list[tuple[float, int]], k: int) -> list[tuple[float, int]]:
    """k (alpha, resolution) cells that span the grid: the corners first, then farthest-point in index space.

    Used by `sweep --measure K` and by the predictor benchmark, so both fit on the same kind of sample.
    """
    cells = sorted(set(cells))
    alphas = sorted({a for a, _ in cells})
    sides = sorted({r for _, r in cells})
    pos = {c: (alphas.index(c[0]) / max(1, len(alphas) - 1), sides.index(c[1]) / max(1, len(sides) - 1))
           for c in cells}
    corners = [(alphas[0], sides[0]), (alphas[-1], sides[-1]), (alphas[0], sides[-1]), (alphas[-1], sides[0])]
    chosen = []
    for c in corners:
        if c in pos and c not in chosen and len(chosen) < k:
            chosen.append(c)
    while len(chosen) < min(k, len(cells)):
        def gap(c):
            return min((pos[c][0] - pos[d][0]) ** 2 + (pos[c][1] - pos[d][1]) ** 2 for d in chosen)
        chosen.append(max((c for c in cells if c not in chosen), key=lambda c: (gap(c), c)))
    return chosen
