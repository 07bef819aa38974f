"""The drift between runs (bench/drift.py) on synthetic stores with a known between-run spread (pure, fast)."""
import math

import numpy as np

from mobiledeploy.bench.drift import MIN_FILES, between_runs
from mobiledeploy.bench.record import BenchRecord

Z95 = 1.959963984540054


def rec(sha, median, half, run, device="local", busy=None, threads=1):
    """A stored result: `half` is its median interval's half-width on the log scale (95%)."""
    return BenchRecord.from_dict(line(sha, median, half, run, device, busy, threads))


def line(sha, median, half, run, device="local", busy=None, threads=1, confidence=0.95):
    """A store line of format 1 (the protocol's flat keys)."""
    return ({
        "device": device, "artifact": "/m/a", "artifact_name": "a", "file": "model_fp32.tflite", "format": "tflite",
        "precision": "fp32", "settings": {"threads": threads}, "median_ms": median, "std_ms": 0.01, "cv": 0.01,
        "time": f"2026-01-0{run + 1}T00:00:00+00:00", "sha256": sha, "confidence": confidence,
        "median_ci_ms": [median * math.exp(-half), median * math.exp(half)], "others_busy": busy})


def runs_of(rng, files, runs, sd, se, device="local"):
    """Stores of `runs` runs: each file's true median, a between-run effect N(0, sd) and a within-run error
    N(0, se) per run, on the log scale; each record's interval is the nominal one for its se."""
    truth = rng.uniform(0.3, 3.0, files)
    return [[rec(f"f{i}", float(truth[i] * math.exp(rng.normal(0, sd) + rng.normal(0, se))), Z95 * se, k, device)
             for i in range(files)] for k in range(runs)]


def test_drift_recovers_a_known_between_run_spread():
    """sd 4% between runs, 2% within: 200 stores of 20 files measured twice estimate the 4%.

    With 20 pairs one store's estimate has a relative error of ~20%, so each store is checked loosely and their
    median closely (its standard error is ~1.5% of 4%); the within-run part is taken out: the raw spread of d
    would say sqrt(4^2 + 2^2) = 4.5%."""
    rng = np.random.default_rng(5)
    estimates = []
    for _ in range(200):
        first, second = runs_of(rng, 20, 2, 0.04, 0.02)
        d = between_runs(first + second, "local")
        assert d is not None and d.files == 20 and d.pairs == 20
        estimates.append(d.sd)
    assert 0.037 <= float(np.median(estimates)) <= 0.043
    assert float(np.percentile(estimates, 5)) > 0.02 and float(np.percentile(estimates, 95)) < 0.06


def test_no_drift_beyond_the_intervals_estimates_near_zero():
    """Runs that differ only by their within-run error: what is left is near 0, never negative."""
    rng = np.random.default_rng(9)
    first, second = runs_of(rng, 200, 2, 0.0, 0.03)
    assert between_runs(first + second, "local").sd < 0.01


def test_rerun_interval_holds_another_runs_median_at_its_confidence():
    """The drift from runs 1-2, the interval from run 2, checked on run 3: 95% of medians inside (4000 files over
    200 stores: the share's standard error is 0.35 points; the drift's own estimation error widens the miss a
    little, so 0.93-0.97). The within-run interval alone holds far fewer."""
    rng = np.random.default_rng(11)
    inside = inside_within = total = 0
    for _ in range(200):
        first, second, third = runs_of(rng, 20, 3, 0.04, 0.02)
        d = between_runs(first + second, "local")
        for r, nxt in zip(second, third):
            ci = r.measurement.median.interval
            low, high = r.measurement.median.widened(d.sd).interval
            inside += low <= nxt.median_ms <= high
            inside_within += ci[0] <= nxt.median_ms <= ci[1]
            total += 1
    assert 0.93 <= inside / total <= 0.97
    assert inside_within / total < 0.6


def test_what_drift_leaves_out():
    """Other devices, results not measured quietly, results without an interval, and too few files."""
    rng = np.random.default_rng(2)
    first, second = runs_of(rng, MIN_FILES, 2, 0.05, 0.01)
    assert between_runs(first + second, "local").files == MIN_FILES
    assert between_runs(first + second, "pi") is None
    assert between_runs(first + second[:-1], "local") is None   # one file fewer measured twice
    busy = [rec(r.sha256, r.median_ms * 1.5, 0.01, 2, busy=0.6) for r in second]
    d = between_runs(first + second + busy, "local")
    assert d.pairs == MIN_FILES   # the busy third run is not a run of the quiet device
    old = [BenchRecord.from_dict({**line("f0", 1.0, 0.01, 3), "median_ci_ms": None})]
    assert between_runs(first + second + old, "local").pairs == MIN_FILES
    other_threads = [rec(r.sha256, r.median_ms * 2, 0.01, 3, threads=2) for r in second]
    assert between_runs(first + second + other_threads, "local").pairs == MIN_FILES


def test_rerun_interval_is_built_at_the_records_own_confidence():
    """A 90% record: its standard error is its half-width over z(0.90), and its rerun interval is a 90% one
    (before, the sweep's rows built it with z(0.95) from a 90% half-width: a misread standard error)."""
    from mobiledeploy.bench.intervals import z_score

    r = BenchRecord.from_dict(line("f0", 2.0, 0.05, 0, confidence=0.9))
    e = r.measurement.median
    assert e.confidence == 0.9 and math.isclose(e.se, 0.05 / z_score(0.9))
    wide = e.widened(0.04)
    half = z_score(0.9) * math.sqrt(2 * ((0.05 / z_score(0.9)) ** 2 + 0.04 ** 2))
    assert wide.confidence == 0.9 and math.isclose(math.log(wide.high / 2.0), half)
    assert wide.text("median") == f"median 2.00 ms [90% CI {wide.low:.2f}, {wide.high:.2f}]"
