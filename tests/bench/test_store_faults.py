"""The results store and the bench session against what users and hostile files do (the fault suite)."""
import json
import os

import pytest

from conftest import mobiledeploy
from stored import stored

pytestmark = pytest.mark.faults


@pytest.mark.slow
def test_bench_stores_an_absolute_path_and_measures_a_repeated_file_once(tiny_artifact, tmp_path):
    """A relative ARTIFACT is stored absolute (pick from another folder finds it); `--file X --file X` is one
    file, measured once; `--history --device local` is local only, `--device all` every device."""
    home = tmp_path / "home"
    env = {"MOBILEDEPLOY_HOME": str(home)}
    rel = os.path.relpath(tiny_artifact, tmp_path)
    proc = mobiledeploy("bench", rel, "--file", "model_int8.tflite", "--file", "model_int8.tflite", "--runs", "5",
                        "--max-seconds", "1", "--json", env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(proc.stdout)["results"]) == 1
    kept = stored(home)
    assert len(kept) == 1 and kept[0]["artifact"] == str(tiny_artifact)
    other = dict(kept[0], device="pi")
    (home / "other.jsonl").write_text(json.dumps(other) + "\n")
    mobiledeploy("results", "import", home / "other.jsonl", env=env, check=True)
    local = json.loads(mobiledeploy("bench", "--history", "--json", env=env, check=True).stdout)["results"]
    every = json.loads(mobiledeploy("bench", "--history", "--device", "all", "--json", env=env, check=True).stdout)
    assert [r["device"] for r in local] == ["local"] and len(every["results"]) == 2
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    text = mobiledeploy("pick", "--device", "local", "--budget-ms", "1e6", env=env, cwd=elsewhere, check=True).stdout
    assert f"artifact: {tiny_artifact} (model_int8.tflite)" in text


