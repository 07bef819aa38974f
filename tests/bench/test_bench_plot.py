"""bench --history --plot: latency against multiply-adds from stored results."""
import json

import pytest

from PIL import Image

from conftest import assert_one_line_error, mobiledeploy


def test_history_plot(main_job, tmp_path, home):
    art = main_job[0]["artifact"]
    env = {"MOBILEDEPLOY_HOME": str(tmp_path / "home")}
    assert_one_line_error(mobiledeploy("bench", "--history", "--plot", tmp_path / "none.png", env=env), "no bench results")
    for threads in ("1", "2"):
        mobiledeploy("bench", art, "--device", "local", "--file", "model_int8.tflite", "--runs", "5", "--threads",
                     threads, "--json", env=env, check=True)
    rows = json.loads(mobiledeploy("bench", "--history", "--json", "--plot", tmp_path / "p.png", env=env,
                                   check=True).stdout)["results"]
    assert len(rows) == 2
    with Image.open(tmp_path / "p.png") as img:
        assert img.format == "PNG" and img.size[0] >= 600


@pytest.mark.slow
def test_plot_reads_cost_from_facts_not_names(tmp_path):
    """An alpha-0.125 artifact in a folder of any name plots at 0.125's multiply-adds (not 0.12's, not 0)."""
    from mobiledeploy.model.cost import summary
    from mobiledeploy.bench.plot import result_model

    env = {"MOBILEDEPLOY_HOME": str(tmp_path / "home")}
    art = json.loads(mobiledeploy("export", "--alpha", "0.125", "--res", "32", "--formats", "tflite", "--weights",
                                  "none", "--out", tmp_path, "--json", env=env, check=True).stdout)["artifact"]
    assert art.endswith("mobilenet_v1_0.125_32")
    row = json.loads(mobiledeploy("bench", art, "--runs", "3", "--warmup", "0", "--json", env=env,
                                  check=True).stdout)["results"][0]
    assert row["model"]["macs"] == summary(0.125, 32)["macs"] != summary(0.12, 32)["macs"]
    from mobiledeploy.bench.record import BenchRecord

    older = {k: v for k, v in row.items() if k != "model"}       # a result stored before results had facts
    assert result_model(BenchRecord.from_dict(older)).alpha == 0.125   # read from the artifact's manifest
    gone = dict(older, artifact=str(tmp_path / "deleted"))
    assert result_model(BenchRecord.from_dict(gone)) is None       # left out, not guessed from its name
