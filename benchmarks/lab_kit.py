"""Shared by benchmarks/lab_speedup.py and lab_scale.py (not a benchmark itself): a real lab on this machine.

The lab's certificates, a scheduler and workers as separate `mobiledeploy lab` processes (mutual TLS on loopback),
each worker with its own MOBILEDEPLOY_HOME, and SSH boards on loopback sshd's (tests/sshd.py: needs root and
openssh-server). Every process it starts is stopped by its own process group id when the lab closes.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from _common import CLI, ROOT

sys.path.insert(0, str(ROOT / "tests"))
from sshd import Sshd, free_port  # noqa: E402

QUIET_ENV = {"MOBILEDEPLOY_WEIGHTS_URL": "http://127.0.0.1:9/"}   # no download: random weights


def run(*args, home: Path, check: bool = True, timeout: float = 3600) -> tuple[subprocess.CompletedProcess, float]:
    """`mobiledeploy ARGS` with this home; (process, wall seconds)."""
    start = time.perf_counter()
    proc = subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **QUIET_ENV, "MOBILEDEPLOY_HOME": str(home)})
    wall = time.perf_counter() - start
    if check and proc.returncode != 0:
        raise SystemExit(f"mobiledeploy {' '.join(map(str, args[:3]))} ... failed ({proc.returncode}): "
                         f"{proc.stderr.strip()[-2000:]}")
    return proc, wall


class Proc:
    """A long-running `mobiledeploy` process in its own session, its output collected in the background."""

    def __init__(self, *args, home: Path, ready: str, timeout: float = 120):
        self.proc = subprocess.Popen([CLI, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, start_new_session=True,
                                     env={**os.environ, **QUIET_ENV, "MOBILEDEPLOY_HOME": str(home)})
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.time() + timeout
        while not any(ready in line for line in self.lines):
            if self.proc.poll() is not None or time.time() > deadline:
                self.stop()
                raise SystemExit(f"mobiledeploy {' '.join(map(str, args[:2]))} did not start: "
                                 + "\n".join(self.lines[-20:]))
            time.sleep(0.05)

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def cpu_seconds(self) -> float:
        """User + system CPU seconds of the process so far (its own, not its children's)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if self.proc.poll() is not None:
                return
            try:
                os.killpg(self.proc.pid, sig)
                self.proc.wait(30)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass


def add_board(home: Path, name: str, server: Sshd, python: str = sys.executable, workdir: Path | None = None):
    """`devices add NAME --ssh root@127.0.0.1:PORT` into one home."""
    run("devices", "add", name, "--ssh", f"root@127.0.0.1:{server.port}", "--key", server.client_key,
        "--known-hosts", server.known_hosts, "--python", python, "--workdir", workdir or server.workdir, home=home)


class Lab:
    """A scheduler and named workers on this machine; `with Lab(root, workers) as lab:` stops them all."""

    def __init__(self, root: Path, workers: list[str]):
        self.root = root
        self.workers = workers
        self.certs = root / "lab-certs"
        self.address = f"tls://127.0.0.1:{free_port()}"
        self.procs: dict[str, Proc] = {}
        run("lab", "certs", "--out", self.certs, "--scheduler", "sched", "--workers", ",".join(workers),
            "--clients", "client", "--json", home=self.home("client"))

    def home(self, name: str) -> Path:
        path = self.root / f"{name}-home"
        path.mkdir(exist_ok=True)
        return path

    def __enter__(self) -> "Lab":
        self.procs["sched"] = Proc("lab", "scheduler", "--certs", self.certs / "sched", "--listen", self.address,
                                   home=self.home("sched"), ready="listening on")
        return self

    def start_worker(self, name: str, devices: list[str]) -> Proc:
        self.procs[name] = Proc("lab", "worker", self.address, "--certs", self.certs / name, "--devices",
                                ",".join(devices), home=self.home(name), ready="serving")
        return self.procs[name]

    def client_args(self) -> list:
        return ["--lab", self.address, "--lab-certs", self.certs / "client"]

    def status(self) -> dict:
        proc, _ = run("lab", "status", self.address, "--certs", self.certs / "client", "--json",
                      home=self.home("client"))
        return json.loads(proc.stdout)

    def __exit__(self, *exc) -> None:
        for proc in reversed(list(self.procs.values())):
            proc.stop()


def sshd(root: Path) -> Sshd:
    root.mkdir(parents=True, exist_ok=True)
    return Sshd(root).start()
