"""Faults of the Raspberry Pi classifier: bad option values, hostile images and streams, faulty disks, signals.

The same policy as the CLI: one `error:` line, exit 2 for what the user can fix, no traceback (also from
the capture thread), nothing half-written (a failed --record leaves no file). Streams come from real
HTTP servers on loopback; full and read-only disks are real small tmpfs mounts (skipped without root).
"""
import http.server
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import CLASSIFY, assert_one_line_error, run_classifier
from fsfaults import default_signals, fill, leftovers, tmpfs

cv2 = pytest.importorskip("cv2")
pytestmark = pytest.mark.faults


def classify(*args, timeout=120):
    return run_classifier(*args, timeout=timeout)


@pytest.fixture(scope="module")
def artifact(tiny_artifact) -> Path:
    """The smallest real artifact (conftest's tiny_artifact: 0.25 at 32 px, TFLite fp32 + int8)."""
    return tiny_artifact


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    """40 frames of noise, 320x240 (noise compresses badly: about 50 kB per frame)."""
    path = tmp_path_factory.mktemp("pi-video") / "noise.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (320, 240))
    rng = np.random.default_rng(0)
    for _ in range(40):
        writer.write(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8))
    writer.release()
    return path


# --- option values: range-checked before anything loads ----------------------------------------------------

@pytest.mark.parametrize("args,fragment", [
    (["--threads", "0"], "--threads"),
    (["--top-k", "-5"], "--top-k"),
    (["--frames", "-1"], "--frames"),
    (["--frames", "0"], "--frames"),
    (["--port", "99999"], "--port"),
    (["--port", "0"], "--port"),
    (["--width", "0"], "--width"),
    (["--height", "-3"], "--height"),
    (["--threshold", "1.5"], "--threshold"),
    (["--threshold", "-0.1"], "--threshold"),
    (["--threshold", "nan"], "--threshold"),
    (["--source-timeout", "0"], "--source-timeout"),
    (["--threads", "four"], "whole number"),
])
def test_option_out_of_range(args, fragment):
    proc = classify("--artifact", "unused", *args)
    assert_one_line_error(proc, fragment)
    assert proc.returncode == 2
    assert "usage:" not in proc.stderr


# --- images a folder source cannot use ------------------------------------------------------------------------

def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    """A 20000 x 20000 RGB PNG: a few hundred bytes on disk, 1.2 GB decoded (Pillow refuses above 179 M
    pixels). Written chunk by chunk, so the test never holds the image in memory either."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.png"
    row = b"\0" + b"\0" * 20000 * 3
    comp = zlib.compressobj(9)
    idat = b"".join(comp.compress(row) for _ in range(64)) + comp.flush()  # the first rows; the rest is missing
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0))
                     + _chunk(b"IDAT", idat) + _chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("bad,fragment", [("bomb", "megapixel"), ("corrupt", "cannot read image"),
                                          ("text", "cannot read image")])
def test_bad_image_in_folder_source(tmp_path, artifact, bomb, bad, fragment):
    folder = tmp_path / "images"
    folder.mkdir()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(folder / "a.png")
    if bad == "bomb":
        (folder / "b.png").write_bytes(bomb.read_bytes())
    elif bad == "corrupt":
        (folder / "b.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")
    else:
        (folder / "b.png").write_text("plain text")
    proc = classify("--artifact", artifact, "--source", folder, "--json-lines")
    assert_one_line_error(proc, fragment, "b.")
    assert proc.returncode == 2


# --- HTTP streams that are not MJPEG ----------------------------------------------------------------------------

class _Hostile(http.server.BaseHTTPRequestHandler):
    mode = "junk"

    def log_message(self, *a):
        pass

    def do_GET(self):
        if self.mode == "redirect-loop":
            self.send_response(302)
            self.send_header("Location", self.path)
            self.end_headers()
            return
        if self.mode == "many-headers":
            self.send_response(200)
            for i in range(150):
                self.send_header(f"X-Filler-{i}", "x")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html" if self.mode == "html" else
                         "multipart/x-mixed-replace; boundary=x")
        self.end_headers()
        try:
            if self.mode == "silent":
                time.sleep(30)
                return
            first = True
            while True:
                data = os.urandom(65536).replace(b"\xff", b"\x00")  # never a JPEG marker
                if self.mode == "no-end" and first:
                    data = b"\xff\xd8" + data  # a frame that starts and never ends
                first = False
                self.wfile.write(data)
        except OSError:
            pass


@pytest.fixture
def hostile():
    servers = []

    def serve(mode):
        handler = type("H", (_Hostile,), {"mode": mode})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/stream"

    yield serve
    for s in servers:
        s.shutdown()
        s.server_close()


@pytest.mark.parametrize("mode,fragment", [
    ("junk", "no JPEG frame"),        # bytes, but no marker: once hung at full CPU with a growing buffer
    ("no-end", "no JPEG frame end"),  # a start marker and megabytes without an end: the buffer is capped
    ("silent", "sent nothing"),       # headers, then nothing
    ("html", "not an MJPEG stream"),
    ("redirect-loop", "cannot open MJPEG stream"),  # urllib gives up after ten redirects
    ("many-headers", "cannot open MJPEG stream"),   # http.client refuses more than 100 headers
])
def test_hostile_stream(artifact, hostile, mode, fragment):
    start = time.time()
    proc = classify("--artifact", artifact, "--source", hostile(mode), "--source-timeout", "2")
    assert_one_line_error(proc, fragment)
    assert proc.returncode == 2
    assert time.time() - start < 60


def test_fifo_source_is_named(artifact, tmp_path):
    fifo = tmp_path / "frames"
    os.mkfifo(fifo)
    proc = classify("--artifact", artifact, "--source", fifo, timeout=60)
    assert proc.returncode == 2
    assert_one_line_error(proc, "is a FIFO")


def test_stream_refused(artifact):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nobody listens there
    assert_one_line_error(classify("--artifact", artifact, "--source", f"http://127.0.0.1:{port}/"),
                          "cannot open MJPEG stream")


# --- --record: complete or nothing ------------------------------------------------------------------------------

@pytest.mark.parametrize("fault,fragment", [("full", "no space left"), ("read-only", "read-only")])
def test_record_to_a_faulty_disk(tmp_path, artifact, video, fault, fragment):
    with tmpfs(tmp_path / "disk", "1m", readonly=fault == "read-only") as disk:
        proc = classify("--artifact", artifact, "--source", video, "--loop", "--frames", "300", "--quiet",
                        "--record", disk / "out.avi")
        assert_one_line_error(proc, fragment, str(disk / "out.avi"))
        assert proc.returncode == 2
        assert leftovers(disk) == []  # no truncated video, no temporary file


@pytest.mark.parametrize("case,fragment", [("folder", "is a folder"), ("missing parent", "does not exist")])
def test_record_bad_target(tmp_path, artifact, video, case, fragment):
    target = tmp_path if case == "folder" else tmp_path / "nope" / "out.avi"
    before = sorted(p.name for p in tmp_path.iterdir())
    proc = classify("--artifact", artifact, "--source", video, "--frames", "3", "--record", target)
    assert_one_line_error(proc, fragment)
    assert proc.returncode == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_record_fills_the_disk_at_the_end(tmp_path, artifact, video):
    """A disk that fills up while the video is written: the recording is refused as a whole."""
    with tmpfs(tmp_path / "disk", "1m") as disk:
        fill(disk)
        (disk / "filler").write_bytes(b"\0" * (600 << 10))  # leave about 400 kB: a few frames fit
        proc = classify("--artifact", artifact, "--source", video, "--frames", "20", "--quiet",
                        "--record", disk / "out.avi")
        assert_one_line_error(proc, "no space left")
        assert leftovers(disk, keep=("filler",)) == []


# --- the web view's address -------------------------------------------------------------------------------------

@pytest.mark.parametrize("host,fragment", [("192.0.2.1", "cannot serve"), ("no-such-host.invalid", "cannot serve")])
def test_web_host_unusable(artifact, video, host, fragment):
    proc = classify("--artifact", artifact, "--source", video, "--web", "--host", host, "--port", "8765")
    assert_one_line_error(proc, fragment, host)
    assert proc.returncode == 2


# --- signals: SIGTERM (systemctl stop) keeps a complete recording ----------------------------------------------

@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143), (signal.SIGHUP, 129)], ids=["SIGTERM", "SIGHUP"])
def test_signal_keeps_a_complete_recording(tmp_path, artifact, video, sig, code):
    out = tmp_path / "out.avi"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, str(CLASSIFY), "--artifact", str(artifact), "--source", str(video),
                             "--loop", "--web", "--port", str(port), "--no-pace", "--json-lines", "--record", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=default_signals)
    for _ in range(20):  # a few frames in
        assert proc.stdout.readline().startswith("{"), proc.stderr.read() if proc.poll() is not None else ""
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert "Traceback" not in err and "error:" not in err, err
    assert [p.name for p in tmp_path.iterdir()] == ["out.avi"]  # no temporary file
    cap = cv2.VideoCapture(str(out))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) >= 20
