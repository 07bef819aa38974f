"""Issue 13: latency cost of the int8 choices next to their accuracy, on Google's 0.25-128 import.

Exports the reference model (calibrated on ../shared/data/imagenet-sample) as plain min/max int8, with
imported QAT ranges, and with imported ranges plus N float-fallback layers; measures each int8 TFLite
file with the runner of `mobiledeploy bench --device local` (1 thread, interleaved so machine drift
hits every file alike) and evaluates each on the same 300 images. Goal: the imported-range file (no
fallback) within 5% of plain int8. Accuracy here is optimistic: calibration and evaluation share images.
"""
import sys
import tempfile
from pathlib import Path

import numpy as np

from _common import ROOT, report

sys.path.insert(0, str(ROOT))
from mobiledeploy.bench.stats import summarize  # noqa: E402
from mobiledeploy.bench.targets import LocalTarget  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
REFERENCE = SHARED / "reference" / "mobilenet_v1_0.25_128_quant.tflite"
SAMPLE = SHARED / "imagenet-sample"
VARIANTS = {"minmax": ("minmax", 0), "imported": ("imported", 0), "imported_fb3": ("imported", 3),
            "imported_fb6": ("imported", 6)}
RUNS, REPEATS = 300, 7


def main():
    if not REFERENCE.exists() or not SAMPLE.exists():
        raise SystemExit(f"needs {REFERENCE} and {SAMPLE} (../shared/data)")
    from mobiledeploy.artifact.bundle import Artifact
    from mobiledeploy.eval import evaluate
    from mobiledeploy.export.formats import select
    from mobiledeploy.export.pipeline import ExportOptions, export

    wnids = (SHARED / "imagenet_wnids.txt").read_text().split()
    with tempfile.TemporaryDirectory() as tmp:
        files, accuracy, float_layers = {}, {}, {}
        for name, (method, fallback) in VARIANTS.items():
            result = export(ExportOptions(alpha=0.25, resolution=128, kinds=select("tflite", None, True),
                                          weights=str(REFERENCE), calib=str(SAMPLE), calib_method=method,
                                          fallback_float=fallback, out=str(Path(tmp) / name), quiet=True))
            art = Artifact.load(result["artifact"])
            files[name] = art.folder / "model_int8.tflite"
            ev = evaluate(art, SAMPLE, wnids, ["model_fp32.tflite", "model_int8.tflite"], keras=False)
            rows = {r["file"]: r for r in ev["results"]}
            int8 = rows["model_int8.tflite"]
            accuracy[name] = {"top1": int8["top1"], "float_top1": rows["model_fp32.tflite"]["top1"],
                              "agreement_strict": int8["agreement_with_float"],
                              "agreement_tie_aware": int8["agreement_with_float_tie_aware"]}
            float_layers[name] = art.manifest.calibration["tflite_int8"]["float_layers"]
        target = LocalTarget()
        medians = {name: [] for name in files}
        for _ in range(REPEATS):
            for name, path in files.items():
                raw = target.run(path, {"threads": 1, "runs": RUNS, "warmup": 30})
                medians[name].append(summarize(raw["latencies_ms"])["median_ms"])
    base = float(np.median(medians["minmax"]))
    rows = {name: {"median_ms": float(np.median(v)), "medians_ms": v, "ratio_to_minmax": float(np.median(v)) / base,
                   "float_layers": float_layers[name], **accuracy[name]} for name, v in medians.items()}
    within = rows["imported"]["ratio_to_minmax"] <= 1.05
    summary = "; ".join(f"{k} {v['median_ms']:.3f} ms (x{v['ratio_to_minmax']:.3f}) top-1 {v['top1']:.1%} "
                        f"agree {v['agreement_strict']:.1%}/{v['agreement_tie_aware']:.1%}" for k, v in rows.items())
    report("quant_latency", {"threads": 1, "runs": RUNS, "repeats": REPEATS, "files": rows,
                             "imported_within_5pct_of_minmax": within}, summary)


if __name__ == "__main__":
    main()
