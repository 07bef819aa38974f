"""Issue-3 acceptance on real data: Google's 0.25-128 weights, calibrated on 300 ImageNet photos.

Needs ../shared/data; skips with the reason otherwise. Prints the measured numbers (pytest -s).
"""
import json
from pathlib import Path

import numpy as np
import pytest

from conftest import REFERENCE, mobiledeploy, shared
from mobiledeploy.artifact.bundle import Artifact
from mobiledeploy.eval import evaluate
from mobiledeploy.runtime.images import find_images, load_rgb
from mobiledeploy.runtime.preprocess import to_float64
from mobiledeploy.runtime.session import Session

pytestmark = [pytest.mark.slow, pytest.mark.data]


def export(out: Path, *extra) -> Artifact:
    proc = mobiledeploy("export", "--alpha", "0.25", "--res", "128", "--int8", "--weights", REFERENCE,
                        "--out", out, "--json", *extra, check=True)
    return Artifact.load(json.loads(proc.stdout)["artifact"])


@pytest.fixture(scope="module")
def results(tmp_path_factory, reference_artifact):
    sample = shared("imagenet-sample")
    wnids = shared("imagenet_wnids.txt").read_text().split()
    calibrated = Artifact.load(reference_artifact)
    datafree = export(tmp_path_factory.mktemp("datafree"), "--formats", "tflite")
    return {
        "calibrated": calibrated,
        "eval": evaluate(calibrated, sample, wnids),
        "datafree": evaluate(datafree, sample, wnids, files=["model_int8.tflite"], keras=False),
        "wnids": wnids,
    }


# How far int8 figures move between x86 CPUs: int8 kernels (XNNPACK, onnxruntime's MLAS) pick their
# requantization and accumulation paths per instruction set. Measured on these 300 images, our calibrated
# int8 TFLite file scored 45.67% on a 2-core AVX-512 machine and 44.67% on an Intel Xeon with AVX-512 VNNI
# (3 images apart), float 46.33% on both. One image is 0.33 points, so every bound below is a whole number
# of images: the worst value measured on either machine plus that 3-image spread, plus one image.
# Float-only figures do not move between CPUs and keep their tight bounds (test_float_files_match_keras).
CPU_SPREAD_IMAGES = 3


def images(n: int) -> float:
    """n images of the 300, as a fraction."""
    return n / 300


def top1(result, name):
    return next(r["top1"] for r in result["results"] if r["file"] == name)


def test_int8_tflite_close_to_float_and_reference(results):
    sample = shared("imagenet-sample")
    ref = Session(REFERENCE)
    spec = results["calibrated"].manifest.input
    paths = find_images(sample)
    truth = np.array([results["wnids"].index(p.name.split("_")[0]) for p in paths])
    ref_top1 = np.array([ref.run(to_float64(load_rgb(p), spec))[0, 1:].argmax() for p in paths])
    reference = float((ref_top1 == truth).mean())
    keras, int8 = top1(results["eval"], "keras"), top1(results["eval"], "model_int8.tflite")
    print(f"\nkeras float {keras:.4f}  int8 tflite {int8:.4f}  reference quant {reference:.4f}")
    # int8 below float: worst measured 5 images (Xeon VNNI) -> 5 + 3 + 1 = 9 images (3 points); a broken
    # calibration loses tens of points
    assert abs(int8 - keras) <= images(5 + CPU_SPREAD_IMAGES + 1)
    # ours against Google's own quantized model, both int8 on this CPU: measured +3 and 0 images ->
    # allow ours to be up to 3 + 1 images worse
    assert int8 >= reference - images(CPU_SPREAD_IMAGES + 1)


def test_int8_tflite_and_onnx_agree(results):
    art = results["calibrated"]
    st, so = Session(art.folder / "model_int8.tflite"), Session(art.folder / "model_int8.onnx")
    strict = tie_aware = 0
    paths = find_images(shared("imagenet-sample"))
    for p in paths:
        x = to_float64(load_rgb(p), art.manifest.input)
        t, o = st.run(x)[0], so.run(x)[0]
        strict += int(t.argmax() == o.argmax())
        # int8 softmax outputs step by 1/256 and often tie at the top; argmax then picks the lowest index
        tie_aware += int(bool(set(np.flatnonzero(t == t.max())) & set(np.flatnonzero(o == o.max()))))
    print(f"\ntflite int8 vs onnx int8 top-1 agreement: strict {strict / len(paths):.4f}, "
          f"tie-aware {tie_aware / len(paths):.4f}")
    # two int8 runtimes, each rounding per CPU. Measured on the Xeon VNNI: strict 0.9533, tie-aware 0.9900;
    # these bounds keep at least twice the 3-image spread below both (6 and 10 images)
    assert tie_aware / len(paths) >= 0.97
    assert strict / len(paths) >= 0.92


def test_float_files_match_keras(results):
    for entry in results["calibrated"].manifest.files:
        if entry.precision == "fp32":
            assert entry.verification["cosine_min"] >= 0.9999, entry
    for row in results["eval"]["results"]:
        if row["precision"] == "fp32":
            assert row["agreement_with_float"] == 1.0


def test_datafree_int8_within_three_points(results):
    real = top1(results["eval"], "model_int8.tflite")
    free = top1(results["datafree"], "model_int8.tflite")
    print(f"\nint8 tflite: real-image calibration {real:.4f}, data-free {free:.4f}")
    # the issue-3 acceptance criterion (3 points), kept: measured 1.7 points (AVX-512) and 0 (Xeon VNNI),
    # so it holds with 4 images to spare beyond the worst machine
    assert free >= real - 0.03
