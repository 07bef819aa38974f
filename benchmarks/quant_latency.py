"""Issue 13: accuracy and latency of the int8 choices on Google's 0.25-128 import, on images never calibrated on.

Every variant is exported twice (two-fold): calibrated on one half of ../shared/data/imagenet-sample (the
images whose sorted position is even, then odd), evaluated on the other half, so each of the 300 images
is evaluated by a file that never saw it (calibration, bias correction and the fallback choice all use
the calibration half). Reported per variant: top-1, and top-1 agreement with the float model (strict /
tie-aware) over the 300; Google's own quant model and the float model on the same images for reference.

Latency: the first fold's int8 TFLite files measured with the runner of `mobiledeploy bench --device
local` (1 thread), REPEATS rounds, every round running each file once (200 runs after 30 warm-up), in
alternating order so drift hits every file alike. A file's ratio to plain min/max is the median over
rounds of (its round median / min/max's round median in the same round): on a shared machine round
medians range over +-30% with the other load, and each runner process lands in a fast or a slow mode,
so unpaired medians or minima mislead. A byte copy of the min/max file is measured as a control: its
ratio and the ratios' interquartile range show the resolution of the measurement. Usage: python benchmarks/quant_latency.py [VARIANT ...] (default: all).
"""
import sys
import tempfile
from pathlib import Path

import numpy as np

from _common import ROOT, report

sys.path.insert(0, str(ROOT))
from mobiledeploy.bench.stats import summarize  # noqa: E402
from mobiledeploy.bench.local import LocalTarget  # noqa: E402
from mobiledeploy.bench.settings import BenchSettings  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
REFERENCE = SHARED / "reference" / "mobilenet_v1_0.25_128_quant.tflite"
SAMPLE = SHARED / "imagenet-sample"
# name: (calibration method, --fallback-float N, --bias-correction, --io)
VARIANTS = {
    "minmax": ("minmax", 0, False, "int8"),
    "percentile": ("percentile", 0, False, "int8"),
    "minmax_bc": ("minmax", 0, True, "int8"),
    "imported": ("imported", 0, False, "int8"),
    "imported_bc": ("imported", 0, True, "int8"),
    "imported_bc_fb2": ("imported", 2, True, "float"),
    "imported_bc_fb5": ("imported", 5, True, "float"),
    "imported_bc_fb8": ("imported", 8, True, "float"),
    "imported_bc_fb12": ("imported", 12, True, "float"),
}
RUNS, WARMUP, REPEATS = 200, 30, 25
CONTROL = "minmax_copy"


def halves(tmp: Path) -> list[tuple[Path, Path]]:
    """[(calibration folder, evaluation folder)] for the two folds: symlinks to the even / odd images."""
    images = sorted(p for p in SAMPLE.iterdir() if p.is_file())
    folders = []
    for k in (0, 1):
        folder = tmp / f"half{k}"
        folder.mkdir()
        for p in images[k::2]:
            (folder / p.name).symlink_to(p)
        folders.append(folder)
    return [(folders[0], folders[1]), (folders[1], folders[0])]


def main():
    only = set(sys.argv[1:]) or set(VARIANTS)
    unknown = only - set(VARIANTS)
    if unknown:
        raise SystemExit(f"unknown variant(s) {sorted(unknown)}: choose from {', '.join(VARIANTS)}")
    if not REFERENCE.exists() or not SAMPLE.exists():
        raise SystemExit(f"needs {REFERENCE} and {SAMPLE} (../shared/data)")
    from mobiledeploy.artifact.bundle import Artifact
    from mobiledeploy.export.formats import select
    from mobiledeploy.export.pipeline import ExportOptions, export
    from mobiledeploy.export.verify import agreement

    names = ["minmax", *[n for n in VARIANTS if n in only and n != "minmax"]]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folds = halves(tmp)
        files, scores, truth, float_layers, google = {}, {n: [] for n in names}, [], {}, []
        reference = []
        for k, (calib, held) in enumerate(folds):
            for name in names:
                method, fallback, bias, io = VARIANTS[name]
                result = export(ExportOptions(alpha=0.25, resolution=128, kinds=select("tflite", None, True),
                                              weights=str(REFERENCE), calib=str(calib), calib_method=method,
                                              fallback_float=fallback, bias_correction=bias, io=io,
                                              out=str(tmp / f"{name}_{k}"), quiet=True))
                art = Artifact.load(result.artifact)
                inputs, y = _held_inputs(held, art)
                scores[name].append(_scores(art.folder / "model_int8.tflite", inputs))
                if name == "minmax":
                    reference.append(_scores(art.folder / "model_fp32.tflite", inputs))
                    truth.append(y)
                    google.append(_scores(REFERENCE, inputs)[:, 1:])  # Google's background output dropped
                if k == 0:
                    files[name] = art.folder / "model_int8.tflite"
                    float_layers[name] = art.manifest.calibration["tflite_int8"]["float_layers"]
        ref, y = np.concatenate(reference), np.concatenate(truth)
        accuracy = {"float": {"top1": float((ref.argmax(1) == y).mean())}}
        g = np.concatenate(google)
        accuracy["google_quant"] = {"top1": float((g.argmax(1) == y).mean()), **_agree(agreement, ref, g)}
        for name in names:
            s = np.concatenate(scores[name])
            accuracy[name] = {"top1": float((s.argmax(1) == y).mean()), **_agree(agreement, ref, s)}
        control = tmp / "control.tflite"
        control.write_bytes(files["minmax"].read_bytes())
        files[CONTROL] = control
        medians = _latency(files)
    base = np.asarray(medians["minmax"])
    rows = {}
    for name, v in medians.items():
        v = np.asarray(v)
        rows[name] = {"median_ms": float(np.median(v)), "best_ms": float(v.min()),
                      "ratio_to_minmax": float(np.median(v / base)),
                      "ratio_iqr": [round(float(q), 4) for q in np.percentile(v / base, [25, 75])],
                      "round_medians_ms": [round(float(x), 4) for x in v], "float_layers": float_layers.get(name, []),
                      **accuracy.get(name if name != CONTROL else "minmax", {})}
    summary = (f"n={len(y)} held-out, float top-1 {accuracy['float']['top1']:.1%}, Google quant "
               f"{accuracy['google_quant']['top1']:.1%} ({accuracy['google_quant']['agreement_strict']:.1%}); "
               + "; ".join(f"{k} {v['median_ms']:.3f} ms x{v['ratio_to_minmax']:.3f}"
                           + (f" top-1 {v['top1']:.1%} agree {v['agreement_strict']:.1%}/{v['agreement_tie_aware']:.1%}"
                              if k != CONTROL else " (control copy)")
                           for k, v in rows.items()))
    report("quant_latency", {"threads": 1, "runs": RUNS, "repeats": REPEATS, "n_eval": int(len(y)),
                             "float": accuracy["float"], "google_quant": accuracy["google_quant"], "files": rows},
           summary)


def _agree(agreement, ref, scores) -> dict:
    a = agreement(ref, scores)
    return {"agreement_strict": a["strict"], "agreement_tie_aware": a["tie_aware"]}


def _held_inputs(held: Path, art) -> tuple[np.ndarray, np.ndarray]:
    """The artifact's inputs for the held-out images and their classes (eval's reading and labelling)."""
    from mobiledeploy.eval import _read_inputs, labelled_images

    wnids = (SHARED / "imagenet_wnids.txt").read_text().split()
    pairs = labelled_images(held, art.labels, wnids, int(art.manifest.model.background))
    return _read_inputs(pairs, art.manifest.input, held)


def _scores(path: Path, inputs: np.ndarray) -> np.ndarray:
    from mobiledeploy.runtime.session import Session

    session = Session(path)
    return np.concatenate([session.run(x[None]) for x in inputs])


def _latency(files: dict) -> dict:
    target = LocalTarget()
    medians = {name: [] for name in files}
    items = list(files.items())
    for r in range(REPEATS):
        for name, path in (items if r % 2 == 0 else items[::-1]):
            raw = target.run(path, BenchSettings(threads=1, runs=RUNS, warmup=WARMUP))
            medians[name].append(summarize(raw["latencies_ms"])["median_ms"])
    return medians


if __name__ == "__main__":
    main()
