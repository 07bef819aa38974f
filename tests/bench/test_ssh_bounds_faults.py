"""A board runner that hangs, trickles or floods is bounded: every remote run has a deadline derived from the
bench settings, stdout and stderr are capped, and the stop command kills the runner's process group under
dash (/bin/sh on Debian and Raspberry Pi OS), where `kill -TERM -- -PGID` is an error.

The SSH cases run against the real OpenSSH server on loopback (tests/sshd.py) with a fake "python" that
answers like the runner until it misbehaves; the floor of the deadline (a minute) is lowered to 3 s in the
process under test so each case takes seconds. That process is a subprocess with its own time limit, so
a run that is never bounded fails the test instead of hanging it.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import wait_for
from mobiledeploy.bench.runner_io import RUN_FLOOR, run_timeout
from mobiledeploy.bench.settings import BenchSettings
from mobiledeploy.bench.ssh import STOP

PY = sys.executable
BOUND = 3.0


# -- the stop command, under the shells a board has ------------------------------------------------------

def _gone(pid: int) -> bool:
    try:
        return "\nState:\tZ" in Path(f"/proc/{pid}/status").read_text()  # killed, not yet reaped
    except OSError:
        return True


@pytest.mark.parametrize("shell", ["dash", "bash", "sh"])
def test_stop_command_kills_the_runner_group(tmp_path, shell):
    if not shutil.which(shell):
        pytest.skip(f"{shell} is not installed (apt-get install {shell})")
    folder = tmp_path / "mobiledeploy.run"
    folder.mkdir()
    # a group leader with a child in its group, as the runner (runner.py --pid-file leads one) and its workers
    leader = subprocess.Popen(["sh", "-c", "sleep 300 & echo $!; wait"], stdout=subprocess.PIPE, text=True,
                              start_new_session=True)
    try:
        child = int(leader.stdout.readline())
        (folder / "pid").write_text(f"{leader.pid}\n")
        proc = subprocess.run([shell, "-c", STOP, "sh", str(folder)], capture_output=True, text=True, timeout=10)
        assert proc.returncode == 0 and proc.stderr == "", proc.stderr
        assert leader.wait(timeout=5) == -signal.SIGTERM
        assert wait_for(lambda: _gone(child), 5), "the runner's child survived the stop"
        assert not folder.exists()
    finally:
        if leader.poll() is None:
            os.killpg(leader.pid, signal.SIGKILL)
            leader.wait()


def test_stop_command_without_a_pid_file_removes_the_folder(tmp_path):
    folder = tmp_path / "mobiledeploy.run"
    folder.mkdir()
    (folder / "model.tflite").write_bytes(b"x")
    shell = shutil.which("dash") or "sh"
    assert subprocess.run([shell, "-c", STOP, "sh", str(folder)], timeout=10).returncode == 0
    assert not folder.exists()


# -- the deadline of a run -----------------------------------------------------------------------------------

def test_run_timeout_follows_the_settings():
    from mobiledeploy.bench.runner_io import PER_INFERENCE

    # the issue's --max-seconds 2 with 50 + 10 inferences: the floor, then the inferences' allowance
    assert run_timeout(BenchSettings(max_seconds=2)) == RUN_FLOOR + 60 * PER_INFERENCE
    assert run_timeout(BenchSettings(max_seconds=60)) == 600 + 60 * PER_INFERENCE
    # every inference (and every cooldown the runner sleeps) is allowed on top: 100010 inferences
    assert run_timeout(BenchSettings(runs=100000, warmup=10, cooldown=0.01)) == pytest.approx(
        RUN_FLOOR + 100010 * (PER_INFERENCE + 0.01))
    assert run_timeout(BenchSettings()) < 3600  # the old and only bound


# -- a misbehaving runner over real SSH ----------------------------------------------------------------------

FAKE = r'''#!{py}
import os, sys, time
args = sys.argv[1:]
if ("--probe" in args) != ({stage!r} == "probe"):
    os.execv({py!r}, [{py!r}, *args])  # the other step is the real runner
# as the runner does: lead a process group and name it in --pid-file; stdin's end is ignored (hung)
if os.getpgrp() != os.getpid():
    os.setsid()
with open(args[args.index("--pid-file") + 1], "w") as f:
    f.write("%d\n" % os.getpid())
if {mode!r} == "sleep":
    time.sleep(600)
elif {mode!r} == "stderr-flood":
    line = b"warning: " + b"x" * 65000 + b"\n"
    while True:
        os.write(2, line)
elif {mode!r} == "stdout-trickle":
    while True:
        os.write(1, b" ")
        time.sleep(0.05)
'''

HARNESS = r'''
import json, resource, sys, time
from pathlib import Path
from mobiledeploy.bench import runner_io, ssh
from mobiledeploy.bench.settings import BenchSettings
from mobiledeploy.errors import MobiledeployError

cfg = json.loads(sys.argv[1])
runner_io.RUN_FLOOR = ssh.PROBE_TIMEOUT = cfg["bound"]  # five minutes each in the tool, plus 2 s an inference
runner_io.PER_INFERENCE = 0.0
target = ssh.SSHTarget("board", cfg["entry"])
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.monotonic()
error = None
try:
    if cfg["stage"] == "probe":
        target.probe()
    else:
        target.run(Path(cfg["model"]), BenchSettings(runs=2, warmup=0, max_seconds=0.1))
except MobiledeployError as exc:
    error = str(exc)
finally:
    target.close()
grew = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak) / 1024
print(json.dumps({"error": error, "seconds": time.monotonic() - start, "grew_mb": grew}))
'''


def board_processes(folder: Path) -> list[int]:
    """Live processes whose command line names a path under folder (the fake runner, its shell)."""
    needle = str(folder).encode()
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if needle in cmdline.read_bytes():
                found.append(int(cmdline.parent.name))
        except OSError:
            continue
    return [p for p in found if p != os.getpid()]


@pytest.mark.parametrize("stage,mode", [("run", "sleep"), ("run", "stderr-flood"), ("run", "stdout-trickle"),
                                        ("probe", "sleep")])
def test_misbehaving_runner_is_bounded_and_stopped(sshd, tmp_path, stage, mode):
    fake = tmp_path / "python"
    fake.write_text(FAKE.format(py=PY, stage=stage, mode=mode))
    fake.chmod(0o755)
    model = tmp_path / "m.tflite"
    model.write_bytes(b"\0" * 1024)
    entry = {"kind": "ssh", "host": "127.0.0.1", "port": sshd.port, "user": "root", "key": str(sshd.client_key),
             "known_hosts": str(sshd.known_hosts), "python": str(fake), "workdir": str(sshd.workdir),
             "connect_timeout": 3, "keepalive": 0.5, "dead_timeout": 3}
    cfg = {"entry": entry, "stage": stage, "model": str(model), "bound": BOUND}
    started = time.monotonic()
    try:
        proc = subprocess.run([PY, "-c", HARNESS, json.dumps(cfg)], capture_output=True, text=True, timeout=40)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{stage} with a runner that does {mode}: not stopped within 40 s (its bound is {BOUND:g} s)")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.splitlines()[-1])
    assert result["error"] and f"took longer than {BOUND:g} s: stopped" in result["error"], result
    assert "--max-seconds" in result["error"] or stage == "probe"  # says what to raise
    assert "\n" not in result["error"]
    assert result["seconds"] < BOUND + 10 and time.monotonic() - started < 30
    assert result["grew_mb"] < 64, f"the tool grew by {result['grew_mb']:.0f} MB reading the runner's output"
    # the hung runner was stopped on the board (by its process group, under the board's /bin/sh)
    assert wait_for(lambda: not board_processes(sshd.workdir), 10), board_processes(sshd.workdir)
    assert not list(sshd.workdir.iterdir())
