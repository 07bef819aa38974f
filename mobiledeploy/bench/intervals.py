"""Confidence intervals for latency quantiles: pure functions.

The interval of a quantile over pooled samples is distribution-free: the order statistics X_(l) <= X_(u)
that bracket the true q-quantile with probability >= confidence, from the binomial law of how many samples
fall below it (no normality assumed: latencies are skewed and multi-modal). Samples of one runner process are
not independent (a process stays in its fast or slow mode), so each interval is also at least as wide as a
log-scale t interval over the processes' own quantiles (the process as the unit). Coverage is checked on known
distributions in tests/bench.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def _binomial_cdf(n: int, p: float) -> np.ndarray:
    """P(B <= k) for k = 0..n, B ~ Binomial(n, p), computed in log space (n up to millions)."""
    k = np.arange(n + 1)
    logpmf = (math.lgamma(n + 1) - np.array([math.lgamma(i + 1) + math.lgamma(n - i + 1) for i in k])
              + k * math.log(p) + (n - k) * math.log1p(-p))
    pmf = np.exp(logpmf - logpmf.max())
    cdf = np.cumsum(pmf)
    return cdf / cdf[-1]


def quantile_interval(samples, q: float, confidence: float = 0.95) -> tuple[float, float]:
    """(low, high): an interval holding the q-quantile of the sampled distribution with at least `confidence`.

    Ranks l < u with P(B < l) <= a/2 and P(B >= u) <= a/2 for B ~ Binomial(n, q) the count below the
    quantile; too few samples for that confidence give the whole sample range (honest, not narrow).
    """
    x = np.sort(np.asarray(samples, dtype=np.float64))
    n = x.size
    if n == 0:
        raise ValueError("no samples")
    if not 0 < q < 1 or not 0 < confidence < 1:
        raise ValueError("q and confidence must be in (0, 1)")
    alpha = 1 - confidence
    cdf = _binomial_cdf(n, q)
    # with 0-based ranks: x[i] lies above the quantile iff B <= i, below it iff B >= i + 1
    # low: the largest i with P(B <= i) <= alpha/2; high: the smallest i with P(B <= i) >= 1 - alpha/2
    low_rank = int(np.searchsorted(cdf, alpha / 2, side="right")) - 1
    high_rank = int(np.searchsorted(cdf, 1 - alpha / 2, side="left"))
    low_rank = max(0, min(low_rank, n - 1))
    high_rank = max(low_rank, min(high_rank, n - 1))
    return float(x[low_rank]), float(x[high_rank])


def relative_half_width(estimate: float, low: float, high: float) -> float:
    """The interval's larger side as a fraction of the estimate (0.03 is +-3%)."""
    if estimate <= 0:
        return float("inf")
    return max(estimate - low, high - estimate) / estimate


@dataclass(frozen=True)
class Pooled:
    """Samples of several runner processes pooled: quantiles with intervals, and how they agree."""

    median_ms: float
    p90_ms: float
    p99_ms: float
    median_ci_ms: tuple[float, float]
    p90_ci_ms: tuple[float, float]
    samples: int
    processes: int
    process_medians_ms: tuple[float, ...]
    confidence: float

    @property
    def width(self) -> float:
        """The wider of the median's and the p90's relative half-widths."""
        return max(relative_half_width(self.median_ms, *self.median_ci_ms),
                   relative_half_width(self.p90_ms, *self.p90_ci_ms))


#: Student's t quantiles (two-sided 95%: 0.975) by degrees of freedom; past 30, the normal's.
T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
        12: 2.179, 15: 2.131, 20: 2.086, 25: 2.060, 30: 2.042}


def z_score(confidence: float) -> float:
    """The standard normal quantile of a two-sided `confidence` interval (1.96 at 95%)."""
    from statistics import NormalDist

    return NormalDist().inv_cdf(0.5 + confidence / 2)


def log_half_width(estimate: float, interval: tuple[float, float]) -> float:
    """An interval's larger side around `estimate` on the log scale (0.05 is about +-5%)."""
    return max(math.log(estimate / interval[0]), math.log(interval[1] / estimate))


def _t(df: int, confidence: float) -> float:
    """Student's t quantile for a two-sided `confidence` interval (exact at 95%, scaled from it otherwise)."""
    keys = sorted(T975)
    t95 = T975[max(k for k in keys if k <= df)] if df <= 30 else 1.96
    if abs(confidence - 0.95) < 1e-9:
        return t95
    return t95 * z_score(confidence) / 1.96   # the t/normal ratio at 95%, carried to the asked confidence


def process_half_width(chunks: list, q: float, confidence: float) -> float | None:
    """The q-quantile's half-width on a log scale when the runner process is the unit: a t interval over the
    processes' own q-quantiles (latencies are positive and their spread is relative); None for one process.

    Samples of one process are not independent of each other (a process lands in a fast or a slow mode and
    stays there), so an interval from pooled samples alone is too narrow between runs. Why t and not a
    bootstrap over processes: with the 3 to 10 processes a file gets, a bootstrap cannot reach beyond the
    values seen and under-covers; t carries the small number honestly.
    """
    if len(chunks) < 2:
        return None
    logs = np.log([float(np.percentile(c, 100 * q)) for c in chunks])
    return _t(len(chunks) - 1, confidence) * float(np.std(logs, ddof=1)) / float(np.sqrt(len(chunks)))


def _interval(estimate: float, sampling: tuple[float, float], between: float | None) -> tuple[float, float]:
    """Centred on the pooled estimate (log scale), as wide as the wider of its two sources: either half of the
    sampling interval, and the between-process half-width.

    Centred, because the order-statistic interval of thousands of pooled samples can be a hair wide on one
    side, and a second run's estimate falls there as often as on the other (measured on two quiet runs of
    benchmarks/decision_stability.py: a second run's median fell inside the first run's interval 72% of the time
    with a bootstrap over processes, 81% with the hull of the t and sampling intervals, 92% centred)."""
    half = max(log_half_width(estimate, sampling), between or 0.0)
    return estimate * math.exp(-half), estimate * math.exp(half)


def pool(per_process: list, confidence: float = 0.95) -> Pooled:
    """Pool the latencies of each runner process (a list of lists).

    Each interval is centred on the pooled estimate and covers both the order-statistic interval of the pooled
    samples (the sampling noise) and the t interval over processes (the noise between processes), so it is
    never narrower than either.
    """
    chunks = [np.asarray(p, dtype=np.float64) for p in per_process if len(p)]
    if not chunks:
        raise ValueError("no samples")
    x = np.concatenate(chunks)
    median, p90 = float(np.median(x)), float(np.percentile(x, 90))
    median_ci = _interval(median, quantile_interval(x, 0.5, confidence), process_half_width(chunks, 0.5, confidence))
    p90_ci = _interval(p90, quantile_interval(x, 0.9, confidence), process_half_width(chunks, 0.9, confidence))
    return Pooled(median, p90, float(np.percentile(x, 99)), median_ci, p90_ci,
                  int(x.size), len(chunks), tuple(float(np.median(c)) for c in chunks), confidence)


def pool_summaries(summaries: list, confidence: float = 0.95) -> Pooled:
    """Pool processes that report only their own summary (benchmark_model on a phone), each as (median, p90,
    max or None, runs): the process is the unit, and each interval is the order-statistic interval of the
    per-process values (with few processes, their whole range: honest, not narrow)."""
    if not summaries:
        raise ValueError("no summaries")
    meds = [float(s[0]) for s in summaries]
    p90s = [float(s[1]) for s in summaries]
    tops = [float(s[2] or s[1]) for s in summaries]
    return Pooled(float(np.median(meds)), float(np.median(p90s)), float(np.median(tops)),
                  quantile_interval(meds, 0.5, confidence), quantile_interval(p90s, 0.5, confidence),
                  int(sum(int(s[3] or 0) for s in summaries)), len(summaries), tuple(meds), confidence)
