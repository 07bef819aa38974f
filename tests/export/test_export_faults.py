"""Faults around writing: signals during export, concurrent publishing, full/read-only disks, wrong paths.

Every case runs the real CLI in a subprocess and checks the exit code, one `error:` line (or the signal's
exit code), no traceback, and that nothing is left behind: no hidden `.NAME.tmp-*` folder or file, no
temporary file in $TMPDIR, and an existing artifact untouched. Full and read-only disks are real small
tmpfs mounts (tests/fsfaults.py; skipped without root).
"""
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from conftest import assert_one_line_error, mobiledeploy, wait_for
from fsfaults import default_signals, fill, leftovers, tmpfs
from mobiledeploy.artifact.bundle import Artifact

pytestmark = pytest.mark.faults

EXE = Path(sys.executable).with_name("mobiledeploy")
# the smallest, fastest export: a 32-pixel, alpha-0.25 TFLite pair with random weights
SMALL = ["export", "--alpha", "0.25", "--res", "32", "--formats", "tflite", "--int8", "--weights", "none"]
NAME = "mobilenet_v1_0.25_32"


def start(out: Path, tmpdir: Path, *extra) -> subprocess.Popen:
    """A small export in the background, with default signal handlers."""
    env = {**os.environ, "TMPDIR": str(tmpdir)}
    return subprocess.Popen([str(EXE), *SMALL, "--out", str(out), *extra], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, preexec_fn=default_signals)


def assert_artifact_complete(folder: Path) -> None:
    art = Artifact.load(folder)
    for entry in art.manifest.files:
        art.path(entry)  # size and sha256 checked


@pytest.fixture(scope="module")
def small_artifact(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("small")
    proc = mobiledeploy(*SMALL, "--out", out, "--json", env={"MOBILEDEPLOY_WEIGHTS_URL": "http://127.0.0.1:9/"},
                        check=True)
    return Path(json.loads(proc.stdout)["artifact"])


# --- signals: Ctrl-C, SIGTERM and SIGHUP unwind the same way ------------------------------------------

@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)],
                         ids=["SIGINT", "SIGTERM", "SIGHUP"])
def test_signal_during_export_leaves_nothing(tmp_path, sig, code):
    out, tmpdir = tmp_path / "out", tmp_path / "tmp"
    tmpdir.mkdir()
    proc = start(out, tmpdir)
    # mid-conversion, the fullest moment: the float file is written in the hidden folder, int8 still to come
    wait_for(lambda: out.is_dir() and any((p / "model_fp32.tflite").exists() for p in out.glob(".*.tmp-*")), 240, proc=proc, what="the float file was written")
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    assert "Traceback" not in err, err
    if sig != signal.SIGINT:
        assert f"terminated by {signal.Signals(sig).name}" in err, err
    assert leftovers(out) == [], "a temporary artifact folder is left in --out"
    assert [p for p in leftovers(tmpdir) if "savedmodel" in p or "mobiledeploy" in p] == []


def test_sigterm_during_onnx_quantization_leaves_nothing(tmp_path):
    """onnxruntime's quantizer keeps its augmented model in $TMPDIR and a cache beside ours."""
    out, tmpdir = tmp_path / "out", tmp_path / "tmp"
    tmpdir.mkdir()
    env = {**os.environ, "TMPDIR": str(tmpdir)}
    proc = subprocess.Popen([str(EXE), *SMALL[:6], "onnx", *SMALL[7:], "--out", str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, preexec_fn=default_signals)
    wait_for(lambda: any(out.glob(f".{NAME}.tmp-*/model_fp32.onnx")), 240, proc=proc, what="model_fp32.onnx was written")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert "Traceback" not in err, err
    # `.ses`: onnxruntime's native library keeps a session-id file in $TMPDIR across runs, also after a
    # successful export; it is not a temporary of the export
    assert leftovers(out) == [] and leftovers(tmpdir, keep=(".ses",)) == []


# --- two exports of the same target at the same time ----------------------------------------------------

def test_concurrent_exports_one_wins_the_other_refuses(tmp_path):
    out = tmp_path / "out"
    procs = [start(out, tmp_path) for _ in range(2)]
    results = [(p.wait(timeout=600), p.stdout.read(), p.stderr.read()) for p in procs]
    codes = sorted(r[0] for r in results)
    assert codes == [0, 2], results
    loser = next(r for r in results if r[0] == 2)
    errors = [line for line in loser[2].splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "appeared" in errors[0] and "--force" in errors[0], loser[2]
    assert "Traceback" not in loser[2]
    assert [p.name for p in out.iterdir()] == [NAME]  # no temporary folder of the loser
    assert_artifact_complete(out / NAME)


def test_concurrent_forced_exports_keep_one_complete_artifact(tmp_path):
    out = tmp_path / "out"
    procs = [start(out, tmp_path, "--force") for _ in range(2)]
    results = [(p.wait(timeout=600), p.stderr.read()) for p in procs]
    assert [r[0] for r in results] == [0, 0], results
    assert [p.name for p in out.iterdir()] == [NAME]  # no .tmp- or .old- folder
    assert_artifact_complete(out / NAME)


@pytest.mark.parametrize("intruder", ["empty folder", "file", "other artifact"])
def test_target_appearing_during_export_is_kept(tmp_path, small_artifact, intruder):
    """os.rename would silently replace an empty folder; the publisher must refuse every kind."""
    import shutil

    out = tmp_path / "out"
    proc = start(out, tmp_path)
    wait_for(lambda: out.is_dir() and any(p.name.startswith(f".{NAME}.tmp-") for p in out.iterdir()), 240, proc=proc, what="the temporary folder appeared")
    target = out / NAME
    if intruder == "empty folder":
        target.mkdir()
    elif intruder == "file":
        target.write_text("someone else's")
    else:
        shutil.copytree(small_artifact, target)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 2
    assert_one_line_error(subprocess.CompletedProcess([], proc.returncode, "", err), "appeared", "--force")
    assert [p.name for p in out.iterdir()] == [NAME]
    if intruder == "empty folder":
        assert target.is_dir() and not any(target.iterdir())
    elif intruder == "file":
        assert target.read_text() == "someone else's"
    else:
        assert_artifact_complete(target)


# --- disks: full, read-only, a file where a folder is expected --------------------------------------------

@pytest.mark.parametrize("fault,fragment", [("full", "no space left"), ("read-only", "read-only")])
def test_export_to_a_faulty_disk(tmp_path, fault, fragment):
    with tmpfs(tmp_path / "disk", "1m", readonly=fault == "read-only") as disk:
        proc = mobiledeploy(*SMALL, "--out", disk / "models")
        assert_one_line_error(proc, fragment, str(disk / "models"))
        assert proc.returncode == 2
        assert leftovers(disk) == []


def test_export_with_a_full_tmpdir(tmp_path):
    """The TFLite conversion runs from a graph frozen in memory (no SavedModel on disk): a full $TMPDIR does not
    stop an export, and nothing is left there."""
    with tmpfs(tmp_path / "tmp", "1m") as tmpdir:
        fill(tmpdir)
        proc = mobiledeploy(*SMALL, "--out", tmp_path / "out", "--json", env={"TMPDIR": str(tmpdir)})
        assert proc.returncode == 0, proc.stderr
        assert "Traceback" not in proc.stderr
        assert leftovers(tmpdir, keep=("filler",)) == []
    assert_artifact_complete(Path(json.loads(proc.stdout)["artifact"]))


@pytest.mark.parametrize("layout", ["out is a file", "out below a file"])
def test_export_out_not_a_folder(tmp_path, layout):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    out = blocker if layout == "out is a file" else blocker / "models"
    proc = mobiledeploy(*SMALL, "--out", out)
    assert_one_line_error(proc, "cannot write", str(blocker))
    assert proc.returncode == 2
    assert blocker.read_text() == "x" and sorted(p.name for p in tmp_path.iterdir()) == ["blocker"]


# --- testvectors: published atomically, like an artifact ---------------------------------------------------

def _images(folder: Path, bad: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(3):
        Image.new("RGB", (40 + i, 30), (50 * i, 90, 200)).save(folder / f"img{i}.png")
    if bad == "corrupt":
        (folder / "img9.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")
    elif bad == "text":
        (folder / "img9.png").write_text("just text")
    return folder


@pytest.mark.parametrize("bad", ["corrupt", "text"])
@pytest.mark.parametrize("previous", [False, True], ids=["fresh", "over-previous"])
def test_testvectors_bad_image_publishes_nothing(tmp_path, small_artifact, bad, previous):
    out = tmp_path / "vectors"
    if previous:
        mobiledeploy("testvectors", small_artifact, "--data", _images(tmp_path / "good"), "--out", out, check=True)
        before = {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    proc = mobiledeploy("testvectors", small_artifact, "--data", _images(tmp_path / "imgs", bad), "--out", out)
    assert_one_line_error(proc, "img9")
    assert proc.returncode == 2
    if previous:
        assert {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    else:
        assert not out.exists()


@pytest.mark.parametrize("fault,fragment", [("full", "no space left"), ("read-only", "read-only")])
def test_testvectors_to_a_faulty_disk(tmp_path, small_artifact, fault, fragment):
    images = _images(tmp_path / "imgs")
    with tmpfs(tmp_path / "disk", "1m", readonly=fault == "read-only") as disk:
        if fault == "full":
            fill(disk)
        proc = mobiledeploy("testvectors", small_artifact, "--data", images, "--out", disk / "vectors")
        assert_one_line_error(proc, fragment)
        assert proc.returncode == 2
        assert leftovers(disk, keep=("filler",)) == []


def test_testvectors_out_is_a_file(tmp_path, small_artifact):
    (tmp_path / "vectors").write_text("x")
    proc = mobiledeploy("testvectors", small_artifact, "--data", _images(tmp_path / "imgs"),
                        "--out", tmp_path / "vectors")
    assert_one_line_error(proc, str(tmp_path / "vectors"))
    assert proc.returncode == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["imgs", "vectors"]


# --- bench --history --plot: the image appears whole or not at all ---------------------------------------

@pytest.fixture(scope="module")
def with_history(small_artifact, home):
    # module fixtures run before the per-test environment: name the isolated home explicitly
    mobiledeploy("bench", small_artifact, "--device", "local", "--file", "model_fp32.tflite", "--runs", "2",
                 "--warmup", "0", env={"MOBILEDEPLOY_HOME": str(home / "mobiledeploy")}, check=True)


@pytest.mark.parametrize("case,fragment", [
    ("folder", "is a folder"),
    ("missing parent", "check the path"),
    ("parent is a file", "not a folder"),
    ("unknown suffix", "cannot draw"),
])
def test_plot_bad_target(tmp_path, with_history, case, fragment):
    (tmp_path / "afile").write_text("x")
    target = {"folder": tmp_path, "missing parent": tmp_path / "nope" / "p.png",
              "parent is a file": tmp_path / "afile" / "p.png", "unknown suffix": tmp_path / "p.xyz"}[case]
    before = sorted(p.name for p in tmp_path.iterdir())
    proc = mobiledeploy("bench", "--history", "--plot", target)
    assert_one_line_error(proc, fragment)
    assert proc.returncode == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no .tmp file


@pytest.mark.parametrize("fault,fragment", [("full", "no space left"), ("read-only", "read-only")])
def test_plot_to_a_faulty_disk(tmp_path, with_history, fault, fragment):
    with tmpfs(tmp_path / "disk", "1m", readonly=fault == "read-only") as disk:
        if fault == "full":
            fill(disk)
        proc = mobiledeploy("bench", "--history", "--plot", disk / "latency.png")
        assert_one_line_error(proc, fragment, str(disk / "latency.png"))
        assert proc.returncode == 2
        assert leftovers(disk, keep=("filler",)) == []


# --- the config file: devices.toml on a faulty disk -----------------------------------------------------------

@pytest.mark.parametrize("fault,fragment", [("full", "no space left"), ("read-only", "read-only")])
def test_devices_add_on_a_faulty_disk(tmp_path, fault, fragment):
    with tmpfs(tmp_path / "home", "1m") as disk:
        mobiledeploy("devices", "add", "board", "--ssh", "pi@192.0.2.1", env={"MOBILEDEPLOY_HOME": str(disk)},
                     check=True)
        before = (disk / "devices.toml").read_text()
        if fault == "full":
            fill(disk)
        else:
            subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        proc = mobiledeploy("devices", "add", "phone", "--adb", "SERIAL1", env={"MOBILEDEPLOY_HOME": str(disk)})
        assert_one_line_error(proc, fragment, "devices.toml")
        assert proc.returncode == 2
        assert (disk / "devices.toml").read_text() == before
        assert leftovers(disk, keep=("filler",)) == ["devices.toml"]


def test_devices_toml_is_a_folder(tmp_path):
    home = tmp_path / "home"
    (home / "devices.toml").mkdir(parents=True)
    proc = mobiledeploy("devices", "add", "board", "--ssh", "pi@192.0.2.1", env={"MOBILEDEPLOY_HOME": str(home)})
    assert_one_line_error(proc, "devices.toml", "folder")
    assert proc.returncode == 2
    assert leftovers(home) == ["devices.toml"]


# --- permission denied: root ignores permission bits, so these run the CLI as nobody -------------------------

@pytest.fixture
def locked(tmp_path_factory):
    """A world-readable folder in /tmp holding `locked/`, owned by root and not writable by others."""
    import shutil
    import tempfile

    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv to run the CLI as an unprivileged user")
    base = Path(tempfile.mkdtemp(prefix="md-perm-"))
    base.chmod(0o755)
    (base / "locked").mkdir(mode=0o755)
    yield base
    shutil.rmtree(base)


def as_nobody(*args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", str(EXE), *map(str, args)],
                          capture_output=True, text=True, cwd="/tmp", timeout=300,
                          env={**os.environ, "HOME": "/tmp", **(env or {})})


@pytest.mark.parametrize("command", ["export", "testvectors", "devices add"])
def test_permission_denied(locked, small_artifact, command):
    import shutil

    target = locked / "locked" / "out"
    if command == "export":
        proc = as_nobody(*SMALL, "--out", target)
    elif command == "testvectors":
        shutil.copytree(small_artifact, locked / "artifact")
        images = _images(locked / "imgs")
        for p in [locked / "artifact", images, *(locked / "artifact").iterdir(), *images.iterdir()]:
            p.chmod(0o755 if p.is_dir() else 0o644)
        proc = as_nobody("testvectors", locked / "artifact", "--data", images, "--out", target)
    else:
        proc = as_nobody("devices", "add", "board", "--ssh", "pi@192.0.2.1", env={"MOBILEDEPLOY_HOME": str(target)})
    assert_one_line_error(proc, "permission denied", str(locked / "locked"))
    assert proc.returncode == 2
    assert list((locked / "locked").iterdir()) == []
