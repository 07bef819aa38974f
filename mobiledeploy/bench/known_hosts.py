"""Host keys from OpenSSH known_hosts files, read only (never written), for the SSH target's checks.

paramiko's own loader misreads marker lines (`@cert-authority`, `@revoked`: one such line made every
connection fail) and its AutoAddPolicy rewrites the file. Here each file is parsed line by line into an
in-memory trust list: plain and hashed (`|1|salt|hash`) host entries are trusted, `@revoked` keys are
refused for every host (even with --insecure), and what paramiko cannot check (certificate authorities,
unknown key types, malformed lines) is skipped with one warning per file.
"""
from __future__ import annotations

import base64
import logging
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import MobiledeployError
from ..readers import read_bytes

log = logging.getLogger("mobiledeploy")
MAX_BYTES = 16 << 20  # far above any real known_hosts; a bigger "file" (e.g. /dev/zero) is refused


def fingerprint(key) -> str:
    """OpenSSH's SHA256 fingerprint of a paramiko key (what ssh-keygen -l prints)."""
    import hashlib

    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


@dataclass
class Trust:
    """Trusted host entries (a paramiko HostKeys) and the revoked key blobs."""

    keys: object
    revoked: set = field(default_factory=set)
    sources: list = field(default_factory=list)

    def is_revoked(self, key) -> bool:
        return key.asbytes() in self.revoked

    def _for(self, name: str) -> list:
        return [e for e in self.keys._entries if any(_matches(name, h) for h in e.hostnames)]

    def lists(self, name: str, key) -> bool:
        """Whether any trusted line for host `name` (as known_hosts spells it: "[host]:port") holds `key`."""
        return any(e.key.asbytes() == key.asbytes() for e in self._for(name))

    def prefer(self, name: str, key) -> None:
        """Drop the other lines of `key`'s type for host `name`. OpenSSH accepts a host key that any line for
        the host lists; paramiko compares with the first line of the key's type only, so a stale line above
        the current one would refuse a good key."""
        stale = [e for e in self._for(name) if e.key.get_name() == key.get_name() and e.key.asbytes() != key.asbytes()]
        self.keys._entries = [e for e in self.keys._entries if all(e is not s for s in stale)]


def host_name(host: str, port: int) -> str:
    """A host as known_hosts and paramiko name it: "host" on port 22, else "[host]:port"."""
    return host if port == 22 else f"[{host}]:{port}"


def _matches(name: str, pattern: str) -> bool:
    import hmac

    import paramiko

    if pattern.startswith("|1|"):
        return hmac.compare_digest(paramiko.HostKeys.hash_host(name, pattern), pattern)
    return pattern == name


def _entry(line: str):
    """A paramiko HostKeyEntry for `names keytype base64`, or None when paramiko cannot use it."""
    import paramiko

    try:
        entry = paramiko.hostkeys.HostKeyEntry.from_line(line)
    except (paramiko.SSHException, paramiko.hostkeys.InvalidHostKey, ValueError, TypeError, IndexError,
            AssertionError):
        return None
    if entry is not None and not all(_name_ok(name) for name in entry.hostnames):
        return None  # a hashed name paramiko would choke on when matching (bad base64)
    return entry


def _name_ok(name: str) -> bool:
    if not name.startswith("|1|"):
        return bool(name)
    parts = name.split("|")
    try:
        return len(parts) == 4 and len(base64.b64decode(parts[2], validate=True)) > 0 and \
            len(base64.b64decode(parts[3], validate=True)) == 20
    except ValueError:
        return False


def parse(text: str, source: str, trust: Trust) -> None:
    """Add one file's entries to `trust`; one warning line when something in it was skipped."""
    skipped: dict[str, int] = {}
    for raw in text.splitlines():
        line = " ".join(raw.split())  # paramiko splits on single blanks only
        if not line or line.startswith("#"):
            continue
        marker = None
        if line.startswith("@"):
            marker, _, line = line.partition(" ")
        if marker == "@revoked":
            entry = _entry(line)
            if entry is None:
                skipped["unreadable @revoked line"] = skipped.get("unreadable @revoked line", 0) + 1
            else:
                trust.revoked.add(entry.key.asbytes())
            continue
        if marker is not None:
            reason = f"{marker} (not supported)" if marker == "@cert-authority" else f"unknown marker {marker[:20]}"
            skipped[reason] = skipped.get(reason, 0) + 1
            continue
        entry = _entry(line)
        if entry is None:
            skipped["unreadable or unsupported key"] = skipped.get("unreadable or unsupported key", 0) + 1
            continue
        trust.keys._entries.append(entry)
    if skipped:
        what = ", ".join(f"{n} {reason}" for reason, n in skipped.items())
        log.warning("%s: skipped %d line%s: %s", source, sum(skipped.values()),
                    "s" if sum(skipped.values()) > 1 else "", what)


def load(paths: list[Path], required: bool, into=None) -> Trust:
    """Trust from these files (into a paramiko HostKeys, e.g. an SSHClient's, which is never saved).

    A configured file (`required`) must exist; the default ones may be absent.
    """
    import paramiko

    trust = Trust(into if into is not None else paramiko.HostKeys())
    for path in paths:
        if required and not Path(path).exists() and not Path(path).is_symlink():
            raise MobiledeployError(f"known_hosts file {path} does not exist: create it (ssh-keyscan -p PORT "
                                    "HOST > FILE) or fix the device's known_hosts")
        data = read_bytes(path, "known_hosts", MAX_BYTES, "fix the device's known_hosts", missing_ok=not required)
        if data is None:
            continue
        parse(data.decode("utf-8", "replace"), str(path), trust)
        trust.sources.append(str(path))
    # a key listed as @revoked is never trusted, even when a plain line for the host lists it too
    trust.keys._entries = [e for e in trust.keys._entries if e.key.asbytes() not in trust.revoked]
    return trust
