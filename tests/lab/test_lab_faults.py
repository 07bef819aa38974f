"""The lab's faults: strangers refused (no certificate of this lab), plain tcp:// off loopback refused, a
device name claimed twice, a device no worker serves, a worker killed mid-bench, the client stopped by SIGTERM,
a worker or client on another version, the scheduler unreachable, a worker lost mid-export, a worker without
TensorFlow, a worker restarted mid-sweep."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time

from conftest import assert_one_line_error, mobiledeploy, wait_for
from labkit import Proc, board_server, certs, lab, patched, runners  # noqa: F401 - fixtures

LONG = ["--alphas", "0.25", "--res", "96,128", "--precisions", "fp32", "--runs", "20", "--warmup", "2",
        "--processes", "40", "--max-seconds", "60", "--ci-width", "0.001"]


def test_a_stranger_without_this_labs_certificate_is_refused(lab, tmp_path):  # noqa: F811
    other = tmp_path / "other-lab"
    mobiledeploy("lab", "certs", "--out", other, "--workers", "desk9", "--clients", "mallory", check=True)
    proc = lab.client("lab", "status", lab.address, "--certs", other / "mallory", timeout=120)
    assert_one_line_error(proc, "cannot reach the lab's scheduler", "certificates")
    worker = mobiledeploy("lab", "worker", lab.address, "--certs", other / "desk9", timeout=120,
                          env={"MOBILEDEPLOY_HOME": str(lab.home("desk9"))})
    assert_one_line_error(worker, "cannot reach the lab's scheduler")
    assert {w["host"] for w in lab.status()["workers"]} == {"desk1", "desk2"}
    # and without any certificate at all
    assert_one_line_error(lab.client("lab", "status", lab.address), "needs --certs")


def test_plain_tcp_only_on_loopback(tmp_path):
    assert_one_line_error(mobiledeploy("lab", "scheduler", "--listen", "tcp://0.0.0.0:8786"), "tls://")
    assert_one_line_error(mobiledeploy("lab", "status", "tcp://192.0.2.1:8786"), "plain tcp:// on a network address")


def test_a_device_name_claimed_twice_is_refused(lab):  # noqa: F811
    proc = lab.start_worker("desk3", "board1", ready=None)
    assert proc.wait(60) == 2
    errors = [line for line in proc.lines if line.startswith("error:")]
    assert len(errors) == 1 and "board1" in errors[0] and "desk1" in errors[0], proc.output
    assert "Traceback" not in proc.output


def test_a_device_no_worker_serves(lab, tmp_path):  # noqa: F811
    proc = lab.client("sweep", "--lab", lab.address, "--lab-certs", lab.certs / "alice", "--device", "board3",
                      "--out", tmp_path / "s")
    assert_one_line_error(proc, "board3", "board1, board2")


def test_sigterm_of_the_client_cancels_the_labs_tasks(lab, tmp_path):  # noqa: F811
    client = Proc("sweep", "--lab", lab.address, "--lab-certs", lab.certs / "alice", "--device", "board1,board2",
                  *LONG, "--out", tmp_path / "s", env={"MOBILEDEPLOY_HOME": str(lab.client_home)})
    try:
        wait_for(lambda: runners(lab.sshd), timeout=180, what="a runner measuring on a board")
        assert "busy" in {d["state"] for w in lab.status()["workers"] for d in w["devices"]}
        client.stop(signal.SIGTERM)
        assert client.proc.returncode == 128 + signal.SIGTERM, client.output
        # no runner keeps measuring on the boards once the client is gone
        assert wait_for(lambda: not runners(lab.sshd), timeout=60), runners(lab.sshd)
        assert wait_for(lambda: all(d["state"] == "idle" for w in lab.status()["workers"] for d in w["devices"]),
                        timeout=30)
    finally:
        client.stop(signal.SIGKILL)


def test_a_worker_killed_mid_bench_is_reported_and_the_rest_is_stored(lab, tmp_path):  # noqa: F811
    out = tmp_path / "s"
    extra = lab.start_worker("desk3", "board3", launcher=patched("--without-tensorflow"))   # benches, never exports
    client = Proc("sweep", "--lab", lab.address, "--lab-certs", lab.certs / "alice", "--device", "board1,board3",
                  "--alphas", "0.25", "--res", "96,128", "--precisions", "fp32", "--runs", "5", "--warmup", "2",
                  "--processes", "1", "--max-seconds", "1", "--out", out, "--lab-rejoin", "5", "--json",
                  env={"MOBILEDEPLOY_HOME": str(lab.client_home)})
    try:
        wait_for(lambda: any("board3" in line and "[bench" in line for line in client.lines) or runners(lab.sshd),
                 timeout=240, what="a bench started")
        extra.stop(signal.SIGKILL)
        code = client.wait(300)
        assert code == 2, client.output
        lost = [line for line in client.lines if "board3 (worker desk3)" in line and "not measured" in line]
        assert len(lost) == 1, client.output     # one line for the device, naming its worker and what is missing
        assert "no worker served it again within 5 s" in lost[0], lost
        errors = [line for line in client.lines if line.startswith("error:")]
        assert len(errors) == 1, client.output
        hist = json.loads(lab.client("bench", "--history", "--device", "board1", "--json", check=True).stdout)
        assert any(r["artifact"].startswith(str(out)) for r in hist["results"])
    finally:
        client.stop(signal.SIGKILL)
        time.sleep(0.1)


# -- versions: every party runs the same mobiledeploy and record format ----------------------------------------

def test_a_worker_on_another_version_is_refused_naming_both(lab):  # noqa: F811
    from mobiledeploy.version import __version__

    proc = lab.start_worker("desk4", "board4", ready=None, launcher=patched("--version", "0.1.9"))
    assert proc.wait(120) == 2, proc.output
    errors = [line for line in proc.lines if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in proc.output, proc.output
    for fragment in ("version mismatch", "scheduler sched", __version__, "worker desk4", "0.1.9"):
        assert fragment in errors[0], errors[0]
    assert {w["host"] for w in lab.status()["workers"]} == {"desk1", "desk2"}


def test_a_client_on_another_version_is_refused_naming_the_scheduler(lab, tmp_path):  # noqa: F811
    from mobiledeploy.version import __version__

    for args in (["lab", "status", lab.address, "--certs", lab.certs / "alice"],
                 ["sweep", "--lab", lab.address, "--lab-certs", lab.certs / "alice", "--device", "board1",
                  "--out", tmp_path / "s"]):
        proc = subprocess.run([*patched("--version", "9.9.9"), *map(str, args)], capture_output=True, text=True,
                              timeout=120, env={**os.environ, "MOBILEDEPLOY_HOME": str(lab.client_home)})
        assert proc.returncode == 2
        line = assert_one_line_error(proc, "version mismatch", "scheduler sched", "9.9.9")
        assert __version__ in line
    assert not (tmp_path / "s").exists()   # refused before anything was exported


# -- the scheduler unreachable: one line naming the address --------------------------------------------------

def test_scheduler_unreachable(lab, tmp_path):  # noqa: F811
    from sshd import free_port

    nowhere = f"tls://127.0.0.1:{free_port()}"
    for args in (["lab", "status", nowhere, "--certs", lab.certs / "alice"],
                 ["sweep", "--lab", nowhere, "--lab-certs", lab.certs / "alice", "--device", "board1", "--out",
                  tmp_path / "s"]):
        proc = lab.client(*args, timeout=180)
        assert proc.returncode == 2
        assert_one_line_error(proc, "cannot reach the lab's scheduler", nowhere)
    worker = mobiledeploy("lab", "worker", nowhere, "--certs", lab.certs / "desk5", timeout=180,
                          env={"MOBILEDEPLOY_HOME": str(lab.home("desk5"))})
    assert_one_line_error(worker, "cannot reach the lab's scheduler", nowhere)


# -- exports run on the workers with TensorFlow; one without it serves its devices all the same -----------------

def test_a_worker_lost_mid_export_hands_the_export_to_another(lab, tmp_path):  # noqa: F811
    """The worker exporting is killed: the client sends that export again (its inputs were on the dead worker),
    another worker exports it, and the sweep ends with everything measured."""
    from mobiledeploy.lab.client import Lab

    bencher = lab.start_worker("desk5", "board5", launcher=patched("--without-tensorflow"))
    client = Proc("sweep", "--lab", lab.address, "--lab-certs", lab.certs / "alice", "--device", "board5",
                  "--alphas", "1.0", "--res", "224", "--precisions", "int8", "--runs", "5", "--warmup", "2",
                  "--processes", "1", "--max-seconds", "1", "--out", tmp_path / "s", "--json",
                  env={"MOBILEDEPLOY_HOME": str(lab.client_home)})
    killed = None
    try:
        with Lab(lab.address, lab.certs / "alice") as watcher:
            def exporter():
                names = {m.address: m.facts.host for m in watcher.members()}
                return next((names[a] for a in watcher.exporting() if a in names), None)

            killed = wait_for(exporter, timeout=240, proc=client.proc, what="a worker exporting")
        lab.workers[killed].stop(signal.SIGKILL)
        assert client.wait(400) == 0, client.output
        run = json.loads(client.output[client.output.index("{"):])["run"][0]
        assert run["benched"] == 1 and run["errors"] == [] and run["exported"] == 1, run
        assert list(run["exported_on"].values())[0] not in (killed, "here"), run
    finally:
        client.stop(signal.SIGKILL)
        bencher.stop()
        if killed is not None:   # the module's lab again as it was (desk1 serving board1, desk2 board2)
            lab.start_worker(killed, f"board{killed[-1]}", add=False, timeout=120)


def test_a_worker_without_tensorflow_is_never_asked_to_export(lab, tmp_path):  # noqa: F811
    worker = lab.start_worker("desk5", "board5", launcher=patched("--without-tensorflow"))
    try:
        served = {w["host"]: w for w in lab.status()["workers"]}
        assert served["desk5"]["can_export"] is False and served["desk1"]["can_export"] is True
        out = tmp_path / "sweep"
        doc = json.loads(lab.client("sweep", "--lab", lab.address, "--lab-certs", lab.certs / "alice", "--device",
                                    "board5", "--alphas", "0.25", "--res", "96", "--precisions", "fp32", "--runs",
                                    "5", "--warmup", "2", "--processes", "1", "--max-seconds", "1", "--out", out,
                                    "--json", check=True).stdout)
        run = doc["run"][0]
        # exported by a worker with TensorFlow; measured on desk5
        assert run["exported"] == 1 and run["benched"] == 1 and run["errors"] == [], run
        assert run["lab"] == {"board5": "desk5"} and set(run["exported_on"].values()) <= {"desk1", "desk2"}, run
        # --lab-exports here: exported on the client, as one host does
        doc = json.loads(lab.client("sweep", "--lab", lab.address, "--lab-certs", lab.certs / "alice", "--device",
                                    "board5", "--alphas", "0.25", "--res", "128", "--precisions", "fp32", "--runs",
                                    "5", "--warmup", "2", "--processes", "1", "--max-seconds", "1", "--out", out,
                                    "--lab-exports", "here", "--json", check=True).stdout)
        assert doc["run"][0]["exported_on"] == {"a0.25-128": "here"}, doc["run"][0]
        assert "Traceback" not in worker.output
    finally:
        worker.stop()


# -- a worker restarted mid-sweep: the restarted worker takes its device's rest over -----------------------------

def test_a_worker_restarted_mid_sweep_takes_the_rest_over(lab, tmp_path):  # noqa: F811
    out = tmp_path / "s"
    no_tf = patched("--without-tensorflow")   # it benches and never exports: the kill lands on a bench
    first = lab.start_worker("desk4", "board4", launcher=no_tf)
    args = ["sweep", "--lab", lab.address, "--lab-certs", lab.certs / "alice", "--device", "board1,board4",
            "--alphas", "0.25", "--res", "96,128", "--precisions", "fp32", "--runs", "20", "--warmup", "2",
            "--processes", "3", "--ci-width", "0.001", "--max-seconds", "6", "--out", out]
    client = Proc(*args, env={"MOBILEDEPLOY_HOME": str(lab.client_home)})
    again = None
    try:
        wait_for(lambda: any(d["name"] == "board4" and d["state"] == "busy"
                             for w in lab.status()["workers"] for d in w["devices"]) and runners(lab.sshd),
                 timeout=300, proc=client.proc, what="board4 measuring")
        first.stop(signal.SIGKILL)
        again = lab.start_worker("desk4", "board4", add=False, timeout=120, launcher=no_tf)   # back at once
        assert client.wait(300) == 0, client.output
        assert any("board4: worker desk4" in line and "left the lab" in line for line in client.lines), client.output
        took = [line for line in client.lines if "board4: worker desk4" in line and "serves it again" in line]
        assert len(took) == 1, client.output
        assert "Traceback" not in client.output and "error:" not in client.output, client.output

        def stored(device):
            return [r for r in json.loads(lab.client("bench", "--history", "--device", device, "--json",
                                                     check=True).stdout)["results"] if r["artifact"].startswith(str(out))]

        # every file measured once on each board: what board4 had measured before the kill was not sent again
        for device in ("board1", "board4"):
            assert sorted(r["file"] for r in stored(device)) == ["model_fp32.tflite"] * 2, stored(device)
            assert len({r["sha256"] for r in stored(device)}) == 2
        doc = json.loads(lab.client(*args, "--json", check=True).stdout)["run"][0]
        assert doc["benched"] == 0 and doc["errors"] == [], doc
        assert wait_for(lambda: not runners(lab.sshd), timeout=60)   # nothing left measuring from the killed one
    finally:
        client.stop(signal.SIGKILL)
        for proc in (first, again):
            if proc is not None:
                proc.stop()
