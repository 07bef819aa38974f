"""An SSH connection to a board (paramiko): host keys checked, keepalives, every connect fault one line.

Faults this module turns into one line each: an unknown, changed or revoked host key; a key file that is
missing, unreadable or protected by a passphrase; a port where no SSH server answers (refused, silent,
another protocol); a board that stops answering (keepalives with a dead-peer timeout).
"""
from __future__ import annotations

import logging
import socket
import threading
from pathlib import Path

from ..errors import MobiledeployError
from ..readers import read_bytes
from . import known_hosts

log = logging.getLogger("mobiledeploy")

CONNECT_TIMEOUT = 10.0   # TCP connect, SSH greeting, authentication, opening a channel
KEEPALIVE = 5.0          # seconds between keepalive requests once connected
DEAD_TIMEOUT = 30.0      # no answer to a keepalive for this long: the board is gone
MAX_KEY_BYTES = 1 << 20  # an RSA-16384 private key is 13 KB of PEM: a larger file is not a key


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
    # read once, capped (a key is a few KB; PKey.from_path would read a 3 GB file whole), then parsed from memory
    text = read_bytes(p, "SSH key", MAX_KEY_BYTES, fix).decode("utf-8", "replace")
    try:
        return _parse_key(paramiko, text, p)
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


def _parse_key(paramiko, text: str, p: Path):
    """The first key type that reads `text`; a passphrase asked by any of them wins over "not a key"."""
    import io

    failure = None
    for kind in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            key = kind.from_private_key(io.StringIO(text))
        except paramiko.PasswordRequiredException:
            raise
        except Exception as exc:  # noqa: BLE001 - the next type may read it
            failure = failure or exc
            continue
        cert = Path(f"{p}-cert.pub")
        if cert.is_file():
            key.load_certificate(str(cert))
        return key
    raise failure


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

    def __init__(self, target: "Connection", trust: known_hosts.Trust):
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


class Connection:
    """A connected board: host keys checked unless insecure, keepalives watched; `close()` ends it."""

    def __init__(self, name: str, entry: dict, insecure: bool = False):
        self.name, self.entry = name, entry
        self.port = int(entry.get("port", 22))
        host = entry["host"]
        self.where = f"{entry['user']}@{f'[{host}]' if ':' in host else host}:{self.port}"   # IPv6 in brackets
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

    # -- connecting ---------------------------------------------------------------------------------------

    def revoked(self, key) -> MobiledeployError:
        return MobiledeployError(f"the host key of {self.where} ({known_hosts.fingerprint(key)}) is marked "
                                 f"@revoked in {', '.join(self.trust.sources)}: refusing to connect (--insecure "
                                 "does not override a revocation); give the board a new host key")

    def _connect(self, prefer=None):
        import paramiko

        _quiet_paramiko()
        known = self.entry.get("known_hosts")
        paths = [Path(known).expanduser()] if known else [Path("~/.ssh/known_hosts").expanduser(),
                                                          Path("/etc/ssh/ssh_known_hosts")]
        pkey = private_key(self.entry["key"]) if self.entry.get("key") else None
        client = paramiko.SSHClient()
        # the trusted keys live in memory only: the client has no file name to save them to
        self.trust = known_hosts.load(paths, required=bool(known), into=client.get_host_keys())
        if prefer is not None:
            self.trust.prefer(*prefer)
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
            name = known_hosts.host_name(host, self.port)
            if prefer is None and isinstance(exc, paramiko.BadHostKeyException) and self.trust.lists(name, exc.key):
                return self._connect(prefer=(name, exc.key))   # a later line lists it, as OpenSSH would accept
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

    def lost(self, during: str = "the run") -> MobiledeployError:
        if self.watchdog.dead:
            return MobiledeployError(f"{self.where} stopped answering for {self.dead_timeout:g} s during {during} "
                                     "(board hung, powered off or network down): nothing was stored; the wait is "
                                     "the device's dead_timeout")
        return MobiledeployError(f"connection to {self.where} lost during {during}: nothing was stored")

    def close(self):
        """Stop the keepalives and close the connection."""
        watchdog = getattr(self, "watchdog", None)
        if watchdog is not None:
            watchdog.stop()
        self.client.close()
