"""Latency of our TFLite files against a plain `TFLiteConverter.from_keras_model` conversion.

Same weights, same runner (mobiledeploy's on-device runner in a subprocess, as `bench --device local`).
The plain baseline is what a user gets from keras.applications.MobileNet (batch dimension None) and the
converter's defaults (fp32), or the converter's documented int8 recipe (int8). Issue 3: ours must not be
slower. Measured with 1 and 2 threads.
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

ALPHA, RES, RUNS, REPEATS = 0.5, 128, 200, 7


def plain_files(model, folder: Path):
    """fp32 and int8 files made the plain way from a dynamic-batch Keras model with the same weights."""
    from mobiledeploy.quiet import import_tf

    tf = import_tf()
    import keras

    plain = keras.applications.MobileNet(input_shape=(RES, RES, 3), alpha=ALPHA, weights=None)
    for layer in plain.layers:
        if layer.weights:
            layer.set_weights(model.get_layer(layer.name).get_weights())
    conv = tf.lite.TFLiteConverter.from_keras_model(plain)
    (folder / "plain_fp32.tflite").write_bytes(conv.convert())
    rng = np.random.default_rng(0)
    conv = tf.lite.TFLiteConverter.from_keras_model(plain)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([rng.uniform(-1, 1, (1, RES, RES, 3)).astype(np.float32)] for _ in range(32))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    (folder / "plain_int8.tflite").write_bytes(conv.convert())


def main():
    from mobiledeploy.export.formats import select
    from mobiledeploy.export.pipeline import ExportOptions, export
    from mobiledeploy.model.weights import build_with_weights

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        result = export(ExportOptions(alpha=ALPHA, resolution=RES, kinds=select("tflite", None, True),
                                      weights="none", out=str(tmp), quiet=True))
        art = Path(result.artifact)
        model = build_with_weights(ALPHA, RES, str(art / "model_fp32.tflite")).model
        plain_files(model, tmp)
        files = {"ours_fp32": art / "model_fp32.tflite", "ours_int8": art / "model_int8.tflite",
                 "plain_fp32": tmp / "plain_fp32.tflite", "plain_int8": tmp / "plain_int8.tflite"}
        target = LocalTarget()
        medians = {f"{name}_t{t}": [] for t in (1, 2) for name in files}
        xnnpack = {}
        for _ in range(REPEATS):  # interleaved: machine drift hits every file alike
            for threads in (1, 2):
                for name, path in files.items():
                    raw = target.run(path, BenchSettings(threads=threads, runs=RUNS, warmup=20))
                    medians[f"{name}_t{threads}"].append(summarize(raw["latencies_ms"])["median_ms"])
                    xnnpack[name] = raw["xnnpack"]
        rows = {k: {"median_ms": float(np.median(v)), "medians_ms": v, "xnnpack": xnnpack[k.rsplit("_t", 1)[0]]}
                for k, v in medians.items()}
    verdicts = {}
    for threads in (1, 2):
        for prec in ("fp32", "int8"):
            ours, plain = rows[f"ours_{prec}_t{threads}"]["median_ms"], rows[f"plain_{prec}_t{threads}"]["median_ms"]
            verdicts[f"{prec}_t{threads}"] = {"ours_ms": ours, "plain_ms": plain, "ratio": ours / plain,
                                              "not_slower": ours <= plain * 1.02,
                                              "spread_ms": [min(rows[f"ours_{prec}_t{threads}"]["medians_ms"]), max(rows[f"ours_{prec}_t{threads}"]["medians_ms"])]}
    summary = ", ".join(f"{k} ours {v['ours_ms']:.3f} ms vs plain {v['plain_ms']:.3f} ms" for k, v in verdicts.items())
    report("tflite_latency", {"alpha": ALPHA, "resolution": RES, "runs": RUNS, "repeats": REPEATS,
                              "files": rows, "comparison": verdicts}, summary)


if __name__ == "__main__":
    main()
