"""`sweep --weights-dir` finds torchvision's ShuffleNet V2 weights by their torchvision names (one width serves every
resolution) beside Google's MobileNet files, and a sweep exports that cell with them (the manifest names the file
by its sha256), end to end."""
import hashlib
import json
import sys
from pathlib import Path

import pytest

from conftest import mobiledeploy
from mobiledeploy.sweep import sources
from mobiledeploy.sweep.cells import Cell

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "model"))
from test_shufflenet_reference import torchvision_state_dict, write_npz  # noqa: E402


def test_torchvision_names_are_recognised_for_every_resolution(tmp_path):
    for name in ("shufflenet_v2_x0_5.npz", "shufflenet_v2_x1_0.onnx", "mobilenet_v1_0.25_128_quant.tflite",
                 "shufflenet_v2_x1_0.npz", "shufflenet_v2_0_5.npz", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    found = sources.scan(tmp_path)
    assert found[("shufflenet_v2", 0.5, sources.ANY_RESOLUTION)].name == "shufflenet_v2_x0_5.npz"
    # the state dict is preferred over the ONNX file of the same width (both are exact; the .npz is smaller to read)
    assert found[("shufflenet_v2", 1.0, sources.ANY_RESOLUTION)].name == "shufflenet_v2_x1_0.npz"
    assert len(found) == 3   # shufflenet_v2_0_5.npz (no x) and notes.txt are not weights names
    for res in (96, 160, 224):
        assert sources.for_cell(found, Cell(0.5, res, "shufflenet_v2")).name == "shufflenet_v2_x0_5.npz"
    assert sources.for_cell(found, Cell(0.5, 128, "shufflenet_v1")) is None       # V2's weights are not V1's
    assert sources.for_cell(found, Cell(0.25, 128, "mobilenet_v1")).name == "mobilenet_v1_0.25_128_quant.tflite"
    assert sources.for_cell(found, Cell(0.25, 160, "mobilenet_v1")) is None       # a MobileNet file is one resolution


@pytest.mark.slow
def test_a_sweep_exports_shufflenet_with_the_weights_it_found(tmp_path):
    weights = tmp_path / "weights"
    weights.mkdir()
    npz = write_npz(weights / "shufflenet_v2_x0_5.npz", torchvision_state_dict(0.5))
    env = {"MOBILEDEPLOY_HOME": str(tmp_path / "home")}
    doc = json.loads(mobiledeploy("sweep", "--arch", "shufflenet_v2", "--alphas", "0.5", "--res", "96",
                                  "--precisions", "fp32", "--device", "local", "--weights-dir", weights, "--runs",
                                  "5", "--warmup", "2", "--out", tmp_path / "out", "--json", env=env,
                                  check=True).stdout)
    assert doc["run"][0]["exported"] == 1 and doc["run"][0]["errors"] == []
    [row] = doc["rows"]
    assert row["weights"] != "random", row
    manifest = json.loads((Path(row["artifact"]) / "manifest.json").read_text())
    assert manifest["model"]["weights"]["kind"] == "torchvision", manifest["model"]["weights"]
    assert manifest["model"]["weights"]["sha256"] == hashlib.sha256(npz.read_bytes()).hexdigest()
