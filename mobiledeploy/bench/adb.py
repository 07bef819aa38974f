"""Android phones over adb: TensorFlow's benchmark_model on the device, driven by the real adb client.

Remote commands are argument lists joined with shell quoting (adb shell joins its arguments with spaces
and hands the string to the device's sh). The exit status of `adb shell` is not trusted (older daemons
always return 0): each command echoes its own status after a marker.

The adb server: one the user had running is used and left running. One that no one was running is started
by us (its log to ANDROID_ADB_LOG_PATH, else nowhere: no adb.UID.log in $TMPDIR) and stopped by the last
mobiledeploy process that used it (`ServerUse`: a shared flock per user of it, in MOBILEDEPLOY_HOME).
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

from ..errors import MobiledeployError
from ..home import home
from . import benchmark_model, thermal
from .settings import BenchSettings

REMOTE_DIR = "/data/local/tmp/mobiledeploy"
MARKER = "__mobiledeploy_rc="
TIMEOUT = 600.0      # a whole benchmark_model run (the device's `timeout` overrides it)
SHORT_TIMEOUT = 60.0  # everything else: getprop, mkdir, push, rm
PID_FILE = f"{REMOTE_DIR}/benchmark_model.pid"
# benchmark_model started so it can be stopped by its pid after a timeout or Ctrl-C: `exec` keeps the pid
LAUNCH = 'echo $$ > "$1"; shift; exec "$@"'
STOP = 'p=$(cat "$1" 2>/dev/null) && kill "$p" 2>/dev/null; rm -f "$1" "$2"'
# one round trip for the telemetry: load, cpu0's current and top frequency, the thermal service's dump
SEP = "__mobiledeploy_part__"
TELEMETRY = (f'cat /proc/loadavg; echo {SEP}; cat /sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq; '
             f'echo {SEP}; cat /sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq; echo {SEP}; '
             'dumpsys thermalservice')


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


STARTED = "daemon started successfully"  # what `adb start-server` says when it started the server itself
SERVER_TIMEOUT = 30.0


class ServerUse:
    """This process's use of the adb server (ANDROID_ADB_SERVER_PORT, default 5037), from `start` to `stop`.

    Every user holds a shared flock on `.adb-server-PORT.lock` in MOBILEDEPLOY_HOME; its one byte says whether
    mobiledeploy started the server ("1"). `start` takes the lock exclusively when it can (no other
    mobiledeploy process uses the server): then a server already running is the user's ("0"), one it has to
    start is ours ("1"). `stop` stops the server when the byte says ours and no one else holds the lock.
    Without a usable home (read-only), a server started here is stopped at `stop` all the same.
    """

    def __init__(self, adb: str):
        self.adb = adb
        self.port = os.environ.get("ANDROID_ADB_SERVER_PORT", "").strip() or "5037"
        self.fd = None
        self.started = False

    def start(self) -> None:
        """Make sure the server runs (starting it when needed), and record who started it."""
        import fcntl

        try:
            folder = home()
            folder.mkdir(parents=True, exist_ok=True)
            name = f".adb-server-{re.sub(r'[^0-9A-Za-z]', '_', self.port)[:16]}.lock"
            self.fd = os.open(folder / name, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        except (OSError, MobiledeployError):
            self.fd = None
        alone = False
        if self.fd is not None:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                alone = True
            except OSError:
                fcntl.flock(self.fd, fcntl.LOCK_SH)  # others use it; an exclusive holder only stops or starts it
        try:
            if alone:  # no mobiledeploy process uses the server: a "1" left by a killed one is void
                os.pwrite(self.fd, b"0", 0)
            self.started = self._start_server()
            if self.fd is not None and self.started:
                os.pwrite(self.fd, b"1", 0)
        finally:
            if alone:
                fcntl.flock(self.fd, fcntl.LOCK_SH)

    def _start_server(self) -> bool:
        try:
            proc = subprocess.run([self.adb, "start-server"], capture_output=True, text=True, env=adb_env(),
                                  timeout=SERVER_TIMEOUT, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise MobiledeployError(f"the adb server did not start within {SERVER_TIMEOUT:g} s: check it with adb "
                                    "start-server") from None
        except OSError as exc:
            raise MobiledeployError(f"cannot run {self.adb}: {exc.strerror or exc}") from None
        if proc.returncode != 0:
            raise MobiledeployError(f"cannot start the adb server: {_last_line(proc.stderr + proc.stdout)} (check it "
                                    "with adb start-server)")
        return STARTED in proc.stdout + proc.stderr

    def stop(self) -> None:
        """Stop the server if mobiledeploy started it and no other mobiledeploy process uses it. Never raises."""
        import fcntl

        ours = self.started
        try:
            if self.fd is not None:
                try:
                    fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    return  # another mobiledeploy process uses it: the last one stops it
                ours = os.pread(self.fd, 1, 0) == b"1"
            if ours:
                subprocess.run([self.adb, "kill-server"], capture_output=True, timeout=SERVER_TIMEOUT,
                               stdin=subprocess.DEVNULL, env=adb_env())
                if self.fd is not None:
                    os.pwrite(self.fd, b"0", 0)
        except (OSError, subprocess.TimeoutExpired):
            pass
        finally:
            self.started = False
            if self.fd is not None:
                os.close(self.fd)
                self.fd = None


def adb_env() -> dict:
    """The environment of every adb command: a server one of them starts logs nowhere unless
    ANDROID_ADB_LOG_PATH says where (adb's default is adb.UID.log in $TMPDIR, left behind)."""
    env = dict(os.environ)
    env.setdefault("ANDROID_ADB_LOG_PATH", os.devnull)
    return env


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else "no output"


class AdbTarget:
    """One Android device; benchmark_model comes from the device config or --benchmark-binary."""

    def __init__(self, name: str, entry: dict):
        self.name, self.entry = name, entry
        self.timeout = float(entry.get("timeout", TIMEOUT))
        self.short = min(SHORT_TIMEOUT, self.timeout)
        self.serial = None
        self.adb = shutil.which("adb")
        if not self.adb:
            raise MobiledeployError("adb not found: install Android platform-tools (Debian: apt install adb)")
        self.server = ServerUse(self.adb)
        try:
            self.server.start()
            listing = self._adb(["devices"], "listing devices", check=True)
            self.serial = choose_serial(entry.get("serial"), os.environ.get("ANDROID_SERIAL"),
                                        parse_devices(listing))
        except BaseException:
            self.server.stop()
            raise

    def _adb(self, args: list[str], what: str, check: bool = False, timeout: float | None = None) -> str:
        timeout = self.short if timeout is None else timeout
        try:
            proc = subprocess.run([self.adb, *args], capture_output=True, text=True, timeout=timeout,
                                  stdin=subprocess.DEVNULL, env=adb_env())
        except subprocess.TimeoutExpired:
            who = f"Android device {self.serial}" if self.serial else "the adb server"
            raise MobiledeployError(f"{who} did not finish {what} within {timeout:g} s (hung, or slower than the "
                                    "device's timeout: raise it with devices add NAME --adb SERIAL --timeout S)") from None
        except OSError as exc:
            raise MobiledeployError(f"cannot run {self.adb}: {exc.strerror or exc}") from None
        if check and proc.returncode != 0:
            raise MobiledeployError(f"adb failed while {what}: {_last_line(proc.stderr or proc.stdout)}")
        return proc.stdout + proc.stderr

    def _gone(self, what: str, said: str) -> MobiledeployError:
        """The error for a command whose status never came back: the device left, or adb broke."""
        try:
            states = dict(parse_devices(self._adb(["devices"], "listing devices", timeout=min(15.0, self.short))))
        except MobiledeployError:
            states = {}
        state = states.get(self.serial)
        if state != "device":
            now = "gone from adb devices" if state is None else f"adb now reports it {state}"
            return MobiledeployError(f"Android device {self.serial} disconnected during {what} ({now}): nothing "
                                     "was stored; reconnect it (adb devices) and retry")
        return MobiledeployError(f"the adb connection to {self.serial} broke during {what} ({_last_line(said)}): "
                                 "nothing was stored")

    def shell(self, argv: list[str], timeout: float | None = None, what: str | None = None) -> tuple[int, str]:
        """Run an argument list on the device; (exit status from the marker, output).

        With `what`, a command whose status never arrives (device unplugged, adb killed) is an error
        naming that step; without it, the caller sees status -1.
        """
        command = f"{shlex.join(argv)} 2>&1; echo {MARKER}$?"
        out = self._adb(["-s", self.serial, "shell", command], what or f"running {argv[0]}", timeout=timeout)
        code, text = split_status(out)
        if code == -1 and what:
            raise self._gone(what, out)
        return code, text

    def push(self, local: Path, remote: str) -> None:
        """Copy a file to the device and check that it arrived whole (adb push's status is not trusted)."""
        what = f"copying {local.name}"
        out = self._adb(["-s", self.serial, "push", str(local), remote], what, timeout=self.timeout)
        code, listing = self.shell(["wc", "-c", remote], what=what)
        size = listing.split()[0] if listing.split() else ""
        if code != 0 or size != str(local.stat().st_size):
            reason = _last_line(out)
            if "No space" in out or "No space" in listing:
                reason = f"no space left on the device under {REMOTE_DIR}: free some space on the phone"
            raise MobiledeployError(f"adb push of {local.name} to {self.serial} failed: {reason}")

    def telemetry(self) -> dict:
        """Load, cpu0's frequency against its top, thermal status and the hottest CPU sensor (thermal.py);
        a value the phone does not give is None."""
        code, out = self.shell(["sh", "-c", TELEMETRY], what="reading the device's temperature and load")
        parts = (out.split(SEP) + ["", "", "", ""])[:4]
        load = parts[0].split()
        try:
            load_1m = float(load[0]) if load else None
        except ValueError:
            load_1m = None
        doc = {"load_1m": load_1m, "freq_khz": thermal.parse_khz(parts[1]),
               "max_freq_khz": thermal.parse_khz(parts[2])}
        temps = thermal.parse_thermalservice(parts[3])
        doc["thermal_status"] = temps["thermal_status"]
        doc["temperature_c"] = temps["cpu_temperature_c"]
        doc["skin_temperature_c"] = temps["skin_temperature_c"]
        return doc

    def probe(self) -> dict:
        info = {"serial": self.serial, "tflite_runtime": "benchmark_model"}
        for key, argv in (("model", ["getprop", "ro.product.model"]), ("android", ["getprop", "ro.build.version.release"]),
                          ("machine", ["uname", "-m"]),
                          ("governor", ["cat", "/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"])):
            code, out = self.shell(argv, what="describing the device")
            info[key] = out.strip() if code == 0 and out.strip() else None
        code, out = self.shell(["cat", "/proc/cpuinfo"], what="describing the device")
        if code == 0:
            info["cores"] = sum(1 for line in out.splitlines() if line.startswith("processor"))
            for line in out.splitlines():
                if line.split(":")[0].strip() in ("Hardware", "model name") and ":" in line:
                    info["cpu_model"] = line.split(":", 1)[1].strip()
                    break
        info.update(self.telemetry())
        return info

    def run(self, model: Path, settings: BenchSettings) -> dict:
        binary = settings.benchmark_binary or self.entry.get("benchmark_binary")
        if not binary or not Path(binary).is_file():
            raise MobiledeployError(f"no benchmark_model binary for {self.name}: download TensorFlow's prebuilt "
                                    "android_aarch64_benchmark_model and pass its path with devices add "
                                    f"{self.name} --adb SERIAL --benchmark-binary PATH")
        code, out = self.shell(["mkdir", "-p", REMOTE_DIR], what="preparing the device")
        if code != 0:
            raise MobiledeployError(f"cannot create {REMOTE_DIR} on {self.serial}: {_last_line(out)}")
        tool, graph = f"{REMOTE_DIR}/benchmark_model", f"{REMOTE_DIR}/{model.name}"
        self.push(Path(binary), tool)
        self.shell(["chmod", "755", tool], what="preparing the device")
        argv = [tool, f"--graph={graph}", f"--num_threads={settings.threads}",
                f"--warmup_runs={settings.warmup}", f"--num_runs={settings.runs}",
                "--use_xnnpack=true"]
        if settings.delegate == "gpu":
            argv.append("--use_gpu=true")
        if settings.delegate == "nnapi":
            argv.append("--use_nnapi=true")
        if settings.op_profiling:
            argv.append("--enable_op_profiling=true")
        if settings.cpu_mask:
            argv = ["taskset", settings.cpu_mask, *argv]
        finished = False
        try:
            self.push(model, graph)
            before = self.telemetry()
            code, out = self.shell(["sh", "-c", LAUNCH, "sh", PID_FILE, *argv], self.timeout, "the benchmark")
            finished = True
            after = self.telemetry()
        finally:
            self._cleanup(graph, stop=not finished)
        if code != 0:
            raise MobiledeployError(f"benchmark_model failed on {self.serial} (status {code}): {_last_line(out)}")
        try:
            parsed = benchmark_model.parse(out)
        except ValueError as exc:
            raise MobiledeployError(f"benchmark_model on {self.serial}: {exc}") from None
        return {"summary": benchmark_model.summary(parsed), "latencies_ms": [], "runtime": "benchmark_model",
                "runtime_version": None, "xnnpack": parsed["xnnpack"], "init_ms": parsed.get("init_ms"),
                "first_ms": parsed.get("first_ms"), "memory_mb": parsed.get("memory_mb"),
                "op_profile": parsed.get("ops") or None, "load_1m": before["load_1m"],
                "freq_khz": before["freq_khz"], "max_freq_khz": before["max_freq_khz"],
                "thermal_status": max((x for x in (before["thermal_status"], after["thermal_status"]) if x is not None),
                                      default=None),
                "temperature_before_c": before["temperature_c"], "temperature_after_c": after["temperature_c"]}

    def _cleanup(self, graph: str, stop: bool) -> None:
        """Remove the model (after a timeout or Ctrl-C, first stop benchmark_model); never masks the real error."""
        try:
            argv = ["sh", "-c", STOP, "sh", PID_FILE, graph] if stop else ["rm", "-f", PID_FILE, graph]
            self.shell(argv, min(15.0, self.short))
        except (MobiledeployError, KeyboardInterrupt):
            pass

    def close(self):
        """Every adb command is its own connection; the server goes if we started it and no one else uses it."""
        self.server.stop()
