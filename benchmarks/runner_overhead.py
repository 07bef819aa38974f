"""The bench runner's overhead against a bare invoke() loop in one process, and the CV of repeated medians.

Issue 4 goal: overhead <= 1%. Both measure the same int8 file, 1 thread; the runner runs in a subprocess as
`bench --device local` does; the bare loop runs in this process with LiteRT directly.
"""
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import ROOT, report

sys.path.insert(0, str(ROOT))
from mobiledeploy.bench.stats import summarize  # noqa: E402
from mobiledeploy.bench.local import LocalTarget  # noqa: E402
from mobiledeploy.bench.settings import BenchSettings  # noqa: E402

RUNS, REPEATS = 300, 5


def bare_median(path: Path) -> float:
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path), num_threads=1)
    it.allocate_tensors()
    d = it.get_input_details()[0]
    x = np.random.default_rng(0).integers(-128, 128, d["shape"], dtype=np.int8)
    for _ in range(20):
        it.set_tensor(d["index"], x)
        it.invoke()
    times = []
    for _ in range(RUNS):
        t = time.perf_counter()
        it.set_tensor(d["index"], x)
        it.invoke()
        it.get_tensor(it.get_output_details()[0]["index"])
        times.append((time.perf_counter() - t) * 1e3)
    return float(np.median(times))


def main():
    from mobiledeploy.export.formats import select
    from mobiledeploy.export.pipeline import ExportOptions, export

    with tempfile.TemporaryDirectory() as tmp:
        result = export(ExportOptions(alpha=0.5, resolution=128, kinds=select("tflite", None, True),
                                      weights="none", out=tmp, quiet=True))
        path = Path(result.artifact) / "model_int8.tflite"
        runner, bare = [], []
        for _ in range(REPEATS):  # interleaved, so drift hits both alike
            raw = LocalTarget().run(path, BenchSettings(threads=1, runs=RUNS, warmup=20))
            runner.append(summarize(raw["latencies_ms"])["median_ms"])
            bare.append(bare_median(path))
    r, b = float(np.median(runner)), float(np.median(bare))
    cv = float(np.std(runner, ddof=1) / np.mean(runner))
    report("runner_overhead", {"runs": RUNS, "repeats": REPEATS, "runner_medians_ms": runner,
                               "bare_medians_ms": bare, "runner_ms": r, "bare_ms": b, "overhead": r / b - 1,
                               "cv_of_runner_medians": cv},
           f"runner {r:.4f} ms vs bare invoke {b:.4f} ms: overhead {100 * (r / b - 1):+.2f}% (goal <= 1%), "
           f"CV of {REPEATS} medians {100 * cv:.2f}%")


if __name__ == "__main__":
    main()
