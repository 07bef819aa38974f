"""bench over adb: the real Debian adb client and server against a device side written for the tests
(tests/adbd.py) whose benchmark_model runs LiteRT and prints the real tool's format. No phone here."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import assert_one_line_error, mobiledeploy

HERE = Path(__file__).parents[1]  # tests/: the adb helpers live there


@pytest.fixture
def benchmark_binary(tmp_path):
    tool = tmp_path / "benchmark_model"
    tool.write_text(f"#!{sys.executable}\n" + (HERE / "adbd_benchmark_model.py").read_text())
    return tool


def test_bench_over_adb(adb, main_job, benchmark_binary):
    phone = adb()
    mobiledeploy("devices", "add", "pixel", "--adb", phone.serial, "--benchmark-binary", benchmark_binary,
                 check=True)
    proc = mobiledeploy("bench", main_job[0]["artifact"], "--device", "pixel", "--file", "model_int8.tflite",
                        "--runs", "20", "--threads", "2", "--cpu-mask", "1", "--json", check=True)
    doc = json.loads(proc.stdout)["results"][0]
    m, facts = doc["measurement"], doc["device_facts"]
    for key in ("samples", "median", "mean_ms", "p90", "std_ms"):
        assert key in m
    assert doc["device"] == "pixel" and facts["runtime"] == "benchmark_model" and m["samples"] == 20 * m["processes"]
    assert m["median"]["ms"] > 0 and facts["xnnpack"] is True and facts["memory_mb"]["overall"] >= 0
    ran = [c for c in phone.commands if "benchmark_model --graph=" in c]
    assert ran and "taskset 1 " in ran[0] and "--num_threads=2" in ran[0] and "--num_runs=20" in ran[0]
    assert not (phone.root / "data/local/tmp/mobiledeploy/model_int8.tflite").exists()  # cleaned up


def test_bench_over_adb_every_tflite_file(adb, main_job, benchmark_binary):
    phone = adb()
    mobiledeploy("devices", "add", "pixel", "--adb", phone.serial, "--benchmark-binary", benchmark_binary,
                 check=True)
    docs = json.loads(mobiledeploy("bench", main_job[0]["artifact"], "--device", "pixel", "--runs", "5",
                                   "--json", check=True).stdout)["results"]
    assert sorted(d["file"] for d in docs) == ["model_fp32.tflite", "model_int8.tflite"]


def test_devices_check_over_adb(adb):
    phone = adb()
    mobiledeploy("devices", "add", "pixel", "--adb", phone.serial, check=True)
    info = json.loads(mobiledeploy("devices", "check", "pixel", "--json", check=True).stdout)
    assert info["model"] == "Mobiledeploy Test Device" and info["android"] == "14" and info["cores"] >= 1


def test_failing_tool_detected_despite_adb_exit_status(adb, main_job, benchmark_binary):
    """The legacy shell protocol returns 0 whatever the command did: the marker carries the real status."""
    phone = adb()
    raw = subprocess.run(["adb", "-s", phone.serial, "shell", "exit 3"], capture_output=True)
    assert raw.returncode == 0  # the premise: this adb/daemon pair hides the status
    mobiledeploy("devices", "add", "pixel", "--adb", phone.serial, "--benchmark-binary", benchmark_binary,
                 check=True)
    proc = mobiledeploy("bench", main_job[0]["artifact"], "--device", "pixel", "--file", "model_fp32.tflite",
                        "--use-gpu")
    assert_one_line_error(proc, "benchmark_model failed", "gpu")


def test_no_device(adb):
    mobiledeploy("devices", "add", "pixel", "--adb", "auto", check=True)
    assert_one_line_error(mobiledeploy("devices", "check", "pixel"), "no android device")


def test_several_devices_none_chosen_then_android_serial(adb, monkeypatch):
    adb()
    second = adb()
    mobiledeploy("devices", "add", "pixel", "--adb", "auto", check=True)
    assert_one_line_error(mobiledeploy("devices", "check", "pixel"), "several", "ANDROID_SERIAL")
    info = json.loads(mobiledeploy("devices", "check", "pixel", "--json",
                                   env={"ANDROID_SERIAL": second.serial}, check=True).stdout)
    assert info["serial"] == second.serial


@pytest.mark.slow  # waits out adb's own retries (~10 s)
def test_unauthorized_and_offline(adb):
    locked, dead = adb("unauthorized"), adb("offline")
    mobiledeploy("devices", "add", "locked", "--adb", locked.serial, check=True)
    mobiledeploy("devices", "add", "dead", "--adb", dead.serial, check=True)
    assert_one_line_error(mobiledeploy("devices", "check", "locked"), "unauthorized")
    assert_one_line_error(mobiledeploy("devices", "check", "dead"), "offline")
