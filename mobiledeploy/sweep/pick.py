"""Choose the most accurate measured variant whose p90 latency fits a budget: pure functions on rows."""
from __future__ import annotations

from ..errors import MobiledeployError


def choose(rows: list[dict], budget_ms: float, min_top1: float | None = None) -> tuple[dict | None, str]:
    """(chosen row or None, why): among measured rows with p90 <= budget (and top-1 >= min_top1),
    the highest top-1; ties and rows without any accuracy go to the lower p90."""
    measured = [r for r in rows if r["latency"] == "measured"]
    if not measured:
        raise MobiledeployError("no measured results to pick from")
    fits = [r for r in measured if r["p90_ms"] <= budget_ms]
    if min_top1 is not None:
        fits = [r for r in fits if r["top1"] is not None and r["top1"] >= min_top1]
    if not fits:
        fastest = min(measured, key=lambda r: r["p90_ms"])
        floor = f" with top-1 >= {min_top1:.1%}" if min_top1 is not None else ""
        return None, (f"nothing fits {budget_ms:g} ms{floor}: the fastest measured is {fastest['label']} "
                      f"({fastest['threads']} thr) at p90 {fastest['p90_ms']:.2f} ms")
    best = max(fits, key=lambda r: (r["top1"] if r["top1"] is not None else float("-inf"), -r["p90_ms"]))
    return best, f"most accurate of {len(fits)} measured variants with p90 <= {budget_ms:g} ms"


def deploy_command(row: dict, device_kind: str) -> str:
    """How to put the chosen artifact to work on this kind of device (Android app or Pi classifier)."""
    import shlex
    from pathlib import Path

    art = Path(row["artifact"])
    if device_kind == "adb":
        assets = Path("android_demo/app/src/main/assets/models") / art.name
        files = [str(art / n) for n in ("manifest.json", "labels.txt", row["file"])]
        return f"mkdir -p {shlex.quote(str(assets))} && cp {shlex.join(files)} {shlex.quote(str(assets))}/"
    return shlex.join(["python", "raspberrypi/classify.py", "--artifact", str(art), "--file", row["file"],
                       "--threads", str(row["threads"])])
