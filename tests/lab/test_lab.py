"""The device lab end to end: a real Dask scheduler and two real workers (separate processes, each with its own
home and an SSH board on the loopback sshd), one sweep over both boards from a client, pick across both."""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from labkit import board_server, certs, lab  # noqa: F401 - fixtures

GRID = ["--alphas", "0.25", "--res", "96", "--precisions", "fp32", "--runs", "5", "--warmup", "2",
        "--processes", "1", "--max-seconds", "1"]


def test_certs_keys_are_private(certs):  # noqa: F811
    for party in ("sched", "desk1", "alice"):
        assert stat.S_IMODE(os.stat(certs / party / "key.pem").st_mode) == 0o600
        assert not (certs / party / "ca-key.pem").exists()   # the CA's key stays in OUT/ca only
    assert stat.S_IMODE(os.stat(certs / "ca" / "ca-key.pem").st_mode) == 0o600


def test_status_lists_workers_and_their_devices(lab):  # noqa: F811
    doc = lab.status()
    served = {d["name"]: (w["host"], d["state"]) for w in doc["workers"] for d in w["devices"]}
    assert served == {"board1": ("desk1", "idle"), "board2": ("desk2", "idle")}
    assert doc["scheduler"]["host"] == "sched"


def _images(folder: Path, count: int) -> Path:
    """`count` small noise photos (PNG) to calibrate on."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    (folder / "sub").mkdir(parents=True)
    for i in range(count):   # one in a subfolder: the worker keeps relative paths, so its draw is the client's
        where = folder / "sub" if i == 0 else folder
        Image.fromarray(rng.integers(0, 255, (80, 100, 3), dtype=np.uint8)).save(where / f"img{i}.png")
    return folder


def test_sweep_over_two_workers_then_pick_across_both(lab, tmp_path):  # noqa: F811
    out, calib = tmp_path / "sweep", _images(tmp_path / "calib", 8)
    grid = [a if a != "fp32" else "fp32,int8" for a in GRID]
    args = ["sweep", "--lab", lab.address, "--lab-certs", lab.certs / "alice", "--device", "board1,board2", *grid,
            "--calib", calib, "--calib-count", "4", "--out", out, "--json"]
    doc = json.loads(lab.client(*args, check=True).stdout)
    run = doc["run"][0]
    assert run["benched"] == 4 and run["errors"] == [] and run["lab"] == {"board1": "desk1", "board2": "desk2"}
    assert {r["device"] for r in doc["rows"]} == {"board1", "board2"}
    # exported on a worker (both have TensorFlow), calibrated on the client's images, kept in the client's --out
    assert run["exported"] == 1 and set(run["exported_on"].values()) <= {"desk1", "desk2"}, run
    [folder] = [p for p in out.iterdir() if (p / "manifest.json").is_file()]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["calibration"]["path"] == str(calib.resolve()), manifest["calibration"]
    assert manifest["calibration"]["count"] == 4
    assert not any(p.name.startswith(".export-") for p in (lab.home("desk1") / "lab" / "exports").glob("*"))

    # stored by the client, each record naming the worker's host that measured it
    hist = json.loads(lab.client("bench", "--history", "--device", "board1", "--json", check=True).stdout)["results"]
    assert hist and hist[-1]["device_facts"]["host"] == "desk1"
    assert hist[-1]["artifact"].startswith(str(out))   # the client's own artifact folder, not the worker's copy
    # pick on the client, for devices that are in the lab and the store but not in the client's devices.toml
    for device in ("board1", "board2"):
        proc = lab.client("pick", "--device", device, "--budget-ms", "60000", "--json")
        assert proc.returncode in (0, 3), proc.stderr
        picked = json.loads(proc.stdout)
        assert picked["chosen"] is None or picked["chosen"]["device"] == device

    # a re-run measures only what is missing: nothing
    again = json.loads(lab.client(*args, check=True).stdout)
    assert again["run"][0]["benched"] == 0 and again["run"][0]["cached"] == 1 and again["run"][0]["exported"] == 0
