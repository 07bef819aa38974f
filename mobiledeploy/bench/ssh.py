"""Running the runner on a Linux board over SSH: copied to a per-run folder, run, removed.

Faults this module turns into one line each (connecting is ssh_connect.py's): a board that stops
answering mid-run; a runner that hangs (every command has a deadline, a run's from its bench settings);
a runner that floods stdout or stderr (both are capped); a full disk on the board; Ctrl-C or SIGTERM on
the host (the runner's process group is killed and its folder removed). Folders a dropped connection
left behind are removed on the next connection, unless their owner still runs. Every remote command is
an argument list, each word quoted.
"""
from __future__ import annotations

import logging
import shlex
import socket
import time
from pathlib import Path

from ..errors import MobiledeployError
from ..signals import NoSafePoints, SafePoints
from .runner_io import (MAX_STDOUT, PROBE_TIMEOUT, RUNNER, STDERR_TAIL, parse_runner_output, run_timeout,
                        runner_args, timeout_fix)
from .settings import BenchSettings
from .ssh_connect import Connection

log = logging.getLogger("mobiledeploy")

COMMAND_TIMEOUT = 60.0   # a helper command (df, clean-up of old folders); a run's own comes from its settings
CLEANUP_TIMEOUT = 10.0   # removing the run's folder after Ctrl-C must not hang the user's terminal
PREFIX = "mobiledeploy."
STDERR_CHUNKS = 16       # stderr read per turn at most, so a flood cannot starve stdout, the deadline, Ctrl-C

# The per-run folder, created by a process that lives exactly as long as this connection: `cat` reads the
# channel's stdin, which only ends when we close it or the connection drops. Its pid in `owner` is what
# tells a later connection that the folder is still in use.
TETHER = ('d=$(mktemp -d "$1/mobiledeploy.XXXXXX") || exit 1; '
          'echo $$ > "$d/owner" || { rm -rf "$d"; exit 1; }; echo "$d"; exec cat >/dev/null')
# Folders of earlier runs whose owner and runner are both gone (killed connection, crashed host) and that
# no process names on its command line: removed. A folder without an owner file (made by an older version)
# counts as stale only once it is older than this connection.
STALE = r'''now=$(date +%s)
alive() {  # a zombie (exited, not yet reaped by a slow init) is not alive
  if [ -d /proc/self ]; then [ -e "/proc/$1" ] && ! grep -qs '^State:[[:space:]]*Z' "/proc/$1/status"
  else kill -0 "$1" 2>/dev/null; fi
}
for d in "$1"/mobiledeploy.*; do
  [ -d "$d" ] && [ ! -L "$d" ] || continue
  live=
  for f in owner pid; do
    p=$(cat "$d/$f" 2>/dev/null) || continue
    case "$p" in ''|*[!0-9]*) continue ;; esac
    if alive "$p"; then live=1; fi
  done
  [ -z "$live" ] || continue
  ! grep -qsF -- "$d/" /proc/[0-9]*/cmdline || continue
  if [ ! -f "$d/owner" ]; then m=$(stat -c %Y "$d" 2>/dev/null) || continue; [ "$m" -lt "$now" ] || continue; fi
  rm -rf -- "$d" && echo "$d"
done
exit 0'''
# Stop the runner's whole process group (it leads one: runner.py --pid-file), then remove the folder.
# `kill -TERM -- -PGID` is an error in dash, /bin/sh on Debian and Raspberry Pi OS ("Illegal number: -"),
# and `kill -s TERM -PGID` is one too: `-s TERM --` is POSIX and dash's; `-TERM -PGID` is for shells without `--`.
STOP = ('p=$(cat "$1/pid" 2>/dev/null) && case "$p" in *[!0-9]*) ;; ?*) '
        'kill -s TERM -- "-$p" 2>/dev/null || kill -TERM "-$p" 2>/dev/null ;; esac; rm -rf -- "$1"')


_NO_SAFE_POINTS = NoSafePoints()


class SSHTarget(Connection):
    """A Linux board over SSH: a per-run temporary folder for the runner and the model, removed after."""

    def __init__(self, name: str, entry: dict, insecure: bool = False):
        self.signals = _NO_SAFE_POINTS
        super().__init__(name, entry, insecure)
        try:
            self._remove_stale()
        except BaseException:
            self.close()
            raise

    # -- running commands ---------------------------------------------------------------------------------

    def _open(self, argv: list[str], during: str):
        """A channel running an argument list: every word quoted, so names cannot inject shell syntax."""
        import paramiko

        try:
            chan = self.transport.open_session(timeout=self.connect_timeout)
            chan.exec_command(shlex.join(argv))
        except (paramiko.SSHException, EOFError, OSError):
            raise self.lost(during) from None
        chan.settimeout(0.2)  # short reads, so Ctrl-C, the deadline and the watchdog are noticed promptly
        return chan

    def _collect(self, chan, timeout: float, during: str, until_line: bool = False,
                 fix: str = "") -> tuple[int, str, str]:
        """(status, stdout, stderr) of a channel; with until_line, return after stdout's first line.

        Bounded however the command behaves: `timeout` seconds in all (a command that trickles output is
        stopped too), stdout up to MAX_STDOUT, only the last STDERR_TAIL bytes of stderr kept. `fix` says what
        to do when the deadline passes.
        """
        out, err = bytearray(), bytearray()
        deadline = time.monotonic() + timeout
        while True:
            self.signals.check()
            self._within(deadline, timeout, during, fix)
            try:
                chunk = chan.recv(65536)
            except (socket.timeout, TimeoutError):
                chunk = None
            except (EOFError, OSError):
                chunk = b""
            _read_stderr(chan, err, STDERR_CHUNKS)
            if chunk:
                out += chunk
                if len(out) > MAX_STDOUT:
                    raise MobiledeployError(f"{during} on {self.where} printed more than {MAX_STDOUT >> 20} MiB: "
                                            "stopped (the board's python is not running mobiledeploy's runner?)")
                if until_line and b"\n" in out:
                    return 0, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
                continue
            if chunk == b"":
                break
            if self.watchdog.dead or not self.transport.is_active():
                raise self.lost(during)
        # stdout has ended; the command may still be writing to stderr or not exiting: the same deadline
        while not chan.exit_status_ready() and self.transport.is_active():
            self.signals.check()
            self._within(deadline, timeout, during, fix)
            _read_stderr(chan, err, STDERR_CHUNKS)
            chan.status_event.wait(0.2)
        _read_stderr(chan, err)
        if not chan.exit_status_ready():
            raise self.lost(during)
        status = chan.recv_exit_status()
        if status == -1:  # closed without an exit status: a signal ended it, or the connection went away
            if self.watchdog.dead or not self.transport.is_active():
                raise self.lost(during)
            raise MobiledeployError(f"the command on {self.where} was killed by a signal during {during} (out of "
                                    "memory, or stopped by someone on the board): nothing was stored")
        return status, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")

    def _within(self, deadline: float, timeout: float, during: str, fix: str) -> None:
        if time.monotonic() > deadline:
            raise MobiledeployError(f"{during} on {self.where} took longer than {timeout:g} s: stopped"
                                    + (f" ({fix})" if fix else ""))

    def _exec(self, argv: list[str], timeout: float = COMMAND_TIMEOUT, during: str = "the run",
              fix: str = "") -> tuple[int, str, str]:
        chan = self._open(argv, during)
        try:
            return self._collect(chan, timeout, during, fix=fix)
        finally:
            chan.close()

    # -- the per-run folder -------------------------------------------------------------------------------

    def _remove_stale(self) -> None:
        code, out, _ = self._exec(["sh", "-c", STALE, "sh", self.workdir], COMMAND_TIMEOUT, "cleaning up")
        gone = [line for line in out.splitlines() if line.strip()]
        if gone:
            log.info("removed %d stale run folder%s on %s (left by a dropped connection)", len(gone),
                     "s" if len(gone) > 1 else "", self.name)

    def _free_kb(self, folder: str) -> int | None:
        """Free kB in a folder on the board (df -Pk), or None when df cannot tell."""
        try:
            code, out, _ = self._exec(["df", "-Pk", "--", folder], 30, "checking free space")
        except MobiledeployError:
            return None
        lines = out.strip().splitlines()
        try:
            return int(lines[-1].split()[-3]) if code == 0 and len(lines) >= 2 else None
        except (ValueError, IndexError):
            return None

    def _no_room(self, folder: str, need: int, free: int) -> MobiledeployError:
        return MobiledeployError(f"no room on {self.name}: {folder} has {free} kB free, the run needs about "
                                 f"{need // 1024 + 1} kB: free space there or set the device's workdir "
                                 "(mobiledeploy devices add ... --workdir DIR)")

    def _tether(self):
        """(channel, folder): the per-run folder and the process that marks it as in use."""
        chan = self._open(["sh", "-c", TETHER, "sh", self.workdir], "creating the run folder")
        try:
            code, out, err = self._collect(chan, 60, "creating the run folder", until_line=True)
        except BaseException:
            chan.close()
            raise
        folder = out.strip()
        if not folder.startswith(f"{self.workdir.rstrip('/')}/{PREFIX}"):
            chan.close()
            reason = (err.strip().splitlines() or [f"exit {code}"])[-1]
            raise MobiledeployError(f"cannot create a temporary folder under {self.workdir} on {self.where}: "
                                    f"{reason} (set the device's workdir, or free space there)")
        return chan, folder

    def _put(self, local: Path, remote: str) -> None:
        import paramiko

        try:
            sftp = self.client.open_sftp()
        except (OSError, EOFError, paramiko.SSHException):
            if self.watchdog.dead or not self.transport.is_active():
                raise self.lost(f"copying {local.name}") from None
            raise MobiledeployError(f"{self.where} offers no SFTP, which mobiledeploy copies files with: enable it "
                                    "on the board (OpenSSH: 'Subsystem sftp internal-sftp' in sshd_config; Debian "
                                    "package openssh-sftp-server)") from None
        try:
            with sftp:
                sftp.get_channel().settimeout(self.dead_timeout)
                sftp.put(str(local), remote, callback=lambda done, total: self.signals.check())
        except (OSError, EOFError, paramiko.SSHException) as exc:
            if self.watchdog.dead or not self.transport.is_active():
                raise self.lost(f"copying {local.name}") from None
            # paramiko reports a full disk as a size mismatch or a bare "Failure": ask the board
            free = self._free_kb(remote.rsplit("/", 1)[0])
            size = local.stat().st_size
            if free is not None and free * 1024 < size + 64 * 1024:
                raise self._no_room(self.workdir, size, free) from None
            detail = " ".join(str(exc).split())[:120] or type(exc).__name__
            raise MobiledeployError(f"copying {local.name} to {self.where}:{remote} failed: {detail}") from None

    def _with_runner(self, uploads: list[Path], argv_for, timeout: float, fix: str) -> dict:
        with SafePoints() as self.signals:
            try:
                return self._run_in_folder(uploads, argv_for, timeout, fix)
            finally:
                self.signals = _NO_SAFE_POINTS

    def _run_in_folder(self, uploads: list[Path], argv_for, timeout: float, fix: str) -> dict:
        need = sum(p.stat().st_size for p in uploads) + RUNNER.stat().st_size
        free = self._free_kb(self.workdir)
        if free is not None and free * 1024 < need + 64 * 1024:  # margin: the owner/pid files, block rounding
            raise self._no_room(self.workdir, need, free)
        signals, self.signals = self.signals, _NO_SAFE_POINTS  # a signal now waits until the folder is known
        try:
            tether, tmp = self._tether()
        finally:
            self.signals = signals
        running = False
        try:
            self._put(RUNNER, f"{tmp}/runner.py")
            for p in uploads:
                self._put(p, f"{tmp}/{p.name}")
            running = True
            argv = [self.python, f"{tmp}/runner.py", "--pid-file", f"{tmp}/pid", "--stop-on-eof", *argv_for(tmp)]
            code, out, err = self._exec(argv, timeout, fix=fix)  # past the deadline: stopped by _cleanup
            if code == 127 or (code != 0 and not out.strip()):
                raise MobiledeployError(f"{self.where}: cannot run {self.python}: "
                                        f"{(err.strip().splitlines() or ['exit ' + str(code)])[-1]} (set the "
                                        "device's python)")
            running = False  # finished by itself: nothing to stop
            return parse_runner_output(out, self.where)
        finally:
            self._cleanup(tether, tmp, stop=running)

    def _cleanup(self, tether, tmp: str, stop: bool) -> None:
        """Remove the run's folder (first stopping its runner's process group); quietly, best effort.

        When the connection is gone, the runner stops by itself (its stdin ends) and the next connection
        removes the folder. A signal during the clean-up waits for its end (and then acts).
        """
        signals, self.signals = self.signals, _NO_SAFE_POINTS
        try:
            if self.transport.is_active() and not self.watchdog.dead:
                argv = ["sh", "-c", STOP, "sh", tmp] if stop else ["rm", "-rf", "--", tmp]
                self._exec(argv, CLEANUP_TIMEOUT, "cleaning up")
        except MobiledeployError:
            pass
        finally:
            tether.close()
            self.signals = signals

    def probe(self) -> dict:
        """What `devices check` reports, from the runner on the board."""
        return self._with_runner([], lambda tmp: ["--probe"], PROBE_TIMEOUT,
                                 "the board's python or its runtime does not start: run the runner there by hand")

    def run(self, model: Path, settings: BenchSettings) -> dict:
        """Measure one model file on the board."""
        return self._with_runner([model], lambda tmp: runner_args(f"{tmp}/{model.name}", settings),
                                 run_timeout(settings), timeout_fix(settings))


def _read_stderr(chan, err: bytearray, chunks: int | None = None) -> None:
    """Read what the channel's stderr holds (at most `chunks` reads) into `err`, keeping only its last
    STDERR_TAIL bytes: a runner writing to stderr forever must not grow this process without end."""
    while (chunks is None or chunks > 0) and chan.recv_stderr_ready():
        err += chan.recv_stderr(65536)
        del err[:-STDERR_TAIL]
        chunks = None if chunks is None else chunks - 1
