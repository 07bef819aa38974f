"""The Android demo's processing module against the Python runtime, through test vectors, with Maven and
JUnit from Maven Central: preprocessing, the default file choice and Camera2 YUV frames, bit for bit.

The app itself is built into a signed APK and tested with Robolectric in tests/test_android_apk.py.
"""
import json
import shutil

import pytest

from conftest import ROOT, mobiledeploy, shared
from maven import mvn_test

pytestmark = pytest.mark.slow  # Maven builds, APK packaging, exports

DEMO = ROOT / "android_demo"
PROCESSING = DEMO / "processing"


def needs(*tools):
    for tool in tools:
        if not shutil.which(tool):
            pytest.skip(f"needs {tool} (Java 17 and Maven)")


def test_processing_module_matches_python_vectors(reference_artifact, tmp_path):
    needs("mvn", "java")
    vectors = tmp_path / "vectors"
    mobiledeploy("testvectors", reference_artifact, "--data", shared("images"), "--out", vectors, check=True)
    assert sorted(p.name for p in vectors.iterdir()) == ["model_fp32", "model_int8", "yuv"]
    proc, total, failures, skipped = mvn_test(PROCESSING, f"testvectors.dir={vectors}")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    images = len(list(shared("images").iterdir()))
    assert failures == 0 and skipped == 0
    # every image for the int8 and the fp32 file, the default file of each, every YUV frame, plus the unit tests
    assert total >= 2 * images + 2 + images
    exact = [line for line in proc.stdout.splitlines() if "bit-exact" in line]
    print("\n" + "\n".join(exact))
    # "in", not startswith: Maven may put colour codes before the first line
    assert len([line for line in exact if "model_" in line]) == 2 * images
    assert len([line for line in exact if "yuv/" in line]) == images
    default = json.loads((vectors / "model_fp32" / "vectors.json").read_text())["default_file"]
    assert default == "model_int8.tflite"  # the Python runtime's choice, which the Java test also asserts


def test_processing_module_runs_a_v2_artifact(tmp_path):
    """The same Java code on a MobileNetV2 artifact: the manifest names the family and nothing else changes
    (random weights suffice: the vectors check preprocessing and the output read, not accuracy)."""
    needs("mvn", "java")
    out = tmp_path / "models"
    art = json.loads(mobiledeploy("export", "--arch", "mobilenet_v2", "--alpha", "0.35", "--res", "96", "--int8",
                                  "--formats", "tflite", "--weights", "none", "--out", out, "--json",
                                  check=True).stdout)["artifact"]
    vectors = tmp_path / "vectors"
    mobiledeploy("testvectors", art, "--data", shared("images"), "--out", vectors, check=True)
    manifest = json.loads((vectors / "model_int8" / "manifest.json").read_text())
    assert manifest["model"]["architecture"] == "mobilenet_v2"
    proc, total, failures, skipped = mvn_test(PROCESSING, f"testvectors.dir={vectors}")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    images = len(list(shared("images").iterdir()))
    assert failures == 0 and skipped == 0 and total >= 2 * images + 2 + images
