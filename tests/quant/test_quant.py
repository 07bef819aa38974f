"""Issue 13: quant-report, TFLite calibration methods, imported QAT ranges, float fallback.

Real converter, LiteRT and onnxruntime throughout. The tests on Google's 0.25-128 quant model need
../shared/data and skip with the reason otherwise; the rest use random weights (no download).
"""
import json
import math
from pathlib import Path

import numpy as np
import pytest

from conftest import REFERENCE, mobiledeploy, shared
from mobiledeploy.artifact.bundle import Artifact
from mobiledeploy.eval import evaluate
from mobiledeploy.export import quant_debug, verify
from mobiledeploy.export.tflite_ranges import imported_ranges, quantizable_layers
from mobiledeploy.litert import open_interpreter

pytestmark = pytest.mark.slow  # every test here converts with the TFLite quantizer


def _export(out: Path, *extra, calib=True) -> Path:
    args = ["export", "--alpha", "0.25", "--res", "128", "--int8", "--weights", REFERENCE, "--out", out, "--json",
            "--formats", "tflite"]
    if calib:
        args += ["--calib", shared("imagenet-sample")]
    proc = mobiledeploy(*args, *extra, check=True)
    return Path(json.loads(proc.stdout)["artifact"])


def test_errors_are_pure_and_exact():
    ref = np.array([[1.0, 2.0, 3.0], [0.5, 0.0, 1.0]])
    same = quant_debug.errors(ref, ref, 0.1)
    assert same["rmse"] == 0.0 and same["sqnr_db"] == math.inf and same["cosine"] == pytest.approx(1.0)
    noisy = ref + 0.1
    m = quant_debug.errors(ref, noisy, 0.1)
    assert m["rmse_scale"] == pytest.approx(1.0)
    assert m["sqnr_db"] == pytest.approx(10 * np.log10((ref ** 2).sum() / (6 * 0.01)))


def test_tie_aware_agreement_counts_ties_strict_does_not():
    reference = np.array([[0.1, 0.5, 0.4], [0.7, 0.2, 0.1]])
    scores = np.array([[0.3, 0.3, 0.1], [0.2, 0.6, 0.2]])  # row 0: a tie that includes the float top-1
    assert verify.agreement(reference, scores) == {"strict": 0.0, "tie_aware": 0.5}


def test_report_on_reference_artifact(reference_artifact, tmp_path):
    png = tmp_path / "err.png"
    proc = mobiledeploy("quant-report", reference_artifact, "--data", shared("imagenet-sample"), "--count", "20",
                        "--json", "--plot", png, check=True)
    doc = json.loads(proc.stdout)
    assert doc["formats"] == ["tflite", "onnx"] and doc["inputs"]["count"] == 20
    tflite_rows = [r for r in doc["layers"] if r.get("tflite")]
    # one row per quantized layer: 27 convolutions, the pool, the classifier and softmax
    assert len(tflite_rows) == quantizable_layers()
    assert [r["layer"] for r in tflite_rows][:3] == ["conv1", "conv_dw_1", "conv_pw_1"]
    for row in tflite_rows:
        m = row["tflite"]
        assert m["quantized"] and m["scale"] > 0
        assert all(math.isfinite(m[k]) for k in ("rmse_scale", "sqnr_db", "cosine")), row
        assert m["rmse_scale"] > 0 and 0.5 < m["cosine"] <= 1.0 + 1e-9
    onnx = {r["layer"]: r["onnx"] for r in doc["layers"] if r.get("onnx")}
    assert {"conv1", "conv_pw_13", "conv_preds"} <= set(onnx)
    # error accumulates with depth: the first layer is far cleaner than the classifier
    assert tflite_rows[0]["tflite"]["sqnr_db"] > tflite_rows[-2]["tflite"]["sqnr_db"] + 10
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob(".*tmp*"))


def test_table_output_names_every_layer(reference_artifact):
    proc = mobiledeploy("quant-report", reference_artifact, "--data", shared("images"), check=True)
    for layer in ("conv1", "conv_dw_13", "conv_preds", "predictions", "SQNR dB"):
        assert layer in proc.stdout


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    return _export(tmp_path_factory.mktemp("imported"), "--calib-method", "imported")


def test_imported_ranges_recorded_and_weights_on_trained_grid(imported):
    shared("reference", REFERENCE.name)
    block = json.loads((imported / "manifest.json").read_text())["calibration"]
    assert block["method"] == "imported" and block["tflite_int8"]["method"] == "imported"
    assert "conv_preds" in block["tflite_int8"]["ranges_changed"]  # the QAT logits range differs from min/max
    _, grids = imported_ranges(REFERENCE)
    it = open_interpreter(imported / "model_int8.tflite", delegates=False)
    details = {t["index"]: t for t in it.get_tensor_details()}
    conv = next(op for op in it._get_ops_details() if op["op_name"] == "CONV_2D")
    scales = details[conv["inputs"][1]]["quantization_parameters"]["scales"]
    ratio = scales / grids["conv1"].step
    fits = np.abs(grids["conv1"].integers.reshape(8, -1)).max(1) <= 127
    assert len(scales) == 8 and fits.sum() >= 6
    # per channel: a channel whose trained integers fit in int8 keeps the trained step exactly; a wider one
    # (Google's conv1 has one) takes a coarser step
    assert np.allclose(ratio[fits], 1, atol=1e-4) and (ratio[~fits] > 1).all()


def test_imported_ranges_agree_better_than_plain_minmax(imported, reference_artifact):
    sample = shared("imagenet-sample")
    wnids = shared("imagenet_wnids.txt").read_text().split()
    rows = {}
    for name, folder in (("imported", imported), ("minmax", reference_artifact)):
        result = evaluate(Artifact.load(folder), sample, wnids, ["model_fp32.tflite", "model_int8.tflite"], False)
        rows[name] = next(r for r in result["results"] if r["file"] == "model_int8.tflite")
    print({k: (v["top1"], v["agreement_with_float"], v["agreement_with_float_tie_aware"]) for k, v in rows.items()})
    # measured 94.3% vs 86.3% tie-aware on the 300 images (24 images apart); 3 points (9 images) leaves room
    # for int8 kernels that round differently on other x86 CPUs
    assert rows["imported"]["agreement_with_float_tie_aware"] >= rows["minmax"]["agreement_with_float_tie_aware"] + 0.03
    for row in rows.values():
        assert row["agreement_with_float_tie_aware"] >= row["agreement_with_float"]


def _int8_agreement(folder: Path) -> dict:
    sample = shared("imagenet-sample")
    wnids = shared("imagenet_wnids.txt").read_text().split()
    result = evaluate(Artifact.load(folder), sample, wnids, ["model_fp32.tflite", "model_int8.tflite"], False)
    return next(r for r in result["results"] if r["file"] == "model_int8.tflite")


def _float_ops(path: Path) -> tuple[set, list]:
    """(layers computed in float, op names in order) of a TFLite file."""
    it = open_interpreter(path, delegates=False)
    details = {t["index"]: t for t in it.get_tensor_details()}
    ops = it._get_ops_details()
    floats = {quant_debug.layer_name(details[op["outputs"][0]]["name"], op["op_name"]) for op in ops
              if op["op_name"] in quant_debug.COMPUTE_OPS and details[op["outputs"][0]]["dtype"] == np.float32}
    return floats, [op["op_name"] for op in ops]


def test_fallback_float_runs_remove_rounding_and_raise_agreement(tmp_path, imported):
    art = _export(tmp_path, "--calib-method", "imported", "--io", "float", "--fallback-float", "12",
                  "--bias-correction")
    manifest = json.loads((art / "manifest.json").read_text())
    block = manifest["calibration"]["tflite_int8"]
    layers = block["float_layers"]
    assert len(layers) == 12
    floats, ops = _float_ops(art / "model_int8.tflite")
    assert floats == set(layers)
    # the logits' rounding was measured as most of the output noise (about 2/3 on this machine): with a float
    # output the classifier and softmax stay float, and nothing rounds the logits between them
    assert {"conv_preds", "predictions"} <= set(layers)
    assert block["noise_shares"]["conv_preds"] == max(block["noise_shares"].values())
    assert "QUANTIZE" not in ops[len(ops) - ops[::-1].index("CONV_2D"):]
    assert block["bias_corrected"] and not set(block["bias_corrected"]) & set(layers)
    entry = next(f for f in manifest["files"] if f["name"] == "model_int8.tflite")
    assert entry["verification"]["n"] > 0
    fallback, plain = _int8_agreement(art), _int8_agreement(imported)
    print("strict agreement: fallback 12", fallback["agreement_with_float"], "imported", plain["agreement_with_float"])
    # measured 97.0% vs 90.7% strict (19 of 300 images, two-fold held out, benchmarks/quant_latency.py); 3 points
    # (9 images) leaves room for int8 kernels that round differently on other x86 CPUs
    assert fallback["agreement_with_float"] >= plain["agreement_with_float"] + 0.03


def test_bias_correction_changes_only_biases_and_raises_agreement(tmp_path, reference_artifact):
    art = _export(tmp_path, "--bias-correction")
    block = json.loads((art / "manifest.json").read_text())["calibration"]["tflite_int8"]
    assert block["method"] == "minmax" and len(block["bias_corrected"]) == 28  # 27 convolutions + classifier
    plain, corrected = (open_interpreter(f / "model_int8.tflite", delegates=False) for f in (reference_artifact, art))
    assert [op["op_name"] for op in plain._get_ops_details()] == [op["op_name"] for op in corrected._get_ops_details()]
    weights_same, biases_changed = True, 0
    for op, op2 in zip(plain._get_ops_details(), corrected._get_ops_details()):
        if op["op_name"] not in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            continue
        w, b = op["inputs"][1], op["inputs"][2]
        weights_same &= np.array_equal(plain.get_tensor(w), corrected.get_tensor(op2["inputs"][1]))
        for index, index2 in ((w, op2["inputs"][1]), (b, op2["inputs"][2]), (op["outputs"][0], op2["outputs"][0])):
            qa = plain._get_tensor_details(index, 0)["quantization_parameters"]["scales"]
            qb = corrected._get_tensor_details(index2, 0)["quantization_parameters"]["scales"]
            assert np.array_equal(qa, qb), op
        biases_changed += not np.array_equal(plain.get_tensor(b), corrected.get_tensor(op2["inputs"][2]))
    # same ops, same scales, same weights: only the int32 biases moved
    assert weights_same and biases_changed >= 20
    fixed, before = _int8_agreement(art), _int8_agreement(reference_artifact)
    print("strict agreement: bias-corrected", fixed["agreement_with_float"], "plain", before["agreement_with_float"])
    # measured 90.7% vs 83.0% strict (23 of 300 images, two-fold held out); 3 points (9 images) of room for
    # CPUs whose int8 kernels round differently
    assert fixed["agreement_with_float"] >= before["agreement_with_float"] + 0.03


@pytest.mark.parametrize("method", ["percentile", "entropy"])
def test_tflite_calibration_methods_recorded(tmp_path, method):
    proc = mobiledeploy("export", "--alpha", "0.25", "--res", "96", "--int8", "--formats", "tflite", "--weights",
                        "none", "--calib-method", method, "--out", tmp_path, "--json", check=True)
    result = json.loads(proc.stdout)
    block = json.loads((Path(result["artifact"]) / "manifest.json").read_text())["calibration"]
    assert block["tflite_int8"]["method"] == method
    for lo, hi in block["tflite_int8"]["ranges_changed"].values():
        assert lo <= 0 <= hi
