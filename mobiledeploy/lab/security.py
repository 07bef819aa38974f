"""Who may talk to the lab: Dask's mutual TLS with the lab's own CA; plain tcp:// only on loopback.

A Dask scheduler runs the code its clients send, so an open port is a remote shell: every lab address is tls://
with this lab's certificates (each side proves it holds a certificate the lab's CA signed), except a tcp://
address on this host's loopback (a one-machine lab, a test) where only local users can connect at all.
"""
from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from ..errors import MobiledeployError
from . import certs

DEFAULT_PORT = 8786


def parse_address(address: str, listen: bool = False) -> tuple[str, str, int]:
    """(scheme, host, port) of a lab address: tls://HOST[:PORT], or tcp://HOST[:PORT] with HOST on loopback."""
    text = str(address or "").strip()
    if "://" not in text:
        text = "tls://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise MobiledeployError(f"lab address {str(address)[:80]!r} is not tls://HOST:PORT (e.g. "
                                f"tls://labhost:{DEFAULT_PORT})") from None
    scheme, host = parts.scheme, parts.hostname or ""
    if scheme not in ("tls", "tcp") or (not host and not listen) or parts.path not in ("", "/"):
        raise MobiledeployError(f"lab address {str(address)[:80]!r} is not tls://HOST:PORT (e.g. "
                                f"tls://labhost:{DEFAULT_PORT})")
    if scheme == "tcp" and not loopback(host):
        raise MobiledeployError(f"{address} is plain tcp:// on a network address: anyone who reaches it can run "
                                "code on every host of the lab. Use tls:// with --certs (mobiledeploy lab certs), "
                                "or tcp://127.0.0.1 for a lab on this machine only")
    return scheme, host, DEFAULT_PORT if port is None else port


def loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def address(scheme: str, host: str, port: int) -> str:
    h = f"[{host}]" if ":" in host else host
    return f"{scheme}://{h}:{port}"


def security(scheme: str, cert_folder):
    """Dask's Security for one party: mutual TLS with the lab's CA (None for a loopback tcp:// lab)."""
    if scheme == "tcp":
        if cert_folder:
            raise MobiledeployError("--certs is for tls:// addresses; a tcp:// lab on loopback has no TLS")
        return None
    if not cert_folder:
        raise MobiledeployError("a tls:// lab needs --certs: the folder `mobiledeploy lab certs` wrote for this "
                                "host (e.g. lab-certs/desk1)")
    from distributed.security import Security

    p = certs.party(cert_folder)
    # the same certificate serves every role a process plays (a worker also opens connections to its peers)
    kw = {f"tls_{role}_{what}": p[key] for role in ("scheduler", "worker", "client")
          for what, key in (("cert", "cert"), ("key", "key"))}
    return Security(tls_ca_file=p["ca"], require_encryption=True, **kw)
