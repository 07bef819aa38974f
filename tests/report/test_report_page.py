"""The results page in a real headless Chromium: it loads offline with no console error and no request outside
itself, shows one point per measured variant, its budget control answers as `mobiledeploy pick` does, store
texts are shown as text; `serve` refuses a request without its token on a non-loopback address."""
import http.client
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from browser import POINTS, chromium, open_page, set_budget
from conftest import mobiledeploy, wait_for
from report_records import record

XSS = "<script>alert(1)</script>"
XSS_FILE = "<img src=x onerror=alert(1)>.tflite"   # a file name is one plain name: no slash


def _write(records, accuracy=()):
    from mobiledeploy.bench import store
    from mobiledeploy.sweep import accuracy as acc_store

    for r in records:
        store.append(r)
    for a in accuracy:
        acc_store.append(a)


@pytest.fixture
def home(tmp_path, monkeypatch):
    h = tmp_path / "home"
    h.mkdir()
    monkeypatch.setenv("MOBILEDEPLOY_HOME", str(h))
    return h


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    b = chromium(tmp_path_factory.mktemp("profile"))
    yield b
    b.quit()


def _report(out, *args) -> dict:
    proc = mobiledeploy("report", "--out", out, "--json", *args)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _clean(loaded, allowed: str):
    errors = [m for m in loaded["console"] if m["level"] in ("SEVERE", "WARNING")]
    assert not errors, errors
    outside = [u for u in loaded["requests"] if not u.startswith(allowed) and not u.startswith(("data:", "blob:"))]
    assert not outside, outside


def _fleet():
    """Two devices, two thread counts, a file measured in two runs, one result measured while busy."""
    out = []
    for i, (alpha, res, prec, p90) in enumerate([(0.25, 128, "fp32", 5.0), (0.25, 128, "int8", 3.1),
                                                 (0.5, 128, "fp32", 12.0), (0.5, 160, "int8", 7.0),
                                                 (0.75, 96, "fp32", 9.0)]):
        out.append(record("rpi4", alpha, res, prec, p90))
        out.append(record("rpi4", alpha, res, prec, p90 * 0.6, threads=2, busy=0.7 if i == 1 else None))
    out.append(record("rpi4", 0.25, 128, "fp32", 5.3, time="2025-01-05T10:00:00+00:00"))
    out += [record("pixel", 0.25, 128, "fp32", 1.9), record("pixel", 0.5, 128, "fp32", 3.9),
            record("pixel", 1.0, 224, "fp32", 21.0, arch="mobilenet_v2")]
    return out


def test_page_loads_offline_with_one_point_per_measured_variant(home, tmp_path, browser):
    _write(_fleet())
    out = tmp_path / "report.html"
    summary = _report(out)
    assert [(d["device"], d["variants"], d["not_quiet"]) for d in summary["devices"]] == [("pixel", 3, 0),
                                                                                          ("rpi4", 10, 1)]
    assert not list(tmp_path.glob(".report.html.tmp-*"))
    loaded = open_page(browser, out.as_uri())
    _clean(loaded, out.as_uri())
    assert loaded["requests"] == [out.as_uri()]
    points = browser.execute_script(POINTS)
    assert [(p["device"], p["variant"], p["noisy"]) for p in points] == [("pixel", 3, 0), ("rpi4", 10, 1)]
    # the file measured twice: its history lists both runs and the change between them
    rows = browser.execute_script("return [...document.querySelectorAll('#dev-1 table.history tr')]"
                                  ".map(tr => tr.textContent)")
    assert any("+6.0%" in r for r in rows), rows
    side = browser.execute_script("return [...document.querySelectorAll('table.side tr')].map(tr => tr.textContent)")
    assert len(side) == 3 and "a0.25-128-fp32" in side[1] and "a0.5-128-fp32" in side[2]
    shot = Path(os.environ.get("MOBILEDEPLOY_SCREENSHOT_DIR", tmp_path)) / "report_page.png"
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 20_000


def _pick(budget) -> dict:
    proc = mobiledeploy("pick", "--device", "local", "--budget-ms", budget, "--json")
    assert proc.returncode in (0, 3), proc.stderr
    return json.loads(proc.stdout)


def test_budget_control_answers_as_pick_does(home, tmp_path, browser, tiny_artifact):
    """Real files (pick checks the chosen one is on disk and unchanged), measured at 1 and 2 threads, top-1
    measured on 2000 images; four budgets: nothing fits, int8, an undecided one, fp32."""
    from mobiledeploy.artifact.bundle import Artifact

    art = Artifact.load(tiny_artifact)
    files = {e.precision: e for e in art.manifest.files if e.format == "tflite"}
    recs = []
    for prec, p90s in (("fp32", {1: 4.0, 2: 2.6}), ("int8", {1: 2.0, 2: 1.4})):
        e = files[prec]
        for threads, p90 in p90s.items():
            recs.append(record("local", 0.25, 32, prec, p90, threads=threads, artifact=str(tiny_artifact),
                               artifact_name=tiny_artifact.name, file=e.name, sha256=e.sha256, size=e.size))
    _write(recs, [{"sha256": files["fp32"].sha256, "top1": 0.62, "n": 2000, "data": "/photos"},
                  {"sha256": files["int8"].sha256, "top1": 0.55, "n": 2000, "data": "/photos"}])
    out = tmp_path / "report.html"
    _report(out)
    loaded = open_page(browser, out.as_uri())
    _clean(loaded, out.as_uri())
    seen = set()
    for budget in (1.0, 1.6, 2.65, 3.0):
        answer = _pick(budget)
        shown = set_budget(browser, 0, budget)
        chosen = answer["chosen"]
        assert shown["label"] == (chosen["label"] if chosen else "nothing fits"), (budget, shown, answer)
        if chosen:
            assert f"{chosen['threads']} thr" in shown["line"], shown
        assert shown["state"] == ("decided" if answer["decided"] else "undecided: see why"), (budget, shown)
        assert shown["why"] == f"why: {answer['reason']}", (budget, shown["why"], answer["reason"])
        for c in answer["contenders"]:
            assert f"undecided against {c['label']}" in shown["more"]
        seen.add((shown["label"], answer["decided"]))
    # at 2.65 ms the int8 file is chosen, undecided: fp32 at 2 threads fits on its p90, not on its upper bound
    assert seen == {("nothing fits", True), ("a0.25-32-int8", True), ("a0.25-32-int8", False),
                    ("a0.25-32-fp32", True)}


def test_hostile_store_values_are_shown_as_text(home, tmp_path, browser):
    recs = [record(XSS, 0.25, 128, "fp32", 4.0, artifact_name=XSS, file=XSS_FILE, cpu_model=XSS,
                   runtime_version=XSS, reason=XSS, before=(XSS,), artifact=f"/m/{XSS}"),
            record(XSS, 0.5, 128, "fp32", 9.0, before=("\x1b[2J\ud800",)),
            record("rpi4", 0.25, 128, "fp32", 6.0, artifact_name=XSS, file=XSS_FILE, artifact=f"/m/{XSS}")]
    _write(recs)
    out = tmp_path / "report.html"
    summary = _report(out)
    assert summary["devices"][0]["device"] == XSS
    text = out.read_text()
    assert XSS not in text and "<img" not in text
    loaded = open_page(browser, out.as_uri())
    _clean(loaded, out.as_uri())
    found = browser.execute_script("""
        const gd = document.getElementById('front-0');
        const idx = gd.data.findIndex(t => t.meta && t.meta.role === 'variant');
        Plotly.Fx.hover(gd, [{curveNumber: idx, pointNumber: 0}]);
        const hover = gd.querySelector('.hoverlayer') ? gd.querySelector('.hoverlayer').textContent : '';
        return {alerts: window.__alerts, scripts: document.scripts.length, images: document.images.length,
                 h2: document.querySelector('#dev-0 h2').textContent, hover: hover,
                 legend: [...document.querySelectorAll('#side-plot .legendtext')].map(e => e.textContent),
                 cells: [...document.querySelectorAll('#dev-0 table.rows td')].map(e => e.textContent)};""")
    assert found["alerts"] == 0 and found["images"] == 0 and found["scripts"] == 3
    assert found["h2"] == XSS
    assert XSS in found["hover"] and XSS_FILE in found["hover"], found["hover"]
    assert XSS in found["legend"], found["legend"]
    assert any(XSS in c for c in found["cells"]) and any(XSS_FILE in c for c in found["cells"])


def _serve(*args):
    proc = subprocess.Popen([str(Path(sys.executable).with_name("mobiledeploy")), "serve", "--port", "0", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = proc.stdout.readline()
    lines = [first] + ([proc.stdout.readline()] if "token" in first else [])
    m = re.search(r":(\d+)/", first)
    assert m, (lines, proc.stderr.read() if proc.poll() is not None else "")
    token = re.search(r"\?token=(\S+)", lines[-1])
    return proc, int(m.group(1)), token.group(1) if token else None


def _stop(proc) -> str:
    proc.terminate()
    _, err = proc.communicate(timeout=30)
    return err


def _get(port, path, headers=None, method="GET"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request(method, path, headers=headers or {})
    answer = conn.getresponse()
    body = answer.read()
    conn.close()
    return answer, body


def test_serve_on_a_shared_address_needs_its_token(home, tmp_path, browser):
    _write(_fleet())
    proc, port, token = _serve("--host", "0.0.0.0")
    try:
        assert token and len(token) >= 32
        wait_for(lambda: _get(port, "/")[0].status, proc=proc, what="the server")
        for path, headers in (("/", {}), ("/data.json", {}), ("/?token=wrong", {}),
                              ("/", {"Authorization": "Bearer wrong"}), ("/", {"Cookie": "mobiledeploy_token=x"})):
            answer, body = _get(port, path, headers)
            assert answer.status == 401, (path, headers)
            assert b"mobiledeploy results" not in body and answer.getheader("WWW-Authenticate")
        answer, _ = _get(port, f"/?token={token}")
        assert answer.status == 303 and answer.getheader("Location") == "/"
        cookie = answer.getheader("Set-Cookie")
        assert token in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
        answer, body = _get(port, "/", {"Cookie": cookie.split(";")[0]})
        assert answer.status == 200 and b"mobiledeploy results" in body
        assert "default-src 'none'" in answer.getheader("Content-Security-Policy")
        answer, body = _get(port, "/data.json", {"Authorization": f"Bearer {token}"})
        assert answer.status == 200 and [d["device"] for d in json.loads(body)["devices"]] == ["pixel", "rpi4"]
        assert _get(port, "/", {"Authorization": f"Bearer {token}"}, "POST")[0].status == 501   # read-only
        # a reader opens the printed address: the token becomes a cookie and leaves the address bar
        loaded = open_page(browser, f"http://127.0.0.1:{port}/?token={token}")
        _clean(loaded, f"http://127.0.0.1:{port}/")
        assert browser.current_url == f"http://127.0.0.1:{port}/"
        assert [p["variant"] for p in browser.execute_script(POINTS)] == [3, 10]
    finally:
        err = _stop(proc)
    assert token not in err and "GET / 401" in err and "GET / 200" in err, err


def test_serve_on_loopback_needs_no_token(home):
    _write(_fleet()[:3])
    proc, port, token = _serve()
    try:
        assert token is None
        answer, body = wait_for(lambda: _get(port, "/"), proc=proc, what="the server")
        assert answer.status == 200 and b"mobiledeploy results" in body
        assert _get(port, "/nothing")[0].status == 404
    finally:
        _stop(proc)
