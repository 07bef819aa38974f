"""A real lab for the tests (its fixtures are imported by the test modules): the lab's certificates, a Dask scheduler and workers as separate processes
(`mobiledeploy lab scheduler|worker`), each worker with its own MOBILEDEPLOY_HOME and devices.toml naming an SSH
board on the loopback sshd (tests/sshd.py). Every process is stopped by its finalizer (SIGTERM, then SIGKILL)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import mobiledeploy
from sshd import Sshd, free_port

EXE = str(Path(sys.executable).with_name("mobiledeploy"))
PATCHED = Path(__file__).with_name("patched.py")


def patched(*opts) -> list[str]:
    """The launcher of a host unlike this one (patched.py: another version, no TensorFlow)."""
    return [sys.executable, str(PATCHED), *opts, "--"]


class Proc:
    """A `mobiledeploy` process started in its own session; its output is collected in the background."""

    def __init__(self, *args, env: dict, ready: str | None = None, timeout: float = 60, launcher=None):
        self.proc = subprocess.Popen([*(launcher or [EXE]), *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, env={**os.environ, **env}, start_new_session=True)
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        if ready is not None:
            deadline = time.time() + timeout
            while not any(ready in line for line in self.lines):
                if self.proc.poll() is not None or time.time() > deadline:
                    self.stop()
                    raise RuntimeError(f"{args[:2]} did not start: {self.output}")
                time.sleep(0.05)

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait(self, timeout: float = 60) -> int:
        code = self.proc.wait(timeout)
        self.reader.join(5)
        return code

    def stop(self, sig=signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
                self.proc.wait(30)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                pass
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(10)
        self.reader.join(5)


def add_board(sshd, home: Path, name: str) -> None:
    """`devices add NAME --ssh root@127.0.0.1:PORT` into one worker's own home."""
    mobiledeploy("devices", "add", name, "--ssh", f"root@{sshd.host}:{sshd.port}", "--key", sshd.client_key,
                 "--known-hosts", sshd.known_hosts, "--python", sys.executable, "--workdir", sshd.workdir,
                 env={"MOBILEDEPLOY_HOME": str(home)}, check=True)


def runners(sshd) -> list[int]:
    """Runner processes under the sshd (a board still measuring)."""
    out = []
    for pid in sshd.descendants() - {sshd.proc.pid}:
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "python" in cmd:
            out.append(pid)
    return out


class Lab:
    def __init__(self, root, certs, sshd):
        self.root, self.certs, self.sshd = root, certs, sshd
        self.address = f"tls://127.0.0.1:{free_port()}"
        self.procs: list[Proc] = []
        self.client_home = root / "client-home"
        self.workers: dict[str, Proc] = {}   # host -> its newest worker process

    def home(self, name):
        path = self.root / f"{name}-home"
        path.mkdir(exist_ok=True)
        return path

    def start_scheduler(self):
        self.scheduler = self.start("lab", "scheduler", "--certs", self.certs / "sched", "--listen", self.address,
                                    home=self.home("sched"), ready="listening on")
        return self.scheduler

    def start_worker(self, name: str, board: str, add: bool = True, ready: str | None = "serving", **kw):
        home = self.home(name)
        if add:
            add_board(self.sshd, home, board)
        proc = self.start("lab", "worker", self.address, "--certs", self.certs / name, "--devices", board,
                          home=home, ready=ready, **kw)
        self.workers[name] = proc
        return proc

    def start(self, *args, home, ready=None, **kw):
        proc = Proc(*args, env={"MOBILEDEPLOY_HOME": str(home)}, ready=ready, **kw)
        self.procs.append(proc)
        return proc

    def client(self, *args, check=None, timeout=600):
        """A command of the client (alice), with the client's own home."""
        return mobiledeploy(*args, env={"MOBILEDEPLOY_HOME": str(self.client_home)}, check=check, timeout=timeout)

    def status(self) -> dict:
        return json.loads(self.client("lab", "status", self.address, "--certs", self.certs / "alice", "--json",
                                      check=True).stdout)

    def stop(self):
        for p in reversed(self.procs):
            p.stop()


@pytest.fixture(scope="module")
def lab(tmp_path_factory, certs, board_server):
    lab = Lab(tmp_path_factory.mktemp("lab"), certs, board_server)
    try:
        lab.start_scheduler()
        lab.start_worker("desk1", "board1")
        lab.start_worker("desk2", "board2")
        yield lab
    finally:
        lab.stop()


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """The lab's certificates: scheduler sched, workers desk1-5, client alice."""
    out = tmp_path_factory.mktemp("lab-certs") / "lab"
    mobiledeploy("lab", "certs", "--out", out, "--scheduler", "sched", "--workers", "desk1,desk2,desk3,desk4,desk5",
                 "--clients", "alice", "--json", check=True)
    return out


@pytest.fixture(scope="module")
def board_server(tmp_path_factory):
    """One loopback sshd: every worker's board is on it (each worker names its own)."""
    server = Sshd(tmp_path_factory.mktemp("sshd")).start()
    yield server
    server.stop()
