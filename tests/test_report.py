"""bench --history --plot: latency against multiply-adds from stored results."""
import json

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
