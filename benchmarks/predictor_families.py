"""Does memory access cost help predict a family the predictor has not seen? Leave one family out.

One sweep on this machine across the four families (MobileNet v1, MobileNetV2, ShuffleNet V1 g=3, ShuffleNet
V2) at alpha 0.5 and 1.0 (ShuffleNet V2 has only 0.5/1.0/1.5/2.0), res 128, 160 and 224, fp32 and int8, 1
thread, random weights (latency does not depend on the values). For each precision and each family F, the
latency predictor's forms are fitted on the other three families' variants and scored on F's (absolute percent
error): mult-adds alone ("macs": a + b MACs) against mult-adds + memory access cost ("macs+mac": a + b MACs +
c MAC bytes, ShuffleNet V2's Section 2 at the file's precision), beside MAC alone and the predictor's other
forms. Scored on the median latency, the p90, and the per-inference thread CPU time (1 thread: XNNPACK runs in
the calling thread), which other jobs' preemption does not inflate: on a shared machine it separates the
model's error from the load's. Also reported: the within-family leave-one-out error (what `sweep` does, one
fit per family) with and without the MAC forms, which decides whether `fit` should try them.

It reuses the sweep's artifacts and stored results (rerunning measures only what is missing).
Usage: python benchmarks/predictor_families.py [--runs N]
"""
import os
import sys
import time
from pathlib import Path

import numpy as np

from _common import ROOT, cli, report

sys.path.insert(0, str(ROOT))
WORK = Path(os.environ.get("TMPDIR", "/tmp")) / "mobiledeploy-predictor-families"
HOME = WORK / "home"
ARCHS = ("mobilenet_v1", "mobilenet_v2", "shufflenet_v1", "shufflenet_v2")
ALPHAS, RESOLUTIONS, PRECISIONS = (0.5, 1.0), (128, 160, 224), ("fp32", "int8")
COMPARED = ("macs", "macs+mac", "mac", "macs+act", "dense+dw")
KEYS = ("median_ms", "p90_ms", "cpu_ms")


def sweep(runs: int) -> float:
    """Run (or resume) the sweep; its wall seconds."""
    _, wall = cli("sweep", "--arch", ",".join(ARCHS), "--alphas", ",".join(map(str, ALPHAS)),
                  "--res", ",".join(map(str, RESOLUTIONS)), "--precision", ",".join(PRECISIONS), "--threads", "1",
                  "--runs", runs, "--device", "local", "--out", WORK / "models", "--json",
                  env={"MOBILEDEPLOY_HOME": str(HOME), "MOBILEDEPLOY_WEIGHTS_URL": "http://127.0.0.1:9/"})
    return wall


def stored_rows() -> list[dict]:
    os.environ["MOBILEDEPLOY_HOME"] = str(HOME)
    from mobiledeploy.bench import store
    from mobiledeploy.sweep import rows
    from mobiledeploy.sweep.cells import Cell

    cells = [Cell(a, r, arch) for arch in ARCHS for a in ALPHAS for r in RESOLUTIONS]
    return [{**rows.measured_row(r, {}).to_dict(), "model": r.model.to_dict()}
            for r in rows.latest(store.history(), ["local"], 1, list(PRECISIONS), cells)]


def cpu_ms(row: dict, runs: int = 30, warmup: int = 5) -> float:
    """Median thread CPU milliseconds of one invoke of the row's file, 1 thread."""
    from mobiledeploy.litert import open_interpreter

    it = open_interpreter(Path(row["artifact"]) / row["file"], threads=1)
    inp = it.get_input_details()[0]
    it.set_tensor(inp["index"], np.zeros(inp["shape"], inp["dtype"]))
    for _ in range(warmup):
        it.invoke()
    samples = []
    for _ in range(runs):
        t = time.thread_time_ns()
        it.invoke()
        samples.append((time.thread_time_ns() - t) / 1e6)
    return float(np.median(samples))


def leave_one_family_out(found: list[dict], precision: str, key: str) -> dict:
    """form -> {held-out family: median abs % error, "all": median over every held-out variant}."""
    from mobiledeploy.model.families import family
    from mobiledeploy.sweep import predictor

    mine = [r for r in found if r["precision"] == precision]
    feats = [predictor.features(r["model"]["alpha"], r["model"]["resolution"], precision, family(r["arch"]))
             for r in mine]
    y = [r[key] for r in mine]
    out = {}
    for form in COMPARED:
        errs_all, per = [], {}
        for held in ARCHS:
            train = [i for i, r in enumerate(mine) if r["arch"] != held]
            test = [i for i, r in enumerate(mine) if r["arch"] == held]
            model = predictor.fit_form([feats[i] for i in train], [y[i] for i in train], form)
            errs = predictor.holdout_errors(model, [feats[i] for i in test], [y[i] for i in test])
            per[held] = round(float(np.median(errs)), 1)
            errs_all += errs
        out[form] = {**per, "all": round(float(np.median(errs_all)), 1), "max": round(float(np.max(errs_all)), 1)}
    return out


def within_family(found: list[dict], precision: str, key: str) -> dict:
    """Leave-one-variant-out inside each family (what the sweep's predictor does), with and without MAC forms:
    {family: {"without": (form, median %), "with": (form, median %)}}."""
    from mobiledeploy.model.families import family
    from mobiledeploy.sweep import predictor

    out = {}
    for arch in ARCHS:
        mine = [r for r in found if r["precision"] == precision and r["arch"] == arch]
        feats = [predictor.features(r["model"]["alpha"], r["model"]["resolution"], precision, family(arch))
                 for r in mine]
        y = [r[key] for r in mine]
        best = {}
        for label, forms in (("without", predictor.FORMS), ("with", {**predictor.FORMS, **predictor.EXTRA_FORMS})):
            scored = []
            for form, names in forms.items():
                if len(y) >= len(names) + 2:
                    scored.append((float(np.median(predictor.loo_errors(feats, y, names))), form))
            err, form = min(scored)
            best[label] = {"form": form, "loo_median_abs_pct": round(err, 1)}
        out[arch] = best
    return out


def main():
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 30
    wall = sweep(runs)
    found = stored_rows()
    expected = len(ARCHS) * len(ALPHAS) * len(RESOLUTIONS) * len(PRECISIONS)
    if len(found) != expected:
        raise SystemExit(f"expected {expected} stored results, found {len(found)} in {HOME}")
    for r in found:
        r["cpu_ms"] = cpu_ms(r)
    lofo = {p: {k: leave_one_family_out(found, p, k) for k in KEYS} for p in PRECISIONS}
    within = {p: {k: within_family(found, p, k) for k in KEYS} for p in PRECISIONS}
    helps = {p: {k: lofo[p][k]["macs+mac"]["all"] < lofo[p][k]["macs"]["all"] for k in KEYS} for p in PRECISIONS}
    variants = [{"arch": r["arch"], "alpha": r["model"]["alpha"], "resolution": r["model"]["resolution"],
                 "precision": r["precision"], "median_ms": round(r["median_ms"], 3), "p90_ms": round(r["p90_ms"], 3),
                 "cpu_ms": round(r["cpu_ms"], 3)} for r in found]
    summary = "; ".join(
        f"{p} {k.removesuffix('_ms')}: macs {lofo[p][k]['macs']['all']}% vs macs+mac {lofo[p][k]['macs+mac']['all']}%"
        for p in PRECISIONS for k in ("median_ms", "cpu_ms"))
    report("predictor_families", {
        "store": str(HOME), "sweep_seconds": round(wall, 1), "runs": runs, "variants": variants,
        "leave_one_family_out_median_abs_pct": lofo, "within_family_loo": within, "mac_helps_across_families": helps,
        "load": [round(x, 2) for x in os.getloadavg()]},
        f"leave-one-family-out median abs error, {summary} (lower is better)")


if __name__ == "__main__":
    main()
