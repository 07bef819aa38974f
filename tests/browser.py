"""A real headless Chromium through Selenium (Debian's chromium and chromedriver) for the tests of every page (the
results page in tests/report/, the Pi's web view in tests/pi/), with the console and the network log kept: what
the page printed and every request it made."""
from __future__ import annotations

import json
import shutil
import time

import pytest


def chromium(profile, width: int = 1280, height: int = 1600):
    chrome, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not chrome or not driver:
        pytest.skip("needs Debian's chromium and chromium-driver (make install installs them as root)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = chrome
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", f"--window-size={width},{height}", f"--user-data-dir={profile}"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    browser = webdriver.Chrome(options=opts, service=Service(driver))
    # anything that calls alert() is counted, not shown (a page must never do it)
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument",
                            {"source": "window.__alerts = 0; window.alert = function () { window.__alerts++; };"})
    return browser


def open_page(browser, url: str, timeout: float = 60) -> dict:
    """Load `url` after a blank page; wait for the page's script to finish. Returns the console messages and the
    URLs requested while loading it."""
    browser.get("about:blank")
    browser.get_log("browser")
    browser.get_log("performance")
    browser.get(url)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if browser.execute_script("return !!(window.mobiledeployReport && window.mobiledeployReport.ready)"):
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"the page's script did not finish: {browser.get_log('browser')}")
    time.sleep(0.5)   # anything a late timer would ask for
    messages = [json.loads(m["message"])["message"] for m in browser.get_log("performance")]
    requested = [m["params"]["request"]["url"] for m in messages if m["method"] == "Network.requestWillBeSent"]
    return {"console": browser.get_log("browser"), "requests": requested}


#: per device section: the number of plotted points of each role on its front
POINTS = """
const out = [];
for (const gd of document.querySelectorAll('[id^=front-]')) {
  const count = role => gd.data.filter(t => t.meta && t.meta.role === role).reduce((n, t) => n + t.x.length, 0);
  out.push({id: gd.id, variant: count('variant'), noisy: count('not-quiet'),
            device: gd.closest('section').querySelector('h2').textContent});
}
return out;
"""


def set_budget(browser, index: int, budget: float) -> dict:
    """Type a budget into a device's control as a reader does; what the answer box then shows."""
    box = browser.find_element("id", f"budget-{index}")
    box.clear()
    box.send_keys(repr(float(budget)))
    text = lambda name: browser.find_element("id", f"pick-{name}-{index}").text  # noqa: E731
    return {"label": text("label"), "line": text("line"), "state": text("state"), "why": text("why"),
            "more": text("more")}
