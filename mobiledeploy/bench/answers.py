"""A runner process's answer, parsed once where it arrives into one of two types; nothing downstream looks
into the raw answer again.

- `Samples`: mobiledeploy's runner (here, on a board over SSH): every measured latency.
- `PhoneSummary`: TensorFlow's benchmark_model on a phone (adb): its own summary, no samples.

Both carry the `ProcessFacts` the process reported (runtime, CPU, temperatures, other work). An answer is a
device's word: what is not a measurement is a fault of that device, reported as one line, never stored.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from statistics import NormalDist
from typing import Union

from ..errors import MobiledeployError

FIX = "(its runner printed something that is not a measurement: check the device's python and runtime)"


def finite(value, positive: bool = False, minimum: float | None = None) -> float | None:
    """`value` as a float when it is a finite number (not a bool) in range, else None. Never raises: a
    400-digit integer is not a latency either."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        x = float(value)
    except (OverflowError, ValueError):
        return None
    if not math.isfinite(x) or (positive and x <= 0) or (minimum is not None and x < minimum):
        return None
    return x


def whole(value, minimum: int = 0, maximum: int = 1 << 62) -> int | None:
    """`value` when it is a whole number (not a bool) in range, else None."""
    return value if type(value) is int and minimum <= value <= maximum else None


def text(value, limit: int = 200) -> str | None:
    return value[:limit] if isinstance(value, str) else None


@dataclass(frozen=True)
class ProcessFacts:
    """What one runner process said about the device and itself besides its latencies."""

    runtime: str | None = None
    runtime_version: str | None = None
    xnnpack: bool | None = None
    cpu_model: str | None = None
    machine: str | None = None
    cores: int | None = None
    governor: str | None = None
    temperature_before_c: float | None = None
    temperature_after_c: float | None = None
    init_ms: float | None = None
    first_ms: float | None = None
    memory_mb: dict | None = None
    peak_rss_mb: float | None = None
    load_1m: float | None = None
    freq_khz: int | None = None
    max_freq_khz: int | None = None
    throttle_count: int | None = None
    others_busy: float | None = None
    thermal_status: int | None = None

    @classmethod
    def from_raw(cls, raw: dict) -> "ProcessFacts":
        """Each fact checked for its type; a fact of the wrong type is unknown (None), not an error: facts
        describe, they do not decide a latency."""
        memory = raw.get("memory_mb")
        memory = {str(k)[:40]: v for k, v in memory.items() if finite(v) is not None} \
            if isinstance(memory, dict) and len(memory) <= 16 else None
        return cls(
            runtime=text(raw.get("runtime")), runtime_version=text(raw.get("runtime_version")),
            xnnpack=raw.get("xnnpack") if isinstance(raw.get("xnnpack"), bool) else None,
            cpu_model=text(raw.get("cpu_model")), machine=text(raw.get("machine")),
            cores=whole(raw.get("cores"), 1, 1 << 16), governor=text(raw.get("governor")),
            temperature_before_c=finite(raw.get("temperature_before_c")),
            temperature_after_c=finite(raw.get("temperature_after_c")),
            init_ms=finite(raw.get("init_ms"), minimum=0), first_ms=finite(raw.get("first_ms"), minimum=0),
            memory_mb=memory, peak_rss_mb=finite(raw.get("peak_rss_mb"), minimum=0),
            load_1m=finite(raw.get("load_1m"), minimum=0), freq_khz=whole(raw.get("freq_khz"), 0),
            max_freq_khz=whole(raw.get("max_freq_khz"), 0), throttle_count=whole(raw.get("throttle_count"), 0),
            others_busy=finite(raw.get("others_busy"), minimum=0), thermal_status=whole(raw.get("thermal_status"), 0, 99))

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class Samples:
    """mobiledeploy's runner: every measured latency of one process."""

    latencies_ms: tuple[float, ...]
    facts: ProcessFacts
    op_profile: object = None
    source = "runner"


@dataclass(frozen=True)
class PhoneSummary:
    """benchmark_model on a phone: one process's own summary (it reports no samples)."""

    runs: int
    mean_ms: float
    median_ms: float
    std_ms: float
    p95_ms: float | None
    min_ms: float | None
    max_ms: float | None
    facts: ProcessFacts
    op_profile: object = None
    source = "benchmark_model"

    #: standard normal quantiles: benchmark_model gives a median and a p95, no p90
    Z90, Z95 = NormalDist().inv_cdf(0.90), NormalDist().inv_cdf(0.95)

    @property
    def p90_ms(self) -> float:
        """Interpolated between the median and the p95 on the normal scale (mean + 1.28 std without a p95): an
        estimate, and the verdict says so."""
        if self.p95_ms is not None and self.p95_ms >= self.median_ms:
            return self.median_ms + (self.p95_ms - self.median_ms) * self.Z90 / self.Z95
        return max(self.median_ms, self.mean_ms + self.Z90 * self.std_ms)


Answer = Union[Samples, PhoneSummary]   # typing.Union: a Pi's Python 3.9 has no `|` between classes


def parse(raw, runs: int, where: str) -> Answer:
    """The one reading of a runner's answer: `Samples` (as many finite positive latencies as `runs`), or a
    phone's `PhoneSummary`; a MobiledeployError naming the device otherwise."""
    if not isinstance(raw, dict):
        raise MobiledeployError(f"{where} answered no measurement {FIX}")
    facts = ProcessFacts.from_raw(raw)
    if raw.get("summary") is not None:
        s = raw["summary"]
        if not isinstance(s, dict):
            raise MobiledeployError(f"{where}: benchmark_model's summary is not an object {FIX}")
        median, mean = finite(s.get("median_ms"), positive=True), finite(s.get("mean_ms"), positive=True)
        count = whole(s.get("runs"), 1)
        for key, value in (("median_ms", median), ("mean_ms", mean), ("runs", count)):
            if value is None:
                raise MobiledeployError(f"{where}: benchmark_model's {key} is {str(s.get(key))[:40]!r}, not a "
                                        f"finite positive number {FIX}")
        return PhoneSummary(count, mean, median, finite(s.get("std_ms"), minimum=0) or 0.0,
                            finite(s.get("p95_ms"), positive=True), finite(s.get("min_ms"), positive=True),
                            finite(s.get("max_ms"), positive=True), facts, raw.get("op_profile"))
    latencies = raw.get("latencies_ms")
    if not isinstance(latencies, list) or not latencies:
        raise MobiledeployError(f"{where} answered without latencies {FIX}")
    checked = [finite(x, positive=True) for x in latencies]
    if None in checked:
        bad = latencies[checked.index(None)]
        raise MobiledeployError(f"{where} reported a latency of {str(bad)[:20]} ms, not a finite positive time {FIX}")
    if len(checked) != runs:
        raise MobiledeployError(f"{where} reported {len(checked)} latencies for {runs} runs {FIX}")
    return Samples(tuple(checked), facts, raw.get("op_profile"))
