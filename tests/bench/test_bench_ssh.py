"""bench over SSH against a real OpenSSH server on loopback, running the real runner and LiteRT."""
import json
import sys
import threading
import time
from pathlib import Path


from conftest import assert_one_line_error, mobiledeploy
from sshd import add_board
from stored import stored

PY = sys.executable  # the "board's" python: this venv, which has ai-edge-litert and numpy


def leftovers(sshd):
    return set(sshd.workdir.iterdir())


def test_bench_over_ssh_with_real_runner(sshd, main_job):
    add_board(sshd)
    assert not leftovers(sshd)
    proc = mobiledeploy("bench", main_job[0]["artifact"], "--device", "board", "--file", "model_int8.tflite",
                        "--runs", "20", "--json", check=True)
    out = json.loads(proc.stdout)
    assert out["device"] == "board" and len(out["results"]) == 1
    doc = out["results"][0]
    m = doc["measurement"]
    for key in ("samples", "median", "mean_ms", "p90", "std_ms"):
        assert key in m
    assert doc["model"]["alpha"] == 0.5 and doc["model"]["resolution"] == 128
    # 20 runs in each runner process, pooled over the protocol's processes (at least 3)
    assert doc["device"] == "board" and m["processes"] >= 3
    assert m["samples"] == 20 * m["processes"] == len(doc["latencies_ms"])
    assert doc["device_facts"]["runtime"] == "ai-edge-litert" and m["median"]["ms"] > 0
    assert not leftovers(sshd)  # the per-run folder was removed
    history = json.loads(mobiledeploy("bench", "--history", "--device", "board", "--json", check=True).stdout)
    assert history["results"] and history["results"][-1]["sha256"] == doc["sha256"]


def test_devices_check_over_ssh(sshd):
    add_board(sshd)
    info = json.loads(mobiledeploy("devices", "check", "board", "--json", check=True).stdout)
    assert info["reachable"] and info["tflite_runtime"] == "ai-edge-litert" and info["cores"] >= 1


def test_wrong_key(sshd, tmp_path):
    from sshd import keygen

    keygen(tmp_path / "other")
    add_board(sshd, key=tmp_path / "other")
    assert_one_line_error(mobiledeploy("devices", "check", "board"), "authentication")


def test_unknown_host_key_refused_unless_insecure(sshd, tmp_path):
    (tmp_path / "empty_known_hosts").write_text("")
    add_board(sshd, known=tmp_path / "empty_known_hosts")
    assert_one_line_error(mobiledeploy("devices", "check", "board"), "host key", "--insecure")
    mobiledeploy("devices", "check", "board", "--insecure", check=True)


def test_remote_without_tflite_runtime(sshd, main_job, tmp_path):
    block = tmp_path / "block"
    block.mkdir()
    for mod in ("ai_edge_litert", "tflite_runtime"):
        (block / f"{mod}.py").write_text("raise ImportError('not installed on this board')\n")
    wrapper = tmp_path / "python-without-litert"
    wrapper.write_text(f"#!/bin/sh\nPYTHONPATH={block} exec {PY} \"$@\"\n")
    wrapper.chmod(0o755)
    add_board(sshd, python=str(wrapper))
    art = main_job[0]["artifact"]
    assert_one_line_error(mobiledeploy("bench", art, "--device", "board", "--file", "model_int8.tflite"),
                          "no tflite runtime")


def test_remote_temp_folder_not_writable_and_no_injection(sshd, main_job):
    add_board(sshd, "--workdir", "/nonexistent; touch /tmp/mobiledeploy-pwned")
    proc = mobiledeploy("bench", main_job[0]["artifact"], "--device", "board", "--file", "model_int8.tflite")
    assert_one_line_error(proc, "temporary folder")
    assert not Path("/tmp/mobiledeploy-pwned").exists()


def test_sshd_killed_mid_run_stores_nothing(sshd, main_job, home):
    add_board(sshd)
    before = stored(home / "mobiledeploy")
    def kill_once_the_runner_runs():
        # wait for the runner (not the upload) to be under way, so the cut lands mid-measurement
        deadline = time.time() + 120
        while time.time() < deadline:
            for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
                try:
                    args = cmdline.read_bytes().split(b"\0")
                except OSError:
                    continue
                # this server's runner only (another test's runner elsewhere on the machine is not the cue)
                if any(a.endswith(b"/runner.py") and a.startswith(bytes(sshd.workdir)) for a in args) \
                        and b"--runs" in args:
                    time.sleep(1.0)
                    sshd.descendants_kill()
                    return
            time.sleep(0.2)

    killer = threading.Thread(target=kill_once_the_runner_runs)
    killer.start()
    proc = mobiledeploy("bench", main_job[0]["artifact"], "--device", "board", "--file", "model_fp32.tflite",
                        "--runs", "400", "--cooldown", "0.05")
    killer.join()
    assert_one_line_error(proc, "lost")
    assert stored(home / "mobiledeploy") == before
