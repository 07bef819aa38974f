"""Android phones over adb: TensorFlow's benchmark_model on the device, driven by the real adb client.

Remote commands are argument lists joined with shell quoting (adb shell joins its arguments with spaces
and hands the string to the device's sh). The exit status of `adb shell` is not trusted (older daemons
always return 0): each command echoes its own status after a marker.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

from ..errors import MobiledeployError
from . import benchmark_model

REMOTE_DIR = "/data/local/tmp/mobiledeploy"
MARKER = "__mobiledeploy_rc="
TIMEOUT = 600


def parse_devices(text: str) -> list[tuple[str, str]]:
    """(serial, state) pairs from `adb devices` output."""
    out = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("List of devices") or line.startswith("*"):
            continue
        parts = line.split()
        if len(parts) >= 2:
            out.append((parts[0], parts[1]))
    return out


def choose_serial(configured: str | None, env_serial: str | None, devices: list[tuple[str, str]]) -> str:
    """The serial to use, or one clear error: none connected, several and none chosen, unauthorized, offline."""
    wanted = configured if configured and configured != "auto" else env_serial
    states = dict(devices)
    if not devices:
        raise MobiledeployError("no Android device connected: plug it in with USB debugging on "
                                "(or adb connect HOST:PORT), then check with adb devices")
    if not wanted:
        if len(devices) > 1:
            raise MobiledeployError(f"several Android devices are connected ({', '.join(states)}): choose one with "
                                    "devices add NAME --adb SERIAL or ANDROID_SERIAL")
        wanted = devices[0][0]
    if wanted not in states:
        raise MobiledeployError(f"Android device {wanted} is not connected (connected: {', '.join(states) or 'none'})")
    state = states[wanted]
    if state == "unauthorized":
        raise MobiledeployError(f"Android device {wanted} is unauthorized: accept the USB debugging prompt on the "
                                "phone, then retry")
    if state == "offline":
        raise MobiledeployError(f"Android device {wanted} is offline: reconnect it (adb reconnect) and retry")
    if state != "device":
        raise MobiledeployError(f"Android device {wanted} is in state {state!r}, not ready")
    return wanted


def split_status(output: str) -> tuple[int, str]:
    """(exit status, output without the marker line) from a command run through `shell`."""
    m = re.search(rf"{MARKER}(\d+)\s*$", output)
    if not m:
        return -1, output  # the marker never came: the command or the connection died
    return int(m.group(1)), output[:m.start()]


class AdbTarget:
    """One Android device; benchmark_model comes from the device config or --benchmark-binary."""

    def __init__(self, name: str, entry: dict):
        self.name, self.entry = name, entry
        self.adb = shutil.which("adb")
        if not self.adb:
            raise MobiledeployError("adb not found: install Android platform-tools (Debian: apt install adb)")
        listing = self._adb(["devices"], check=True)
        self.serial = choose_serial(entry.get("serial"), os.environ.get("ANDROID_SERIAL"), parse_devices(listing))

    def _adb(self, args: list[str], check: bool = False, timeout: float = TIMEOUT) -> str:
        try:
            proc = subprocess.run([self.adb, *args], capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise MobiledeployError(f"adb {args[0]} timed out after {timeout:.0f} s") from None
        if check and proc.returncode != 0:
            raise MobiledeployError(f"adb {args[0]} failed: {(proc.stderr or proc.stdout).strip().splitlines()[-1:]}")
        return proc.stdout + proc.stderr

    def shell(self, argv: list[str], timeout: float = TIMEOUT) -> tuple[int, str]:
        """Run an argument list on the device; (exit status from the marker, output)."""
        command = f"{shlex.join(argv)} 2>&1; echo {MARKER}$?"
        return split_status(self._adb(["-s", self.serial, "shell", command], timeout=timeout))

    def push(self, local: Path, remote: str) -> None:
        out = self._adb(["-s", self.serial, "push", str(local), remote])
        code, _ = self.shell(["ls", remote], 60)
        if code != 0:
            raise MobiledeployError(f"adb push of {local.name} to {self.serial} failed: {out.strip()[-200:]}")

    def probe(self) -> dict:
        info = {"serial": self.serial, "tflite_runtime": "benchmark_model"}
        for key, argv in (("model", ["getprop", "ro.product.model"]), ("android", ["getprop", "ro.build.version.release"]),
                          ("machine", ["uname", "-m"]),
                          ("governor", ["cat", "/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"])):
            code, out = self.shell(argv, 60)
            info[key] = out.strip() if code == 0 and out.strip() else None
        code, out = self.shell(["cat", "/proc/cpuinfo"], 60)
        if code == 0:
            info["cores"] = sum(1 for line in out.splitlines() if line.startswith("processor"))
            for line in out.splitlines():
                if line.split(":")[0].strip() in ("Hardware", "model name") and ":" in line:
                    info["cpu_model"] = line.split(":", 1)[1].strip()
                    break
        return info

    def run(self, model: Path, settings: dict) -> dict:
        binary = settings.get("benchmark_binary") or self.entry.get("benchmark_binary")
        if not binary or not Path(binary).is_file():
            raise MobiledeployError(f"no benchmark_model binary for {self.name}: download TensorFlow's prebuilt "
                                    "android_aarch64_benchmark_model and pass its path with devices add "
                                    f"{self.name} --adb SERIAL --benchmark-binary PATH")
        code, out = self.shell(["mkdir", "-p", REMOTE_DIR], 60)
        if code != 0:
            raise MobiledeployError(f"cannot create {REMOTE_DIR} on {self.serial}: {out.strip()}")
        tool, graph = f"{REMOTE_DIR}/benchmark_model", f"{REMOTE_DIR}/{model.name}"
        self.push(Path(binary), tool)
        self.shell(["chmod", "755", tool], 60)
        self.push(model, graph)
        argv = [tool, f"--graph={graph}", f"--num_threads={settings.get('threads', 1)}",
                f"--warmup_runs={settings.get('warmup', 10)}", f"--num_runs={settings.get('runs', 50)}",
                "--use_xnnpack=true"]
        if settings.get("delegate") == "gpu":
            argv.append("--use_gpu=true")
        if settings.get("delegate") == "nnapi":
            argv.append("--use_nnapi=true")
        if settings.get("op_profiling"):
            argv.append("--enable_op_profiling=true")
        if settings.get("cpu_mask"):
            argv = ["taskset", settings["cpu_mask"], *argv]
        try:
            code, out = self.shell(argv)
        finally:
            self.shell(["rm", "-f", graph], 60)
        if code != 0:
            tail = [line for line in out.strip().splitlines() if line.strip()][-1:] or ["no output"]
            raise MobiledeployError(f"benchmark_model failed on {self.serial} (status {code}): {tail[0]}")
        try:
            parsed = benchmark_model.parse(out)
        except ValueError as exc:
            raise MobiledeployError(f"benchmark_model on {self.serial}: {exc}") from None
        return {"summary": benchmark_model.summary(parsed), "latencies_ms": [], "runtime": "benchmark_model",
                "runtime_version": None, "xnnpack": parsed["xnnpack"], "init_ms": parsed.get("init_ms"),
                "first_ms": parsed.get("first_ms"), "memory_mb": parsed.get("memory_mb"),
                "op_profile": parsed.get("ops") or None}

    def close(self):
        pass
