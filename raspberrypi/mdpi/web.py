"""The headless view: a small page with the annotated frames and the live predictions.

GET /                    the page: it shows each frame and its predictions together, from /frame.json
GET /frame.json?after=N  the newest frame after frame N (waits up to 5 s for one): its predictions and timings,
                         with `jpeg` (base64) the annotated image of that same frame
GET /stream.mjpg         multipart/x-mixed-replace JPEG stream of annotated frames (for players and other Pis)
GET /predictions.json    the latest frame's predictions and timings

Labels are data from labels.txt: the page puts them into the document as text (textContent), never as HTML.
"""
from __future__ import annotations

import base64
import ipaddress
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from mobiledeploy.errors import MobiledeployError

#: how long a /frame.json request waits for a new frame before answering with the current one
WAIT_SECONDS = 5.0

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>mobiledeploy live classifier</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;margin:1rem;background:#111;color:#eee}
img{max-width:100%;border:1px solid #444}#label{font-size:1.6rem;font-weight:600}
li{font-family:monospace;font-size:1.1rem}</style></head>
<body><h1>mobiledeploy live classifier</h1>
<p id="model"></p>
<img id="stream" alt="annotated camera frame">
<p>Top class: <span id="label"></span></p><ol id="top"></ol><p id="stats"></p>
<script>
'use strict';
// One request brings a frame and its predictions; both are shown only once the image is decoded, so the
// picture and the "Top class" never come from different frames. Everything from the server is set as text.
const $ = id => document.getElementById(id);
let after = -1;

function show(d) {
  $('label').textContent = d.label === null ? '' : d.label;
  $('model').textContent = d.model;
  $('top').replaceChildren(...d.top.map(p => {
    const li = document.createElement('li');
    li.textContent = `${(100 * p.score).toFixed(1)}% ${p.label}`;
    return li;
  }));
  $('stats').textContent = `frame ${d.frame}, ${d.fps.toFixed(1)} FPS, inference ${d.inference_ms.toFixed(1)} ms`;
}

async function poll() {
  try {
    const r = await fetch('/frame.json?after=' + after, {cache: 'no-store'});
    const d = await r.json();
    if (d.seq !== undefined && d.seq !== after) {
      after = d.seq;
      if (d.jpeg) {
        // decoded off the page, then swapped in with the text in one step: no instant shows a new image
        // beside the previous frame's numbers
        const next = new Image();
        next.id = 'stream';
        next.alt = 'annotated camera frame';
        next.src = 'data:image/jpeg;base64,' + d.jpeg;
        try { await next.decode(); } catch (e) {}
        next.dataset.frame = d.frame;
        $('stream').replaceWith(next);
      }
      show(d);
    }
  } catch (e) {
    await new Promise(done => setTimeout(done, 500));  // the classifier stopped or restarts: try again
  }
  setTimeout(poll, 0);
}
poll();
</script></body></html>
"""


def is_loopback(host: str) -> bool:
    """True for an address only this machine reaches (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def url(host: str, port: int) -> str:
    """The page's address; an IPv6 address in brackets (RFC 3986)."""
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def _family(host: str, port: int) -> int:
    """The socket family of the address the server binds: AF_INET6 for ::1, ::, fe80::1%eth0 or a name that
    resolves only to IPv6 (http.server is IPv4-only unless told)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    return infos[0][0]


class _Server(ThreadingHTTPServer):
    """A browser that closes its tab mid-response is not an error: no traceback on stderr for it."""

    def handle_error(self, request, client_address):
        import sys

        exc = sys.exc_info()[1]
        if not isinstance(exc, (ConnectionError, TimeoutError)):
            print(f"warning: web view request from {client_address[0]} failed: {type(exc).__name__}: {exc}",
                  file=sys.stderr)


class LiveView:
    """Holds the newest JPEG and predictions; serves them on a port from a background thread."""

    def __init__(self, port: int, host: str = "127.0.0.1"):
        self.cond = threading.Condition()
        # the newest frame: its JPEG, its predictions and its sequence number, replaced together under `cond`
        self.jpeg, self.state, self.seq = None, {}, 0
        view = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                if self.path in ("/", "/index.html"):
                    self._send(200, "text/html; charset=utf-8", PAGE.encode())
                elif self.path.startswith("/predictions.json"):
                    with view.cond:
                        body = json.dumps(view.state).encode()
                    self._send(200, "application/json", body)
                elif self.path.startswith("/frame.json"):
                    self._send(200, "application/json", view.frame_json(self._after()))
                elif self.path.startswith("/stream.mjpg"):
                    self._stream()
                else:
                    self._send(404, "text/plain", b"not found")

            def _after(self) -> int:
                try:
                    return int(parse_qs(urlsplit(self.path).query).get("after", ["-1"])[0])
                except ValueError:
                    return -1

            def _send(self, code, kind, body):
                self.send_response(code)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def _stream(self):
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                seen = -1
                try:
                    while True:
                        with view.cond:
                            view.cond.wait_for(lambda: view.seq != seen, timeout=5)
                            jpeg, seen = view.jpeg, view.seq
                        if jpeg is None:
                            continue
                        self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: "
                                         + str(len(jpeg)).encode() + b"\r\n\r\n" + jpeg + b"\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    return

        try:
            server_class = type("Server", (_Server,), {"address_family": _family(host, port)})
            self.server = server_class((host, port), Handler)
        except OSError as exc:  # socket.gaierror too: a name that does not resolve
            raise MobiledeployError(f"cannot serve the web view on {host} port {port}: {exc.strerror or exc} "
                                    "(choose another with --port, or another --host)") from None
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def frame_json(self, after: int) -> bytes:
        """The newest frame once it is newer than `after` (or after WAIT_SECONDS): predictions and JPEG together."""
        with self.cond:
            self.cond.wait_for(lambda: self.jpeg is not None and self.seq != after, timeout=WAIT_SECONDS)
            if self.jpeg is None:
                return b"{}"
            state, jpeg, seq = self.state, self.jpeg, self.seq
        return json.dumps({**state, "seq": seq, "jpeg": base64.b64encode(jpeg).decode("ascii")}).encode()

    def publish(self, bgr_frame, state: dict) -> None:
        """Make a frame and its predictions the current ones."""
        import cv2

        ok, jpeg = cv2.imencode(".jpg", bgr_frame, [cv2.IMWRITE_JPEG_QUALITY, 80])
        if not ok:  # keep the previous frame and its predictions: never one frame's image with another's labels
            return
        with self.cond:
            # a copy: the loop adds draw_ms to its record while a request thread may be serialising this one
            self.jpeg, self.state = jpeg.tobytes(), dict(state)
            self.seq += 1
            self.cond.notify_all()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
