"""The Raspberry Pi classifier on every source that can run here (no Pi, no camera module).

picamera2 is written against its documented API and tested for its import error only.
"""
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import CLASSIFY, ROOT, SHARED, mobiledeploy, run_classifier, shared

cv2 = pytest.importorskip("cv2")
classify = run_classifier


@pytest.fixture(scope="module")
def artifact(request):
    """Real ImageNet weights when ../shared/data is there (predictions mean something), else the main job's."""
    if (SHARED / "imagenet-sample").is_dir():
        return request.getfixturevalue("reference_artifact")
    return Path(request.getfixturevalue("main_job")[0]["artifact"])


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    """An MJPG video made from the demo photos, two frames each, 640x480."""
    folder = shared("images")
    path = tmp_path_factory.mktemp("video") / "demo.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (640, 480))
    for image in sorted(folder.iterdir()):
        frame = cv2.imread(str(image))
        for _ in range(2):
            writer.write(cv2.resize(frame, (640, 480)))
    writer.release()
    return path


def lines(stdout):
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def test_video_frames_match_predict(artifact, video, tmp_path):
    proc = classify("--artifact", artifact, "--file", "model_int8.tflite", "--source", video, "--json-lines",
                    "--frames", "12")
    assert proc.returncode == 0, proc.stderr
    records = lines(proc.stdout)
    frames, summary = records[:-1], records[-1]
    assert len(frames) == 12 and summary["frames"] == 12 and summary["fps"] > 0
    for r in frames:
        assert {"frame", "label", "index", "score", "inference_ms"} <= set(r)
    # the same frames, decoded by the same decoder, saved losslessly and classified by `mobiledeploy predict`
    cap = cv2.VideoCapture(str(video))
    pngs = []
    for i in range(12):
        ok, frame = cap.read()
        assert ok
        pngs.append(tmp_path / f"frame{i:02d}.png")
        cv2.imwrite(str(pngs[-1]), frame)
    pred = json.loads(mobiledeploy("predict", artifact, *pngs, "--file", "model_int8.tflite", "--json",
                                   check=True).stdout)
    assert [r["index"] for r in frames] == [img["top"][0]["index"] for img in pred["images"]]


def test_image_folder_and_record(artifact, tmp_path):
    out = tmp_path / "annotated.avi"
    proc = classify("--artifact", artifact, "--source", shared("images"), "--json-lines", "--record", out)
    assert proc.returncode == 0, proc.stderr
    n = len(lines(proc.stdout)) - 1
    assert n == len(list(shared("images").iterdir()))
    cap = cv2.VideoCapture(str(out))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == n


class _MJPEG(http.server.BaseHTTPRequestHandler):
    frames: list = []

    def log_message(self, *a):
        pass

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=xyz")
        self.end_headers()
        try:
            for jpeg in self.frames:
                self.wfile.write(b"--xyz\r\nContent-Type: image/jpeg\r\n\r\n" + jpeg + b"\r\n")
        except BrokenPipeError:
            pass


def test_mjpeg_http_source(artifact):
    folder = shared("images")
    _MJPEG.frames = [cv2.imencode(".jpg", cv2.imread(str(p)))[1].tobytes() for p in sorted(folder.iterdir())[:4]]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _MJPEG)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        proc = classify("--artifact", artifact, "--source", f"http://127.0.0.1:{server.server_address[1]}/stream",
                        "--json-lines")
    finally:
        server.shutdown()
    assert proc.returncode == 0, proc.stderr
    assert len(lines(proc.stdout)) == 5  # four frames and the summary


def test_picamera2_path_reports_missing_library():
    sys.path.insert(0, str(ROOT / "raspberrypi"))
    from mdpi.sources import Picamera2Source
    from mobiledeploy.errors import MobiledeployError

    try:
        import picamera2  # noqa: F401
        pytest.skip("picamera2 is installed here; only its import error is tested")
    except ImportError:
        pass
    with pytest.raises(MobiledeployError, match="python3-picamera2"):
        Picamera2Source()


def test_never_imports_tensorflow(artifact, tmp_path):
    """A Pi has no TensorFlow: make importing it fail, and run the classifier."""
    (tmp_path / "tensorflow.py").write_text("raise ImportError('no TensorFlow on a Pi')\n")
    (tmp_path / "keras.py").write_text("raise ImportError('no Keras on a Pi')\n")
    proc = classify("--artifact", artifact, "--source", shared("images"), "--frames", "2", "--json-lines",
                    env={"PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))})
    assert proc.returncode == 0, proc.stderr


def _one_line(proc, *fragments):
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    for f in fragments:
        assert f.lower() in errors[0].lower(), errors[0]


def test_bad_inputs(artifact, tmp_path):
    _one_line(classify("--artifact", artifact, "--source", "camera"), "no camera", "sources here")
    (tmp_path / "broken.mp4").write_text("not a video")
    _one_line(classify("--artifact", artifact, "--source", tmp_path / "broken.mp4"), "cannot read frames")
    (tmp_path / "empty").mkdir()
    _one_line(classify("--artifact", tmp_path / "empty", "--source", shared("images")), "manifest.json")
    bad = tmp_path / "bad"
    shutil.copytree(artifact, bad)
    (bad / "manifest.json").write_text("{")
    _one_line(classify("--artifact", bad, "--source", shared("images")), "json")
    shutil.rmtree(bad)
    shutil.copytree(artifact, bad)
    with open(bad / "model_int8.tflite", "r+b") as f:
        f.seek(100)
        f.write(b"\x00" * 8)
    _one_line(classify("--artifact", bad, "--source", shared("images")), "sha256")
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        s.listen()
        _one_line(classify("--artifact", artifact, "--source", shared("images"), "--web", "--port",
                           s.getsockname()[1]), "port")


def test_web_page_in_chromium(artifact, video, tmp_path):
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.skip("needs Debian's chromium and chromium-driver (make install installs them as root)")
    webdriver = pytest.importorskip("selenium.webdriver")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, str(CLASSIFY), "--artifact", str(artifact), "--source", str(video),
                             "--loop", "--web", "--port", str(port), "--quiet"], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read()
                time.sleep(0.1)
        opts = webdriver.ChromeOptions()
        opts.binary_location = chromium
        for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--no-first-run", "--window-size=900,900", f"--user-data-dir={tmp_path / 'profile'}"):
            opts.add_argument(flag)
        from selenium.webdriver.chrome.service import Service

        browser = webdriver.Chrome(options=opts, service=Service(driver))
        try:
            browser.get(f"http://127.0.0.1:{port}/")
            deadline = time.time() + 30
            label = width = None
            while time.time() < deadline:
                label = browser.find_element("id", "label").text
                width = browser.execute_script("return document.getElementById('stream').naturalWidth")
                if label and width:
                    break
                time.sleep(0.3)
            shot = Path(os.environ.get("MOBILEDEPLOY_SCREENSHOT_DIR", tmp_path)) / "pi_web_view.png"
            browser.save_screenshot(str(shot))
            labels = set((artifact / "labels.txt").read_text().splitlines())
            assert label in labels, label
            assert width == 640
            assert shot.stat().st_size > 10_000
        finally:
            browser.quit()
    finally:
        proc.terminate()
        proc.wait(10)


def _own_address():
    """This machine's address on its default route (not loopback), or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing address
            address = s.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


def _reachable(host, port) -> bool:
    try:
        socket.create_connection((host, port), 1).close()
        return True
    except OSError:
        return False


@pytest.mark.parametrize("host", [None, "0.0.0.0"], ids=["default", "shared"])
def test_web_view_listens_on_loopback_unless_shared(artifact, host):
    """The view has no authentication: only this machine reaches it unless --host 0.0.0.0 says otherwise."""
    address = _own_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address to try")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    extra = ["--host", host] if host else []
    proc = subprocess.Popen([sys.executable, str(CLASSIFY), "--artifact", str(artifact), "--source",
                             str(shared("images")), "--loop", "--web", "--port", str(port), "--quiet", *extra],
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        while not _reachable("127.0.0.1", port):
            assert proc.poll() is None and time.time() < deadline, proc.stderr.read() if proc.poll() else "timeout"
            time.sleep(0.1)
        assert _reachable(address, port) == (host == "0.0.0.0")
    finally:
        proc.terminate()
        proc.wait(10)


def test_v2_artifact_chosen_by_its_manifest(video, tmp_path):
    """A V2 artifact beside a v1 one of the same alpha/res: --alpha/--res alone is ambiguous (one line naming
    both families), --arch picks by the manifest's model.architecture and the frames match `predict`."""
    from conftest import assert_one_line_error

    models = tmp_path / "models"
    for arch in ("mobilenet_v1", "mobilenet_v2"):
        mobiledeploy("export", "--arch", arch, "--alpha", "0.35", "--res", "96", "--int8", "--formats", "tflite",
                     "--weights", "none", "--out", models, check=True)
    proc = classify("--models", models, "--alpha", "0.35", "--res", "96", "--source", video, "--frames", "2")
    assert_one_line_error(proc, "mobilenet_v1 and mobilenet_v2", "--arch")
    proc = classify("--models", models, "--alpha", "0.35", "--res", "96", "--arch", "mobilenet_v2",
                    "--precision", "int8", "--source", video, "--json-lines", "--frames", "4")
    assert proc.returncode == 0, proc.stderr
    frames = lines(proc.stdout)[:-1]
    cap = cv2.VideoCapture(str(video))
    pngs = []
    for i in range(4):
        ok, frame = cap.read()
        assert ok
        pngs.append(tmp_path / f"frame{i}.png")
        cv2.imwrite(str(pngs[-1]), frame)
    pred = json.loads(mobiledeploy("predict", models / "mobilenet_v2_0.35_96", *pngs, "--file", "model_int8.tflite",
                                   "--json", check=True).stdout)
    assert [r["index"] for r in frames] == [img["top"][0]["index"] for img in pred["images"]]
