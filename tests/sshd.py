"""A real OpenSSH server on a loopback port, for the bench's SSH path (there is no board here).

Debian's /usr/sbin/sshd runs with a temporary host key and one authorized client key; it must run
as root (privilege separation). Tests skip with the reason when either is missing.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

SSHD = "/usr/sbin/sshd"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def keygen(path: Path) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return (path.with_suffix(".pub") if path.suffix else Path(str(path) + ".pub")).read_text().strip()


class Sshd:
    """Start with start(); `descendants_kill()` cuts every live session, as a crash or reboot would."""

    def __init__(self, root: Path, sftp: bool = True, host: str = "127.0.0.1"):
        if not Path(SSHD).exists() or not shutil.which("ssh-keygen"):
            pytest.skip("needs Debian's openssh-server (make install installs it as root)")
        if os.geteuid() != 0:
            pytest.skip("sshd needs root for privilege separation")
        self.root, self.host = root, host   # host: the address it listens on (loopback unless a test's network)
        self.port = free_port()
        self.host_key = root / "host_ed25519"
        self.client_key = root / "client_ed25519"
        host_pub = keygen(self.host_key)
        client_pub = keygen(self.client_key)
        (root / "authorized_keys").write_text(client_pub + "\n")
        self.known_hosts = root / "known_hosts"
        self.known_hosts.write_text(f"[{host}]:{self.port} {' '.join(host_pub.split()[:2])}\n")
        self.config = root / "sshd_config"
        self.config.write_text("\n".join([
            f"Port {self.port}", f"ListenAddress {host}", f"HostKey {self.host_key}",
            f"AuthorizedKeysFile {root / 'authorized_keys'}", "PubkeyAuthentication yes",
            "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no", "StrictModes no",
            "PermitRootLogin prohibit-password", f"PidFile {root / 'sshd.pid'}",
            *(["Subsystem sftp internal-sftp"] if sftp else []), "LogLevel ERROR", ""]))
        Path("/run/sshd").mkdir(exist_ok=True)  # privilege-separation directory
        self.workdir = root / "board-workdir"  # the runs' folders go here, never into the shared /tmp
        self.workdir.mkdir()
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(self.config)], stderr=subprocess.PIPE)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection((self.host, self.port), 0.2).close()
                return self
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"sshd exited: {self.proc.stderr.read().decode()}")
                time.sleep(0.05)
        raise RuntimeError("sshd did not start listening")

    def descendants(self) -> set[int]:
        """sshd and every process below it (its session children, the runner)."""
        pids, frontier = {self.proc.pid}, {self.proc.pid}
        while frontier:
            children = set()
            for stat in Path("/proc").glob("[0-9]*/stat"):
                try:
                    fields = stat.read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) in frontier:
                    children.add(int(stat.parent.name))
            frontier = children - pids
            pids |= children
        return pids

    def signal_all(self, sig) -> set[int]:
        """Send a signal to sshd and everything below it; the pids it reached."""
        pids = self.descendants()
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        return pids

    def freeze(self):
        """SIGSTOP the server and its sessions: a board that hangs (TCP stays up, nothing answers)."""
        self.frozen = self.signal_all(signal.SIGSTOP)

    def thaw(self):
        """SIGCONT what freeze() stopped (and anything started since)."""
        for pid in set(getattr(self, "frozen", ())) | self.descendants():
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        self.frozen = set()

    def descendants_kill(self):
        """SIGKILL sshd and every process below it (its session children), as a crash or reboot would."""
        self.signal_all(signal.SIGKILL)
        self.proc.wait(5)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.thaw()
            self.descendants_kill()


def add_board(sshd: "Sshd", *extra, name: str = "board", python: str | None = None, key=None, known=None,
              port: int | None = None, fast: bool = False) -> None:
    """`mobiledeploy devices add NAME --ssh root@127.0.0.1:PORT` for this server (its workdir unless given).

    fast: short connect/keepalive/dead-peer timeouts, for the fault tests that wait for a board to vanish.
    """
    import sys

    from conftest import mobiledeploy

    if "--workdir" not in extra:
        extra = (*extra, "--workdir", sshd.workdir)
    if fast:
        extra = ("--connect-timeout", "3", "--keepalive", "0.5", "--dead-timeout", "3", *extra)
    mobiledeploy("devices", "add", name, "--ssh", f"root@127.0.0.1:{port or sshd.port}", "--key",
                 key or sshd.client_key, "--known-hosts", known or sshd.known_hosts, "--python",
                 python or sys.executable, *extra, check=True)
