"""Where the runner runs: the local machine (a subprocess), a board over SSH (ssh.py) or a phone (adb.py)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ..errors import MobiledeployError

RUNNER = Path(__file__).with_name("runner.py")
RUN_TIMEOUT = 3600.0


def runner_args(model: str, settings: dict) -> list[str]:
    """The runner's command-line arguments for these settings."""
    args = [model, "--threads", str(settings.get("threads", 1)), "--runs", str(settings.get("runs", 50)),
            "--warmup", str(settings.get("warmup", 10))]
    if settings.get("cooldown"):
        args += ["--cooldown", str(settings["cooldown"])]
    if settings.get("cpu_mask"):
        args += ["--cpu-mask", settings["cpu_mask"]]
    return args


def parse_runner_output(stdout: str, where: str) -> dict:
    """The runner's one JSON document; its {"error"} becomes a MobiledeployError."""
    lines = [line for line in stdout.strip().splitlines() if line.startswith("{")]
    doc = None
    if lines:
        try:
            doc = json.loads(lines[-1])
        except ValueError:
            doc = None
    if not isinstance(doc, dict):
        tail = " ".join(stdout.split())[-120:]
        raise MobiledeployError(f"the runner on {where} printed no result" + (f" (it printed: {tail})" if tail else ""))
    if "error" in doc:
        raise MobiledeployError(f"{where}: {' '.join(str(doc['error']).split())}")
    return doc


def cores_text(cores) -> str:
    """0,1,2,5 -> '0-2,5'."""
    cores, spans = sorted(cores), []
    for c in cores:
        if spans and c == spans[-1][1] + 1:
            spans[-1][1] = c
        else:
            spans.append([c, c])
    return ",".join(f"{a}" if a == b else f"{a}-{b}" for a, b in spans)


def check_cpu_mask(mask: str | None, probe: dict, device: str) -> None:
    """Refuse a --cpu-mask naming cores the device does not have (or will not let the runner use)."""
    if not mask:
        return
    bits = int(mask, 16)
    wanted = {i for i in range(bits.bit_length()) if bits >> i & 1}
    usable = probe.get("affinity")
    if not isinstance(usable, list) or not usable:
        cores = probe.get("cores")
        if not isinstance(cores, int) or cores < 1:
            return  # the device did not say; the runner itself reports a mask it cannot apply
        usable = list(range(cores))
    missing = wanted - set(usable)
    if missing:
        best = sum(1 << c for c in usable)
        raise MobiledeployError(f"--cpu-mask {mask} names core{'s' if len(missing) > 1 else ''} "
                                f"{cores_text(missing)}, which {device} does not have (usable cores: "
                                f"{cores_text(usable)}): use a mask within them, e.g. {best:x}")


class LocalTarget:
    """This machine: the same runner, in a subprocess, so local and remote measure alike."""

    name = "local"

    def __init__(self, python: str | None = None):
        self.python = python or sys.executable

    def _run(self, args: list[str], timeout: float = RUN_TIMEOUT) -> dict:
        try:
            proc = subprocess.run([self.python, str(RUNNER), *args], capture_output=True, text=True,
                                  timeout=timeout, stdin=subprocess.DEVNULL)
        except FileNotFoundError:
            raise MobiledeployError(f"cannot run {self.python}: no such file (fix the local device's python)") from None
        except subprocess.TimeoutExpired:
            raise MobiledeployError(f"the local runner took longer than {timeout:g} s: stopped") from None
        return parse_runner_output(proc.stdout, "local")

    def probe(self) -> dict:
        """What `devices check` reports for this machine."""
        return self._run(["--probe"], 60)

    def run(self, model: Path, settings: dict) -> dict:
        """Measure one model file here."""
        return self._run(runner_args(str(model), settings))

    def close(self):
        """Nothing to close."""


def open_target(name: str, entry: dict, insecure: bool = False):
    """A connected target for a device entry."""
    kind = entry.get("kind")
    if kind == "local":
        return LocalTarget(entry.get("python"))
    if kind == "ssh":
        from .ssh import SSHTarget

        return SSHTarget(name, entry, insecure)
    if kind == "adb":
        from .adb import AdbTarget

        return AdbTarget(name, entry)
    raise MobiledeployError(f"device {name!r} has unknown kind {kind!r} (local, ssh, adb)")
