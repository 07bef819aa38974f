"""The typed Manifest: round trip, lossless names, finding artifacts by manifest, hostile manifests, fuzzing."""
import json
import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import shared

from mobiledeploy.artifact.bundle import artifact_name, find
from mobiledeploy.artifact.manifest import Manifest
from mobiledeploy.readers import decode, parse_json
from mobiledeploy.errors import MobiledeployError


def valid_doc() -> dict:
    """A manifest as the exporter writes it (values made up; only the shape matters here)."""
    io = {"dtype": "float32", "quantization": None}
    return {
        "manifest_version": 1, "name": "mobilenet_v1_0.25_32",
        "model": {"architecture": "mobilenet_v1", "alpha": 0.25, "resolution": 32, "classes": 1000,
                  "background": False, "outputs": 1000, "macs": 1, "params": 1, "weights": {"kind": "random"}},
        "input": {"shape": [1, 32, 32, 3], "layout": "NHWC", "color": "RGB",
                  "crop": {"kind": "central", "fraction": 0.875},
                  "resize": {"method": "bilinear", "half_pixel_centers": True, "antialias": False},
                  "mean": [127.5] * 3, "std": [127.5] * 3},
        "output": {"shape": [1, 1000], "kind": "probabilities", "background": False},
        "labels": {"file": "labels.txt", "count": 1000, "source": "numbered"},
        "files": [{"name": "model_fp32.tflite", "format": "tflite", "precision": "fp32", "size": 1,
                   "sha256": "0" * 64, "input": io, "output": io, "verification": {}}],
        "calibration": {"source": "data-free"},
        "provenance": {"mobiledeploy": "0", "created": "now", "command": "mobiledeploy export"},
    }


def test_round_trip_keeps_every_field():
    doc = valid_doc()
    doc["files"][0]["calibration_method"] = "minmax"   # keys of newer exporters survive
    m = Manifest.from_dict(doc)
    assert m.model.alpha == 0.25 and m.input.crop_fraction == 0.875 and m.files[0].extra == {"calibration_method": "minmax"}
    assert m.to_dict() == doc


def test_names_are_lossless():
    assert artifact_name(0.25, 128) == "mobilenet_v1_0.25_128"
    assert artifact_name(1.0, 224) == "mobilenet_v1_1.0_224"       # Google's own spelling
    assert artifact_name(0.254, 128) != artifact_name(0.25, 128)
    assert artifact_name(0.125, 96) == "mobilenet_v1_0.125_96"
    assert artifact_name(1e-9, 32) != artifact_name(0.0, 32)


def test_default_file_prefers_int8_tflite():
    doc = valid_doc()
    int8 = dict(doc["files"][0], name="model_int8.tflite", precision="int8")
    doc["files"].append(int8)
    m = Manifest.from_dict(doc)
    assert m.default_file().name == "model_int8.tflite"
    assert m.file("tflite", "fp32").name == "model_fp32.tflite"
    with pytest.raises(MobiledeployError, match="no fp16 onnx file"):
        m.file("onnx", "fp16")


def test_find_reads_manifests_not_names(tiny_artifact, tmp_path):
    renamed = tmp_path / "models" / "whatever-name"
    shutil.copytree(tiny_artifact, renamed)
    assert find(tmp_path / "models", 0.25, 32).folder == renamed
    with pytest.raises(MobiledeployError, match="no artifact for alpha 0.5 at 32 px"):
        find(tmp_path / "models", 0.5, 32)


def test_pi_finds_the_artifact_by_alpha_and_res(tiny_artifact, tmp_path):
    import subprocess
    import sys

    from conftest import ROOT

    models = tmp_path / "models"
    shutil.copytree(tiny_artifact, models / "renamed")
    video = shared("images")
    proc = subprocess.run([sys.executable, str(ROOT / "raspberrypi" / "classify.py"), "--models", str(models),
                           "--alpha", "0.25", "--res", "32", "--precision", "fp32", "--source", str(video),
                           "--json-lines", "--frames", "2", "--quiet"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.splitlines()[-1])
    # the family comes from the manifest (model.architecture), not from the folder name
    assert summary["model"] == f"{tiny_artifact.name} (MobileNet v1) / model_fp32.tflite" and summary["frames"] == 2


# ---- fuzzing: whatever a manifest holds, loading ends in a Manifest or one MobiledeployError -----------------

def _json_values():
    scalars = st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=True) | st.text(max_size=20)
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                               max_size=4), max_leaves=12)


def _paths(doc, prefix=()):
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, prefix + (i,))


PATHS = [p for p in _paths(valid_doc()) if p]


@pytest.mark.slow
@pytest.mark.faults
@settings(max_examples=2500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(PATHS), _json_values(), st.booleans())
def test_fuzz_manifest_fields(path, value, delete):
    doc = valid_doc()
    node = doc
    for key in path[:-1]:
        node = node[key]
    if delete and isinstance(node, dict):
        del node[path[-1]]
    else:
        node[path[-1]] = value
    try:
        Manifest.from_dict(doc)
    except MobiledeployError:
        pass


@pytest.mark.slow
@pytest.mark.faults
@settings(max_examples=1500, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_fuzz_manifest_bytes(raw):
    try:
        text = decode(raw, "manifest", "manifest.json", "re-export")
        Manifest.from_dict(parse_json(text, "manifest", "manifest.json", "re-export"), "manifest.json")
    except MobiledeployError:
        pass
