"""Choose the most accurate measured variant whose p90 latency fits a budget, and say how to deploy it."""
from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

from ..bench.drift import Drift
from ..bench.measurement import Estimate, confidences_text
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
    tied: list = field(default_factory=list)
    contenders: list = field(default_factory=list)
    refined: list = field(default_factory=list)   # pick --refine: what each round measured again
    noisy: list = field(default_factory=list)     # results it rests on that were not measured quietly
    between_runs: "BetweenRuns | None" = None     # the device's drift between runs, and the chosen p90's rerun interval
    ranked_by: str | None = None                  # the accuracy source (ranking_source); None: multiply-adds
    also_in: list = field(default_factory=list)   # other artifact folders the chosen variant was measured from

    @property
    def decided(self) -> bool:
        return not self.contenders and not self.noisy

    def to_dict(self) -> dict:
        plain = lambda r: r.to_dict() if r is not None else None  # noqa: E731
        return {"chosen": self.chosen.to_dict(), "reason": self.reason,
                **undecided(self.contenders, self.noisy), "tied": [r.to_dict() for r in self.tied],
                "refined": self.refined,
                "neighbours": {"faster": plain(self.faster), "more_accurate": plain(self.more_accurate)},
                "artifact": self.chosen.artifact, "deploy": self.deploy, "note": self.note,
                "ranked_by": self.ranked_by, "also_in": list(self.also_in),
                "between_runs": self.between_runs.to_dict() if self.between_runs else None}


@dataclass(frozen=True)
class BetweenRuns:
    """What another run may measure for the chosen p90: the device's drift (bench/drift.py) and the p90 widened
    by it at its own confidence. The choice holds the budget at the top of that (pick's fits are judged on it)."""

    drift: Drift
    p90_rerun: Estimate
    budget_ms: float

    @property
    def fits(self) -> bool:
        return self.p90_rerun.upper <= self.budget_ms

    def text(self, label: str) -> str:
        return (f"{self.drift.text()}: another run's p90 of {label} may be {self.p90_rerun.low:.2f}-"
                f"{self.p90_rerun.high:.2f} ms ({confidences_text([self.p90_rerun])})")

    def to_dict(self) -> dict:
        return {**self.drift.to_dict(), "text": self.drift.text(), "p90_rerun_ms": list(self.p90_rerun.interval),
                "confidence": self.p90_rerun.confidence, "fits_rerun": self.fits}


def undecided(contenders: list, noisy: list) -> dict:
    """The JSON of what keeps an answer from being decided: pick --json, with a choice or with none."""
    return {"decided": not contenders and not noisy, "contenders": [r.to_dict() for r in contenders],
            "noisy": [{"label": r.label, "noise": r.noise} for r in noisy]}


def check_budget(budget_ms: float, option: str = "--budget-ms") -> float:
    """A latency budget: a positive finite number of milliseconds."""
    if isinstance(budget_ms, bool) or not isinstance(budget_ms, (int, float)) or not 0 < budget_ms < float("inf"):
        raise MobiledeployError(f"{option} must be a positive number of milliseconds, got {str(budget_ms)[:40]!r}")
    return float(budget_ms)


def _same_accuracy(a: Row, b: Row) -> bool:
    """Cannot be told apart: equal published numbers, or measured intervals that overlap (or hold the other)."""
    ia, ib = a.top1_interval(), b.top1_interval()
    if ia is None and ib is None:
        return a.top1 == b.top1
    lo_a, hi_a = ia or (a.top1, a.top1)
    lo_b, hi_b = ib or (b.top1, b.top1)
    return lo_a <= hi_b and lo_b <= hi_a


def _bound_text(rows: list[Row]) -> str:
    c = confidences_text(r.p90 for r in rows)
    return f" (upper {c} bound where measured)" if c else " (no intervals: judged on the p90 itself)"


def _reach(r: Row) -> tuple[float, float]:
    """Where the p90 may be: its interval, widened to where another run may land when the store knows the
    device's drift between runs (Row.p90_rerun): a decision another run would not repeat is not made."""
    if r.p90_rerun is None:
        return r.p90_low, r.p90_high
    return min(r.p90_low, r.p90_rerun.lower), max(r.p90_high, r.p90_rerun.upper)


def _clearly_faster(a: Row, b: Row) -> bool:
    """a's p90 interval lies wholly below b's (for results without one: the p90s themselves)."""
    return a.p90_high < b.p90_low


@dataclass
class Choice:
    """choose's answer: the row (or None), why, and the rows that could change it.

    `tied`: as accurate as the chosen one (the stated rule broke the tie); `contenders`: would be chosen (or
    tie) if they fit, and fit on their p90 but not on its upper bound: the answer is not decided until they are
    measured more (`pick --refine`); `noisy`: results the answer rests on (the chosen one, and the more accurate
    ones it rejected) that were measured while other work used the device: not decided either."""

    chosen: Row | None
    why: str
    tied: list = field(default_factory=list)
    contenders: list = field(default_factory=list)
    noisy: list = field(default_factory=list)
    ranked_by: str | None = None     # the accuracy source it ranked by (ranking_source); None: multiply-adds
    budget_ms: float = 0.0

    @property
    def refinable(self) -> list:
        """The contenders a longer measurement can settle: those over the budget on this run's own interval
        (the ones undecided only by the drift between runs stay so however long one run measures)."""
        return [r for r in self.contenders if r.p90_high > self.budget_ms]

    @property
    def decided(self) -> bool:
        return not self.contenders and not self.noisy


def _best(candidates: list[Row]) -> tuple[Row | None, list[Row], bool]:
    """(best, the others tied with it, ranked by the multiply-adds proxy): highest top-1 (with none known
    anywhere, most multiply-adds); a tie is broken by a rule that uses no latency unless one is clearly
    faster: the clearly faster one, then the smaller file, then the label: two runs give the same answer."""
    if not candidates:
        return None, [], False
    proxy = all(r.top1 is None for r in candidates)
    if proxy:
        top = max(r.macs or 0 for r in candidates)
        group = [r for r in candidates if (r.macs or 0) == top]
    else:
        ranked = sorted((r for r in candidates if r.top1 is not None), key=lambda r: -r.top1)
        group = [r for r in ranked if _same_accuracy(r, ranked[0])]
    quick = [r for r in group if not any(_clearly_faster(o, r) for o in group)]
    ordered = sorted(quick, key=lambda r: (r.size or 0, r.label)) + \
        sorted((r for r in group if r not in quick), key=lambda r: (r.p90_high, r.label))
    return ordered[0], ordered[1:], proxy


ACCURACY_SOURCES = ("auto", "measured", "published")
SOURCE_TEXT = {"measured": "top-1 measured here", "published": "published top-1 (the checkpoints', not these files')"}


def ranking_source(rows: list[Row], accuracy: str = "auto") -> str | None:
    """Which top-1 ranks the rows: one source, never two on one scale. auto: measured here when any row has it
    (a published ImageNet number and one measured on a few hundred photos are not the same quantity), else
    published; None when no row has either (multiply-adds then stand in)."""
    have = {r.top1_source for r in rows if r.top1 is not None}
    if accuracy != "auto":
        return accuracy
    return "measured" if "measured" in have else "published" if "published" in have else None


def choose(rows: list[Row], budget_ms: float, min_top1: float | None = None, accuracy: str = "auto",
           max_int8_drop: float | None = None) -> Choice:
    """Among measured rows whose p90 fits the budget on its upper confidence bound (and top-1 >= min_top1, and
    for int8 a drop against its fp32 file whose upper bound is within max_int8_drop), the most accurate by one
    accuracy source (ranking_source); ties named and broken by a fixed rule (_best). Rows whose p90 fits but whose
    upper bound does not, and which would change the answer, are the contenders: the answer says it is undecided."""
    measured = [r for r in rows if r.measured]
    if not measured:
        raise MobiledeployError("no measured results to pick from")
    source = ranking_source(measured, accuracy)
    ranked = [r for r in measured if source is None or r.top1_source == source]
    other = "published" if source == "measured" else "measured"
    unranked = sum(1 for r in measured if r not in ranked and r.top1_source == other)
    unknown_top1 = sum(1 for r in measured if r not in ranked and r.top1_source != other)
    int8_out = [r for r in ranked if max_int8_drop is not None and r.precision == "int8"
                and (r.int8_drop is None or r.int8_drop.high > max_int8_drop)]
    allowed = [r for r in ranked if r not in int8_out
               and (min_top1 is None or (r.top1 is not None and r.top1 >= min_top1))]
    if source is not None and not ranked:
        raise MobiledeployError(f"no measured variant has a {SOURCE_TEXT[source]}: "
                                + ("measure top-1 with sweep --weights-dir and --data" if source == "measured"
                                   else "choose --accuracy measured or auto"))
    fits = [r for r in allowed if _reach(r)[1] <= budget_ms]
    maybe = [r for r in allowed if _reach(r)[0] <= budget_ms < _reach(r)[1]]
    best, tied, proxy = _best(fits)
    contenders = []
    for m in maybe:
        if _best(fits + [m])[0] is not best:  # with m fitting, the answer would be another
            contenders.append(m)
    contenders.sort(key=lambda r: r.label)
    # the rows the answer rests on: the chosen one and every more accurate one it rejected for its latency
    # (nothing fits: the fastest, whose latency says so); a noisy one among them makes the answer undecided
    if best is not None:
        fitting = {id(r) for r in fits}
        rests_on = [best] + [r for r in allowed if id(r) not in fitting and _best(fits + [r])[0] is r]
    else:
        rests_on = [min(measured, key=lambda r: r.p90_high)]
    noisy = sorted((r for r in rests_on if r.noise), key=lambda r: r.label)
    by_run = [r for r in contenders if r.p90_high <= budget_ms]   # fit this run; another run may not
    in_run = [r for r in contenders if r not in by_run]
    undecided = (f"; undecided: {', '.join(r.label for r in in_run[:4])}{', ...' if len(in_run) > 4 else ''}"
                 " would change the answer and fit on their p90 but not on its upper bound: "
                 "pick --refine measures them longer") if in_run else ""
    if by_run:
        undecided += (f"; undecided: {', '.join(r.label for r in by_run[:4])}{', ...' if len(by_run) > 4 else ''} "
                      "would change the answer and fit this run's interval, but the device's drift between runs "
                      "reaches past the budget (another run may put them on either side): a budget with that much "
                      "margin, or a device that moves less between runs, settles it")
    if noisy:
        undecided += (f"; not measured quietly: {noisy[0].noise} while measuring "
                      f"{', '.join(r.label for r in noisy[:3])}{', ...' if len(noisy) > 3 else ''}, so their "
                      "latency is not the device's alone: measure again when it is quiet (--strict refuses "
                      "a busy device, pick --refine re-measures)")
    left_out = ""
    if unranked:
        left_out += (f"; {unranked} variant(s) with only a {SOURCE_TEXT[other]} were not ranked against them "
                     f"(--accuracy {other} ranks by that)")
    if unknown_top1:
        left_out += f"; {unknown_top1} variant(s) with no top-1 at all were not ranked"
    if int8_out:
        unknown = sum(1 for r in int8_out if r.int8_drop is None)
        left_out += (f"; {len(int8_out)} int8 variant(s) left out by --max-int8-drop {100 * max_int8_drop:g} points"
                     + (f" ({unknown} without a drop measured against their fp32 file on the same images: sweep "
                        "--weights-dir and --data measures it)" if unknown else ""))
    if best is None:
        fastest = min(measured, key=lambda r: r.p90_high)
        floor = f" with top-1 >= {min_top1:.1%}" if min_top1 is not None else ""
        return Choice(None, f"nothing fits {budget_ms:g} ms{floor}: the fastest measured is {fastest.label} "
                            f"({fastest.threads} thr) at {fastest.p90.text('p90')}" + left_out + undecided, [],
                      contenders, noisy, source, budget_ms)
    if proxy:
        why = (f"no top-1 is known for the {len(fits)} measured variants with p90 <= {budget_ms:g} ms"
               f"{_bound_text(fits)}, so "
               "they cannot be ranked by accuracy: this is the one with the most multiply-adds (a proxy; "
               "measure top-1 with sweep --weights-dir and --data)")
    else:
        n = sorted({r.top1_n for r in fits if r.top1_n})
        on = f" on {'/'.join(map(str, n))} images" if source == "measured" and n else ""
        why = (f"most accurate of {len(fits)} measured variant(s) with p90 <= {budget_ms:g} ms{_bound_text(fits)}, "
               f"ranked by {SOURCE_TEXT[source]}{on}")
    if tied:
        others = ", ".join(f"{r.label}" + (f" ({r.top1:.1%})" if r.top1 is not None else "") for r in tied[:3])
        why += (f"; tied with {others} ({'equal multiply-adds' if proxy else 'top-1 intervals overlap or equal published numbers'}):"
                " broken by a p90 interval wholly below the others', then the smaller file, then the label")
    if best.int8_drop is not None:
        why += f"; {best.int8_drop.text()}"
    return Choice(best, why + left_out + undecided, tied, contenders, noisy, source, budget_ms)


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


def refine_settings(settings):
    """How `pick --refine` measures a contender again: twice the processes (at least 6), three times the time
    cap, half the interval width (at least +-1%); threads, runs and warm-up stay, so the result replaces the
    old one. Each round starts from the last one's settings, so growth is capped (48 processes, 120 s a file,
    unless the user's own settings asked for more): --refine 10 stays minutes, not hours."""
    return settings.with_(processes=max(settings.processes, min(48, max(6, 2 * settings.processes))),
                          max_seconds=max(settings.max_seconds, min(120.0, 3 * settings.max_seconds)),
                          ci_width=min(settings.ci_width, max(0.01, settings.ci_width / 2)))


def measure_again(device: str, rows_: list[Row], records: list, log=None) -> dict:
    """Measure these rows' files again on `device` in one interleaved protocol (refine_settings); returns what
    was measured. A file no longer deployable is an error naming it (artifact_problem)."""
    import time

    from ..bench.session import bench_files
    from ..bench.settings import BenchSettings

    by_file = {(r.device, r.sha256, r.threads): r for r in records}
    groups: dict = {}
    for row in rows_:
        gone = artifact_problem(row)
        if gone:
            raise MobiledeployError(f"cannot refine {row.label}: {row.artifact} ({row.file}) {gone}")
        rec = by_file.get((device, row.sha256, row.threads))
        # --strict is the bench's choice of what to store, not the refine's: an unstable result is still news
        settings = refine_settings(rec.settings if rec else BenchSettings(threads=row.threads)).with_(strict=False)
        groups.setdefault(settings, []).append((row.artifact, row.file))
    start, errors = time.perf_counter(), []
    for settings, pairs in groups.items():
        if log:
            log(f"refine: measuring {', '.join(r.label for r in rows_)} again on {device} "
                f"({settings.processes}+ processes, up to {settings.max_seconds:g} s each, +-{settings.ci_width:.0%})")
        errors += bench_files(device, pairs, settings).errors
    if errors:
        raise MobiledeployError(f"refine: {errors[0]}")
    return {"labels": [r.label for r in rows_], "seconds": round(time.perf_counter() - start, 1)}


def decide(device: str, budget_ms: float, min_top1: float | None = None, precision: str | None = None,
           threads: int | None = None, refine: int = 0, log=None, accuracy: str = "auto",
           max_int8_drop: float | None = None, within=None, real_only: bool = False) -> PickResult:
    """pick, whole: the stored results for `device`, the choice, its front neighbours, how to deploy it.

    `accuracy`: the top-1 it ranks by (ranking_source); `max_int8_drop`: the most top-1 (a fraction) an int8
    file may lose against its own fp32 file, judged on the paired drop's upper bound; `within`: only artifacts
    under this folder (one sweep's --out); `real_only`: only artifacts with real weights.

    With `refine` > 0, while the answer is undecided (contenders whose p90 interval holds the budget), the
    chosen row and its contenders are measured again, up to `refine` rounds, and the choice is made anew.
    Raises NothingFits (exit code 3) when no measured variant fits.
    """
    from ..bench import devices, store
    from . import accuracy as accuracy_store, front, rows

    budget_ms = check_budget(budget_ms)
    if min_top1 is not None and not 0 <= min_top1 <= 1:
        raise MobiledeployError(f"--min-top1 must be a fraction from 0 to 1, got {min_top1}")
    if type(refine) is not int or not 0 <= refine <= 10:
        raise MobiledeployError(f"--refine takes a number of rounds from 0 to 10, got {refine!r}")
    if accuracy not in ACCURACY_SOURCES:
        raise MobiledeployError(f"--accuracy must be one of {', '.join(ACCURACY_SOURCES)}, got {str(accuracy)[:40]!r}")
    if max_int8_drop is not None and (isinstance(max_int8_drop, bool) or not isinstance(max_int8_drop, (int, float))
                                      or not 0 <= max_int8_drop <= 1):
        raise MobiledeployError(f"max_int8_drop must be a fraction of top-1 from 0 to 1 (0.01 is one point), got "
                                f"{str(max_int8_drop)[:40]!r}")
    if within is not None and not Path(within).is_dir():
        raise MobiledeployError(f"--within {within} is not a folder (give a sweep's --out, e.g. models/sweep)")
    known = devices.load()
    kind = known[device].get("kind") if device in known else None   # a lab's device: in the store, not configured here
    refined = []
    while True:
        records = store.history(device)
        report = rows.build(records, accuracy_store.load(), [device], threads, [precision] if precision else None,
                            within=within, real_only=real_only)
        if not report.rows:
            if device not in known:
                devices.get(device)   # neither configured nor measured: the unknown-device line
            what = " ".join(x for x in (precision and f"{precision}", threads and f"{threads}-thread",
                                        real_only and "real-weight", within and f"{within}'s") if x)
            hint = f"mobiledeploy sweep --device {device}" + (f" --threads {threads}" if threads else "") \
                + (f" --precisions {precision}" if precision else "")
            raise MobiledeployError(f"no stored {what + ' ' if what else ''}results for {device} in {store.where()}: "
                                    f"run {hint} first")
        choice = choose(report.rows, budget_ms, min_top1, accuracy, max_int8_drop)
        more = choice.refinable + [r for r in choice.noisy if r not in choice.refinable]
        if choice.decided or len(refined) >= refine or not more:
            break
        again = ([choice.chosen] if choice.chosen and choice.chosen not in more else []) + more
        try:
            refined.append(measure_again(device, again, records, log))
        except MobiledeployError as exc:   # a refine round that fails leaves the answer as it stands, said
            refined.append({"labels": [r.label for r in again], "error": str(exc)})
            if log:
                log(f"refine: {exc}; the answer below is the one before it")
            break
    chosen, why = choice.chosen, choice.why
    if refined:
        why += f" (after {len(refined)} refine round(s))"
    if chosen is None:
        raise NothingFits(why, detail={**undecided(choice.contenders, choice.noisy), "refined": refined})
    gone = artifact_problem(chosen)
    if gone:
        raise MobiledeployError(
            f"the best fit, {chosen.label} (p90 {chosen.p90_ms:.2f} ms), was measured from {chosen.artifact} "
            f"({chosen.file}), which {gone}: export it again (mobiledeploy export {_arch_flag(chosen)}"
            f"--alpha {alpha_text(chosen.alpha)} "
            f"--res {chosen.resolution} --int8 --out {shlex.quote(str(Path(chosen.artifact).parent))}) and bench it, "
            "or re-run the sweep that measured it")
    # the neighbours on the front of the same thread count and the same accuracy source as the ranking
    fr = front.pareto([r for r in report.rows if r.threads == chosen.threads
                       and (choice.ranked_by is None or r.top1_source == choice.ranked_by)])
    faster, better = front.neighbours(fr, chosen)
    note = None
    if chosen.weights == "random":
        from ..model.families import family

        # its latency is real but it classifies nothing: say how to get the same shape with real weights
        note = (f"this artifact has random weights (latency only): before deploying, export it with real "
                f"weights: mobiledeploy export {_arch_flag(chosen)}--alpha {alpha_text(chosen.alpha)} "
                f"--res {chosen.resolution} "
                f"--int8 {family(chosen.arch).real_weights}")
    # the same variant measured from other folders (another sweep's artifacts): its label alone does not say which
    also_in = sorted({r.artifact for r in report.rows if r.label == chosen.label and r.artifact != chosen.artifact})
    return PickResult(chosen, why, faster, better, deploy_command(chosen, kind), note, choice.tied,
                      choice.contenders, refined, choice.noisy, rerun(report, chosen, budget_ms), choice.ranked_by,
                      also_in)


def rerun(report, chosen: Row, budget_ms: float) -> BetweenRuns | None:
    """What another run may measure for the chosen p90, when the store shows how far the device moves between
    runs (bench/drift.py, through the rows); None without that history. pick judges fits on the top of it
    (_reach), so a chosen p90 holds the budget wherever another run may put it."""
    drift = report.drift.get(chosen.device)
    if drift is None or chosen.p90_rerun is None:
        return None
    return BetweenRuns(drift, chosen.p90_rerun, budget_ms)
