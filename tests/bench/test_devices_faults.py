"""devices.toml under concurrent edits (every `devices add` that says "added" is kept), and a
--benchmark-binary that is not there (refused when added, not at the first bench)."""
import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import assert_one_line_error, mobiledeploy
from mobiledeploy import fsutil
from mobiledeploy.errors import MobiledeployError

EXE = Path(sys.executable).with_name("mobiledeploy")


def _start_all(home: Path, commands: list[list[str]]) -> list[subprocess.CompletedProcess]:
    """Start every command at once (real CLI processes, one MOBILEDEPLOY_HOME), then wait for them all."""
    env = {**os.environ, "MOBILEDEPLOY_HOME": str(home)}
    procs = [subprocess.Popen([str(EXE), *c], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for c in commands]
    return [subprocess.CompletedProcess(p.args, p.wait(timeout=120), p.stdout.read(), p.stderr.read())
            for p in procs]


def _listed(home: Path) -> set[str]:
    proc = mobiledeploy("devices", "list", "--json", env={"MOBILEDEPLOY_HOME": str(home)}, check=True)
    return set(json.loads(proc.stdout)["devices"]) - {"local"}


def test_concurrent_adds_keep_every_device(tmp_path):
    home = tmp_path / "home"
    names = [f"d{i}" for i in range(8)]
    done = _start_all(home, [["devices", "add", n, "--ssh", f"u@127.0.0.1:22{i}"] for i, n in enumerate(names)])
    assert all(p.returncode == 0 and "added" in p.stdout for p in done), [p.stderr for p in done]
    assert _listed(home) == set(names)
    assert sorted(p.name for p in home.iterdir()) == ["devices.toml"]  # no lock file, no temporary left
    assert oct((home / "devices.toml").stat().st_mode & 0o777) == "0o600"


def test_concurrent_adds_and_removes(tmp_path):
    home = tmp_path / "home"
    for i in range(4):
        mobiledeploy("devices", "add", f"old{i}", "--ssh", "u@h", env={"MOBILEDEPLOY_HOME": str(home)}, check=True)
    commands = [["devices", "remove", f"old{i}"] for i in range(4)]
    commands += [["devices", "add", f"new{i}", "--adb", f"SERIAL{i}"] for i in range(4)]
    done = _start_all(home, commands)
    assert all(p.returncode == 0 for p in done), [p.stderr for p in done]
    assert _listed(home) == {f"new{i}" for i in range(4)}


def test_benchmark_binary_must_exist_when_added(tmp_path):
    env = {"MOBILEDEPLOY_HOME": str(tmp_path / "home")}
    for path, what in ((tmp_path / "missing", "does not exist"), (tmp_path, "is not a regular file")):
        proc = mobiledeploy("devices", "add", "phone", "--adb", "SERIAL", "--benchmark-binary", path, env=env)
        assert proc.returncode == 2
        assert_one_line_error(proc, "--benchmark-binary", str(path), what)
    assert not (tmp_path / "home" / "devices.toml").exists()  # nothing was added
    binary = tmp_path / "benchmark_model"
    binary.write_bytes(b"\x7fELF")
    mobiledeploy("devices", "add", "phone", "--adb", "SERIAL", "--benchmark-binary", binary, env=env, check=True)
    proc = mobiledeploy("devices", "list", "--json", env=env, check=True)
    assert json.loads(proc.stdout)["devices"]["phone"]["benchmark_binary"] == str(binary)


def test_an_edit_held_up_too_long_is_one_line_not_a_hang(tmp_path):
    """The lock is the folder's flock: a process holding it for long (another job) is reported, then released."""
    path = tmp_path / "devices.toml"
    holder = os.open(tmp_path, os.O_RDONLY)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)
        with pytest.raises(MobiledeployError, match="cannot edit .*devices.toml: another process has held"), \
                fsutil.editing(path, wait=0.3):
            pass
    finally:
        os.close(holder)
    with fsutil.editing(path, wait=0.3) as locked:
        assert locked == path
    assert list(tmp_path.iterdir()) == []  # no lock file
