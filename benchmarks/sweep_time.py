"""Wall time of the whole sweep: 16 variants (alpha 0.25-1.0 x res 128-224) x {fp32, int8} TFLite on
--device local, data-free, 50 runs each; then the cached re-run's time until its first bench starts.

Goals (issue 9): whole sweep <= 300 s on a 2-core machine; cached re-run <= 10 s before the first bench.
The machine's load (other jobs) is reported with the numbers: on a shared machine they are pessimistic.
Results stay in $TMPDIR/mobiledeploy-sweep-bench/ for benchmarks/predictor_error.py.
Usage: python benchmarks/sweep_time.py [--keep]   (--keep: reuse artifacts from a previous run)
"""
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from _common import cli, report

WORK = Path(tempfile.gettempdir()) / "mobiledeploy-sweep-bench"
SWEEP = ["sweep", "--device", "local", "--runs", "50", "--json"]


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def timed(home: Path, out: Path) -> dict:
    env = {"MOBILEDEPLOY_HOME": str(home), "KERAS_HOME": str(WORK / "keras"),
           "MOBILEDEPLOY_WEIGHTS_URL": "http://127.0.0.1:9/"}
    before, started = load(), time.time()
    proc, wall = cli(*SWEEP, "--out", out, env=env)
    run = json.loads(proc.stdout)["run"][0]
    return {"wall_s": round(wall, 1), "to_first_bench_s": round(run["first_bench_epoch"] - started, 2),
            "exported": run["exported"], "cached": run["cached"], "benched": run["benched"],
            "export_s": run["export_seconds"], "bench_s": run["bench_seconds"], "load_before": before,
            "load_after": load()}


def main():
    if "--keep" not in sys.argv:
        shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True, exist_ok=True)
    out = WORK / "models"
    full = timed(WORK / "home", out)
    # same artifacts, a fresh results store: everything is benched again, nothing exported
    cached = timed(WORK / "home-rerun", out)
    summary = (f"full sweep {full['wall_s']:.0f} s (goal 300; {full['exported']} exported in {full['export_s']:.0f} s, "
               f"{full['benched']} benched in {full['bench_s']:.0f} s), cached re-run {cached['to_first_bench_s']:.1f} s "
               f"to first bench (goal 10); load {full['load_before'][0]}-{full['load_after'][0]}")
    report("sweep_time", {"command": " ".join(["mobiledeploy", *SWEEP]), "full": full, "cached_rerun": cached,
                          "meets_goal": full["wall_s"] <= 300 and cached["to_first_bench_s"] <= 10,
                          "results_home": str(WORK / "home")}, summary)


if __name__ == "__main__":
    main()
