"""`sweep --arch` across all four families on this machine, end to end: real exports, real LiteRT benches, the
real store; the plot's legend and `pick` name each family by its record's title.

Random weights everywhere: latency is real, top-1 is each paper's published number at 224 (MobileNet v1 0.5
63.3%, MobileNetV2 0.5 65.4% from TF-slim; ShuffleNet V1 0.5x g=3 56.8%, Zhang et al. Table 2; ShuffleNet V2
0.5x 60.3%, Ma et al. Table 8), so the ranking is known before anything is measured.
"""
import json
import re
import sys
from pathlib import Path

import pytest

from conftest import mobiledeploy
from sshd import Sshd
from stored import stored

pytestmark = pytest.mark.slow

ARCHS = "mobilenet_v1,mobilenet_v2,shufflenet_v1,shufflenet_v2"
GRID = ["--arch", ARCHS, "--alphas", "0.5", "--res", "224", "--precision", "fp32", "--device", "local"]
EXPECTED = {"mobilenet_v1": ("a0.5-224-fp32", 0.633), "mobilenet_v2": ("v2-a0.5-224-fp32", 0.654),
            "shufflenet_v1": ("shufflenet_v1-a0.5-224-fp32", 0.568),
            "shufflenet_v2": ("shufflenet_v2-a0.5-224-fp32", 0.603)}
TITLES = ("MobileNet v1 fp32", "MobileNetV2 fp32", "ShuffleNet V1 (g=3) fp32", "ShuffleNet V2 fp32")


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """The four-family sweep, its plot drawn as SVG (matplotlib writes each text as a comment beside its
    glyphs, so the legend can be read back); (its JSON, env, out folder, plot)."""
    root = tmp_path_factory.mktemp("families")
    env = {"MOBILEDEPLOY_HOME": str(root / "home"), "MOBILEDEPLOY_WEIGHTS_URL": "http://127.0.0.1:9/"}
    plot = root / "sweep.svg"
    proc = mobiledeploy("sweep", *GRID, "--runs", "5", "--warmup", "2", "--out", root / "models", "--plot", plot,
                        "--json", env=env, check=True)
    return json.loads(proc.stdout), env, root / "models", plot


def _legend(svg: Path) -> list[str]:
    text = svg.read_text()
    return re.findall(r"<!-- (.*?) -->", text[text.index('<g id="legend_1">'):])


def test_every_family_is_exported_benched_and_ranked(swept):
    doc, _, models, _ = swept
    assert doc["run"][0]["exported"] == 4 and doc["run"][0]["benched"] == 4 and not doc["run"][0]["errors"]
    rows = {r["arch"]: r for r in doc["rows"]}
    assert set(rows) == set(EXPECTED)
    for arch, (label, top1) in EXPECTED.items():
        r = rows[arch]
        assert r["label"] == label and r["device"] == "local" and r["p90_ms"] > 0
        assert r["top1_source"] == "published" and r["top1"] == pytest.approx(top1)
        assert json.loads((Path(r["artifact"]) / "manifest.json").read_text())["model"]["architecture"] == arch
    assert sorted(p.name for p in models.iterdir() if p.is_dir()) == \
        ["mobilenet_v1_0.5_224", "mobilenet_v2_0.5_224", "shufflenet_v1_0.5_224", "shufflenet_v2_0.5_224"]


def test_plot_legend_names_all_four_families(swept):
    _, env, models, plot = swept
    legend = _legend(plot)
    assert legend == ["local (1 thr): front", *TITLES], legend
    # the report of the stored results (measuring nothing) draws the same legend
    again = plot.with_name("report.svg")
    mobiledeploy("sweep", *GRID, "--out", models, "--plot", again, "--report", env=env, check=True)
    assert _legend(again) == legend


def test_pick_names_the_family(swept):
    doc, env, models, _ = swept
    budget = 10 * max(r["p90_ci_ms"][1] for r in doc["rows"])
    picked = json.loads(mobiledeploy("pick", "--device", "local", "--budget-ms", budget, "--json", env=env,
                                     check=True).stdout)
    assert picked["chosen"]["arch"] == "mobilenet_v2" and Path(picked["artifact"]).name == "mobilenet_v2_0.5_224"
    # within one ShuffleNet artifact: the answer names its family, and the note says where its weights come from
    # (no --weights imagenet: ShuffleNet has no official Keras file)
    text = mobiledeploy("pick", "--device", "local", "--budget-ms", budget, "--within",
                        models / "shufflenet_v2_0.5_224", env=env, check=True).stdout
    assert "shufflenet_v2-a0.5-224-fp32 (ShuffleNet V2)" in text and "top-1 60.3% published" in text
    assert "--arch shufflenet_v2" in text and "--weights FILE.npz" in text and "imagenet" not in text


def test_four_families_on_the_loopback_ssh_board(tmp_path):
    """The same four families on an SSH board (a real OpenSSH server on loopback, tests/sshd.py), the tiniest
    grid (one alpha, one side, fp32, `--device board` only): every family's file travels to the board, runs in
    its runner and comes back as a stored record; the front and `pick` on the board name the family."""
    server = Sshd(tmp_path).start()
    env = {"MOBILEDEPLOY_HOME": str(tmp_path / "home"), "MOBILEDEPLOY_WEIGHTS_URL": "http://127.0.0.1:9/"}
    grid = [*GRID[:-1], "board", "--runs", "5", "--warmup", "2", "--max-seconds", "4", "--out", tmp_path / "models"]
    try:
        mobiledeploy("devices", "add", "board", "--ssh", f"root@127.0.0.1:{server.port}", "--key", server.client_key,
                     "--known-hosts", server.known_hosts, "--python", sys.executable, env=env, check=True)
        doc = json.loads(mobiledeploy("sweep", *grid, "--json", env=env, check=True).stdout)
    finally:
        server.stop()
    run = doc["run"][0]
    assert run["exported"] == 4 and run["benched"] == 4 and not run["errors"], run
    rows = {r["arch"]: r for r in doc["rows"]}
    assert set(rows) == set(EXPECTED) and {r["device"] for r in doc["rows"]} == {"board"}
    for arch, (label, top1) in EXPECTED.items():
        r = rows[arch]
        assert r["label"] == label and r["p90_ms"] > 0 and r["top1"] == pytest.approx(top1)
    # the records were stored under the board's name, each with its family
    records = stored(env["MOBILEDEPLOY_HOME"])
    assert sorted((r["device"], r["model"]["architecture"]) for r in records) == [("board", a) for a in sorted(EXPECTED)]
    budget = 10 * max(r["p90_ci_ms"][1] for r in doc["rows"])
    picked = json.loads(mobiledeploy("pick", "--device", "board", "--budget-ms", budget, "--json", env=env,
                                     check=True).stdout)
    assert picked["chosen"]["arch"] == "mobilenet_v2" and Path(picked["artifact"]).name == "mobilenet_v2_0.5_224"
    text = mobiledeploy("pick", "--device", "board", "--budget-ms", budget, "--within",
                        tmp_path / "models" / "shufflenet_v1_0.5_224", env=env, check=True).stdout
    assert "shufflenet_v1-a0.5-224-fp32 (ShuffleNet V1 (g=3))" in text and "top-1 56.8% published" in text
