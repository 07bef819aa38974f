"""The headless view: a small page with the annotated MJPEG stream and the live predictions.

GET /                  the page (an <img> on /stream.mjpg and a list refreshed from /predictions.json)
GET /stream.mjpg       multipart/x-mixed-replace JPEG stream of annotated frames
GET /predictions.json  the latest frame's predictions and timings
"""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from mobiledeploy.errors import MobiledeployError

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>mobiledeploy live classifier</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;margin:1rem;background:#111;color:#eee}
img{max-width:100%;border:1px solid #444}#label{font-size:1.6rem;font-weight:600}
li{font-family:monospace;font-size:1.1rem}</style></head>
<body><h1>mobiledeploy live classifier</h1>
<p id="model"></p>
<img id="stream" src="/stream.mjpg" alt="annotated camera stream">
<p>Top class: <span id="label"></span></p><ol id="top"></ol><p id="stats"></p>
<script>
async function poll() {
  try {
    const r = await fetch('/predictions.json', {cache: 'no-store'});
    const d = await r.json();
    if (d.frame !== undefined) {
      document.getElementById('label').textContent = d.label;
      document.getElementById('model').textContent = d.model;
      document.getElementById('top').innerHTML = d.top.map(
        p => `<li>${(100 * p.score).toFixed(1)}% ${p.label}</li>`).join('');
      document.getElementById('stats').textContent =
        `frame ${d.frame}, ${d.fps.toFixed(1)} FPS, inference ${d.inference_ms.toFixed(1)} ms`;
    }
  } catch (e) {}
  setTimeout(poll, 300);
}
poll();
</script></body></html>
"""


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
                elif self.path.startswith("/stream.mjpg"):
                    self._stream()
                else:
                    self._send(404, "text/plain", b"not found")

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
            self.server = _Server((host, port), Handler)
        except OSError as exc:
            raise MobiledeployError(f"cannot serve the web view on {host} port {port}: {exc.strerror or exc} "
                                    "(choose another with --port, or another --host)") from None
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def publish(self, bgr_frame, state: dict) -> None:
        """Make a frame and its predictions the current ones."""
        import cv2

        ok, jpeg = cv2.imencode(".jpg", bgr_frame, [cv2.IMWRITE_JPEG_QUALITY, 80])
        with self.cond:
            self.jpeg = jpeg.tobytes() if ok else self.jpeg
            self.state = state
            self.seq += 1
            self.cond.notify_all()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
