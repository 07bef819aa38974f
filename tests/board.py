"""A Raspberry-Pi-like board for tests: an arm64 Debian root file system run under qemu-user, with its own
OpenSSH server in a network namespace that has its own address. Real aarch64 code end to end (sshd,
Python, numpy, LiteRT); timings under emulation mean nothing, results do.

Needs root, binfmt_misc, network namespaces, qemu-user-static and mmdebstrap (make test-board installs
the last two); otherwise the tests skip with the reason. The root file system is cached in
/var/cache/mobiledeploy-board (a few minutes to build once).

Network rules: the test subnet is first made unreachable, then one veth pair links this host
(10.213.<n>.1) and the namespace (10.213.<n>.2); nothing else is routed; everything is removed after.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

CACHE = Path(os.environ.get("MOBILEDEPLOY_BOARD_CACHE", "/var/cache/mobiledeploy-board"))
SUBNET = "10.213.0.0/16"
PACKAGES = ["python3", "openssh-server"]
WHEELS = ["ai-edge-litert>=1.2,<3", "numpy<3", "pillow", "jsonschema", "rich", "click", "platformdirs", "tomlkit"]
BINFMT = Path("/proc/sys/fs/binfmt_misc")
QEMU_CONF = Path("/usr/lib/binfmt.d/qemu-aarch64.conf")


def run(*cmd, check=True, **kw):
    return subprocess.run([str(c) for c in cmd], check=check, capture_output=True, text=True, **kw)


def prerequisites() -> None:
    """Skip with the reason when this machine cannot host the board."""
    if os.geteuid() != 0:
        pytest.skip("board tier needs root (chroot, network namespaces, binfmt_misc)")
    for tool in ("qemu-aarch64-static", "mmdebstrap", "ip", "ssh-keygen"):
        if not shutil.which(tool):
            pytest.skip(f"board tier needs {tool} (make test-board installs qemu-user-static and mmdebstrap)")
    if not (BINFMT / "register").exists():
        if run("mount", "-t", "binfmt_misc", "binfmt_misc", BINFMT, check=False).returncode != 0:
            pytest.skip("board tier needs binfmt_misc, which cannot be mounted here")
    if not (BINFMT / "qemu-aarch64").exists():
        if not QEMU_CONF.exists():
            pytest.skip(f"board tier needs {QEMU_CONF} (qemu-user-static)")
        try:
            (BINFMT / "register").write_text(QEMU_CONF.read_text().strip().splitlines()[-1])
        except OSError as exc:
            pytest.skip(f"cannot register qemu-aarch64 with binfmt_misc: {exc}")
    probe = f"mdprobe{os.getpid()}"
    if run("ip", "netns", "add", probe, check=False).returncode != 0:
        pytest.skip("board tier needs network namespaces (ip netns add failed)")
    run("ip", "netns", "del", probe, check=False)


def rootfs() -> Path:
    """The cached arm64 root with Python, sshd and the runtime's wheels; built when missing."""
    key = hashlib.sha256(" ".join(PACKAGES + WHEELS).encode()).hexdigest()[:12]
    root = CACHE / f"bookworm-arm64-{key}"
    if (root / ".complete").exists():
        return root
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = CACHE / f".building-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    proc = run("mmdebstrap", "--variant=minbase", "--architectures=arm64", f"--include={','.join(PACKAGES)}",
               "bookworm", tmp, "http://deb.debian.org/debian", check=False, timeout=1800)
    if proc.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise RuntimeError(f"mmdebstrap failed: {proc.stderr[-2000:]}")
    # aarch64 wheels installed by this host's pip (native speed) into the board's site-packages
    site = tmp / "usr/local/lib/python3.11/dist-packages"
    run(sys.executable, "-m", "pip", "install", "-q", "--only-binary=:all:", "--python-version", "3.11",
        "--implementation", "cp", "--platform", "manylinux2014_aarch64", "--platform", "manylinux_2_17_aarch64",
        "--platform", "manylinux_2_28_aarch64", "--target", site, *WHEELS, timeout=900)
    (tmp / ".complete").write_text("ok\n")
    tmp.rename(root)
    return root


class Board:
    """The board running: sshd (aarch64, under qemu) in its own network namespace and address."""

    def __init__(self, root: Path, workdir: Path):
        self.root, self.workdir = root, workdir
        n = os.getpid() % 250 + 1
        self.ns, self.veth = f"mdboard{n}", f"mdb{n}"
        self.host_ip, self.ip = f"10.213.{n}.1", f"10.213.{n}.2"
        self.mounts: list[Path] = []
        self.proc = None

    def start(self) -> "Board":
        try:
            self._network()
            self._keys()
            for src, dst in (("/proc", "proc"), ("/dev", "dev")):
                target = self.root / dst
                run("mount", "--bind", src, target)
                self.mounts.append(target)
            (self.root / "run/sshd").mkdir(parents=True, exist_ok=True)
            self.proc = subprocess.Popen(["ip", "netns", "exec", self.ns, "chroot", str(self.root),
                                          "/usr/sbin/sshd", "-D", "-e", "-f", "/etc/ssh/sshd_config.mdtest"],
                                         stderr=subprocess.PIPE)
            self._wait()
        except BaseException:
            self.stop()
            raise
        return self

    def _network(self):
        run("ip", "route", "add", "unreachable", SUBNET, check=False)  # nothing in the test subnet leaks out
        run("ip", "netns", "add", self.ns)
        run("ip", "link", "add", self.veth, "type", "veth", "peer", "name", "eth0", "netns", self.ns)
        run("ip", "addr", "add", f"{self.host_ip}/30", "dev", self.veth)
        run("ip", "link", "set", self.veth, "up")
        run("ip", "netns", "exec", self.ns, "ip", "addr", "add", f"{self.ip}/30", "dev", "eth0")
        run("ip", "netns", "exec", self.ns, "ip", "link", "set", "eth0", "up")
        run("ip", "netns", "exec", self.ns, "ip", "link", "set", "lo", "up")

    def _keys(self):
        etc = self.root / "etc/ssh"
        for f in etc.glob("ssh_host_*"):
            f.unlink()
        run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", etc / "ssh_host_ed25519_key")
        self.client_key = self.workdir / "board_client"
        if self.client_key.exists():
            self.client_key.unlink()
            Path(str(self.client_key) + ".pub").unlink()
        run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", self.client_key)
        ssh_dir = self.root / "root/.ssh"
        ssh_dir.mkdir(parents=True, exist_ok=True)
        (ssh_dir / "authorized_keys").write_text(Path(str(self.client_key) + ".pub").read_text())
        host_pub = (etc / "ssh_host_ed25519_key.pub").read_text().split()[:2]
        self.known_hosts = self.workdir / "board_known_hosts"
        self.known_hosts.write_text(f"{self.ip} {' '.join(host_pub)}\n")
        (etc / "sshd_config.mdtest").write_text("\n".join([
            "Port 22", f"ListenAddress {self.ip}", "HostKey /etc/ssh/ssh_host_ed25519_key",
            "PermitRootLogin prohibit-password", "PasswordAuthentication no", "KbdInteractiveAuthentication no",
            "UsePAM no", "StrictModes no", "Subsystem sftp internal-sftp", "LogLevel ERROR", ""]))

    def _wait(self):
        deadline = time.time() + 120  # sshd starts slowly under emulation
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the board's sshd exited: {self.proc.stderr.read().decode()[-1000:]}")
            try:
                socket.create_connection((self.ip, 22), 0.5).close()
                return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError("the board's sshd did not start listening")

    def stop(self):
        pids = run("ip", "netns", "pids", self.ns, check=False).stdout.split()
        for pid in pids:
            run("kill", "-9", pid, check=False)
        if self.proc is not None:
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        for target in reversed(self.mounts):
            run("umount", "-l", target, check=False)
        self.mounts.clear()
        run("ip", "link", "del", self.veth, check=False)
        run("ip", "netns", "del", self.ns, check=False)
        run("ip", "route", "del", "unreachable", SUBNET, check=False)
