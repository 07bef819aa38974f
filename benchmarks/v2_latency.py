"""Our int8 MobileNetV2 1.0-224 against Google's TF2 post-training quantized file, same weights.

Ours is exported from Google's `tf2_mobilenet_v2_1.0_224_ptq.tflite` (weights imported, int8 calibrated
on the shared photos), so the two files compute the same network; the question is whether our graph
runs as fast. Both run through mobiledeploy's on-device runner (a subprocess, as `bench --device local`),
interleaved repeat by repeat so drift of this shared machine hits both alike. Goal (issue 19): the ratio
ours/Google <= 1.0 at 1 thread; reported at 2 threads. Each repeat gives one ratio of medians: the
summary gives their median and range (the interval a user can act on), and the machine's load.

Needs ../shared/data (the reference model and the 300 photos); prints why and exits 0 without it.
"""
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from _common import ROOT, cli, report

sys.path.insert(0, str(ROOT))
from mobiledeploy.bench.local import LocalTarget  # noqa: E402
from mobiledeploy.bench.settings import BenchSettings  # noqa: E402
from mobiledeploy.bench.stats import summarize  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
GOOGLE = DATA / "reference" / "tf2_mobilenet_v2_1.0_224_ptq.tflite"
RUNS, REPEATS = 60, int(os.environ.get("REPEATS", 7))


def main():
    if not GOOGLE.is_file():
        print(f"v2_latency: skipped, {GOOGLE} is absent (needs ../shared/data)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        proc, wall = cli("export", "--arch", "mobilenet_v2", "--alpha", "1.0", "--res", "224", "--int8",
                         "--formats", "tflite", "--weights", GOOGLE, "--calib", DATA / "imagenet-sample",
                         "--out", tmp, "--json")
        art = Path(json.loads(proc.stdout)["artifact"])
        files = {"ours_int8": art / "model_int8.tflite", "google_ptq": GOOGLE}
        target = LocalTarget()
        medians = {(name, t): [] for t in (1, 2) for name in files}
        loads = []
        for _ in range(REPEATS):  # interleaved
            loads.append(os.getloadavg()[0])
            for threads in (1, 2):
                for name, path in files.items():
                    raw = target.run(path, BenchSettings(threads=threads, runs=RUNS, warmup=10))
                    medians[(name, threads)].append(summarize(raw["latencies_ms"])["median_ms"])
    comparison = {}
    for threads in (1, 2):
        ours, google = np.array(medians[("ours_int8", threads)]), np.array(medians[("google_ptq", threads)])
        ratios = ours / google
        comparison[f"t{threads}"] = {"ours_median_ms": float(np.median(ours)), "google_median_ms": float(np.median(google)),
                                     "ratio_median": float(np.median(ratios)),
                                     "ratio_range": [float(ratios.min()), float(ratios.max())],
                                     "ratios": ratios.round(4).tolist(), "ours_ms": ours.tolist(),
                                     "google_ms": google.tolist()}
    t1 = comparison["t1"]
    summary = (", ".join(f"{k}: ours {v['ours_median_ms']:.2f} ms vs Google {v['google_median_ms']:.2f} ms, ratio "
                         f"{v['ratio_median']:.3f} [{v['ratio_range'][0]:.3f}, {v['ratio_range'][1]:.3f}]"
                         for k, v in comparison.items())
               + f"; goal t1 ratio <= 1.0: {'met' if t1['ratio_median'] <= 1.0 else 'NOT met'}"
               + f"; load average {min(loads):.2f}-{max(loads):.2f} on {os.cpu_count()} cores")
    report("v2_latency", {"runs": RUNS, "repeats": REPEATS, "export_s": wall, "load_average_1min": loads,
                          "comparison": comparison}, summary)


if __name__ == "__main__":
    main()
