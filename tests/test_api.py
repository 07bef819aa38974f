"""The Python API (mobiledeploy.api) driven without the CLI: the same typed records the commands print."""
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import mobiledeploy.api as md
from mobiledeploy.bench.record import BenchRecord
from mobiledeploy.errors import MobiledeployError
from mobiledeploy.outcome import NOTHING_FITS, NothingFits


@pytest.mark.slow
def test_export_load_bench_sweep_pick(tmp_path, monkeypatch):
    # its own results store: pick must choose among this test's results, not other tests' (the session's
    # shared store holds e.g. the 0.25-128 reference artifact's results, which fit 1e6 ms too)
    monkeypatch.setenv("MOBILEDEPLOY_HOME", str(tmp_path / "home"))
    result = md.export(alpha=0.25, resolution=32, int8=True, formats="tflite", weights="none", out=tmp_path,
                       quiet=True)
    assert [f.name for f in result.files] == ["model_fp32.tflite", "model_int8.tflite"]
    assert result.to_dict()["artifact"] == result.artifact and result.weights == "random"

    clf = md.load(result.artifact)
    assert clf.entry.name == "model_int8.tflite"          # the manifest's default file
    rgb = np.random.default_rng(0).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    top = clf.classify(rgb, 3)
    assert len(top) == 3 and all(0 <= p.index < 1000 for p in top)

    bench = md.bench(result.artifact, device="local", runs=5, warmup=1)
    assert {r.file for r in bench.records} == {"model_fp32.tflite", "model_int8.tflite"} and not bench.errors
    assert all(isinstance(r, BenchRecord) and r.median_ms > 0 and r.settings.runs == 5 for r in bench.records)
    past = md.history(result.artifact)
    assert len(past.records) == 2 and past.between_runs == []   # stored as they were measured; one run

    sweep = md.sweep(alphas=[0.25], resolutions=[32], precisions=["int8"], runs=5, warmup=1, out=tmp_path / "s",
                     log=lambda line: None)
    assert [r.label for r in sweep.report.rows] == ["a0.25-32-int8"] and sweep.plot.endswith("sweep.png")
    chosen = md.pick(device="local", budget_ms=1e6, precision="int8")
    assert chosen.chosen.label == "a0.25-32-int8" and "raspberrypi/classify.py" in chosen.deploy
    with pytest.raises(NothingFits) as answer:
        md.pick(device="local", budget_ms=1e-6)
    assert answer.value.code == NOTHING_FITS and "nothing fits" in answer.value.line


def test_api_checks_arguments_like_the_cli():
    with pytest.raises(MobiledeployError, match="alpha must be"):
        md.export(alpha=0, resolution=128)
    with pytest.raises(MobiledeployError, match="did you mean int8"):
        md.sweep(precisions=["int9"])
    with pytest.raises(MobiledeployError, match="budget-ms must be a positive"):
        md.pick(device="local", budget_ms=float("nan"))
    with pytest.raises(MobiledeployError, match="threads must be"):
        md.bench(device="local", threads=0)
    for budget in ("5", None, True):   # a budget of the wrong type is the same one line, not a crash in it
        with pytest.raises(MobiledeployError, match="budget-ms must be a positive number"):
            md.pick(device="local", budget_ms=budget)
    with pytest.raises(MobiledeployError, match="budget-ms must be a positive number"):
        md.sweep(budget_ms="5")
    with pytest.raises(MobiledeployError, match="expected a list"):
        md.sweep(alphas={"a": 1}.keys())
    for kwargs, fragment in (({"jobs": -1}, "jobs must be"), ({"measure": 1}, "measure must be")):
        with pytest.raises(MobiledeployError, match=fragment):
            md.sweep(**kwargs)
    with pytest.raises(MobiledeployError, match="cooldown must be"):
        md.bench(device="local", cooldown=True)
    with pytest.raises(MobiledeployError, match="out must name a folder"):
        md.export(alpha=0.25, resolution=32, out=None)
    with pytest.raises(MobiledeployError, match="out must name a folder"):
        md.sweep(out="")


def test_the_package_is_the_api():
    """`import mobiledeploy as md; md.export(...)`: the API's functions, whatever subpackage shares the name."""
    import mobiledeploy
    from mobiledeploy.bench import store   # the subpackages still import as before

    assert mobiledeploy.export is md.export and mobiledeploy.bench is md.bench and mobiledeploy.sweep is md.sweep
    assert callable(store.history) and mobiledeploy.__version__


@pytest.mark.slow
def test_a_script_without_main_guard_can_sweep(tmp_path):
    """spawn re-imports __main__ in workers; the sweep keeps them from running the caller's script again."""
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(f"""
        import mobiledeploy.api as md
        print("ran", flush=True)
        result = md.sweep(alphas=[0.25], resolutions=[32], precisions=["fp32"], runs=2, warmup=0,
                          out={str(tmp_path / 'out')!r}, log=lambda line: None)
        print(len(result.report.rows))
    """))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["ran", "1"]  # once, in the parent only
