"""The sweep's grid: --alphas, --res, --precisions and --device parsed and checked; cells that span it."""
from __future__ import annotations

from ..choices import checked_list, choice_list, did_you_mean, items
from ..errors import MobiledeployError
from ..export.formats import SWEEP_PRECISIONS
from ..model import architecture as arch

def parse_alphas(text: str) -> list[float]:
    """Comma list of width multipliers; duplicates dropped, sorted."""
    return checked_list(text, "--alphas", "0.25,0.5", arch.check_alpha)


def parse_resolutions(text: str) -> list[int]:
    """Comma list of input sides in pixels; duplicates dropped, sorted."""
    return checked_list(text, "--res", "128,160", arch.check_resolution)


def parse_precisions(text: str) -> list[str]:
    """Comma list of the TFLite precisions a sweep compares (fp32, int8)."""
    return choice_list(text, SWEEP_PRECISIONS, "precision", "--precisions", "fp32,int8")


def parse_devices(text: str, known: dict) -> list[str]:
    """Comma list of configured device names; an unknown one is an error naming the configured ones."""
    names = items(text, "--device", "local")
    for name in names:
        if name not in known:
            hint = did_you_mean(name, known)
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
