"""A Linux board over SSH (paramiko): host keys checked, the runner copied to a per-run folder, run, removed.

Faults this module turns into one line each: an unknown, changed or revoked host key; a key file that is
missing or unreadable; a port where no SSH server answers (refused, silent, another protocol); a board
that stops answering mid-run (keepalives with a dead-peer timeout); a full disk on the board; Ctrl-C or
SIGTERM on the host (the runner's process group is killed and its folder removed). Folders a dropped
connection left behind are removed on the next connection, unless their owner still runs.
"""
from __future__ import annotations

import logging
import shlex
import socket
import threading
import time
from pathlib import Path

from ..errors import MobiledeployError
from . import known_hosts
from .targets import RUNNER, parse_runner_output, runner_args

log = logging.getLogger("mobiledeploy")

CONNECT_TIMEOUT = 10.0   # TCP connect, SSH greeting, authentication, opening a channel
KEEPALIVE = 5.0          # seconds between keepalive requests once connected
DEAD_TIMEOUT = 30.0      # no answer to a keepalive for this long: the board is gone
RUN_TIMEOUT = 3600.0     # a whole measurement; the dead-peer timeout catches a vanished board much sooner
CLEANUP_TIMEOUT = 10.0   # removing the run's folder after Ctrl-C must not hang the user's terminal
PREFIX = "mobiledeploy."

# The per-run folder, created by a process that lives exactly as long as this connection: `cat` reads the
# channel's stdin, which only ends when we close it or the connection drops. Its pid in `owner` is what
# tells a later connection that the folder is still in use.
TETHER = ('d=$(mktemp -d "$1/mobiledeploy.XXXXXX") || exit 1; '
          'echo $$ > "$d/owner" || { rm -rf "$d"; exit 1; }; echo "$d"; exec cat >/dev/null')
# Folders of earlier runs whose owner and runner are both gone (killed connection, crashed host) and that
# no process names on its command line: removed. A folder without an owner file (made by an older version)
# counts as stale only once it is older than this connection.
STALE = r'''now=$(date +%s)
for d in "$1"/mobiledeploy.*; do
  [ -d "$d" ] && [ ! -L "$d" ] || continue
  live=
  for f in owner pid; do
    p=$(cat "$d/$f" 2>/dev/null) || continue
    case "$p" in ''|*[!0-9]*) continue ;; esac
    if kill -0 "$p" 2>/dev/null || [ -d "/proc/$p" ]; then live=1; fi
  done
  [ -z "$live" ] || continue
  ! grep -qsF -- "$d/" /proc/[0-9]*/cmdline || continue
  if [ ! -f "$d/owner" ]; then m=$(stat -c %Y "$d" 2>/dev/null) || continue; [ "$m" -lt "$now" ] || continue; fi
  rm -rf -- "$d" && echo "$d"
done
exit 0'''
# Stop the runner's whole process group (it leads one: runner.py --pid-file), then remove the folder.
STOP = 'p=$(cat "$1/pid" 2>/dev/null) && case "$p" in *[!0-9]*) ;; ?*) kill -TERM -- "-$p" 2>/dev/null ;; esac; rm -rf -- "$1"'


def _quiet_paramiko() -> None:
    # paramiko logs every failed handshake with a traceback through the root logger's last resort
    from ..quiet import verbose

    if not verbose():
        logging.getLogger("paramiko").setLevel(logging.CRITICAL + 1)


def private_key(path: str):
    """The paramiko key in `path`, or one line naming the file and what is wrong with it."""
    import paramiko

    p = Path(path).expanduser()
    fix = "fix the device's key (mobiledeploy devices add NAME --ssh USER@HOST --key PATH)"
    if not p.exists():
        raise MobiledeployError(f"SSH key {p} does not exist: {fix}")
    if not p.is_file():
        raise MobiledeployError(f"SSH key {p} is not a file: {fix}")
    try:
        return paramiko.PKey.from_path(p)
    except Exception as exc:  # paramiko's parsers raise many types on a file that is not a key
        if isinstance(exc, paramiko.PasswordRequiredException) or "password" in str(exc).lower():
            raise MobiledeployError(f"SSH key {p} is protected by a passphrase, which mobiledeploy cannot ask for: "
                                    "use a key without one, or load it into ssh-agent and configure no "
                                    "--key") from None
        if isinstance(exc, OSError):
            raise MobiledeployError(f"cannot read SSH key {p}: {exc.strerror or exc} ({fix})") from None
        detail = " ".join(str(exc).split())[:80] or type(exc).__name__
        raise MobiledeployError(f"{p} is not a private key mobiledeploy can use ({detail}): give the private "
                                "key, not the .pub file") from None


class _WatchedSocket(socket.socket):
    """A TCP socket that counts what the server sent: tells a silent server from one that speaks another protocol."""

    received = 0

    def recv(self, size, *flags):
        data = super().recv(size, *flags)
        self.received += len(data)
        return data


def _open_socket(host: str, port: int, timeout: float) -> _WatchedSocket:
    """Connect to host:port (every address it resolves to, in order); OSErrors are the caller's to explain."""
    last = None
    for family, kind, proto, _, address in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        sock = _WatchedSocket(family, kind, proto)
        sock.settimeout(timeout)
        try:
            sock.connect(address)
            return sock
        except OSError as exc:
            sock.close()
            last = exc
    raise last or OSError(f"no address for {host}")


class _HostKeyPolicy:
    """Called by paramiko for a host key that no trusted entry names: refuse, unless --insecure."""

    def __init__(self, target: "SSHTarget", trust: known_hosts.Trust):
        self.target, self.trust = target, trust

    def missing_host_key(self, client, hostname, key):
        t = self.target
        if self.trust.is_revoked(key):
            raise t.revoked(key)
        if not t.insecure:
            host, port = t.entry["host"], t.port
            raise MobiledeployError(
                f"the host key of {t.where} ({known_hosts.fingerprint(key)}) is unknown: add it (ssh-keyscan -p "
                f"{port} {host} >> ~/.ssh/known_hosts, or the device's known_hosts file) or pass --insecure")
        # accepted for this connection only: nothing is added to any known_hosts, in memory or on disk
        log.warning("accepting the unverified host key of %s (%s) for this connection only (--insecure); "
                    "no known_hosts file is changed", t.where, known_hosts.fingerprint(key))


class _Watchdog(threading.Thread):
    """Keepalive requests the server must answer; no answer for `dead_after` s closes the connection.

    Closing the transport wakes every blocked read and write in the main thread, which then reports the
    board as gone instead of waiting for TCP to give up (many minutes).
    """

    def __init__(self, transport, interval: float, dead_after: float):
        super().__init__(daemon=True, name="ssh-watchdog")
        self.transport, self.interval, self.dead_after = transport, interval, dead_after
        self.dead = False
        self._stop = threading.Event()

    def _ping(self, answered: threading.Event) -> None:
        try:
            # want_reply: OpenSSH answers (with a failure) to a request it does not know, which is the point
            self.transport.global_request("keepalive@openssh.com", wait=True)
        except Exception:  # the transport went away: the main thread sees that itself
            pass
        answered.set()

    def run(self):
        while not self._stop.wait(self.interval):
            if not self.transport.is_active():
                return
            answered = threading.Event()
            threading.Thread(target=self._ping, args=(answered,), daemon=True).start()
            if not answered.wait(self.dead_after) and not self._stop.is_set():
                self.dead = True
                self.transport.close()
                return

    def stop(self):
        self._stop.set()


class SSHTarget:
    """A Linux board over SSH: host keys checked unless insecure; a per-run temporary folder, removed after."""

    def __init__(self, name: str, entry: dict, insecure: bool = False):
        self.name, self.entry = name, entry
        self.port = int(entry.get("port", 22))
        self.where = f"{entry['user']}@{entry['host']}:{self.port}"
        self.insecure = insecure or bool(entry.get("insecure"))
        self.python = entry.get("python", "python3")
        self.workdir = entry.get("workdir", "/tmp").rstrip("/") or "/"
        self.connect_timeout = float(entry.get("connect_timeout", CONNECT_TIMEOUT))
        self.dead_timeout = float(entry.get("dead_timeout", DEAD_TIMEOUT))
        self.keepalive = float(entry.get("keepalive", min(KEEPALIVE, self.dead_timeout / 2)))
        self.trust = None
        self.client = self._connect()
        self.transport = self.client.get_transport()
        self.watchdog = _Watchdog(self.transport, self.keepalive, self.dead_timeout)
        self.watchdog.start()
        try:
            self._remove_stale()
        except BaseException:
            self.close()
            raise

    # -- connecting ---------------------------------------------------------------------------------------

    def revoked(self, key) -> MobiledeployError:
        return MobiledeployError(f"the host key of {self.where} ({known_hosts.fingerprint(key)}) is marked "
                                 f"@revoked in {', '.join(self.trust.sources)}: refusing to connect (--insecure "
                                 "does not override a revocation); give the board a new host key")

    def _connect(self):
        import paramiko

        _quiet_paramiko()
        known = self.entry.get("known_hosts")
        paths = [Path(known).expanduser()] if known else [Path("~/.ssh/known_hosts").expanduser(),
                                                          Path("/etc/ssh/ssh_known_hosts")]
        pkey = private_key(self.entry["key"]) if self.entry.get("key") else None
        client = paramiko.SSHClient()
        # the trusted keys live in memory only: the client has no file name to save them to
        self.trust = known_hosts.load(paths, required=bool(known), into=client.get_host_keys())
        client.set_missing_host_key_policy(_HostKeyPolicy(self, self.trust))
        host, t = self.entry["host"], self.connect_timeout
        sock = None
        try:
            sock = _open_socket(host, self.port, t)
            # the greeting must come within t; the handshake as a whole gets a little longer, so that the
            # greeting's own timeout is the one that reports a silent server
            client.connect(host, port=self.port, username=self.entry["user"], pkey=pkey, sock=sock,
                           look_for_keys=pkey is None, allow_agent=pkey is None, timeout=t + 5, banner_timeout=t,
                           auth_timeout=t, channel_timeout=t)
            return client
        except BaseException as exc:
            client.close()
            if sock is not None:
                sock.close()
            if isinstance(exc, Exception) and not isinstance(exc, MobiledeployError):
                raise self._connect_error(exc, sock.received if sock is not None else 0) from None
            raise

    def _connect_error(self, exc: Exception, received: int) -> MobiledeployError:
        import paramiko

        where, t = self.where, self.connect_timeout
        port_fix = "check the device's host and port (mobiledeploy devices list)"
        if isinstance(exc, paramiko.BadHostKeyException):
            if self.trust.is_revoked(exc.key):
                return self.revoked(exc.key)
            return MobiledeployError(f"the host key of {where} ({known_hosts.fingerprint(exc.key)}) does not match "
                                     f"{', '.join(self.trust.sources)} (the board was reinstalled, or someone is in "
                                     "between): check it, then update known_hosts")
        if isinstance(exc, paramiko.AuthenticationException):
            key = self.entry.get("key")
            which = f"the key {key}" if key else "your ssh-agent and ~/.ssh keys"
            return MobiledeployError(f"authentication to {where} failed with {which}: check that its public key is "
                                     "in the board's ~/.ssh/authorized_keys for that user")
        if isinstance(exc, paramiko.SSHException):
            text = str(exc)
            if "protocol banner" in text:
                cause = exc.__context__
                if isinstance(cause, (socket.timeout, TimeoutError)) and received:
                    return MobiledeployError(f"{where} does not speak SSH (it sent {received} bytes but no SSH "
                                             f"greeting within {t:g} s): {port_fix}")
                if isinstance(cause, (socket.timeout, TimeoutError)):
                    return MobiledeployError(f"{where} accepted the connection but did not answer SSH within {t:g} s "
                                             f"(is an SSH server on port {self.port}? a slow board: raise the "
                                             "device's connect_timeout)")
                if isinstance(cause, EOFError):
                    return MobiledeployError(f"{where} closed the connection without an SSH greeting: no SSH server "
                                             f"on port {self.port}? {port_fix}")
                return MobiledeployError(f"{where} does not speak SSH (what it sent is not an SSH greeting): "
                                         f"{port_fix}")
            if "No existing session" in text or "Negotiation failed" in text:
                return MobiledeployError(f"{where} did not complete the SSH handshake within {t:g} s (a slow or "
                                         "overloaded board: raise the device's connect_timeout)")
            first = " ".join(text.split())[:120] or type(exc).__name__
            return MobiledeployError(f"SSH to {where} failed: {first} ({port_fix})")
        if isinstance(exc, socket.gaierror):
            return MobiledeployError(f"cannot resolve {self.entry['host']} ({exc.strerror}): {port_fix}")
        if isinstance(exc, (socket.timeout, TimeoutError)):
            return MobiledeployError(f"{where} did not accept a connection within {t:g} s (board off, wrong address "
                                     "or a firewall)")
        if isinstance(exc, (ConnectionRefusedError, paramiko.ssh_exception.NoValidConnectionsError)):
            return MobiledeployError(f"nothing listens on {where} (connection refused): is sshd running? {port_fix}")
        if isinstance(exc, (OSError, EOFError)):
            reason = getattr(exc, "strerror", None) or " ".join(str(exc).split()) or type(exc).__name__
            return MobiledeployError(f"cannot reach {where}: {reason}")
        return MobiledeployError(f"SSH to {where} failed: {type(exc).__name__}: {' '.join(str(exc).split())[:120]}")

    # -- running commands ---------------------------------------------------------------------------------

    def lost(self, during: str = "the run") -> MobiledeployError:
        if self.watchdog.dead:
            return MobiledeployError(f"{self.where} stopped answering for {self.dead_timeout:g} s during {during} "
                                     "(board hung, powered off or network down): nothing was stored; the wait is "
                                     "the device's dead_timeout")
        return MobiledeployError(f"connection to {self.where} lost during {during}: nothing was stored")

    def _open(self, argv: list[str], during: str):
        """A channel running an argument list: every word quoted, so names cannot inject shell syntax."""
        import paramiko

        try:
            chan = self.transport.open_session(timeout=self.connect_timeout)
            chan.exec_command(shlex.join(argv))
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise self.lost(during) from None
        chan.settimeout(0.2)  # short reads, so Ctrl-C, the deadline and the watchdog are noticed promptly
        return chan

    def _collect(self, chan, timeout: float, during: str, until_line: bool = False) -> tuple[int, str, str]:
        """(status, stdout, stderr) of a channel; with until_line, return after stdout's first line."""
        out, err = bytearray(), bytearray()
        deadline = time.monotonic() + timeout
        while True:
            try:
                chunk = chan.recv(65536)
            except (socket.timeout, TimeoutError):
                chunk = None
            except (EOFError, OSError):
                chunk = b""
            while chan.recv_stderr_ready():
                err += chan.recv_stderr(65536)
            if chunk:
                out += chunk
                if until_line and b"\n" in out:
                    return 0, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
                continue
            if chunk == b"":
                break
            if self.watchdog.dead or not self.transport.is_active():
                raise self.lost(during)
            if time.monotonic() > deadline:
                raise MobiledeployError(f"{during} on {self.where} took longer than {timeout:g} s: stopped")
        while not chan.exit_status_ready() and self.transport.is_active() and time.monotonic() < deadline:
            chan.status_event.wait(0.2)
        while chan.recv_stderr_ready():
            err += chan.recv_stderr(65536)
        if not chan.exit_status_ready():
            raise self.lost(during)
        status = chan.recv_exit_status()
        if status == -1:  # closed without an exit status: the connection went away
            raise self.lost(during)
        return status, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")

    def _exec(self, argv: list[str], timeout: float = RUN_TIMEOUT, during: str = "the run") -> tuple[int, str, str]:
        chan = self._open(argv, during)
        try:
            return self._collect(chan, timeout, during)
        finally:
            chan.close()

    # -- the per-run folder -------------------------------------------------------------------------------

    def _remove_stale(self) -> None:
        code, out, _ = self._exec(["sh", "-c", STALE, "sh", self.workdir], 60, "cleaning up")
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
            with self.client.open_sftp() as sftp:
                sftp.get_channel().settimeout(self.dead_timeout)
                sftp.put(str(local), remote)
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

    def _with_runner(self, uploads: list[Path], argv_for) -> dict:
        need = sum(p.stat().st_size for p in uploads) + RUNNER.stat().st_size
        free = self._free_kb(self.workdir)
        if free is not None and free * 1024 < need + 64 * 1024:  # margin: the owner/pid files, block rounding
            raise self._no_room(self.workdir, need, free)
        tether, tmp = self._tether()
        running = False
        try:
            self._put(RUNNER, f"{tmp}/runner.py")
            for p in uploads:
                self._put(p, f"{tmp}/{p.name}")
            running = True
            argv = [self.python, f"{tmp}/runner.py", "--pid-file", f"{tmp}/pid", "--stop-on-eof", *argv_for(tmp)]
            code, out, err = self._exec(argv)
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
        removes the folder.
        """
        try:
            if self.transport.is_active() and not self.watchdog.dead:
                argv = ["sh", "-c", STOP, "sh", tmp] if stop else ["rm", "-rf", "--", tmp]
                self._exec(argv, CLEANUP_TIMEOUT, "cleaning up")
        except (MobiledeployError, KeyboardInterrupt):
            pass
        finally:
            tether.close()

    def probe(self) -> dict:
        """What `devices check` reports, from the runner on the board."""
        return self._with_runner([], lambda tmp: ["--probe"])

    def run(self, model: Path, settings: dict) -> dict:
        """Measure one model file on the board."""
        return self._with_runner([model], lambda tmp: runner_args(f"{tmp}/{model.name}", settings))

    def close(self):
        """Stop the keepalives and close the connection."""
        watchdog = getattr(self, "watchdog", None)
        if watchdog is not None:
            watchdog.stop()
        self.client.close()
