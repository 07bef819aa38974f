"""Export warnings inside a sweep reach the user once: prefixed by the cell, the same warning of many cells one line
with the count (issue 30 item 7). Real exports in the sweep's worker processes, a real calibration folder."""
import json

import numpy as np
from PIL import Image

from conftest import mobiledeploy
from mobiledeploy.sweep.run import WarningsOnce


def test_the_same_warning_of_many_cells_is_one_line_with_the_count():
    said = WarningsOnce()
    said.add("a0.25-128", ["calibrating on 4 images; 100 or more give stabler int8 ranges"])
    for cell in ("a0.5-128", "a0.75-128", "a1.0-128", "a0.25-160", "a0.5-160"):
        said.add(cell, ["calibrating on 4 images; 100 or more give stabler int8 ranges"])
    said.add("a0.5-160", ["model_int8.tflite agrees with the float model on top-1 for only 80.0% of 4 inputs"])
    said.add("a0.5-160", ["model_int8.tflite agrees with the float model on top-1 for only 80.0% of 4 inputs"])
    assert said.lines() == [
        "6 cells (a0.25-128, a0.5-128, a0.75-128, a1.0-128 and 2 more): calibrating on 4 images; 100 or more give "
        "stabler int8 ranges",
        "a0.5-160: model_int8.tflite agrees with the float model on top-1 for only 80.0% of 4 inputs"]


def test_a_sweep_passes_its_exports_warnings_on_once(tmp_path):
    calib = tmp_path / "calib"
    calib.mkdir()
    rng = np.random.default_rng(0)
    for i in range(5):   # 4 calibrate, 1 is held back to verify: "calibrating on 4 images" in every cell
        Image.fromarray(rng.integers(0, 255, (48, 48, 3), dtype=np.uint8)).save(calib / f"img{i}.jpg")
    env = {"MOBILEDEPLOY_HOME": str(tmp_path / "home")}
    proc = mobiledeploy("sweep", "--alphas", "0.25", "--res", "32,64", "--precisions", "int8", "--calib", calib,
                        "--runs", "3", "--warmup", "1", "--max-seconds", "0.5", "--out", tmp_path / "out", "--json",
                        env=env, check=True)
    lines = [line for line in proc.stderr.splitlines() if "calibrating on" in line]
    assert lines == ["WARNING: 2 cells (a0.25-32, a0.25-64): calibrating on 4 images; 100 or more give stabler int8 "
                     "ranges"], proc.stderr
    assert "no class names known" not in proc.stderr   # random weights measure latency only: no news there
    assert json.loads(proc.stdout)["run"][0]["exported"] == 2
