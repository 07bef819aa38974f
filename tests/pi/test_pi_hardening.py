"""The Pi classifier's hardening: labels are text (page and terminal) and covered by the manifest, file names
that are not UTF-8, the web view on IPv6, the pixel limit on every source, one frame's image and predictions
together, and the weak cases (a non-ASCII digit as --source, --record over an existing file, out of memory).

Everything runs the real classify.py in a subprocess; the page runs in a real headless Chromium.
"""
import base64
import hashlib
import http.client
import http.server
import json
import os
import resource
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from browser import chromium
from conftest import CLASSIFY, assert_one_line_error, run_classifier, wait_for

cv2 = pytest.importorskip("cv2")
pytestmark = pytest.mark.faults

LEVELS = [30 + 25 * i for i in range(8)]  # the grey level of each frame of the `video` fixture
XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script><b>bold</b>'


@pytest.fixture(scope="module")
def artifact(tiny_artifact) -> Path:
    return tiny_artifact


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    """Eight 320x240 frames, each one grey level (LEVELS), 10 FPS: a shown image tells which frame it is."""
    path = tmp_path_factory.mktemp("grey") / "grey.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (320, 240))
    for level in LEVELS:
        writer.write(np.full((240, 320, 3), level, np.uint8))
    writer.release()
    return path


def _labelled(src: Path, dest: Path, make) -> Path:
    """A copy of `src` whose labels.txt holds make(i) for output i, with the manifest's digest to match (as
    an export given those labels would write it)."""
    shutil.copytree(src, dest)
    count = len((dest / "labels.txt").read_text().splitlines())
    data = ("\n".join(make(i) for i in range(count)) + "\n").encode()
    (dest / "labels.txt").write_bytes(data)
    doc = json.loads((dest / "manifest.json").read_text())
    doc["labels"]["sha256"] = hashlib.sha256(data).hexdigest()
    (dest / "manifest.json").write_text(json.dumps(doc))
    return dest


def _free_port(family=socket.AF_INET, host="127.0.0.1") -> int:
    with socket.socket(family) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _start(*args, stderr=None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(CLASSIFY), *map(str, args)], stdout=subprocess.DEVNULL,
                            stderr=stderr or subprocess.PIPE, text=True)


def _stop(proc):
    proc.terminate()
    proc.wait(10)


def _connectable(host, port, family=socket.AF_INET) -> bool:
    try:
        with socket.socket(family) as s:
            s.settimeout(0.5)
            s.connect((host, port))
        return True
    except OSError:
        return False


def _browser(tmp_path):
    return chromium(tmp_path / "profile", 900, 900)


# --- 1. labels are text: in the page, in the terminal, and covered by the manifest's digest ------------------

# the grey level at the bottom-right corner of the shown image (the overlay's panel is at the top left), and the
# frame number the page shows beside it; both from the page's own state at one instant
_SAMPLE = """
const img = document.getElementById('stream');
if (!img.naturalWidth) return null;
const c = document.createElement('canvas');
c.width = img.naturalWidth; c.height = img.naturalHeight;
const g = c.getContext('2d');
g.drawImage(img, 0, 0);
const px = g.getImageData(c.width - 8, c.height - 8, 1, 1).data;
const stats = document.getElementById('stats').textContent.match(/frame (\\d+)/);
return {grey: px[1], frame: stats ? Number(stats[1]) : null, label: document.getElementById('label').textContent,
        top: [...document.querySelectorAll('#top li')].map(li => li.textContent),
        elements: document.querySelectorAll('#top *:not(li), #label *, #model *, #stats *').length,
        xss: window.__xss === undefined ? null : window.__xss};
"""


def test_web_page_shows_labels_as_text_with_their_own_frame(artifact, video, tmp_path):
    """A labels.txt line of HTML is shown as that text, runs nothing, creates no element; and the image shown
    is always the frame whose number and predictions are shown beside it."""
    hostile = _labelled(artifact, tmp_path / "hostile", lambda i: f"{XSS} #{i}")
    port = _free_port()
    proc = _start("--artifact", hostile, "--source", video, "--loop", "--web", "--port", port, "--quiet")
    try:
        wait_for(lambda: _connectable("127.0.0.1", port), proc=proc, what="the web view")
        browser = _browser(tmp_path)
        try:
            browser.get(f"http://127.0.0.1:{port}/")
            samples = []
            deadline = time.time() + 30
            while len(samples) < 12 and time.time() < deadline:
                sample = browser.execute_script(_SAMPLE)
                if sample and sample["frame"] is not None and (not samples or sample["frame"] != samples[-1]["frame"]):
                    samples.append(sample)
                time.sleep(0.15)
        finally:
            browser.quit()
    finally:
        _stop(proc)
    assert len(samples) >= 6, samples
    for s in samples:
        assert s["xss"] is None, "a label ran as script"
        assert s["elements"] == 0, "a label became HTML elements"
        assert s["label"].startswith(XSS), s["label"]
        assert s["top"] and all(XSS in item for item in s["top"]), s["top"]
        # the frame number shown names a video frame (the loop counts on): its grey level is the image shown
        assert abs(s["grey"] - LEVELS[s["frame"] % len(LEVELS)]) <= 6, s


def test_frame_json_holds_one_frame_and_its_source(artifact, video):
    port = _free_port()
    proc = _start("--artifact", artifact, "--source", video, "--loop", "--web", "--port", port, "--quiet")
    try:
        wait_for(lambda: _connectable("127.0.0.1", port), proc=proc, what="the web view")
        after = -1
        for _ in range(6):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", f"/frame.json?after={after}")
            answer = conn.getresponse()
            assert answer.status == 200
            d = json.loads(answer.read())
            conn.close()
            image = cv2.imdecode(np.frombuffer(base64.b64decode(d["jpeg"]), np.uint8), cv2.IMREAD_COLOR)
            assert abs(int(image[-8, -8, 1]) - LEVELS[d["frame"] % len(LEVELS)]) <= 6, d["frame"]
            assert d["source"] == str(video) and d["seq"] != after
            after = d["seq"]
    finally:
        _stop(proc)


def test_printed_lines_escape_terminal_sequences(artifact, video, tmp_path):
    hostile = _labelled(artifact, tmp_path / "esc", lambda i: f"\x1b[2J\x1b]0;owned\x07cat{i}")
    proc = run_classifier("--artifact", hostile, "--source", video, "--frames", "2")
    assert proc.returncode == 0, proc.stderr
    assert "\x1b" not in proc.stderr and "\x07" not in proc.stderr
    assert "frame 0: \\x1b[2J\\x1b]0;owned\\x07cat" in proc.stderr


def test_tampered_labels_refused(artifact, video, tmp_path):
    art = tmp_path / "art"
    shutil.copytree(artifact, art)
    labels = (art / "labels.txt").read_text().splitlines()
    (art / "labels.txt").write_text("\n".join([XSS] + labels[1:]) + "\n")
    proc = run_classifier("--artifact", art, "--source", video, "--frames", "2", "--web", "--port", _free_port())
    assert_one_line_error(proc, "labels.txt", "sha256")
    assert proc.returncode == 2


# --- 2. file names that are not UTF-8 --------------------------------------------------------------------------

def test_names_that_are_not_utf8(artifact, video, tmp_path):
    """OpenCV crashed (SIGSEGV, exit 139) on them; now they play and record like any other name."""
    folder = os.fsdecode(bytes(tmp_path) + b"/d\xfd")
    os.mkdir(folder)
    clip = os.fsdecode(bytes(tmp_path) + b"/clip\xff.avi")
    shutil.copyfile(video, clip)
    out = os.path.join(folder, os.fsdecode(b"out\xfe.avi"))
    proc = run_classifier("--artifact", artifact, "--source", clip, "--frames", "5", "--json-lines", "--record", out)
    assert proc.returncode == 0, (proc.returncode, proc.stderr)
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(records) == 6 and records[0]["source"] == clip
    assert os.listdir(os.fsencode(folder)) == [b"out\xfe.avi"]  # renamed into place, no temporary file left
    plain = tmp_path / "plain.avi"
    shutil.copyfile(out, plain)
    assert int(cv2.VideoCapture(str(plain)).get(cv2.CAP_PROP_FRAME_COUNT)) == 5


# --- 3. the web view on IPv6 ------------------------------------------------------------------------------------

def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.parametrize("host", ["::1", "::"])
def test_web_view_on_ipv6(artifact, video, tmp_path, host):
    if not _ipv6_loopback():
        pytest.skip("this machine has no IPv6 loopback")
    port = _free_port(socket.AF_INET6, "::1")
    err = tmp_path / "stderr"
    with open(err, "w") as stream:
        proc = _start("--artifact", artifact, "--source", video, "--loop", "--web", "--host", host, "--port", port,
                      stderr=stream)
        try:
            wait_for(lambda: _connectable("::1", port, socket.AF_INET6), proc=proc, what="the web view on ::1")
            conn = http.client.HTTPConnection("::1", port, timeout=10)
            conn.request("GET", "/frame.json")
            assert json.loads(conn.getresponse().read())["frame"] >= 0
            conn.close()
        finally:
            _stop(proc)
    text = err.read_text()
    assert "Traceback" not in text and "error:" not in text, text
    if host == "::1":
        assert f"web view on http://[::1]:{port}/" in text
        assert "no authentication" not in text
    else:  # every interface: the same warning as 0.0.0.0
        assert f"http://[::]:{port}/ has no authentication" in text


# --- 4. the pixel limit before decoding, for every source ---------------------------------------------------------

def _sof_patched(jpeg: bytes, width: int, height: int) -> bytes:
    """The JPEG with its frame header (SOF0) saying width x height: a few kB that decode to width*height*3 bytes."""
    data = bytearray(jpeg)
    i = 2
    while data[i + 1] not in (0xC0, 0xC1, 0xC2):
        i += 2 + struct.unpack(">H", data[i + 2:i + 4])[0]
    struct.pack_into(">HH", data, i + 5, height, width)
    return bytes(data)


def _small_jpeg() -> bytes:
    return cv2.imencode(".jpg", np.full((48, 64, 3), 90, np.uint8))[1].tobytes()


def _avi_patched(src: Path, dest: Path, width: int, height: int) -> Path:
    """An MJPG AVI whose header and every frame say width x height."""
    data = bytearray(src.read_bytes())
    i = 0
    while (i := data.find(b"00dc", i)) >= 0:
        if data[i + 8:i + 10] == b"\xff\xd8":
            size = struct.unpack("<I", data[i + 4:i + 8])[0]
            data[i + 8:i + 8 + size] = _sof_patched(bytes(data[i + 8:i + 8 + size]), width, height)
        i += 4
    i = data.find(b"avih")
    struct.pack_into("<II", data, i + 8 + 32, width, height)
    i = data.find(b"strf")
    struct.pack_into("<ii", data, i + 8 + 4, width, height)
    dest.write_bytes(data)
    return dest


class _Frames(http.server.BaseHTTPRequestHandler):
    frames: list = []

    def log_message(self, *a):
        pass

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=x")
        self.end_headers()
        try:
            for jpeg in self.frames:
                self.wfile.write(b"--x\r\nContent-Type: image/jpeg\r\n\r\n" + jpeg + b"\r\n")
        except OSError:
            pass


def _peak_rss_mb(args) -> tuple[subprocess.CompletedProcess, float]:
    """Run the classifier under a small parent that reports its child's peak resident memory."""
    wrapper = ("import resource, subprocess, sys; p = subprocess.run(sys.argv[1:]); "
               "print('peak-rss-kb', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
               "sys.exit(p.returncode)")
    proc = subprocess.run([sys.executable, "-c", wrapper, sys.executable, str(CLASSIFY), *map(str, args)],
                          capture_output=True, text=True, timeout=120, check=False)
    peak = [line for line in proc.stderr.splitlines() if line.startswith("peak-rss-kb")]
    proc.stderr = "\n".join(line for line in proc.stderr.splitlines() if not line.startswith("peak-rss-kb"))
    return proc, int(peak[0].split()[1]) / 1024


@pytest.mark.parametrize("kind", ["stream", "file", "folder", "video"])
def test_oversized_frame_refused_before_decoding(artifact, tmp_path, kind):
    """A 20000x20000 JPEG (5 kB; 1.2 GB decoded, 2.4 GB with OpenCV's copies) is one error line, in bounded memory."""
    bomb = _sof_patched(_small_jpeg(), 20000, 20000)
    server = None
    if kind == "stream":
        _Frames.frames = [_small_jpeg(), _small_jpeg(), bomb, _small_jpeg()]
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Frames)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        source = f"http://127.0.0.1:{server.server_address[1]}/stream"
    elif kind in ("file", "folder"):
        (tmp_path / "in").mkdir()
        (tmp_path / "in" / "bomb.jpg").write_bytes(bomb)
        source = tmp_path / "in" / ("bomb.jpg" if kind == "file" else "")
    else:  # FFmpeg itself refuses 20000x20000 (above 2^28 pixels); 16000x16000 it would decode
        small = tmp_path / "small.avi"
        writer = cv2.VideoWriter(str(small), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
        for _ in range(3):
            writer.write(np.full((48, 64, 3), 90, np.uint8))
        writer.release()
        source = _avi_patched(small, tmp_path / "bomb.avi", 16000, 16000)
    try:
        proc, peak_mb = _peak_rss_mb(["--artifact", artifact, "--source", source, "--json-lines"])
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
    assert_one_line_error(proc, "megapixel")
    assert proc.returncode == 2
    assert peak_mb < 600, f"{peak_mb:.0f} MB"


# --- 5. the weak cases -------------------------------------------------------------------------------------------

def test_json_lines_name_each_frames_file(artifact, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for name, level in (("a.png", 40), ("b.jpg", 120), ("c.png", 200)):
        cv2.imwrite(str(folder / name), np.full((40, 50, 3), level, np.uint8))
    proc = run_classifier("--artifact", artifact, "--source", folder, "--json-lines")
    assert proc.returncode == 0, proc.stderr
    frames = [json.loads(line) for line in proc.stdout.splitlines()][:-1]
    assert [r["source"] for r in frames] == [str(folder / n) for n in ("a.png", "b.jpg", "c.png")]


@pytest.mark.parametrize("spec", ["\u00b2", "\u0663"])  # superscript two, Arabic-Indic three: str.isdigit() says yes
def test_source_that_only_looks_like_a_number(artifact, spec):
    proc = run_classifier("--artifact", artifact, "--source", spec)
    assert_one_line_error(proc, "source not found")
    assert proc.returncode == 2


def test_record_keeps_an_existing_file_unless_forced(artifact, video, tmp_path):
    out = tmp_path / "out.avi"
    out.write_bytes(b"yesterday's recording")
    proc = run_classifier("--artifact", artifact, "--source", video, "--frames", "3", "--record", out)
    assert_one_line_error(proc, "exists", "--force")
    assert proc.returncode == 2
    assert out.read_bytes() == b"yesterday's recording"
    proc = run_classifier("--artifact", artifact, "--source", video, "--frames", "3", "--record", out, "--force")
    assert proc.returncode == 0, proc.stderr
    assert int(cv2.VideoCapture(str(out)).get(cv2.CAP_PROP_FRAME_COUNT)) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.avi"]


def _under_address_limit(megabytes: int, *args) -> subprocess.CompletedProcess:
    limit = megabytes << 20
    return subprocess.run([sys.executable, str(CLASSIFY), *map(str, args)], capture_output=True, text=True, check=False,
                          timeout=120, preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit)))


def test_out_of_memory_on_a_frame_is_a_clear_error(artifact, video, tmp_path):
    """Frames too large for the memory left (an address-space limit) end with one line naming the frame, exit 2;
    this was exit 1, "unexpected error ... report it"."""
    # the smallest limit under which the classifier runs at all on small frames, here
    base = next((mb for mb in (600, 700, 800, 900, 1000, 1200, 1500)
                 if _under_address_limit(mb, "--artifact", artifact, "--source", video, "--frames", "3",
                                         "--json-lines").returncode == 0), None)
    if base is None:
        pytest.skip("the classifier needs more than 1.5 GB of address space here")
    big = tmp_path / "big.avi"
    writer = cv2.VideoWriter(str(big), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (6000, 4000))
    noise = np.random.default_rng(0).integers(0, 255, (4000, 6000, 3), dtype=np.uint8)  # 72 MB a frame decoded
    for _ in range(3):
        writer.write(noise)
    writer.release()
    del noise
    proc = _under_address_limit(base + 250, "--artifact", artifact, "--source", big, "--loop", "--frames", "6",
                                "--json-lines")
    assert_one_line_error(proc, "out of memory on frame", "big.avi")
    assert proc.returncode == 2
