"""The Raspberry Pi classifier on ShuffleNet V1 and V2 artifacts, against the shared test vectors.

`mobiledeploy testvectors` records what the Python runtime computes for every photo (the Android module is
checked against the same files in tests/android/test_android_shufflenet.py); here the Pi classifier, run as a
user runs it on the same photos, must give the same top-5 (indices and scores) for every TFLite file. The
classifier takes the family from the manifest only: `--arch` picks a ShuffleNet beside a MobileNet of the same
alpha and resolution.
"""
import json
from pathlib import Path

import pytest

from conftest import assert_one_line_error, mobiledeploy, run_classifier, shared
from shufflenet_artifacts import ALPHA, RESOLUTION, export

pytestmark = pytest.mark.slow  # exports

ARCHS = ("shufflenet_v1", "shufflenet_v2")
TITLES = {"shufflenet_v1": "ShuffleNet V1 (g=3)", "shufflenet_v2": "ShuffleNet V2"}


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> dict:
    """arch -> (artifact folder, vectors folder); all artifacts in one models folder with a MobileNetV2 of the
    same alpha and resolution."""
    root = tmp_path_factory.mktemp("pi_shufflenet")
    out = {}
    for arch in ARCHS:
        artifact = export(arch, root / arch)
        models = root / "models"
        models.mkdir(exist_ok=True)
        moved = models / artifact.name
        artifact.rename(moved)
        vectors = root / f"{arch}_vectors"
        mobiledeploy("testvectors", moved, "--data", shared("images"), "--out", vectors, check=True)
        out[arch] = (moved, vectors)
    mobiledeploy("export", "--arch", "mobilenet_v2", "--alpha", ALPHA, "--res", RESOLUTION, "--int8", "--formats",
                  "tflite", "--weights", "none", "--out", root / "models", check=True)
    return out


def _frames(proc) -> list[dict]:
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")][:-1]


@pytest.mark.parametrize("precision", ["fp32", "int8"])
@pytest.mark.parametrize("arch", ARCHS)
def test_pi_classifier_matches_the_vectors(artifacts, arch, precision):
    artifact, vectors = artifacts[arch]
    doc = json.loads((vectors / f"model_{precision}" / "vectors.json").read_text())
    frames = _frames(run_classifier("--artifact", artifact, "--file", f"model_{precision}.tflite", "--source",
                                    shared("images"), "--json-lines", "--top-k", doc["k"]))
    assert len(frames) == len(doc["cases"]) == len(list(shared("images").iterdir()))
    by_name = {Path(f["source"]).stem: f for f in frames}
    for case in doc["cases"]:
        frame = by_name[case["name"]]
        assert TITLES[arch] in frame["model"]
        assert [p["index"] for p in frame["top"]] == [t["index"] for t in case["top"]], case["name"]
        assert [p["score"] for p in frame["top"]] == pytest.approx([t["score"] for t in case["top"]], abs=1e-6)
    # the vectors are not a tie of uniform scores: the photos get different answers
    assert len({case["top"][0]["index"] for case in doc["cases"]}) >= 3


def test_shufflenet_chosen_beside_a_mobilenet_by_its_manifest(artifacts):
    models = artifacts["shufflenet_v2"][0].parent
    proc = run_classifier("--models", models, "--alpha", ALPHA, "--res", RESOLUTION, "--source", shared("images"),
                          "--frames", "1")
    assert_one_line_error(proc, "mobilenet_v2", "shufflenet_v2", "--arch")
    frames = _frames(run_classifier("--models", models, "--alpha", ALPHA, "--res", RESOLUTION, "--arch",
                                    "shufflenet_v2", "--precision", "int8", "--source", shared("images"),
                                    "--json-lines", "--frames", "3"))
    assert len(frames) == 3
    assert all(f["model"].startswith("shufflenet_v2_0.5_96 (ShuffleNet V2) / model_int8.tflite") for f in frames)
