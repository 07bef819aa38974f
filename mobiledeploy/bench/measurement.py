"""The measurement as typed records: an `Estimate` that carries its interval and confidence and prints itself,
a `Verdict`, the `Measurement` of one file on one device, and the device's facts.

What one file's runner processes answered (bench/answers.py) becomes one `Measurement` here (`measured`),
once; every printer, the store, the sweep's rows and pick read these types, never a dict. Each type reads
and writes its own JSON (`from_dict` checks it: a stored line is untrusted input).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields

from .answers import PhoneSummary, ProcessFacts, finite, whole
from .intervals import Pooled, log_half_width, pool, pool_summaries, relative_half_width, z_score
from .quietness import Quietness

LEGACY_CONFIDENCE = 0.95   # the confidence format 1 lines without a "confidence" key were measured at


class BadRecord(ValueError):
    """A stored line that is not a measurement; the message says which field."""


def _ms(d: dict, key: str, required: bool = True, where: str = "") -> float | None:
    value = d.get(key)
    if value is None and not required:
        return None
    x = finite(value, positive=True)
    if x is None:
        raise BadRecord(f"{where}{key} is {str(value)[:40]!r}, not a finite positive time")
    return x


@dataclass(frozen=True)
class Estimate:
    """A latency estimate (ms) with its confidence interval; an estimate measured before the protocol (or
    predicted) has no interval: low, high and confidence are None."""

    value: float
    low: float | None = None
    high: float | None = None
    confidence: float | None = None

    def __post_init__(self):
        if (self.low is None) != (self.high is None) or (self.low is not None and self.confidence is None):
            raise BadRecord("an interval needs both bounds and its confidence")
        if self.low is not None and not self.low <= self.high:
            raise BadRecord(f"interval [{self.low:g}, {self.high:g}] is not low to high")

    @property
    def has_interval(self) -> bool:
        return self.low is not None

    @property
    def upper(self) -> float:
        """What a budget is judged on: the upper bound (the value itself without an interval)."""
        return self.high if self.high is not None else self.value

    @property
    def lower(self) -> float:
        return self.low if self.low is not None else self.value

    @property
    def interval(self) -> tuple[float, float] | None:
        return (self.low, self.high) if self.low is not None else None

    @property
    def half_width(self) -> float | None:
        """The interval's larger side as a fraction of the value (0.03 is +-3%)."""
        return relative_half_width(self.value, self.low, self.high) if self.low is not None else None

    @property
    def se(self) -> float | None:
        """The standard error on the log scale its interval implies at its own confidence."""
        if self.low is None or self.low <= 0:
            return None
        return log_half_width(self.value, (self.low, self.high)) / z_score(self.confidence)

    def ci_text(self, digits: int = 2) -> str:
        """"[95% CI 1.20, 1.31]", or "" without an interval."""
        if self.low is None:
            return ""
        return f"[{confidence_text(self.confidence)} CI {self.low:.{digits}f}, {self.high:.{digits}f}]"

    def text(self, name: str, digits: int = 2) -> str:
        """"p90 12.30 ms [90% CI 11.90, 12.80]"."""
        ci = self.ci_text(digits)
        return f"{name} {self.value:.{digits}f} ms" + (f" {ci}" if ci else "")

    def widened(self, drift_sd: float) -> "Estimate | None":
        """Where another run's estimate falls, at this estimate's own confidence: this run's error and the
        device's drift between runs (sd on the log scale), each twice (this run's and the other's). None without
        an interval (there is no within-run error to start from)."""
        se = self.se
        if se is None:
            return None
        z = z_score(self.confidence)
        half = z * math.sqrt(2 * (se * se + drift_sd * drift_sd))
        return Estimate(self.value, self.value * math.exp(-half), self.value * math.exp(half), self.confidence)

    def to_dict(self) -> dict:
        return {"ms": self.value, "low": self.low, "high": self.high, "confidence": self.confidence}

    @classmethod
    def from_dict(cls, d, where: str) -> "Estimate":
        if not isinstance(d, dict):
            raise BadRecord(f"{where} is not an object")
        value = _ms(d, "ms", where=f"{where}.")
        if d.get("low") is None and d.get("high") is None:
            return cls(value)
        low, high = _ms(d, "low", where=f"{where}."), _ms(d, "high", where=f"{where}.")
        conf = check_confidence(d.get("confidence"), f"{where}.confidence")
        if not low <= value <= high:
            raise BadRecord(f"{where} {value:g} ms lies outside its own interval [{low:g}, {high:g}]")
        return cls(value, low, high, conf)

    @classmethod
    def legacy(cls, value: float, ci, confidence) -> "Estimate":
        """From an earlier format's flat value and [low, high] list (checked by the caller's reader)."""
        if ci is None:
            return cls(value)
        return cls(value, ci[0], ci[1], confidence)


def check_confidence(value, where: str) -> float:
    x = finite(value)
    if x is None or not 0.5 <= x < 1:
        raise BadRecord(f"{where} is {str(value)[:40]!r}, not a confidence from 0.5 to below 1")
    return x


def confidence_text(confidence: float) -> str:
    """0.95 -> "95%", 0.975 -> "97.5%"."""
    return f"{100 * confidence:.4g}%"


def confidences_text(estimates) -> str | None:
    """The confidence of a set of estimates, for a table's header: "95%", or "90%/95%" when they differ; None
    when none has an interval (a confidence that was never measured is not printed)."""
    found = sorted({e.confidence for e in estimates if e is not None and e.confidence is not None})
    return "/".join(confidence_text(c) for c in found) or None


@dataclass(frozen=True)
class Verdict:
    """Whether a measurement can be trusted as it stands, and why."""

    stable: bool
    reason: str

    @property
    def word(self) -> str:
        return "stable" if self.stable else "unstable"

    def to_dict(self) -> dict:
        return {"stable": self.stable, "reason": self.reason}

    @classmethod
    def from_dict(cls, d) -> "Verdict":
        if not isinstance(d, dict) or not isinstance(d.get("stable"), bool):
            raise BadRecord("measurement.verdict is not {stable, reason}")
        return cls(d["stable"], str(d.get("reason") or "")[:400])


def judge(median: Estimate, p90: Estimate, process_medians: tuple, target: float, timed_out: bool,
          quietness: Quietness, summaries: bool) -> Verdict:
    """Stable when both intervals are within +-target, the processes agree and other work left the measured
    cores alone. Processes "agree" when the spread of their medians is within twice the target: a runner that
    lands in a fast or a slow mode (placement, memory layout) shows up here."""
    med_w, p90_w = median.half_width, p90.half_width
    spread = (max(process_medians) - min(process_medians)) / median.value
    reasons = []
    if med_w > target or p90_w > target:
        reasons.append(f"interval +-{max(med_w, p90_w):.1%} wider than +-{target:.0%}"
                       + (" when the time cap was reached" if timed_out else ""))
    if len(process_medians) > 1 and spread > 2 * target:
        reasons.append(f"runner processes disagree (medians {min(process_medians):.3g}-{max(process_medians):.3g} ms)")
    if quietness.busy_during:
        reasons.append(f"other work used {quietness.others_busy:.0%} of the measured cores while measuring")
    if reasons:
        reason = "; ".join(reasons)
    else:
        reason = (f"median +-{med_w:.1%}, p90 +-{p90_w:.1%} at {confidence_text(median.confidence)} over "
                  f"{len(process_medians)} processes")
    if summaries:
        reason += "; p90 estimated from each process's median and p95 (benchmark_model reports no samples)"
    return Verdict(not reasons, reason)


@dataclass(frozen=True)
class DeviceFacts:
    """What the device and its runtime were when measured (the first runner process's word, with the
    temperature after the last and the worst of what each process saw)."""

    runtime: str | None = None
    runtime_version: str | None = None
    xnnpack: bool | None = None
    cpu_model: str | None = None
    machine: str | None = None
    cores: int | None = None
    governor: str | None = None
    temperature_before_c: float | None = None
    temperature_after_c: float | None = None
    load_1m: float | None = None
    freq_khz: int | None = None
    max_freq_khz: int | None = None
    throttle_count: int | None = None
    init_ms: float | None = None
    first_ms: float | None = None
    memory_mb: dict | None = None
    host: str | None = None            # the lab worker's host that measured it (None: this host, or no lab)

    @classmethod
    def of(cls, answers: list) -> "DeviceFacts":
        first, last = answers[0].facts, answers[-1].facts
        worst = lambda key: max((v for v in (getattr(a.facts, key) for a in answers) if v is not None),  # noqa: E731
                                default=None)
        return cls(first.runtime, first.runtime_version, first.xnnpack, first.cpu_model, first.machine, first.cores,
                   first.governor, first.temperature_before_c, last.temperature_after_c, worst("load_1m"),
                   first.freq_khz, first.max_freq_khz, worst("throttle_count"), first.init_ms, first.first_ms,
                   first.memory_mb)

    @classmethod
    def from_dict(cls, d) -> "DeviceFacts":
        """Facts are read leniently: a fact of the wrong type is unknown, never a reason to drop a result."""
        if not isinstance(d, dict):
            return cls()
        p = ProcessFacts.from_raw(d)
        host = d.get("host")
        host = host if isinstance(host, str) and 0 < len(host) <= 64 and host.isprintable() else None
        return cls(**{f.name: getattr(p, f.name) for f in fields(cls) if f.name != "host"}, host=host)

    def to_dict(self) -> dict:
        # `host` only when a lab measured it: records of one host read and write as before
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "host" or self.host is not None}


@dataclass(frozen=True)
class Measurement:
    """One file measured on one device: its median and p90 with their intervals, how they were measured, the
    verdict, and how quiet the device was."""

    median: Estimate
    p90: Estimate | None               # benchmark_model results stored before the protocol have none
    samples: int                       # latencies (benchmark_model: the inferences its summaries cover)
    processes: int
    process_medians_ms: tuple[float, ...]
    verdict: Verdict
    quietness: Quietness
    source: str = "runner"             # "runner" (samples) or "benchmark_model" (a summary per process)
    p99_ms: float | None = None
    mean_ms: float | None = None
    std_ms: float = 0.0
    cv: float = 0.0
    min_ms: float | None = None
    max_ms: float | None = None
    throttled: bool = False
    first_inference_ms: float | None = None   # load + first run, the median process
    peak_rss_mb: float | None = None

    @property
    def confidence(self) -> float | None:
        return self.median.confidence

    def to_dict(self) -> dict:
        return {"median": self.median.to_dict(), "p90": self.p90.to_dict() if self.p90 else None,
                "samples": self.samples, "processes": self.processes,
                "process_medians_ms": list(self.process_medians_ms),
                "verdict": self.verdict.to_dict(),
                "quietness": self.quietness.to_dict(), "source": self.source, "p99_ms": self.p99_ms,
                "mean_ms": self.mean_ms, "std_ms": self.std_ms, "cv": self.cv, "min_ms": self.min_ms,
                "max_ms": self.max_ms, "throttled": self.throttled, "first_inference_ms": self.first_inference_ms,
                "peak_rss_mb": self.peak_rss_mb}

    @classmethod
    def from_dict(cls, d) -> "Measurement":
        if not isinstance(d, dict):
            raise BadRecord("measurement is not an object")
        median = Estimate.from_dict(d.get("median"), "measurement.median")
        p90 = Estimate.from_dict(d["p90"], "measurement.p90") if d.get("p90") is not None else None
        samples, processes = whole(d.get("samples"), 1), whole(d.get("processes"), 1, 1 << 20)
        if samples is None or processes is None:
            raise BadRecord("measurement.samples and .processes must be positive whole numbers")
        meds = d.get("process_medians_ms")
        if not isinstance(meds, list) or not meds or len(meds) > processes or \
                any(finite(v, positive=True) is None for v in meds):
            raise BadRecord("measurement.process_medians_ms is not a list of finite positive times, one per process")
        verdict, quiet = Verdict.from_dict(d.get("verdict")), Quietness.from_dict(d.get("quietness"))
        source = d.get("source") if d.get("source") in ("runner", "benchmark_model") else "runner"
        opt = lambda key: finite(d.get(key), minimum=0)  # noqa: E731
        return cls(median, p90, samples, processes, tuple(float(v) for v in meds),
                   verdict, quiet, source, opt("p99_ms"),
                   opt("mean_ms"), opt("std_ms") or 0.0, opt("cv") or 0.0, opt("min_ms"), opt("max_ms"),
                   bool(d.get("throttled")), opt("first_inference_ms"), opt("peak_rss_mb"))


def pooled_of(answers: list, confidence: float) -> Pooled:
    """One file's answers pooled with the process as the unit: samples, or a phone's summaries."""
    if isinstance(answers[0], PhoneSummary):
        return pool_summaries([(a.median_ms, a.p90_ms, a.max_ms, a.runs) for a in answers], confidence)
    return pool([a.latencies_ms for a in answers], confidence)


def measured(answers: list, pooled: Pooled, target: float, timed_out: bool, before: Quietness) -> Measurement:
    """The one place a file's runner answers become a Measurement: their pooled estimates, judged."""
    from . import stats

    summaries = isinstance(answers[0], PhoneSummary)
    confidence = pooled.confidence
    if summaries:
        mean = sum(a.mean_ms for a in answers) / len(answers)
        std = max(a.std_ms for a in answers)
        extra = {"mean_ms": mean, "std_ms": std, "cv": std / mean,
                 "min_ms": min((a.min_ms for a in answers if a.min_ms), default=None),
                 "max_ms": max((a.max_ms for a in answers if a.max_ms), default=None), "throttled": False}
    else:
        s = stats.summarize([x for a in answers for x in a.latencies_ms], answers[0].facts.temperature_before_c,
                            answers[-1].facts.temperature_after_c)
        extra = {k: s[k] for k in ("mean_ms", "std_ms", "cv", "min_ms", "max_ms", "throttled")}
    busy = [a.facts.others_busy for a in answers if a.facts.others_busy is not None]
    thermal = [a.facts.thermal_status for a in answers if a.facts.thermal_status is not None]
    quiet = before.during(max(busy) if busy else None, max(thermal) if thermal else None)
    if quiet.throttling:
        extra["throttled"] = True
    median = Estimate(pooled.median_ms, *pooled.median_ci_ms, confidence)
    p90 = Estimate(pooled.p90_ms, *pooled.p90_ci_ms, confidence)
    firsts = sorted(a.facts.init_ms + a.facts.first_ms for a in answers
                    if a.facts.init_ms is not None and a.facts.first_ms is not None)
    rss = [a.facts.peak_rss_mb for a in answers if a.facts.peak_rss_mb is not None]
    return Measurement(median, p90, pooled.samples, pooled.processes, pooled.process_medians_ms,
                       judge(median, p90, pooled.process_medians_ms, target, timed_out, quiet, summaries), quiet,
                       "benchmark_model" if summaries else "runner", pooled.p99_ms,
                       first_inference_ms=firsts[len(firsts) // 2] if firsts else None,
                       peak_rss_mb=max(rss) if rss else None, **extra)
