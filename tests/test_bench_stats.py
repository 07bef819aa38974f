"""Pure parts of the bench: statistics, device specs, runner argument building."""
import numpy as np
import pytest

from mobiledeploy.bench.devices import parse_ssh
from mobiledeploy.bench.stats import summarize
from mobiledeploy.bench.targets import runner_args
from mobiledeploy.errors import MobiledeployError


def test_summary_numbers():
    s = summarize([1.0, 2.0, 3.0, 4.0, 5.0])
    assert s["median_ms"] == 3.0 and s["mean_ms"] == 3.0 and s["min_ms"] == 1.0 and s["max_ms"] == 5.0
    assert s["std_ms"] == pytest.approx(np.std([1, 2, 3, 4, 5], ddof=1))
    assert s["p90_ms"] == pytest.approx(4.6) and s["runs"] == 5


def test_stable_run_not_flagged():
    s = summarize(np.full(100, 10.0) + np.random.default_rng(0).normal(0, 0.05, 100))
    assert not s["unstable"] and not s["throttled"]


def test_noisy_run_flagged_unstable():
    assert summarize(np.random.default_rng(0).uniform(5, 15, 100))["unstable"]


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
    args = runner_args("/tmp/x; rm -rf ~/model.tflite", {"threads": 2, "runs": 5, "warmup": 1, "cpu_mask": "f0"})
    assert args[0] == "/tmp/x; rm -rf ~/model.tflite"
    assert args[1:] == ["--threads", "2", "--runs", "5", "--warmup", "1", "--cpu-mask", "f0"]
