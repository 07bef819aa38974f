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
    """A device's text, capped and safe to print (an ESC from a board must not reach a terminal)."""
    from ..artifact.labels import printable

    return printable(value[:limit]) if isinstance(value, str) else None


MAX_CORE = 1 << 16   # a core number or count past this is not a CPU's


def probe_facts(raw: dict) -> dict:
    """A device's probe answer (`devices check`, the quietness judgement, --cpu-mask) checked where it arrives:
    a value of the wrong type or out of range is unknown (None), texts are printable and capped, nested values
    keep their known shapes only. The device's word describes it; it never makes mobiledeploy fail."""
    out = {}
    for key, value in list(raw.items())[:64]:
        if not isinstance(key, str) or not key.isidentifier() or len(key) > 40:
            continue
        if key == "cores":
            out[key] = whole(value, 1, MAX_CORE)
        elif key == "affinity":
            cores = [whole(c, 0, MAX_CORE - 1) for c in value] if isinstance(value, list) and \
                len(value) <= MAX_CORE else [None]
            out[key] = cores if cores and None not in cores else None
        elif key == "core_busy":
            out[key] = {str(c): finite(v, minimum=0) for c, v in value.items()
                        if isinstance(c, str) and c.isdigit() and int(c) < MAX_CORE} \
                if isinstance(value, dict) and len(value) <= MAX_CORE else None
        elif key == "busy_processes":
            out[key] = [[p[0], text(p[1], 40), p[2], p[3]] for p in value[:64]
                        if isinstance(p, list) and len(p) == 4 and whole(p[0]) is not None and isinstance(p[1], str)
                        and whole(p[2], 0, MAX_CORE - 1) is not None and finite(p[3], minimum=0) is not None] \
                if isinstance(value, list) else None
        elif key == "thermal_status":
            out[key] = whole(value, 0, 99)
        elif isinstance(value, bool) or value is None:
            out[key] = value
        elif isinstance(value, int):
            out[key] = whole(value, -(1 << 62))
        elif isinstance(value, float):
            out[key] = finite(value)
        else:
            out[key] = text(value)   # a text as text; a list or an object this version does not know: None
    return out


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
    # fewer only when the runner says its share of --max-seconds ended the process (at least 2: an interval)
    if len(checked) != runs and not (raw.get("time_capped") is True and 2 <= len(checked) < runs):
        raise MobiledeployError(f"{where} reported {len(checked)} latencies for {runs} runs {FIX}")
    return Samples(tuple(checked), facts, raw.get("op_profile"))
