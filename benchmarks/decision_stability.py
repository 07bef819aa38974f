"""Does `pick` give the same answer when the same sweep is measured again? (issue 18)

The 3 x 3 x {fp32, int8} grid (alpha 0.25/0.5/0.75 x 128/160/192, data-free, --device local) is swept R times
into fresh results stores from the same artifacts; every second run has a competing CPU load that this
script starts (one busy process per core, bounded to 15 minutes) and stops itself. Then `pick` answers 10
budgets spread between the fastest and the slowest variant's p90.

Reports: pairwise agreement of pick over the quiet runs, strict and "same answer or told" (the differing answer
was named by one of the two runs as tied or as an undecided contender; goal >= 95%); on loaded runs, answers that differ
from the quiet ones without pick naming the quiet answer or saying it is undecided (contenders, or results
not measured quietly) (goal: none); the share of files whose median in
one quiet run lies inside its interval from another (goal >= 90%; all pairs reported too), for the within-run
interval and for the rerun interval (bench/drift.py: the within-run interval widened by the drift between runs that
a third quiet run's store shows, so the drift is never estimated from the pair it is tested on; needs R >= 6, three
quiet runs); the sweep's time per run.
Usage: python benchmarks/decision_stability.py [--runs R] [--reuse]   (default R = 6; --reuse: pick again on the
stores the last run left, measuring nothing: for a changed pick, not for new figures)
"""
import functools
import itertools
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import CLI, ROOT, report

sys.path.insert(0, str(ROOT))
from mobiledeploy.bench.drift import between_runs  # noqa: E402
from mobiledeploy.bench.measurement import Estimate  # noqa: E402

WORK = Path(tempfile.gettempdir()) / "mobiledeploy-decision-bench"
GRID = ["--alphas", "0.25,0.5,0.75", "--res", "128,160,192", "--precisions", "fp32,int8", "--device", "local"]
# a busy loop, bounded to 15 minutes, that also ends when this script does (however it ends: a kill leaves no
# finally), by watching its parent
BURN = ("import os, time\nparent, end = os.getppid(), time.time() + 900\n"
        "while time.time() < end and os.getppid() == parent:\n    t = time.time() + 0.2\n"
        "    while time.time() < t:\n        pass\n")


@functools.cache
def records(i: int) -> list:
    """Run i's stored records (read once)."""
    from mobiledeploy.bench import store

    os.environ["MOBILEDEPLOY_HOME"] = str(WORK / f"home-{i}")   # results.db there (or an older results.jsonl,
    try:                                                         # imported on first use)
        return store.history()
    finally:
        del os.environ["MOBILEDEPLOY_HOME"]


def env_for(home: Path) -> dict:
    return {**os.environ, "MOBILEDEPLOY_HOME": str(home), "KERAS_HOME": str(WORK / "keras"),
            "MOBILEDEPLOY_WEIGHTS_URL": "http://127.0.0.1:9/"}


def sweep(home: Path, loaded: bool) -> tuple[dict, float, list]:
    burners = [subprocess.Popen([sys.executable, "-c", BURN]) for _ in range(os.cpu_count() or 1)] if loaded else []
    try:
        load_before = os.getloadavg()[0]
        start = time.perf_counter()
        proc = subprocess.run([CLI, "sweep", *GRID, "--out", str(WORK / "models"), "--json"], capture_output=True,
                              text=True, env=env_for(home))
        wall = time.perf_counter() - start
        load_after = os.getloadavg()[0]
    finally:
        for b in burners:
            b.kill()
            b.wait()
    if proc.returncode not in (0,):
        raise SystemExit(f"sweep failed: {proc.stderr.strip()[-400:]}")
    return json.loads(proc.stdout), wall, [round(load_before, 2), round(load_after, 2)]


def pick(home: Path, budget: float) -> dict:
    proc = subprocess.run([CLI, "pick", "--device", "local", "--budget-ms", f"{budget:.4f}", "--json"],
                          capture_output=True, text=True, env=env_for(home))
    doc = json.loads(proc.stdout) if proc.stdout.strip() else {}
    chosen = (doc.get("chosen") or {}).get("label")
    reason = doc.get("reason") or proc.stderr.strip()
    # what this answer tells the user may be the answer: the chosen one, those tied with it, the contenders
    named = sorted({chosen, *(r["label"] for r in doc.get("tied") or []),
                    *(r["label"] for r in doc.get("contenders") or [])} - {None})
    return {"chosen": chosen, "named": named, "tied": bool(doc.get("tied")),
            "noisy": bool(doc.get("noisy")) or "not measured quietly" in reason,
            "undecided": chosen is None and ("undecided" in reason or "not measured quietly" in reason)
            or doc.get("decided") is False}


def main():
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 6
    reuse = "--reuse" in sys.argv   # analyse the stores a previous run left (pick again), measure nothing
    if not reuse:
        shutil.rmtree(WORK, ignore_errors=True)
        WORK.mkdir(parents=True)
        # the artifacts once (not timed against the protocol), so every run measures the same files
        subprocess.run([CLI, "sweep", *GRID, "--out", str(WORK / "models"), "--runs", "2", "--processes", "1",
                        "--json"], capture_output=True, text=True, env=env_for(WORK / "home-export"), check=True)
    docs, walls, loads, loaded = [], [], [], []
    for i in range(runs):
        if reuse:
            doc = json.loads(subprocess.run([CLI, "sweep", *GRID, "--out", str(WORK / "models"), "--report", "--json"],
                                            capture_output=True, text=True, env=env_for(WORK / f"home-{i}"),
                                            check=True).stdout)
            wall, load = 0.0, []
        else:
            doc, wall, load = sweep(WORK / f"home-{i}", loaded=i % 2 == 1)
        docs.append(doc)
        walls.append(round(wall, 1))
        loads.append(load)
        loaded.append(i % 2 == 1)
    p90s = sorted(r["p90_ms"] for r in docs[0]["rows"])
    lo, hi = p90s[0], p90s[-1]
    budgets = [lo * (hi / lo) ** (k / 9) for k in range(10)]
    answers = [[pick(WORK / f"home-{i}", b) for b in budgets] for i in range(runs)]
    quiet = [i for i in range(runs) if not loaded[i]]
    pairs = list(itertools.combinations(quiet, 2))
    agree = [answers[a][k]["chosen"] == answers[b][k]["chosen"] for a, b in pairs for k in range(len(budgets))]
    # the headline's promise: the same answer, or told (in either run) that the other answer is a candidate
    told = [answers[a][k]["chosen"] == answers[b][k]["chosen"] or answers[a][k]["chosen"] in answers[b][k]["named"]
            or answers[b][k]["chosen"] in answers[a][k]["named"] for a, b in pairs for k in range(len(budgets))]
    confident_wrong = 0
    for i in (i for i in range(runs) if loaded[i]):
        for k in range(len(budgets)):
            quiet_answers = {answers[q][k]["chosen"] for q in quiet}
            a = answers[i][k]
            if a["chosen"] not in quiet_answers and not a["undecided"] and not (set(a["named"]) & quiet_answers):
                confident_wrong += 1
    def shift(a, b) -> float:
        """The common factor between two runs: geometric mean of run b's medians over run a's, over shared files."""
        rows_b = {r["label"]: r for r in docs[b]["rows"]}
        logs = [math.log(rows_b[r["label"]]["median_ms"] / r["median_ms"]) for r in docs[a]["rows"]
                if r["label"] in rows_b]
        return math.exp(sum(logs) / len(logs)) if logs else 1.0

    def coverage(pairs_, common=False) -> float | None:
        """Share of files whose median in run b lies inside run a's median interval (common: after dividing
        run b by the factor all its files moved by, the machine's mood between runs, which no interval
        measured within one run can hold)."""
        inside, total = 0, 0
        for a, b in pairs_:
            factor = shift(a, b) if common else 1.0
            rows_b = {r["label"]: r for r in docs[b]["rows"]}
            for r in docs[a]["rows"]:
                other = rows_b.get(r["label"])
                if other and r.get("median_ci_ms"):
                    total += 1
                    inside += r["median_ci_ms"][0] <= other["median_ms"] / factor <= r["median_ci_ms"][1]
        return inside / total if total else None

    def rerun_coverage(quiet_) -> tuple[float | None, list]:
        """Share of files whose median in run b lies inside run a's rerun interval, the drift estimated from run a's
        records and a third quiet run c's (what a store that had seen runs a and c would say); and those drifts."""
        inside, total, drifts = 0, 0, []
        for a, b in itertools.permutations(quiet_, 2):
            rows_b = {r["label"]: r for r in docs[b]["rows"]}
            for c in (c for c in quiet_ if c not in (a, b)):
                d = between_runs(records(a) + records(c), "local")
                if d is None:
                    continue
                drifts.append(round(100 * d.sd, 2))
                for r in docs[a]["rows"]:
                    other = rows_b.get(r["label"])
                    if other and r.get("median_ci_ms"):
                        low, high = Estimate(r["median_ms"], *r["median_ci_ms"], r["confidence"]).widened(d.sd).interval
                        total += 1
                        inside += low <= other["median_ms"] <= high
        return (inside / total if total else None), drifts

    # quiet runs against each other (the goal), and every pair (loaded runs say they are noisy: their intervals
    # describe that run's load, which the next run does not repeat)
    quiet_cov = coverage(list(itertools.permutations(quiet, 2)))
    quiet_cov_common = coverage(list(itertools.permutations(quiet, 2)), common=True)
    shifts = {f"{a}->{b}": round(100 * (shift(a, b) - 1), 2) for a, b in itertools.combinations(range(runs), 2)}
    all_cov = coverage(list(itertools.permutations(range(runs), 2)))
    rerun_cov, drifts = rerun_coverage(quiet)
    rerun_text = (f"{rerun_cov:.0%} in the rerun interval (drift sd {min(drifts)}-{max(drifts)}% from a third run)"
                  if rerun_cov is not None else "no rerun interval (fewer than 3 quiet runs)")
    unquiet = sum(1 for i in range(runs) if loaded[i] for k in range(len(budgets)) if answers[i][k]["noisy"])
    agreement = sum(agree) / len(agree) if agree else None
    consistent = sum(told) / len(told) if told else None
    summary = (f"pick agreement over quiet runs {agreement:.0%}, same answer or told the other is a candidate "
               f"{consistent:.0%} (goal 95%), confident different answers under load "
               f"{confident_wrong} (goal 0; {unquiet} of {sum(loaded) * len(budgets)} loaded answers say they were not "
               f"measured quietly), a quiet run's medians within the other's interval {quiet_cov:.0%}, {rerun_text} (goal 90%; "
               f"{quiet_cov_common:.0%} after the common shift of quiet runs {[shifts[f'{a}->{b}'] for a, b in pairs]}%; "
               f"all pairs {all_cov:.0%}); "
               f"sweep {min(walls):.0f}-{max(walls):.0f} s per run; load {loads}")
    report("decision_stability", {"runs": runs, "loaded": loaded, "sweep_seconds": walls, "load": loads,
                                  "budgets_ms": [round(b, 3) for b in budgets], "answers": answers,
                                  "quiet_pair_agreement": agreement, "quiet_pair_same_or_told": consistent,
                                  "confident_different_under_load": confident_wrong,
                                  "loaded_answers_saying_not_quiet": unquiet,
                                  "median_within_interval_quiet_pairs": quiet_cov,
                                  "median_within_interval_quiet_pairs_common_shift_removed": quiet_cov_common,
                                  "common_shift_pct": shifts,
                                  "median_within_interval_all_pairs": all_cov,
                                  "median_within_rerun_interval_quiet_pairs": rerun_cov,
                                  "drift_sd_pct_from_third_run": drifts}, summary)


if __name__ == "__main__":
    main()
