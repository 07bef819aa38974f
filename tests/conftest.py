"""Shared fixtures: the real CLI in a subprocess, isolated caches, ../shared/data, one exported artifact."""
from __future__ import annotations

import functools
import http.server
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
REFERENCE = SHARED / "reference" / "mobilenet_v1_0.25_128_quant.tflite"
SAMPLE = SHARED / "imagenet-sample"


SLOW_FIXTURES = {"main_job", "reference_artifact", "tiny_artifact", "small_artifact", "results", "artifact"}  # each runs exports
DATA_FIXTURES = {"reference_artifact", "results"}                                 # each needs ../shared/data


def pytest_collection_modifyitems(config, items):
    """`slow` and `data` follow from the fixtures a test uses, so `make test-fast` stays fast as tests are added;
    every test in a `*_faults.py` file (bad input, hostile files, signals, remote faults) is in the fault suite."""
    for item in items:
        if item.path.name.endswith("_faults.py"):
            item.add_marker(pytest.mark.faults)
        names = set(getattr(item, "fixturenames", ()))
        if names & SLOW_FIXTURES:
            item.add_marker(pytest.mark.slow)
        if names & DATA_FIXTURES:
            item.add_marker(pytest.mark.data)


def shared(*parts) -> Path:
    """A path under ../shared/data, or skip the test with the reason."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs {path} (the shared test data beside the repository; see ../shared/data/README.md)")
    return path


@pytest.fixture(scope="session")
def home(tmp_path_factory) -> Path:
    """Isolated KERAS_HOME / MOBILEDEPLOY_HOME so no test reads or writes the user's caches."""
    return tmp_path_factory.mktemp("home")


@pytest.fixture(autouse=True)
def _isolated_env(home, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(home / "keras"))
    monkeypatch.setenv("MOBILEDEPLOY_HOME", str(home / "mobiledeploy"))
    monkeypatch.delenv("MOBILEDEPLOY_STORE", raising=False)   # the store is the home's results.db unless a test says
    monkeypatch.setenv("MOBILEDEPLOY_WEIGHTS_URL", "http://127.0.0.1:9/")  # closed port: no download


def mobiledeploy(*args, check=None, env=None, cwd=None, timeout=600) -> subprocess.CompletedProcess:
    """Run the real console script; check=True/False asserts the exit status."""
    full_env = {**os.environ, **(env or {})}
    exe = Path(sys.executable).with_name("mobiledeploy")
    proc = subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, env=full_env, cwd=cwd,
                          timeout=timeout)
    if check is True:
        assert proc.returncode == 0, proc.stderr
    if check is False:
        assert proc.returncode != 0, proc.stdout
    return proc


def assert_one_line_error(proc, *fragments):
    """A user error: non-zero exit, no traceback, one `error:` line that says what is wrong."""
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    for fragment in fragments:
        assert fragment.lower() in errors[0].lower(), errors[0]
    return errors[0]


@pytest.fixture(scope="session")
def main_job(tmp_path_factory):
    """The README's main job, offline: export --alpha 0.5 --res 128 --int8 (data-free calibration)."""
    out = tmp_path_factory.mktemp("models")
    home = tmp_path_factory.mktemp("job-home")
    proc = mobiledeploy("export", "--alpha", "0.5", "--res", "128", "--int8", "--out", out, "--json",
                        env={"KERAS_HOME": str(home), "MOBILEDEPLOY_WEIGHTS_URL": "http://127.0.0.1:9/"})
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), proc


@pytest.fixture(scope="session")
def reference_artifact(tmp_path_factory):
    """Google's 0.25-128 weights imported, calibrated on the 300 ImageNet photos (needs ../shared/data)."""
    sample = shared("imagenet-sample")
    shared("reference", REFERENCE.name)
    out = tmp_path_factory.mktemp("reference-artifact")
    proc = mobiledeploy("export", "--alpha", "0.25", "--res", "128", "--int8", "--weights", REFERENCE,
                        "--calib", sample, "--out", out, "--json")
    assert proc.returncode == 0, proc.stderr
    return Path(json.loads(proc.stdout)["artifact"])


@pytest.fixture(scope="session")
def tiny_artifact(tmp_path_factory):
    """The smallest real artifact (alpha 0.25 at 32 px, TFLite fp32 + int8, data-free): for fault tests."""
    out = tmp_path_factory.mktemp("tiny")
    proc = mobiledeploy("export", "--alpha", "0.25", "--res", "32", "--int8", "--formats", "tflite", "--weights",
                        "none", "--out", out, "--json")
    assert proc.returncode == 0, proc.stderr
    return Path(json.loads(proc.stdout)["artifact"])


def wait_for(predicate, timeout: float = 60.0, step: float = 0.05, proc=None, what: str | None = None):
    """Poll until `predicate()` is truthy and return its value.

    With `proc`, fail as soon as that process ends first; with `what`, fail on the timeout (else the last
    falsy value is returned for the caller to assert on).
    """
    import time

    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"the process ended before {what or 'the condition held'}: "
                        f"{proc.stderr.read() if proc.stderr else ''}")
        time.sleep(step)
    value = predicate()
    if not value and what is not None:
        pytest.fail(f"timed out waiting for {what}")
    return value


CLASSIFY = ROOT / "raspberrypi" / "classify.py"


def run_classifier(*args, timeout: float = 300, env=None) -> subprocess.CompletedProcess:
    """The Pi classifier (raspberrypi/classify.py) in a subprocess, as a user runs it."""
    return subprocess.run([sys.executable, str(CLASSIFY), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


@pytest.fixture
def sshd(tmp_path):
    """A real OpenSSH server on loopback (tests/sshd.py), stopped after the test."""
    from sshd import Sshd

    server = Sshd(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def adb(tmp_path, monkeypatch):
    """A private adb server (its own port and keys, tests/adbd.py); yields a function that connects fake phones."""
    from adbd import private_server

    with private_server(tmp_path, monkeypatch) as connect:
        yield connect


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def weights_server(tmp_path):
    """A loopback HTTP server serving a folder, standing in for Keras's weight host."""
    served = tmp_path / "served"
    served.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(served)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
