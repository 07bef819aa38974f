"""`mobiledeploy serve`: the results page live from the store, read-only, over the standard library's HTTP server.

Loopback by default. On any other address every request needs the access token made at start (printed once by
the command): `?token=` once (answered with a cookie and a redirect to the address without it), the cookie, or
an `Authorization: Bearer` header; anything else gets 401. The token is compared in constant time and never
logged: request lines are logged without their query, and any line holding the token has it blanked.
"""
from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import secrets
import socket
import threading
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from ..errors import MobiledeployError
from .filters import Filters

log = logging.getLogger("mobiledeploy")

COOKIE = "mobiledeploy_token"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8731
HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
           "Cache-Control": "no-store"}


def is_loopback(host: str) -> bool:
    """Whether every address `host` names is this machine's loopback (a name is resolved)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0].split("%")[0]).is_loopback for i in infos)


class PageServer(ThreadingHTTPServer):
    """The HTTP server: renders the page from the store on each request."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, filters: Filters, token: str | None):
        self.filters = filters
        self.token = token
        self.cached: tuple = (None, None)     # (the store's state, the page's data built from it)
        self.cache_lock = threading.Lock()
        super().__init__(address, Handler)

    def page_data(self):
        """The page's data, built again only when the store changed since (building runs pick per budget)."""
        from ..bench import store
        from . import data

        with self.cache_lock:
            now = store.state()
            if self.cached[0] != now:
                self.cached = (now, data.load(self.filters))
            return self.cached[1]


class PageServer6(PageServer):
    address_family = socket.AF_INET6


class Handler(BaseHTTPRequestHandler):
    """GET and HEAD of / (the page) and /data.json (its data); nothing is ever written."""

    server: PageServer
    server_version = "mobiledeploy-serve"
    sys_version = ""

    # ---- access ------------------------------------------------------------------------------------------------
    def _given(self) -> tuple[str | None, bool]:
        """(the token this request carries, whether it came in the query)."""
        query = parse_qs(urlsplit(self.path).query)
        if query.get("token"):
            return query["token"][0], True
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            return auth[len("Bearer "):].strip(), False
        try:
            jar = SimpleCookie(self.headers.get("Cookie", ""))
        except CookieError:
            return None, False
        return (jar[COOKIE].value if COOKIE in jar else None), False

    def _allowed(self) -> bool:
        token = self.server.token
        if token is None:
            return True
        given, in_query = self._given()
        ok = given is not None and hmac.compare_digest(given.encode("utf-8", "replace"), token.encode())
        if ok and in_query:   # once in the address: a cookie from now on, and an address without it
            self.send_response(HTTPStatus.SEE_OTHER)
            self.send_header("Location", urlsplit(self.path).path or "/")
            self.send_header("Set-Cookie", f"{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/")
            self._common_headers(0)
            self.end_headers()
            return False
        if not ok:
            self._text(HTTPStatus.UNAUTHORIZED, "401: this page needs its access token: open the address "
                       "`mobiledeploy serve` printed (it ends in ?token=...), or send Authorization: Bearer TOKEN\n",
                       {"WWW-Authenticate": 'Bearer realm="mobiledeploy"'})
        return ok

    # ---- answers -----------------------------------------------------------------------------------------------
    def _common_headers(self, length: int) -> None:
        from .page import CSP

        for k, v in HEADERS.items():
            self.send_header(k, v)
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("Content-Length", str(length))

    def _send(self, status, body: bytes, content_type: str, extra: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self._common_headers(len(body))
        self.end_headers()
        if self.command != "HEAD":
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass   # the reader went away

    def _text(self, status, text: str, extra: dict | None = None) -> None:
        self._send(status, text.encode("utf-8", "replace"), "text/plain; charset=utf-8", extra)

    def do_GET(self):  # noqa: N802 (http.server's name)
        if not self._allowed():
            return
        path = urlsplit(self.path).path
        if path not in ("/", "/index.html", "/data.json"):
            self._text(HTTPStatus.NOT_FOUND, "404: this server shows / (the page) and /data.json (its data)\n")
            return
        from . import page

        try:
            doc = self.server.page_data()
            if path == "/data.json":
                body = json.dumps(doc.to_dict(), default=str).encode("utf-8", "replace")
                self._send(HTTPStatus.OK, body, "application/json")
            else:
                self._send(HTTPStatus.OK, page.render(doc).encode("utf-8", "replace"), "text/html; charset=utf-8")
        except MobiledeployError as exc:
            self._text(HTTPStatus.INTERNAL_SERVER_ERROR, f"error: {exc}\n")
            log.warning("serve: %s", exc)

    do_HEAD = do_GET

    # ---- logging: never the token ------------------------------------------------------------------------------
    def log_request(self, code="-", size="-"):
        code = getattr(code, "value", code)
        self.log_message("%s %s %s", self.command, urlsplit(self.path).path, code)

    def log_message(self, format, *args):  # noqa: A002 (http.server's signature)
        line = format % args
        token = self.server.token
        if token:
            line = line.replace(token, "<token>")
        from ..artifact.labels import printable

        log.info("serve: %s %s", self.client_address[0], printable(line))


def make_server(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, filters: Filters = Filters(),
                require_token: bool = False) -> PageServer:
    """A bound server (not yet serving); `.token` is None on loopback unless `require_token`."""
    if type(port) is not int or not 0 <= port <= 65535:
        raise MobiledeployError(f"--port must be a whole number from 0 to 65535, got {str(port)[:20]!r}")
    if not host or not str(host).strip():
        raise MobiledeployError("--host is empty: give an address to listen on, e.g. 127.0.0.1 or 0.0.0.0")
    token = secrets.token_urlsafe(32) if require_token or not is_loopback(host) else None
    cls = PageServer6 if ":" in host else PageServer
    try:
        return cls((host.strip("[]"), port), filters, token)
    except socket.gaierror:
        raise MobiledeployError(f"--host {host[:80]!r} is not an address or a name this machine resolves") from None
    except OSError as exc:
        raise MobiledeployError(f"cannot listen on {host}:{port}: {exc.strerror or exc} (another --port, or another "
                                "--host)") from None


def address(server: PageServer) -> str:
    """The address to open: the bound one, with this machine's name for "every address"."""
    host, port = server.server_address[:2]
    if host in ("0.0.0.0", "::"):
        host = socket.gethostname()
    return f"http://{f'[{host}]' if ':' in host else host}:{port}/"
