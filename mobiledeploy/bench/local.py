"""This machine as a device: the same runner as on a board, in a subprocess, so local and remote measure alike.

Bounded like a remote run (runner_io): a deadline per runner process, stdout capped at MAX_STDOUT, only the
last STDERR_TAIL bytes of stderr kept. The runner works in a private temporary folder (onnxruntime and LiteRT
write files there), `.runner.tmp-PID-XXXX` in $TMPDIR, locked while in use; one that a killed bench left
is removed by the next local run (`remove_stale_runner_folders`).
"""
from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..errors import MobiledeployError
from ..fsutil import remove_tree, temporary_prefix
from .runner_io import (MAX_STDOUT, PROBE_TIMEOUT, RUNNER, STDERR_TAIL, parse_runner_output, run_timeout,
                        runner_args, timeout_fix)
from .settings import BenchSettings

RUNNER_FOLDER = "runner"   # the folders are .runner.tmp-PID-XXXX (fsutil.temporary_prefix)
STALE_AGE = 60.0           # seconds: younger folders are left alone, whatever their owner (just being created)
# The runner's environment: no telemetry from onnxruntime (its 1DS client writes a .ses file in $TMPDIR and a
# database in ~/.cache/Microsoft), nothing left behind.
QUIET_ENV = {"ORT_DISABLE_TELEMETRY": "1"}


class LocalTarget:
    """This machine: the same runner, in a subprocess, so local and remote measure alike."""

    def __init__(self, python: str | None = None, name: str = "local"):
        self.python = python or sys.executable
        self.name = name    # the device's name: a local-kind device of another name is named in its errors
        self.who = "the local runner" if name == "local" else f"the runner on {name}"

    def _run(self, args: list[str], timeout: float, fix: str = "") -> dict:
        """The runner in a private temporary folder, tied to this process by a pipe it watches: it ends when
        we do, however we end (--stop-on-eof)."""
        remove_stale_runner_folders()
        tether_read, tether_write = os.pipe()
        try:
            with _private_folder() as tmp:
                env = {**os.environ, **QUIET_ENV, "TMPDIR": tmp}
                try:
                    proc = subprocess.Popen([self.python, str(RUNNER), "--stop-on-eof", *args], stdin=tether_read,
                                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
                except FileNotFoundError:
                    raise MobiledeployError(f"cannot run {self.python}: no such file (fix the python of device "
                                            f"{self.name}: mobiledeploy devices list)") from None
                os.close(tether_read)
                tether_read = None
                try:
                    out, err = read_bounded(proc, timeout, fix, self.who)
                except BaseException:  # the deadline, a flood, Ctrl-C, SIGTERM: the runner goes too
                    proc.kill()
                    proc.wait()
                    raise
                finally:
                    proc.stdout.close()
                    proc.stderr.close()
        finally:
            os.close(tether_write)
            if tether_read is not None:
                os.close(tether_read)
        if proc.returncode < 0 and not out.strip():
            name = _signal_name(-proc.returncode)
            raise MobiledeployError(f"{self.who} was killed by {name} (out of memory, or stopped by someone): "
                                    "nothing was stored")
        return parse_runner_output(out.decode("utf-8", "replace"), self.name, err.decode("utf-8", "replace"))

    def probe(self) -> dict:
        """What `devices check` reports for this machine."""
        return self._run(["--probe"], PROBE_TIMEOUT)

    def run(self, model: Path, settings: BenchSettings) -> dict:
        """Measure one model file here."""
        return self._run(runner_args(str(model), settings), run_timeout(settings), timeout_fix(settings))

    def close(self):
        """Nothing to close."""


def read_bounded(proc: subprocess.Popen, timeout: float, fix: str = "", who: str = "the local runner"
                 ) -> tuple[bytes, bytes]:
    """(stdout, the end of stderr) of a runner process, waited for at most `timeout` seconds in all.

    Its stdout may hold at most MAX_STDOUT bytes (one JSON line is what a runner prints); of its stderr only
    the last STDERR_TAIL bytes are kept, so a process that writes forever cannot grow this one. Past the
    deadline or the cap, a MobiledeployError (the caller stops the process).
    """
    deadline = time.monotonic() + timeout
    out, err = bytearray(), bytearray()
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ, out)
        sel.register(proc.stderr, selectors.EVENT_READ, err)
        while sel.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                raise _took_too_long(timeout, fix, who)
            for key, _ in sel.select(min(left, 1.0)):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    sel.unregister(key.fileobj)
                    continue
                key.data.extend(chunk)
                if key.data is out and len(out) > MAX_STDOUT:
                    raise MobiledeployError(f"{who} printed more than {MAX_STDOUT >> 20} MiB: stopped "
                                            "(the device's python is not running mobiledeploy's runner?)")
                if key.data is err and len(err) > 2 * STDERR_TAIL:
                    del err[:-STDERR_TAIL]
    try:
        proc.wait(max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:  # both streams closed, the process still there
        raise _took_too_long(timeout, fix, who) from None
    return bytes(out), bytes(err[-STDERR_TAIL:])


def _took_too_long(timeout: float, fix: str, who: str = "the local runner") -> MobiledeployError:
    return MobiledeployError(f"{who} took longer than {timeout:g} s: stopped" + (f" ({fix})" if fix else ""))


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


class _private_folder:
    """A fresh `.runner.tmp-PID-XXXX` folder in $TMPDIR, flocked while in use and removed after."""

    def __enter__(self) -> str:
        import fcntl

        self.path = tempfile.mkdtemp(prefix=temporary_prefix(RUNNER_FOLDER))
        self.fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY)  # close-on-exec: the runner does not hold it
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self.path

    def __exit__(self, *exc):
        remove_tree(self.path)
        os.close(self.fd)
        return False


def remove_stale_runner_folders(folder=None) -> list[Path]:
    """Remove runner folders a killed bench left in `folder` (default: $TMPDIR); returns what was removed.

    Only ours and only abandoned: a real folder (not a link) named `.runner.tmp-PID-...`, owned by this user,
    not changed for STALE_AGE seconds, whose owner PID is gone here, and that no process holds locked (the lock
    also covers an owner in another PID namespace sharing this $TMPDIR). Never raises.
    """
    import fcntl

    removed: list[Path] = []
    root = Path(folder or tempfile.gettempdir())
    prefix = f".{RUNNER_FOLDER}.tmp-"
    try:
        names = [n for n in os.listdir(root) if n.startswith(prefix)]
    except OSError:
        return removed
    now = time.time()
    for name in names:
        pid = name[len(prefix):].split("-", 1)[0]
        path = root / name
        if not pid.isdigit() or int(pid) == os.getpid() or _alive(int(pid)):
            continue
        try:
            st = os.lstat(path)
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            if st.st_uid != os.getuid() or now - st.st_mtime < STALE_AGE:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:  # held: some process is using it
                continue
            remove_tree(path)
            if not os.path.lexists(path):
                removed.append(path)
        finally:
            os.close(fd)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True
