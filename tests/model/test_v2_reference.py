"""Google's TF2 post-training quantized MobileNetV2 1.0-224 imported, checked against the file itself, then
exported (int8 calibrated on the shared photos) and evaluated. Needs ../shared/data; skips otherwise.

Accuracy bounds: 300 images, one image is 0.33 points. LiteRT's int8 kernels round differently per x86
CPU (for v1 our int8 file moved 3 images between an AVX-512 machine and a Xeon with VNNI), so each
bound is the issue's target plus that 3-image spread, and the measured value here is in each comment.
"""
import json

import numpy as np
import pytest

from conftest import SHARED, SAMPLE, assert_one_line_error, mobiledeploy, shared
from mobiledeploy.runtime.images import find_images, load_rgb
from mobiledeploy.runtime.preprocess import input_spec, to_float64
from mobiledeploy.runtime.session import Session

pytestmark = [pytest.mark.slow, pytest.mark.data]
V2_REFERENCE = SHARED / "reference" / "tf2_mobilenet_v2_1.0_224_ptq.tflite"
V1_REFERENCE = SHARED / "reference" / "mobilenet_v1_0.25_128_quant.tflite"
CPU_SPREAD = 3 / 300


@pytest.fixture(scope="module")
def sample():
    folder = shared("imagenet-sample")
    wnids = shared("imagenet_wnids.txt").read_text().split()
    paths = find_images(folder)
    x = np.concatenate([to_float64(load_rgb(p), input_spec(224)) for p in paths])
    return x, np.array([wnids.index(p.name.split("_")[0]) for p in paths])


def test_imported_float_model_matches_googles_file(sample):
    shared("reference", V2_REFERENCE.name)
    from mobiledeploy.model.families import v2_family
    from mobiledeploy.model.weights import build_with_weights

    imported = build_with_weights(1.0, 224, str(V2_REFERENCE), family=v2_family)
    assert imported.origin["kind"] == "tflite" and imported.origin["dropped_background"]
    assert len(imported.labels) == 1000
    x, y = sample
    ours = imported.model.predict(x.astype(np.float32), batch_size=50, verbose=0).argmax(1)
    ref = Session(V2_REFERENCE)
    raw = np.concatenate([ref.invoke(ref.prepare(xi[None])) for xi in x])
    raw = raw[:, raw.shape[1] - 1000:]
    theirs = raw.argmax(1)
    acc_ours, acc_theirs = (ours == y).mean(), (theirs == y).mean()
    print(f"imported float top-1 {acc_ours:.4f}, Google's ptq file {acc_theirs:.4f}, "
          f"agreement {(ours == theirs).mean():.4f}")
    # target: within 1 point. Measured here (Xeon VNNI): 0.8733 against 0.8667 (2 images), agreement 0.98
    assert abs(acc_ours - acc_theirs) <= 0.01 + CPU_SPREAD
    # a layer imported wrong agrees on far fewer than 98%
    assert (ours == theirs).mean() >= 0.98 - CPU_SPREAD - 1 / 300


@pytest.fixture(scope="module")
def v2_artifact(tmp_path_factory):
    shared("reference", V2_REFERENCE.name)
    out = tmp_path_factory.mktemp("v2")
    proc = mobiledeploy("export", "--arch", "mobilenet_v2", "--alpha", "1.0", "--res", "224", "--int8",
                        "--weights", V2_REFERENCE, "--calib", shared("imagenet-sample"), "--out", out, "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_int8_export_within_targets_of_float(v2_artifact):
    manifest = json.loads(open(v2_artifact["manifest"]).read())
    assert manifest["model"]["architecture"] == "mobilenet_v2" and manifest["name"] == "mobilenet_v2_1.0_224"
    proc = mobiledeploy("eval", v2_artifact["artifact"], "--data", SAMPLE, "--wnids", shared("imagenet_wnids.txt"),
                        "--json", check=True)
    res = {(r["format"], r["precision"]): r for r in json.loads(proc.stdout)["results"]}
    keras = next(r for r in json.loads(proc.stdout)["results"] if r["format"] == "keras")
    print({k: (v["top1"], v.get("agreement_with_float")) for k, v in res.items()})
    # measured here: float 0.873 (keras, fp32 tflite and onnx alike); int8 TFLite 0.873, agreement 0.977;
    # int8 ONNX 0.867, agreement 0.980. Targets: TFLite int8 within 1 point, ONNX int8 within 1.5 points
    assert res[("tflite", "fp32")]["top1"] == pytest.approx(keras["top1"], abs=1 / 300)
    assert abs(res[("tflite", "int8")]["top1"] - keras["top1"]) <= 0.01 + CPU_SPREAD
    assert abs(res[("onnx", "int8")]["top1"] - keras["top1"]) <= 0.015 + CPU_SPREAD
    # the residual additions quantized wrong would leave far less agreement than the ~97.7% measured
    assert res[("tflite", "int8")]["agreement_with_float"] >= 0.977 - CPU_SPREAD - 1 / 300
    assert res[("onnx", "int8")]["agreement_with_float"] >= 0.98 - CPU_SPREAD - 1 / 300


@pytest.mark.parametrize("arch,reference,holds", [
    ("mobilenet_v2", V1_REFERENCE, "MobileNet v1"), ("mobilenet_v1", V2_REFERENCE, "MobileNetV2")])
def test_file_of_the_other_family_says_what_it_holds(tmp_path, arch, reference, holds):
    shared("reference", reference.name)
    alpha, res = ("0.25", "128") if arch == "mobilenet_v2" else ("1.0", "224")
    proc = mobiledeploy("export", "--arch", arch, "--alpha", alpha, "--res", res, "--weights", reference,
                        "--out", tmp_path)
    assert_one_line_error(proc, holds, "--arch")
    assert not list(tmp_path.iterdir())


def test_googles_v2_qat_file_carries_its_ranges_over(tmp_path):
    """Google's MobileNetV2 1.0-224 QAT file with --calib-method imported: the ranges carry over (the import
    ended "attempt to get argmin of an empty sequence" on its all-zero weight channels), and the int8 file's top-1
    on the 300 photos stays within the CPU spread of its own fp32 file (measured here: 87.0% and 87.0%)."""
    qat = shared("reference", "mobilenet_v2_1.0_224_quant.tflite")
    out = tmp_path / "models"
    proc = mobiledeploy("export", "--arch", "mobilenet_v2", "--alpha", "1.0", "--res", "224", "--int8", "--formats",
                        "tflite", "--weights", qat, "--calib-method", "imported", "--calib", SAMPLE, "--calib-count",
                        "50", "--out", out, "--json")
    assert proc.returncode == 0, proc.stderr
    art = json.loads(proc.stdout)["artifact"]
    doc = json.loads(mobiledeploy("eval", art, "--data", SAMPLE, "--wnids", shared("imagenet_wnids.txt"),
                                  "--no-keras", "--json", check=True).stdout)
    top1 = {r["precision"]: r["top1"] for r in doc["results"]}
    assert top1["fp32"] >= 0.80 - CPU_SPREAD and top1["int8"] >= top1["fp32"] - 0.02 - CPU_SPREAD, top1
