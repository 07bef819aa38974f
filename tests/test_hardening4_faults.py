"""Issue 34's remaining classes, with real parts: leftovers (runner folders after SIGKILL, adb's server and
log, onnxruntime's telemetry files), the local runner's streams, `ulimit -f`, export options that would be
dropped, and benchmark_model output without an average. (Class 11, the Android build, is in
tests/android/test_android_faults.py.)"""
from __future__ import annotations

import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import assert_one_line_error, mobiledeploy, wait_for

EXE = Path(sys.executable).with_name("mobiledeploy")


@pytest.fixture(scope="module")
def onnx_artifact(tmp_path_factory) -> Path:
    """The smallest artifact with ONNX files too (alpha 0.25 at 32 px, random weights)."""
    out = tmp_path_factory.mktemp("onnx-art")
    proc = mobiledeploy("export", "--alpha", "0.25", "--res", "32", "--int8", "--weights", "none", "--out", out,
                        "--json", env={"MOBILEDEPLOY_WEIGHTS_URL": "http://127.0.0.1:9/"})
    assert proc.returncode == 0, proc.stderr
    return Path(json.loads(proc.stdout)["artifact"])


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def _add_local_device(name: str, python: Path) -> None:
    """A local-kind device with its own python (devices.toml by hand: `devices add` makes ssh and adb ones)."""
    folder = Path(os.environ["MOBILEDEPLOY_HOME"])
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "devices.toml", "a") as f:
        f.write(f'\n[devices.{name}]\nkind = "local"\npython = "{python}"\n')


def _script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


# --- ulimit -f: one line, exit 2, nothing half-written -----------------------------------------------------

def test_export_past_the_file_size_limit(tmp_path):
    """RLIMIT_FSIZE below the size of a model file: the write fails with EFBIG (Python ignores SIGXFSZ)."""
    out = tmp_path / "models"

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (200 << 10, 200 << 10))

    proc = subprocess.run([str(EXE), "export", "--alpha", "0.25", "--res", "32", "--weights", "none", "--formats",
                           "tflite", "--out", str(out)], capture_output=True, text=True, timeout=600,
                          preexec_fn=limit)
    assert proc.returncode == 2, proc.stderr
    assert_one_line_error(proc, "file too large", "ulimit -f", str(out))
    assert not out.exists() or not any(out.iterdir())


# --- export options that only change files this export does not write --------------------------------------

@pytest.mark.parametrize("args,fragments", [
    (["--io", "float"], ["--io float", "add --int8"]),
    (["--formats", "onnx", "--int8", "--io", "uint8"], ["--io uint8", "add tflite to --formats"]),
    (["--formats", "onnx", "--precisions", "fp16"], ["fp16", "tflite only", "add tflite"]),
    (["--formats", "onnx", "--precision", "dynamic"], ["dynamic", "tflite only"]),
    (["--calib-method", "entropy"], ["--calib-method entropy", "int8"]),
    (["--fallback-float", "3", "--bias-correction"], ["--fallback-float and --bias-correction", "leave them out"]),
])
def test_export_refuses_an_option_it_would_drop(tmp_path, args, fragments):
    out = tmp_path / "models"
    proc = mobiledeploy("export", "--alpha", "0.25", "--res", "32", "--weights", "none", "--out", out, *args)
    assert proc.returncode == 2, proc.stderr
    assert_one_line_error(proc, *fragments)
    assert not out.exists()


def test_export_keeps_what_the_options_do_apply_to(tmp_path):
    """fp16 with tflite and onnx: the TFLite fp16 file is written (ONNX has no fp16 kind, as --help lists)."""
    proc = mobiledeploy("export", "--alpha", "0.25", "--res", "32", "--weights", "none", "--precisions", "fp16",
                        "--out", tmp_path, "--json")
    assert proc.returncode == 0, proc.stderr
    names = sorted(f["name"] for f in json.loads(proc.stdout)["files"])
    assert names == ["model_fp16.tflite", "model_fp32.onnx", "model_fp32.tflite"]


# --- benchmark_model output without an average ---------------------------------------------------------------

def test_benchmark_model_timing_line_without_average_is_a_value_error():
    from mobiledeploy.bench import benchmark_model

    for text in ("count=20 first=1200 curr=1100 min=1000 max=1300 std=40",
                 "count=5 avg=1300\ncount=20 first=1200 curr=1100 min=1000 max=1300"):
        with pytest.raises(ValueError, match="no average"):
            benchmark_model.parse(text)
    parsed = benchmark_model.parse("count=5 first=1 std=0\ncount=20 avg=1100 std=40")  # warm-up without avg: fine
    assert benchmark_model.summary(parsed)["mean_ms"] == 1.1 and parsed["warmup_avg_ms"] is None


def test_bench_over_adb_with_output_without_average(adb, tiny_artifact, tmp_path):
    """A benchmark_model that prints timing lines without avg=: one line naming the phone, exit 2, no record."""
    phone = adb()
    tool = _script(tmp_path / "benchmark_model",
                   'echo "INFO: count=10 first=1500 curr=1200 min=1100 max=1500 std=90"\n'
                   'echo "INFO: count=50 first=1200 curr=1100 min=1000 max=1300 std=40"\n')
    mobiledeploy("devices", "add", "pixel", "--adb", phone.serial, "--benchmark-binary", tool, check=True)
    proc = mobiledeploy("bench", tiny_artifact, "--device", "pixel", "--file", "model_int8.tflite", "--runs", "5")
    assert proc.returncode == 2, proc.stderr
    assert_one_line_error(proc, phone.serial, "no average")


# --- the local runner's streams are bounded, as the SSH runner's -------------------------------------------

# runs argv, then says its exit status and the peak RSS (kB) of the largest process below it
_PEAK = ("import resource, subprocess, sys; p = subprocess.run(sys.argv[1:], capture_output=True); "
         "sys.stdout.buffer.write(p.stdout); sys.stderr.buffer.write(p.stderr); "
         "print(f'\\npeak {p.returncode} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}', file=sys.stderr)")


def _peak_rss_mb(*argv) -> tuple[int, str, float]:
    """(exit status, stdout, peak RSS in MB of the command or any process it ran)."""
    proc = subprocess.run([sys.executable, "-c", _PEAK, *map(str, argv)], capture_output=True, text=True,
                          timeout=300)
    _, code, kb = proc.stderr.strip().splitlines()[-1].split()
    return int(code), proc.stdout, int(kb) / 1024


def test_local_runner_flooding_stderr_keeps_memory_bounded(tmp_path):
    """300 MB on stderr before a real probe: `devices check` answers, and its peak memory does not grow by it."""
    flood = _script(tmp_path / "python", f'head -c 300000000 /dev/zero | tr "\\0" x >&2\nexec {sys.executable} "$@"\n')
    _add_local_device("flood", flood)
    quiet = _script(tmp_path / "python-quiet", f'exec {sys.executable} "$@"\n')
    _add_local_device("quiet", quiet)
    peaks = {}
    for name in ("quiet", "flood"):
        code, out, peaks[name] = _peak_rss_mb(EXE, "devices", "check", name, "--json")
        assert code == 0 and json.loads(out)["reachable"] is True
    print(f"\npeak RSS: quiet {peaks['quiet']:.0f} MB, flood {peaks['flood']:.0f} MB")
    assert peaks["flood"] < peaks["quiet"] + 64


def test_local_runner_flooding_stdout_is_stopped(tmp_path):
    _add_local_device("yes", _script(tmp_path / "python", "exec yes\n"))
    start = time.monotonic()
    proc = mobiledeploy("devices", "check", "yes", timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert_one_line_error(proc, "printed more than 16 MiB", "stopped")
    assert time.monotonic() - start < 60


def test_local_runner_crash_names_its_last_error_line(tmp_path):
    _add_local_device("crash", _script(tmp_path / "python", 'echo "Traceback (most recent call last):" >&2\n'
                                                                   'echo "ImportError: numpy is broken" >&2\nexit 1\n'))
    proc = mobiledeploy("devices", "check", "crash")
    assert proc.returncode == 2, proc.stderr
    assert_one_line_error(proc, "printed no result", "ImportError: numpy is broken")


# --- leftovers ----------------------------------------------------------------------------------------------

def test_runner_folder_left_by_a_killed_bench_is_collected_and_nothing_else(tmp_path, tiny_artifact):
    """SIGKILL of bench leaves its .runner.tmp-PID-* folder; the next local run removes it, and only it: not a
    folder whose owner lives, one another process holds locked (an owner in another PID namespace), one just
    made, a link named like one (nor what it points to), or one of another user."""
    import fcntl

    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = {**os.environ, "TMPDIR": str(tmpdir)}
    bench = subprocess.Popen([str(EXE), "bench", str(tiny_artifact), "--file", "model_fp32.tflite", "--runs", "2",
                              "--warmup", "0", "--cooldown", "60", "--processes", "1"], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    left = wait_for(lambda: list(tmpdir.glob(".runner.tmp-*")), timeout=120, proc=bench, what="the runner's folder")
    bench.kill()
    bench.wait()
    assert [p.name for p in left] == [p.name for p in tmpdir.glob(".runner.tmp-*")]  # the premise: it stays
    killed = left[0]
    assert killed.name.startswith(f".runner.tmp-{bench.pid}-")

    old = time.time() - 3600
    dead = _dead_pid()
    decoys = {"owner alive": tmpdir / f".runner.tmp-{os.getpid()}-alive",
              "locked": tmpdir / f".runner.tmp-{dead}-locked",
              "young": tmpdir / f".runner.tmp-{dead}-young"}
    for path in decoys.values():
        path.mkdir()
        (path / "file").write_text("kept")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious").write_text("kept")
    decoys["link"] = tmpdir / f".runner.tmp-{dead}-link"
    decoys["link"].symlink_to(outside)
    if os.geteuid() == 0:
        decoys["other user"] = tmpdir / f".runner.tmp-{dead}-other"
        decoys["other user"].mkdir()
        os.chown(decoys["other user"], 65534, 65534)
    for name, path in decoys.items():
        if name != "young":
            os.utime(path, (old, old), follow_symlinks=False)
    os.utime(killed, (old, old))
    lock = os.open(decoys["locked"], os.O_RDONLY)
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        proc = mobiledeploy("devices", "check", "local", "--json", env={"TMPDIR": str(tmpdir)})
        assert proc.returncode == 0, proc.stderr
    finally:
        os.close(lock)
    assert not killed.exists()
    for name, path in decoys.items():
        assert os.path.lexists(path), name
    assert (outside / "precious").read_text() == "kept"
    assert sorted(p.name for p in tmpdir.iterdir()) == sorted(p.name for p in decoys.values())


def test_onnxruntime_leaves_nothing_in_tmpdir_or_the_home_cache(tmp_path, onnx_artifact):
    """onnxruntime 1.2x's telemetry writes $TMPDIR/.ses and ~/.cache/Microsoft/... on import: turned off for
    predict (in this process) and bench (in the runner)."""
    tmpdir, user = tmp_path / "tmp", tmp_path / "user"
    tmpdir.mkdir()
    user.mkdir()
    env = {"TMPDIR": str(tmpdir), "HOME": str(user), "XDG_CACHE_HOME": str(user / ".cache")}
    image = tmp_path / "photo.png"
    from PIL import Image

    Image.new("RGB", (40, 30), (200, 100, 50)).save(image)
    proc = mobiledeploy("predict", onnx_artifact, image, "--file", "model_int8.onnx", env=env)
    assert proc.returncode == 0, proc.stderr
    proc = mobiledeploy("bench", onnx_artifact, "--file", "model_fp32.onnx", "--runs", "5", "--processes", "1",
                        "--max-seconds", "5", env=env)
    assert proc.returncode == 0, proc.stderr
    assert list(tmpdir.iterdir()) == []
    assert not (user / ".cache" / "Microsoft").exists()


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def adb_port(tmp_path, monkeypatch):
    """A private adb server port with no server on it (killed afterwards whatever the test did)."""
    from sshd import free_port

    if not shutil.which("adb"):
        pytest.skip("needs Debian's adb client")
    port = free_port()
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(port))
    monkeypatch.setenv("ANDROID_USER_HOME", str(tmp_path / "android-home"))
    monkeypatch.delenv("ANDROID_SERIAL", raising=False)
    monkeypatch.delenv("ANDROID_ADB_LOG_PATH", raising=False)
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmpdir))
    yield port, tmpdir
    subprocess.run(["adb", "kill-server"], capture_output=True, timeout=60)


def test_adb_server_we_started_is_stopped_and_logs_nothing(adb_port):
    port, tmpdir = adb_port
    assert not _listening(port)
    mobiledeploy("devices", "add", "pixel", "--adb", "auto", check=True)
    proc = mobiledeploy("devices", "check", "pixel")
    assert_one_line_error(proc, "no android device")
    assert not _listening(port)
    assert list(tmpdir.iterdir()) == []  # no adb.UID.log


def test_adb_server_the_user_runs_is_left_running(adb_port):
    port, tmpdir = adb_port
    subprocess.run(["adb", "start-server"], capture_output=True, timeout=60, check=True)
    assert _listening(port)
    mobiledeploy("devices", "add", "pixel", "--adb", "auto", check=True)
    assert_one_line_error(mobiledeploy("devices", "check", "pixel"), "no android device")
    assert _listening(port)


def test_adb_server_stopped_by_its_last_user(adb_port):
    """Two uses of one server we started (two phones of one sweep, or two processes): the first to finish
    leaves it running for the other; the last stops it."""
    from mobiledeploy.bench.adb import ServerUse

    port, _ = adb_port
    first, second = ServerUse(shutil.which("adb")), ServerUse(shutil.which("adb"))
    first.start()
    assert first.started and _listening(port)
    second.start()
    assert not second.started
    first.stop()
    assert _listening(port)
    second.stop()
    assert not _listening(port)
    first.stop()  # again: nothing
