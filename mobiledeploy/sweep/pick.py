"""Choose the most accurate measured variant whose p90 latency fits a budget, and say how to deploy it."""
from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from ..errors import MobiledeployError
from ..model.architecture import alpha_text
from ..outcome import NothingFits
from .cells import Row


@dataclass
class PickResult:
    """pick's answer: the chosen row, why, its neighbours on the front, and the deploy command."""

    chosen: Row
    reason: str
    faster: Row | None
    more_accurate: Row | None
    deploy: str
    note: str | None = None

    def to_dict(self) -> dict:
        plain = lambda r: r.to_dict() if r is not None else None  # noqa: E731
        return {"chosen": self.chosen.to_dict(), "reason": self.reason,
                "neighbours": {"faster": plain(self.faster), "more_accurate": plain(self.more_accurate)},
                "artifact": self.chosen.artifact, "deploy": self.deploy, "note": self.note}


def check_budget(budget_ms: float, option: str = "--budget-ms") -> float:
    """A latency budget: a positive finite number of milliseconds."""
    if not isinstance(budget_ms, (int, float)) or not 0 < budget_ms < float("inf"):
        raise MobiledeployError(f"{option} must be a positive number of milliseconds, got {budget_ms:g}")
    return float(budget_ms)


def _same_accuracy(a: Row, b: Row) -> bool:
    """Cannot be told apart: equal published numbers, or measured intervals that overlap (or hold the other)."""
    ia, ib = a.top1_interval(), b.top1_interval()
    if ia is None and ib is None:
        return a.top1 == b.top1
    lo_a, hi_a = ia or (a.top1, a.top1)
    lo_b, hi_b = ib or (b.top1, b.top1)
    return lo_a <= hi_b and lo_b <= hi_a


def _tie_break(r: Row) -> tuple:
    # more margin to the budget, then the smaller file, then the label: the same answer every time
    return r.p90_high, r.size or 0, r.label


def choose(rows: list[Row], budget_ms: float, min_top1: float | None = None) -> tuple[Row | None, str]:
    """(chosen row or None, why): among measured rows whose p90 fits the budget on its upper confidence bound
    (and top-1 >= min_top1), the highest top-1; candidates whose accuracy cannot be told apart from the best
    are a tie, named in `why` and broken by the rule there."""
    measured = [r for r in rows if r.measured]
    if not measured:
        raise MobiledeployError("no measured results to pick from")
    fits = [r for r in measured if r.p90_high <= budget_ms]
    if min_top1 is not None:
        fits = [r for r in fits if r.top1 is not None and r.top1 >= min_top1]
    near = [r for r in measured if r.p90_ms <= budget_ms < r.p90_high]
    close = (f"; {len(near)} more fit on their p90 but not on its upper bound ({', '.join(r.label for r in near[:3])}"
             f"{', ...' if len(near) > 3 else ''}): measure them longer to decide") if near else ""
    if not fits:
        fastest = min(measured, key=lambda r: r.p90_high)
        floor = f" with top-1 >= {min_top1:.1%}" if min_top1 is not None else ""
        return None, (f"nothing fits {budget_ms:g} ms{floor}: the fastest measured is {fastest.label} "
                      f"({fastest.threads} thr) at p90 {fastest.p90_ms:.2f} ms" + close)
    if all(r.top1 is None for r in fits):
        # nothing to rank by accuracy: within a family, accuracy rises with multiply-adds (the papers' tables),
        # so the costliest variant that fits is the best guess, and it is said to be a guess (across families
        # multiply-adds are a weaker proxy: V2 reaches v1's accuracy with about half of them)
        best = max(fits, key=lambda r: (r.macs or 0, -r.p90_high))
        return best, (f"no top-1 is known for the {len(fits)} measured variants with p90 <= {budget_ms:g} ms, so "
                      "they cannot be ranked by accuracy: this is the one with the most multiply-adds (a proxy; "
                      "measure top-1 with sweep --weights-dir and --data)" + close)
    ranked = sorted((r for r in fits if r.top1 is not None), key=lambda r: -r.top1)
    tied = sorted((r for r in ranked if _same_accuracy(r, ranked[0])), key=_tie_break)
    best = tied[0]
    why = f"most accurate of {len(fits)} measured variants with p90 <= {budget_ms:g} ms (upper 95% bound where measured)"
    if len(tied) > 1:
        others = ", ".join(f"{r.label} ({r.top1:.1%})" for r in tied[1:4])
        why += (f"; tied on accuracy with {others} (intervals overlap or equal published numbers): broken by more "
                "margin to the budget, then the smaller file")
    return best, why + close


def artifact_problem(row: Row) -> str | None:
    """Why the measured file can no longer be deployed (folder gone, manifest broken, file changed), or None."""
    from ..artifact.bundle import Artifact

    if not row.artifact or not row.file:
        return "is not recorded"
    try:
        art = Artifact.load(row.artifact)
        entry = art.entry(row.file)
        if row.sha256 and entry.sha256 != row.sha256:
            return "now holds a different file than the one measured"
        art.path(entry)  # the bytes still match the manifest's sha256
    except MobiledeployError as exc:
        return f"is gone or damaged ({str(exc).splitlines()[0][:160]})"
    return None


def deploy_command(row: Row, device_kind: str) -> str:
    """How to put the chosen artifact to work on this kind of device (Android app or Pi classifier)."""
    art = Path(row.artifact)
    if device_kind == "adb":
        assets = Path("android_demo/app/src/main/assets/models") / art.name
        files = [str(art / n) for n in ("manifest.json", "labels.txt", row.file)]
        return f"mkdir -p {shlex.quote(str(assets))} && cp {shlex.join(files)} {shlex.quote(str(assets))}/"
    return shlex.join(["python", "raspberrypi/classify.py", "--artifact", str(art), "--file", row.file,
                       "--threads", str(row.threads)])


def _arch_flag(row: Row) -> str:
    """`--arch NAME ` for a family other than the default (v1 commands stay as they were), else nothing."""
    from ..model.families import DEFAULT

    return "" if row.arch == DEFAULT else f"--arch {row.arch} "


def decide(device: str, budget_ms: float, min_top1: float | None = None, precision: str | None = None,
           threads: int | None = None) -> PickResult:
    """pick, whole: the stored results for `device`, the choice, its front neighbours, how to deploy it.

    Raises NothingFits (exit code 3) when no measured variant fits.
    """
    from ..bench import devices, store
    from . import accuracy, front, rows

    budget_ms = check_budget(budget_ms)
    if min_top1 is not None and not 0 <= min_top1 <= 1:
        raise MobiledeployError(f"--min-top1 must be a fraction from 0 to 1, got {min_top1}")
    kind = devices.get(device).get("kind")
    report = rows.build(store.history(), accuracy.load(), [device], threads, [precision] if precision else None)
    if not report.rows:
        what = " ".join(x for x in (precision and f"{precision}", threads and f"{threads}-thread") if x)
        raise MobiledeployError(f"no stored {what + ' ' if what else ''}results for {device} in {store.path()}: "
                                f"run mobiledeploy sweep --device {device} first")
    chosen, why = choose(report.rows, budget_ms, min_top1)
    if chosen is None:
        raise NothingFits(why)
    gone = artifact_problem(chosen)
    if gone:
        raise MobiledeployError(
            f"the best fit, {chosen.label} (p90 {chosen.p90_ms:.2f} ms), was measured from {chosen.artifact} "
            f"({chosen.file}), which {gone}: export it again (mobiledeploy export {_arch_flag(chosen)}"
            f"--alpha {alpha_text(chosen.alpha)} "
            f"--res {chosen.resolution} --int8 --out {shlex.quote(str(Path(chosen.artifact).parent))}) and bench it, "
            "or re-run the sweep that measured it")
    fr = front.pareto([r for r in report.rows if r.threads == chosen.threads])
    faster, better = front.neighbours(fr, chosen)
    note = None
    if chosen.weights == "random":
        # its latency is real but it classifies nothing: say how to get the same shape with real weights
        note = (f"this artifact has random weights (latency only): before deploying, export it with real "
                f"weights: mobiledeploy export {_arch_flag(chosen)}--alpha {alpha_text(chosen.alpha)} "
                f"--res {chosen.resolution} "
                f"--int8 --weights imagenet (or a Google .tflite)")
    return PickResult(chosen, why, faster, better, deploy_command(chosen, kind), note)
