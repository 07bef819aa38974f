"""Pure parts of the bench: statistics, device specs, runner argument building."""
import numpy as np
import pytest

from mobiledeploy.bench.devices import parse_ssh
from mobiledeploy.bench.stats import summarize
from mobiledeploy.bench.runner_io import runner_args
from mobiledeploy.bench.settings import BenchSettings
from mobiledeploy.errors import MobiledeployError


def test_summary_numbers():
    s = summarize([1.0, 2.0, 3.0, 4.0, 5.0])
    assert s["median_ms"] == 3.0 and s["mean_ms"] == 3.0 and s["min_ms"] == 1.0 and s["max_ms"] == 5.0
    assert s["std_ms"] == pytest.approx(np.std([1, 2, 3, 4, 5], ddof=1))
    assert s["p90_ms"] == pytest.approx(4.6) and s["runs"] == 5


def test_stable_run_not_flagged():
    s = summarize(np.full(100, 10.0) + np.random.default_rng(0).normal(0, 0.05, 100))
    assert not s["throttled"] and "unstable" not in s   # stable or not is the protocol's verdict


def test_slowing_run_flagged_throttled():
    assert summarize(np.linspace(10, 13, 100))["throttled"]
    assert summarize(np.full(50, 10.0), temperature_before=50.0, temperature_after=58.0)["throttled"]


def test_empty_latencies_rejected():
    with pytest.raises(ValueError):
        summarize([])


@pytest.mark.parametrize("spec,expected", [
    ("pi@rpi4.local", {"user": "pi", "host": "rpi4.local", "port": 22}),
    ("root@127.0.0.1:2222", {"user": "root", "host": "127.0.0.1", "port": 2222}),
    ("me@[::1]:22", {"user": "me", "host": "::1", "port": 22}),
])
def test_parse_ssh(spec, expected):
    assert parse_ssh(spec) == expected


@pytest.mark.parametrize("spec", ["", "a@b:c", "a b@c", "x@y:99999999"])
def test_parse_ssh_rejects(spec):
    with pytest.raises(MobiledeployError):
        parse_ssh(spec)


def test_runner_args_are_a_list_not_a_shell_string():
    args = runner_args("/tmp/x; rm -rf ~/model.tflite", BenchSettings(threads=2, runs=5, warmup=1, cpu_mask="f0"))
    assert args[0] == "/tmp/x; rm -rf ~/model.tflite"
    assert args[1:] == ["--threads", "2", "--runs", "5", "--warmup", "1", "--max-seconds", "2.66667", "--cpu-mask",
                        "f0"]


# --- benchmark_model output parsing, on real published output (see data/benchmark_model/SOURCES.md)
from pathlib import Path  # noqa: E402

from mobiledeploy.bench import benchmark_model  # noqa: E402
from mobiledeploy.bench.adb import choose_serial, parse_devices, split_status  # noqa: E402

SAMPLES = Path(__file__).parents[1] / "data" / "benchmark_model"


def test_parse_tf_issue_42507():
    p = benchmark_model.parse((SAMPLES / "tf_issue_42507.txt").read_text())
    assert p["inference"]["count"] == 50 and p["inference"]["avg"] == pytest.approx(33.2094)
    assert p["inference"]["std"] == pytest.approx(0.450) and p["inference"]["min"] == pytest.approx(32.641)
    assert p["init_ms"] == pytest.approx(0.855) and p["first_ms"] == pytest.approx(49.06)
    assert p["warmup_avg_ms"] == pytest.approx(34.8251) and p["memory_mb"] == {"init": 0.0, "overall": 12.8672}
    s = benchmark_model.summary(p)
    assert s["runs"] == 50 and s["mean_ms"] == s["median_ms"] == pytest.approx(33.2094) and s["p90_ms"] is None


def test_parse_2019_format():
    p = benchmark_model.parse((SAMPLES / "yuenshome_issue_77.txt").read_text())
    assert p["inference"]["count"] == 15 and p["inference"]["avg"] == pytest.approx(66.7676)
    assert p["init_ms"] == pytest.approx(9.933) and p["warmup_avg_ms"] == pytest.approx(76.6059)
    assert p["first_ms"] == pytest.approx(127.425)


def test_parse_percentiles_and_op_table():
    # the LiteRT 2.x line format (tsl stats_calculator's percentile stat) and the op summary table layout
    text = "\n".join([
        "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",
        "INFO: count=12 first=9000 curr=8000 min=7900 max=9000 avg=8100 std=300 p5=7900 median=8050 p95=9000",
        "INFO: count=50 first=8000 curr=8000 min=7800 max=8600 avg=8020 std=150 p5=7850 median=8000 p95=8400",
        "INFO: ============================== Summary by node type ==============================",
        "INFO: \t             [Node type]\t  [count]\t  [avg ms]\t    [avg %]\t    [cdf %]\t  [mem KB]\t[times called]",
        "INFO: \t       DELEGATE\t        2\t     7.500\t    93.750%\t    93.750%\t     0.000\t        2",
        "INFO: \t        SOFTMAX\t        1\t     0.500\t     6.250%\t   100.000%\t     0.000\t        1",
        "INFO: ",
    ])
    p = benchmark_model.parse(text)
    assert p["xnnpack"] and p["inference"]["median"] == 8.0 and p["inference"]["p95"] == 8.4
    assert p["ops"] == [{"type": "DELEGATE", "count": 2, "avg_ms": 7.5, "percent": 93.75},
                        {"type": "SOFTMAX", "count": 1, "avg_ms": 0.5, "percent": 6.25}]


def test_parse_rejects_output_without_timings():
    with pytest.raises(ValueError):
        benchmark_model.parse("ERROR: Could not open 'x.tflite'.\n")


def test_adb_devices_and_serial_choice():
    listing = "List of devices attached\nA1\tdevice\nB2\tunauthorized\nC3\toffline\n\n"
    devs = parse_devices(listing)
    assert devs == [("A1", "device"), ("B2", "unauthorized"), ("C3", "offline")]
    assert choose_serial("A1", None, devs) == "A1"
    assert choose_serial("auto", "A1", devs) == "A1"
    for configured, fragment in (("B2", "unauthorized"), ("C3", "offline"), ("Z9", "not connected"),
                                 (None, "several")):
        with pytest.raises(MobiledeployError, match=fragment):
            choose_serial(configured, None, devs)
    with pytest.raises(MobiledeployError, match="no Android device"):
        choose_serial(None, None, [])


def test_status_marker():
    assert split_status("hello\n__mobiledeploy_rc=3\n") == (3, "hello\n")
    assert split_status("cut off") == (-1, "cut off")
