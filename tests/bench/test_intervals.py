"""The measurement protocol's statistics on synthetic samples with known distributions (pure, fast)."""
import json

import numpy as np
import pytest

from conftest import assert_one_line_error, mobiledeploy
from mobiledeploy.bench.answers import ProcessFacts, Samples
from mobiledeploy.bench.intervals import pool, quantile_interval
from mobiledeploy.bench.measurement import Estimate, judge
from mobiledeploy.bench.protocol import Job, measure
from mobiledeploy.bench.quietness import Quietness
from mobiledeploy.bench.settings import BenchSettings
from mobiledeploy.errors import MobiledeployError
from mobiledeploy.sweep.cells import Cell, Row
from mobiledeploy.sweep.pick import choose
from stored import stored

SIGMA = 0.3 ** 0.5
Z = {0.5: 0.0, 0.9: 1.2815515655446004}


@pytest.mark.parametrize("q", [0.5, 0.9])
@pytest.mark.parametrize("n", [60, 200, 800])
def test_interval_coverage_is_at_least_nominal(q, n):
    """Order-statistic intervals hold the true quantile of a skewed (log-normal) law in >= ~95% of samples.

    400 trials: the coverage's own standard error is ~1.1 points, so 0.92 is three of them below nominal;
    exact order-statistic intervals are conservative (they cover >= 95%), so the upper bound is loose.
    """
    rng = np.random.default_rng(17)
    truth = float(np.exp(SIGMA * Z[q]))
    hits = sum(lo <= truth <= hi for lo, hi in (quantile_interval(rng.lognormal(0, SIGMA, n), q) for _ in range(400)))
    assert 0.92 <= hits / 400 <= 0.995


def test_interval_narrows_with_samples_and_is_honest_when_too_few():
    rng = np.random.default_rng(3)
    x = rng.lognormal(0, SIGMA, 5000)
    wide, narrow = quantile_interval(x[:100], 0.9), quantile_interval(x, 0.9)
    assert narrow[1] - narrow[0] < (wide[1] - wide[0]) / 3
    few = quantile_interval([1.0, 2.0, 3.0], 0.9)   # 3 samples cannot bracket a p90 at 95%: the whole range
    assert few == (3.0, 3.0) or few[1] == 3.0
    with pytest.raises(ValueError):
        quantile_interval([], 0.5)


class Synthetic:
    """A device whose runner processes draw from known laws: `modes` gives each process's median."""

    def __init__(self, modes, spread=0.02, runs=50, seed=0):
        self.rng, self.modes, self.spread, self.runs, self.calls = np.random.default_rng(seed), modes, spread, runs, []

    def run_one(self, job):
        path = job.path
        self.calls.append(path)
        median = self.modes(len([c for c in self.calls if c == path]) - 1)
        return Samples(tuple(median * self.rng.lognormal(0, self.spread, self.runs)), ProcessFacts())


def test_rounds_are_interleaved_and_stop_once_the_intervals_are_narrow():
    device = Synthetic(lambda i: 1.0)
    settings = BenchSettings(runs=50, processes=3, ci_width=0.05, max_seconds=60)
    done = []
    jobs = measure(device.run_one, [Job(k, k) for k in "ABC"], settings, done.append)
    assert device.calls[:6] == list("ABCABC")                     # A B C A B C, not A A A B B B
    assert [len(j.answers) for j in jobs] == [3, 3, 3]                # narrow after the minimum: stopped there
    assert all(j.measurement.verdict.stable and not j.timed_out for j in jobs) and len(done) == 3


def test_noisy_file_measures_longer_then_stops_at_its_time_cap():
    device = Synthetic(lambda i: 1.0, spread=1.5, runs=10)        # heavy tails: +-5% needs thousands of samples
    settings = BenchSettings(runs=10, processes=3, ci_width=0.05, max_seconds=0.05)
    jobs = measure(device.run_one, [Job("noisy", "noisy")], settings)
    assert len(jobs[0].answers) >= 3 and jobs[0].timed_out
    verdict = jobs[0].measurement.verdict
    assert not verdict.stable and "time cap" in verdict.reason


def test_a_process_in_a_slow_mode_is_named():
    """One runner process landing 40% slower (placement, memory layout): the verdict says the processes disagree."""
    pooled = pool([list(np.full(200, 1.0) + np.linspace(0, 0.01, 200)), list(np.full(200, 1.4)),
                   list(np.full(200, 1.0))])
    verdict = judge(Estimate(pooled.median_ms, *pooled.median_ci_ms, 0.95), Estimate(pooled.p90_ms, *pooled.p90_ci_ms, 0.95),
                    pooled.process_medians_ms, 0.05, False, Quietness(), False)
    assert not verdict.stable and "disagree" in verdict.reason


def test_a_failing_runner_ends_only_its_own_file():
    def run_one(job):
        if job.path == "bad":
            raise MobiledeployError("the board went away")
        return Samples((1.0,) * 50, ProcessFacts())

    jobs = measure(run_one, [Job("bad", "bad"), Job("good", "good")], BenchSettings(processes=3))
    assert jobs[0].error == "the board went away" and jobs[1].measurement.verdict.stable


def _row(label_alpha, p90, top1, ci=None, source="published", n=None, size=1000, precision="int8", macs=10,
         confidence=0.95):
    est = Estimate(p90, *ci, confidence) if ci else Estimate(p90)
    return Row("d", Cell(label_alpha, 128), precision, 1, macs, 1, Estimate(p90 * 0.9), est, "measured", top1, source,
               n, size)


def test_pick_judges_the_budget_on_the_upper_bound_and_names_what_would_change_it():
    rows = [_row(0.5, 4.0, 0.55, ci=(3.8, 5.5)), _row(0.25, 2.0, 0.40, ci=(1.9, 2.1))]
    c = choose(rows, 5.0)
    assert c.chosen.alpha == 0.25                    # 0.5's p90 fits, its upper bound does not
    assert not c.decided and [r.alpha for r in c.contenders] == [0.5]
    assert "undecided" in c.why and "a0.5-128-int8" in c.why and "--refine" in c.why
    # a row that may fit but would not change the answer (less accurate) leaves it decided
    rows.append(_row(0.35, 4.0, 0.30, ci=(3.0, 5.5)))
    rows[0] = _row(0.5, 4.0, 0.55, ci=(3.8, 4.9))
    c = choose(rows, 5.0)
    assert c.chosen.alpha == 0.5 and c.decided and "undecided" not in c.why


def test_pick_names_a_tie_and_breaks_it_without_measured_margin():
    """Two measured top-1s whose intervals overlap (300 images: +-5 points) are a tie, said, and broken by a rule
    that two runs apply alike: not the margin to the budget (a measured quantity that moves between runs) but the
    smaller file, unless one p90 interval lies wholly below the other's."""
    rows = [_row(0.75, 4.5, 0.62, ci=(4.4, 4.6), source="measured", n=300, size=900),
            _row(0.5, 4.4, 0.60, ci=(4.3, 4.5), source="measured", n=300, size=1000),
            _row(0.25, 1.0, 0.40, ci=(0.9, 1.1), source="measured", n=300)]
    c = choose(rows, 5.0)
    assert c.chosen.alpha == 0.75 and [r.alpha for r in c.tied] == [0.5] and "tied with a0.5-128-int8" in c.why
    assert c.decided and "smaller file" in c.why
    assert choose(list(reversed(rows)), 5.0).chosen.alpha == 0.75   # whatever the order of the rows
    # the same rows measured again, intervals moved but still overlapping: the same answer
    rows[0], rows[1] = (_row(0.75, 4.3, 0.62, ci=(4.2, 4.45), source="measured", n=300, size=900),
                        _row(0.5, 4.5, 0.60, ci=(4.4, 4.6), source="measured", n=300, size=1000))
    assert choose(rows, 5.0).chosen.alpha == 0.75
    # clearly faster (intervals apart) wins the tie over the smaller file
    rows[1] = _row(0.5, 2.5, 0.60, ci=(2.4, 2.6), source="measured", n=300, size=1000)
    assert choose(rows, 5.0).chosen.alpha == 0.5


def test_pick_with_no_accuracy_ties_equal_multiply_adds_by_file_size():
    """Random weights without published numbers: the proxy is multiply-adds; fp32 and int8 of one cell tie."""
    fp32 = _row(0.5, 1.2, None, ci=(1.1, 1.3), source=None, size=4000, precision="fp32", macs=49)
    int8 = _row(0.5, 1.25, None, ci=(1.1, 1.4), source=None, size=1000, macs=49)
    c = choose([fp32, int8], 2.0)
    assert c.chosen is int8 and c.tied == [fp32] and "equal multiply-adds" in c.why


def test_nothing_surely_fits_names_the_contenders():
    rows = [_row(0.25, 1.0, 0.40, ci=(0.9, 1.2))]
    c = choose(rows, 1.1)
    assert c.chosen is None and [r.alpha for r in c.contenders] == [0.25] and "--refine" in c.why


def test_pick_is_undecided_when_what_it_rests_on_was_measured_with_other_work():
    """The loaded runs of benchmarks/decision_stability.py: a more accurate variant rejected for a p90 that other work
    inflated, or a chosen one measured so, makes the answer undecided and says why; a noisy row the answer does
    not rest on (less accurate) leaves it decided."""
    quiet, loaded = _row(0.25, 2.0, 0.40, ci=(1.9, 2.1)), _row(0.5, 6.0, 0.55, ci=(5.8, 6.2))
    loaded.noise = "other work used 65% of the measured cores"
    c = choose([quiet, loaded], 5.0)
    assert c.chosen is quiet and not c.decided and c.noisy == [loaded]
    assert "not measured quietly: other work used 65% of the measured cores while measuring a0.5-128-int8" in c.why
    lesser = _row(0.1, 7.0, 0.30, ci=(6.8, 7.2))
    lesser.noise = "other work used 65% of the measured cores"
    assert choose([quiet, lesser], 5.0).decided
    quiet.noise = "thermal status 2 (throttling)"
    assert choose([quiet, lesser], 5.0).noisy == [quiet]


def test_refine_grows_the_protocol_round_by_round_within_caps():
    from mobiledeploy.sweep.pick import refine_settings

    s = BenchSettings()
    rounds = [s := refine_settings(s) for _ in range(10)]
    assert (rounds[0].processes, rounds[0].max_seconds, rounds[0].ci_width) == (6, 24.0, 0.025)
    assert rounds[1].processes == 12 and rounds[1].max_seconds == 72.0
    assert (rounds[-1].processes, rounds[-1].max_seconds, rounds[-1].ci_width) == (48, 120.0, 0.01)
    # a user who asked for more than the caps keeps it
    assert refine_settings(BenchSettings(processes=100, max_seconds=600.0)).processes == 100


@pytest.mark.parametrize("n", [3, 6])
def test_process_interval_covers_the_median_between_runs(n):
    """Each process lands in its own mode (log-normal, 5% spread) with 2% noise within: the quantity a second run
    estimates is the median over modes (1.0 here). The interval with the process as the unit covers it at about
    the nominal 95% with as few as 3 processes; 400 trials, so 90% is 5 standard errors below nominal, far
    above what a bootstrap over 3 processes gives (about 75%: it cannot reach past the values seen)."""
    rng = np.random.default_rng(n)
    hits = 0
    for _ in range(400):
        chunks = [list(m * rng.lognormal(0, 0.02, 50)) for m in rng.lognormal(0, 0.05, n)]
        lo, hi = pool(chunks).median_ci_ms
        hits += lo <= 1.0 <= hi
    assert hits / 400 >= 0.90


@pytest.mark.parametrize("args,fragment", [
    (["--ci-width", "0"], "--ci-width"), (["--ci-width", "1.5"], "--ci-width"),
    (["--max-seconds", "0"], "--max-seconds"), (["--confidence", "1"], "--confidence"),
    (["--processes", "0"], "--processes"),
])
def test_protocol_options_out_of_range(tmp_path, args, fragment):
    home = tmp_path / "home"
    proc = mobiledeploy("bench", tmp_path, *args, env={"MOBILEDEPLOY_HOME": str(home)})
    assert proc.returncode == 2
    assert_one_line_error(proc, fragment)
    assert not stored(home)


@pytest.mark.slow
def test_strict_refuses_to_store_an_unstable_result(tiny_artifact, tmp_path):
    """An unreachable width (+-0.01%) in a 1 s cap: the verdict is unstable, --strict stores nothing."""
    home = tmp_path / "home"
    env = {"MOBILEDEPLOY_HOME": str(home)}
    proc = mobiledeploy("bench", tiny_artifact, "--file", "model_int8.tflite", "--runs", "5", "--ci-width", "0.0001",
                        "--max-seconds", "1", "--strict", env=env)
    assert proc.returncode == 2
    # --strict refuses before measuring when the machine is busy (other tests beside this one), else the
    # unstable result: either way one line naming --strict, and nothing stored
    assert_one_line_error(proc, "--strict")
    assert "unstable" in proc.stderr or "not quiet" in proc.stderr
    assert not stored(home)
    doc = json.loads(mobiledeploy("bench", tiny_artifact, "--file", "model_int8.tflite", "--runs", "5", "--json",
                                  env=env, check=True).stdout)
    m = doc["results"][0]["measurement"]
    assert doc["results"][0]["record_format"] == 2
    assert m["processes"] >= 3 and m["samples"] == 5 * m["processes"]
    p90 = m["p90"]
    assert p90["low"] <= p90["ms"] <= p90["high"] and p90["confidence"] == 0.95
    assert isinstance(m["verdict"]["stable"], bool) and m["peak_rss_mb"] > 0
    assert m["first_inference_ms"] > 0


def test_processes_in_different_modes_widen_the_interval():
    """Three processes at 1.0, 1.0 and 1.3 ms: the pooled samples alone would claim +-1%; processes are the unit."""
    rng = np.random.default_rng(5)
    chunks = [list(m * rng.lognormal(0, 0.02, 200)) for m in (1.0, 1.0, 1.3)]
    pooled = pool(chunks)
    x = np.concatenate(chunks)
    naive = quantile_interval(x, 0.5)
    assert pooled.median_ci_ms[1] - pooled.median_ci_ms[0] > 5 * (naive[1] - naive[0])
    assert pooled.median_ci_ms[1] >= 1.25                      # the slow process's median is inside
    assert pool(chunks).median_ci_ms == pooled.median_ci_ms    # seeded: the same samples, the same interval


@pytest.mark.slow
def test_pick_refine_measures_the_contenders_again(tiny_artifact, tmp_path, monkeypatch):
    """A real store: both files of the tiny artifact benched here; the int8 result is then given an interval that
    holds the budget (as a short, noisy measurement would), so pick is undecided and names it; --refine measures
    both again with the refine settings, stores the new results and decides on them."""
    home = tmp_path / "home"
    monkeypatch.setenv("MOBILEDEPLOY_HOME", str(home))
    mobiledeploy("bench", tiny_artifact, "--runs", "10", "--max-seconds", "1", "--json", check=True)
    lines = stored(home)
    fp32 = next(x for x in lines if x["precision"] == "fp32")
    int8 = next(x for x in lines if x["precision"] == "int8")
    budget = 1.5 * fp32["measurement"]["p90"]["high"]
    int8["measurement"]["p90"]["low"], int8["measurement"]["p90"]["high"] = 0.001, 100 * budget
    for name in ("results.db", "results.db-wal", "results.db-shm"):   # the store again, from these records
        (home / name).unlink(missing_ok=True)
    (home / "results.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))

    doc = json.loads(mobiledeploy("pick", "--device", "local", "--budget-ms", f"{budget:.5f}", "--json",
                                  check=True).stdout)
    assert doc["chosen"]["label"] == "a0.25-32-fp32" and not doc["decided"]
    assert [r["label"] for r in doc["contenders"]] == ["a0.25-32-int8"] and "--refine" in doc["reason"]
    text = mobiledeploy("pick", "--device", "local", "--budget-ms", f"{budget:.5f}", check=True).stdout
    assert "undecided against a0.25-32-int8" in text

    proc = mobiledeploy("pick", "--device", "local", "--budget-ms", f"{budget:.5f}", "--refine", "1", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert len(doc["refined"]) == 1 and sorted(doc["refined"][0]["labels"]) == ["a0.25-32-fp32", "a0.25-32-int8"]
    kept = stored(home)
    assert len(kept) == 4                                     # both measured again, appended
    again = kept[-1] if kept[-1]["precision"] == "int8" else kept[-2]
    assert again["measurement"]["processes"] >= 6 and again["settings"]["max_seconds"] == 3 * 1.0   # 3 x the cap
    assert again["measurement"]["p90"]["low"] > 0.001         # the new result replaced the noisy one
    if doc["decided"]:                                        # both fit now: tied, broken by the smaller file
        assert doc["chosen"]["label"] == "a0.25-32-int8" and doc["tied"][0]["label"] == "a0.25-32-fp32"


@pytest.mark.slow
def test_the_confidence_asked_for_is_the_one_measured_stored_and_printed(tiny_artifact, tmp_path):
    """--confidence 0.9: the stored intervals are 90% ones, and bench, the sweep's table and pick say 90%."""
    env = {"MOBILEDEPLOY_HOME": str(tmp_path / "home"), "COLUMNS": "200"}
    proc = mobiledeploy("bench", tiny_artifact, "--runs", "10", "--max-seconds", "1", "--confidence", "0.9",
                        env=env, check=True)
    assert "90% CI" in proc.stdout and "95%" not in proc.stdout
    kept = stored(tmp_path / "home")
    assert kept and all(x["measurement"]["p90"]["confidence"] == 0.9 for x in kept)
    report = mobiledeploy("sweep", "--report", "--alphas", "0.25", "--res", "32", "--device", "local",
                          "--out", tiny_artifact.parent, "--plot", tmp_path / "sweep.png", env=env, check=True).stdout
    assert "90% CI" in report and "95% CI" not in report
    budget = 10 * max(x["measurement"]["p90"]["high"] for x in kept)
    text = mobiledeploy("pick", "--device", "local", "--budget-ms", f"{budget:.4f}", env=env, check=True).stdout
    assert "[90% CI " in text and "upper 90% bound" in text and "95%" not in text
