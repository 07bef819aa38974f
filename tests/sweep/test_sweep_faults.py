"""Bad input to `sweep` and `pick`: exit 2, one `error:` line saying what to fix, nothing written."""
import json

import pytest

from conftest import assert_one_line_error, mobiledeploy

pytestmark = pytest.mark.faults


def sweep(tmp_path, *args):
    out = tmp_path / "models"
    proc = mobiledeploy("sweep", "--out", out, *args)
    assert proc.returncode == 2, proc.stderr
    assert not out.exists()  # nothing half-written: the out folder is never created for bad input
    return proc


@pytest.mark.parametrize("devices,fragment", [
    ("local,nosuch", "unknown device 'nosuch'"),
    ("nosuch", "unknown device"),
    ("locale", "did you mean local"),
    (",", "--device is empty"),
])
def test_unknown_or_empty_device_list(tmp_path, devices, fragment):
    assert_one_line_error(sweep(tmp_path, "--device", devices), fragment)


@pytest.mark.parametrize("alphas,fragment", [
    ("", "--alphas is empty"),
    (" , ,", "--alphas is empty"),
    ("0.5,abc", "alpha must be a number"),
    ("0", "alpha must be a positive"),
    ("-0.25", "alpha must be a positive"),
])
def test_bad_alpha_list(tmp_path, alphas, fragment):
    assert_one_line_error(sweep(tmp_path, "--alphas", alphas), fragment)


@pytest.mark.parametrize("res,fragment", [
    ("16", ">= 32"),
    ("128,31", ">= 32"),
    ("0", ">= 32"),
    ("12.5", "whole number"),
    ("", "--res is empty"),
])
def test_bad_resolution_list(tmp_path, res, fragment):
    assert_one_line_error(sweep(tmp_path, "--res", res), fragment)


@pytest.mark.parametrize("precision,fragment", [("fp16", "choose from fp32, int8"), ("int9", "did you mean int8"),
                                                ("", "--precisions is empty")])
def test_bad_precision(tmp_path, precision, fragment):
    assert_one_line_error(sweep(tmp_path, "--precision", precision), fragment)


@pytest.mark.parametrize("files", [
    ["notes.txt", "photo.jpg"],
    ["mobilenet_v3_1.0_224.tflite", "mobilenet_v1_0.25_128.tgz"],  # V2 names are weights files since V2
    [],
])
def test_weights_dir_without_mobilenet_files(tmp_path, files):
    wd = tmp_path / "weights"
    wd.mkdir()
    for name in files:
        (wd / name).write_bytes(b"not a model")
    line = assert_one_line_error(sweep(tmp_path, "--alphas", "0.25", "--res", "128", "--weights-dir", wd),
                                 "has no weights file it recognises", "mobilenet_v1_<alpha>_<res>",
                                 "tf2_mobilenet_v2_<alpha>_<res>_ptq.tflite")
    for name in files:
        assert name in line  # says what it found instead


def test_weights_dir_missing(tmp_path):
    assert_one_line_error(sweep(tmp_path, "--weights-dir", tmp_path / "nope"), "not a folder")


@pytest.mark.parametrize("args,fragment", [
    (["--data", "/nonexistent/images"], "--data /nonexistent/images is not a folder"),
    (["--wnids", "/nonexistent/wnids.txt"], "is not a file"),
    (["--measure", "4", "--budget-ms", "0"], "--budget-ms must be a positive"),
    (["--measure", "4", "--budget-ms", "-3"], "--budget-ms must be a positive"),
])
def test_bad_inputs_and_budget_for_sweep(tmp_path, args, fragment):
    assert_one_line_error(sweep(tmp_path, *args), fragment)


@pytest.mark.parametrize("budget", ["0", "-5", "-0.001", "nan"])
def test_pick_budget_not_positive(budget):
    proc = mobiledeploy("pick", "--device", "local", "--budget-ms", budget)
    assert proc.returncode == 2
    assert_one_line_error(proc, "--budget-ms must be a positive")


def test_pick_without_stored_results(tmp_path):
    env = {"MOBILEDEPLOY_HOME": str(tmp_path / "fresh-home")}
    proc = mobiledeploy("pick", "--device", "local", "--budget-ms", "20", env=env)
    assert proc.returncode == 2
    assert_one_line_error(proc, "no stored results for local", "mobiledeploy sweep --device local")
    assert not (tmp_path / "fresh-home").exists()


def test_pick_unknown_device(tmp_path):
    proc = mobiledeploy("pick", "--device", "pxel", "--budget-ms", "20",
                        env={"MOBILEDEPLOY_HOME": str(tmp_path / "home")})
    assert proc.returncode == 2
    assert_one_line_error(proc, "unknown device 'pxel'")


def test_pick_results_without_model_block_are_not_guessed(tmp_path):
    """Results from before the model block: pick does not parse folder names, it asks for a sweep."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "results.jsonl").write_text(json.dumps({
        "device": "local", "artifact": "models/mobilenet_v1_0.50_128", "artifact_name": "mobilenet_v1_0.50_128",
        "file": "model_int8.tflite", "format": "tflite", "precision": "int8", "settings": {"threads": 1},
        "median_ms": 1.0, "p90_ms": 1.1, "std_ms": 0.01, "cv": 0.01, "time": "2026-01-01T00:00:00+00:00"}) + "\n")
    proc = mobiledeploy("pick", "--device", "local", "--budget-ms", "20", env={"MOBILEDEPLOY_HOME": str(home)})
    assert proc.returncode == 2 and "not bench records" not in proc.stderr  # a record, only without facts
    assert_one_line_error(proc, "no stored results for local")


@pytest.mark.parametrize("content", [b"not a model at all", b"\x00" * 64, b""])
def test_weights_file_with_the_right_name_but_not_a_model(tmp_path, content):
    """A corrupt Google file: the cell fails with one line naming the file; nothing half-written remains."""
    wd = tmp_path / "weights"
    wd.mkdir()
    (wd / "mobilenet_v1_0.25_128.tflite").write_bytes(content)
    out = tmp_path / "models"
    proc = mobiledeploy("sweep", "--alphas", "0.25", "--res", "128", "--precision", "int8", "--weights-dir", wd,
                        "--out", out, "--runs", "2", env={"MOBILEDEPLOY_HOME": str(tmp_path / "home")})
    assert proc.returncode == 2
    assert_one_line_error(proc, "a0.25-128", "mobilenet_v1_0.25_128.tflite")
    assert not list(out.glob("*")) if out.exists() else True  # no artifact, no temporary folder


@pytest.mark.slow
def test_sigkill_of_the_sweep_leaves_no_worker_and_the_next_run_collects_its_leftovers(tmp_path):
    """SIGKILL (no clean-up can run) of a real sweep in its own session: its export workers die with it (prctl),
    nothing lands in $TMPDIR, and the next run removes the temporary folders the killed one left in --out."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    from conftest import wait_for
    from fsfaults import default_signals

    home, out, tmp = tmp_path / "home", tmp_path / "models", tmp_path / "tmpdir"
    tmp.mkdir()
    env = {**os.environ, "MOBILEDEPLOY_HOME": str(home), "TMPDIR": str(tmp)}
    args = ["sweep", "--alphas", "0.25,0.5", "--res", "128,160", "--precisions", "fp32", "--runs", "2", "--warmup",
            "0", "--out", str(out)]
    exe = Path(sys.executable).with_name("mobiledeploy")
    proc = subprocess.Popen([str(exe), *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=default_signals)
    # an export is under way once an artifact's temporary folder appears
    wait_for(lambda: out.exists() and any(out.glob(".mobilenet_v1_*.tmp-*")), 300, proc=proc,
             what="an export to start")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)

    def session_processes():
        found = []
        for status in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = status.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == proc.pid and fields[0] != "Z":  # session id = the sweep's pid
                found.append(status.parent.name)
        return found

    assert wait_for(lambda: not session_processes(), 30), session_processes()  # no orphan worker
    assert not list(tmp.iterdir())                                               # nothing in the shared $TMPDIR
    assert list(out.glob(".*.tmp-*"))                                            # the killed run's leftovers
    again = subprocess.run([str(exe), *args, "--json"], env=env, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr
    assert not list(out.glob(".*tmp*")) and not list(tmp.iterdir())


@pytest.mark.parametrize("kind,fragment", [("fifo", "is a FIFO"), ("folder", "is a folder"),
                                           ("loop", "link loop"), ("dangling", "link to nothing")])
def test_weights_dir_entry_with_googles_name_that_is_not_a_file(tmp_path, kind, fragment):
    import os

    wd = tmp_path / "weights"
    wd.mkdir()
    entry = wd / "mobilenet_v1_0.25_128.tflite"
    if kind == "fifo":
        os.mkfifo(entry)
    elif kind == "folder":
        entry.mkdir()
    elif kind == "loop":
        entry.symlink_to(entry)
    else:
        entry.symlink_to(tmp_path / "gone.tflite")
    proc = mobiledeploy("sweep", "--alphas", "0.25", "--res", "128", "--weights-dir", wd, "--out", tmp_path / "o",
                        env={"MOBILEDEPLOY_HOME": str(tmp_path / "home")}, timeout=60)
    assert proc.returncode == 2
    assert_one_line_error(proc, "mobilenet_v1_0.25_128.tflite", fragment)


def test_home_that_is_a_file(tmp_path):
    (tmp_path / "home").write_text("x")
    proc = mobiledeploy("pick", "--device", "local", "--budget-ms", "5", env={"MOBILEDEPLOY_HOME": str(tmp_path / "home")})
    assert proc.returncode == 2
    assert_one_line_error(proc, "MOBILEDEPLOY_HOME", "not a folder")


@pytest.mark.slow
def test_two_sweeps_into_one_out(tmp_path):
    """The second sweep into the same --out refuses at once (it would replace artifacts the first is benching)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from conftest import wait_for

    out, env = tmp_path / "models", {**os.environ, "MOBILEDEPLOY_HOME": str(tmp_path / "home")}
    args = ["sweep", "--alphas", "0.25", "--res", "128,160", "--precisions", "fp32", "--runs", "2", "--warmup", "0",
            "--out", str(out)]
    first = subprocess.Popen([str(Path(sys.executable).with_name("mobiledeploy")), *args], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: out.exists() and any(out.glob(".*.tmp-*")), 300, proc=first, what="the first sweep to start")
        second = mobiledeploy(*args, env={"MOBILEDEPLOY_HOME": str(tmp_path / "home")})
        assert second.returncode == 2
        assert_one_line_error(second, "another sweep is writing to", str(out))
    finally:
        first.wait(600)
    assert first.returncode == 0, first.stderr.read()


def test_again_with_report_is_refused(tmp_path):
    """--again measures every file, --report none: one line, nothing written."""
    assert_one_line_error(sweep(tmp_path, "--again", "--report"), "--again", "--report")
