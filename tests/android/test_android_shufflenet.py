"""The Android demo's processing module on ShuffleNet V1 and V2 artifacts, through the shared test vectors.

The Java side keeps no list of family names: it reads the input rules and the output contract from the
manifest, so a ShuffleNet artifact runs exactly as a MobileNet one. The vectors prove the Python runtime and
the Java module agree on every image: the input tensor (bit-exact counted, at most 1 unit apart), the default
file and the top-5 read from LiteRT's output.
"""
import json
import re
import shutil

import pytest

from conftest import mobiledeploy, shared
from maven import mvn_test
from shufflenet_artifacts import export
from test_android import PROCESSING, needs

pytestmark = pytest.mark.slow  # exports and a Maven build

ARCHS = ("shufflenet_v1", "shufflenet_v2")


@pytest.fixture(scope="module")
def vectors(tmp_path_factory):
    """One vectors folder holding both families' files (renamed <arch>_model_int8, ...), and the YUV frames."""
    needs("mvn", "java")
    root = tmp_path_factory.mktemp("shufflenet_vectors")
    combined = root / "all"
    combined.mkdir()
    for arch in ARCHS:
        artifact = export(arch, root / arch)
        out = root / f"{arch}_vectors"
        mobiledeploy("testvectors", artifact, "--data", shared("images"), "--out", out, check=True)
        for folder in sorted(out.iterdir()):
            if folder.name == "yuv":
                if not (combined / "yuv").exists():
                    shutil.move(str(folder), combined / "yuv")
            else:
                shutil.move(str(folder), combined / f"{arch}_{folder.name}")
    return combined


def test_vectors_of_both_families_mean_something(vectors):
    """Each file's reference top-1 is a confident, image-dependent answer (not a tie of uniform scores)."""
    for arch in ARCHS:
        for precision in ("fp32", "int8"):
            doc = json.loads((vectors / f"{arch}_model_{precision}" / "vectors.json").read_text())
            manifest = json.loads((vectors / f"{arch}_model_{precision}" / "manifest.json").read_text())
            assert manifest["model"]["architecture"] == arch and doc["default_file"] == "model_int8.tflite"
            tops = [c["top"] for c in doc["cases"]]
            assert len({t[0]["index"] for t in tops}) >= 3, (arch, precision)  # not one class for every image
            if precision == "fp32":  # no tie at the top that index order would break
                assert all(t[0]["score"] > t[1]["score"] for t in tops), (arch, precision)


def test_processing_module_matches_shufflenet_vectors(vectors):
    proc, total, failures, skipped = mvn_test(PROCESSING, f"testvectors.dir={vectors}")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    images = len(list(shared("images").iterdir()))
    files = len(ARCHS) * 2
    assert failures == 0 and skipped == 0
    # every image of the four files, the default file of each, every YUV frame, plus the unit tests
    assert total >= files * images + files + images
    exact = [line for line in proc.stdout.splitlines() if "bit-exact" in line]
    print("\n" + "\n".join(line for line in exact if "shufflenet" in line))
    for arch in ARCHS:
        for precision in ("fp32", "int8"):
            mine = [line for line in exact if f"{arch}_model_{precision}/" in line]
            assert len(mine) == images, (arch, precision)
            if precision == "fp32":  # the float tensor is the same arithmetic in both languages: all equal
                counts = [re.search(r": (\d+) of (\d+) input values", line).groups() for line in mine]
                assert all(a == b for a, b in counts), mine
